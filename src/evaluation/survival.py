"""Grouped Kaplan-Meier estimation from a life table.

A request log of millions of rows is first reduced to a *life table*: one row per group and
distinct duration with the number of events (resolutions) and of right-censored observations
(requests still open at the cut-off) at that duration. Everything here works on that table, for
all groups at once: the bookkeeping (risk sets, running sums, quantile searches) in compiled loops
(:mod:`evaluation.kernels`) over whole groups per thread, logarithms and exponentials in numpy.

Estimates follow R ``survival`` and statsmodels ``SurvfuncRight`` exactly:

* survival function: product-limit (Kaplan and Meier 1958); observations censored at an event
  time are counted at risk at that time;
* variance: Greenwood's formula, ``var(log S(t)) = sum d / (n (n - d))``;
* pointwise interval of ``S(t)``: ``"log"`` (R's default ``conf.type = "log"``):
  ``exp(log S +- z sqrt(var log S))``, upper bound capped at 1; or ``"loglog"`` (Kalbfleisch and
  Prentice; statsmodels ``cloglog``): ``S ** exp(+- z sqrt(var log S) / log S)``;
* quantile ``q_p``: the first event time with ``S(t) < 1 - p`` (statsmodels ``quantile``; SAS
  convention). Where ``S`` equals ``1 - p`` exactly in exact arithmetic (common in large logs
  without early censoring: 401 of 802 requests still open), the floating-point value decides,
  as in statsmodels, whose arithmetic is reproduced exactly; R instead takes the midpoint of that
  plateau, so R and this estimate can differ by the gap between two event times there;
* interval of a quantile (Brookmeyer and Crowley 1982): the set of event times whose pointwise
  transformed interval of ``S(t)`` contains ``1 - p``; the upper limit is the next event time after
  that set (``inf`` when the set reaches the last event), as statsmodels
  ``quantile_ci(p, method=...)`` computes it. With ``method="log"`` this is the interval R prints
  for ``survfit`` by default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statistics import NormalDist

CI_METHODS = {
    "log": "Greenwood variance, log-transformed pointwise interval (R survival default)",
    "loglog": "Greenwood variance, log-log-transformed pointwise interval (Brookmeyer-Crowley with log-log)",
}



def _check_method(method: str) -> str:
    if method not in CI_METHODS:
        raise ValueError(f"unknown confidence-interval method {method!r}; use one of {', '.join(CI_METHODS)}")
    return method


@dataclass
class KaplanMeier:
    """Kaplan-Meier estimates of many groups, at the event times of each group.

    Attributes
    ----------
    groups
        One row per group (the group key columns), in the order of the group codes.
    gid, time, n_risk, events, surv, greenwood
        Arrays over the event rows (sorted by group, then time): group code, event time,
        number at risk, number of events, ``S(t)`` and the Greenwood sum ``sum d / (n (n - d))``
        (the variance of ``log S(t)``; ``inf`` once ``S`` reaches 0).
    starts, ends
        Slice of the event rows of each group.
    max_time, n_obs, n_events
        Per group: largest observed time (event or censored), observations, events.
    """

    groups: pd.DataFrame
    time: np.ndarray
    n_risk: np.ndarray
    events: np.ndarray
    surv: np.ndarray
    greenwood: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    max_time: np.ndarray
    n_obs: np.ndarray
    n_events: np.ndarray

    @property
    def gid(self) -> np.ndarray:
        """Group code of each event row (rebuilt from ``starts`` and ``ends``)."""
        return np.repeat(np.arange(self.n_groups, dtype=np.int64), self.ends - self.starts)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    def curves(self) -> pd.DataFrame:
        """The estimates as a tidy frame: group columns, time, n_risk, events, surv, se_log_surv."""
        out = self.groups.iloc[self.gid].reset_index(drop=True)
        out["time"] = self.time
        out["n_risk"] = self.n_risk
        out["events"] = self.events
        out["surv"] = self.surv
        out["se_log_surv"] = np.sqrt(self.greenwood)
        return out


def kaplan_meier_from_life_table(
    table: pd.DataFrame,
    group_cols: Sequence[str] = (),
    time_col: str = "time",
    events_col: str = "events",
    censored_col: str = "censored",
) -> KaplanMeier:
    """Kaplan-Meier estimates for every group of a life table in one vectorised pass.

    Parameters
    ----------
    table
        Life table: one row per group and time (rows with the same group and time are summed),
        with the number of events and of censored observations at that time. Times are any
        sortable numbers (duration bins, hours, days).
    group_cols
        Columns that identify a group (none: one group).

    Returns
    -------
    KaplanMeier
    """
    group_cols = list(group_cols)
    t = table[group_cols + [time_col, events_col, censored_col]]
    if group_cols:
        gid, uniques = _group_codes(t, group_cols)
    else:
        gid = np.zeros(len(t), dtype=np.int64)
        uniques = pd.DataFrame(index=range(1))
    time = t[time_col].to_numpy()
    d = t[events_col].to_numpy(dtype=np.float64)
    c = t[censored_col].to_numpy(dtype=np.float64)
    return _km_arrays(gid, time, d, c, uniques)


def _group_codes(t: pd.DataFrame, group_cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    grouped = t.groupby(group_cols, sort=True, observed=True, dropna=False)
    gid = grouped.ngroup().to_numpy(dtype=np.int64)
    uniques = grouped.size().index.to_frame(index=False)
    return gid, uniques


#: life-table rows from which the estimation runs on several threads (whole groups per thread)
PARALLEL_ROWS = 1_000_000


#: rows of the blocks in which quantile searches take logarithms (a buffer that stays in cache)
QUANTILE_BLOCK_ROWS = 65_536


def _group_parts(first_row: np.ndarray, parts: int | None = None) -> list[tuple[int, int, int, int]]:
    """Split groups into ``parts`` runs of whole groups with about equal rows: (g0, g1, r0, r1).

    ``first_row[g]`` is the first row of group ``g`` (rows sorted by group; one more entry: the
    number of rows). One part for small tables or one core.
    """
    n_groups, n_rows = len(first_row) - 1, int(first_row[-1])
    if parts is None:
        parts = min(os.cpu_count() or 1, 4) if n_rows >= PARALLEL_ROWS else 1
    cuts = np.unique(np.searchsorted(first_row, np.linspace(0, n_rows, parts + 1)[1:-1], side="left"))
    bounds = [0, *[int(b) for b in cuts if 0 < b < n_groups], n_groups]
    return [(g0, g1, int(first_row[g0]), int(first_row[g1])) for g0, g1 in zip(bounds[:-1], bounds[1:])]


def _run(parts, fn) -> list:
    """``fn(*part)`` for every part, on threads when there are several (the compiled loops and
    numpy's ufuncs release the GIL; parts write disjoint slices)."""
    if len(parts) == 1:
        return [fn(*parts[0])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(parts)) as pool:
        return list(pool.map(lambda p: fn(*p), parts))


def _km_arrays(gid, time, d, c, groups: pd.DataFrame, presorted: bool = False) -> KaplanMeier:
    """Core: arrays of a life table -> estimates.

    Rows may come in any order with repeated (group, time), unless ``presorted`` promises that
    they are sorted by group then time and unique. The bookkeeping (risk sets, cumulative sums)
    runs in compiled loops (:mod:`evaluation.kernels`); logarithms and exponentials in numpy.
    """
    from evaluation import kernels

    n_groups = len(groups)
    if not presorted:
        order = np.lexsort((time, gid))
        gid, time, d, c = gid[order], time[order], d[order], c[order]
    # merge repeated (group, time) rows
    if len(gid) > 1 and not presorted:
        new = np.empty(len(gid), dtype=bool)
        new[0] = True
        new[1:] = (gid[1:] != gid[:-1]) | (time[1:] != time[:-1])
        if not new.all():
            first = np.flatnonzero(new)
            d = np.add.reduceat(d, first)
            c = np.add.reduceat(c, first)
            gid, time = gid[first], time[first]
    gid = np.ascontiguousarray(gid, dtype=np.int64)
    time = np.ascontiguousarray(time)
    # counts stay integers when they are (the loops add them exactly either way)
    d = np.ascontiguousarray(d, dtype=d.dtype if d.dtype in (np.int64, np.float64) else np.float64)
    c = np.ascontiguousarray(c, dtype=c.dtype if c.dtype in (np.int64, np.float64) else np.float64)
    n_obs, n_events = np.zeros(n_groups), np.zeros(n_groups)
    max_time = np.full(n_groups, np.nan)
    event_rows = np.zeros(n_groups, np.int64)
    # whole groups per thread (groups are independent)
    parts = _group_parts(np.searchsorted(gid, np.arange(n_groups + 1), side="left"))
    _run(parts, lambda g0, g1, r0, r1: kernels.km_group_totals(gid, time, d, c, r0, r1, n_obs, n_events, max_time, event_rows))
    ends = np.cumsum(event_rows)
    starts = ends - event_rows
    m = int(ends[-1]) if n_groups else 0
    et, ed, n_risk = np.empty(m, time.dtype), np.empty(m), np.empty(m)
    surv, greenwood = np.empty(m), np.empty(m)

    def estimate(g0, g1, r0, r1):
        # Same arithmetic as statsmodels (log of 1 - d/n, cumulative sum from 0 in each group,
        # exp): where S(t) equals 1 - p exactly in exact arithmetic, which side a rounded S falls
        # on decides the quantile, and the same operations make both agree bit for bit.
        kernels.km_risk_sets(gid, time, d, c, r0, r1, n_obs, starts, et, ed, n_risk)
        any_fail = kernels.km_terms(ed, n_risk, starts, ends, g0, g1, surv, greenwood)
        rows = slice(starts[g0], ends[g1 - 1]) if g1 > g0 else slice(0, 0)
        np.log(surv[rows], out=surv[rows])
        kernels.segment_cumsum(surv, starts, ends, g0, g1)
        np.exp(surv[rows], out=surv[rows])
        if any_fail:
            kernels.km_finish(ed, n_risk, starts, ends, g0, g1, surv, greenwood)

    _run(parts, estimate)
    time, d = et, ed
    return KaplanMeier(
        groups=groups.reset_index(drop=True),
        time=time,
        n_risk=n_risk,
        events=d,
        surv=surv,
        greenwood=greenwood,
        starts=starts,
        ends=ends,
        max_time=max_time,
        n_obs=n_obs,
        n_events=n_events,
    )


def _pointwise(surv: np.ndarray, greenwood: np.ndarray, z: float, method: str):
    """Pointwise interval (low, high) of S(t) for the given transform."""
    se = np.sqrt(greenwood)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if method == "log":
            low = surv * np.exp(-z * se)
            high = np.minimum(surv * np.exp(z * se), 1.0)
        else:
            logs = np.log(surv)
            low = surv ** np.exp(-z * se / logs)
            high = surv ** np.exp(z * se / logs)
            low, high = np.minimum(low, high), np.maximum(low, high)
    zero_var = greenwood == 0
    low = np.where(zero_var, surv, low)
    high = np.where(zero_var, surv, high)
    return low, high


def km_quantiles(
    km: KaplanMeier, probs: Sequence[float] = (0.25, 0.5, 0.75), method: str = "log", alpha: float = 0.05
) -> pd.DataFrame:
    """Quantiles of the time to event with Brookmeyer-Crowley confidence intervals, per group.

    ``probs`` are probabilities of the event (0.5: the median time). Returns the group columns,
    ``prob``, ``estimate``, ``ci_low``, ``ci_high`` (``nan`` when the estimate is not reached
    within follow-up; ``ci_high`` is ``inf`` when the interval is open upwards).
    """
    from evaluation import kernels

    _check_method(method)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    n_groups = km.n_groups
    has_rows = km.ends > km.starts
    probs = [float(p) for p in probs]
    targets = np.array([1.0 - p for p in probs])
    g_targets = np.array([np.log(t) if method == "log" else np.log(-np.log(t)) for t in targets], dtype=np.float64)
    shape = (n_groups, len(probs))
    first, lo_i, hi_i = np.empty(shape, np.int64), np.empty(shape, np.int64), np.empty(shape, np.int64)
    first_row = np.append(km.starts, km.ends[-1] if n_groups else 0)

    def search(g0, g1, r0, r1):
        # log S (and log(-log S)) in numpy, as statsmodels, for a block of whole groups at a time
        # into a small buffer that stays in cache
        g = g0
        while g < g1:
            h = max(g + 1, int(np.searchsorted(first_row, first_row[g] + QUANTILE_BLOCK_ROWS, side="right")) - 1)
            h = min(h, g1)
            lo, hi = int(first_row[g]), int(first_row[h])
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log(km.surv[lo:hi])
                aux = np.log(-logs) if method == "loglog" else logs
            kernels.km_quantiles(km.surv, logs, aux, lo, km.greenwood, km.starts, km.ends, g, h, targets, g_targets,
                                 method == "loglog", z, first, lo_i, hi_i)
            g = h

    _run(_group_parts(first_row), search)
    frames = []
    for k, p in enumerate(probs):
        est = np.full(n_groups, np.nan)
        low = np.full(n_groups, np.nan)
        high = np.full(n_groups, np.nan)
        if km.ends[-1] if n_groups else 0:
            # Brookmeyer-Crowley: the interval runs from the first event time inside the set to
            # the event time after the last one inside it (open upwards past the last event)
            ok = has_rows & (first[:, k] >= 0)
            est[ok] = km.time[first[ok, k]]
            ok = has_rows & (lo_i[:, k] >= 0)
            low[ok] = km.time[lo_i[ok, k]]
            nxt = hi_i[:, k] + 1
            open_up = ok & (nxt >= km.ends)
            closed = ok & ~open_up
            high[open_up] = np.inf
            high[closed] = km.time[nxt[closed]]
        f = km.groups.copy()
        f["prob"] = p
        f["estimate"] = est
        f["ci_low"] = low
        f["ci_high"] = high
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def km_survival_at(
    km: KaplanMeier, times: Sequence[float], method: str = "log", alpha: float = 0.05
) -> pd.DataFrame:
    """``S(t)`` with its pointwise interval at the given times, per group.

    Returns the group columns, ``time``, ``surv``, ``ci_low``, ``ci_high``, ``beyond_follow_up``
    (``t`` is later than every observed time of the group and the curve has not reached 0:
    ``S(t)`` is not identified and is returned as missing; once every member had the event,
    ``S(t) = 0`` for all later ``t``).
    """
    from evaluation import kernels

    _check_method(method)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    frames = []
    n_groups = km.n_groups
    for t in times:
        # last event row of each group with time <= t
        pos = kernels.last_at_or_before(km.time, km.starts, km.ends, t)
        found = pos >= 0
        surv = np.ones(n_groups)
        gw = np.zeros(n_groups)
        surv[found] = km.surv[pos[found]]
        gw[found] = km.greenwood[pos[found]]
        low, high = _pointwise(surv, gw, z, method)
        # after the last observation S(t) is unknown, unless the curve already reached 0
        beyond = ~(km.max_time >= t) & ~(surv == 0.0)
        f = km.groups.copy()
        f["time"] = t
        f["surv"] = np.where(beyond, np.nan, surv)
        f["ci_low"] = np.where(beyond, np.nan, low)
        f["ci_high"] = np.where(beyond, np.nan, high)
        f["beyond_follow_up"] = beyond
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def km_median_event_only(table: pd.DataFrame, group_cols: Sequence[str], time_col="time", events_col="events") -> pd.DataFrame:
    """Median time among events only (the naive "closed requests only" median, biased downwards).

    Shown only to display the bias of ignoring censoring; lower median (numpy ``inverted_cdf``).
    """
    group_cols = list(group_cols)
    t = table.loc[table[events_col] > 0, group_cols + [time_col, events_col]].sort_values(group_cols + [time_col])
    if group_cols:
        g = t.groupby(group_cols, sort=True, observed=True)
        cum = g[events_col].cumsum()
        total = g[events_col].transform("sum")
        t = t.assign(_hit=cum >= total / 2)
        med = t[t["_hit"]].groupby(group_cols, sort=True, observed=True)[time_col].first()
        return med.rename("median_event_only").reset_index()
    cum = t[events_col].cumsum()
    hit = t.loc[cum >= t[events_col].sum() / 2, time_col]
    return pd.DataFrame({"median_event_only": [hit.iloc[0] if len(hit) else np.nan]})
