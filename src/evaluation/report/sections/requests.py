"""Requests: how quickly and how well were residents' requests handled?

The numbers come from :func:`evaluation.requests.request_indicators` on the dataset's flagged log
(:func:`evaluation.requests.dataset_log`), the same call notebook 02 makes: Kaplan-Meier times to
resolution with requests still open at the cut-off right-censored, rates over the complete log,
and the requests open at the cut-off from the same life table
(:meth:`evaluation.requests.RequestIndicators.open_at_cutoff`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.report.changes import call_change
from evaluation.report.context import NotAssessable, Review, finite
from evaluation.report.model import Section
from evaluation.report.text import fmt_estimate, fmt_value, missing

#: the district figures of the section, in the order of its table
DISTRICT = ("svc.requests", "svc.response_rate", "svc.resolution_rate", "svc.median_resolution_hours",
            "svc.resolved_within_sla", "svc.satisfaction_rate", "svc.three_rate_score", "svc.reopen_rate",
            "svc.backlog")
#: the service-level target shown (hours): the share resolved within a working week
SLA_SHOWN = 72.0
#: communities shown on the page at each end of the ranking (the workbook has them all)
ENDS = 5


def district_rows(rv: Review) -> pd.DataFrame:
    """The district's request indicators of the year and the year before (one SLA: :data:`SLA_SHOWN`)."""
    tb = rv.requests(()).table
    tb = tb[tb["indicator"].isin(DISTRICT) & (tb["sla_hours"].isna() | tb["sla_hours"].eq(SLA_SHOWN))]
    return tb[tb["period"].isin([str(rv.year - 1), str(rv.year)])]


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the district's request handling, its changes, the streets and the extreme communities."""
    res = rv.requests(())
    rows = district_rows(rv)
    cur = {r["indicator"]: r for r in rows[rows["period"].eq(str(rv.year))].to_dict("records")}
    prev = {r["indicator"]: r for r in rows[rows["period"].eq(str(rv.year - 1))].to_dict("records")}
    if not cur or missing(cur.get("svc.requests", {}).get("value")):
        raise NotAssessable("rv_no_requests_year", year=rv.year)
    sec.question = rv.msg("rv_q_requests", year=rv.year)
    calls = {i: call_change(i, cur[i], prev.get(i)) for i in cur}
    opened = res.open_at_cutoff()
    open_now = int(opened["open_at_cutoff"].sum())
    cutoff = getattr(rv.ds, "cutoff", None)
    med = cur.get("svc.median_resolution_hours", {})
    sec.answer.append(rv.msg(
        "rv_a_requests", n=fmt_value("svc.requests", cur["svc.requests"]["value"], rv.lang),
        resolved=fmt_value("svc.resolution_rate", cur.get("svc.resolution_rate", {}).get("value"), rv.lang),
        median=fmt_estimate("svc.median_resolution_hours", med.get("value"), med.get("ci_low"), med.get("ci_high"),
                            rv.lang),
        satisfied=fmt_value("svc.satisfaction_rate", cur.get("svc.satisfaction_rate", {}).get("value"), rv.lang)))
    moved = [(i, c) for i, c in calls.items() if c.state in ("better", "worse")]
    if moved:
        sec.answer.append(rv.msg("rv_a_requests_moved", prev=rv.year - 1, items=_items(rv, moved, cur)))
    else:
        sec.answer.append(rv.msg("rv_a_requests_steady", prev=rv.year - 1))
    if cutoff is not None:
        sec.answer.append(rv.msg("rv_a_open_at_cutoff", cutoff=f"{cutoff:%Y-%m-%d %H:%M}", n=f"{open_now:,}"))
    sec.facts.update(current=cur, previous=prev, calls=calls, open_at_cutoff=open_now)

    # district table: the year before, the year, the change and its call
    table = []
    for iid in DISTRICT:
        if iid not in cur:
            continue
        c, p, call = cur[iid], prev.get(iid), calls[iid]
        name = rv.label(iid) + (f" ({rv.msg('rv_within_hours', hours=int(SLA_SHOWN))})" if iid == "svc.resolved_within_sla"
                                else "")
        table.append({"rv_col_indicator": name,
                      "rv_col_previous_year": fmt_estimate(iid, None if p is None else p["value"],
                                                           None if p is None else p.get("ci_low"),
                                                           None if p is None else p.get("ci_high"), rv.lang),
                      "rv_col_this_year": fmt_estimate(iid, c["value"], c.get("ci_low"), c.get("ci_high"), rv.lang),
                      "rv_col_change": "" if call.state == "not_compared" else rv.msg(
                          "rv_change_with_call", change=fmt_value(iid, call.change, rv.lang, change=True),
                          call=rv.call_word(iid, call.state))})
    rv.publish(sec, "requests", rv.msg("rv_tab_requests", prev=rv.year - 1, year=rv.year), pd.DataFrame(table),
               sheet=False)
    full = rows.assign(name=rows["indicator"].map(rv.label))
    rv.publish(sec, "requests_all", rv.msg("rv_tab_requests", prev=rv.year - 1, year=rv.year), pd.DataFrame({
        "rv_col_code": full["indicator"], "rv_col_indicator": full["name"], "rv_col_period": full["period"],
        "rv_col_sla": full["sla_hours"], "rv_col_value": full["value"], "rv_col_ci_low": full["ci_low"],
        "rv_col_ci_high": full["ci_high"], "rv_col_n": full["n"]}), page=False,
        units={"rv_col_value": "indicator", "rv_col_ci_low": "indicator", "rv_col_ci_high": "indicator",
               "rv_col_n": "count", "rv_col_sla": "hours"})
    _streets(rv, sec)
    _units(rv, sec)
    naive = cur.get("svc.median_resolution_hours_closed_only")
    if naive is None:
        naive_tb = res.table
        naive = naive_tb[naive_tb["indicator"].eq("svc.median_resolution_hours_closed_only")
                         & naive_tb["period"].eq(str(rv.year))]
        naive = naive.iloc[0].to_dict() if len(naive) else None
    if naive is not None and not missing(naive.get("value")):
        sec.caveats.append(rv.msg("rv_c_closed_only", value=fmt_value("svc.median_resolution_hours", naive["value"], rv.lang),
                                  km=fmt_value("svc.median_resolution_hours", med.get("value"), rv.lang)))
    sec.caveats.append(rv.msg("rv_c_requests"))


