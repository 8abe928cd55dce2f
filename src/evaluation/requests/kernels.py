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

import os

import numpy as np

from evaluation.compiled import jit, on_threads
from evaluation.requests.durations import NS_PER_DAY
from evaluation.requests.quality import NAT

#: columns of the count table of :func:`request_pass` after the five rating codes
TABLE_COLUMNS = {"responded": 5, "resolved": 6, "reopened_any": 7, "in_km": 8, "events": 9}


@jit
def _period(day_lut, first_day, t):
    """Period index of local instant ``t``, from a table of days (periods start at local midnight).

    -1 before the first period, the number of periods after the last.
    """
    k = t // NS_PER_DAY - first_day + 1
    if k < 0:
        k = 0
    elif k >= len(day_lut):
        k = len(day_lut) - 1
    return day_lut[k]


def period_day_table(edges_local: np.ndarray) -> tuple[np.ndarray, int]:
    """Day -> period look-up for :func:`request_pass`, and the first day.

    Entry ``k`` is the period of local day ``first_day + k - 1``; the first entry is -1 (before),
    the last the number of periods (after). Period edges must be local midnights (as
    :func:`evaluation.requests._period_edges` makes).
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
def hash_partitions(h, partition_bits, rows):
    """Rows of ``h`` (64-bit hashes) grouped by partition.

    Returns the keys and the partition starts, and fills ``rows`` with the row numbers in the
    same order as the keys.

    The hash is multiplied by the golden ratio (so that even poor hashes spread) and its top
    ``partition_bits`` bits pick the partition. Each partition's keys then fit in a small table
    that stays in cache (:func:`repeated_in_partitions`); one table for all rows would miss the
    cache on nearly every probe. Hash 0 stands for 1 (0 marks an empty slot).
    """
    n = len(h)
    n_parts = 1 << partition_bits
    shift = np.uint64(64 - partition_bits)
    golden = np.uint64(0x9E3779B97F4A7C15)
    starts = np.zeros(n_parts + 1, np.int64)
    for i in range(n):
        starts[np.int64((h[i] * golden) >> shift) + 1] += 1
    for p in range(n_parts):
        starts[p + 1] += starts[p]
    pos = starts[:-1].copy()
    keys = np.empty(n, np.uint64)
    for i in range(n):
        x = h[i] * golden
        if x == 0:
            x = np.uint64(1)
        p = np.int64(x >> shift)
        keys[pos[p]] = x
        rows[pos[p]] = i
        pos[p] += 1
    return keys, starts


@jit
def repeated_in_partitions(keys, rows, starts, first, last, partition_bits, out):
    """Mark in ``out`` the rows of partitions ``first`` to ``last - 1`` whose key occurs more than once.

    Returns True when there is such a row. Per partition, an open-addressing table of at least
    1.5 times as many slots as keys (linear probing on the bits below the partition's) counts
    each key.
    """
    largest = 1
    for p in range(first, last):
        largest = max(largest, starts[p + 1] - starts[p])
    bits = 1
    while (1 << bits) < largest + largest // 2:
        bits += 1
    table = np.zeros(1 << bits, np.uint64)
    twice = np.zeros(1 << bits, np.bool_)
    repeated = False
    for p in range(first, last):
        a, b = starts[p], starts[p + 1]
        size = 2
        tb = 1
        while size < (b - a) + (b - a) // 2:
            size *= 2
            tb += 1
        mask = size - 1
        table[:size] = 0
        twice[:size] = False
        low = np.uint64(64 - tb)
        found = False
        for k in range(a, b):
            x = keys[k]
            j = np.int64((x << np.uint64(partition_bits)) >> low) & mask
            while True:
                t = table[j]
                if t == 0:
                    table[j] = x
                    break
                if t == x:
                    twice[j] = True
                    found = True
                    break
                j = (j + 1) & mask
        if not found:
            continue
        repeated = True
        for k in range(a, b):
            x = keys[k]
            j = np.int64((x << np.uint64(partition_bits)) >> low) & mask
            while table[j] != x:
                j = (j + 1) & mask
            if twice[j]:
                out[rows[k]] = True
    return repeated


#: the flags :func:`row_flags` sets, in the order of its ``bits`` argument
ROW_FLAGS = ("missing_created", "impossible_year", "created_after_cutoff", "close_before_create", "zero_duration",
             "resolved_after_cutoff", "date_only_stamp", "close_on_open", "closed_without_date")


@jit
def row_flags(flags, c, r, cl, status, status_kind, cutoff, lo, hi, offset, local_c, local_r, bits):
    """Set the row flags of :func:`evaluation.requests.quality.flag_requests` in one pass.

    ``c``, ``r``, ``cl``: creation, resolution and close stamps (UTC int64 ns, ``NAT`` missing);
    ``status``: status codes (-1 missing) and ``status_kind[code + 1]`` 1 for an open status, 2
    for a closed one, 0 otherwise; ``lo``/``hi``: the plausible range; local wall-clock time is
    the stamp plus ``offset`` when ``local_c`` is empty, else ``local_c``/``local_r`` (a zone whose
    offset changes within the log). ``bits``: the bit of each name of :data:`ROW_FLAGS`.
    """
    use_offset = len(local_c) == 0
    for i in range(len(flags)):
        f = flags[i]
        ci, ri = c[i], r[i]
        has_c, has_r = ci != NAT, ri != NAT
        if not has_c:
            f |= bits[0]
        if (has_c and (ci < lo or ci >= hi)) or (has_r and (ri < lo or ri >= hi)):
            f |= bits[1]
        if has_c and ci > cutoff:
            f |= bits[2]
        if has_c and has_r:
            if ri < ci:
                f |= bits[3]
            elif ri == ci:
                f |= bits[4]
        if has_r and ri > cutoff:
            f |= bits[5]
        lc = ci + offset if use_offset else local_c[i]
        lr = ri + offset if use_offset else local_r[i]
        if (has_c and lc % NS_PER_DAY == 0) or (has_r and lr % NS_PER_DAY == 0):
            f |= bits[6]
        kind = status_kind[status[i] + 1]
        if kind == 1 and (has_r or cl[i] != NAT):
            f |= bits[7]
        elif kind == 2 and not has_r:
            f |= bits[8]
        flags[i] = f


#: keys per partition of the duplicate check (a table of 2**16 slots, 1 MB with its marks, fits in cache)
KEYS_PER_PARTITION = 1 << 15


def repeated_hashes(h: np.ndarray, out: np.ndarray, threads: int | None = None) -> bool:
    """Mark in ``out`` every row whose 64-bit hash occurs more than once; True when there is one.

    The hashes are grouped into partitions of about :data:`KEYS_PER_PARTITION` keys
    (:func:`hash_partitions`, two sequential passes) and each partition is checked with a small
    table (:func:`repeated_in_partitions`), the partitions shared among ``threads`` threads (the
    machine's cores by default). Exact for the hashes: equal hashes are always found.
    """
    n = len(h)
    if n < 2:
        return False
    bits = 1  # at least two partitions: a shift by 64 bits is undefined
    while (n >> bits) > KEYS_PER_PARTITION and bits < 16:
        bits += 1
    rows = np.empty(n, np.int32 if n < 2**31 else np.int64)
    keys, starts = hash_partitions(np.ascontiguousarray(h, dtype=np.uint64), bits, rows)
    n_parts = 1 << bits
    t = max(1, min(threads or os.cpu_count() or 1, n_parts))
    bounds = [n_parts * k // t for k in range(t + 1)]
    found = on_threads(lambda a, b: repeated_in_partitions(keys, rows, starts, a, b, bits, out),
                       [(bounds[k], bounds[k + 1]) for k in range(t)])
    return any(found)


@jit
def string_hashes(offsets, data, valid, out):
    """64-bit hashes of the strings of an Arrow string array, straight from its buffers.

    ``offsets`` and ``data`` are the array's offsets and bytes (no copy of the strings is made),
    ``valid`` its validity (empty: no missing value; missing ids all hash alike). FNV-1a over
    the bytes, finished by the splitmix64 mixer so that the top bits that pick a partition in
    :func:`hash_partitions` are well spread. Equal strings always hash alike; the rare collision
    of different ones is resolved by the exact comparison of :func:`later_copies`.
    """
    prime = np.uint64(0x100000001B3)
    for i in range(len(out)):
        if len(valid) and not valid[i]:
            out[i] = np.uint64(0x9E3779B97F4A7C15)
            continue
        h = np.uint64(0xCBF29CE484222325)
        for k in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[k])) * prime
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
        out[i] = h


def string_buffers(chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets, bytes and validity of an Arrow string array, as numpy views of its buffers.

    No copy is made; other types are cast to text first. An empty validity array means no value
    is missing.
    """
    import pyarrow as pa  # noqa: PLC0415 - pyarrow is loaded by then; keeps this module's import light

    if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        chunk = chunk.cast(pa.large_string())
    n = len(chunk)
    _, off_buf, data_buf = chunk.buffers()
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=width)[chunk.offset : chunk.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    valid = np.asarray(chunk.is_valid()) if chunk.null_count else np.zeros(0, np.bool_)
    return offsets, data, valid


@jit
def any_padded(offsets, data):
    """True when some string starts or ends with a blank.

    A blank is an ASCII space, tab or line break, or the ideographic space U+3000 of Chinese text
    (bytes E3 80 80).
    """
    for i in range(len(offsets) - 1):
        a, b = offsets[i], offsets[i + 1]
        if a == b:
            continue
        first, last = data[a], data[b - 1]
        if first == 32 or first == 9 or first == 10 or first == 13 or last == 32 or last == 9 or last == 10 \
                or last == 13:
            return True
        if b - a >= 3 and ((data[a] == 0xE3 and data[a + 1] == 0x80 and data[a + 2] == 0x80)
                           or (data[b - 3] == 0xE3 and data[b - 2] == 0x80 and data[b - 1] == 0x80)):
            return True
    return False
