"""Did red property work? Staggered difference-in-differences with event studies.

Compounds adopted red property (红色物业) at different dates. A two-way fixed-effects (TWFE)
regression on such staggered adoption compares late adopters with early adopters and is biased
when effects change over time (Goodman-Bacon 2021; de Chaisemartin and D'Haultfoeuille 2020).
:func:`staggered_did` estimates instead the group-time average treatment effects ATT(g,t) of
Callaway and Sant'Anna (2021, *Journal of Econometrics* 225(2), 200-230) with the maintained
``moderndid`` implementation, which reproduces R ``did`` 2.5.0 (``tests/test_impact.py``: ``mpdta``
to 1e-10; ``tests/test_impact_r_vignette.py``: the "Getting started" vignette with its covariate at
printed precision, with the default call), and aggregates them:

* ``simple``: the average of ATT(g,t) over all treated cohort-periods, weighted by cohort size;
* ``dynamic``: the event study by time since adoption ``e`` (pre-adoption ``e < 0`` are the
  placebo estimates of the pre-trend check) and the average of the post-adoption ones;
* ``group``: the average effect by adoption cohort, and their size-weighted average;
* ``calendar``: the average effect by calendar period, and their average.

The defaults are R's (:class:`~evaluation.impact.DidOptions`): doubly robust 2x2 comparisons
(Sant'Anna and Zhao 2020), never-treated controls. Inference: analytical standard errors from the
influence function (clustered by unit, the compound); with a ``cluster`` coarser than the unit
(e.g. community) the multiplier bootstrap is used. Simultaneous (uniform) 95 % bands for the event
study use the multiplier bootstrap with a fixed seed, so the same call gives the same band. The
naive TWFE estimate is reported beside them (:func:`evaluation.impact.twfe.twfe`) to show the
difference. The result and its tidy indicator ids are described in :mod:`evaluation.impact.result`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from evaluation.errors import MissingInputError, OptionError
from evaluation.impact.options import DidLabels, DidOptions
from evaluation.impact.result import ImpactResult
from evaluation.impact.twfe import twfe


def _event_pretest(dyn) -> dict[str, Any]:
    """Joint Wald test that the pre-adoption event-study estimates are zero.

    Uses the influence functions of the dynamic aggregation: Var(theta) = IF'IF / n^2 (the
    analytical variance whose diagonal gives the reported standard errors). An estimate that is 0
    by construction (``e = -1`` with a universal base period) has a zero influence function and
    is left out of the test.
    """
    e = np.asarray(dyn.event_times)
    att = np.asarray(dyn.att_by_event, dtype=float)
    inf = None if dyn.influence_func is None else np.asarray(dyn.influence_func)
    if inf is None or inf.ndim != 2:
        return {"event_wald": None, "event_df": 0, "event_p": None}
    pre = (e < 0) & np.isfinite(att) & (np.abs(inf).sum(axis=0) > 0)
    if not pre.any():
        return {"event_wald": None, "event_df": 0, "event_p": None}
    n = inf.shape[0]
    V = inf[:, pre].T @ inf[:, pre] / n**2
    theta = att[pre]
    try:
        W = float(theta @ np.linalg.solve(V, theta))
    except np.linalg.LinAlgError:
        return {"event_wald": None, "event_df": int(pre.sum()), "event_p": None}
    return {"event_wald": W, "event_df": int(pre.sum()), "event_p": float(scipy.stats.chi2.sf(W, pre.sum()))}


def estimation_sample(data: pd.DataFrame, outcome: str, *, unit: str, time: str, first_treated: str,
                      options: DidOptions | None = None, labels: DidLabels | None = None,
                      group: str | None = None) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The rows a staggered DiD can use, the counts of what was left out, and notes saying so.

    A panel keeps the periods where some unit has the outcome and the units with the outcome in
    every kept period (the estimator needs a balanced panel). Units first treated after the last
    period count as not treated; units first treated in or before the first period (always
    treated: no pre-adoption period) are dropped. ``_uid`` is added: the unit as an integer code.

    Returns
    -------
    (data, counts, notes)
        ``counts`` has ``n_always_treated``, ``first`` and ``last`` (period codes).
    """
    options, labels = options or DidOptions(), labels or DidLabels()
    label, notes = labels.period_label, []
    key = unit if options.panel else (group or unit)

    def units(k: int) -> str:
        return f"{k} {labels.unit_word}{'' if k == 1 else 's'}"

    d = data.copy()
    d[outcome] = pd.to_numeric(d[outcome], errors="coerce").astype(float)
    d[time] = d[time].astype("int64")
    d[first_treated] = d[first_treated].astype("int64")
    if options.panel:
        # periods where the outcome is missing for every unit (e.g. too little follow-up) go first
        has = d.groupby(time)[outcome].apply(lambda s: s.notna().any())
        if (~has).any():
            notes.append(f"periods without any value of {outcome} left out: {', '.join(label(t) for t in has.index[~has])}")
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
    if d.empty:
        raise MissingInputError(f"no row has a value of {outcome}")
    first, last = int(d[time].min()), int(d[time].max())
    late = d[first_treated] > last
    if late.any():
        notes.append(f"{units(d.loc[late, key].nunique())} that adopted after {label(last)} count as not adopting "
                     "within the window")
        d.loc[late, first_treated] = 0
    always = (d[first_treated] > 0) & (d[first_treated] <= first)
    n_always = int(d.loc[always, key].nunique())
    if n_always:
        notes.append(f"{units(n_always)} adopted in or before the first period ({label(first)}): always treated, "
                     "no pre-adoption period, left out of the estimation")
        d = d[~always]
    d = d.sort_values([unit, time]).reset_index(drop=True)
    d["_uid"] = pd.factorize(d[unit])[0] + 1
    return d, {"n_always_treated": n_always, "first": first, "last": last}, notes


