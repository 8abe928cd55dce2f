"""Kaplan-Meier from raw durations, as a results object: ``.table``, ``.summary()``, ``.plot()``.

:func:`kaplan_meier` is R's ``survfit(Surv(time, event) ~ by)`` for a frame of durations: one
curve per group, the quartiles with Brookmeyer-Crowley intervals and, at chosen times, ``S(t)``
with its pointwise interval (see :mod:`evaluation.survival.estimation` for the method). The
request indicators use the same estimation on their life table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaluation.errors import MissingInputError
from evaluation.results import IndicatorResult, Summary, indicator_frame, new_axes
from evaluation.survival.estimation import (
    CI_METHODS,
    KaplanMeier,
    kaplan_meier_from_life_table,
    km_quantiles,
    km_survival_at,
)

#: quantile probability -> indicator id of the tidy table
QUANTILE_IDS = {0.25: "survival.p25", 0.5: "survival.median", 0.75: "survival.p75"}


class KaplanMeierResult(IndicatorResult):
    """Kaplan-Meier curves of several groups with their quantiles and survival probabilities.

    Attributes
    ----------
    table
        Tidy indicator table: ``survival.median`` (and ``survival.p25`` / ``survival.p75``) with
        Brookmeyer-Crowley intervals, and ``survival.surv_at`` (``S(t)`` at each ``time`` column
        value) with pointwise intervals; ``unit_id`` is the group label, ``n`` the observations,
        ``numerator`` the events.
    curves
        The :class:`~evaluation.survival.estimation.KaplanMeier` estimates at every event time
        (``curves.curves()`` as a tidy frame).
    """

    def __init__(self, table: pd.DataFrame, curves: KaplanMeier, by: Sequence[str], method: str, notes=()):
        super().__init__(table=table, title="Kaplan-Meier estimates" + (f" by {', '.join(by)}" if by else ""),
                         method=method, notes=list(notes))
        self.curves, self.by = curves, list(by)

    def summary_lines(self) -> list[str]:
        """The method, then the number of groups and of observations, events and censored observations in all."""
        km = self.curves
        return [f"Method: {self.method}", f"Groups: {km.n_groups}; observations: {int(km.n_obs.sum()):,}; "
                f"events: {int(km.n_events.sum()):,} (censored: {int((km.n_obs - km.n_events).sum()):,})"]

    def summary(self) -> Summary:
        """The summary lines and a table of the median time of each group with its interval, events and n."""
        med = self.table[self.table["indicator"].eq("survival.median")]
        frame = med[["unit_id", "n", "numerator", "value", "ci_low", "ci_high"]].rename(
            columns={"unit_id": "group", "numerator": "events", "value": "median"})
        return Summary(self.title, self.summary_lines(), self.notes, frame)

    def plot(self, *, ax=None, groups: int = 8, time_scale: float = 1.0, xlabel: str = "time", **kw):
        """Step curves of ``S(t)`` for up to ``groups`` groups (times multiplied by ``time_scale``)."""
        ax = new_axes(ax)
        km = self.curves
        labels = _labels(km.groups, self.by)
        for g in range(min(groups, km.n_groups)):
            s, e = km.starts[g], km.ends[g]
            ax.step(np.r_[0, km.time[s:e] * time_scale], np.r_[1.0, km.surv[s:e]], where="post", label=labels[g], **kw)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("S(t), share without the event")
        if km.n_groups > 1:
            ax.legend(fontsize="small")
        return ax


def _labels(groups: pd.DataFrame, by: Sequence[str]) -> list[str]:
    if not by:
        return ["all"] * len(groups)
    return [" | ".join(str(v) for v in row) for row in groups[list(by)].itertuples(index=False)]


def kaplan_meier(data: pd.DataFrame, time: str, event: str, by: Sequence[str] | str = (), *,
                 probs: Sequence[float] = (0.25, 0.5, 0.75), times: Sequence[float] = (), method: str = "log",
                 alpha: float = 0.05, weights: str | None = None) -> KaplanMeierResult:
    """Kaplan-Meier estimates of ``time`` to ``event`` per group of ``by`` (R ``survfit``).

    Parameters
    ----------
    data
        One row per observation.
    time
        Column of durations (any unit; observations censored at a time are at risk at that time).
    event
        Column that is true (1) for an event and false (0) for a right-censored observation.
    by
        Grouping columns (none: one curve).
    probs
        Quantiles wanted (0.5: the median), with Brookmeyer-Crowley intervals.
    times
        Times at which ``S(t)`` and its pointwise interval are wanted.
    method
        ``"log"`` (R's default ``conf.type``) or ``"loglog"``.
    weights
        Column of frequency weights (default: 1 per row).

    Returns
    -------
    KaplanMeierResult
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [time, event, *by, *([weights] if weights else [])] if c not in data.columns]
    if missing:
        raise MissingInputError(f"no column(s) {', '.join(missing)} in the data; columns are {', '.join(map(str, data.columns))}")
    d = data[[time, event, *by] + ([weights] if weights else [])].dropna(subset=[time, event])
    w = d[weights].astype(float).to_numpy() if weights else np.ones(len(d))
    ev = d[event].astype(bool).to_numpy()
    life = d[by].copy() if by else pd.DataFrame(index=d.index)
    life["time"] = d[time].to_numpy(dtype=float)
    life["events"] = np.where(ev, w, 0.0)
    life["censored"] = np.where(ev, 0.0, w)
    life = life.groupby(by + ["time"], sort=True, observed=True, dropna=False).sum().reset_index()
    km = kaplan_meier_from_life_table(life, by, "time", "events", "censored")
    q = km_quantiles(km, probs, method=method, alpha=alpha)
    labels = _labels(km.groups, by)
    level = " x ".join(by) if by else "all"
    rows = []
    for p in probs:
        qq = q[q["prob"] == p].reset_index(drop=True)
        rows.append(pd.DataFrame({
            "indicator": QUANTILE_IDS.get(float(p), f"survival.q{p:g}"), "level": level, "unit_id": labels,
            "value": qq["estimate"], "ci_low": qq["ci_low"], "ci_high": qq["ci_high"], "numerator": km.n_events,
            "n": km.n_obs, "method": f"Kaplan-Meier quantile, Brookmeyer-Crowley {method} interval",
            "flags": np.where(qq["estimate"].isna(), "not_reached_in_follow_up", ""),
        }))
    if times:
        s = km_survival_at(km, times, method=method, alpha=alpha)
        s_labels = labels * len(times)
        rows.append(pd.DataFrame({
            "indicator": "survival.surv_at", "level": level, "unit_id": s_labels, "value": s["surv"].to_numpy(),
            "ci_low": s["ci_low"].to_numpy(), "ci_high": s["ci_high"].to_numpy(), "numerator": np.tile(km.n_events, len(times)),
            "n": np.tile(km.n_obs, len(times)), "method": f"Kaplan-Meier S(t), {method} pointwise interval",
            "flags": np.where(s["beyond_follow_up"].to_numpy(), "beyond_follow_up", ""), "time": s["time"].to_numpy(),
        }))
    table = indicator_frame(pd.concat(rows, ignore_index=True), extra=["time"])
    method_text = f"Kaplan-Meier, {CI_METHODS[method]}"
    return KaplanMeierResult(table, km, by, method_text)
