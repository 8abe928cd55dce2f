"""The article's smart-community cycle as indicators (工作力量全进入、群众需求全收集、分类分级全解决、服务过程全评价).

The article says Hanjianglu's smart-community app "brings every work force in, collects every need,
resolves every matter by class and grade and has every service rated". Four shares measure how far
a log shows that (catalogue entries ``svc.channels_live_share``, ``svc.rated_share``,
``svc.graded_share``, ``svc.proactive_share``):

* **full collection**: intake channels (app, hotline, walk-in, grid worker) through which the unit
  received at least one request in the period, over the channels of the data model;
* **full rating**: resolved requests the resident rated (satisfied, basically satisfied or
  dissatisfied; ``not_reached`` does not count) over requests resolved by the cut-off;
* **graded resolution**: requests with an affair class (三事分办: major, minor, private) over requests;
* **proactive share**: requests raised by grid workers over requests, a proxy of 未诉先办 (acting
  before anyone complains).

All four come from the one grouped pass of :mod:`evaluation.requests` (the same quality policy as
every ``svc.*`` indicator). Shares carry the Jeffreys interval of the propensity
(:func:`evaluation.hotline.common.jeffreys_interval`); the count of live channels carries none. A
column the log does not record gives a missing value flagged ``not_recorded``, never 0.

The Jeffreys interval takes every request as its own trial. Requests that follow one another (a
resident's repeated calls about one matter, :mod:`evaluation.hotline.repeats`) are not independent,
so for a share that differs between first requests and follow-ups (the proactive share: grid
workers do not call again) the interval is somewhat too narrow; ``benchmarks/hotline_simulation.py``
measures by how much.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.hotline.common import as_log, share_rows, unit_column, unit_labels
from evaluation.requests import QualityPolicy
from evaluation.requests.grouped import MISSING_LABEL, grouped_tables
from evaluation.results import IndicatorResult, indicator_frame, new_axes

#: the intake channels of the data model (full collection: every one of them live)
INTAKE_CHANNELS = ("app", "hotline", "walk_in", "grid_worker")
#: channels through which workers raise requests before anyone complains (未诉先办)
PROACTIVE_CHANNELS = ("grid_worker",)
#: the four indicators, in the article's order
CYCLE_IDS = ("svc.channels_live_share", "svc.graded_share", "svc.rated_share", "svc.proactive_share")


class CycleIndicators(IndicatorResult):
    """The smart-community cycle by unit and period; ``.plot()`` shows the four shares of one period."""

    level: str = "all"

    def plot(self, *, ax=None, period: str | None = None, lang: str = "en"):
        """The four shares of each unit in ``period`` (default: the last complete one) as grouped bars."""
        t = self.table
        period = period or _last_full_period(t)
        t = t[t["period"].eq(period)]
        units = sorted(t["unit_id"].unique())
        ax = new_axes(ax, (8.0, 0.45 * len(units) + 1.6))
        h = 0.8 / len(CYCLE_IDS)
        y = np.arange(len(units))
        for k, iid in enumerate(CYCLE_IDS):
            v = t[t["indicator"].eq(iid)].set_index("unit_id")["value"].reindex(units)
            ax.barh(y + (k - 1.5) * h, 100 * v.to_numpy(dtype=float), height=h, label=catalog.label(iid, lang))
        ax.set_yticks(y, units)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("%")
        ax.set_title(f"{period}")
        ax.legend(fontsize="small", loc="lower right")
        return ax


def _last_full_period(t: pd.DataFrame) -> str:
    periods = sorted(t["period"].unique())
    return periods[-2] if len(periods) > 1 else periods[-1]


def cycle_indicators(source, level: str | None = "street", period: str = "year", *,
                     channels: Sequence[str] = INTAKE_CHANNELS, proactive: Sequence[str] = PROACTIVE_CHANNELS,
                     alpha: float = 0.05, policy: QualityPolicy | None = None) -> CycleIndicators:
    """The four shares of the smart-community cycle by unit and creation period (module docstring).

    Parameters
    ----------
    source
        A request log or a dataset.
    level
        ``"street"``, ``"community"``, ``"district"``, or ``None`` for the whole log.
    period
        ``"month"``, ``"quarter"`` or ``"year"`` of creation.
    channels
        The intake channels that full collection counts (default the four of the data model).
    proactive
        The channels whose requests count as proactive (default grid workers).
    alpha
        1 - the confidence level of the intervals.
    policy
        What each data-quality flag does (default :class:`~evaluation.requests.QualityPolicy`).

    Returns
    -------
    CycleIndicators
        ``.table``: the tidy indicator table (``svc.channels_live_share``, ``svc.graded_share``,
        ``svc.rated_share``, ``svc.proactive_share``).
    """
    log = as_log(source)
    col = unit_column(log, level) if level is not None else None
    by = [col] if col else []
    lvl = level or "all"
    base = grouped_tables(log, by, period, policy=policy).counts
    base = base.assign(unit_id=unit_labels(base, col))
    rows = []
    # full collection and the proactive share: requests by channel
    if log.recorded("channel"):
        ch = grouped_tables(log, by + ["channel"], period, policy=policy).counts
        ch = ch.assign(unit_id=unit_labels(ch, col), channel=ch["channel"].astype("str"))
        wide = ch.pivot_table(index=["unit_id", "period"], columns="channel", values="n", aggfunc="sum",
                              observed=True).fillna(0)
        live = sum((wide[c] > 0).astype(int) if c in wide.columns else 0 for c in channels)
        per = wide.sum(axis=1)
        frame = pd.DataFrame({"live": live, "channels": float(len(channels)), "requests": per}).reset_index()
        rows.append(pd.DataFrame({
            "indicator": "svc.channels_live_share", "level": lvl, "unit_id": frame["unit_id"], "period": frame["period"],
            "value": frame["live"] / frame["channels"], "numerator": frame["live"], "denominator": frame["channels"],
            "n": frame["requests"], "method": f"count of intake channels with a request in the period ({', '.join(channels)})",
            "flags": ""}))
        pro = sum(wide[c] if c in wide.columns else 0 for c in proactive)
        frame = pd.DataFrame({"num": pro, "den": per}).reset_index()
        rows.append(share_rows("svc.proactive_share", lvl, frame, "num", "den",
                               f"requests raised through {', '.join(proactive)} / requests; Jeffreys interval", alpha))
    else:
        rows.append(_not_recorded(base, "svc.channels_live_share", lvl, "channel"))
        rows.append(_not_recorded(base, "svc.proactive_share", lvl, "channel"))
    # graded resolution: requests with an affair class
    if log.recorded("affair_class"):
        ac = grouped_tables(log, by + ["affair_class"], period, policy=policy).counts
        ac = ac.assign(unit_id=unit_labels(ac, col), graded=np.where(ac["affair_class"].astype("str") == MISSING_LABEL,
                                                                     0, ac["n"]))
        frame = ac.groupby(["unit_id", "period"], observed=True)[["graded", "n"]].sum().reset_index()
        rows.append(share_rows("svc.graded_share", lvl, frame, "graded", "n",
                               "requests with an affair class (三事分办) / requests; Jeffreys interval", alpha))
    else:
        rows.append(_not_recorded(base, "svc.graded_share", lvl, "affair_class"))
    # full rating: rated requests over resolved ones
    if log.recorded("rating") and log.recorded("resolved_at"):
        flags = np.where(base["rated"] > base["resolved"], "ratings_without_resolution", "")
        rows.append(share_rows("svc.rated_share", lvl, base, "rated", "resolved",
                               "requests rated satisfied, basically satisfied or dissatisfied / requests resolved by "
                               "the cut-off; Jeffreys interval", alpha, flags))
    else:
        rows.append(_not_recorded(base, "svc.rated_share", lvl, "rating"))
    table = indicator_frame(pd.concat(rows, ignore_index=True))
    order = {iid: k for k, iid in enumerate(CYCLE_IDS)}
    table = table.sort_values(["indicator", "unit_id", "period"], key=lambda s: s.map(order) if s.name == "indicator"
                              else s, kind="stable").reset_index(drop=True)
    res = CycleIndicators(
        table=table, title=f"Smart-community cycle by {lvl} and {period}",
        method="counts of the one grouped pass (evaluation.requests); shares with the Jeffreys interval of the "
               "propensity (each request one trial), channels live without an interval",
        notes=[f"cut-off {log.cutoff} ({log.cutoff_source})",
               "the proactive share counts grid-worker requests: a proxy of acting before a complaint (未诉先办), "
               "not a measure of it"])
    res.level = lvl
    return res


def _not_recorded(base: pd.DataFrame, indicator: str, level: str, column: str) -> pd.DataFrame:
    """Rows of an indicator whose column the log does not record: missing, flagged, never 0."""
    return pd.DataFrame({"indicator": indicator, "level": level, "unit_id": base["unit_id"].to_numpy(),
                         "period": base["period"].astype("str").to_numpy(), "value": np.nan, "n": base["n"].to_numpy(),
                         "method": f"requests.{column} is not recorded in this log: not assessed",
                         "flags": "not_recorded"})


__all__ = ["CYCLE_IDS", "INTAKE_CHANNELS", "PROACTIVE_CHANNELS", "CycleIndicators",
           "cycle_indicators"]
