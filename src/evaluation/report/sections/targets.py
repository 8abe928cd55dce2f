"""Targets: which did the district meet this year, and which moved since last year?

Every catalogue indicator the district level has is *met*, *not met*, *without a target* or *not
assessed*; not assessed says why (a table missing or empty, a field not recorded, too few cases),
so nothing that was not recorded is ever scored. Changes since the previous year are called
better or worse only outside their noise (:mod:`evaluation.report.changes`). Figures that are
biased by construction (``comparison_only`` in the catalogue, such as the median over closed
requests only) are left out: they appear only as a caveat in their section.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.report.changes import call_change
from evaluation.report.context import NotAssessable, Review
from evaluation.report.model import Section
from evaluation.report.text import fmt_estimate, fmt_value, missing
from evaluation.scorecard import resolve_targets, status_of
from evaluation.style import PALETTE

#: colours of the states (Okabe-Ito: met green, not met vermilion, no target blue, not assessed grey)
STATE_COLOURS = {"met": PALETTE[2], "not_met": PALETTE[3], "no_target": PALETTE[0], "not_assessed": "#BBBBBB"}


def district_states(rv: Review) -> pd.DataFrame:
    """One row per district-level catalogue indicator: value, interval, target, state, reason, change call.

    Columns: ``indicator``, ``pillar``, ``name``, ``value``, ``ci_low``, ``ci_high``, ``n``,
    ``target``, ``comparator``, ``target_source``, ``state`` (met / not_met / no_target /
    not_assessed), ``reason`` (why not assessed), ``previous_value``, ``change``, ``call``
    (better / worse / no_clear_change / not_compared), ``rule`` (the rule of the call).
    """
    return rv.cached("district-states", lambda: _district_states(rv))


def _district_states(rv: Review) -> pd.DataFrame:
    year = rv.year
    cur = rv.indicators(year, "district")
    cur = cur[cur["level"].eq("district")]
    try:
        prev = rv.indicators(year - 1, "district")
        prev = prev[prev["level"].eq("district")]
    except (LookupError, ValueError):
        prev = cur.iloc[0:0]
    assess = rv.assessable().set_index("indicator")
    survey_diff = survey_differences(rv)
    ids = [i for i in catalog.ids() if "district" in catalog.get(i).levels
           and not catalog.get(i).extra.get("comparison_only") and catalog.get(i).pillar != "impact"]
    # breakdown ids (dem.meeting_cadence_compliance.weekly, ...) are reported under their parent
    cur_by = {r["indicator"]: r for r in cur.to_dict("records")}
    prev_by = {r["indicator"]: r for r in prev.to_dict("records")}
    targets = rv.ds["targets"] if "targets" in rv.ds else None
    tg = resolve_targets(ids, year, targets).set_index("indicator")
    rows = []
    for iid in ids:
        e = catalog.get(iid)
        row = {"indicator": iid, "pillar": e.pillar, "name": rv.label(iid), "unit": e.unit, "value": np.nan,
               "ci_low": np.nan, "ci_high": np.nan, "n": np.nan, "target": tg.at[iid, "target"],
               "comparator": tg.at[iid, "comparator"], "target_source": tg.at[iid, "target_source"],
               "state": "not_assessed", "reason": "", "previous_value": np.nan, "change": np.nan,
               "call": "not_compared", "rule": ""}
        a = assess.loc[iid] if iid in assess.index else None
        r = cur_by.get(iid)
        if a is not None and not bool(a["assessable"]):
            row["reason"] = rv.reason(a["reason"], a["detail"])
        elif r is None or missing(r.get("value")):
            row["reason"] = rv.msg("rv_reason_no_cases")
        else:
            row.update(value=r["value"], ci_low=r.get("ci_low"), ci_high=r.get("ci_high"), n=r.get("n"))
            st = status_of(pd.Series([r["value"]], dtype=float), pd.Series([row["target"]], dtype=float),
                           pd.Series([row["comparator"]], dtype=object)).iloc[0]
            row["state"] = "no_target" if st in ("no_target", "missing") else st
            p = prev_by.get(iid)
            call = call_change(iid, r, p, survey_diff.get(iid))
            row.update(previous_value=np.nan if p is None else p.get("value"), change=call.change, call=call.state,
                       rule=call.rule)
        rows.append(row)
    return pd.DataFrame(rows)


def survey_differences(rv: Review) -> dict[str, dict]:
    """Wave-to-wave differences of the district survey outcomes (design-based), by indicator."""
    def compute():
        from evaluation.survey import wave_difference  # noqa: PLC0415 - loaded only when this section runs (--sections)

        if "survey" not in rv.ds:
            return {}
        waves = set(pd.to_numeric(rv.ds["survey"]["wave"], errors="coerce").dropna().astype(int))
        if not {rv.year, rv.year - 1} <= waves:
            return {}
        cur, prev = rv.survey(rv.year, "district"), rv.survey(rv.year - 1, "district")
        out = {}
        for iid in pd.unique(cur.table["indicator"]):
            a = type(cur)(table=cur.table[cur.table["indicator"].eq(iid)].reset_index(drop=True))
            b = type(prev)(table=prev.table[prev.table["indicator"].eq(iid)].reset_index(drop=True))
            d = wave_difference(a, b, indicator=iid).table
            if len(d):
                out[str(iid)] = d.iloc[0].to_dict()
        return out

    return rv.cached("survey-differences", compute)


def target_text(rv: Review, row) -> str:
    """``≥ 80.0%`` / ``不低于80.0%``; empty without a target."""
    if missing(row["target"]) or not row["comparator"]:
        return ""
    return rv.msg(f"rv_cmp_{_cmp_key(row['comparator'])}", value=fmt_value(row["indicator"], row["target"], rv.lang))


def _cmp_key(comparator: str) -> str:
    return {">=": "ge", "<=": "le", ">": "gt", "<": "lt", "==": "eq"}[comparator]


def change_text(rv: Review, row) -> str:
    """``+2.1 pp, better`` / ``no clear change`` / empty when not compared."""
    if row["call"] == "not_compared":
        return ""
    delta = fmt_value(row["indicator"], row["change"], rv.lang, change=True)
    return rv.msg("rv_change_with_call", change=delta, call=rv.call_word(row["indicator"], row["call"]))


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the state of every district indicator against its target, and the full tables."""
    if "units" not in rv.ds:
        raise NotAssessable("rv_no_table", table=rv.table_name("units"))
    st = district_states(rv)
    sec.question = rv.msg("rv_q_targets", year=rv.year)
    judged = st[st["state"].isin(["met", "not_met"])]
    met, not_met = int(judged["state"].eq("met").sum()), int(judged["state"].eq("not_met").sum())
    n_na = int(st["state"].eq("not_assessed").sum())
    sec.answer.append(rv.msg("rv_a_targets", n=len(judged), met=met, not_met=not_met, no_target=int(
        st["state"].eq("no_target").sum()), not_assessed=n_na))
    worst = _shortfalls(judged[judged["state"].eq("not_met")])
    if len(worst):
        sec.answer.append(rv.msg("rv_a_targets_missed", items=", ".join(
            f"{r['name']} ({fmt_value(r['indicator'], r['value'], rv.lang)}; {target_text(rv, r)})"
            for _, r in worst.head(3).iterrows()) if rv.lang == "en" else "；".join(
            f"{r['name']}（{fmt_value(r['indicator'], r['value'], rv.lang)}，{target_text(rv, r)}）"
            for _, r in worst.head(3).iterrows())))
    sec.facts.update(states=st, met=met, not_met=not_met, judged=len(judged), not_assessed=n_na, worst=worst)
    _figure(rv, sec, st)
    page = judged.assign(pillar_name=judged["pillar"].map(lambda p: rv.msg(p)))
    frame = pd.DataFrame({
        "rv_col_pillar": page["pillar_name"], "rv_col_indicator": page["name"],
        "rv_col_value": [fmt_estimate(r["indicator"], r["value"], r["ci_low"], r["ci_high"], rv.lang)
                         for _, r in page.iterrows()],
        "rv_col_target": [target_text(rv, r) for _, r in page.iterrows()],
        "rv_col_state": page["state"].map(lambda s: rv.msg(f"rv_state_{s}")),
        "rv_col_change": [change_text(rv, r) for _, r in page.iterrows()],
    })
    rv.publish(sec, "targets", rv.msg("rv_tab_targets", year=rv.year), frame, sheet=False)
    rv.publish(sec, "targets_all", rv.msg("rv_tab_targets_all", year=rv.year), _full(rv, st), page=False,
               units={"rv_col_value": "indicator", "rv_col_ci_low": "indicator", "rv_col_ci_high": "indicator",
                      "rv_col_target": "indicator", "rv_col_previous": "indicator", "rv_col_change_value": "change"})
    _by_unit(rv, sec)
    sec.caveats.append(rv.msg("rv_c_targets", share=1, rel=2))


