"""``evaluation indicators``: every indicator of a year at one level, in one tidy table.

Indicators come from *providers*: functions ``provider(ds, year, level)`` that return a tidy
indicator table (DESIGN.md section 4), an object with such a ``.table`` (an
:class:`~evaluation.results.IndicatorResult`), or ``None`` when the dataset lacks what they
need. The registry provider (:mod:`evaluation.coverage`) is always there; the request, survey
and other modules plug in by adding an entry to :data:`PROVIDERS` (or calling
:func:`register_provider`) naming ``"module:function"``. A provider whose module or function
does not exist yet is skipped with a note, so the command works while the package grows.

Output: CSV or Parquet get the tidy table (plus ``pillar``, ``name_en``, ``name_zh``); XLSX gets
one sheet per pillar with bilingual headers (``value / 值``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation import catalog
from evaluation.results import INDICATOR_COLUMNS, IndicatorResult, indicator_frame

Provider = Callable[[Mapping[str, pd.DataFrame], int, str], object]

#: name -> "module:function" (or a callable); tried in this order.
PROVIDERS: dict[str, str | Provider] = {
    "registry": "evaluation.coverage:indicator_provider",
    "service": "evaluation.requests:indicator_provider",
    "outcome": "evaluation.indicators:survey_provider",
}


def survey_provider(ds: Mapping[str, pd.DataFrame], year: int, level: str):
    """Survey outcomes (``out.*``) of the wave ``year`` via :func:`evaluation.survey.survey_indicators`;
    ``None`` when the dataset has no survey rows for that wave."""
    if "survey" not in ds or not pd.to_numeric(ds["survey"]["wave"], errors="coerce").eq(year).any():
        return None
    from evaluation.survey import OUTCOME_INDICATORS, survey_indicators

    # a user's survey may not ask the outcome items: then there are no outcome indicators, not an error
    items = {item for kind, item in OUTCOME_INDICATORS.values() if kind == "mean"}
    if not items <= set(ds["survey"].columns):
        return None
    return survey_indicators(ds, year, level)


def register_provider(name: str, provider: str | Provider) -> None:
    """Add (or replace) a provider: ``"module:function"`` or a callable ``(ds, year, level)``."""
    PROVIDERS[name] = provider


def _resolve(provider: str | Provider) -> Provider | None:
    if callable(provider):
        return provider
    module_name, _, func = provider.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # only the provider's own module being absent is tolerated, not a broken import inside it
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, func, None)


@dataclass
class IndicatorTable(IndicatorResult):
    """All indicators of a year at one level, with the providers that ran and those skipped."""

    providers_run: list[str] = field(default_factory=list)
    providers_skipped: list[str] = field(default_factory=list)


def collect_indicators(ds: Mapping[str, pd.DataFrame], year: int, level: str = "district",
                       providers: Mapping[str, str | Provider] | None = None) -> IndicatorTable:
    """Run every provider for ``year`` and ``level`` and stack their tidy tables."""
    providers = PROVIDERS if providers is None else providers
    frames, run, skipped, notes = [], [], [], []
    for name, spec in providers.items():
        func = _resolve(spec)
        if func is None:
            skipped.append(name)
            notes.append(f"{name} indicators: provider {spec} is not available in this version")
            continue
        out = func(ds, year, level)
        if out is None:
            skipped.append(name)
            notes.append(f"{name} indicators: the dataset lacks the tables or columns they need")
            continue
        table = out.table if hasattr(out, "table") else out
        frames.append(indicator_frame(table))
        run.append(name)
    table = indicator_frame(pd.concat(frames, ignore_index=True)) if frames else indicator_frame([])
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
    from evaluation.io import write_table, write_workbook

    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        sheets = pillar_sheets(table)
        if not sheets:
            sheets = {"indicators": labelled(table)}
        return write_workbook(sheets, path)
    return write_table(labelled(table), path)


def run_cli(args) -> int:
    """``evaluation indicators DIR --year Y --level L --out FILE``."""
    from evaluation.dataset import load_dataset

    from evaluation.io import output_path

    out = output_path(args.out)
    folder = Path(args.dir)  # load_dataset names a missing folder
    ds = load_dataset(folder)
    if "units" not in ds:
        raise ValueError(f"{folder}: the dataset has no units table, which every indicator needs")
    result = collect_indicators(ds, int(args.year), args.level)
    write_indicators(result.table, out)
    n_ind = result.table["indicator"].nunique()
    print(f"wrote {len(result.table)} rows ({n_ind} indicators, level {args.level}, {args.year}) to {out}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
