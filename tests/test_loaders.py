"""Loaders and the typed dataset: encodings, Excel layouts, header aliases, personal data, dtypes."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.dataset import Dataset, load_dataset, parse_column, schema
from evaluation.dataset.headers import canonical_name
from evaluation.dataset.load import table_of_file
from evaluation.dataset.privacy import hash_values, id_card_valid
from evaluation.dataset.read import common_share, detect_encoding, read_table
from evaluation.dataset.validate import validate_table
from evaluation.errors import LoadError, PersonalDataError

MINIMAL = Path(__file__).parent / "fixtures" / "minimal"
BUNDLED = Path(__file__).resolve().parents[1] / "data" / "zhangwan-synthetic"

CHINESE_CSV = "工单号,受理时间,办结时间,满意度,小区编码\nR1,2020-03-01 08:00,2020-03-02 09:30,满意,P01\nR2,2020-03-05,,,\n"


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_with_chinese_headers(tmp_path, encoding):
    path = tmp_path / f"requests-{encoding}.csv"
    path.write_bytes(CHINESE_CSV.encode(encoding))
    if encoding == "gb18030":  # the test is meaningless if the bytes were also valid UTF-8
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    df = read_table(path, "requests")
    assert list(df.columns) == ["request_id", "created_at", "resolved_at", "rating", "compound_id"]
    assert df["rating"].tolist()[0] == "满意"
    assert df["created_at"].tolist() == ["2020-03-01 08:00", "2020-03-05"]
    assert df["resolved_at"].isna().tolist() == [False, True]
    assert list(df.attrs["row_numbers"]) == [2, 3] and df.attrs["source"] == path.name


def test_blank_lines_keep_file_row_numbers(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("unit_id,unit_type,name_zh\n\nD01,district,张湾区\n,,\nC01,community,某社区\n", encoding="utf-8")
    df = read_table(path, "units")
    assert df["unit_id"].tolist() == ["D01", "C01"]
    assert list(df.attrs["row_numbers"]) == [3, 5]


# --------------------------------------------------------------------------- Excel layouts


def _xlsx_with_title(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws["A1"] = "张湾区2020年小区基本情况统计表"
    ws.merge_cells("A1:F1")
    ws.append(["小区编码", "所属社区编码", "小区名称", "小区类型", "户数", "楼栋数"])
    ws.append(["P01", "C01", "和谐小区", "commercial", 400, 6])
    ws.append(["P02", "C01", "东风小区", "work_unit", "many", 4])
    wb.create_sheet("其他")["A1"] = "ignored"
    wb.save(path)


def test_xlsx_with_merged_title_row(tmp_path):
    path = tmp_path / "compounds.xlsx"
    _xlsx_with_title(path)
    df = read_table(path, "compounds")
    assert list(df.columns) == ["compound_id", "community_id", "name_zh", "compound_type", "households", "buildings"]
    assert df["households"].tolist() == ["400", "many"]  # raw text; numbers read without '.0'
    assert list(df.attrs["row_numbers"]) == [3, 4]
    report = validate_table(path, "compounds")
    bad = report.errors[["table", "row", "column"]].astype(object).values.tolist()
    assert bad == [["compounds", 4, "households"]]


def test_xlsx_named_sheet_and_missing_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    _xlsx_with_title(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["其他"]
    ws["A1"], ws["B1"], ws["C1"] = "unit_id", "unit_type", "name_zh"
    ws.append(["D01", "district", "张湾区"])
    wb.save(path)
    assert read_table(path, "units", sheet="其他")["unit_id"].tolist() == ["D01"]
    with pytest.raises(LoadError, match="no sheet 'nope'"):
        read_table(path, "units", sheet="nope")


def test_xlsx_two_line_bilingual_header_and_dates(tmp_path):
    import datetime as dt

    path = tmp_path / "requests.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["诉求编号", "受理时间", "状态"])
    ws.append(["request_id", "created_at", "status"])
    ws.append(["R1", dt.datetime(2020, 3, 1, 8, 15), "open"])
    ws.append([12345, dt.datetime(2020, 3, 2), "closed"])
    wb.save(path)
    df = read_table(path, "requests")
    assert list(df.columns) == ["request_id", "created_at", "status"]
    assert df["request_id"].tolist() == ["R1", "12345"]
    assert df["created_at"].tolist() == ["2020-03-01 08:15:00", "2020-03-02"]
    assert list(df.attrs["row_numbers"]) == [3, 4]


@pytest.mark.parametrize("header,table,expected", [
    ("受理时间", "requests", "created_at"),
    ("受理时间 created_at", None, "created_at"),
    ("受理时间\ncreated_at", "requests", "created_at"),
    ("面积（平方米） (area_m2)", "facilities", "area_m2"),
    (" Created At ", "requests", "created_at"),
    ("小区名称", "compounds", "name_zh"),
    ("满意度", None, "rating"),
    ("办结时间", None, "resolved_at"),
    ("社区编码", "meetings", "unit_id"),  # the table's own label wins
    ("社区编码", None, "community_id"),
    ("*户数", "units", "households"),
    ("备注", "units", None),
])
def test_header_aliases(header, table, expected):
    assert canonical_name(header, table) == expected


def test_two_headers_meaning_one_column_is_an_error(tmp_path):
    path = tmp_path / "requests.csv"
    path.write_text("受理时间,created_at\n2020-01-01,2020-01-01\n", encoding="utf-8")
    with pytest.raises(LoadError, match="both mean column 'created_at'"):
        read_table(path, "requests")


def test_unreadable_files(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(LoadError, match="unknown format"):
        read_table(tmp_path / "x.json")
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    with pytest.raises(LoadError, match="bad.xlsx"):
        read_table(tmp_path / "bad.xlsx")


def test_parquet_keeps_native_types(tmp_path):
    path = tmp_path / "staffing.parquet"
    pd.DataFrame({"community_id": ["C01"], "year": [2020], "quota": [18], "hired": [17]}).to_parquet(path)
    df = read_table(path, "staffing")
    assert df["year"].dtype == "int64" and list(df.attrs["row_numbers"]) == [1]


# --------------------------------------------------------------------------- personal data


def test_id_card_check_character():
    assert id_card_valid("11010519491231002X")  # the GB 11643 worked example
    assert id_card_valid("420303198001011239")
    assert not id_card_valid("420303198001011238")


@pytest.mark.parametrize("header,value,kind", [
    ("姓名", "张三", "by its header"),
    ("联系电话", "027-1234", "by its header"),
    ("Phone Number", "x", "by its header"),
    ("id_card", "x", "by its header"),
    ("备注", "请联系13812345678", "phone"),
    ("member_id", "420303198001011239", "ID-card"),
])
def test_personal_identifiers_are_refused(tmp_path, header, value, kind):
    path = tmp_path / "requests.csv"
    path.write_text(f"request_id,{header}\nR1,{value}\n", encoding="utf-8")
    with pytest.raises(PersonalDataError, match=kind) as err:
        read_table(path, "requests")
    assert err.value.column == header and err.value.path == "requests.csv"
    assert header in str(err.value) and "requests.csv" in str(err.value)


def test_numbers_that_are_not_identifiers_pass(tmp_path):
    path = tmp_path / "requests.csv"
    # 12 digits, a wrong ID check character, a number starting 12: none is personal
    path.write_text("request_id,note\n138123456789,x\n420303198001011238,y\n12812345678,z\n", encoding="utf-8")
    assert len(read_table(path, "requests")) == 3


def test_hashing_with_a_salt(tmp_path):
    path = tmp_path / "requests.csv"
    path.write_text("request_id,手机\nR1,13812345678\nR2,13812345678\nR3,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="salt"):
        read_table(path, "requests", pii="hash")
    a = read_table(path, "requests", pii="hash", salt="s1")
    b = read_table(path, "requests", pii="hash", salt="s2")
    assert a["手机"].iloc[0] == a["手机"].iloc[1] != b["手机"].iloc[0]
    assert a["手机"].str.fullmatch(r"[0-9a-f]{16}").iloc[:2].all() and pd.isna(a["手机"].iloc[2])
    assert "13812345678" not in a.to_csv()
    import hashlib

    assert a["手机"].iloc[0] == hashlib.sha256(b"s1" + b"13812345678").hexdigest()[:16]
    assert list(read_table(path, "requests", pii="drop").columns) == ["request_id"]
    assert hash_values(pd.Series(["x"]), "k").iloc[0] == hashlib.sha256(b"kx").hexdigest()[:16]


# --------------------------------------------------------------------------- typing and datasets


def test_parse_datetime_offsets_and_local_times():
    raw = pd.Series(["2020-03-05 10:00", "2020-03-05T10:00:00+08:00", "2020-03-05T02:00:00Z", "2020年3月5日", None, "soon"])
    typed, bad = parse_column(raw, "datetime", "Asia/Shanghai")
    assert str(typed.dtype) == "datetime64[ns, Asia/Shanghai]"
    ten = pd.Timestamp("2020-03-05 10:00", tz="Asia/Shanghai")
    assert typed.iloc[:3].tolist() == [ten, ten, ten]
    assert typed.iloc[3] == pd.Timestamp("2020-03-05", tz="Asia/Shanghai")
    assert bad.tolist() == [False, False, False, False, False, True]


def test_parse_booleans_and_integers():
    b, bad = parse_column(pd.Series(["是", "否", "TRUE", "0", None, "maybe"]), "boolean")
    assert str(b.dtype) == "boolean" and b.iloc[:4].tolist() == [True, False, True, False]
    assert bad.tolist() == [False] * 5 + [True]
    i, bad = parse_column(pd.Series(["1,200", "3", "2.5", ""]), "integer")
    assert str(i.dtype) == "Int64" and i.iloc[:2].tolist() == [1200, 3] and bad.tolist() == [False, False, True, False]


def _check_dtypes(ds: Dataset) -> None:
    for name, df in ds.tables.items():
        if name not in schema.TABLES:
            continue
        for f in schema.TABLES[name].fields:
            if f.name not in df:
                continue
            got = str(df[f.name].dtype)
            want = {"string": "str", "integer": "Int64", "number": "float64", "boolean": "boolean",
                    "date": "datetime64[ns]", "datetime": f"datetime64[ns, {ds.timezone}]"}[f.type]
            assert got == want, f"{name}.{f.name}: {got} != {want}"


def test_load_dataset_types_every_column():
    ds = load_dataset(MINIMAL)
    _check_dtypes(ds)
    assert "requests" in ds and "nope" not in ds and len(ds["requests"]) == 4
    assert ds.cutoff == pd.Timestamp("2020-12-31 23:59:59", tz="Asia/Shanghai")
    assert ds["survey"]["q_trust"].dtype == "Float64"
    assert ds["requests"]["created_at"].iloc[1] == pd.Timestamp("2020-03-05 10:00", tz="Asia/Shanghai")
    assert ds["buildings"]["red_steward"].tolist() == [True, False, False]
    assert repr(ds).startswith("<Dataset minimal: 18 tables")
    sums = ds.checksums()
    assert "datapackage.json" in sums and len(sums) == 19 and all(len(v) == 64 for v in sums.values())
    with pytest.raises(KeyError, match="has no nope table"):
        ds["nope"]


def test_dataset_reads_only_the_tables_asked_for():
    ds = load_dataset(MINIMAL)
    assert ds.loaded == [] and len(ds) == 18  # nothing read yet, every table known
    ds["requests"]
    assert ds.loaded == ["requests"]
    assert ds.memo("k", lambda: 1) == 1 and ds.memo("k", lambda: 2) == 1  # computed once


def test_load_plain_folder_without_datapackage(tmp_path):
    for name in ("units", "compounds"):
        shutil.copy(MINIMAL / f"{name}.csv", tmp_path / f"{name}.csv")
    shutil.copy(MINIMAL / "staffing.csv", tmp_path / "社区工作者.csv")  # the Chinese table title
    ds = load_dataset(tmp_path)
    assert set(ds.tables) == {"units", "compounds", "staffing"} and ds.cutoff is None
    assert ds.meta == {} and ds.timezone == "Asia/Shanghai"
    _check_dtypes(ds)


def test_load_dataset_with_validate_raises_on_errors(tmp_path):
    folder = tmp_path / "ds"
    shutil.copytree(MINIMAL, folder)
    text = (folder / "units.csv").read_text(encoding="utf-8").replace("C02,community", "C02,city")
    (folder / "units.csv").write_text(text, encoding="utf-8")
    from evaluation.dataset import require_valid
    from evaluation.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="units row 5 column unit_type"):
        require_valid(load_dataset(folder), ["units"])
    assert not require_valid(load_dataset(folder), ["units"], force=True).ok


# --------------------------------------------------------------------------- the bundled district


@pytest.fixture(scope="module")
def bundled():
    if not (BUNDLED / "datapackage.json").is_file():
        pytest.skip("data/zhangwan-synthetic has not been generated")
    t0 = time.perf_counter()
    ds = load_dataset(BUNDLED)
    return ds, time.perf_counter() - t0


def test_bundled_district_loads_with_contract_dtypes(bundled):
    ds, seconds = bundled
    _check_dtypes(ds)
    assert len(ds["requests"]) > 100_000 and ds.cutoff is not None
    # contract: well under 2 s on an idle machine; a generous bound keeps shared CI from flaking
    assert seconds < 6, f"loading took {seconds:.1f} s"


def test_load_dataset_refuses_or_hashes_personal_columns(tmp_path):
    shutil.copy(MINIMAL / "units.csv", tmp_path / "units.csv")
    (tmp_path / "volunteers.csv").write_text(
        "volunteer_id,community_id,registered_on,姓名\nV01,C01,2019-03-05,李四\n", encoding="utf-8")
    with pytest.raises(PersonalDataError, match="volunteers.csv, column 姓名: looks like a name"):
        load_dataset(tmp_path)["volunteers"]  # tables are read (and screened) when first used
    ds = load_dataset(tmp_path, pii="hash", salt="secret")
    assert ds["volunteers"]["姓名"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert "姓名" not in load_dataset(tmp_path, pii="drop")["volunteers"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-10**12, 10**12)), min_size=1, max_size=20),
       st.sampled_from(["", " ", "\t"]))
def test_integers_survive_text_with_spaces(values, pad):
    raw = pd.Series([None if v is None else f"{pad}{v}{pad}" for v in values], dtype="str")
    typed, bad = parse_column(raw, "integer")
    assert not bad.any()
    assert [None if pd.isna(v) else int(v) for v in typed] == values


@settings(max_examples=40, deadline=None)
@given(st.lists(st.datetimes(min_value=pd.Timestamp("1992-01-01").to_pydatetime(),
                             max_value=pd.Timestamp("2030-12-31").to_pydatetime()), min_size=1, max_size=20),
       st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S+08:00", "%Y/%m/%d %H:%M:%S"]))
def test_datetimes_in_any_accepted_form_mean_shanghai_local_time(stamps, fmt):
    # from 1992: China kept daylight saving time in 1986-1991, whose gaps are not local times
    raw = pd.Series([s.strftime(fmt) for s in stamps], dtype="str")
    typed, bad = parse_column(raw, "datetime", "Asia/Shanghai")
    assert not bad.any()
    want = [pd.Timestamp(s.replace(microsecond=0)).tz_localize("Asia/Shanghai") for s in stamps]
    assert typed.tolist() == want


# --------------------------------------------------------------------------- encodings said and garbage refused


def test_the_encoding_read_is_stated(tmp_path):
    for encoding, name in (("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 with BOM"), ("gb18030", "GB18030"),
                           ("utf-16", "UTF-16")):
        path = tmp_path / f"r-{encoding}.csv"
        path.write_bytes(CHINESE_CSV.encode(encoding))
        df = read_table(path, "requests")
        assert df.attrs["encoding"] == name and df["rating"].tolist()[0] == "满意"
        assert detect_encoding(path) == encoding


def test_big5_is_refused_not_read_as_garbled_gb18030(tmp_path):
    text = "單位編碼,單位類型,上級單位編碼,名稱\nD1,區,,漢水區\nS1,街道,D1,東嶽街道\nC1,社區,S1,東嶽社區\n"
    path = tmp_path / "units.csv"
    path.write_bytes(text.encode("big5"))
    path.read_bytes().decode("gb18030")  # the bytes do decode as GB18030: that is the trap
    for call in (lambda: read_table(path, "units"), lambda: detect_encoding(path)):
        with pytest.raises(LoadError, match=r"units.csv: the text looks like Big5 .* save it as CSV UTF-8"):
            call()


def test_text_in_no_encoding_read_is_refused_with_how_to_save_it(tmp_path):
    path = tmp_path / "units.csv"
    path.write_bytes("unit_id,name_zh\nD1,Café Zürich\n".encode("cp1252"))
    with pytest.raises(LoadError, match="neither UTF-8 nor GB18030"):
        read_table(path, "units")


def test_the_common_share_tells_chinese_from_garbage():
    assert common_share("张湾区花果街道红卫社区，居民诉求已办结。")[0] == 1.0
    garbled = "東嶽社區居民訴求已辦結".encode("big5").decode("gb18030", errors="replace")
    assert common_share(garbled)[0] < 0.5
    assert common_share("ASCII only") == (1.0, 0)


def test_a_header_longer_than_64_kib_is_read(tmp_path):
    extra = [f"a_remark_column_with_a_long_name_{i:05d}" for i in range(2500)]
    header = ",".join(["unit_id", "unit_type", "parent_id", "name_zh", *extra])
    assert len(header) > 65536
    path = tmp_path / "units.csv"
    path.write_text(header + "\nD1,district,,区" + "," * len(extra) + "\n", encoding="utf-8")
    df = read_table(path, "units")
    assert list(df.columns[:4]) == ["unit_id", "unit_type", "parent_id", "name_zh"] and len(df) == 1
    report = validate_table(path, "units")
    assert not report.problems["problem"].str.contains("required column is missing").any()


# --------------------------------------------------------------------------- files named as offices name them


@pytest.mark.parametrize("name, table", [
    ("units.csv", "units"), ("居民诉求.xlsx", "requests"), ("2020年居民诉求台账.csv", "requests"),
    ("小区台账.xlsx", "compounds"), ("小区治理节点2020.csv", "compound_milestones"), ("居民调查编码本.csv", "survey_codebook"),
    ("requests_2020.parquet", "requests"), ("volunteer_hours.csv", "volunteer_hours"), ("汇总表.xlsx", None),
    ("小区楼栋.xlsx", None),  # two titles of the same length: no guess
])
def test_table_of_file(name, table):
    assert table_of_file(Path(name)) == table


def test_personal_columns_name_the_file_row(tmp_path):
    path = tmp_path / "facilities.csv"
    path.write_text("张湾区阵地台账\nfacility_id,unit_id,facility_type,opened,备注\nF1,C1,other,2020-01-01,\n"
                    "F2,C1,other,2020-01-01,管理员 139 0719 2468\n", encoding="utf-8")
    with pytest.raises(PersonalDataError, match=r"facilities.csv, row 4, column 备注: looks like mainland mobile") as err:
        read_table(path, "facilities")
    assert "2468" not in str(err.value)


def test_file_row_of_a_typed_row_after_selection():
    from evaluation.dataset.read import file_row

    ds = load_dataset(Path(__file__).parent / "fixtures" / "own_district" / "clean")
    survey = ds["survey"]
    wave = survey[survey["wave"] == 2020]
    first = wave.index[0]
    # the 2020 wave follows the 80 respondents of 2019, below a title row and the header
    assert file_row(wave, first) == first + 3 == 83
    assert file_row(pd.DataFrame({"a": [1]}), 0) is None
