"""Every indicator of a year at one level, in one tidy table (``evaluation indicators``).

Indicators come from *providers*: functions ``provider(ds, year, level)`` that return a result
with a tidy ``.table`` (DESIGN.md section 4), or ``None`` when the dataset lacks what they need:
registry indicators (:func:`evaluation.registry.registry_indicators`), service indicators
(:func:`evaluation.requests.service_indicators`) and survey outcomes
(:func:`evaluation.survey.survey_indicators`). A new family of indicators is a new entry in
:data:`PROVIDERS`. Tables are kept on the dataset (:meth:`evaluation.dataset.Dataset.memo`), so
asking twice for a year and level computes once.

Output: CSV or Parquet get the tidy table (plus ``pillar``, ``name_en``, ``name_zh``); XLSX gets
one sheet per pillar with bilingual headers (``value / 值``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation import catalog
from evaluation.assess import reason_text, unrecorded
from evaluation.io import write_table, write_workbook
from evaluation.registry import registry_indicators
from evaluation.requests import service_indicators
from evaluation.results import INDICATOR_COLUMNS, IndicatorResult, indicator_frame
from evaluation.survey import OUTCOME_INDICATORS, survey_indicators, uses_calibration

Provider = Callable[[Mapping[str, pd.DataFrame], int, str], object]


def registry_provider(ds: Mapping[str, pd.DataFrame], year: int, level: str):
    """Registry indicators of ``year`` at ``level``; ``None`` without a units table."""
    if "units" not in ds:
        return None
    return registry_indicators(ds, year, level)


def survey_provider(ds: Mapping[str, pd.DataFrame], year: int, level: str):
    """Survey outcomes (``out.*``) of the wave ``year``.

    Computed by :func:`evaluation.survey.survey_indicators`; ``None`` when the dataset has no survey
    rows for that wave or its survey does not ask the outcome items.
    """
    if "survey" not in ds or not pd.to_numeric(ds["survey"]["wave"], errors="coerce").eq(year).any():
        return None
    # a user's survey may not ask the outcome items: then there are no outcome indicators, not an error
    items = {item for kind, item in OUTCOME_INDICATORS.values() if kind == "mean"}
    if not items <= set(ds["survey"].columns):
        return None
    # calibrated to the registry when the dataset has population margins (notebook 04), unless told otherwise
    return survey_indicators(ds, year, level, calibrate=uses_calibration(ds))


#: name -> provider ``(ds, year, level) -> result or None``; run in this order.
PROVIDERS: dict[str, Provider] = {
    "registry": registry_provider,
    "service": service_indicators,
    "outcome": survey_provider,
}


@dataclass
class IndicatorTable(IndicatorResult):
    """All indicators of a year at one level, with the providers that ran and those skipped."""

    providers_run: list[str] = field(default_factory=list)
    providers_skipped: list[str] = field(default_factory=list)


def collect_indicators(ds: Mapping[str, pd.DataFrame], year: int, level: str = "district",
                       providers: Mapping[str, Provider] | None = None) -> IndicatorTable:
    """Run every provider for ``year`` and ``level`` and stack their tidy tables.

    With the default providers the table is kept on a :class:`~evaluation.dataset.Dataset`
    (computed once per year and level).
    """
    memo = getattr(ds, "memo", None)
    if providers is None and memo is not None:
        key = ("indicators", int(year), level, getattr(ds, "survey_weights", "auto"))
        return memo(key, lambda: _collect(ds, int(year), level, PROVIDERS))
    return _collect(ds, year, level, PROVIDERS if providers is None else providers)


def _collect(ds, year: int, level: str, providers: Mapping[str, Provider]) -> IndicatorTable:
    frames, run, skipped, notes = [], [], [], []
    for name, spec in providers.items():
        out = spec(ds, year, level)
        if out is None:
            skipped.append(name)
            notes.append(f"{name} indicators: the dataset lacks the tables or columns they need")
            continue
        table = out.table if hasattr(out, "table") else out
        frames.append(indicator_frame(table))
        run.append(name)
    table = indicator_frame(pd.concat(frames, ignore_index=True)) if frames else indicator_frame([])
    # nothing unrecorded is scored: a rule about a meeting type (or a milestone) that no row records
    unmet = unrecorded(ds, pd.unique(table["indicator"]))
    if unmet:
        table = table[~table["indicator"].isin(list(unmet))].reset_index(drop=True)
        notes += [f"{iid}: not assessed, {reason_text(*why)}" for iid, why in unmet.items()]
    return IndicatorTable(table=table, title=f"Indicators {year}, level {level}",
                          method="; ".join(run) + " providers", notes=notes, providers_run=run,
                          providers_skipped=skipped)


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The tidy table with ``pillar``, ``name_en`` and ``name_zh`` from the catalogue."""
    t = table.copy()

    def entry(iid):
        try:
            return catalog.get(iid)
        except KeyError:
            return None

    entries = {i: entry(i) for i in pd.unique(t["indicator"])}
    t["pillar"] = t["indicator"].map(lambda i: entries[i].pillar if entries[i] else "other")
    t["name_en"] = t["indicator"].map(lambda i: entries[i].name_en if entries[i] else i)
    t["name_zh"] = t["indicator"].map(lambda i: entries[i].name_zh if entries[i] else i)
    return t[["indicator", "pillar", "name_en", "name_zh"] + [c for c in INDICATOR_COLUMNS if c != "indicator"]]


def pillar_sheets(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One sheet per pillar (catalogue order), headers ``english / 中文``."""
    t = labelled(table)
    sheets = {}
    for pillar in list(catalog.PILLARS) + ["other"]:
        part = t[t["pillar"].eq(pillar)].drop(columns="pillar")
        if not len(part):
            continue
        headers = {c: (f"{catalog.message(c, 'en')} / {catalog.message(c, 'zh')}" if c not in ("name_en", "name_zh")
                       else {"name_en": "name / 英文名称", "name_zh": "名称 / 中文名称"}[c]) for c in part.columns}
        name = f"{catalog.message(pillar, 'en')} {catalog.message(pillar, 'zh')}"[:31]
        sheets[name] = part.rename(columns=headers)
    return sheets


def write_indicators(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the table: XLSX one sheet per pillar (bilingual headers), else the labelled tidy table."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        sheets = pillar_sheets(table)
        if not sheets:
            sheets = {"indicators": labelled(table)}
        return write_workbook(sheets, path)
    return write_table(labelled(table), path)
