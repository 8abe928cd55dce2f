"""Registry indicators of a year at any level: what :func:`registry_indicators` returns.

The base counts of :mod:`evaluation.registry.counts` (a numerator and a denominator per base
unit) are summed up the unit tree (:mod:`evaluation.registry.rollup`) to every level the
catalogue defines for the indicator, and divided once: a district value is the pooled ratio,
never an average of community ratios. Complete registries are counts, not samples: no sampling
interval. A zero denominator gives a missing value flagged ``zero_denominator``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from evaluation import catalog
from evaluation.calendar import WorkCalendar
from evaluation.dataset.units import LEVELS, UnitTree
from evaluation.errors import OptionError
from evaluation.registry.counts import base_counts, default_as_of
from evaluation.registry.rollup import rollup_long
from evaluation.results import IndicatorResult, Summary, add_flag, indicator_frame, new_axes
from evaluation.scorecard import Scorecard, build_scorecard


class RegistryIndicators(IndicatorResult):
    """Registry indicators of one year at one or more levels (a results object).

    ``.table`` is the tidy indicator table; ``.value(indicator, unit_id)`` one number;
    ``.plot(indicator=..., level=...)`` a bar chart of the units with the target line.
    """

    def summary_lines(self, lang: str = "en") -> list[str]:
        """Method and size, then the district value of each indicator with its counts."""
        lines = super().summary_lines() + [""]
        d = self.table[self.table["level"].eq("district")]
        for r in d.itertuples(index=False):
            e = catalog.get(r.indicator)
            if pd.isna(r.value):
                val = "missing"
            elif e.unit == "share":
                val = f"{r.value:.1%}"
            else:
                val = f"{r.value:,.0f}" if abs(r.value) >= 1000 else f"{r.value:.4g}"
            counts = f"{r.numerator:,.0f} / {r.denominator:,.0f}" if e.unit != "yuan" else f"{r.numerator:,.0f} yuan / {r.denominator:,.0f}"
            lines.append(f"  {e.label(lang)}: {val} ({counts}; {r.period})" + (f" [{r.flags}]" if r.flags else ""))
        return lines

    def summary(self, lang: str = "en") -> Summary:
        """Title, method and notes, then the district value of each indicator with its counts."""
        return Summary(self.title, self.summary_lines(lang), self.notes)

    def value(self, indicator: str, unit_id: str | None = None, level: str | None = None) -> float:
        """The value of ``indicator`` for ``unit_id`` (default: the district)."""
        t = self.table[self.table["indicator"].eq(indicator)]
        if level is not None:
            t = t[t["level"].eq(level)]
        t = t[t["unit_id"].eq(unit_id)] if unit_id is not None else t[t["level"].eq("district")]
        if len(t) != 1:
            raise KeyError(f"no single row for indicator {indicator!r}, unit {unit_id!r}, level {level!r}")
        return float(t["value"].iloc[0])

    def row(self, indicator: str, unit_id: str | None = None) -> pd.Series:
        """The tidy row of ``indicator`` for ``unit_id`` (default: the district)."""
        t = self.table[self.table["indicator"].eq(indicator)]
        t = t[t["unit_id"].eq(unit_id)] if unit_id is not None else t[t["level"].eq("district")]
        if len(t) != 1:
            raise KeyError(f"no single row for indicator {indicator!r}, unit {unit_id!r}")
        return t.iloc[0]

    def wide(self, lang: str = "en") -> pd.DataFrame:
        """One row per unit, one column per indicator (labelled in ``lang``)."""
        t = self.table
        w = t.pivot_table(index=["level", "unit_id"], columns="indicator", values="value", sort=False)
        w.columns = [catalog.label(c, lang) for c in w.columns]
        return w

    def scorecard(self, previous: RegistryIndicators | pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                  year: int | None = None, lang: str = "en") -> Scorecard:
        """Set these values against their targets and ``previous`` (see :mod:`evaluation.scorecard`)."""
        prev = previous.table if isinstance(previous, IndicatorResult) else previous
        return build_scorecard(self.table, prev, targets, year, lang)

    def plot(self, *, ax=None, indicator: str | None = None, level: str | None = None, lang: str = "en"):
        """Horizontal bars of ``indicator`` by unit at ``level``; returns the Axes.

        ``indicator`` defaults to the table's first, ``level`` to the first of community, street
        and compound at which the table has it (else district); the catalogue target is a dashed line.
        """
        if indicator is None:
            indicator = str(self.table["indicator"].iloc[0])
        t = self.table[self.table["indicator"].eq(indicator)]
        if level is None:
            level = next((lv for lv in ("community", "street", "compound", "district") if lv in set(t["level"])), "district")
        t = t[t["level"].eq(level)].sort_values("value")
        ax = new_axes(ax, (6, max(2.0, 0.22 * len(t) + 1)))
        ax.barh(t["unit_id"], t["value"], color="#4C72B0")
        entry = catalog.get(indicator)
        if entry.target is not None:
            ax.axvline(entry.target.value, color="#C44E52", linestyle="--",
                       label=f"{catalog.message('target', lang)} {entry.target.comparator} {entry.target.value:g}")
            ax.legend(loc="lower right")
        ax.set_xlabel(entry.label(lang))
        ax.set_ylabel(catalog.message(level, lang))
        return ax


def registry_indicators(ds: Mapping[str, pd.DataFrame], year: int, level: str | Iterable[str] = "district",
                        as_of=None, calendar: WorkCalendar | None = None, cutoff=None,
                        indicators: Iterable[str] | None = None) -> RegistryIndicators:
    """Every registry indicator of ``year`` at ``level`` (one level or several).

    Parameters
    ----------
    ds
        A :class:`evaluation.dataset.Dataset` or any mapping table name -> DataFrame with the
        columns of :mod:`evaluation.dataset.schema` (missing tables skip their indicators).
    year
        Calendar year of flow indicators; stock indicators are counted as of ``as_of``.
    level
        ``district``, ``street``, ``community``, ``compound`` or a list of them. An indicator is
        reported only at the levels the catalogue defines for it.
    as_of
        Date for stock indicators (default: 31 December of ``year``, or the cut-off if earlier).
    calendar
        Working-day calendar for duty and cadence (default: official Chinese calendar).
    cutoff
        Data cut-off (default: ``ds.cutoff`` when the dataset has one): periods after it are not
        judged and stock indicators are counted as of it when it falls inside ``year``.
    indicators
        Restrict to these ids.

    Returns
    -------
    RegistryIndicators
        ``.table`` in the tidy format (value = scale x numerator / denominator; ``n`` the base
        units or periods counted; ``period`` the as-of date for stocks, the year for flows).
    """
    levels = [level] if isinstance(level, str) else list(level)
    for lv in levels:
        if lv not in LEVELS:
            raise OptionError(f"unknown level {lv!r}; use one of {', '.join(LEVELS)}")
    tree = UnitTree.from_dataset(ds)
    cutoff = cutoff if cutoff is not None else getattr(ds, "cutoff", None)
    as_of_ts = pd.Timestamp(as_of).normalize() if as_of is not None else default_as_of(year, cutoff)
    wanted = set(indicators) if indicators is not None else None
    def count():
        return base_counts(ds, year, as_of_ts, calendar, cutoff, tree, wanted)

    # the counts per base unit do not depend on the level: a dataset keeps them for every level
    memo = getattr(ds, "memo", None)
    key = ("registry-base-counts", year, as_of_ts, str(cutoff), None if wanted is None else frozenset(wanted))
    counts = memo(key, count) if memo is not None and calendar is None else count()
    counts = [bc for bc in counts if wanted is None or bc.indicator in wanted]
    meta = {}
    for bc in counts:
        entry = catalog.get(bc.indicator)
        if bc.kind == "stock":
            period = as_of_ts.strftime("%Y-%m-%d")
            method = f"registry count as of {period}"
        else:
            period = str(year)
            method = f"registry count, calendar year {year}"
        if bc.note:
            method += f" ({bc.note})"
        flags = bc.flags
        if bc.kind == "stock" and as_of is None and as_of_ts < pd.Timestamp(year, 12, 31):
            flags = ";".join(x for x in (flags, "as_of_cutoff") if x)
        meta[bc.indicator] = {"entry": entry, "period": period, "method": method, "flags": flags}
    frames = []
    if counts:
        long = pd.concat([bc.base.assign(indicator=bc.indicator) for bc in counts], ignore_index=True)
        for lv in levels:
            ids_here = [i for i, m in meta.items() if lv in m["entry"].levels]
            if not ids_here:
                continue
            part = long[long["indicator"].isin(ids_here)]
            summed = rollup_long(part, tree, lv, {i: meta[i]["entry"].scope for i in ids_here})
            summed["level"] = lv
            frames.append(summed)
    if frames:
        t = pd.concat(frames, ignore_index=True)
        num, den = t["numerator"].astype("float64"), t["denominator"].astype("float64")
        scale = t["indicator"].map({i: m["entry"].scale for i, m in meta.items()}).astype("float64")
        t["value"] = (scale * num / den.where(den > 0)).where(den > 0)
        for col in ("period", "method", "flags"):
            t[col] = t["indicator"].map({i: m[col] for i, m in meta.items()})
        t["flags"] = add_flag(t["flags"].astype("str"), den.to_numpy() <= 0, "zero_denominator")
        table = indicator_frame(t)
    else:
        table = indicator_frame([])
    order = {iid: i for i, iid in enumerate(catalog.CATALOG)}
    level_order = {lv: i for i, lv in enumerate(LEVELS[::-1])}
    table = (table.assign(_i=table["indicator"].map(order), _l=table["level"].map(level_order))
             .sort_values(["_i", "_l", "unit_id"], kind="stable").drop(columns=["_i", "_l"]).reset_index(drop=True))
    notes = [
        "Complete registries: counts, not samples; no sampling interval.",
        "Ratios are pooled up the hierarchy (numerators and denominators summed), never averaged.",
        "A zero denominator gives a missing value flagged zero_denominator.",
    ]
    return RegistryIndicators(table=table, title=f"Registry indicators {year} ({', '.join(levels)})",
                              method=f"registry counts; stocks as of {as_of_ts:%Y-%m-%d}, flows over {year}",
                              notes=notes)


def indicator_provider(ds: Mapping[str, pd.DataFrame], year: int, level: str) -> RegistryIndicators | None:
    """Provider for ``evaluation indicators`` (:mod:`evaluation.indicators`)."""
    if "units" not in ds:
        return None
    return registry_indicators(ds, year, level)


def registry_scorecard(ds: Mapping[str, pd.DataFrame], year: int, level: str = "district", lang: str = "en",
                       **kwargs) -> Scorecard:
    """Registry indicators of ``year`` at ``level`` against targets and the previous year.

    The previous year is computed from the same dataset (stocks as of 31 December of
    ``year - 1``, flows over ``year - 1``); a registry that starts later shows it as missing or zero.
    """
    cur = registry_indicators(ds, year, level, **kwargs).table
    prev = registry_indicators(ds, year - 1, level, **kwargs).table
    targets = ds["targets"] if "targets" in ds else None
    return build_scorecard(cur, prev, targets, year, lang)
