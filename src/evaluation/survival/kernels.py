"""Compiled loops (numba) of the grouped Kaplan-Meier estimation.

Risk sets, running sums, quantile searches and survival look-ups over a sorted life table, whole
groups per thread. Only integer counting and the IEEE operations ``+ - * /`` and comparisons
happen here; logarithms and exponentials stay in numpy (:mod:`evaluation.survival.estimation`),
whose vectorised implementations statsmodels also uses, so the estimates stay bit-identical to
``statsmodels.duration.survfunc.SurvfuncRight`` (a cumulative sum computed in a loop adds in the
same order as ``numpy.cumsum``). The module is imported lazily (numba takes about half a second
to import); compiled code is cached on disk (:mod:`evaluation.compiled`).
"""

from __future__ import annotations

import numpy as np

from evaluation.compiled import jit


@jit
def km_group_totals(gid, time, d, c, lo, hi, n_obs, n_events, max_time, event_rows):
    """Per-group totals of rows ``lo:hi`` of a life table sorted by group then time.

    Adds each group's observations, events and number of event rows (``d > 0``) to ``n_obs``,
    ``n_events`` and ``event_rows``, and sets ``max_time`` to its largest time.
    """
    for i in range(lo, hi):
        g = gid[i]
        n_obs[g] += d[i] + c[i]
        n_events[g] += d[i]
        max_time[g] = time[i]
        if d[i] > 0:
            event_rows[g] += 1


@jit
def km_risk_sets(gid, time, d, c, lo, hi, n_obs, starts, et, ed, er):
    """The event rows of rows ``lo:hi`` (whole groups) of a life table.

    Written from ``starts[g]`` on for group ``g``: time (``et``), events (``ed``) and number at
    risk (``er``: observations of the group with time >= this time).
    """
    prev = -1
    j = 0
    left = 0.0
    for i in range(lo, hi):
        g = gid[i]
        if g != prev:
            j = starts[g]
            left = n_obs[g]
            prev = g
        if d[i] > 0:
            et[j] = time[i]
            ed[j] = d[i]
            er[j] = left
            j += 1
        left -= d[i] + c[i]


@jit
def km_terms(d, n_risk, starts, ends, g_lo, g_hi, log_arg, greenwood):
    """Per event row of groups ``g_lo:g_hi``: the log argument of the product-limit factor, and the Greenwood sum.

    ``log_arg = 1 - d / n`` (1 where every one at risk had the event: that row and every later
    one of the group get S = 0 and an infinite Greenwood sum, see :func:`km_finish`);
    ``greenwood`` is the running sum of ``d / (n (n - d))`` from 0 in each group, in the order
    and with the operations statsmodels uses. Returns whether any group reached S = 0.
    """
    any_fail = False
    for g in range(g_lo, g_hi):
        acc = 0.0
        for i in range(starts[g], ends[g]):
            q = d[i] / n_risk[i]
            if q >= 1:
                log_arg[i] = 1.0
                any_fail = True
            else:
                log_arg[i] = 1.0 - q
                acc += d[i] / ((n_risk[i] - d[i]) * n_risk[i])
            greenwood[i] = acc
    return any_fail


@jit
def segment_cumsum(x, starts, ends, g_lo, g_hi):
    """Cumulative sum of ``x`` in place, restarting from 0 in each of the segments ``g_lo:g_hi``.

    The additions are those of ``numpy.cumsum``, in the same order, so the sums are the same bits.
    """
    for g in range(g_lo, g_hi):
        acc = 0.0
        for i in range(starts[g], ends[g]):
            acc += x[i]
            x[i] = acc


@jit
def km_finish(d, n_risk, starts, ends, g_lo, g_hi, surv, greenwood):
    """Set S = 0 and an infinite Greenwood sum where survival has reached zero, in groups ``g_lo:g_hi``.

    That is every row of a group from the first one where everyone at risk had the event on.
    """
    for g in range(g_lo, g_hi):
        zero = False
        for i in range(starts[g], ends[g]):
            if not zero and d[i] / n_risk[i] >= 1:
                zero = True
            if zero:
                surv[i] = 0.0
                greenwood[i] = np.inf