#: changes named in the answer (the largest relative ones; the table has them all)
MAX_NAMED = 3


def _items(rv: Review, moved, current) -> str:
    """The clearest changes in words: the largest relative ones first, at most :data:`MAX_NAMED`."""
    def size(item):
        i, c = item
        base = abs(float(current[i]["value"]) - c.change) or 1.0
        return -abs(c.change) / base

    named = sorted(moved, key=size)[:MAX_NAMED]
    words = [rv.msg("rv_moved_item", name=rv.label(i), change=fmt_value(i, c.change, rv.lang, change=True),
                    call=rv.call_word(i, c.state)) for i, c in named]
    text = ("；" if rv.lang == "zh" else "; ").join(words)
    if len(moved) > MAX_NAMED:
        text += rv.msg("rv_and_more", n=len(moved) - MAX_NAMED)
    return text


def _streets(rv: Review, sec: Section) -> None:
    """Median resolution time by street with its 95 % interval (a first-screen chart)."""
    tb = rv.requests(("street_id",)).table
    m = tb[tb["indicator"].eq("svc.median_resolution_hours") & tb["period"].eq(str(rv.year))].copy()
    if m.empty:
        return
    m = rv.protect(m.assign(unit_id=m["street_id"].astype(str)))
    m = m[m["suppressed"].eq("")]
    m = m.sort_values("value").reset_index(drop=True)
    v, lo, hi = finite(m["value"]), finite(m["ci_low"]), finite(m["ci_high"])
    hi_plot = np.where(np.isnan(hi), np.nanmax(np.r_[hi[~np.isnan(hi)], v]) * 1.15 if len(v) else 0, hi)
    fig, ax = plt.subplots(figsize=(6.4, 0.42 * len(m) + 1.6))
    y = np.arange(len(m))
    ax.errorbar(v, y, xerr=[v - np.where(np.isnan(lo), v, lo), hi_plot - v], fmt="o", capsize=3, color="#0072B2")
    ax.set_yticks(y, [rv.unit_name(u) for u in m["unit_id"]])
    ax.invert_yaxis()
    district = rv.requests(()).table
    d = district[district["indicator"].eq("svc.median_resolution_hours") & district["period"].eq(str(rv.year))]
    if len(d):
        ax.axvline(float(d["value"].iloc[0]), color="0.5", ls="--", lw=1, label=rv.msg("rv_district_value"))
        ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_xlabel(rv.msg("rv_axis_hours"))
    ax.set_title(rv.msg("rv_fig_requests_street", year=rv.year))
    fig.tight_layout()
    rv.savefig(sec, fig, "requests-by-street", rv.msg("rv_fig_requests_street", year=rv.year))


