"""Compiled loops (numba) for the request pass and grouped Kaplan-Meier estimation.

The request indicators reduce a log of millions of rows to small tables. Written with numpy,
that reduction made a dozen temporary arrays per step, and the Kaplan-Meier bookkeeping over a
life table of millions of rows as many more: 4.6 s for 10 M requests on a 2-core machine, where
a per-group statsmodels loop for the medians alone takes 3-5 s. These loops do the same work in
one pass each, on every core, in 0.6-0.8 s (``benchmarks/requests.py`` measures both). No
library does this reduction: statsmodels estimates one group at a time from raw durations.

Only integer counting and the IEEE operations ``+ - * /`` and comparisons happen here.
Logarithms and exponentials stay in numpy, whose vectorised implementations statsmodels also
uses, so the estimates stay bit-identical to ``statsmodels.duration.survfunc.SurvfuncRight``
(a cumulative sum computed in a loop adds in the same order as ``numpy.cumsum``).

The module is imported lazily (numba takes about half a second to import); compiled code is
cached on disk next to this file (``cache=True``), so only the first run on a machine compiles.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evaluation.durations import NS_PER_DAY

NAT = np.iinfo(np.int64).min

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: columns of the count table of :func:`request_pass` after the five rating codes
TABLE_COLUMNS = {"responded": 5, "resolved": 6, "reopened_any": 7, "in_km": 8, "events": 9}


@njit(**_JIT)
def _period(day_lut, first_day, t):
    """Period index of local instant ``t`` from a table of days (periods start at local midnight):
    -1 before the first period, the number of periods after the last."""
    k = t // NS_PER_DAY - first_day + 1
    if k < 0:
        k = 0
    elif k >= len(day_lut):
        k = len(day_lut) - 1
    return day_lut[k]


def period_day_table(edges_local: np.ndarray) -> tuple[np.ndarray, int]:
    """Day -> period look-up for :func:`request_pass`: entry ``k`` is the period of local day
    ``first_day + k - 1``; the first entry is -1 (before), the last the number of periods (after).
    Period edges must be local midnights (as :func:`evaluation.requests._period_edges` makes)."""
    if np.any(edges_local % NS_PER_DAY):
        raise ValueError("period edges must be local midnights")
    first_day = int(edges_local[0] // NS_PER_DAY)
    n_days = int(edges_local[-1] // NS_PER_DAY) - first_day
    day_starts = (np.arange(n_days, dtype=np.int64) + first_day) * NS_PER_DAY
    lut = np.empty(n_days + 2, dtype=np.int64)
    lut[0] = -1
    lut[1:-1] = np.searchsorted(edges_local, day_starts, side="right") - 1
    lut[-1] = len(edges_local) - 1
    return lut, first_day


@njit(**_JIT)
def earliest(c, flags, exclude_mask):
    """The earliest non-missing ``c`` of rows without an ``exclude_mask`` flag (NAT: none)."""
    best = np.iinfo(np.int64).max
    found = False
    for i in range(len(c)):
        if c[i] != NAT and (flags[i] & exclude_mask) == 0 and c[i] < best:
            best = c[i]
            found = True
    return best if found else NAT


@njit(**_JIT)
def request_pass(flags, c, r, f, local_c, local_r, offset, rating, rating_lut, reopened, group, group_lut, bins_in,
                 day_lut, first_day,
                 cutoff, bin_ns, exclude_mask, duration_mask, close_on_open_bit, sla_ns, flag_bits,
                 table, flag_counts, resolutions, excluded, key_bins, dest_of_group, key_pos, keys):
    """One pass over a block of requests, adding to the accumulators.

    Parameters
    ----------
    flags, c, r, f
        Quality-flag bits and the created / resolved / first-response instants (UTC int64 ns,
        ``NAT`` missing).
    local_c, local_r, offset
        Local wall-clock instants of ``c`` and ``r``; when both are empty the local time is the
        UTC instant plus the constant ``offset`` (ns).
    rating, rating_lut, reopened, group, group_lut
        Rating code (0-4) ``rating_lut[rating[i]]``, reopen count (> 0: reopened), group code of the ``by``
        columns ``group_lut[group[i]]`` (``group[i]`` itself when ``group_lut`` is empty); raw
        code -1 takes a table's last entry.
    bins_in
        Precomputed duration bins (working time), or empty: calendar bins
        ``floor((end - c) / bin_ns)``, at least 0.
    day_lut, first_day
        Period of each local day (:func:`period_day_table`).
    close_on_open_bit
        Bit of ``close_on_open`` when such requests count as open (0: they count as resolved).
    sla_ns
        Response SLA in ns, or a negative number for "any response by the cut-off".
    table, flag_counts, resolutions, excluded
        Accumulators: ``table[cell, k]`` counts requests with rating code ``k`` (0-4), and
        ``table[cell, TABLE_COLUMNS[name]]`` responded, resolved, reopened, in the Kaplan-Meier
        estimate and events (resolved, in the estimate); 16 counters a cell keep one cell's
        counts in one cache line (32-bit counters: a block has fewer than 2**31 rows);
        ``flag_counts[flag, cell]``,
        ``resolutions[group * n_periods + period of resolution]``, ``excluded[0]`` (requests
        left out) and ``excluded[1 + flag]``.
    key_bins, dest_of_group, key_pos, keys
        Life-table keys ``(cell * key_bins + bin) * 2 + event`` of the requests in the
        Kaplan-Meier estimate are written to ``keys[key_pos[d]]``, ``d`` the destination of the
        request's group (one range of whole groups per thread), and ``key_pos[d]`` advanced.

    Returns
    -------
    int
        The largest bin.
    """
    n_periods = day_lut[-1]
    use_local = len(local_c) > 0
    use_bins = len(bins_in) > 0
    use_group_lut = len(group_lut) > 0
    n_flags = len(flag_bits)
    max_bin = 0
    for i in range(len(c)):
        gi = np.int64(group[i])
        if use_group_lut:
            gi = group_lut[gi]
        fl = flags[i]
        ci = c[i]
        p = -1
        if ci != NAT and (fl & exclude_mask) == 0:
            p = _period(day_lut, first_day, local_c[i] if use_local else ci + offset)
        if p < 0 or p >= n_periods:
            excluded[0] += 1
            if fl != 0:
                for j in range(n_flags):
                    if fl & flag_bits[j]:
                        excluded[1 + j] += 1
            continue
        cell = gi * n_periods + p
        ri = r[i]
        resolved = ri != NAT and ri <= cutoff and (fl & close_on_open_bit) == 0
        in_km = (fl & duration_mask) == 0
        fi = f[i]
        responded = fi != NAT and fi <= cutoff
        if responded and sla_ns >= 0:
            responded = (fi - ci) <= sla_ns
        table[cell, rating_lut[rating[i]]] += 1
        table[cell, 5] += responded
        table[cell, 6] += resolved
        table[cell, 7] += reopened[i] > 0
        table[cell, 8] += in_km
        table[cell, 9] += in_km and resolved
        if fl != 0:
            for j in range(n_flags):
                if fl & flag_bits[j]:
                    flag_counts[j, cell] += 1
        if resolved:
            rp = _period(day_lut, first_day, local_r[i] if use_local else ri + offset)
            if rp < p:
                rp = p
            if rp > n_periods - 1:
                rp = n_periods - 1
            resolutions[gi * n_periods + rp] += 1
        if in_km:
            if use_bins:
                b = bins_in[i]
            else:
                b = ((ri if resolved else cutoff) - ci) // bin_ns
                if b < 0:
                    b = 0
            if b > max_bin:
                max_bin = b
            d = dest_of_group[gi]
            keys[key_pos[d]] = (cell * key_bins + b) * 2 + np.int64(resolved)
            key_pos[d] += 1
    return max_bin


@njit(**_JIT)
def group_sizes(group, group_lut, sizes):
    """Rows per group code (``group_lut[group[i]]``, or ``group[i]`` when the table is empty)."""
    use_lut = len(group_lut) > 0
    for i in range(len(group)):
        g = np.int64(group[i])
        sizes[group_lut[g] if use_lut else g] += 1


@njit(**_JIT)
def count_distinct_pairs(keys):
    """Number of distinct ``key >> 1`` in sorted keys (the rows :func:`count_runs` writes)."""
    m = 0
    prev = -1
    for i in range(len(keys)):
        cb = keys[i] >> 1
        if cb != prev:
            m += 1
            prev = cb
    return m


@njit(**_JIT)
def count_runs(keys, key_bins, cell, bins, events, censored, rows_per_cell):
    """Sorted keys ``(cell * key_bins + bin) * 2 + event`` -> life-table rows.

    Fills ``cell``, ``bins``, ``events``, ``censored`` (one row per distinct (cell, bin), sized
    by :func:`count_distinct_pairs`) and adds the rows of each cell to ``rows_per_cell``.
    Outputs are allocated by the caller: numpy maps large arrays on huge pages, which makes
    their first use several times cheaper than an allocation inside compiled code.
    """
    j = -1
    prev = -1
    current = 0
    base = 0
    n_ev = 0
    n_ce = 0
    for i in range(len(keys)):
        k = np.int64(keys[i])
        cb = k >> 1
        if cb != prev:
            if j >= 0:
                events[j] = n_ev
                censored[j] = n_ce
            n_ev = 0
            n_ce = 0
            j += 1
            while cb >= base + key_bins:  # keys are sorted: the cell only ever moves up
                current += 1
                base += key_bins
            cell[j] = current
            bins[j] = cb - base
            rows_per_cell[current] += 1
            prev = cb
        n_ev += k & 1
        n_ce += 1 - (k & 1)
    if j >= 0:
        events[j] = n_ev
        censored[j] = n_ce


@njit(**_JIT)
def km_group_totals(gid, time, d, c, lo, hi, n_obs, n_events, max_time, event_rows):
    """Rows ``lo:hi`` of a life table sorted by group then time: per group, observations,
    events, largest time and number of event rows (``d > 0``)."""
    for i in range(lo, hi):
        g = gid[i]
        n_obs[g] += d[i] + c[i]
        n_events[g] += d[i]
        max_time[g] = time[i]
        if d[i] > 0:
            event_rows[g] += 1


@njit(**_JIT)
def km_risk_sets(gid, time, d, c, lo, hi, n_obs, starts, et, ed, er):
    """Rows ``lo:hi`` (whole groups) -> the event rows, from ``starts[g]`` on for group ``g``:
    time, events and number at risk (observations of the group with time >= this time)."""
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


@njit(**_JIT)
def km_terms(d, n_risk, starts, ends, g_lo, g_hi, log_arg, greenwood):
    """Groups ``g_lo:g_hi``, per event row: the argument of the log of the product-limit factor
    and the Greenwood sum.

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


