"""Organisation: how far have party organisation and red property reached?

Registry indicators (:func:`evaluation.registry.registry_indicators`): complete counts of the
registers, stocks as of 31 December (or the cut-off), over the review year and the two before,
with the red-property roll-out by street as the section's chart.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from evaluation import catalog
from evaluation.report.changes import call_change
from evaluation.report.context import NotAssessable, Review
from evaluation.report.model import Section
from evaluation.report.text import fmt_value, missing
from evaluation.style import PALETTE

RED = "par.red_property_coverage"


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the registry indicators of three years and the red-property roll-out by street."""
    if "compound_milestones" not in rv.ds or "compounds" not in rv.ds:
        missing_table = "compound_milestones" if "compound_milestones" not in rv.ds else "compounds"
        raise NotAssessable("rv_no_table", table=rv.table_name(missing_table))
    years = [rv.year - 2, rv.year - 1, rv.year]
    frames = {y: rv.registry(y, "district") for y in years}
    sec.question = rv.msg("rv_q_organisation", year=rv.year)
    rows = []
    ids = [i for i in catalog.ids() if i.startswith(("org.", "par."))]
    for iid in ids:
        vals = {}
        for y in years:
            f = frames[y]
            r = f[f["indicator"].eq(iid) & f["level"].eq("district")]
            vals[y] = r.iloc[0].to_dict() if len(r) else None
        if vals[rv.year] is None:
            continue
        call = call_change(iid, vals[rv.year], vals[rv.year - 1])
        rows.append({"indicator": iid, **{str(y): (None if vals[y] is None else vals[y]["value"]) for y in years},
                     "call": call})
    if not rows:
        raise NotAssessable("rv_reason_no_cases")
    red = next((r for r in rows if r["indicator"] == RED), None)
    if red is not None:
        tgt = catalog.get(RED).target
        sec.answer.append(rv.msg(
            "rv_a_red", year=rv.year, value=fmt_value(RED, red[str(rv.year)], rv.lang),
            prev=fmt_value(RED, red[str(rv.year - 1)], rv.lang), first=fmt_value(RED, red[str(rv.year - 2)], rv.lang),
            first_year=rv.year - 2, target=fmt_value(RED, tgt.value, rv.lang) if tgt else "–"))
    moved = [r for r in rows if r["call"].state in ("better", "worse") and r["indicator"] != RED]
    if moved:
        sep = "；" if rv.lang == "zh" else "; "
        sec.answer.append(rv.msg("rv_a_org_moved", prev=rv.year - 1, items=sep.join(
            f"{rv.label(r['indicator'])} {fmt_value(r['indicator'], r[str(rv.year - 1)], rv.lang)} → "
            f"{fmt_value(r['indicator'], r[str(rv.year)], rv.lang)}" for r in moved[:4])))
    sec.facts.update(rows=rows, red=red)
    page = pd.DataFrame({
        "rv_col_indicator": [rv.label(r["indicator"]) for r in rows],
        **{str(y): [fmt_value(r["indicator"], r[str(y)], rv.lang) for r in rows] for y in years},
        "rv_col_change": ["" if r["call"].state == "not_compared" else rv.msg(
            "rv_change_with_call", change=fmt_value(r["indicator"], r["call"].change, rv.lang, change=True),
            call=rv.call_word(r["indicator"], r["call"].state)) for r in rows],
    })
    rv.publish(sec, "organisation", rv.msg("rv_tab_org", first=years[0], year=rv.year), page, sheet=False)
    full = pd.DataFrame({"rv_col_code": [r["indicator"] for r in rows],
                         "rv_col_indicator": [rv.label(r["indicator"]) for r in rows],
                         **{str(y): [r[str(y)] for r in rows] for y in years}})
    rv.publish(sec, "organisation_all", rv.msg("rv_tab_org", first=years[0], year=rv.year), full, page=False,
               units={str(y): "row" for y in years})
    _roll_out(rv, sec, years)
    sec.caveats.append(rv.msg("rv_c_organisation"))


def _roll_out(rv: Review, sec: Section, years) -> None:
    """Red-property coverage of compounds by street over the years, with the target (a first-screen chart)."""
    parts = []
    for y in years:
        r = rv.registry(y, "street")
        parts.append(r[r["indicator"].eq(RED) & r["level"].eq("street")].assign(year=y))
    st = pd.concat(parts, ignore_index=True)
    if st.empty:
        return
    wide = st.pivot_table(index="unit_id", columns="year", values="value", aggfunc="first").reindex(columns=years)
    full = wide.reset_index()
    full.columns = ["rv_col_unit_code"] + [str(y) for y in years]
    full.insert(1, "rv_col_unit", full["rv_col_unit_code"].map(rv.unit_name))
    rv.publish(sec, "red_property_by_street", rv.msg("rv_tab_red_street"), full, page=False,
               units={str(y): "share" for y in years})
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for (uid, r), colour in zip(wide.iterrows(), PALETTE * 3):
        ax.plot([str(y) for y in years], [100 * v if not missing(v) else float("nan") for v in r], marker="o",
                color=colour, label=rv.unit_name(uid))
    tgt = catalog.get(RED).target
    if tgt is not None:
        ax.axhline(100 * tgt.value, color="black", ls=":", lw=1, label=rv.msg("rv_target_line"))
    ax.set_ylim(0, 105)
    ax.set_ylabel(rv.msg("rv_axis_share_compounds"))
    ax.set_title(rv.msg("rv_fig_red"))
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    rv.savefig(sec, fig, "red-property", rv.msg("rv_fig_red"))