def _units(rv: Review, sec: Section) -> None:
    """Communities (or streets) with the longest and the shortest median times; every unit in the workbook."""
    col = "community_id" if rv.level == "community" else "street_id"
    tb = rv.requests((col,)).table
    keep = ["svc.requests", "svc.resolution_rate", "svc.satisfaction_rate", "svc.median_resolution_hours"]
    u = tb[tb["indicator"].isin(keep) & tb["period"].eq(str(rv.year))].copy()
    if u.empty:
        return
    u = rv.protect(u.assign(unit_id=u[col].astype(str)))
    wide = u.pivot_table(index="unit_id", columns="indicator", values="value", aggfunc="first")
    hidden = set(u.loc[u["suppressed"].ne(""), "unit_id"])
    med = u[u["indicator"].eq("svc.median_resolution_hours")].set_index("unit_id")
    shown = med[~med.index.isin(hidden)].sort_values("value")
    ends = pd.concat([shown.head(ENDS), shown.tail(ENDS)]) if len(shown) > 2 * ENDS else shown
    ends = ends[~ends.index.duplicated()]
    page = pd.DataFrame({
        "rv_col_unit": [rv.unit_name(x) for x in ends.index],
        "rv_col_requests": [fmt_value("svc.requests", wide.at[x, "svc.requests"], rv.lang) for x in ends.index],
        "rv_col_median_hours": [fmt_estimate("svc.median_resolution_hours", r["value"], r["ci_low"], r["ci_high"], rv.lang)
                                for _, r in ends.iterrows()],
        "rv_col_satisfaction": [fmt_value("svc.satisfaction_rate", wide.at[x, "svc.satisfaction_rate"], rv.lang)
                                if "svc.satisfaction_rate" in wide.columns else "–" for x in ends.index],
    })
    note = rv.msg("rv_n_ends", ends=ENDS, level=rv.msg(rv.level), n=len(shown)) if len(shown) > 2 * ENDS else ""
    rv.publish(sec, "requests_ends", rv.msg("rv_tab_requests_ends", level=rv.msg(rv.level), year=rv.year), page,
               sheet=False, note=note)
    full = pd.DataFrame({
        "rv_col_code": u["indicator"], "rv_col_indicator": u["indicator"].map(rv.label), "rv_col_unit_code": u["unit_id"],
        "rv_col_unit": u["unit_id"].map(rv.unit_name), "rv_col_value": u["value"], "rv_col_ci_low": u["ci_low"],
        "rv_col_ci_high": u["ci_high"], "rv_col_n": u["n"], "suppressed": u["suppressed"]})
    rv.publish(sec, "requests_by_unit", rv.msg("rv_tab_requests_unit", level=rv.msg(rv.level), year=rv.year), full,
               page=False, units={"rv_col_value": "indicator", "rv_col_ci_low": "indicator",
                                  "rv_col_ci_high": "indicator", "rv_col_n": "count"})
    sec.facts["unit_medians"] = shown