@njit(**_JIT)
def segment_cumsum(x, starts, ends, g_lo, g_hi):
    """In place, segments ``g_lo:g_hi``: cumulative sum restarting from 0 in each segment (the
    additions of ``numpy.cumsum``, in the same order)."""
    for g in range(g_lo, g_hi):
        acc = 0.0
        for i in range(starts[g], ends[g]):
            acc += x[i]
            x[i] = acc


@njit(**_JIT)
def km_finish(d, n_risk, starts, ends, g_lo, g_hi, surv, greenwood):
    """Groups ``g_lo:g_hi``: from the first row where everyone at risk had the event on,
    S = 0 and an infinite Greenwood sum."""
    for g in range(g_lo, g_hi):
        zero = False
        for i in range(starts[g], ends[g]):
            if not zero and d[i] / n_risk[i] >= 1:
                zero = True
            if zero:
                surv[i] = 0.0
                greenwood[i] = np.inf


@njit(**_JIT)
def km_quantiles(time, surv, logs, aux, base, greenwood, starts, ends, g_lo, g_hi, targets, g_targets, loglog, z,
                 est, low, high):
    """Per group of ``g_lo:g_hi`` and target ``1 - p``: the quantile and its Brookmeyer-Crowley
    interval, written to ``est[g, k]``, ``low[g, k]``, ``high[g, k]`` (left as they are, nan,
    when not reached).

    The quantile is the first event time with ``S < target``; the interval runs from the first
    event time inside the set ``|g(S) - g(target)| / se(g(S)) <= z`` to the event time after the
    last one inside it (``inf`` past the last event), as statsmodels ``quantile_ci`` computes it
    with the same operations. ``greenwood`` is the variance of ``log S`` (its square root,
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
                high[g, k] = time[hi[k] + 1] if hi[k] + 1 < ends[g] else np.inf


@njit(**_JIT)
def km_survival_at(time, surv, greenwood, starts, ends, g_lo, g_hi, times, out_surv, out_greenwood):
    """Per group of ``g_lo:g_hi`` and time ``t``: ``S`` and the Greenwood sum at the last event
    time ``<= t`` (1 and 0 before the first event), written to ``out_*[g, k]``."""
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


@njit(**_JIT)
def lower_median_of_events(time, events, starts, ends, g_lo, g_hi, n_events, out):
    """Per group of ``g_lo:g_hi``, the lower median time among events only: the first event row
    where the running count of events reaches half of the group's events (rows sorted by time)."""
    for g in range(g_lo, g_hi):
        cum = 0.0
        for i in range(starts[g], ends[g]):
            cum += events[i]
            if cum >= n_events[g] / 2:
                out[g] = time[i]
                break
