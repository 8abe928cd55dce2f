"""The indicator catalogue: ids, bilingual labels, pillars, directions, units and default targets.

The catalogue is data (``catalog.yaml`` beside this module), loaded and validated once at import;
every module reads labels, directions and targets from it (DESIGN.md section 4). A small
bilingual message table (``messages.yaml``) holds the words reports need ('value', 'target',
'met', ...).

>>> from evaluation import catalog
>>> catalog.label("par.party_led_oc_coverage", "zh")
'党建主导型业委会覆盖率'
>>> catalog.get("sup.workers_per_10k").target.value
18.0

An id ending in ``.*`` is a pattern: ``catalog.get("imp.anything")`` returns the ``imp.*``
entry with the id filled in. An id with a breakdown suffix that is not catalogued
(``dem.meeting_cadence_compliance.other``) falls back to its parent entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib.resources import files
from typing import Any

import pandas as pd
import yaml

from evaluation.dataset.schema import COMPARATORS, TABLES
from evaluation.dataset.units import LEVELS
from evaluation.errors import DataError, OptionError

PILLARS = ("organisation", "service", "democracy", "participation", "support", "outcome", "impact")
SCOPES = ("urban", "rural", "all")
PERIODS = ("stock", "flow", "other")
DIRECTIONS = ("higher", "lower", "none")
UNITS = ("share", "per_1000", "per_10k", "per_100hh", "hours_per_capita", "yuan", "hours", "count", "score")
LANGS = ("en", "zh")
_PREFIX = {"org": "organisation", "svc": "service", "dem": "democracy", "par": "participation",
           "sup": "support", "out": "outcome", "imp": "impact"}
_REQUIRED = ("id", "name_en", "name_zh", "pillar", "numerator", "denominator", "levels", "scope",
             "period", "direction", "unit", "scale", "needs")


@dataclass(frozen=True)
class Target:
    """A target: the value is compared as ``value <comparator> target`` (e.g. ``>= 0.6``)."""

    value: float
    comparator: str
    source: str

    def met(self, value: float) -> bool | None:
        """Whether ``value`` meets the target; ``None`` when the value is missing."""
        if value is None or pd.isna(value):
            return None
        t = self.value
        return {">=": value >= t, "<=": value <= t, ">": value > t, "<": value < t,
                "==": abs(value - t) <= 1e-9 * max(1.0, abs(t))}[self.comparator]


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry (see ``catalog.yaml`` for the meaning of each field)."""

    id: str
    name_en: str
    name_zh: str
    pillar: str
    numerator: str
    denominator: str
    levels: tuple[str, ...]
    scope: str
    period: str
    direction: str
    unit: str
    scale: float
    #: tables (``"table"``) and columns (``"table.column"``) the indicator needs
    needs: tuple[str, ...] = ()
    target: Target | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pattern(self) -> bool:
        """Whether the id ends in ``.*``: an entry that stands for every id with its prefix (``imp.*``)."""
        return self.id.endswith(".*")

    def label(self, lang: str = "en") -> str:
        """The indicator's name in ``lang`` (``"en"`` or ``"zh"``); an unknown language is an ``OptionError``."""
        return self.name_zh if _lang(lang) == "zh" else self.name_en


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise OptionError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return lang


def _resource(name: str) -> str:
    return (files("evaluation.catalog") / name).read_text(encoding="utf-8")


def parse_catalog(entries: Any, where: str = "catalog.yaml") -> dict[str, Indicator]:
    """Validate catalogue entries (a list of mappings) and return them by id.

    Raises ``ValueError`` naming the file, the entry and the field of the first problem.
    """
    if not isinstance(entries, list):
        raise DataError(f"{where}: expected a list of indicator entries")
    out: dict[str, Indicator] = {}
    for i, e in enumerate(entries, start=1):
        tag = f"{where} entry {i} ({e.get('id', '?') if isinstance(e, dict) else '?'})"
        if not isinstance(e, dict):
            raise DataError(f"{tag}: expected a mapping")
        missing = [k for k in _REQUIRED if k not in e]
        if missing:
            raise DataError(f"{tag}: missing field(s) {', '.join(missing)}")
        iid = str(e["id"])
        if iid in out:
            raise DataError(f"{tag}: duplicate id {iid!r}")
        prefix = iid.split(".", 1)[0]
        if _PREFIX.get(prefix) != e["pillar"]:
            raise DataError(f"{tag}: id prefix {prefix!r} does not match pillar {e['pillar']!r}")
        for key, allowed in (("pillar", PILLARS), ("scope", SCOPES), ("period", PERIODS),
                             ("direction", DIRECTIONS), ("unit", UNITS)):
            if e[key] not in allowed:
                raise DataError(f"{tag}: {key} {e[key]!r} is not one of {', '.join(allowed)}")
        levels = tuple(e["levels"])
        bad = [lv for lv in levels if lv not in LEVELS]
        if not levels or bad:
            raise DataError(f"{tag}: levels must be a non-empty list of {', '.join(LEVELS)}")
        needs = tuple(str(n) for n in (e["needs"] or ()))
        for n in needs:  # a table, a table.column, or a table.column=value that must be recorded
            table, _, rest = n.partition(".")
            column, _, value = rest.partition("=")
            if table not in TABLES or (column and column not in TABLES[table].columns and not TABLES[table].open_columns):
                raise DataError(f"{tag}: needs {n!r}: not a table (or table.column) of the data model")
            enum = TABLES[table].field(column).enum if value and column in TABLES[table].columns else None
            if value and enum and value not in enum:
                raise DataError(f"{tag}: needs {n!r}: {value!r} is not one of the values of {table}.{column}")
        target = None
        if e.get("target") is not None:
            t = e["target"]
            if not isinstance(t, dict) or not {"value", "comparator", "source"} <= set(t):
                raise DataError(f"{tag}: target needs value, comparator and source")
            if t["comparator"] not in COMPARATORS:
                raise DataError(f"{tag}: target comparator {t['comparator']!r} is not one of {', '.join(COMPARATORS)}")
            target = Target(float(t["value"]), str(t["comparator"]), str(t["source"]))
        extra = {k: v for k, v in e.items() if k not in _REQUIRED and k != "target"}
        out[iid] = Indicator(
            id=iid, name_en=str(e["name_en"]), name_zh=str(e["name_zh"]), pillar=str(e["pillar"]),
            numerator=str(e["numerator"]), denominator=str(e["denominator"] or ""), levels=levels,
            scope=str(e["scope"]), period=str(e["period"]), direction=str(e["direction"]),
            unit=str(e["unit"]), scale=float(e["scale"]), needs=needs, target=target, extra=extra,
        )
    return out


