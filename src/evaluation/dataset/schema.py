"""The data model: one Table Schema per table of a district dataset.

A dataset is a folder of tables plus a Frictionless ``datapackage.json``. This module is the
single source of truth for the tables, their columns, types, enumerations, keys and the
bilingual labels used in templates and reports; ``datapackage.json`` files are generated from
it (:func:`table_schema`, :func:`datapackage`) and the validator (:mod:`evaluation.dataset.validate`)
checks data against it.

Types follow the Frictionless Table Schema vocabulary: ``string``, ``integer``, ``number``,
``boolean``, ``date``, ``datetime`` (timezone-aware, Asia/Shanghai when the source has no
offset), ``year``. Identifiers are always strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Default time zone of the data model (DESIGN.md section 3).
DEFAULT_TZ = "Asia/Shanghai"

UNIT_TYPES = ("district", "street", "township", "community", "village")
COMPOUND_TYPES = ("commercial", "work_unit", "resettlement", "affordable", "unmanaged", "other")
MILESTONES = (
    "party_branch",
    "branch_six_haves",
    "branch_venue",
    "red_property",
    "owners_committee",
    "party_led_owners_committee",
    "property_party_branch",
)
ORG_TYPES = (
    "street_working_committee",  # 街道党工委
    "township_committee",  # 乡镇党委
    "community_committee",  # 社区大党委
    "village_committee",  # 村党组织
    "compound_branch",  # 小区党支部
    "building_group",  # 楼栋党小组
    "property_branch",  # 物业党支部
    "stationed_unit",  # 驻区单位党组织 (member of a big party committee)
    "employer_unit",  # 区直机关企事业单位党组织 (double registration)
    "temporary_branch",  # 临时党支部 (epidemic)
    "commando_team",  # 党员突击队 (epidemic)
    "work_team",  # 社区工作队暨应急突击队
    "work_team_temporary_org",  # 工作队临时党组织
    "volunteer_team",  # 党员志愿者服务队
)
MEETING_TYPES = ("big_committee_joint", "three_party", "resident_deliberation", "other")
CHANNELS = ("app", "hotline", "walk_in", "grid_worker", "other")
AFFAIR_CLASSES = ("major", "minor", "private")  # 三事分办: 大事、小事、私事
REQUEST_STATUSES = ("open", "in_progress", "resolved", "closed")
RATINGS = ("satisfied", "basically_satisfied", "dissatisfied", "not_reached")
FACILITY_TYPES = (
    "service_centre",  # 党群服务中心
    "branch_venue",  # 小区党支部阵地
    "party_complex",  # 党建综合体
    "volunteer_station",  # 学雷锋志愿服务站(岗)
    "community_room",  # 社区用房 (transferred by real-estate projects)
    "other",
)
FUNDING_SOURCES = ("district", "city", "province", "special_fund", "other")
POSTING_TYPES = (
    "party_building_commissioner",  # 县级党建专员
    "first_secretary",  # 第一书记
    "public_health_commissioner",  # 公共卫生健康专员
    "legal_commissioner",  # 法治专员
    "party_building_instructor",  # 党建指导员 (to property companies)
    "district_leader_liaison",  # 区领导联系社区
    "stationed_unit_leader",  # 驻区单位党组织负责人兼职
)
COMPARATORS = (">=", "<=", "==", ">", "<")
#: dispatch events of a request (optional ``events`` table): 派单 assigned, 转派 transferred, 退单 returned
#: (sent back by the unit it was assigned to), 吹哨 escalated (a community or street summons departments),
#: 报到 reported (the summoned department reports), 办结 resolved
EVENT_TYPES = ("assigned", "transferred", "returned", "escalated", "reported", "resolved")


@dataclass(frozen=True)
class Field:
    """One column of a table."""

    name: str
    type: str
    label_zh: str
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unique: bool = False

    def frictionless(self) -> dict[str, Any]:
        """The column as a Frictionless Table Schema field descriptor.

        Returns a dict with ``name``, ``type``, ``title`` (the Chinese label), the description if
        any, and ``constraints`` (required, unique, enum, minimum, maximum) when the column has any.
        """
        out: dict[str, Any] = {"name": self.name, "type": self.type, "title": self.label_zh}
        if self.description:
            out["description"] = self.description
        constraints: dict[str, Any] = {}
        if self.required:
            constraints["required"] = True
        if self.unique:
            constraints["unique"] = True
        if self.enum is not None:
            constraints["enum"] = list(self.enum)
        if self.minimum is not None:
            constraints["minimum"] = self.minimum
        if self.maximum is not None:
            constraints["maximum"] = self.maximum
        if constraints:
            out["constraints"] = constraints
        return out


@dataclass(frozen=True)
class ForeignKey:
    """``fields`` of this table reference ``reference_fields`` of ``reference_table``."""

    fields: tuple[str, ...]
    reference_table: str
    reference_fields: tuple[str, ...]
    #: rows of the referenced table must also satisfy ``column == value`` (e.g. a community).
    reference_filter: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class TableSchema:
    """A table of the data model: columns, primary key, foreign keys and a description."""

    name: str
    title_zh: str
    description: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    required_table: bool = True
    #: extra columns allowed (survey items, demographics); checked against the codebook.
    open_columns: bool = False
    #: store as Parquet instead of CSV when bundled (large tables).
    large: bool = False

    @property
    def columns(self) -> list[str]:
        """The names of the table's declared columns, in schema order."""
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        """The declared column called ``name``; ``KeyError`` when the table has no such column."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def frictionless(self) -> dict[str, Any]:
        """The table as a Frictionless Table Schema descriptor.

        Returns a dict with ``fields`` (one descriptor per column, see :meth:`Field.frictionless`) and,
        when declared, ``primaryKey`` and ``foreignKeys``; an empty cell is the only missing value
        (``missingValues: [""]``).
        """
        out: dict[str, Any] = {"fields": [f.frictionless() for f in self.fields]}
        if self.primary_key:
            out["primaryKey"] = list(self.primary_key)
        if self.foreign_keys:
            out["foreignKeys"] = [
                {
                    "fields": list(fk.fields),
                    "reference": {
                        "resource": "" if fk.reference_table == self.name else fk.reference_table,
                        "fields": list(fk.reference_fields),
                    },
                }
                for fk in self.foreign_keys
            ]
        out["missingValues"] = [""]
        return out


F = Field


def _fk(cols: str | tuple[str, ...], table: str, ref: str | tuple[str, ...] | None = None, **kw):
    cols_t = (cols,) if isinstance(cols, str) else cols
    ref_t = cols_t if ref is None else ((ref,) if isinstance(ref, str) else ref)
    return ForeignKey(cols_t, table, ref_t, **kw)


_COMMUNITY = ("unit_type", ("community",))
_COMMUNITY_OR_VILLAGE = ("unit_type", ("community", "village"))

TABLES: dict[str, TableSchema] = {}


def _add(t: TableSchema) -> None:
    TABLES[t.name] = t


_add(TableSchema(
    "units", "行政单位",
    "District, streets, townships, urban communities and villages, one row each.",
    (
        F("unit_id", "string", "单位编码", required=True, unique=True),
        F("unit_type", "string", "单位类型", required=True, enum=UNIT_TYPES),
        F("parent_id", "string", "上级单位编码", "unit_id of the parent; empty for the district"),
        F("name_zh", "string", "名称", required=True),
        F("name_en", "string", "英文名称"),
        F("population", "integer", "常住人口", "resident population", minimum=0),
        F("households", "integer", "户数", minimum=0),
    ),
    primary_key=("unit_id",),
    foreign_keys=(_fk("parent_id", "units", "unit_id"),),
))

_add(TableSchema(
    "compounds", "小区",
    "Residential compounds (小区), each in one urban community.",
    (
        F("compound_id", "string", "小区编码", required=True, unique=True),
        F("community_id", "string", "所属社区编码", required=True),
        F("name_zh", "string", "小区名称", required=True),
        F("name_en", "string", "英文名称"),
        F("compound_type", "string", "小区类型", required=True, enum=COMPOUND_TYPES),
        F("households", "integer", "户数", required=True, minimum=0),
        F("buildings", "integer", "楼栋数", required=True, minimum=0),
        F("built", "date", "建成日期", "date the compound was completed (first occupancy)"),
    ),
    primary_key=("compound_id",),
    foreign_keys=(_fk("community_id", "units", "unit_id", reference_filter=_COMMUNITY),),
))

_add(TableSchema(
    "compound_milestones", "小区治理节点",
    "A governance milestone reached by a compound, with its start and (optional) end date.",
    (
        F("compound_id", "string", "小区编码", required=True),
        F("milestone", "string", "节点", required=True, enum=MILESTONES),
        F("date", "date", "达成日期", required=True),
        F("ended", "date", "终止日期", "date the arrangement ended; empty while it lasts"),
    ),
    primary_key=("compound_id", "milestone", "date"),
    foreign_keys=(_fk("compound_id", "compounds"),),
))

_add(TableSchema(
    "buildings", "楼栋",
    "Residential buildings (楼栋) with their building party group, head and red steward.",
    (
        F("building_id", "string", "楼栋编码", required=True, unique=True),
        F("compound_id", "string", "小区编码", required=True),
        F("households", "integer", "户数", required=True, minimum=0),
        F("party_group_since", "date", "楼栋党小组成立日期", "empty if the building has no party group"),
        F("building_head", "boolean", "是否有楼栋长", "a building head (楼栋长) is appointed"),
        F("centre_households", "integer", "党员中心户数", "party-member centre households", minimum=0),
        F("red_steward", "boolean", "是否有楼栋红管家", "a red steward (红管家) is appointed"),
    ),
    primary_key=("building_id",),
    foreign_keys=(_fk("compound_id", "compounds"),),
))

_add(TableSchema(
    "party_orgs", "党组织",
    "Party organisations of every level, with the unit (or compound) they belong to.",
    (
        F("org_id", "string", "党组织编码", required=True, unique=True),
        F("org_type", "string", "党组织类型", required=True, enum=ORG_TYPES),
        F("parent_org_id", "string", "上级党组织编码"),
        F("unit_id", "string", "所在单位编码", "street, community or village the organisation is in"),
        F("compound_id", "string", "小区编码", "for compound branches and property branches"),
        F("building_id", "string", "楼栋编码", "for building party groups"),
        F("established", "date", "成立日期", required=True),
        F("dissolved", "date", "撤销日期"),
        F("secretary_is_sunk", "boolean", "书记(组长)是否下沉党员"),
    ),
    primary_key=("org_id",),
    foreign_keys=(
        _fk("parent_org_id", "party_orgs", "org_id"),
        _fk("unit_id", "units"),
        _fk("compound_id", "compounds"),
        _fk("building_id", "buildings"),
    ),
))

_add(TableSchema(
    "party_members", "党员",
    "Party members by pseudonymous id only: home compound, employer, double registration.",
    (
        F("member_id", "string", "党员编码(化名)", required=True, unique=True),
        F("home_compound_id", "string", "居住小区编码"),
        F("employer_org_id", "string", "所在单位党组织编码", "employer_unit party organisation"),
        F("in_service", "boolean", "是否在职党员", required=True),
        F("sunk", "boolean", "是否下沉党员", "down-posted cadre serving in a community"),
        F("registered_on", "date", "社区报到日期", "double registration with the home community"),
    ),
    primary_key=("member_id",),
    foreign_keys=(_fk("home_compound_id", "compounds"), _fk("employer_org_id", "party_orgs", "org_id")),
))

_add(TableSchema(
    "duty_roster", "下沉干部值班",
    "A sunk cadre's day on duty in a community.",
    (
        F("date", "date", "日期", required=True),
        F("community_id", "string", "社区编码", required=True),
        F("member_id", "string", "党员编码(化名)", required=True),
        F("hours", "number", "在岗小时", required=True, minimum=0, maximum=24),
    ),
    primary_key=("date", "community_id", "member_id"),
    foreign_keys=(
        _fk("community_id", "units", "unit_id", reference_filter=_COMMUNITY),
        _fk("member_id", "party_members"),
    ),
))

_add(TableSchema(
    "meetings", "会议",
    "Meetings held: big-committee joint meetings, three-party meetings, resident deliberations.",
    (
        F("meeting_id", "string", "会议编码", required=True, unique=True),
        F("unit_id", "string", "社区编码", required=True),
        F("compound_id", "string", "小区编码", "for compound-level meetings"),
        F("meeting_type", "string", "会议类型", required=True, enum=MEETING_TYPES),
        F("date", "date", "日期", required=True),
        F("attendees", "integer", "参会人数", minimum=0),
        F("issues_raised", "integer", "议题数", minimum=0),
        F("issues_resolved", "integer", "解决议题数", minimum=0),
    ),
    primary_key=("meeting_id",),
    foreign_keys=(_fk("unit_id", "units"), _fk("compound_id", "compounds")),
))

_add(TableSchema(
    "staffing", "社区工作者",
    "Community-worker quota, hires and reserves per community and year.",
    (
        F("community_id", "string", "社区编码", required=True),
        F("year", "integer", "年份", required=True, minimum=1949, maximum=2100),
        F("quota", "integer", "员额", required=True, minimum=0),
        F("hired", "integer", "聘用人数", required=True, minimum=0),
        F("reserves", "integer", "后备人员", minimum=0),
    ),
    primary_key=("community_id", "year"),
    foreign_keys=(_fk("community_id", "units", "unit_id", reference_filter=_COMMUNITY),),
))

_add(TableSchema(
    "postings", "派驻人员",
    "People posted to communities or property companies (commissioners, first secretaries, ...).",
    (
        F("posting_id", "string", "派驻编码", required=True, unique=True),
        F("posting_type", "string", "派驻类型", required=True, enum=POSTING_TYPES),
        F("unit_id", "string", "派驻单位编码", required=True),
        F("start", "date", "开始日期", required=True),
        F("end", "date", "结束日期"),
    ),
    primary_key=("posting_id",),
    foreign_keys=(_fk("unit_id", "units"),),
))

_add(TableSchema(
    "volunteers", "志愿者",
    "Registered volunteers (pseudonymous id).",
    (
        F("volunteer_id", "string", "志愿者编码(化名)", required=True, unique=True),
        F("community_id", "string", "社区编码", required=True),
        F("registered_on", "date", "注册日期", required=True),
        F("party_member", "boolean", "是否党员"),
    ),
    primary_key=("volunteer_id",),
    foreign_keys=(_fk("community_id", "units", "unit_id", reference_filter=_COMMUNITY_OR_VILLAGE),),
    large=True,
))

_add(TableSchema(
    "volunteer_hours", "志愿服务时长",
    "Volunteer service hours by volunteer and year.",
    (
        F("volunteer_id", "string", "志愿者编码(化名)", required=True),
        F("year", "integer", "年份", required=True, minimum=1949, maximum=2100),
        F("hours", "number", "服务小时", required=True, minimum=0),
    ),
    primary_key=("volunteer_id", "year"),
    foreign_keys=(_fk("volunteer_id", "volunteers"),),
    large=True,
))

_add(TableSchema(
    "facilities", "阵地设施",
    "Venues, service centres, party-building complexes, volunteer stations, community rooms.",
    (
        F("facility_id", "string", "设施编码", required=True, unique=True),
        F("unit_id", "string", "所在单位编码", required=True),
        F("compound_id", "string", "小区编码"),
        F("facility_type", "string", "设施类型", required=True, enum=FACILITY_TYPES),
        F("area_m2", "number", "面积(平方米)", minimum=0),
        F("opened", "date", "启用日期", required=True),
        F("upgraded", "date", "提档升级日期"),
        F("investment_yuan", "number", "投资(元)", minimum=0),
    ),
    primary_key=("facility_id",),
    foreign_keys=(_fk("unit_id", "units"), _fk("compound_id", "compounds")),
))

_add(TableSchema(
    "funding", "经费",
    "Funding allocations by unit, year, source and purpose.",
    (
        F("unit_id", "string", "单位编码", required=True),
        F("year", "integer", "年份", required=True, minimum=1949, maximum=2100),
        F("source", "string", "来源", required=True, enum=FUNDING_SOURCES),
        F("purpose", "string", "用途", required=True),
        F("amount_yuan", "number", "金额(元)", required=True, minimum=0),
    ),
    primary_key=("unit_id", "year", "source", "purpose"),
    foreign_keys=(_fk("unit_id", "units"),),
))

_add(TableSchema(
    "requests", "居民诉求",
    "Resident requests (诉求) from the smart-community app, hotline and other channels.",
    (
        F("request_id", "string", "诉求编号", required=True, unique=True),
        F("channel", "string", "渠道", required=True, enum=CHANNELS),
        F("category", "string", "类别", required=True),
        F("affair_class", "string", "三事分办", enum=AFFAIR_CLASSES),
        F("compound_id", "string", "小区编码"),
        F("community_id", "string", "社区编码", required=True),
        F("created_at", "datetime", "受理时间", required=True),
        F("first_response_at", "datetime", "首次响应时间"),
        F("resolved_at", "datetime", "办结时间"),
        F("closed_at", "datetime", "关闭时间"),
        F("status", "string", "状态", required=True, enum=REQUEST_STATUSES),
        F("reopened", "integer", "重新打开次数", minimum=0),
        F("rating", "string", "满意度", enum=RATINGS),
        F("caller_key", "string", "来电人识别码(化名)",
          "pseudonymous key of the caller: a salted hash of the phone number or account, never the number itself; "
          "links a caller's repeated requests (repeat rate). A column that holds phone or ID-card numbers is "
          "refused like any personal column, or hashed by the loader with --pii hash --salt-file FILE"),
        F("building_id", "string", "楼栋编码", "building the request is about (residential requests)"),
    ),
    primary_key=("request_id",),
    foreign_keys=(
        _fk("compound_id", "compounds"),
        _fk("community_id", "units", "unit_id", reference_filter=_COMMUNITY_OR_VILLAGE),
        _fk("building_id", "buildings"),
    ),
    large=True,
))

_add(TableSchema(
    "events", "派单记录",
    "Dispatch events of requests (双向派单, 吹哨报到): assigned, transferred, returned, escalated, reported, "
    "resolved, one row per event.",
    (
        F("request_id", "string", "诉求编号", required=True),
        F("seq", "integer", "序号", "order of the event within its request (1, 2, ...)", required=True, minimum=1),
        F("event_type", "string", "事件类型", required=True, enum=EVENT_TYPES),
        F("at", "datetime", "发生时间", required=True),
        F("from_unit", "string", "派出单位", "unit or department that sent the request on (unit_id or a department code)"),
        F("to_unit", "string", "接收单位", "unit or department that received it (unit_id or a department code)"),
    ),
    primary_key=("request_id", "seq"),
    foreign_keys=(_fk("request_id", "requests"),),
    required_table=False,
    large=True,
))

_add(TableSchema(
    "population", "人口构成",
    "Adult residents by unit, year, sex and age group: the margins for raking survey weights.",
    (
        F("unit_id", "string", "单位编码", required=True),
        F("year", "integer", "年份", required=True, minimum=1949, maximum=2100),
        F("sex", "string", "性别", required=True, enum=("female", "male")),
        F("age_group", "string", "年龄组", required=True, enum=("18-34", "35-59", "60+")),
        F("persons", "integer", "人数", required=True, minimum=0),
    ),
    primary_key=("unit_id", "year", "sex", "age_group"),
    foreign_keys=(_fk("unit_id", "units"),),
    required_table=False,
))

_add(TableSchema(
    "survey", "居民调查",
    "Resident survey: one row per respondent and wave, design variables, demographics and "
    "Likert items (columns named in the codebook).",
    (
        F("respondent_id", "string", "受访者编码(化名)", required=True),
        F("wave", "integer", "调查轮次(年份)", required=True, minimum=1949, maximum=2100),
        F("stratum", "string", "层", required=True),
        F("psu", "string", "初级抽样单元", required=True),
        F("weight", "number", "权重", required=True),
        F("fpc", "number", "有限总体校正(层内初级单元数)", "number of PSUs in the stratum"),
        F("fpc2", "number", "第二阶段总体(单元内户数)", "households in the PSU (second stage)"),
        F("community_id", "string", "社区编码", required=True),
        F("compound_id", "string", "小区编码"),
        F("sex", "string", "性别", enum=("female", "male")),
        F("age_group", "string", "年龄组", enum=("18-34", "35-59", "60+")),
    ),
    primary_key=("respondent_id", "wave"),
    foreign_keys=(
        _fk("community_id", "units", "unit_id", reference_filter=_COMMUNITY),
        _fk("compound_id", "compounds"),
    ),
    open_columns=True,
))

_add(TableSchema(
    "survey_codebook", "调查编码本",
    "Survey items: wording in Chinese and English, scale, direction and construct.",
    (
        F("item", "string", "题目变量", required=True, unique=True),
        F("wording_zh", "string", "题目(中文)", required=True),
        F("wording_en", "string", "题目(英文)", required=True),
        F("scale_min", "integer", "量表最小值", required=True),
        F("scale_max", "integer", "量表最大值", required=True),
        F("direction", "string", "方向", required=True, enum=("positive", "negative")),
        F("construct", "string", "维度", required=True),
    ),
    primary_key=("item",),
))

_add(TableSchema(
    "targets", "目标值",
    "Targets per indicator and year, with comparator and source.",
    (
        F("indicator_id", "string", "指标编码", required=True),
        F("year", "integer", "年份", required=True, minimum=1949, maximum=2100),
        F("target", "number", "目标值", required=True),
        F("comparator", "string", "比较方式", required=True, enum=COMPARATORS),
        F("source", "string", "来源", required=True),
    ),
    primary_key=("indicator_id", "year"),
    required_table=False,
))

#: Tables in dependency order (referenced tables first).
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)


def table_schema(name: str) -> TableSchema:
    """Return the schema of table ``name`` or raise ``KeyError`` naming the known tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(TABLES)}") from None


def datapackage(
    resources: dict[str, str],
    name: str,
    title: str,
    description: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a Frictionless Data Package descriptor.

    Parameters
    ----------
    resources
        Table name -> path of its file relative to the package folder.
    name, title, description
        Package metadata.
    extra
        Further top-level properties (e.g. ``cutoff``, ``timezone``, ``licenses``).
    """
    res = []
    for table, path in resources.items():
        schema = table_schema(table)
        fmt = path.rsplit(".", 1)[-1].lower()
        entry: dict[str, Any] = {
            "name": table,
            "path": path,
            "profile": "tabular-data-resource",
            "title": schema.title_zh,
            "description": schema.description,
            "format": fmt,
            "schema": schema.frictionless(),
        }
        if fmt in ("csv", "tsv", "txt"):
            entry["encoding"] = "utf-8"
            entry["mediatype"] = "text/csv"
        elif fmt in ("xlsx", "xlsm"):
            entry["mediatype"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            entry["mediatype"] = "application/vnd.apache.parquet"
        res.append(entry)
    pkg: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": name,
        "title": title,
        "description": description,
        "resources": res,
    }
    if extra:
        pkg.update(extra)
    return pkg
