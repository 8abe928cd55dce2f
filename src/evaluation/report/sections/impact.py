"""Impact: did adopting red property change how fast requests are resolved and how residents rate it?

Heterogeneity-robust staggered difference-in-differences (Callaway and Sant'Anna 2021,
:func:`evaluation.impact.red_property_impact`) with the comparison group the user chose
(``--control-group``), and, for resolution time, the robustness panel of
:func:`evaluation.impact.red_property_robustness` (Sun-Abraham, imputation, de Chaisemartin-
D'Haultfoeuille, the naive TWFE and its Goodman-Bacon weights, Roth's pre-trend power, honest DiD
and leaving out one street at a time), as notebook 06 shows it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from evaluation.errors import MissingInputError
from evaluation.report.context import NotAssessable, Review
from evaluation.report.model import Section
from evaluation.report.text import fmt_estimate, fmt_value, missing

#: the outcomes of the section: request outcome (compound x quarter panel) and survey item
OUTCOMES = ("mean_resolution_hours", "sat_overall")
#: robustness rows shown, in order (checks of the panel on the effect scale)
SHOWN = ("callaway_santanna", "sun_abraham", "imputation", "dcdh", "twfe", "honest_mbar_0.5", "honest_mbar_1")


def estimates(ds, control_group: str, draws: int) -> dict:
    """Everything the section shows, as plain tables (it can be computed in another process).

    For each outcome the data support: ``overall``, ``dynamic``, ``pretest``, ``params`` and the
    tidy ``table`` of :func:`evaluation.impact.red_property_impact`; for resolution time also the
    ``robustness`` table and headline of :func:`evaluation.impact.red_property_robustness`. A
    failure is kept as ``("error", type name, message)`` so that the section can say why.
    """
    from evaluation.impact import DidOptions, red_property_impact, red_property_robustness  # noqa: PLC0415 - loaded only when this section runs (--sections)

    opts = DidOptions(control_group=control_group, biters=draws)
    out: dict = {}
    for outcome in OUTCOMES:
        if outcome == "sat_overall" and ("survey" not in ds or outcome not in ds["survey"].columns):
            continue
        if outcome == "mean_resolution_hours" and "requests" not in ds:
            continue
        try:
            res = red_property_impact(ds, outcome, options=opts)
        except (MissingInputError, ValueError, KeyError) as exc:
            out[outcome] = ("error", type(exc).__name__, str(exc))
            continue
        out[outcome] = {"overall": res.overall, "dynamic": res.aggregates.get("dynamic"), "pretest": dict(res.pretest),
                        "params": dict(res.params), "table": res.table}
        if outcome == "mean_resolution_hours":
            try:
                rob = red_property_robustness(ds, outcome, result=res)
                out["robustness"] = {"table": rob.table, "headline": dict(rob.headline)}
            except (MissingInputError, ValueError, KeyError) as exc:
                out["robustness"] = ("error", type(exc).__name__, str(exc))
    return out


def start(rv: Review) -> None:
    """Begin the estimates in a worker process while the other sections are computed (fork only)."""
    if "compound_milestones" in rv.ds and rv.wanted("impact"):
        rv.prefetch("impact", estimates, rv.options.control_group, rv.options.draws)


def _unit(outcome: str) -> str:
    return "hours" if outcome == "mean_resolution_hours" else "score"


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the effect of red property on each outcome, its event study and robustness checks."""
    if "compound_milestones" not in rv.ds:
        raise NotAssessable("rv_no_table", table=rv.table_name("compound_milestones"))
    sec.question = rv.msg("rv_q_impact")
    found = rv.fetch("impact", estimates, rv.options.control_group, rv.options.draws)
    results = {k: v for k, v in found.items() if k in OUTCOMES and not isinstance(v, tuple)}
    errors = {k: v for k, v in found.items() if k in OUTCOMES and isinstance(v, tuple)}
    for outcome, (_, name, message) in errors.items():
        rv.failures.append(f"impact {outcome}: {name}: {message}")
    if not results:
        if any("never" in m.lower() for _, _, m in errors.values()) and rv.options.control_group == "nevertreated":
            raise NotAssessable("rv_impact_few_never")
        if errors:
            raise NotAssessable("rv_section_failed")
        raise NotAssessable("rv_no_table", table=rv.table_name("requests"))
    rows = []
    for outcome, res in results.items():
        s = res["overall"].set_index("aggregation").loc["simple"]
        distinct = s["ci_low"] > 0 or s["ci_high"] < 0
        u = _unit(outcome)
        est = fmt_estimate(None, s["att"], s["ci_low"], s["ci_high"], rv.lang, change=True, unit=u)
        sec.answer.append(rv.msg(f"rv_a_impact_{'clear' if distinct else 'unclear'}", outcome=rv.msg(f"rv_{outcome}"),
                                 estimate=est))
        p = res["pretest"].get("event_p")
        rows.append({"rv_col_outcome": rv.msg(f"rv_{outcome}"), "rv_col_estimate": est,
                     "rv_col_pretest": "–" if missing(p) else fmt_value(None, p, rv.lang, unit="p"),
                     "rv_col_compounds": f"{int(res['params']['n_units']):,}" if "n_units" in res["params"] else "–"})
        sec.facts.setdefault("effects", {})[outcome] = {"att": s["att"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                                                       "distinct": distinct}
    rv.publish(sec, "impact", rv.msg("rv_tab_impact", control=rv.msg(f"rv_control_{rv.options.control_group}")),
               pd.DataFrame(rows), sheet=False)
    full = pd.concat([r["table"] for r in results.values()], ignore_index=True)
    rv.publish(sec, "impact_all", rv.msg("rv_tab_impact_all"), pd.DataFrame({
        "rv_col_code": full["indicator"], "rv_col_value": full["value"], "rv_col_ci_low": full["ci_low"],
        "rv_col_ci_high": full["ci_high"], "rv_col_se": full.get("se"),
        "rv_col_band_low": full.get("band_low"), "rv_col_band_high": full.get("band_high")}), page=False,
        units={c: "effect" for c in ("rv_col_value", "rv_col_ci_low", "rv_col_ci_high", "rv_col_se", "rv_col_band_low",
                                     "rv_col_band_high")})
    if "mean_resolution_hours" in results:
        _event_study(rv, sec, results["mean_resolution_hours"]["dynamic"])
        _robustness(rv, sec, found.get("robustness"))
    sec.caveats.append(rv.msg("rv_c_impact"))


def _event_study(rv: Review, sec: Section, dyn) -> None:
    if dyn is None or dyn.empty:
        return
    d = dyn.sort_values("key")
    e = d["key"].astype(int).to_numpy()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.fill_between(e, d["band_low"], d["band_high"], alpha=0.2, color="#0072B2", label=rv.msg("rv_band_95"))
    ax.plot(e, d["att"], "o-", color="#0072B2", ms=4, label=rv.msg("rv_estimate"))
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="0.5", ls="--", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # quarters are whole numbers
    ax.set_xlabel(rv.msg("rv_event_time"))
    ax.set_ylabel(rv.msg("rv_mean_resolution_hours"))
    ax.set_title(rv.msg("rv_fig_event", outcome=rv.msg("rv_mean_resolution_hours")))
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    fig.tight_layout()
    rv.savefig(sec, fig, "event-study", rv.msg("rv_fig_event", outcome=rv.msg("rv_mean_resolution_hours")))
    rv.publish(sec, "event_study", rv.msg("rv_tab_event", outcome=rv.msg("rv_mean_resolution_hours")), pd.DataFrame({
        "rv_col_event_time": e, "rv_col_value": d["att"].to_numpy(), "rv_col_ci_low": d["ci_low"].to_numpy(),
        "rv_col_ci_high": d["ci_high"].to_numpy(), "rv_col_band_low": d["band_low"].to_numpy(),
        "rv_col_band_high": d["band_high"].to_numpy()}), page=False,
        units={c: "effect" for c in ("rv_col_value", "rv_col_ci_low", "rv_col_ci_high", "rv_col_band_low",
                                     "rv_col_band_high")})


def _label(rv: Review, check: str) -> str:
    if check.startswith("without_"):
        return rv.msg("rv_rob_without", street=rv.unit_name(check.removeprefix("without_")))
    if check.startswith("honest_mbar_"):
        return rv.msg("rv_rob_honest", mbar=check.removeprefix("honest_mbar_"))
    return rv.msg(f"rv_rob_{check}")


def _robustness(rv: Review, sec: Section, rob) -> None:
    if rob is None or isinstance(rob, tuple):  # a panel the checks cannot use: the headline stands alone
        if isinstance(rob, tuple):
            rv.failures.append(f"impact robustness: {rob[1]}: {rob[2]}")
        sec.caveats.append(rv.msg("rv_c_no_robustness"))
        return
    table = rob["table"]
    t = table.set_index("check")
    shown = [c for c in SHOWN if c in t.index]
    loo = t[t.index.str.startswith("without_")]
    rows = [{"rv_col_check": _label(rv, c), "rv_col_estimate": fmt_estimate(None, t.at[c, "value"], t.at[c, "ci_low"],
                                                                            t.at[c, "ci_high"], rv.lang, change=True,
                                                                            unit="hours")} for c in shown]
    if len(loo):
        rows.append({"rv_col_check": rv.msg("rv_rob_leave_one_out"),
                     "rv_col_estimate": rv.msg("rv_range", low=fmt_value(None, loo["value"].min(), rv.lang, True, "hours"),
                                               high=fmt_value(None, loo["value"].max(), rv.lang, True, "hours"))})
    rv.publish(sec, "robustness", rv.msg("rv_tab_robustness"), pd.DataFrame(rows), sheet=False)
    rv.publish(sec, "robustness_all", rv.msg("rv_tab_robustness"), pd.DataFrame({
        "rv_col_code": table["check"], "rv_col_check": [_label(rv, c) for c in table["check"]],
        "rv_col_value": table["value"], "rv_col_ci_low": table["ci_low"], "rv_col_ci_high": table["ci_high"]}),
        page=False, units={c: "effect" for c in ("rv_col_value", "rv_col_ci_low", "rv_col_ci_high")})
    agree = [c for c in ("sun_abraham", "imputation", "dcdh") if c in t.index]
    if agree:
        lo, hi = t.loc[agree, "value"].min(), t.loc[agree, "value"].max()
        sec.answer.append(rv.msg("rv_a_robust", n=len(agree), low=fmt_value(None, lo, rv.lang, True, "hours"),
                                 high=fmt_value(None, hi, rv.lang, True, "hours")))
    parts = []
    if "bacon_forbidden" in t.index:
        parts.append(rv.msg("rv_c_bacon", share=fmt_value(None, t.at["bacon_forbidden", "value"], rv.lang, unit="share")))
    if "pretrend_slope_80" in t.index:
        parts.append(rv.msg("rv_c_pretrend", slope=fmt_value(None, t.at["pretrend_slope_80", "value"], rv.lang,
                                                             unit="hours")))
    if "honest_breakdown" in t.index and not missing(t.at["honest_breakdown", "value"]):
        parts.append(rv.msg("rv_c_honest", mbar=f"{t.at['honest_breakdown', 'value']:g}"))
    sec.caveats.extend(parts)
    sec.facts["robustness"] = {"agree": agree, "table": t}
    eff = t.loc[[c for c in shown if t.at[c, "scale"] == "effect"]]
    fig, ax = plt.subplots(figsize=(6.4, 0.42 * len(eff) + 1.6))
    y = np.arange(len(eff))
    h = rob["headline"]
    ax.axvspan(h["ci_low"], h["ci_high"], color="#0072B2", alpha=0.12)
    v, lo, hi = eff["value"].to_numpy(float), eff["ci_low"].to_numpy(float), eff["ci_high"].to_numpy(float)
    ax.errorbar(v, y, xerr=[np.where(np.isnan(lo), 0, v - lo), np.where(np.isnan(hi), 0, hi - v)], fmt="o",
                color="black", capsize=3, ms=4)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [_label(rv, c) for c in eff.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(rv.msg("rv_axis_effect_hours"))
    ax.set_title(rv.msg("rv_fig_robustness"))
    fig.tight_layout()
    rv.savefig(sec, fig, "robustness", rv.msg("rv_fig_robustness"))
