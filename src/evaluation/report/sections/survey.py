"""Survey: how do residents rate governance, and did that change?

District and street figures are design-based (:func:`evaluation.survey.survey_indicators`), with
the weights notebook 04 uses (calibrated to the registry when the dataset has population margins,
:func:`evaluation.survey.uses_calibration`); the change since the previous wave is the difference of
two independent waves with its design-based interval. Community figures are Fay-Herriot
small-area estimates (:func:`evaluation.survey.outcomes.community_small_area`, as in notebook 04),
because the direct ones rest on one or two sampled compounds; intervals are bounded to the 1-5
scale. A community with fewer than ``k`` respondents is shown by its regression-synthetic estimate
only, which does not use its answers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.errors import DataError, MissingInputError
from evaluation.report.context import NotAssessable, Review
from evaluation.report.model import Section
from evaluation.report.sections.targets import survey_differences
from evaluation.report.text import fmt_estimate, missing

#: the bounds of the 1-5 answer scale
SCALE = (1.0, 5.0)
ENDS = 5


def _scale_value(v) -> str:
    return "–" if missing(v) else f"{float(v):.2f}"


def _bounded(v, lo, hi, lang) -> str:
    if missing(v):
        return "–"
    lo = max(SCALE[0], float(lo)) if not missing(lo) else None
    hi = min(SCALE[1], float(hi)) if not missing(hi) else None
    return fmt_estimate(None, v, lo, hi, lang, unit="score")


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the residents' views: district and street estimates, the change, community small areas."""
    if "survey" not in rv.ds:
        raise NotAssessable("rv_no_table", table=rv.table_name("survey"))
    waves = set(pd.to_numeric(rv.ds["survey"]["wave"], errors="coerce").dropna().astype(int))
    if rv.year not in waves:
        raise NotAssessable("rv_no_wave", year=rv.year)
    if "sat_overall" not in rv.ds["survey"].columns:
        raise NotAssessable("rv_reason_column_not_recorded", what=rv.need_name("survey.sat_overall"))
    sec.question = rv.msg("rv_q_survey", year=rv.year)
    cur = rv.survey(rv.year, "district").table
    prev = rv.survey(rv.year - 1, "district").table if rv.year - 1 in waves else None
    diffs = survey_differences(rv)
    weights = rv.msg("rv_weights_calibrated" if rv.calibrated else "rv_weights_design")
    rows, answers = [], []
    for r in cur.to_dict("records"):
        iid = r["indicator"]
        p = None if prev is None else prev[prev["indicator"].eq(iid)]
        p = None if p is None or p.empty else p.iloc[0].to_dict()
        d = diffs.get(iid)
        call = "not_compared"
        if d is not None and not missing(d.get("ci_low")):
            call = "no_clear_change" if d["ci_low"] <= 0 <= d["ci_high"] else ("better" if d["value"] > 0 else "worse")
        rows.append({"rv_col_indicator": rv.label(iid),
                     "rv_col_previous_year": "–" if p is None else _bounded(p["value"], p["ci_low"], p["ci_high"], rv.lang),
                     "rv_col_this_year": _bounded(r["value"], r["ci_low"], r["ci_high"], rv.lang),
                     "rv_col_change": "" if d is None else rv.msg(
                         "rv_change_with_call", change=fmt_estimate(None, d["value"], d["ci_low"], d["ci_high"], rv.lang,
                                                                    change=True, unit="score"),
                         call=rv.call_word(iid, call)),
                     "rv_col_respondents": f"{int(r['n']):,}" if not missing(r.get("n")) else "–"})
        answers.append((iid, r, d, call))
    main = next((a for a in answers if a[0] == "out.resident_satisfaction"), answers[0])
    iid, r, d, call = main
    sec.answer.append(rv.msg("rv_a_survey", name=rv.label(iid), value=_bounded(r["value"], r["ci_low"], r["ci_high"],
                                                                               rv.lang),
                             n=f"{int(r['n']):,}" if not missing(r.get("n")) else "–", weights=weights))
    if d is not None:
        sec.answer.append(rv.msg(f"rv_a_survey_change_{call}", prev=rv.year - 1,
                                 change=fmt_estimate(None, d["value"], d["ci_low"], d["ci_high"], rv.lang, change=True,
                                                     unit="score")))
    moved = [rv.label(a[0]) for a in answers if a[3] in ("better", "worse") and a is not main]
    if moved:
        sec.answer.append(rv.msg("rv_a_survey_others", items="、".join(moved) if rv.lang == "zh" else ", ".join(moved)))
    sec.facts.update(main=main, answers=answers, weights=weights)
    rv.publish(sec, "survey", rv.msg("rv_tab_survey", prev=rv.year - 1, year=rv.year), pd.DataFrame(rows), sheet=False)
    full = cur.assign(name=cur["indicator"].map(rv.label))
    rv.publish(sec, "survey_all", rv.msg("rv_tab_survey", prev=rv.year - 1, year=rv.year), pd.DataFrame({
        "rv_col_code": full["indicator"], "rv_col_indicator": full["name"], "rv_col_value": full["value"],
        "rv_col_ci_low": full["ci_low"], "rv_col_ci_high": full["ci_high"], "rv_col_n": full["n"]}), page=False,
        units={"rv_col_value": "score", "rv_col_ci_low": "score", "rv_col_ci_high": "score", "rv_col_n": "count"})
    _streets(rv, sec)
    _communities(rv, sec)
    sec.caveats.append(rv.msg("rv_c_survey", weights=weights))


