"""Place names of the synthetic district.

The streets, townships and the communities and compounds named in the article (``seed/places.csv``)
keep their names and, where the article says so, their street and community; every other
community, compound and village is invented and its English name says so (``(synthetic)``).
"""

from __future__ import annotations

DISTRICT = ("ZW", "张湾区", "Zhangwan District")

#: street id, Chinese name, English name, number of urban communities (34 in all)
STREETS = (
    ("S01", "汉江路街道", "Hanjianglu Street", 9),
    ("S02", "车城路街道", "Chechenglu Street", 10),
    ("S03", "红卫街道", "Hongwei Street", 8),
    ("S04", "花果街道", "Huaguo Street", 7),
)

#: township id, Chinese name, English name, number of villages
TOWNSHIPS = (
    ("T01", "方滩乡", "Fangtan Township", 9),
    ("T02", "西沟乡", "Xigou Township", 10),
    ("T03", "黄龙镇", "Huanglong Town", 11),
    ("T04", "柏林镇", "Bailin Town", 10),
)

#: communities named in the article, by street (燕沟社区's street is not stated: placed in Huaguo)
NAMED_COMMUNITIES = {
    "S01": [("阳光社区", "Yangguang Community"), ("东风社区", "Dongfeng Community")],
    "S02": [
        ("高家湾社区", "Gaojiawan Community"),
        ("岩岭社区", "Yanling Community"),
        ("阳光蓝山郡社区", "Yangguang Lanshanjun Community"),
        ("公园社区", "Gongyuan Community"),
    ],
    "S03": [("家和苑社区", "Jiaheyuan Community"), ("王湾社区", "Wangwan Community")],
    "S04": [("头堰社区", "Touyan Community"), ("燕沟社区", "Yangou Community")],
}

#: invented community names (Chinese stem, pinyin)
INVENTED_COMMUNITIES = (
    ("柳林", "Liulin"), ("滨江", "Binjiang"), ("青年", "Qingnian"), ("建设", "Jianshe"),
    ("朝阳", "Chaoyang"), ("新华", "Xinhua"), ("团结", "Tuanjie"), ("和平", "Heping"),
    ("幸福", "Xingfu"), ("康乐", "Kangle"), ("长青", "Changqing"), ("文昌", "Wenchang"),
    ("百花", "Baihua"), ("金桥", "Jinqiao"), ("松林", "Songlin"), ("翠湖", "Cuihu"),
    ("明珠", "Mingzhu"), ("东岳", "Dongyue"), ("龙泉", "Longquan"), ("福田", "Futian"),
    ("荷花", "Hehua"), ("桃园", "Taoyuan"), ("绿洲", "Lvzhou"), ("清泉", "Qingquan"),
)

#: compounds named in the article: (name_zh, name_en, community name_zh, compound type)
NAMED_COMPOUNDS = (
    ("阳光栖谷小区", "Yangguang Qigu compound", "阳光社区", "commercial"),
    ("半山尚小区", "Banshanshang compound", "岩岭社区", "commercial"),
    ("蓝山郡小区", "Lanshanjun compound", "阳光蓝山郡社区", "commercial"),
    ("家和苑小区", "Jiaheyuan compound", "家和苑社区", "affordable"),
    ("放马坪小区", "Fangmaping compound", "头堰社区", "unmanaged"),
    ("东鑫大厦", "Dongxin Mansion", "公园社区", "work_unit"),
)

CHINESE_NUMERALS = "一二三四五六七八九十"


def village_name(township_zh: str, k: int) -> tuple[str, str]:
    """Invented village name: township stem + ordinal, e.g. 方滩三村 (synthetic)."""
    stem = township_zh[:2]
    num = CHINESE_NUMERALS[k - 1] if k <= 10 else "十" + CHINESE_NUMERALS[k - 11]
    return f"{stem}{num}村", f"{stem} village {k} (synthetic)"
