"""The result of a staggered difference-in-differences: :class:`ImpactResult`.

Tidy indicator ids (``<p>`` = the labels' ``indicator_prefix``, e.g.
``imp.red_property.mean_resolution_hours``):

=======================  ==================================================================
``<p>.simple``           simple aggregate ATT (the headline number)
``<p>.dynamic.e<k>``     event-study estimate ``k`` periods after adoption (``e-2``, ``e0``, ``e3``)
``<p>.dynamic.post``     average of the post-adoption event-study estimates
``<p>.group.<g>``        average effect for the cohort that adopted in period ``g`` (``2020Q3``)
``<p>.group.average``    cohort-size weighted average of the cohort effects
``<p>.calendar.<t>``     average effect in calendar period ``t`` over cohorts treated by then
``<p>.calendar.average`` average of the calendar-period effects
``<p>.twfe``             naive TWFE coefficient (biased under heterogeneous effects)
``<p>.pretest_event_p``  p-value of the joint Wald test that the pre-adoption event-study estimates
                         are 0 (the pre-trend check to read first)
``<p>.pretest_p``        p-value of the joint Wald test that the pre-adoption ATT(g,t) are 0 (as R
                         ``did``; flagged ``few_units_per_cohort`` when a cohort has < 30 units, where
                         it over-rejects)
=======================  ==================================================================

``ci_low``/``ci_high`` are pointwise 95 % intervals; the extra columns ``band_low``/``band_high``
hold the simultaneous band (event study, group and calendar rows) and ``se`` the standard error.
"""

from __future__ import annotations

import html
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from evaluation.errors import MissingInputError
from evaluation.impact.options import CONTROL_GROUPS, EST_METHODS, DidOptions
from evaluation.results import IndicatorResult, Summary, indicator_frame, new_axes

#: below this many units in the smallest cohort the ATT(g,t) Wald pre-test is flagged: its
#: chi-square approximation needs each cohort's covariance block to be well estimated, and a
#: placebo on the synthetic district's never-adopters (fake cohorts of ~6 compounds) gave p < 0.001
#: in every draw, while the event-study pre-test did not (see the report of issue 6)
SMALL_COHORT = 30


TABLE_EXTRA = ("se", "band_low", "band_high", "aggregation", "event_time", "estimator", "control_group")


# --------------------------------------------------------------------------- results object


