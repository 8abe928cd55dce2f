"""Compiled loops (numba) of the request pass: one pass over the rows of a request log.

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
cached on disk (:mod:`evaluation.compiled`), so only the first run on a machine compiles. The
Kaplan-Meier loops are in :mod:`evaluation.survival.kernels`.
"""

from __future__ import annotations

import numpy as np

from evaluation.compiled import jit
from evaluation.requests.durations import NS_PER_DAY
from evaluation.requests.quality import NAT

#: columns of the count table of :func:`request_pass` after the five rating codes
TABLE_COLUMNS = {"responded": 5, "resolved": 6, "reopened_any": 7, "in_km": 8, "events": 9}


@jit
def _period(day_lut, first_day, t):
    """Period index of local instant ``t`` from a table of days (periods start at local midnight):
    -1 before the first period, the number of periods after the last.
    """
    k = t // NS_PER_DAY - first_day + 1
    if k < 0:
        k = 0
    elif k >= len(day_lut):
        k = len(day_lut) - 1
    return day_lut[k]


def period_day_table(edges_local: np.ndarray) -> tuple[np.ndarray, int]:
    """Day -> period look-up for :func:`request_pass`: entry ``k`` is the period of local day
    ``first_day + k - 1``; the first entry is -1 (before), the last the number of periods (after).
    Period edges must be local midnights (as :func:`evaluation.requests._period_edges` makes).
    """
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


@jit
def earliest(c, flags, exclude_mask):
    """The earliest non-missing ``c`` of rows without an ``exclude_mask`` flag (NAT: none)."""
    best = np.iinfo(np.int64).max
    found = False
    for i in range(len(c)):
        if c[i] != NAT and (flags[i] & exclude_mask) == 0 and c[i] < best:
            best = c[i]
            found = True
    return best if found else NAT


@jit
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


@jit
def group_sizes(group, group_lut, sizes):
    """Rows per group code (``group_lut[group[i]]``, or ``group[i]`` when the table is empty)."""
    use_lut = len(group_lut) > 0
    for i in range(len(group)):
        g = np.int64(group[i])
        sizes[group_lut[g] if use_lut else g] += 1


@jit
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


@jit
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


@jit
def repeated_hashes(h, out):
    """Mark in ``out`` every row whose 64-bit hash occurs more than once; True when there is one.

    An open-addressing table of about 1.5 times as many slots as rows (linear probing, the hash
    multiplied by the golden ratio picks the slot) counts each hash in one pass; a second pass,
    only when some hash repeats, marks its rows. Hash 0 stands for 1 (0 marks an empty slot).
    """
    n = len(h)
    bits = 1
    while (1 << bits) < n + n // 2:
        bits += 1
    size = 1 << bits
    mask = size - 1
    shift = np.uint64(64 - bits)
    golden = np.uint64(0x9E3779B97F4A7C15)
    table = np.zeros(size, np.uint64)
    seen_twice = np.zeros(size, np.bool_)
    repeated = False
    for i in range(n):
        x = h[i]
        if x == 0:
            x = np.uint64(1)
        j = np.int64((x * golden) >> shift)
        while True:
            t = table[j]
            if t == 0:
                table[j] = x
                break
            if t == x:
                seen_twice[j] = True
                repeated = True
                break
            j = (j + 1) & mask
    if not repeated:
        return False
    for i in range(n):
        x = h[i]
        if x == 0:
            x = np.uint64(1)
        j = np.int64((x * golden) >> shift)
        while table[j] != x:
            j = (j + 1) & mask
        if seen_twice[j]:
            out[i] = True
    return True
