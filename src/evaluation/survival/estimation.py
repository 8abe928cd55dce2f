"""Grouped Kaplan-Meier estimation from a life table.

A request log of millions of rows is first reduced to a *life table*: one row per group and
distinct duration with the number of events (resolutions) and of right-censored observations
(requests still open at the cut-off) at that duration. Everything here works on that table, for
all groups at once: the bookkeeping (risk sets, running sums, quantile searches) in compiled loops
(:mod:`evaluation.survival.kernels`) over whole groups per thread, logarithms and exponentials in numpy.

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
  that set, as statsmodels ``quantile_ci(p, method=...)`` computes it, except where R and
  statsmodels part: R ``survfit`` prints no upper limit (NA) when the set reaches the last event or
  when the next event is the one at which the curve reaches 0, and so does this estimate (``nan``;
  statsmodels gives ``inf``, or that last time). With ``method="log"`` this is the interval R prints
  for ``survfit`` by default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from evaluation.errors import OptionError

CI_METHODS = {
    "log": "Greenwood variance, log-transformed pointwise interval (R survival default)",
    "loglog": "Greenwood variance, log-log-transformed pointwise interval (Brookmeyer-Crowley with log-log)",
}



def _check_method(method: str) -> str:
    if method not in CI_METHODS:
        raise OptionError(f"unknown confidence-interval method {method!r}; use one of {', '.join(CI_METHODS)}")
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
        """The number of groups (rows of ``groups``), each with its own curve; codes run from 0 to this minus 1."""
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


#: event rows per block of the estimation when only summaries are wanted (buffers that stay in
#: cache and are reused; no arrays as long as the table) and per block of logarithms in searches
BLOCK_ROWS = 65_536


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


def _blocks(first_row: np.ndarray, g0: int, g1: int, rows: int):
    """Runs of whole groups of ``g0:g1`` with at most ``rows`` rows each (or one group)."""
    g = g0
    while g < g1:
        h = int(np.searchsorted(first_row, first_row[g] + rows, side="right")) - 1
        h = min(max(h, g + 1), g1)
        yield g, h
        g = h


def _run(parts, fn) -> list:
    """``fn(*part)`` for every part, on threads when there are several.

    Threads suffice: the compiled loops and numpy's ufuncs release the GIL, and parts write
    disjoint slices.
    """
    if len(parts) == 1:
        return [fn(*parts[0])]

    with ThreadPoolExecutor(len(parts)) as pool:
        return list(pool.map(lambda p: fn(*p), parts))


def _life_arrays(gid, time, d, c, presorted: bool):
    """Arrays of a life table sorted by group then time with unique (group, time)."""
    if not presorted:
        order = np.lexsort((time, gid))
        gid, time, d, c = gid[order], time[order], d[order], c[order]
        # merge repeated (group, time) rows
        if len(gid) > 1:
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
    return gid, time, d, c


class _Estimation:
    """Kaplan-Meier estimation of every group of a sorted life table, whole groups per thread.

    Per group totals come first; then, for a run of groups, :meth:`estimate` fills event-row
    arrays (time, events, number at risk, S, Greenwood sum) at the positions ``starts`` gives.
    Same arithmetic as statsmodels (log of 1 - d/n, cumulative sum from 0 in each group, exp):
    where S(t) equals 1 - p exactly in exact arithmetic, which side a rounded S falls on decides
    the quantile, and the same operations make both agree bit for bit.
    """

    def __init__(self, gid, time, d, c, n_groups: int):
        from evaluation.survival import kernels  # noqa: PLC0415 - deferred: numba loads (0.5 s) only when estimating

        self.kernels = kernels
        self.gid, self.time, self.d, self.c, self.n_groups = gid, time, d, c, n_groups
        self.n_obs, self.n_events = np.zeros(n_groups), np.zeros(n_groups)
        self.max_time = np.full(n_groups, np.nan)
        event_rows = np.zeros(n_groups, np.int64)
        self.life_first = np.searchsorted(gid, np.arange(n_groups + 1), side="left")
        self.parts = _group_parts(self.life_first)
        _run(self.parts, lambda g0, g1, r0, r1: kernels.km_group_totals(gid, time, d, c, r0, r1, self.n_obs,
                                                                         self.n_events, self.max_time, event_rows))
        self.ends = np.cumsum(event_rows)
        self.starts = self.ends - event_rows
        self.event_first = np.append(self.starts, self.ends[-1] if n_groups else 0)

    def estimate(self, g0: int, g1: int, starts, ends, arrays) -> None:
        """Groups ``g0:g1`` into ``arrays`` (time, events, n_risk, surv, greenwood) at ``starts``."""
        k = self.kernels
        et, ed, er, surv, greenwood = arrays
        k.km_risk_sets(self.gid, self.time, self.d, self.c, int(self.life_first[g0]), int(self.life_first[g1]),
                       self.n_obs, starts, et, ed, er)
        any_fail = k.km_terms(ed, er, starts, ends, g0, g1, surv, greenwood)
        rows = slice(starts[g0], ends[g1 - 1])
        np.log(surv[rows], out=surv[rows])
        k.segment_cumsum(surv, starts, ends, g0, g1)
        np.exp(surv[rows], out=surv[rows])
        if any_fail:
            k.km_finish(ed, er, starts, ends, g0, g1, surv, greenwood)


def _km_arrays(gid, time, d, c, groups: pd.DataFrame, presorted: bool = False) -> KaplanMeier:
    """Core: arrays of a life table -> estimates.

    Rows may come in any order with repeated (group, time), unless ``presorted`` promises that
    they are sorted by group then time and unique. The bookkeeping (risk sets, cumulative sums)
    runs in compiled loops (:mod:`evaluation.survival.kernels`); logarithms and exponentials in numpy.
    """
    n_groups = len(groups)
    gid, time, d, c = _life_arrays(gid, time, d, c, presorted)
    est = _Estimation(gid, time, d, c, n_groups)
    m = int(est.event_first[-1])
    arrays = (np.empty(m, time.dtype), np.empty(m), np.empty(m), np.empty(m), np.empty(m))
    _run(est.parts, lambda g0, g1, r0, r1: est.estimate(g0, g1, est.starts, est.ends, arrays) if g1 > g0 else None)
    return KaplanMeier(groups=groups.reset_index(drop=True), time=arrays[0], n_risk=arrays[2], events=arrays[1],
                       surv=arrays[3], greenwood=arrays[4], starts=est.starts, ends=est.ends, max_time=est.max_time,
                       n_obs=est.n_obs, n_events=est.n_events)


@dataclass
class _Searches:
    """What to look up on each group's curve, and where the answers go (per group)."""

    probs: tuple[float, ...]
    times: tuple[float, ...]
    method: str
    alpha: float
    median_events: bool
    n_groups: int

    def __post_init__(self):
        _check_method(self.method)
        self.z = NormalDist().inv_cdf(1 - self.alpha / 2)
        self.targets = np.array([1.0 - p for p in self.probs])
        self.g_targets = np.array([np.log(t) if self.method == "log" else np.log(-np.log(t)) for t in self.targets],
                                  dtype=np.float64)
        shape = (self.n_groups, len(self.probs))
        self.est, self.low, self.high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        shape = (self.n_groups, len(self.times))
        self.surv_at, self.greenwood_at = np.ones(shape), np.zeros(shape)
        self.median = np.full(self.n_groups, np.nan)

    def run(self, g0: int, g1: int, starts, ends, time, events, surv, greenwood, n_events) -> None:
        """Search the curves of groups ``g0:g1`` (event rows at ``starts``..``ends``)."""
        from evaluation.survival import kernels  # noqa: PLC0415 - deferred: numba loads (0.5 s) only when estimating

        if self.probs:
            # log S (and log(-log S)) in numpy, as statsmodels, a block of groups at a time
            first_row = np.append(starts[g0:g1], ends[g1 - 1])
            for b0, b1 in _blocks(first_row, 0, g1 - g0, BLOCK_ROWS):
                lo, hi = int(first_row[b0]), int(first_row[b1])
                with np.errstate(divide="ignore", invalid="ignore"):
                    logs = np.log(surv[lo:hi])
                    aux = np.log(-logs) if self.method == "loglog" else logs
                kernels.km_quantiles(time, surv, logs, aux, lo, greenwood, starts, ends, g0 + b0, g0 + b1, self.targets,
                                     self.g_targets, self.method == "loglog", self.z, self.est, self.low, self.high)
        if self.times:
            kernels.km_survival_at(time, surv, greenwood, starts, ends, g0, g1, np.asarray(self.times, dtype=np.float64),
                                   self.surv_at, self.greenwood_at)
        if self.median_events:
            kernels.lower_median_of_events(time, events, starts, ends, g0, g1, n_events, self.median)

    def quantile_frame(self, groups: pd.DataFrame) -> pd.DataFrame:
        frames = []
        for k, p in enumerate(self.probs):
            f = groups.copy()
            f["prob"] = p
            f["estimate"] = self.est[:, k]
            f["ci_low"] = self.low[:, k]
            f["ci_high"] = self.high[:, k]
            frames.append(f)
        if not frames:
            return groups.iloc[:0].assign(prob=np.float64(0), estimate=np.float64(0), ci_low=np.float64(0),
                                          ci_high=np.float64(0))
        return pd.concat(frames, ignore_index=True)

    def survival_frame(self, groups: pd.DataFrame, max_time: np.ndarray) -> pd.DataFrame:
        frames = []
        for k, t in enumerate(self.times):
            surv, gw = self.surv_at[:, k], self.greenwood_at[:, k]
            low, high = _pointwise(surv, gw, self.z, self.method)
            # after the last observation S(t) is unknown, unless the curve already reached 0
            beyond = ~(max_time >= t) & ~(surv == 0.0)
            f = groups.copy()
            f["time"] = t
            f["surv"] = np.where(beyond, np.nan, surv)
            f["ci_low"] = np.where(beyond, np.nan, low)
            f["ci_high"] = np.where(beyond, np.nan, high)
            f["beyond_follow_up"] = beyond
            frames.append(f)
        if not frames:
            return groups.iloc[:0].assign(time=np.float64(0), surv=np.float64(0), ci_low=np.float64(0),
                                          ci_high=np.float64(0), beyond_follow_up=False)
        return pd.concat(frames, ignore_index=True)