def _streets(rv: Review, sec: Section) -> None:
    st = rv.survey(rv.year, "street").table
    st = st[st["level"].eq("street")]
    if st.empty:
        return
    st = rv.protect(st)
    full = pd.DataFrame({"rv_col_code": st["indicator"], "rv_col_indicator": st["indicator"].map(rv.label),
                         "rv_col_unit_code": st["unit_id"], "rv_col_unit": st["unit_id"].map(rv.unit_name),
                         "rv_col_value": st["value"], "rv_col_ci_low": st["ci_low"], "rv_col_ci_high": st["ci_high"],
                         "rv_col_n": st["n"], "suppressed": st["suppressed"]})
    rv.publish(sec, "survey_by_street", rv.msg("rv_tab_survey_unit", level=rv.msg("street"), year=rv.year), full,
               page=False, units={"rv_col_value": "score", "rv_col_ci_low": "score", "rv_col_ci_high": "score",
                                  "rv_col_n": "count"})
    shown = st[st["suppressed"].eq("")]
    inds = list(pd.unique(shown["indicator"]))
    units = list(pd.unique(shown["unit_id"]))
    if not inds:
        return
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(units) + 1.9))
    h = 0.8 / len(inds)
    for j, iid in enumerate(inds):
        s = shown[shown["indicator"].eq(iid)].set_index("unit_id").reindex(units)
        v = s["value"].astype(float)
        lo, hi = s["ci_low"].astype(float).clip(lower=SCALE[0]), s["ci_high"].astype(float).clip(upper=SCALE[1])
        y = np.arange(len(units)) + (j - (len(inds) - 1) / 2) * h
        ax.errorbar(v, y, xerr=[v - lo, hi - v], fmt="o", ms=4, capsize=2, label=rv.label(iid))
    ax.set_yticks(np.arange(len(units)), [rv.unit_name(u) for u in units])
    ax.invert_yaxis()
    ax.set_xlim(*SCALE)
    ax.set_xlabel(rv.msg("rv_axis_score"))
    ax.set_title(rv.msg("rv_fig_survey", year=rv.year))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, fontsize=8, frameon=False)
    fig.tight_layout()
    rv.savefig(sec, fig, "survey-by-street", rv.msg("rv_fig_survey", year=rv.year))


def _communities(rv: Review, sec: Section) -> None:
    """Fay-Herriot estimates by community: the highest and lowest on the page, all in the workbook."""
    from evaluation.survey.outcomes import community_small_area  # noqa: PLC0415 - loaded only when this section runs (--sections)

    try:
        fh = rv.cached(("fh", rv.year), lambda: community_small_area(rv.ds, rv.year, calibrate=rv.calibrated)).table
    except (DataError, MissingInputError, ValueError, np.linalg.LinAlgError) as exc:
        # too few communities with respondents to fit the model: no community figures on the page
        rv.failures.append(f"survey small-area estimates: {type(exc).__name__}: {exc}")
        sec.caveats.append(rv.msg("rv_c_no_small_area"))
        return
    n = pd.to_numeric(fh["n"], errors="coerce").fillna(0)
    few = (n > 0) & (n < rv.k)
    basis = np.where(n.eq(0), "rv_basis_model_no_answers",
                     np.where(few, "rv_basis_model_few", "rv_basis_direct_model"))
    value = np.where(few, fh["synthetic"], fh["value"])
    lo = np.where(few, np.nan, fh["ci_low"].clip(lower=SCALE[0]))
    hi = np.where(few, np.nan, fh["ci_high"].clip(upper=SCALE[1]))
    tb = pd.DataFrame({"unit_id": fh["unit_id"].astype(str), "value": value, "ci_low": lo, "ci_high": hi, "n": n,
                       "gamma": np.where(few, 0.0, fh["gamma"]), "basis": basis})
    # a community whose answers are too few to publish keeps only its model-based figure; the
    # direct mean and the weight on it are never shown for it
    rv.publish(sec, "survey_small_area", rv.msg("rv_tab_small_area", year=rv.year), pd.DataFrame({
        "rv_col_unit_code": tb["unit_id"], "rv_col_unit": tb["unit_id"].map(rv.unit_name),
        "rv_col_value": tb["value"], "rv_col_ci_low": tb["ci_low"], "rv_col_ci_high": tb["ci_high"],
        "rv_col_respondents": np.where(few, np.nan, tb["n"]), "rv_col_weight_direct": tb["gamma"],
        "rv_col_basis": [rv.msg(b, k=rv.k) for b in tb["basis"]]}), page=False,
        units={"rv_col_value": "score", "rv_col_ci_low": "score", "rv_col_ci_high": "score",
               "rv_col_respondents": "count", "rv_col_weight_direct": "share"})
    ranked = tb.sort_values("value", ascending=False)
    ends = pd.concat([ranked.head(ENDS), ranked.tail(ENDS)]) if len(ranked) > 2 * ENDS else ranked
    ends = ends[~ends.index.duplicated()]
    page = pd.DataFrame({
        "rv_col_unit": ends["unit_id"].map(rv.unit_name),
        "rv_col_estimate": [_bounded(r["value"], r["ci_low"], r["ci_high"], rv.lang) for _, r in ends.iterrows()],
        "rv_col_basis": [rv.msg(b, k=rv.k) for b in ends["basis"]],
    })
    note = rv.msg("rv_n_ends_high_low", ends=ENDS, level=rv.msg("community"), n=len(ranked)) if len(ranked) > 2 * ENDS else ""
    rv.publish(sec, "survey_communities", rv.msg("rv_tab_small_area_ends", year=rv.year), page, sheet=False, note=note)
    sec.facts["small_area"] = tb
