"""Did red property work? Staggered difference-in-differences with event studies.

Compounds adopted red property (红色物业) at different dates. A two-way fixed-effects (TWFE)
regression on such staggered adoption compares late adopters with early adopters and is biased
when effects change over time (Goodman-Bacon 2021; de Chaisemartin and D'Haultfoeuille 2020).
This module estimates the group-time average treatment effects ATT(g,t) of Callaway and Sant'Anna
(2021, *Journal of Econometrics* 225(2), 200-230) with the maintained ``moderndid`` implementation
(which reproduces R ``did`` 2.5.0 on ``mpdta``: see ``tests/test_impact.py``) and aggregates them:

* ``simple``: the average of ATT(g,t) over all treated cohort-periods, weighted by cohort size;
* ``dynamic``: the event study by time since adoption ``e`` (pre-adoption ``e < 0`` are the
  placebo estimates of the pre-trend check) and the average of the post-adoption ones;
* ``group``: the average effect by adoption cohort, and their size-weighted average;
* ``calendar``: the average effect by calendar period, and their average.

Inference: analytical standard errors from the influence function (clustered by unit, the
compound); with a ``cluster`` coarser than the unit (e.g. community) the multiplier bootstrap is
used. Simultaneous (uniform) 95 % bands for the event study use the multiplier bootstrap with a
fixed seed, so the same call gives the same band. The naive TWFE estimate is reported beside them
(statsmodels OLS with unit and period dummies, cluster-robust CR1 standard errors by unit) to show
the difference.

Tidy indicator ids (``<p>`` = ``imp.red_property.<outcome>``; see :func:`ImpactResult.table`):

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
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from evaluation.errors import MissingInputError, OptionError
from evaluation.impact.twfe import twfe
from evaluation.results import IndicatorResult, Summary, indicator_frame, new_axes

AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


EST_METHODS = {"reg": "outcome regression", "dr": "doubly robust", "ipw": "inverse probability weighting"}


CONTROL_GROUPS = {"nevertreated": "never-treated", "notyettreated": "not-yet-treated"}


DEFAULT_SEED = 20201225


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
    notes
        Caveats and data decisions, in plain words.
    """

    def __init__(self, *, outcome: str, att_gt: pd.DataFrame, aggregates: dict[str, pd.DataFrame],
                 overall: pd.DataFrame, twfe: dict[str, Any], pretest: dict[str, Any], params: dict[str, Any],
                 notes: list[str] | None = None, indicator_prefix: str = "imp.policy", unit_id: str = "all",
                 raw: Any = None, raw_dynamic: Any = None):
        self.outcome, self.att_gt, self.aggregates, self.overall = outcome, att_gt, aggregates, overall
        self.twfe, self.pretest, self.params = twfe, pretest, params
        self.indicator_prefix, self.unit_id = indicator_prefix, unit_id
        self.raw, self.raw_dynamic = raw, raw_dynamic  # the moderndid results, for further analysis
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
            "Caveats: adoption was not random (compounds chose, or were chosen, to adopt), so the estimate holds only "
            "if adopters would otherwise have followed the same trend as the comparison compounds; it assumes no "
            "effect before the adoption date (no anticipation); "
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
        """Event-study plot: estimates by time since adoption, pointwise 95 % intervals (bars) and
        the simultaneous 95 % band (shaded), pre-adoption estimates in grey, the naive TWFE as a
        dotted line and, optionally, a known ``reference`` effect (e.g. from ``truth.json``).
        Returns the axes.
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

    # ------------------------------------------------------------------ sensitivity
    def sensitivity(self, sensitivity_type: str = "relative_magnitude", event_time: int = 0,
                    bounds: list[float] | None = None, **kwargs) -> pd.DataFrame:
        """Rambachan-Roth (2023) 'honest DiD' sensitivity of an event-study estimate.

        Robust 95 % intervals for the effect at ``event_time`` when parallel trends may fail:
        ``"relative_magnitude"`` lets post-adoption trend violations be up to ``Mbar`` times the
        largest pre-adoption one (``bounds`` = Mbar values, default 0.5, 1, 1.5, 2);
        ``"smoothness"`` bounds the change in slope of the trend difference by ``M`` per period
        (``bounds`` = M values in outcome units, default 0 and multiples of the e0 standard error).
        Wraps :func:`moderndid.honest_did` on the event study; its ``didhonest`` extra needs
        ``cvxpy`` (not a dependency of this package yet).

        Returns
        -------
        pandas.DataFrame
            ``restriction``, ``bound``, ``ci_low``, ``ci_high``, ``method``; the first row is the
            original (parallel-trends) interval.
        """
        try:
            from moderndid import honest_did  # noqa: PLC0415 - deferred: the didhonest extra loads only for the sensitivity analysis
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ImportError("honest DiD sensitivity needs the moderndid 'didhonest' extra "
                              "(cvxpy): pip install 'moderndid[didhonest]'") from exc
        if self.raw_dynamic is None:
            raise MissingInputError("this result has no event study (dynamic aggregation)")
        if sensitivity_type == "relative_magnitude":
            kwargs.setdefault("m_bar_vec", list(bounds or [0.5, 1.0, 1.5, 2.0]))
            col = "Mbar"
        elif sensitivity_type == "smoothness":
            se0 = float(self.aggregates["dynamic"].set_index("key").loc[event_time, "se"])
            kwargs.setdefault("m_vec", list(bounds or [0.0, 0.5 * se0, se0, 2 * se0]))
            col = "m"
        else:
            raise OptionError("sensitivity_type must be 'relative_magnitude' or 'smoothness'")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hd = honest_did(self.raw_dynamic, event_time=event_time, sensitivity_type=sensitivity_type, **kwargs)
        robust = hd.robust_ci.to_pandas() if hasattr(hd.robust_ci, "to_pandas") else pd.DataFrame(hd.robust_ci)
        rows = [{"restriction": "parallel_trends", "bound": 0.0, "ci_low": float(hd.original_ci.lb),
                 "ci_high": float(hd.original_ci.ub), "method": "original"}]
        rows += [{"restriction": sensitivity_type, "bound": float(r[col]), "ci_low": float(r["lb"]),
                  "ci_high": float(r["ub"]), "method": str(r["method"])} for _, r in robust.iterrows()]
        return pd.DataFrame(rows)


def _fmt(x: float) -> str:
    return f"{x:+.3g}" if abs(x) < 1 else f"{x:+.1f}"


def _event_pretest(dyn) -> dict[str, Any]:
    """Joint Wald test that the pre-adoption event-study estimates are zero.

    Uses the influence functions of the dynamic aggregation: Var(theta) = IF'IF / n^2 (the
    analytical variance whose diagonal gives the reported standard errors).
    """
    e = np.asarray(dyn.event_times)
    att = np.asarray(dyn.att_by_event, dtype=float)
    inf = np.asarray(dyn.influence_func)
    pre = (e < 0) & np.isfinite(att)
    if not pre.any() or inf is None or inf.ndim != 2:
        return {"event_wald": None, "event_df": 0, "event_p": None}
    n = inf.shape[0]
    V = inf[:, pre].T @ inf[:, pre] / n**2
    theta = att[pre]
    try:
        W = float(theta @ np.linalg.solve(V, theta))
    except np.linalg.LinAlgError:
        return {"event_wald": None, "event_df": int(pre.sum()), "event_p": None}
    return {"event_wald": W, "event_df": int(pre.sum()), "event_p": float(scipy.stats.chi2.sf(W, pre.sum()))}


def staggered_did(
    data: pd.DataFrame,
    outcome: str,
    *,
    unit: str,
    time: str,
    first_treated: str,
    est_method: str = "reg",
    control_group: str = "nevertreated",
    covariates: list[str] | None = None,
    cluster: str | None = None,
    panel: bool = True,
    weights: str | None = None,
    anticipation: int = 0,
    aggregations: tuple[str, ...] = AGGREGATIONS,
    alpha: float = 0.05,
    biters: int = 999,
    seed: int = DEFAULT_SEED,
    label: Callable[[int], str] = str,
    indicator_prefix: str = "imp.policy",
    unit_id: str = "all",
    level: str = "district",
    words: dict[str, str] | None = None,
    with_twfe: bool = True,
    twfe_unit: str | None = None,
) -> ImpactResult:
    """Callaway-Sant'Anna staggered DiD of ``outcome`` with all aggregations and the naive TWFE.

    Parameters
    ----------
    data
        Long panel (one row per unit and period) or, with ``panel=False``, repeated
        cross-sections (one row per observation; ``unit`` then identifies rows).
    outcome, unit, time, first_treated
        Columns: outcome, unit id, integer period, and the first treated period (0 = not treated
        within the data). Units first treated in the first period are always treated and are
        dropped (they have no pre-adoption period); units first treated after the last period
        count as not treated.
    est_method
        ``"reg"`` (outcome regression, default), ``"dr"`` (doubly robust) or ``"ipw"``.
    control_group
        ``"nevertreated"`` or ``"notyettreated"``.
    covariates
        Time-invariant covariates for conditional parallel trends (``xformla = ~ a + b``).
    cluster
        Cluster variable coarser than ``unit`` (e.g. community); standard errors then come from
        the multiplier bootstrap (seeded). Default: clustering by unit, analytical standard errors.
    aggregations
        Which of ``simple``, ``dynamic``, ``group``, ``calendar`` to compute.
    biters, seed
        Multiplier-bootstrap draws and seed for the simultaneous bands (and clustered SEs).
    label
        Turns a period code into a label (``"2020Q3"``).
    twfe_unit
        Fixed-effect unit of the TWFE (default ``unit``; for repeated cross-sections pass the
        group-level id, e.g. the compound).
    """
    import moderndid as md  # noqa: PLC0415 - deferred: moderndid (and its dependencies) load only when estimating

    if est_method not in EST_METHODS:
        raise OptionError(f"est_method must be one of {', '.join(EST_METHODS)}, not {est_method!r}")
    if control_group not in CONTROL_GROUPS:
        raise OptionError(f"control_group must be one of {', '.join(CONTROL_GROUPS)}, not {control_group!r}")
    missing = {outcome, unit, time, first_treated, *(covariates or []), *([cluster] if cluster else [])} - set(data.columns)
    if missing:
        raise MissingInputError(f"the panel lacks column(s) {', '.join(sorted(missing))}")
    notes: list[str] = []
    w = {"policy_words": "the policy", "unit_word": "unit", "period_word": "period", "outcome_words": outcome}
    w.update(words or {})

    def units(k: int) -> str:
        return f"{k} {w['unit_word']}{'' if k == 1 else 's'}"

    d = data.copy()
    d[outcome] = pd.to_numeric(d[outcome], errors="coerce").astype(float)
    d[time] = d[time].astype("int64")
    d[first_treated] = d[first_treated].astype("int64")
    if panel:
        # periods where the outcome is missing for every unit (e.g. too little follow-up) go first
        has = d.groupby(time)[outcome].apply(lambda s: s.notna().any())
        if (~has).any():
            gone = [label(t) for t in has.index[~has]]
            notes.append(f"periods without any value of {outcome} left out: {', '.join(gone)}")
            d = d[d[time].isin(has.index[has])]
        n_periods = d[time].nunique()
        complete = d.dropna(subset=[outcome]).groupby(unit)[time].nunique() == n_periods
        n_incomplete = int((~complete).sum() + (d[unit].nunique() - len(complete)))
        if n_incomplete:
            notes.append(f"{units(n_incomplete)} without a value of {outcome} in every period left out "
                         "(the panel estimator needs a balanced panel)")
        d = d[d[unit].isin(complete.index[complete])]
    else:
        d = d.dropna(subset=[outcome])
    first, last = int(d[time].min()), int(d[time].max())
    late = d[first_treated] > last
    if late.any():
        n_late = d.loc[late, unit if panel else (twfe_unit or unit)].nunique()
        notes.append(f"{units(n_late)} that adopted after {label(last)} count as not adopting within the window")
        d.loc[late, first_treated] = 0
    always = (d[first_treated] > 0) & (d[first_treated] <= first)
    key = unit if panel else (twfe_unit or unit)
    n_always = int(d.loc[always, key].nunique())
    if n_always:
        notes.append(f"{units(n_always)} adopted in or before the first period ({label(first)}): always treated, "
                     "no pre-adoption period, left out of the estimation")
        d = d[~always]
    if d[first_treated].eq(0).sum() == 0 and control_group == "nevertreated":
        raise OptionError("no unit stays untreated within the window: use control_group='notyettreated'")
    d = d.sort_values([unit, time]).reset_index(drop=True)
    d["_uid"] = pd.factorize(d[unit])[0] + 1
    use_boot = bool(cluster)
    kwargs = dict(yname=outcome, tname=time, idname="_uid", gname=first_treated, est_method=est_method,
                  control_group=control_group, anticipation=anticipation, alp=alpha, panel=panel,
                  cband=True, boot=use_boot, biters=biters, random_state=seed)
    if covariates:
        kwargs["xformla"] = "~ " + " + ".join(covariates)
    if weights:
        kwargs["weightsname"] = weights
    if cluster:
        kwargs["clustervars"] = [cluster] if not panel else ["_uid", cluster]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "used bootstrap for the band": intended
        mp = md.att_gt(d, **kwargs)
        aggs = {a: md.aggte(mp, type=a, random_state=seed, na_rm=True) for a in aggregations}
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    g, t = np.asarray(mp.groups).astype(int), np.asarray(mp.times).astype(int)
    att, se = np.asarray(mp.att_gt, float), np.asarray(mp.se_gt, float)
    att_gt = pd.DataFrame({"group": g, "time": t, "group_label": [label(x) for x in g],
                           "time_label": [label(x) for x in t], "att": att, "se": se,
                           "ci_low": att - z * se, "ci_high": att + z * se, "post": t >= g})
    frames, overall = {}, []
    for a, r in aggs.items():
        overall.append({"aggregation": a, "att": float(r.overall_att), "se": float(r.overall_se),
                        "ci_low": float(r.overall_att - z * r.overall_se), "ci_high": float(r.overall_att + z * r.overall_se)})
        if a == "simple":
            continue
        keys = np.asarray(r.event_times).astype(int)
        est, s = np.asarray(r.att_by_event, float), np.asarray(r.se_by_event, float)
        crit = np.asarray(r.critical_values, float) if r.critical_values is not None else np.full(len(keys), z)
        frames[a] = pd.DataFrame({
            "key": keys, "label": [f"e{k}" if a == "dynamic" else label(k) for k in keys],
            "att": est, "se": s, "ci_low": est - z * s, "ci_high": est + z * s,
            "band_low": est - crit * s, "band_high": est + crit * s, "critical_value": crit,
        })
    pretest = {"wald_stat": None if mp.wald_stat is None else float(mp.wald_stat),
               "wald_p": None if mp.wald_pvalue is None else float(mp.wald_pvalue),
               "wald_df": int(((g > t)).sum())}
    if "dynamic" in aggs:
        pretest.update(_event_pretest(aggs["dynamic"]))
        dy = frames["dynamic"]
        pre = dy[dy["key"] < 0]
        pretest["band_covers_zero"] = bool(((pre["band_low"] <= 0) & (pre["band_high"] >= 0)).all())
    tw = {}
    if with_twfe:
        tw = twfe(d, outcome, twfe_unit or unit, time, first_treated, cluster=cluster or (twfe_unit or unit), alpha=alpha)
    groups_used = sorted(set(d.loc[d[first_treated] > 0, first_treated]))
    id_col = unit if panel else (twfe_unit or unit)
    inference = (f"multiplier-bootstrap SE clustered by {cluster} ({biters} draws, seed {seed})" if cluster
                 else f"analytical SE (influence function, clustered by {id_col}); simultaneous bands by "
                      f"multiplier bootstrap ({biters} draws, seed {seed})")
    params = {
        "est_method": est_method, "control_group": control_group, "covariates": covariates or [],
        "cluster": cluster or id_col, "inference": inference, "seed": seed, "biters": biters, "alpha": alpha,
        "anticipation": anticipation, "panel": panel, "unit": id_col, "level": level,
        "n_units": int(d[id_col].nunique()), "n_obs": int(len(d)),
        "n_treated_units": int(d.loc[d[first_treated] > 0, id_col].nunique()),
        "n_control_units": int(d.loc[d[first_treated] == 0, id_col].nunique()),
        "n_cohorts": len(groups_used), "n_always_treated": n_always,
        "cohort_units": {label(gv): int(n) for gv, n in d.loc[d[first_treated] > 0].groupby(first_treated)[id_col].nunique().items()},
        "min_cohort_units": int(d.loc[d[first_treated] > 0].groupby(first_treated)[id_col].nunique().min()) if groups_used else 0,
        "first_period_label": label(first), "last_period_label": label(last),
        "first_cohort_label": label(groups_used[0]) if groups_used else "", "last_cohort_label": label(groups_used[-1]) if groups_used else "",
        **w,
    }
    if anticipation:
        notes.append(f"anticipation of {anticipation} periods allowed: the base period is that many periods before adoption")
    return ImpactResult(outcome=outcome, att_gt=att_gt, aggregates=frames, overall=pd.DataFrame(overall),
                        twfe=tw, pretest=pretest, params=params, notes=notes, indicator_prefix=indicator_prefix,
                        unit_id=unit_id, raw=mp, raw_dynamic=aggs.get("dynamic"))