class ImpactResult(IndicatorResult):
    """Staggered difference-in-differences of a policy on one outcome.

    Attributes
    ----------
    outcome
        Outcome column.
    att_gt
        ATT(g,t) rows: ``group``, ``time`` (codes), ``group_label``, ``time_label``, ``att``,
        ``se``, ``ci_low``, ``ci_high`` (pointwise 95 %), ``post`` (``time >= group``).
    aggregates
        Aggregation name -> frame with ``key`` (event time, cohort or period code), ``label``,
        ``att``, ``se``, ``ci_low``, ``ci_high``, ``band_low``, ``band_high``; ``simple`` has one row.
    overall
        One row per aggregation: the overall ATT, its standard error and 95 % interval.
    twfe
        Naive TWFE: ``att``, ``se``, ``ci_low``, ``ci_high``, ``n``, ``clusters``.
    pretest
        Wald tests of no pre-trend: on the pre-adoption ATT(g,t) (``wald_p``, as R ``did``), and on
        the pre-adoption event-study estimates (``event_wald``, ``event_df``, ``event_p``).
    params
        Estimator, control group, covariates, inference, seed, units used and dropped.
    options
        The :class:`~evaluation.impact.DidOptions` of the fit.
    fit
        ``data`` (the estimation sample: balanced, always-treated dropped, ``_uid`` the unit code),
        ``kwargs`` (the :func:`moderndid.att_gt` call) and the column names, for refits.
    notes
        Caveats and data decisions, in plain words.
    """

    def __init__(self, *, outcome: str, att_gt: pd.DataFrame, aggregates: dict[str, pd.DataFrame],
                 overall: pd.DataFrame, twfe: dict[str, Any], pretest: dict[str, Any], params: dict[str, Any],
                 notes: list[str] | None = None, indicator_prefix: str = "imp.policy", unit_id: str = "all",
                 raw: Any = None, raw_dynamic: Any = None, options: DidOptions | None = None,
                 fit: dict[str, Any] | None = None):
        self.outcome, self.att_gt, self.aggregates, self.overall = outcome, att_gt, aggregates, overall
        self.twfe, self.pretest, self.params = twfe, pretest, params
        self.indicator_prefix, self.unit_id = indicator_prefix, unit_id
        self.raw, self.raw_dynamic = raw, raw_dynamic  # the moderndid results, for further analysis
        self.options = options or DidOptions()
        # the estimation sample and the moderndid arguments, so that robustness checks refit the same design
        self.fit = fit or {}
        p = params
        super().__init__(table=self._tidy(), title=f"Staggered DiD: effect of {p['policy_words']} on {outcome}",
                         method=(f"Callaway-Sant'Anna (2021) {EST_METHODS[p['est_method']]}, "
                                 f"{CONTROL_GROUPS[p['control_group']]} controls, {p['inference']}"),
                         notes=list(notes or []))

    # ------------------------------------------------------------------ tidy table
    def _tidy(self) -> pd.DataFrame:
        """Tidy indicator table (:data:`evaluation.results.INDICATOR_COLUMNS` + :data:`TABLE_EXTRA`)."""
        p = self.params
        method = (f"Callaway-Sant'Anna (2021) {EST_METHODS[p['est_method']]}, "
                  f"{CONTROL_GROUPS[p['control_group']]} controls, {p['inference']}")
        span = f"{p['first_period_label']}/{p['last_period_label']}"
        rows: list[dict[str, Any]] = []

        def row(name, agg, r, period, event_time=None, flags=""):
            rows.append({
                "indicator": f"{self.indicator_prefix}.{name}", "level": p["level"], "unit_id": self.unit_id,
                "period": period, "value": r["att"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                "n": p["n_units"], "method": method + f"; {agg} aggregation", "flags": flags,
                "se": r["se"], "band_low": r.get("band_low", np.nan), "band_high": r.get("band_high", np.nan),
                "aggregation": agg, "event_time": event_time,
                "estimator": "callaway_santanna", "control_group": p["control_group"],
            })

        ov = self.overall.set_index("aggregation")
        row("simple", "simple", ov.loc["simple"], span)
        if "dynamic" in self.aggregates:
            for _, r in self.aggregates["dynamic"].iterrows():
                k = int(r["key"])
                row(f"dynamic.e{k}", "dynamic", r, span, event_time=k, flags="pre_adoption" if k < 0 else "")
            row("dynamic.post", "dynamic", ov.loc["dynamic"], span)
        for agg in ("group", "calendar"):
            if agg in self.aggregates:
                for _, r in self.aggregates[agg].iterrows():
                    row(f"{agg}.{r['label']}", agg, r, r["label"])
                row(f"{agg}.average", agg, ov.loc[agg], span)
        if self.twfe:
            rows.append({
                "indicator": f"{self.indicator_prefix}.twfe", "level": p["level"], "unit_id": self.unit_id,
                "period": span, "value": self.twfe["att"], "ci_low": self.twfe["ci_low"],
                "ci_high": self.twfe["ci_high"], "n": self.twfe["n"],
                "method": f"naive two-way fixed effects OLS ({p['unit']} and period dummies), "
                          f"CR1 cluster-robust SE by {self.twfe['cluster']}; biased under heterogeneous effects",
                "flags": "biased_under_heterogeneity", "se": self.twfe["se"],
                "aggregation": "twfe", "estimator": "twfe_ols", "control_group": "all_not_currently_treated",
            })
        if self.pretest.get("event_p") is not None:
            rows.append({
                "indicator": f"{self.indicator_prefix}.pretest_event_p", "level": p["level"], "unit_id": self.unit_id,
                "period": span, "value": self.pretest["event_p"], "n": p["n_units"],
                "method": f"Wald test that the {self.pretest['event_df']} pre-adoption event-study estimates are "
                          "zero (chi-square, influence-function variance of the dynamic aggregation)",
                "flags": "pretrend_rejected_5pct" if self.pretest["event_p"] < 0.05 else "",
                "aggregation": "pretest", "estimator": "callaway_santanna", "control_group": p["control_group"],
            })
        if self.pretest.get("wald_p") is not None:
            flags = ["pretrend_rejected_5pct"] if self.pretest["wald_p"] < 0.05 else []
            if p["min_cohort_units"] < SMALL_COHORT:
                flags.append("few_units_per_cohort")
            rows.append({
                "indicator": f"{self.indicator_prefix}.pretest_p", "level": p["level"], "unit_id": self.unit_id,
                "period": span, "value": self.pretest["wald_p"], "n": p["n_units"],
                "method": f"Wald test that all {self.pretest['wald_df']} pre-adoption ATT(g,t) are zero "
                          "(chi-square, analytical variance, as R did; over-rejects when cohorts are small)",
                "flags": ";".join(flags),
                "aggregation": "pretest", "estimator": "callaway_santanna", "control_group": p["control_group"],
            })
        t = indicator_frame(rows, extra=TABLE_EXTRA)
        t["event_time"] = pd.array(t["event_time"], dtype="Int64")
        return t

    # ------------------------------------------------------------------ text
    def plain_language(self) -> str:
        """One paragraph for a policy reader: the effect, the pre-trend check and the caveats."""
        p = self.params
        s = self.overall.set_index("aggregation").loc["simple"]
        unit_p = p["period_word"]
        sig = "distinguishable from zero" if (s["ci_low"] > 0 or s["ci_high"] < 0) else "not distinguishable from zero"
        text = (
            f"Among the {p['n_treated_units']} {p['unit_word']}s that adopted {p['policy_words']} between "
            f"{p['first_cohort_label']} and {p['last_cohort_label']}, {p['outcome_words']} changed on average by "
            f"{_fmt(s['att'])} per {p['unit_word']}-{unit_p} after adoption (95 % interval {_fmt(s['ci_low'])} to "
            f"{_fmt(s['ci_high'])}; {sig}), compared with {CONTROL_GROUPS[p['control_group']]} {p['unit_word']}s "
            f"({p['n_control_units']}) over the same {unit_p}s. "
        )
        pre = self.pretest
        if pre.get("event_p") is not None:
            ok = pre["event_p"] >= 0.05 and pre.get("band_covers_zero", True)
            text += (
                f"Before adoption, adopters and comparison {p['unit_word']}s moved in parallel "
                if ok else
                f"Before adoption, adopters and comparison {p['unit_word']}s did not clearly move in parallel "
            ) + (f"(joint test of the {pre['event_df']} pre-adoption event-study estimates p = {pre['event_p']:.3f}), "
                 "which supports, but cannot prove, the comparison. ")
        if self.twfe:
            text += (f"A naive two-way fixed-effects regression gives {_fmt(self.twfe['att'])}, which mixes in "
                     "comparisons of late with early adopters and is biased when effects grow over time. ")
        text += (
            f"Caveats: adoption was not random ({p['unit_word']}s chose, or were chosen, to adopt), so the estimate "
            f"holds only if adopters would otherwise have followed the same trend as the comparison {p['unit_word']}s; "
            "it assumes no effect before the adoption date (no anticipation); "
        )
        if p.get("n_always_treated"):
            text += (f"{p['n_always_treated']} {p['unit_word']}s that adopted before the data begin cannot be "
                     "compared and are left out; ")
        text += "and the effect is that on adopters, not what non-adopters would gain."
        return text

    def summary_lines(self) -> list[str]:
        """Design, pre-trend tests and the plain-language reading."""
        p = self.params
        lines = [f"Estimator: Callaway-Sant'Anna (2021), {EST_METHODS[p['est_method']]}, "
                 f"{CONTROL_GROUPS[p['control_group']]} controls"
                 + (f", covariates {p['covariates']}" if p["covariates"] else "") + f"; {p['inference']}",
                 f"Periods: {p['first_period_label']} to {p['last_period_label']} ({p['period_word']}s); "
                 f"units: {p['n_units']} ({p['n_treated_units']} adopters in {p['n_cohorts']} cohorts, "
                 f"{p['n_control_units']} not adopting in the window)"]
        pre = self.pretest
        if pre.get("wald_p") is not None:
            lines.append(f"Pre-trend: Wald test of the {pre['wald_df']} pre-adoption ATT(g,t) p = {pre['wald_p']:.4f}"
                         + (f" (smallest cohort {p['min_cohort_units']} units: this test over-rejects with small "
                            "cohorts; prefer the event-study test)" if p["min_cohort_units"] < SMALL_COHORT else ""))
        if pre.get("event_p") is not None:
            lines.append(f"Pre-trend: joint test of the {pre['event_df']} pre-adoption event-study estimates "
                         f"p = {pre['event_p']:.4f}; simultaneous band covers 0 at every pre-adoption event time: "
                         f"{'yes' if pre['band_covers_zero'] else 'no'}")
        return lines + ["", self.plain_language()]

    def overall_table(self) -> pd.DataFrame:
        """The aggregate ATTs and the naive TWFE: ``aggregation``, ``att``, ``se``, ``ci_low``, ``ci_high``."""
        ov = self.overall[["aggregation", "att", "se", "ci_low", "ci_high"]]
        if self.twfe:
            tw = {"aggregation": "naive TWFE", **{k: self.twfe[k] for k in ("att", "se", "ci_low", "ci_high")}}
            ov = pd.concat([ov, pd.DataFrame([tw])], ignore_index=True)
        return ov

    def summary(self) -> Summary:
        """Printable summary: design, aggregates, TWFE, pre-trend tests, notes."""
        return Summary(self.title, self.summary_lines(), self.notes, self.overall_table().round(4))

    def _repr_html_(self) -> str:
        p = self.params
        head = f"<h4>Effect of {html.escape(p['policy_words'])} on {html.escape(self.outcome)}</h4>"
        head += f"<p>{html.escape(self.plain_language())}</p>"
        body = self.overall_table().to_html(index=False, float_format=lambda x: f"{x:.4g}")
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return head + body + (f"<ul>{notes}</ul>" if notes else "")

    # ------------------------------------------------------------------ plot
    def plot(self, *, ax=None, title: str | None = None, reference: float | None = None,
             reference_label: str = "planted effect"):
        """Event-study plot: estimates by time since adoption, with their intervals.

        Pointwise 95 % intervals (bars) and the simultaneous 95 % band (shaded), pre-adoption
        estimates in grey, the naive TWFE as a dotted line and, optionally, a known ``reference``
        effect (e.g. from ``truth.json``). Returns the axes.
        """
        from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - deferred: matplotlib loads only when a result is drawn

        if "dynamic" not in self.aggregates:
            raise MissingInputError("this result has no event study (dynamic aggregation)")
        d = self.aggregates["dynamic"]
        ax = new_axes(ax)
        e = d["key"].to_numpy()
        pre = e < 0
        ax.fill_between(e, d["band_low"], d["band_high"], step=None, color="tab:blue", alpha=0.15,
                        label="simultaneous 95 % band")
        for mask, colour, lab in ((pre, "grey", "before adoption"), (~pre, "tab:blue", "after adoption")):
            if mask.any():
                ax.errorbar(e[mask], d["att"][mask], yerr=[d["att"][mask] - d["ci_low"][mask], d["ci_high"][mask] - d["att"][mask]],
                            fmt="o", color=colour, capsize=3, label=f"{lab} (pointwise 95 %)")
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="black", lw=0.8, ls="--")
        if self.twfe:
            ax.axhline(self.twfe["att"], color="tab:red", lw=1, ls=":", label="naive TWFE")
        if reference is not None:
            ax.axhline(reference, color="tab:green", lw=1, ls="-.", label=reference_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"{self.params['period_word']}s since adoption")
        ax.set_ylabel(f"effect on {self.outcome}")
        ax.set_title(title or f"Event study: {self.params['policy_words']} and {self.outcome}")
        ax.legend(fontsize=8)
        return ax

    # ------------------------------------------------------------------ partial event-study averages
    def event_average(self, min_event: int = 1, max_event: int | None = None) -> dict[str, float]:
        """Average of the event-study estimates from ``min_event`` (to ``max_event``) periods after adoption.

        The equally weighted mean of ``ATT(e)`` over ``min_event <= e <= max_event``, with its
        influence-function standard error: R ``did``'s ``aggte(type="dynamic", min_e=, max_e=)``
        (through :func:`moderndid.aggte`, the same call that gives ``dynamic.post`` for
        ``min_event=0``). With ``min_event=1`` it leaves out the adoption period, whose outcome mixes
        units observed before and after the adoption date (see :func:`red_property_impact`).

        Returns
        -------
        dict
            ``att``, ``se``, ``ci_low``, ``ci_high`` (pointwise 95 %, normal), ``min_event``,
            ``max_event`` (the largest event time used), ``n_event_times``.
        """
        import moderndid as md  # noqa: PLC0415 - deferred: moderndid (and its dependencies) load only when estimating

        if self.raw is None or "dynamic" not in self.aggregates:
            raise MissingInputError("this result has no event study (dynamic aggregation)")
        keys = self.aggregates["dynamic"]["key"]
        top = int(keys.max()) if max_event is None else int(max_event)
        if not ((keys >= min_event) & (keys <= top)).any():
            raise MissingInputError(f"no event-study estimate between event times {min_event} and {top}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            r = md.aggte(self.raw, type="dynamic", min_e=min_event, max_e=top, na_rm=True,
                         random_state=self.params["seed"])
        z = scipy.stats.norm.ppf(1 - self.params["alpha"] / 2)
        att, se = float(r.overall_att), float(r.overall_se)
        return {"att": att, "se": se, "ci_low": att - z * se, "ci_high": att + z * se, "min_event": int(min_event),
                "max_event": top, "n_event_times": int(((keys >= min_event) & (keys <= top)).sum())}

    # ------------------------------------------------------------------ honest DiD
    def sensitivity(self, sensitivity_type: str = "relative_magnitude", event_time: int = 0,
                    bounds: list[float] | None = None, **kwargs) -> pd.DataFrame:
        """Rambachan-Roth (2023) "honest DiD" intervals for the effect at ``event_time``.

        See :func:`evaluation.impact.honest.honest_sensitivity` (which this calls): the event study
        is refitted with a universal base period, and the relative-magnitudes intervals are computed
        with a fast solver for the linear programs of the conditional-least-favourable test.

        Returns
        -------
        pandas.DataFrame
            ``restriction``, ``bound``, ``ci_low``, ``ci_high``, ``method``; the first row is the
            original (parallel-trends) interval.
        """
        from evaluation.impact.honest import honest_sensitivity  # noqa: PLC0415 - deferred: cvxpy and the LP solver load only here

        return honest_sensitivity(self, sensitivity_type, event_time=event_time, bounds=bounds, **kwargs).table


def _fmt(x: float) -> str:
    return f"{x:+.3g}" if abs(x) < 1 else f"{x:+.1f}"