def _search_km(km: KaplanMeier, searches: _Searches) -> _Searches:
    _run(_group_parts(np.append(km.starts, km.ends[-1] if km.n_groups else 0)),
         lambda g0, g1, r0, r1: searches.run(g0, g1, km.starts, km.ends, km.time, km.events, km.surv, km.greenwood,
                                             km.n_events) if g1 > g0 else None)
    return searches


@dataclass
class KMSummary:
    """Per-group summaries of Kaplan-Meier curves (:func:`km_summaries`), without the curves."""

    groups: pd.DataFrame
    n_obs: np.ndarray
    n_events: np.ndarray
    max_time: np.ndarray
    quantiles: pd.DataFrame
    survival: pd.DataFrame
    median_events_only: np.ndarray


def km_summaries(
    gid, time, d, c, groups: pd.DataFrame, probs: Sequence[float] = (0.25, 0.5, 0.75), times: Sequence[float] = (),
    method: str = "log", alpha: float = 0.05, presorted: bool = False,
) -> KMSummary:
    """Summaries of every group of a life table, without keeping the curves.

    Quantiles with Brookmeyer-Crowley intervals, ``S(t)`` with pointwise intervals and the
    events-only median. The same estimates as :func:`km_quantiles` and :func:`km_survival_at` on the
    :class:`KaplanMeier` of the table (bit for bit: test), computed a block of groups at a time
    in buffers that are reused, so a life table of millions of rows needs no more arrays as long.
    """
    n_groups = len(groups)
    gid, time, d, c = _life_arrays(gid, time, d, c, presorted)
    est = _Estimation(gid, time, d, c, n_groups)
    searches = _Searches(tuple(float(p) for p in probs), tuple(float(t) for t in times), method, alpha, True, n_groups)

    def part(g0, g1, r0, r1):
        if g1 <= g0:
            return
        size = max(BLOCK_ROWS, int(np.max(est.ends[g0:g1] - est.starts[g0:g1])))
        buffers = (np.empty(size, time.dtype), np.empty(size), np.empty(size), np.empty(size), np.empty(size))
        for b0, b1 in _blocks(est.event_first, g0, g1, BLOCK_ROWS):
            base = est.starts[b0]
            starts, ends = est.starts - base, est.ends - base
            est.estimate(b0, b1, starts, ends, buffers)
            searches.run(b0, b1, starts, ends, buffers[0], buffers[1], buffers[3], buffers[4], est.n_events)

    _run(est.parts, part)
    groups = groups.reset_index(drop=True)
    return KMSummary(groups, est.n_obs, est.n_events, est.max_time, searches.quantile_frame(groups),
                     searches.survival_frame(groups, est.max_time), searches.median)


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
    within follow-up; ``ci_high`` is ``nan`` when the interval is open upwards, as R prints NA).
    """
    searches = _Searches(tuple(float(p) for p in probs), (), method, alpha, False, km.n_groups)
    return _search_km(km, searches).quantile_frame(km.groups)


def km_survival_at(
    km: KaplanMeier, times: Sequence[float], method: str = "log", alpha: float = 0.05
) -> pd.DataFrame:
    """``S(t)`` with its pointwise interval at the given times, per group.

    Returns the group columns, ``time``, ``surv``, ``ci_low``, ``ci_high``, ``beyond_follow_up``
    (``t`` is later than every observed time of the group and the curve has not reached 0:
    ``S(t)`` is not identified and is returned as missing; once every member had the event,
    ``S(t) = 0`` for all later ``t``).
    """
    searches = _Searches((), tuple(float(t) for t in times), method, alpha, False, km.n_groups)
    return _search_km(km, searches).survival_frame(km.groups, km.max_time)


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