def _shortfalls(frame: pd.DataFrame) -> pd.DataFrame:
    """Indicators that missed their target, the furthest from it (relative to the target) first."""
    if frame.empty:
        return frame
    gap = (frame["value"].astype(float) - frame["target"].astype(float)).abs() / frame["target"].abs().clip(lower=1e-9)
    return frame.assign(_gap=gap).sort_values("_gap", ascending=False).drop(columns="_gap")


def _full(rv: Review, st: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "rv_col_code": st["indicator"], "rv_col_pillar": st["pillar"].map(lambda p: rv.msg(p)),
        "rv_col_indicator": st["name"], "rv_col_value": st["value"], "rv_col_ci_low": st["ci_low"],
        "rv_col_ci_high": st["ci_high"], "rv_col_target": st["target"],
        "rv_col_comparator": st["comparator"].map(lambda c: rv.msg(f"rv_cmpword_{_cmp_key(c)}") if isinstance(c, str)
                                                  else ""),
        "rv_col_state": st["state"].map(lambda s: rv.msg(f"rv_state_{s}")), "rv_col_reason": st["reason"],
        "rv_col_previous": st["previous_value"], "rv_col_change_value": st["change"],
        "rv_col_call": [rv.call_word(i, c) for i, c in zip(st["indicator"], st["call"])],
        "rv_col_target_source": st["target_source"].fillna(""),
    })


