"""Targets, status and change: a compact scorecard of indicator values.

Each value is set against its target (met, not met, no target; missing when the value is) and
against the value of the previous year (change, and whether that change is an improvement given
the catalogue direction). Targets come from the catalogue (``catalog.yaml``, with their source:
the article or a policy document), overridden for a year by a dataset's ``targets`` table.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.results import IndicatorResult, new_axes

STATUSES = ("met", "not_met", "no_target", "missing")
KEYS = ["indicator", "level", "unit_id"]


def resolve_targets(indicators, year: int | None = None, targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Target, comparator and source of each indicator id.

    The ``targets`` table's row for ``year`` when there is one, else the catalogue default, else none.
    """
    rows = []
    override = {}
    if targets is not None and len(targets):
        t = targets
        if year is not None:
            t = t[pd.to_numeric(t["year"], errors="coerce").eq(year)]
        for r in t.itertuples(index=False):
            override[str(r.indicator_id)] = (float(r.target), str(r.comparator), str(r.source))
    for iid in pd.unique(pd.Series(list(indicators), dtype="str")):
        if iid in override:
            tv, comp, src = override[iid]
        else:
            try:
                tg = catalog.get(iid).target
            except KeyError:
                tg = None
            tv, comp, src = (tg.value, tg.comparator, tg.source) if tg else (np.nan, None, None)
        rows.append({"indicator": iid, "target": tv, "comparator": comp, "target_source": src})
    return pd.DataFrame(rows, columns=["indicator", "target", "comparator", "target_source"])


def status_of(value: pd.Series, target: pd.Series, comparator: pd.Series) -> pd.Series:
    """``met`` / ``not_met`` / ``no_target`` / ``missing`` for each row."""
    v = value.to_numpy(dtype=float)
    t = target.to_numpy(dtype=float)
    comp = comparator.to_numpy(dtype=object)
    out = np.full(len(v), "no_target", dtype=object)
    for op in (">=", "<=", ">", "<", "=="):
        m = comp == op
        if not m.any():
            continue
        with np.errstate(invalid="ignore"):
            ok = {">=": v >= t, "<=": v <= t, ">": v > t, "<": v < t,
                  "==": np.abs(v - t) <= 1e-9 * np.maximum(1.0, np.abs(t))}[op]
        out[m] = np.where(ok[m], "met", "not_met")
    out[np.isnan(v)] = "missing"
    return pd.Series(out, index=value.index, dtype="str")


