"""The input of the index: a units x indicators matrix from the catalogue's framework.

Step 1 of the OECD/JRC Handbook (2008): the indicators available for the year, grouped by pillar
(organisation, service, democracy, participation, support, outcome), each with its direction so
that after normalisation higher is always better; indicators unfit for comparing communities
(biased, quartiles, size-dependent) or missing for too many units are left out, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from evaluation import catalog
from evaluation.errors import DataError, MissingInputError
from evaluation.indicators import collect_indicators
from evaluation.scorecard import resolve_targets

#: pillars of the index, in catalogue order (impact estimates are not performance indicators)
INDEX_PILLARS = ("organisation", "service", "democracy", "participation", "support", "outcome")


INDEX_ID = "index.governance"


LABELS = {INDEX_ID: ("Governance-effectiveness index", "治理效能指数"),
          f"{INDEX_ID}.rank_change": ("Change in the governance-index rank", "治理效能指数排名变化"),
          "index.validation.spearman": ("Rank correlation of the index with a held-out outcome", "指数与外部结果的秩相关")}
for _p in INDEX_PILLARS:
    LABELS[f"index.pillar.{_p}"] = (f"{catalog.message(_p, 'en')} pillar score", f"{catalog.message(_p, 'zh')}维度得分")
#: indicators with more missing units than this share are left out of the framework
MAX_SHARE_MISSING = 0.5
Z95 = 1.959963984540054  # the normal quantile of a 95 % interval


def label(iid: str, lang: str = "en") -> str:
    """Bilingual label of an index id, or of a catalogued indicator."""
    if iid in LABELS:
        return LABELS[iid][0 if lang == "en" else 1]
    return catalog.label(iid, lang)


# ============================================================================= framework and input
@dataclass
class IndicatorMatrix:
    """The input of the index: units x indicators with what was left out and why.

    Attributes
    ----------
    values
        Raw indicator values, one row per community, one column per indicator of the framework.
    groups
        Community -> street (for group-mean imputation).
    names
        Community -> (English name, Chinese name).
    dropped
        Indicators available but left out: ``indicator``, ``reason``.
    notes
        Providers skipped and similar.
    errors
        Standard error of each value with a 95 % sampling interval in the tidy table
        (``(ci_high - ci_low) / (2 x 1.96)``), NaN elsewhere: the data error of the Monte Carlo.
    """

    values: pd.DataFrame
    groups: pd.Series
    names: pd.DataFrame
    dropped: pd.DataFrame
    year: int | None = None
    notes: list[str] = field(default_factory=list)
    errors: pd.DataFrame | None = None

    def error_groups(self) -> dict[str, list[str]]:
        """Indicators with a sampling error, by source.

        ``survey`` (the resident survey), ``requests`` (the request log's sampling of a process),
        ``other``.
        """
        out: dict[str, list[str]] = {}
        if self.errors is None:
            return out
        for col in self.errors.columns[self.errors.notna().any()]:
            needs = " ".join(catalog.get(col).needs or ())
            src = "survey" if "survey" in needs else "requests" if "requests" in needs else "other"
            out.setdefault(src, []).append(col)
        return out

    def framework(self) -> dict[str, list[str]]:
        """Pillar -> indicators, in catalogue order."""
        return framework_of(self.values.columns)


def framework_of(indicators: Sequence[str]) -> dict[str, list[str]]:
    """Group indicator ids by catalogue pillar (catalogue order of pillars; input order within)."""
    by = {p: [] for p in INDEX_PILLARS}
    for i in indicators:
        p = catalog.get(i).pillar
        if p not in by:
            raise DataError(f"indicator {i!r} is in pillar {p!r}, which is not a pillar of the index")
        by[p].append(i)
    return {p: ids for p, ids in by.items() if ids}


def catalogue_attributes(indicators: Sequence[str], targets: pd.DataFrame | None = None, year: int | None = None):
    """Directions, targets and units of ``indicators`` from the catalogue (targets table overrides)."""
    directions = {i: catalog.get(i).direction for i in indicators}
    units = {i: catalog.get(i).unit for i in indicators}
    t = resolve_targets(indicators, year, targets).set_index("indicator")["target"]
    return directions, {i: (float(v) if pd.notna(v) else None) for i, v in t.items()}, units


def framework_table(indicators: Sequence[str], targets: pd.DataFrame | None = None, year: int | None = None) -> pd.DataFrame:
    """The framework as a table: pillar, indicator, bilingual names, direction, unit and target."""
    directions, tgt, units = catalogue_attributes(list(indicators), targets, year)
    rows = [{"pillar": catalog.get(i).pillar, "indicator": i, "name_en": catalog.label(i, "en"),
             "name_zh": catalog.label(i, "zh"), "better_when": directions[i], "unit": units[i], "target": tgt[i]}
            for i in indicators]
    return pd.DataFrame(rows)


#: indicators that are reported but do not belong in a comparison of units, with the reason
NOT_FOR_COMPARISON = {
    "svc.median_resolution_hours_closed_only": "biased by construction (resolved requests only); reported only to show the bias",
    "svc.resolution_hours_p25": "a quartile of the distribution whose median is included",
    "svc.resolution_hours_p75": "a quartile of the distribution whose median is included",
    "svc.backlog": "a count that grows with the unit's size; not comparable between units",
}


def select_indicators(wide: pd.DataFrame, max_share_missing: float = MAX_SHARE_MISSING) -> tuple[list[str], pd.DataFrame]:
    """Which columns of ``wide`` enter the index, and why the others do not.

    Left out: ids not in the catalogue or outside the index's pillars; indicators with no
    direction (``svc.requests_per_1000``: more requests is neither better nor worse); breakdowns
    of an indicator that is itself present (``dem.meeting_cadence_compliance.three_party`` beside
    ``dem.meeting_cadence_compliance``: counting both would double-weight it); indicators with the
    same value for every unit (they cannot tell units apart and break min-max); and indicators
    missing for more than ``max_share_missing`` of units; and the indicators of
    :data:`NOT_FOR_COMPARISON` (biased comparisons, quartiles beside their median, raw counts).
    """
    keep, dropped = [], []
    present = set(wide.columns)
    for col in wide.columns:
        try:
            e = catalog.get(col)
        except KeyError:
            dropped.append((col, "not in the catalogue"))
            continue
        parent = ".".join(col.split(".")[:2])
        x = wide[col]
        if col in NOT_FOR_COMPARISON:
            dropped.append((col, NOT_FOR_COMPARISON[col]))
        elif e.pillar not in INDEX_PILLARS:
            dropped.append((col, f"pillar {e.pillar} is not part of the index"))
        elif e.direction not in ("higher", "lower"):
            dropped.append((col, "no direction (neither higher nor lower is better)"))
        elif parent != col and parent in present:
            dropped.append((col, f"breakdown of {parent}, which is included"))
        elif x.isna().mean() > max_share_missing:
            dropped.append((col, f"missing for {x.isna().sum()} of {len(x)} units"))
        elif x.nunique(dropna=True) < 2:
            dropped.append((col, "the same value for every unit"))
        else:
            keep.append(col)
    return keep, pd.DataFrame(dropped, columns=["indicator", "reason"])


def community_indicator_matrix(ds: Mapping[str, pd.DataFrame], year: int, providers=None,
                               unit_type: str = "community", table: pd.DataFrame | None = None,
                               max_share_missing: float = MAX_SHARE_MISSING) -> IndicatorMatrix:
    """The wide units x indicators matrix of the index for ``year``, built from the tidy tables.

    Runs :func:`evaluation.indicators.collect_indicators` at community level (registry, service
    and survey providers; a provider that is missing from this version or whose tables the
    dataset lacks is skipped with a note), keeps the units of ``unit_type`` (urban communities:
    villages are governed differently and lack most urban indicators) and selects the indicators
    with :func:`select_indicators`. Pass ``table`` (a tidy indicator table) to skip the providers.
    """
    units = ds["units"]
    notes = []
    if table is None:
        result = collect_indicators(ds, year, "community", providers=providers)
        table, notes = result.table, list(result.notes)
    if table is None or len(table) == 0:
        raise DataError(f"no community-level indicator could be computed for {year}: the registries "
                         "(compounds, compound_milestones, ...), requests and survey tables are all missing or empty")
    ids = units.loc[units["unit_type"].eq(unit_type), "unit_id"].astype(str)
    if ids.empty:
        raise MissingInputError(f"units table: no unit of type {unit_type!r}")
    t = table[table["unit_id"].isin(set(ids))]
    wide = t.pivot_table(index="unit_id", columns="indicator", values="value", aggfunc="first", dropna=False)
    wide = wide.reindex(index=list(ids))
    wide.columns = wide.columns.astype(str)
    keep, dropped = select_indicators(wide, max_share_missing)
    fw = framework_of(keep)
    order = [i for ids_ in fw.values() for i in ids_]
    values = wide[order].astype("float64")
    values.index.name = "unit_id"
    u = units.set_index(units["unit_id"].astype(str))
    empty = values.isna().all(axis=1)
    if empty.any():
        notes.append(f"left out {int(empty.sum())} unit(s) with no indicator value: {', '.join(values.index[empty])}")
        values = values[~empty]
    errors = None
    if {"ci_low", "ci_high"} <= set(t.columns):
        half = (pd.to_numeric(t["ci_high"], errors="coerce") - pd.to_numeric(t["ci_low"], errors="coerce")) / (2 * Z95)
        se = t.assign(_se=half).pivot_table(index="unit_id", columns="indicator", values="_se", aggfunc="first")
        se.columns = se.columns.astype(str)
        errors = se.reindex(index=values.index, columns=values.columns).astype("float64")
    return IndicatorMatrix(values=values, groups=u.loc[values.index, "parent_id"].astype(str),
                           names=u.loc[values.index, ["name_en", "name_zh"]], dropped=dropped, year=year, notes=notes,
                           errors=errors)