def _by_unit(rv: Review, sec: Section) -> None:
    """Every indicator by street or community, protected against disclosure (workbook only)."""
    by = rv.indicators(rv.year, rv.level)
    by = by[by["level"].eq(rv.level)].copy()
    if by.empty:
        return
    people = by["indicator"].map(lambda i: _pillar(i) in ("service", "outcome"))
    # registry rows count units (compounds, periods), not people: their n is not a case count
    registry = by[~people].assign(suppressed="", n=float("nan"))
    protected = pd.concat([rv.protect(by[people]), registry], ignore_index=True)
    frame = pd.DataFrame({
        "rv_col_code": protected["indicator"], "rv_col_indicator": protected["indicator"].map(rv.label),
        "rv_col_unit_code": protected["unit_id"], "rv_col_unit": protected["unit_id"].map(rv.unit_name),
        "rv_col_value": protected["value"], "rv_col_ci_low": protected["ci_low"], "rv_col_ci_high": protected["ci_high"],
        "rv_col_n": protected["n"], "suppressed": protected["suppressed"],
    })
    rv.publish(sec, "by_unit", rv.msg("rv_tab_by_unit", level=rv.msg(rv.level), year=rv.year), frame, page=False,
               units={"rv_col_value": "indicator", "rv_col_ci_low": "indicator", "rv_col_ci_high": "indicator",
                      "rv_col_n": "count"})


def _pillar(iid: str) -> str:
    try:
        return catalog.get(iid).pillar
    except KeyError:
        return "other"


def _figure(rv: Review, sec: Section, st: pd.DataFrame) -> None:
    """Targets met, not met and not assessed by pillar (stacked bars)."""
    order = [p for p in catalog.PILLARS if p in set(st["pillar"])]
    states = ["met", "not_met", "no_target", "not_assessed"]
    counts = st.groupby(["pillar", "state"]).size().unstack(fill_value=0).reindex(index=order, columns=states,
                                                                                   fill_value=0)
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(order) + 1.6))
    left = np.zeros(len(order))
    labels = [rv.msg(p) for p in order]
    for s in states:
        ax.barh(labels, counts[s], left=left, color=STATE_COLOURS[s], label=rv.msg(f"rv_state_{s}"))
        left += counts[s].to_numpy()
    ax.invert_yaxis()
    ax.set_xlabel(rv.msg("rv_axis_indicators"))
    ax.set_title(rv.msg("rv_fig_targets", year=rv.year))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, fontsize=8, frameon=False)
    fig.tight_layout()
    rv.savefig(sec, fig, "targets", rv.msg("rv_fig_targets", year=rv.year))
