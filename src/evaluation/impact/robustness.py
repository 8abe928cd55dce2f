"""How sure are we? The robustness panel of a staggered DiD estimate: what a referee asks next.

:func:`robustness_panel` takes an :class:`~evaluation.impact.ImpactResult` (a compound x period
panel) and answers, in one table and one figure:

===========================  =====================================================================
pre-trend power (Roth 2022)  the linear trend the event-study pre-test detects with 50 % and 80 %
                             power, and how large that trend is at the honest-DiD event time
                             (:mod:`evaluation.impact.pretrends`)
other estimators             Sun-Abraham and Borusyak-Jaravel-Spiess imputation, same estimand as
                             the simple aggregate (:mod:`evaluation.impact.alternatives`)
Goodman-Bacon                the TWFE estimate as a weighted sum of 2x2 comparisons, and the weight
                             on already-treated controls (:mod:`evaluation.impact.bacon`)
switching treatment          de Chaisemartin-D'Haultfoeuille (``moderndid.did_multiplegt``) with the
                             policy switched off where its arrangement ended (:func:`switching_did`)
honest DiD                   Rambachan-Roth relative-magnitudes intervals for one event time, and the
                             breakdown ``Mbar`` (:mod:`evaluation.impact.honest`)
leave one street out         the simple aggregate without each street's compounds in turn
===========================  =====================================================================

:func:`red_property_robustness` does it for a dataset's outcome (the review's impact section).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluation.errors import MissingInputError
from evaluation.impact import panels
from evaluation.impact.alternatives import imputation, sun_abraham
from evaluation.impact.bacon import bacon_decomposition
from evaluation.impact.did import staggered_did
from evaluation.impact.honest import DEFAULT_MBAR, honest_sensitivity, universal_event_study
from evaluation.impact.pretrends import pretrend_power
from evaluation.impact.red_property import red_property_impact
from evaluation.impact.result import ImpactResult
from evaluation.results import IndicatorResult, indicator_frame, new_axes

TABLE_EXTRA = ("check", "label", "estimand", "scale", "se")
#: short names of the checks for the figure and the notebook
LABELS = {"callaway_santanna": "Callaway-Sant'Anna (headline)", "sun_abraham": "Sun-Abraham",
          "imputation": "imputation (Borusyak et al.)", "twfe": "naive TWFE", "bacon_forbidden": "Bacon: weight of bad 2x2",
          "bacon_forbidden_estimate": "Bacon: later vs earlier 2x2", "bacon_clean": "Bacon: clean 2x2",
          "dcdh": "de Chaisemartin-D'Haultfoeuille", "pretrend_slope_50": "Roth: trend seen 50 %",
          "pretrend_slope_80": "Roth: trend seen 80 %", "pretrend_bias": "Roth: that trend by e"}


@dataclass
class RobustnessPanel(IndicatorResult):
    """The robustness checks of one impact estimate.

    ``.table`` is the compact tidy table: one row per check (``check``), ``estimand`` in words,
    ``scale`` (``effect``: outcome units, comparable with the headline; ``share``, ``slope``
    (outcome units per period), ``Mbar``), ``value`` and the 95 % interval where there is one.
    ``parts`` keeps every component result (``sun_abraham``, ``imputation``, ``bacon``,
    ``pretrends``, ``honest``, ``switching``, ``leave_one_out``).
    """

    headline: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """Method and one line per check."""
        t = self.table
        lines = [f"Method: {self.method}"]
        for r in t.itertuples():
            ci = f" (95 % {r.ci_low:.3g} to {r.ci_high:.3g})" if np.isfinite(r.ci_low) else ""
            lines.append(f"{r.label}: {r.value:.4g}{ci} [{r.scale}] {r.estimand}")
        return lines

    def compact(self) -> pd.DataFrame:
        """The table a reader needs: ``label``, ``estimand``, ``scale``, ``value``, ``ci_low``, ``ci_high``."""
        return self.table[["label", "estimand", "scale", "value", "ci_low", "ci_high"]].set_index("label")

    def plot(self, *, ax=None, reference: float | None = None, reference_label: str = "planted effect"):
        """Every effect-scale check as a point with its 95 % interval, the headline as a band; returns the Axes."""
        t = self.table[self.table["scale"].eq("effect")].reset_index(drop=True)
        ax = new_axes(ax, (7.5, 0.32 * len(t) + 1.6))
        y = np.arange(len(t))
        h = self.headline
        ax.axvspan(h["ci_low"], h["ci_high"], color="tab:blue", alpha=0.12, label="headline 95 % interval")
        ax.axvline(h["att"], color="tab:blue", lw=1)
        has_ci = t["ci_low"].notna().to_numpy()
        lo = np.where(has_ci, t["value"] - t["ci_low"], 0.0)
        hi = np.where(has_ci, t["ci_high"] - t["value"], 0.0)
        ax.errorbar(t["value"], y, xerr=[lo, hi], fmt="o", color="black", capsize=3, ms=4)
        ax.axvline(0, color="black", lw=0.8)
        if reference is not None:
            ax.axvline(reference, color="tab:green", ls="-.", lw=1, label=reference_label)
        ax.set_yticks(y, t["label"].tolist(), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("effect (outcome units)")
        ax.set_title(self.title)
        ax.legend(fontsize=8, loc="lower right")
        return ax


def switching_did(data: pd.DataFrame, outcome: str, *, unit: str, time: str, treatment: str,
                  effects: int = 5, placebo: int = 3) -> dict:
    """The event-study DiD of de Chaisemartin and D'Haultfoeuille, for a treatment that can switch off.

    :func:`moderndid.did_multiplegt` (R ``DIDmultiplegtDYN``), units whose treatment starts and
    later ends kept (``keep_bidirectional_switchers``): each switcher is compared with units whose
    treatment has not changed yet, ``effects`` horizons after the switch (1 = the period of the
    switch) and ``placebo`` before it.

    Returns
    -------
    dict
        ``effects`` and ``placebos`` (frames: ``horizon``, ``att``, ``se``, ``ci_low``, ``ci_high``,
        ``n_switchers``), ``ate`` (the average total effect, dict), ``n_switch_off`` (units whose
        treatment ends).
    """
    import moderndid as md  # noqa: PLC0415 - deferred: moderndid loads only when estimating

    d = data[[unit, time, treatment, outcome]].dropna(subset=[outcome]).copy()
    d["_uid"] = pd.factorize(d[unit])[0] + 1
    off = d.sort_values(time).groupby(unit)[treatment].apply(lambda s: bool((s.diff() < 0).any()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = md.did_multiplegt(d, yname=outcome, tname=time, idname="_uid", dname=treatment, effects=effects,
                              placebo=placebo, keep_bidirectional_switchers=True)

    def frame(x, sign=1):
        return pd.DataFrame({"horizon": sign * np.asarray(x.horizons, int), "att": x.estimates, "se": x.std_errors,
                             "ci_low": x.ci_lower, "ci_high": x.ci_upper, "n_switchers": x.n_switchers})

    ate = r.ate
    return {"effects": frame(r.effects), "placebos": frame(r.placebos) if r.placebos is not None else None,
            "ate": {"att": float(ate.estimate), "se": float(ate.std_error), "ci_low": float(ate.ci_lower),
                    "ci_high": float(ate.ci_upper)}, "n_switch_off": int(off.sum())}


def _label(check: str, event_time: int) -> str:
    if check in LABELS:
        return LABELS[check] + (f"{event_time}" if check == "pretrend_bias" else "")
    if check.startswith("honest_mbar_"):
        return f"honest DiD, Mbar = {check.removeprefix('honest_mbar_')}"
    if check.startswith("without_"):
        return f"without {check.removeprefix('without_')}"
    if check == "honest_breakdown":
        return "honest DiD: breakdown Mbar"
    return f"event study e = {event_time}" if check.startswith("event_e") else check


def _row(check, estimand, scale, value, ci_low=np.nan, ci_high=np.nan, se=np.nan, method="", flags="", n=None):
    return {"check": check, "estimand": estimand, "scale": scale, "value": value, "ci_low": ci_low,
            "ci_high": ci_high, "se": se, "method": method, "flags": flags, "n": n}


def robustness_panel(result: ImpactResult, *, treatment: pd.Series | None = None, event_time: int = 1,
                     mbar=DEFAULT_MBAR, pre_periods: int | None = None, street: str = "street_id",
                     leave_one_out_draws: int = 99) -> RobustnessPanel:
    """The robustness checks of a panel :class:`ImpactResult` (module docstring).

    Parameters
    ----------
    result
        A Callaway-Sant'Anna result on a balanced panel (``options.panel``), without covariates
        for the Sun-Abraham, imputation and Goodman-Bacon rows (they adjust for none).
    treatment
        0/1 "in force" per row of ``result.fit["data"]`` for the switching-treatment estimator
        (:func:`evaluation.impact.panels.in_force`); without it that row is left out.
    event_time
        Event time of the honest-DiD intervals and of the trend bias (1: the first full period).
    mbar
        ``Mbar`` values of the relative-magnitudes intervals.
    pre_periods
        Pre-adoption coefficients used by honest DiD and the power analysis (default all).
    street
        Column of the estimation sample naming the group left out in turn.
    leave_one_out_draws
        Bootstrap draws of each leave-one-out refit (only its simple aggregate is used).
    """
    if not result.options.panel or not result.fit:
        raise MissingInputError("the robustness panel needs a panel result (repeated cross-sections are not covered)")
    f = result.fit
    d, y, unit, time, g = f["data"], f["outcome"], f["unit"], f["time"], f["first_treated"]
    ov = result.overall.set_index("aggregation").loc["simple"]
    headline = {k: float(ov[k]) for k in ("att", "se", "ci_low", "ci_high")}
    rows = [_row("callaway_santanna", "ATT over treated unit-periods (simple aggregate)", "effect", headline["att"],
                 headline["ci_low"], headline["ci_high"], headline["se"], result.method, n=result.params["n_units"])]
    parts: dict = {}
    notes: list[str] = []
    covs = bool(result.options.covariates)
    if covs:
        notes.append("Sun-Abraham, imputation and Goodman-Bacon adjust for no covariates, unlike the headline")
    sa = parts["sun_abraham"] = sun_abraham(d, y, unit=unit, time=time, first_treated=g)
    rows.append(_row("sun_abraham", "ATT over treated unit-periods (interaction-weighted)", "effect",
                     sa.overall["att"], sa.overall["ci_low"], sa.overall["ci_high"], sa.overall["se"], sa.method))
    bj = parts["imputation"] = imputation(d, y, unit=unit, time=time, first_treated=g)
    rows.append(_row("imputation", "ATT over treated unit-periods (imputation)", "effect", bj.overall["att"],
                     bj.overall["ci_low"], bj.overall["ci_high"], bj.overall["se"], bj.method))
    if result.twfe:
        tw = result.twfe
        rows.append(_row("twfe", "naive TWFE coefficient", "effect", tw["att"], tw["ci_low"], tw["ci_high"], tw["se"],
                         "two-way fixed effects OLS, CR1 SE", flags="biased_under_heterogeneity"))
    bacon = parts["bacon"] = bacon_decomposition(d, y, unit=unit, time=time, first_treated=g)
    bk = bacon.by_kind().set_index("kind")
    if "later_vs_earlier" in bk.index:
        rows.append(_row("bacon_forbidden", "TWFE weight on already-treated controls", "share",
                         float(bk.loc["later_vs_earlier", "weight"]), method=bacon.method))
        rows.append(_row("bacon_forbidden_estimate", "average of the later-vs-earlier 2x2 estimates", "effect",
                         float(bk.loc["later_vs_earlier", "estimate"]), method=bacon.method))
    clean = bacon.table[bacon.table["kind"].ne("later_vs_earlier")]
    rows.append(_row("bacon_clean", "TWFE-weighted average of the clean 2x2 comparisons", "effect",
                     float((clean["weight"] * clean["estimate"]).sum() / clean["weight"].sum()), method=bacon.method))
    if treatment is not None:
        sw = parts["switching"] = switching_did(d.assign(_in_force=treatment.to_numpy()), y, unit=unit, time=time,
                                                treatment="_in_force")
        a = sw["ate"]
        rows.append(_row("dcdh", f"average total effect of the switches ({sw['n_switch_off']} switch off)", "effect",
                         a["att"], a["ci_low"], a["ci_high"], a["se"],
                         "de Chaisemartin and D'Haultfoeuille (2024), moderndid.did_multiplegt"))
    es = universal_event_study(result, pre_periods=pre_periods)
    et = np.asarray(es.event_times, int)
    keep = et != -1
    inf = np.asarray(es.influence_func)[:, keep]
    V = inf.T @ inf / inf.shape[0] ** 2
    pw = parts["pretrends"] = pretrend_power(np.asarray(es.att_by_event)[keep], V, et[keep], reference=-1)
    for p, s in pw.slopes.items():
        rows.append(_row(f"pretrend_slope_{int(100 * p)}", f"linear pre-trend the pre-test detects with {p:.0%} power",
                         "slope", s, method=pw.method))
    s80 = pw.slopes.get(0.8, np.nan)
    rows.append(_row("pretrend_bias", f"what that 80 %-power trend adds by event time {event_time}", "effect",
                     s80 * (event_time + 1), method="slope x (event time + 1): the trend continued past adoption"))
    hs = parts["honest"] = honest_sensitivity(result, "relative_magnitude", event_time=event_time, bounds=list(mbar),
                                              pre_periods=pre_periods)
    ht = hs.table
    e_row = result.aggregates["dynamic"].set_index("key").loc[event_time]
    rows.append(_row(f"event_e{event_time}", f"event-study effect at e = {event_time} (parallel trends)", "effect",
                     float(e_row["att"]), float(ht.iloc[0]["ci_low"]), float(ht.iloc[0]["ci_high"]), float(e_row["se"])))
    for _, r in ht.iloc[1:].iterrows():
        rows.append(_row(f"honest_mbar_{r['bound']:g}", f"effect at e = {event_time}, violations <= {r['bound']:g} x "
                         "largest pre-adoption one", "effect", float(e_row["att"]), r["ci_low"], r["ci_high"],
                         method=hs.method))
    rows.append(_row("honest_breakdown", f"smallest Mbar at which the e = {event_time} interval includes 0", "Mbar",
                     hs.breakdown, method=hs.method,
                     flags="" if np.isfinite(hs.breakdown) else f"survives_all_mbar_to_{max(mbar):g}"))
    if street in d.columns:
        loo = []
        for s in sorted(d[street].dropna().unique()):
            sub = d[d[street] != s]
            r = staggered_did(sub, y, unit=unit, time=time, first_treated=g,
                              options=result.options.replace(aggregations=("simple",), with_twfe=False,
                                                             biters=leave_one_out_draws),
                              labels=f["labels"], group=f["group"])
            o = r.overall.iloc[0]
            loo.append({"left_out": s, "att": o["att"], "ci_low": o["ci_low"], "ci_high": o["ci_high"],
                        "se": o["se"], "n_units": r.params["n_units"]})
            rows.append(_row(f"without_{s}", f"simple ATT without the compounds of {s}", "effect", o["att"],
                             o["ci_low"], o["ci_high"], o["se"], result.method, n=r.params["n_units"]))
        parts["leave_one_out"] = pd.DataFrame(loo)
    t = pd.DataFrame(rows)
    t["label"] = [_label(c, event_time) for c in t["check"]]
    p = result.params
    t["indicator"] = [f"{result.indicator_prefix}.robust.{c}" for c in t["check"]]
    t["level"], t["unit_id"] = p["level"], result.unit_id
    t["period"] = f"{p['first_period_label']}/{p['last_period_label']}"
    return RobustnessPanel(
        table=indicator_frame(t, extra=TABLE_EXTRA),
        title=f"How sure are we? Robustness of the effect of {p['policy_words']} on {result.outcome}",
        method="pre-trend power, alternative estimators, Goodman-Bacon, switching treatment, honest DiD, leave one out",
        notes=notes, headline=headline, parts=parts)


def red_property_robustness(ds, outcome: str = "mean_resolution_hours", *, result: ImpactResult | None = None,
                            milestone: str = "red_property", **kwargs) -> RobustnessPanel:
    """The robustness panel of :func:`evaluation.impact.red_property_impact` for ``outcome``.

    ``result`` reuses an estimate already made (the review's); the switching treatment comes from
    the ``ended`` dates of ``compound_milestones`` (:func:`evaluation.impact.panels.end_dates`).
    ``kwargs`` go to :func:`robustness_panel`.
    """
    res = result if result is not None else red_property_impact(ds, outcome, milestone=milestone)
    ends = panels.end_dates(ds["compound_milestones"], milestone)
    period = "month" if res.params["period_word"] == "month" else "quarter"
    treatment = panels.in_force(res.fit["data"], ends, period) if res.options.panel else None
    out = robustness_panel(res, treatment=treatment, **kwargs)
    if len(ends):
        out.notes.append(f"{len(ends)} compounds' {milestone.replace('_', ' ')} ended (their owners committee "
                         "dissolved); only the switching-treatment estimator treats it as switched off")
    return out