class Scorecard(IndicatorResult):
    """A compact scorecard: value, target, status, previous value, change, trend.

    ``table`` has one row per indicator and unit with columns ``indicator``, ``name``,
    ``pillar``, ``level``, ``unit_id``, ``period``, ``value``, ``target``, ``comparator``,
    ``status`` (met / not_met / no_target / missing), ``previous_value``, ``change``
    (value - previous value), ``trend`` (better / worse / unchanged given the catalogue
    direction; missing without a previous value or direction) and ``target_source``.
    """

    def __init__(self, table: pd.DataFrame, year: int | None = None, lang: str = "en", notes: list[str] | None = None):
        title = f"{catalog.message('scorecard', lang)} {year or ''}".strip()
        super().__init__(table=table, title=title, method="targets: the dataset's targets table, else the catalogue",
                         notes=list(notes or []))
        self.year, self.lang = year, lang

    def counts(self) -> pd.Series:
        """Number of rows per status."""
        return self.table["status"].value_counts().reindex(list(STATUSES), fill_value=0)

    def summary_lines(self) -> list[str]:
        """One line: the number of rows with each status (met, not met, no target, missing), in ``lang``."""
        c = self.counts()
        return [", ".join(f"{catalog.message(k, self.lang)}: {int(c[k])}" for k in STATUSES)]

    def display(self, lang: str | None = None) -> pd.DataFrame:
        """The table with headings and status words in ``lang`` (for reports)."""
        lang = lang or self.lang
        t = self.table.copy()
        t["status"] = t["status"].map(lambda s: catalog.message(s, lang))
        t["trend"] = t["trend"].map(lambda s: s if pd.isna(s) else catalog.message(s, lang))
        t["level"] = t["level"].map(lambda s: catalog.message(s, lang))
        cols = ["name", "level", "unit_id", "period", "value", "target", "comparator", "status",
                "previous_value", "change", "trend"]
        return t[cols].rename(columns={c: catalog.message(c, lang) for c in cols})

    def plot(self, *, ax=None, lang: str | None = None):
        """Counts of indicators met and not met by pillar (stacked bars); returns the Axes."""
        lang = lang or self.lang
        t = self.table[self.table["status"].isin(["met", "not_met"])]
        counts = t.groupby(["pillar", "status"]).size().unstack(fill_value=0).reindex(columns=["met", "not_met"],
                                                                                       fill_value=0)
        ax = new_axes(ax, (6, 0.5 * max(len(counts), 1) + 1.2))
        left = np.zeros(len(counts))
        for status, colour in (("met", "#009E73"), ("not_met", "#D55E00")):
            ax.barh([catalog.message(p, lang) for p in counts.index], counts[status], left=left, color=colour,
                    label=catalog.message(status, lang))
            left = left + counts[status].to_numpy()
        ax.legend(loc="lower right")
        return ax

    def _repr_html_(self) -> str:
        head = f"<h4>{html.escape(self.title)}</h4><p>{html.escape(self.summary_lines()[0])}</p>"
        return head + self.display().head(60).to_html(index=False, na_rep="", float_format=lambda x: f"{x:.4g}")


def build_scorecard(current: pd.DataFrame, previous: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                    year: int | None = None, lang: str = "en") -> Scorecard:
    """Set tidy indicator rows against targets and the previous year's rows.

    Parameters
    ----------
    current
        Tidy indicator table of the year (DESIGN.md section 4).
    previous
        Tidy table of the previous year (same indicators, levels, units), or ``None``.
    targets
        A ``targets`` table (indicator_id, year, target, comparator, source) overriding the
        catalogue defaults for ``year``.
    """
    cur = current[KEYS + ["period", "value"]].copy()
    tg = resolve_targets(cur["indicator"], year, targets)
    t = cur.merge(tg, on="indicator", how="left")
    t["status"] = status_of(t["value"], t["target"], t["comparator"])
    if previous is not None and len(previous):
        prev = previous[KEYS + ["value"]].rename(columns={"value": "previous_value"})
        t = t.merge(prev, on=KEYS, how="left")
    else:
        t["previous_value"] = np.nan
    t["change"] = t["value"] - t["previous_value"]
    direction = t["indicator"].map(lambda i: _direction(i))
    sign = np.where(direction.eq("higher"), 1.0, np.where(direction.eq("lower"), -1.0, np.nan))
    signed = t["change"].to_numpy(dtype=float) * sign
    trend = np.where(np.isnan(signed), None,
                     np.where(np.abs(signed) <= 1e-12, "unchanged", np.where(signed > 0, "better", "worse")))
    t["trend"] = pd.Series(trend, index=t.index, dtype="str")
    t["name"] = t["indicator"].map(lambda i: catalog.label(i, lang))
    t["pillar"] = t["indicator"].map(lambda i: _pillar(i))
    cols = ["indicator", "name", "pillar", "level", "unit_id", "period", "value", "target", "comparator", "status",
            "previous_value", "change", "trend", "target_source"]
    notes = ["Targets: the dataset's targets table for the year where it has one, else the catalogue default."]
    return Scorecard(t[cols].reset_index(drop=True), year=year, lang=lang, notes=notes)


def _direction(iid: str) -> str:
    try:
        return catalog.get(iid).direction
    except KeyError:
        return "none"


def _pillar(iid: str) -> str | None:
    try:
        return catalog.get(iid).pillar
    except KeyError:
        return None