def att_gt_kwargs(outcome: str, time: str, first_treated: str, options: DidOptions) -> dict[str, Any]:
    """The :func:`moderndid.att_gt` arguments of ``options`` (R ``att_gt``'s, by name)."""
    o = options
    kwargs = dict(yname=outcome, tname=time, idname="_uid", gname=first_treated, est_method=o.est_method,
                  control_group=o.control_group, anticipation=int(o.anticipation), base_period=o.base_period,
                  alp=o.alpha, panel=o.panel, cband=True, boot=bool(o.cluster), biters=int(o.biters),
                  random_state=o.seed)
    if o.covariates:
        kwargs["xformla"] = "~ " + " + ".join(o.covariates)
    if o.weights:
        kwargs["weightsname"] = o.weights
    if o.cluster:
        kwargs["clustervars"] = [o.cluster] if not o.panel else ["_uid", o.cluster]
    return kwargs


def staggered_did(data: pd.DataFrame, outcome: str, *, unit: str, time: str, first_treated: str,
                  options: DidOptions | None = None, labels: DidLabels | None = None,
                  group: str | None = None) -> ImpactResult:
    """Callaway-Sant'Anna staggered DiD of ``outcome`` with all aggregations and the naive TWFE.

    Parameters
    ----------
    data
        Long panel (one row per unit and period) or, with ``options.panel=False``, repeated
        cross-sections (one row per observation; ``unit`` then identifies rows).
    outcome, unit, time, first_treated
        Columns: outcome, unit id, integer period, and the first treated period (0 = not treated
        within the data), as R ``did``'s ``yname``, ``idname``, ``tname``, ``gname``. Units first
        treated in the first period are always treated and are dropped (they have no pre-adoption
        period); units first treated after the last period count as not treated.
    options
        Estimator, comparison group, covariates, inference (:class:`DidOptions`; default R's).
    labels
        Period labels, indicator ids and the words of the text (:class:`DidLabels`).
    group
        For repeated cross-sections: the group the rows belong to (e.g. the compound), the
        fixed effect of the TWFE and the unit of the counts.

    Returns
    -------
    ImpactResult
        ATT(g,t), the aggregations, the pre-trend tests and the TWFE.
    """
    import moderndid as md  # noqa: PLC0415 - deferred: moderndid (and its dependencies) load only when estimating

    o, labels = options or DidOptions(), labels or DidLabels()
    missing = {outcome, unit, time, first_treated, *o.covariates, *([o.cluster] if o.cluster else []),
               *([o.weights] if o.weights else []), *([group] if group else [])} - set(data.columns)
    if missing:
        raise MissingInputError(f"the panel lacks column(s) {', '.join(sorted(missing))}")
    label = labels.period_label
    d, counts, notes = estimation_sample(data, outcome, unit=unit, time=time, first_treated=first_treated,
                                         options=o, labels=labels, group=group)
    if d[first_treated].eq(0).sum() == 0 and o.control_group == "nevertreated":
        raise OptionError("no unit stays untreated within the window: use control_group='notyettreated'")
    if not d[first_treated].gt(0).any():
        raise MissingInputError(f"no unit adopts within the window {label(counts['first'])}-{label(counts['last'])}")
    kwargs = att_gt_kwargs(outcome, time, first_treated, o)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "used bootstrap for the band": intended
        mp = md.att_gt(d, **kwargs)
        aggs = {a: md.aggte(mp, type=a, random_state=o.seed, na_rm=True) for a in o.aggregations}
    z = scipy.stats.norm.ppf(1 - o.alpha / 2)
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
               "wald_df": int((g > t).sum())}
    if "dynamic" in aggs:
        pretest.update(_event_pretest(aggs["dynamic"]))
        pre = frames["dynamic"][frames["dynamic"]["key"] < 0]
        pretest["band_covers_zero"] = bool(((pre["band_low"] <= 0) & (pre["band_high"] >= 0)).all())
    id_col = unit if o.panel else (group or unit)
    tw = {}
    if o.with_twfe:
        tw = twfe(d, outcome, id_col, time, first_treated, cluster=o.cluster or id_col, alpha=o.alpha)
    treated = d[first_treated] > 0
    cohort_units = d.loc[treated].groupby(first_treated)[id_col].nunique()
    groups_used = [int(x) for x in cohort_units.index]
    inference = (f"multiplier-bootstrap SE clustered by {o.cluster} ({o.biters} draws, seed {o.seed})" if o.cluster
                 else f"analytical SE (influence function, clustered by {id_col}); simultaneous bands by "
                      f"multiplier bootstrap ({o.biters} draws, seed {o.seed})")
    params = {
        "est_method": o.est_method, "control_group": o.control_group, "covariates": list(o.covariates),
        "cluster": o.cluster or id_col, "inference": inference, "seed": o.seed, "biters": o.biters, "alpha": o.alpha,
        "anticipation": o.anticipation, "base_period": o.base_period, "panel": o.panel, "unit": id_col,
        "level": labels.level, "n_units": int(d[id_col].nunique()), "n_obs": int(len(d)),
        "n_treated_units": int(d.loc[treated, id_col].nunique()),
        "n_control_units": int(d.loc[~treated, id_col].nunique()),
        "n_cohorts": len(groups_used), "n_always_treated": counts["n_always_treated"],
        "cohort_units": {label(gv): int(n) for gv, n in cohort_units.items()},
        "min_cohort_units": int(cohort_units.min()) if groups_used else 0,
        "first_period_label": label(counts["first"]), "last_period_label": label(counts["last"]),
        "first_cohort_label": label(groups_used[0]) if groups_used else "",
        "last_cohort_label": label(groups_used[-1]) if groups_used else "",
        "policy_words": labels.policy_words, "unit_word": labels.unit_word, "period_word": labels.period_word,
        "outcome_words": labels.outcome_words or outcome,
    }
    if o.anticipation:
        notes.append(f"anticipation of {o.anticipation} periods allowed: the base period is that many periods "
                     "before adoption")
    fit = {"data": d, "kwargs": kwargs, "outcome": outcome, "unit": unit, "time": time,
           "first_treated": first_treated, "group": group, "labels": labels}
    return ImpactResult(outcome=outcome, att_gt=att_gt, aggregates=frames, overall=pd.DataFrame(overall),
                        twfe=tw, pretest=pretest, params=params, notes=notes, indicator_prefix=labels.indicator_prefix,
                        unit_id=labels.unit_id, raw=mp, raw_dynamic=aggs.get("dynamic"), options=o, fit=fit)