@jit
def km_quantiles(time, surv, logs, aux, base, greenwood, starts, ends, g_lo, g_hi, targets, g_targets, loglog, z,
                 est, low, high):
    """Per group of ``g_lo:g_hi`` and target ``1 - p``: the quantile and its Brookmeyer-Crowley interval.

    Written to ``est[g, k]``, ``low[g, k]``, ``high[g, k]`` (left as they are, nan, when not reached).

    The quantile is the first event time with ``S < target``; the interval runs from the first
    event time inside the set ``|g(S) - g(target)| / se(g(S)) <= z`` to the event time after the
    last one inside it, as statsmodels ``quantile_ci`` computes it with the same operations; and,
    as R ``survfit`` (``conf.type = "log"``) prints it, no upper limit (``nan``, R's NA) when the set
    reaches the last event or the next event is where the curve reaches 0 (statsmodels gives ``inf``
    or that time there). ``greenwood`` is the variance of ``log S`` (its square root,
    IEEE-exact, the standard error); ``logs`` is ``log S`` and ``aux`` ``log(-log S)`` for the
    log-log transform (unused for "log"), both of rows ``base`` on; ``g_targets`` are
    ``log(target)`` or ``log(-log(target))``.
    """
    n_targets = len(targets)
    first = np.empty(n_targets, np.int64)
    lo = np.empty(n_targets, np.int64)
    hi = np.empty(n_targets, np.int64)
    for g in range(g_lo, g_hi):
        first[:] = -1
        lo[:] = -1
        hi[:] = -1
        for i in range(starts[g], ends[g]):
            se_log = np.sqrt(greenwood[i])
            for k in range(n_targets):
                if first[k] < 0 and surv[i] < targets[k]:
                    first[k] = i
                if loglog:
                    r = (aux[i - base] - g_targets[k]) / (-se_log / logs[i - base])
                else:
                    r = (logs[i - base] - g_targets[k]) / se_log
                if abs(r) <= z:
                    if lo[k] < 0:
                        lo[k] = i
                    hi[k] = i
        for k in range(n_targets):
            if first[k] >= 0:
                est[g, k] = time[first[k]]
            if lo[k] >= 0:
                low[g, k] = time[lo[k]]
                j = hi[k] + 1
                # R survfit: no upper limit (NA) past the last event, nor at an event where S reaches 0
                high[g, k] = time[j] if j < ends[g] and surv[j] > 0.0 else np.nan


@jit
def km_survival_at(time, surv, greenwood, starts, ends, g_lo, g_hi, times, out_surv, out_greenwood):
    """Per group of ``g_lo:g_hi`` and time ``t``: ``S`` and the Greenwood sum at ``t``.

    The values at the last event time ``<= t`` (1 and 0 before the first event), written to
    ``out_surv[g, k]`` and ``out_greenwood[g, k]``.
    """
    for g in range(g_lo, g_hi):
        for k in range(len(times)):
            lo, hi = starts[g], ends[g]
            while lo < hi:
                mid = (lo + hi) >> 1
                if time[mid] <= times[k]:
                    lo = mid + 1
                else:
                    hi = mid
            if lo > starts[g]:
                out_surv[g, k] = surv[lo - 1]
                out_greenwood[g, k] = greenwood[lo - 1]
            else:
                out_surv[g, k] = 1.0
                out_greenwood[g, k] = 0.0


@jit
def lower_median_of_events(time, events, starts, ends, g_lo, g_hi, n_events, out):
    """Per group of ``g_lo:g_hi``, the lower median time among events only.

    The time of the first event row where the running count of events reaches half of the
    group's events (rows sorted by time), written to ``out[g]``.
    """
    for g in range(g_lo, g_hi):
        cum = 0.0
        for i in range(starts[g], ends[g]):
            cum += events[i]
            if cum >= n_events[g] / 2:
                out[g] = time[i]
                break