def parse_messages(raw: Any, where: str = "messages.yaml") -> dict[str, dict[str, str]]:
    """Validate the message table: key -> {en, zh}."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a mapping key -> {{en, zh}}")
    out = {}
    for key, val in raw.items():
        if not isinstance(val, dict) or set(val) != set(LANGS):
            raise DataError(f"{where}: message {key!r} needs exactly the languages {', '.join(LANGS)}")
        out[str(key)] = {k: str(v) for k, v in val.items()}
    return out


CATALOG: dict[str, Indicator] = parse_catalog(yaml.safe_load(_resource("catalog.yaml")))
def _all_messages(*names: str) -> dict[str, dict[str, str]]:
    """The message tables, merged: a key defined twice is an error (one definition per word)."""
    out: dict[str, dict[str, str]] = {}
    for name in names:
        part = parse_messages(yaml.safe_load(_resource(name)), name)
        twice = sorted(set(part) & set(out))
        if twice:
            raise DataError(f"{name}: message keys defined in an earlier file too: {', '.join(twice)}")
        out.update(part)
    return out


#: the words of tables and reports (``messages.yaml``) and of the annual review (``review.yaml``)
MESSAGES: dict[str, dict[str, str]] = _all_messages("messages.yaml", "review.yaml")


def get(indicator_id: str) -> Indicator:
    """The catalogue entry of ``indicator_id``.

    Exact ids first; then the longest pattern (``imp.*``) that matches, with the id filled in;
    then the parent of a breakdown id (``a.b.c`` -> ``a.b``). ``KeyError`` if none applies.
    """
    if indicator_id in CATALOG:
        return CATALOG[indicator_id]
    patterns = sorted((e for e in CATALOG.values() if e.is_pattern), key=lambda e: -len(e.id))
    for e in patterns:
        if indicator_id.startswith(e.id[:-1]):
            suffix = indicator_id[len(e.id) - 1:]
            return replace(e, id=indicator_id, name_en=f"{e.name_en}: {suffix}", name_zh=f"{e.name_zh}: {suffix}")
    parts = indicator_id.split(".")
    while len(parts) > 2:
        parts.pop()
        parent = ".".join(parts)
        if parent in CATALOG:
            e = CATALOG[parent]
            suffix = indicator_id[len(parent) + 1:]
            return replace(e, id=indicator_id, name_en=f"{e.name_en} ({suffix})", name_zh=f"{e.name_zh}({suffix})")
    raise KeyError(f"indicator {indicator_id!r} is not in the catalogue (src/evaluation/catalog/catalog.yaml)")


def label(indicator_id: str, lang: str = "en") -> str:
    """Name of the indicator in ``lang`` (``en`` or ``zh``); the id itself if not catalogued."""
    _lang(lang)
    try:
        return get(indicator_id).label(lang)
    except KeyError:
        return indicator_id


def message(key: str, lang: str = "en") -> str:
    """A word or heading of the message table in ``lang``; the key itself if unknown."""
    return MESSAGES.get(key, {}).get(_lang(lang), key)


def ids(pillar: str | None = None) -> list[str]:
    """Catalogued ids (patterns excluded), optionally of one pillar, in catalogue order."""
    return [i for i, e in CATALOG.items() if not e.is_pattern and (pillar is None or e.pillar == pillar)]


def catalog_frame(lang: str = "en") -> pd.DataFrame:
    """The catalogue as a table (one row per entry), with the default targets."""
    rows = []
    for e in CATALOG.values():
        rows.append({
            "indicator": e.id, "name": e.label(lang), "name_en": e.name_en, "name_zh": e.name_zh,
            "pillar": e.pillar, "numerator": e.numerator, "denominator": e.denominator,
            "levels": ",".join(e.levels), "scope": e.scope, "period": e.period,
            "direction": e.direction, "unit": e.unit, "scale": e.scale,
            "target": e.target.value if e.target else float("nan"),
            "comparator": e.target.comparator if e.target else None,
            "target_source": e.target.source if e.target else None,
        })
    return pd.DataFrame(rows)


def default_targets(year: int | None = None) -> pd.DataFrame:
    """Default targets in the layout of the ``targets`` table (indicator_id, year, target, comparator, source)."""
    rows = [{"indicator_id": e.id, "year": year, "target": e.target.value, "comparator": e.target.comparator,
             "source": e.target.source} for e in CATALOG.values() if e.target is not None]
    df = pd.DataFrame(rows, columns=["indicator_id", "year", "target", "comparator", "source"])
    df["year"] = pd.array(df["year"], dtype="Int64")
    return df
