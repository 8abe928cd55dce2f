"""Dispatch events: send-backs, reassignments and whistle-to-report times (双向派单, 吹哨报到).

The article names the two-way dispatch and evaluation of streets and departments (街道、部门双向派单、
双向评价) and the whistle mechanisms (街乡吹哨、部门报到; 社区吹哨、党员报到). Where a log has the
optional ``events`` table (one row per event: ``assigned``, ``transferred``, ``returned``,
``escalated``, ``reported``, ``resolved``), they get measures, by the unit of the request and the
period of its creation:

* ``svc.send_back_rate``: dispatched requests (at least one ``assigned`` event) that the unit they
  went to sent back at least once (``returned``), over dispatched requests;
* ``svc.reassignment_rate``: dispatched requests transferred at least once (``transferred``);
* ``svc.whistle_report_hours``: hours from the first ``escalated`` event of a request (the whistle)
  to the next ``reported`` event (the department reports), Kaplan-Meier median with its
  Brookmeyer-Crowley interval (:func:`evaluation.survival.kaplan_meier`); a whistle without a report
  by the cut-off is censored there, never dropped.

Requests without events are not dispatched as far as the log knows: they are not counted, never
taken as "not sent back". Shares carry the Jeffreys interval of the propensity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.dataset.schema import EVENT_TYPES
from evaluation.errors import DataError, MissingInputError
from evaluation.hotline.common import as_log, period_labels, share_rows, unit_column, unit_labels
from evaluation.requests import QualityPolicy
from evaluation.results import IndicatorResult, indicator_frame, new_axes
from evaluation.survival import kaplan_meier

DISPATCH_IDS = ("svc.send_back_rate", "svc.reassignment_rate", "svc.whistle_report_hours")


class Dispatch(IndicatorResult):
    """Send-back and reassignment rates and whistle-to-report medians by unit and period."""

    whistles: pd.DataFrame | None = None

    def plot(self, *, ax=None, period: str | None = None, lang: str = "en"):
        """Send-back and reassignment rates with their intervals for each unit of ``period``."""
        t = self.table[self.table["indicator"].isin(DISPATCH_IDS[:2])]
        period = period or sorted(t["period"].unique())[-1]
        t = t[t["period"].eq(period)]
        units = sorted(t["unit_id"].unique())
        ax = new_axes(ax, (7.0, 0.4 * len(units) + 1.5))
        y = np.arange(len(units))
        for k, iid in enumerate(DISPATCH_IDS[:2]):
            g = t[t["indicator"].eq(iid)].set_index("unit_id").reindex(units)
            v = 100 * g["value"].to_numpy(float)
            ax.errorbar(v, y + (k - 0.5) * 0.3, xerr=[v - 100 * g["ci_low"].to_numpy(float),
                                                      100 * g["ci_high"].to_numpy(float) - v], fmt="o", capsize=2,
                        label=iid)
        ax.set_yticks(y, units)
        ax.set_xlabel("%")
        ax.set_title(str(period))
        ax.legend(fontsize="small")
        return ax


def dispatch_measures(source, events: pd.DataFrame | None = None, level: str | None = "street",
                      period: str = "year", *, alpha: float = 0.05, policy: QualityPolicy | None = None) -> Dispatch:
    """Send-back and reassignment rates and whistle-to-report medians (module docstring).

    Parameters
    ----------
    source
        A dataset with an ``events`` table, or a request log (then give ``events``).
    events
        The events table (default: the dataset's).
    level
        ``"street"``, ``"community"``, ``"district"`` or ``None`` for the whole log.
    period
        ``"month"``, ``"quarter"`` or ``"year"`` of the request's creation.
    alpha
        1 - the confidence level.
    policy
        What each data-quality flag does (requests left out of everything are left out here).

    Returns
    -------
    Dispatch
    """
    if events is None:
        if not hasattr(source, "__contains__") or "events" not in source:
            raise MissingInputError("the dataset has no events table (dispatch events): send-backs, reassignments "
                                    "and whistle-to-report times cannot be assessed", table="events")
        events = source["events"]
    need = {"request_id", "event_type", "at"} - set(events.columns)
    if need:
        raise MissingInputError(f"the events table lacks column(s) {', '.join(sorted(need))}", table="events")
    unknown = sorted(set(events["event_type"].dropna().astype("str")) - set(EVENT_TYPES))
    if unknown:
        raise DataError(f"unknown event type(s) {', '.join(unknown)}; the data model's are {', '.join(EVENT_TYPES)}",
                        table="events", column="event_type")
    log = as_log(source)
    col = unit_column(log, level) if level is not None else None
    lvl = level or "all"
    d = log.data
    policy = policy or QualityPolicy()
    keep = (d["quality_flags"].to_numpy(dtype=np.int64) & policy.mask("exclude")) == 0
    req = pd.DataFrame({"request_id": d["request_id"].astype("str").to_numpy()[keep],
                        "unit_id": unit_labels(d, col).to_numpy()[keep] if col else "all"})
    req["period"] = period_labels(d["created_at"][keep], log.timezone, period)
    ev = events[["request_id", "event_type", "at"]].copy()
    ev["request_id"] = ev["request_id"].astype("str")
    ev["event_type"] = ev["event_type"].astype("str")
    orphan = pd.Index(req["request_id"]).get_indexer(ev["request_id"]) < 0  # (hash look-up: isin on text is slow)
    kinds = ev[~orphan].groupby(["request_id", "event_type"]).size().unstack(fill_value=0)
    kinds = kinds.reindex(columns=list(EVENT_TYPES), fill_value=0)
    r = req.merge(kinds, left_on="request_id", right_index=True, how="inner")
    r = r[r["assigned"] > 0]
    cells = r.assign(sent_back=(r["returned"] > 0).astype(int), moved=(r["transferred"] > 0).astype(int),
                     one=1).groupby(["unit_id", "period"])[["sent_back", "moved", "one"]].sum().reset_index()
    rows = [share_rows("svc.send_back_rate", lvl, cells, "sent_back", "one",
                       "dispatched requests returned at least once / dispatched requests; Jeffreys interval", alpha),
            share_rows("svc.reassignment_rate", lvl, cells, "moved", "one",
                       "dispatched requests transferred at least once / dispatched requests; Jeffreys interval", alpha)]
    whistles = _whistles(ev[~orphan], req, log.cutoff)
    if len(whistles):
        km = kaplan_meier(whistles, "hours", "reported", by=["unit_id", "period"], probs=(0.5,))
        med = km.table[km.table["indicator"].eq("survival.median")].reset_index(drop=True)
        groups = km.curves.groups
        rows.append(pd.DataFrame({
            "indicator": "svc.whistle_report_hours", "level": lvl, "unit_id": groups["unit_id"].astype("str"),
            "period": groups["period"].astype("str"), "value": med["value"], "ci_low": med["ci_low"],
            "ci_high": med["ci_high"], "numerator": med["numerator"], "n": med["n"],
            "method": "Kaplan-Meier median hours from the whistle (escalated) to the report (reported), "
                      "Brookmeyer-Crowley log interval; whistles without a report censored at the cut-off",
            "flags": med["flags"]}))
    table = indicator_frame(pd.concat(rows, ignore_index=True))
    notes = [f"{int(orphan.sum()):,} events of requests not in the log (or left out by the quality policy) are "
             "left out" if orphan.any() else "every event belongs to a request of the log",
             f"{len(req) - len(r):,} requests without a dispatch event are not counted"]
    res = Dispatch(table=table, title=f"Dispatch (双向派单, 吹哨报到) by {lvl} and {period}",
                   method="shares of dispatched requests with the Jeffreys interval; whistle-to-report times by "
                          "Kaplan-Meier with censoring at the cut-off", notes=notes)
    res.whistles = whistles
    return res


def _whistles(ev: pd.DataFrame, req: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """One row per whistled request: hours from the first whistle to the next report (or to the cut-off)."""
    wh = ev[ev["event_type"].eq("escalated")].groupby("request_id")["at"].min().rename("whistle")
    if wh.empty:
        return pd.DataFrame(columns=["request_id", "unit_id", "period", "hours", "reported"])
    rep = ev[ev["event_type"].eq("reported")][["request_id", "at"]].merge(wh, left_on="request_id", right_index=True)
    rep = rep[rep["at"] >= rep["whistle"]].groupby("request_id")["at"].min().rename("report")
    w = wh.to_frame().join(rep).reset_index().merge(req[["request_id", "unit_id", "period"]], on="request_id")
    reported = w["report"].notna() & (w["report"] <= cutoff)
    end = w["report"].where(reported, cutoff)
    w["hours"] = (end - w["whistle"]).dt.total_seconds() / 3600.0
    w["reported"] = reported.astype(int)
    return w[["request_id", "unit_id", "period", "hours", "reported"]]


__all__ = ["DISPATCH_IDS", "Dispatch", "dispatch_measures"]
