"""The grouped pass: a request log of millions of rows -> small partial tables, in one pass.

A pass over the rows (compiled, :mod:`evaluation.requests.kernels`, on every core, each thread
taking whole groups) reduces the log to integer sums: counts per group and period, resolutions
per period (for the backlog) and a *life table* (group, duration bin, events, censored). Chunks
of a pandas log and partitions of a Dask log give partial tables that are summed
(:func:`combine`), so both engines give the same tables (:func:`normalise` puts them in one
canonical order).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from tqdm import tqdm

from evaluation.calendar import WorkCalendar
from evaluation.compiled import on_threads
from evaluation.dataset.privacy import kind_by_content, kind_by_header
from evaluation.errors import MissingInputError, OptionError, PersonalDataError
from evaluation.periods import period_edges
from evaluation.requests.durations import NS_PER_DAY, NS_PER_SECOND, working_clock
from evaluation.requests.log import RequestLog
from evaluation.requests.partitioned import Parts, read_part, scheduler
from evaluation.requests.quality import (
    FIRST_PLAUSIBLE_YEAR,
    FLAG_BITS,
    NAT,
    QualityPolicy,
    _local_ns,
    _to_ns,
    _tz_offset,
)

MISSING_LABEL = "(missing)"

@dataclass(frozen=True)
class _Spec:
    by: tuple[str, ...]
    period: str
    edges_local: np.ndarray  # local naive ns of period starts, plus the end of the last one
    labels: tuple[str, ...]
    cutoff_ns: int
    timezone: str
    resolution_seconds: int
    time: str
    clock: object
    response_sla_seconds: float | None
    policy: QualityPolicy
    threads: int = 1  # threads of the row pass (the pandas engine uses the machine's cores)


@dataclass
class GroupedTables:
    """The small tables a log is reduced to (integer sums), by the ``by`` columns and period.

    Attributes
    ----------
    counts
        One row per group and creation period: ``n`` (requests), ``responded``, ``resolved``,
        ``rated``, one column per rating, ``reopened_any``, ``in_km`` (in the Kaplan-Meier
        estimate), ``events``, ``censored`` and ``flag_<name>`` (requests with each quality flag).
    life
        The life table: group, period, ``bin`` (whole resolution steps from creation to resolution
        or to the cut-off), ``events``, ``censored``.
    resolutions
        Requests resolved per group and period of resolution (for the backlog).
    """

    counts: pd.DataFrame
    life: pd.DataFrame
    resolutions: pd.DataFrame  # keys + period (of resolution) + resolved
    #: cell codes of the three tables' rows when they are already the canonical ones of
    #: _normalise (one chunk with unique labels); None after combining chunks
    cells: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of a column as ``(raw, lut, labels)``: the code of row ``i`` is ``lut[raw[i]]``.

    ``raw`` is the column's own integer codes (a categorical's, without a copy, or those of
    ``pandas.factorize``), -1 for missing; ``lut`` maps them, with -1 taking its last entry, to
    codes of ``labels``, which are the labels as sorted strings (missing -> ``MISSING_LABEL``),
    so that a single chunk's cells are already the canonical ones of :func:`_normalise`.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        raw = s.cat.codes.to_numpy()
        cats = np.asarray(s.cat.categories.astype("str"), dtype=object)
    else:
        raw, uniq = pd.factorize(s, use_na_sentinel=True)
        cats = np.asarray(pd.Index(uniq).astype("str"), dtype=object)
    k = len(cats)
    lut = np.arange(k + 1, dtype=np.int64)  # entry k: missing
    if (raw < 0).any():
        cats = np.append(cats, MISSING_LABEL)
    order = np.argsort(cats, kind="stable")
    rank = np.empty(len(cats), dtype=np.int64)
    rank[order] = np.arange(len(cats))
    lut[: len(cats)] = rank
    return raw, lut, cats[order]


#: the row pass uses another thread for every this many rows, up to the machine's cores
ROWS_PER_THREAD = 1_000_000


#: rows of a pandas log reduced at once: the pass needs about 30 bytes a row beyond the log
#: itself, and combining the partial tables of several chunks costs more than the pass, so
#: chunks are large (a progress bar counts them)
DEFAULT_CHUNK_ROWS = 20_000_000


def _reduce_chunk(df: pd.DataFrame, spec: _Spec) -> GroupedTables:
    """One chunk of the log -> partial counts, life table and resolutions (all integer sums).

    One compiled pass over the rows (:func:`evaluation.requests.kernels.request_pass`) fills the count
    accumulators and writes a life-table key per request in the Kaplan-Meier estimate; the keys
    are sorted (``numpy.sort``, in 32 bits when they fit) and their runs counted.
    """
    from evaluation.requests import kernels  # noqa: PLC0415 - deferred: numba loads (0.5 s) only when a log is reduced

    n_rows = len(df)
    # grouping codes: by columns, mixed radix (computed on the whole chunk: consistent codes)
    # (one column: its own codes and a look-up table, resolved in the row pass; several: combined)
    radices, cats_list, coded = [], [], []
    for col in spec.by:
        raw, lut, cats = _codes(df[col])
        coded.append((raw, lut))
        radices.append(len(cats))
        cats_list.append(cats)
    if len(coded) == 1:
        graw, glut = coded[0]
    else:
        graw = np.zeros(n_rows, dtype=np.int64)
        for (raw, lut), rad in zip(coded, radices):
            graw = graw * rad + lut[raw]
        glut = np.zeros(0, np.int64)  # identity
    n_periods = len(spec.labels)
    n_cells = int(np.prod(radices, dtype=np.int64)) * n_periods if radices else n_periods
    flags = df["quality_flags"].to_numpy(dtype=np.int64)
    c, r, f = _to_ns(df["created_at"]), _to_ns(df["resolved_at"]), _to_ns(df["first_response_at"])
    rating, rating_lut = _rating_codes(df["rating"]) if "rating" in df.columns else (np.zeros(n_rows, np.uint8), np.zeros(1, np.uint8))
    policy = spec.policy
    close_bit = FLAG_BITS["close_on_open"] if policy.close_on_open == "status" else 0
    # local time: a constant offset over the range of both stamps, or converted arrays.
    # Instants more than a day before the first period start are local times before it whatever
    # the offset (|offset| < 1 day), so the offset need be constant only from there on.
    hi = max(int(c.max(initial=NAT)), int(r.max(initial=NAT)), spec.cutoff_ns)
    offset = _tz_offset(np.array([int(spec.edges_local[0]) - NS_PER_DAY, hi], dtype=np.int64), spec.timezone)
    none = np.zeros(0, np.int64)
    lc = lr = none
    if offset is None:
        lc, lr = _local_ns(c, spec.timezone), _local_ns(r, spec.timezone)
    bins = none
    if spec.time == "working":
        resolved = (r != NAT) & (r <= spec.cutoff_ns) & ((flags & close_bit) == 0)
        end = np.where(resolved, r, spec.cutoff_ns)
        le = _local_ns(end, spec.timezone, offset)
        lcc = _local_ns(c, spec.timezone, offset)
        secs = spec.clock.seconds_at(le) - spec.clock.seconds_at(np.where(c != NAT, lcc, le))
        bins = np.floor_divide(np.maximum(secs, 0.0), spec.resolution_seconds).astype(np.int64)
    bin_ns = spec.resolution_seconds * NS_PER_SECOND
    # an upper bound of any bin: kept requests were created (local) after the first period start,
    # so at most cut-off minus that start plus the largest UTC offset (14 h) and a day of slack
    key_bins = int((spec.cutoff_ns - int(spec.edges_local[0])) // bin_ns + (2 * NS_PER_DAY) // bin_ns + 1)
    keys = np.empty(n_rows, dtype=np.int32 if n_cells * key_bins * 2 < np.iinfo(np.int32).max else np.int64)
    flag_names = list(FLAG_BITS)
    flag_bits = np.array([FLAG_BITS[k] for k in flag_names], dtype=np.int64)
    sla_ns = -1.0 if spec.response_sla_seconds is None else spec.response_sla_seconds * NS_PER_SECOND
    day_lut, first_day = kernels.period_day_table(spec.edges_local)
    reopened = _reopened(df)

    # The row pass runs on a contiguous block of rows per thread; each thread writes the key of
    # a request to the region of its group's destination, one run of whole groups (about equal
    # rows) per thread, so that each destination's keys, sorted on its own thread, follow the
    # previous destination's in order. Integer sums: the result does not depend on the split.
    n_groups = n_cells // n_periods
    n_parts = max(1, min(spec.threads, n_rows // ROWS_PER_THREAD, n_groups))
    row_bounds = np.linspace(0, n_rows, n_parts + 1).astype(np.int64).tolist()
    sizes = np.zeros((n_parts, n_groups), np.int64)  # rows of each group in each thread's block
    on_threads(lambda t: kernels.group_sizes(graw[row_bounds[t] : row_bounds[t + 1]], glut, sizes[t]),
                [(t,) for t in range(n_parts)])
    cum = np.concatenate(([0], np.cumsum(sizes.sum(axis=0))))
    cuts = np.searchsorted(cum, np.linspace(0, n_rows, n_parts + 1)[1:-1], side="left")
    bounds = [0, *sorted({int(b) for b in cuts if 0 < b < n_groups}), n_groups]
    dest_of_group = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    per = np.add.reduceat(sizes, bounds[:-1], axis=1)  # (threads, destinations): an upper bound of keys
    region = cum[bounds[:-1]]
    sub_start = region[None, :] + np.cumsum(per, axis=0) - per
    key_bins_ok = True

    def row_pass(t: int):
        nonlocal key_bins_ok
        lo, hi = row_bounds[t], row_bounds[t + 1]
        acc = (np.zeros((n_cells, 16), np.int32 if hi - lo < np.iinfo(np.int32).max else np.int64),
               np.zeros((len(flag_names), n_cells), np.int64),
               np.zeros(n_cells, np.int64), np.zeros(1 + len(flag_names), np.int64))
        key_pos = sub_start[t].copy()
        max_bin = kernels.request_pass(
            flags[lo:hi], c[lo:hi], r[lo:hi], f[lo:hi], lc[lo:hi], lr[lo:hi], 0 if offset is None else offset,
            rating[lo:hi], rating_lut, reopened[lo:hi], graw[lo:hi], glut, bins[lo:hi], day_lut, first_day,
            spec.cutoff_ns, bin_ns, policy.mask("exclude"), policy.mask("exclude_durations"), close_bit, sla_ns,
            flag_bits, *acc, key_bins, dest_of_group, key_pos, keys)
        key_bins_ok &= max_bin < key_bins
        return acc, key_pos - sub_start[t]

    passes = on_threads(row_pass, [(t,) for t in range(n_parts)])
    if not key_bins_ok:  # pragma: no cover - the bound above is a proof, this guards a change to it
        raise AssertionError(f"a duration bin beyond the key range {key_bins}")
    table, flag_counts, rc, excl = (sum(a[k] for a, _ in passes) for k in range(4))
    written = np.stack([w for _, w in passes])  # (threads, destinations)

    def sort_destination(d: int):
        """Gather destination d's keys from each thread's sub-region, sort, count (cell, bin)."""
        pos = int(region[d])
        for t in range(n_parts):
            n, start = int(written[t, d]), int(sub_start[t, d])
            if start != pos:
                keys[pos : pos + n] = keys[start : start + n]
            pos += n
        part = keys[int(region[d]) : pos]
        part.sort()
        return pos - int(region[d]), kernels.count_distinct_pairs(part)

    results = on_threads(sort_destination, [(d,) for d in range(len(bounds) - 1)])
    ranges = [(bounds[d], bounds[d + 1], int(region[d])) for d in range(len(bounds) - 1)]
    table = table.astype(np.int64)
    col = {name: table[:, k] for name, k in kernels.TABLE_COLUMNS.items()}
    counts = {"n": table[:, :5].sum(axis=1), "responded": col["responded"], "resolved": col["resolved"],
              "rated": table[:, 1:4].sum(axis=1), **{name: table[:, code] for name, code in _RATING_CODE.items()},
              "reopened_any": col["reopened_any"], "in_km": col["in_km"], "events": col["events"],
              "censored": col["in_km"] - col["events"]}
    counts.update({f"flag_{name}": flag_counts[j] for j, name in enumerate(flag_names)})
    present = np.flatnonzero(counts["n"] > 0)
    counts_df = _label_frame(present, spec, radices, cats_list)
    counts_df = _with_columns(counts_df, {name: v[present].astype(np.int64) for name, v in counts.items()} | {"excluded": 0})
    # life table: count the runs of each thread's sorted keys into one set of arrays (allocated
    # here, see count_runs), each thread from its offset
    m = sum(d for _, d in results)
    life_cols = (np.empty(m, np.int64), np.empty(m, np.int32 if key_bins < np.iinfo(np.int32).max else np.int64),
                 np.empty(m, np.int64), np.empty(m, np.int64))
    rows_per_cell = np.zeros(n_cells, np.int64)
    out_start = np.cumsum([0] + [d for _, d in results])

    def runs(k: int):
        (_, _, key_start), (n_keys, _) = ranges[k], results[k]
        lo, hi = out_start[k], out_start[k + 1]
        kernels.count_runs(keys[key_start : key_start + n_keys], key_bins, *(a[lo:hi] for a in life_cols), rows_per_cell)

    on_threads(runs, [(k,) for k in range(len(ranges))])
    keys = None  # the key array is not needed any more: free it before the life table is built
    cell_life = life_cols[0]
    life_df = _label_frame(cell_life, spec, radices, cats_list, rows_per_cell)
    life_df = _with_columns(life_df, dict(zip(("bin", "events", "censored"), life_cols[1:])))
    rpresent = np.flatnonzero(rc > 0)
    res_df = _label_frame(rpresent, spec, radices, cats_list)
    res_df["resolved"] = rc[rpresent].astype(np.int64)
    # totals of excluded requests per flag (not in any cell: totals only)
    counts_df.attrs["excluded"] = {"excluded": int(excl[0]), **{f"flag_{k}": int(excl[1 + j]) for j, k in enumerate(flag_names)}}
    canonical = all(len(set(cats)) == len(cats) for cats in cats_list)
    return GroupedTables(counts_df, life_df, res_df, (present, cell_life, rpresent) if canonical else None)


def _with_columns(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``frame`` with more columns, built in one concatenation (no copy per column)."""
    extra = pd.DataFrame(columns, index=frame.index, copy=False)
    return pd.concat([frame, extra], axis=1)


def _reopened(df: pd.DataFrame) -> np.ndarray:
    """Reopen counts as numbers (a view of an integer column, no copy); > 0 means reopened."""
    if "reopened" not in df.columns:
        return np.zeros(len(df), np.uint8)
    ro = df["reopened"]
    if isinstance(ro.dtype, np.dtype) and ro.dtype.kind in "iub":
        return ro.to_numpy()
    if ro.dtype.kind in "iub":  # nullable integers or booleans: missing counts as not reopened
        return ro.to_numpy(dtype=np.int64, na_value=0)
    return pd.to_numeric(ro, errors="coerce").fillna(0).to_numpy(dtype=np.float64)


_RATING_CODE = {"satisfied": 1, "basically_satisfied": 2, "dissatisfied": 3, "not_reached": 4}


def _rating_codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Rating as ``(raw, lut)``: the code of row ``i`` is ``lut[raw[i]]`` (-1 takes the last entry).

    Codes: 0 none/other, 1 satisfied, 2 basically satisfied, 3 dissatisfied, 4 not reached.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        lut = np.array([_RATING_CODE.get(str(c), 0) for c in s.cat.categories] + [0], dtype=np.uint8)
        return s.cat.codes.to_numpy(), lut
    out = np.zeros(len(s), dtype=np.uint8)
    for name, code in _RATING_CODE.items():
        out[(s == name).fillna(False).to_numpy(dtype=bool)] = code
    return out, np.arange(len(_RATING_CODE) + 1, dtype=np.uint8)


def _label_frame(cells: np.ndarray, spec: _Spec, radices, cats_list, rows_per_cell: np.ndarray | None = None) -> pd.DataFrame:
    """Label columns (categoricals) of mixed-radix cell codes.

    With ``rows_per_cell`` (the cells are sorted and cell ``k`` has that many rows) the codes are
    decoded once per cell and repeated, as a life table of millions of rows has only thousands of
    cells; otherwise per row. Codes are valid by construction, so pandas need not check them.
    """
    n_periods = len(spec.labels)
    uniq = cells if rows_per_cell is None else np.flatnonzero(rows_per_cell)
    columns = {}
    g, period = np.divmod(uniq, n_periods)
    for col, rad, cats in zip(reversed(spec.by), reversed(radices), reversed(cats_list)):
        g, code = np.divmod(g, rad)
        columns[col] = (code, pd.Index(cats, dtype="str"))
    columns["period"] = (period, pd.Index(list(spec.labels), dtype="str"))
    out = {}
    for col in list(spec.by) + ["period"]:
        code, cats = columns[col]
        small = code.astype(np.int32 if len(cats) < 2**31 else np.int64)
        if rows_per_cell is not None:
            small = np.repeat(small, rows_per_cell[uniq])
        out[col] = pd.Categorical.from_codes(small, categories=cats, validate=False)
    return pd.DataFrame(out, index=pd.RangeIndex(len(cells)), copy=False)


def _combine(parts: Sequence[GroupedTables], keys: list[str]) -> GroupedTables:
    """Sum partial tables (all integer counts: the order of summation cannot change a result).

    Rows are matched on their cell in the union of the parts' labels (sorted, as
    :func:`_normalise` orders them) and summed after one stable sort of integer keys; each part
    is already sorted, so the sort merges runs. The result is in canonical order.
    """
    if len(parts) == 1:
        return parts[0]
    cat_keys = keys + ["period"]
    tables = [(p.counts, p.life, p.resolutions) for p in parts]
    union = {k: np.asarray(sorted(set().union(*(set(t[k].cat.categories) for ts in tables for t in ts))), dtype=object)
             for k in cat_keys}
    radices = [len(union[k]) for k in cat_keys]

    def cell(t: pd.DataFrame) -> np.ndarray:
        code = np.zeros(len(t), dtype=np.int64)
        for k, n in zip(cat_keys, radices):
            rank = np.searchsorted(union[k], np.asarray(t[k].cat.categories, dtype=object))
            code = code * n + rank[t[k].cat.codes.to_numpy()]
        return code

    def labels(cells: np.ndarray) -> dict:
        out, rest = {}, cells
        for k, n in zip(reversed(cat_keys), reversed(radices)):
            rest, code = np.divmod(rest, n)
            out[k] = pd.Categorical.from_codes(code.astype(np.int32 if n < 2**31 else np.int64),
                                               categories=pd.Index(union[k], dtype="str"), validate=False)
        return {k: out[k] for k in cat_keys}

    def summed(which: int, with_bin: bool):
        frames = [ts[which] for ts in tables]
        values = [c for c in frames[0].columns if c not in cat_keys and c != "bin" and c != "_cell"]
        cells = np.concatenate([cell(f) for f in frames])
        if with_bin:
            bins = np.concatenate([f["bin"].to_numpy().astype(np.int64) for f in frames])
            width = int(bins.max()) + 1 if len(bins) else 1
            key = cells * width + bins
        else:
            key = cells
        order = np.argsort(key, kind="stable")  # runs already sorted: a merge
        key = key[order]
        start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        uniq = key[start]
        out_cells = uniq // width if with_bin else uniq
        columns = labels(out_cells)
        if with_bin:
            columns["bin"] = (uniq - out_cells * width).astype(frames[0]["bin"].dtype)
        for c in values:
            v = np.concatenate([f[c].to_numpy() for f in frames])[order]
            columns[c] = np.add.reduceat(v, start) if len(start) else v[:0]
        return pd.DataFrame(columns, index=pd.RangeIndex(len(uniq)), copy=False), out_cells

    excluded = dict.fromkeys(parts[0].counts.attrs.get("excluded", {}), 0)
    for p in parts:
        for k, v in p.counts.attrs.get("excluded", {}).items():
            excluded[k] += v
    (counts, c_cells), (life, l_cells), (res, r_cells) = (summed(0, False), summed(1, True), summed(2, False))
    counts.attrs["excluded"] = excluded
    return GroupedTables(counts, life, res, (c_cells, l_cells, r_cells))


def _normalise(p: GroupedTables, keys: list[str]) -> GroupedTables:
    """Canonical row order and dtypes, so both engines give byte-identical tables."""
    cat_keys = keys + ["period"]
    tables = (p.counts, p.life, p.resolutions)
    union = {k: np.asarray(sorted(set().union(*(set(t[k].cat.categories) for t in tables))), dtype=object) for k in cat_keys}

    def cell(t):
        code = np.zeros(len(t), dtype=np.int64)
        for k in cat_keys:
            rank = np.searchsorted(union[k], np.asarray(t[k].cat.categories, dtype=object))
            code = code * len(union[k]) + rank[t[k].cat.codes.to_numpy()]
        return code

    excluded = p.counts.attrs.get("excluded", {})
    out = []
    for i, (t, extra) in enumerate(zip(tables, ([], ["bin"], []))):
        if p.cells is not None:  # one chunk, labels sorted and unique: rows in canonical order already
            out.append(_with_columns(t, {"_cell": p.cells[i]}))  # (no copy of the codes)
            continue
        cc = cell(t)
        if extra:
            b = t["bin"].to_numpy()
            in_order = bool(np.all((cc[1:] > cc[:-1]) | ((cc[1:] == cc[:-1]) & (b[1:] > b[:-1]))))
            order = None if in_order else np.lexsort((b, cc))
        else:
            order = None if bool(np.all(cc[1:] > cc[:-1])) else np.argsort(cc, kind="stable")
        if order is not None:  # a single pandas chunk with sorted categories is already in order
            t = t.iloc[order].reset_index(drop=True)
            cc = cc[order]
        t = t.copy(deep=False)  # copy-on-write: adding a column never touches the partial's data
        t["_cell"] = cc
        out.append(t)
    c, life, r = out
    for k in cat_keys:  # the small tables get plain string labels
        c[k] = c[k].astype("str")
        r[k] = r[k].astype("str")
    c.attrs["excluded"] = excluded
    return GroupedTables(c, life, r)


def _make_spec(log: RequestLog, by, period, time, resolution_seconds, response_sla_hours, policy, calendar=None) -> _Spec:
    tz = log.timezone
    resolution_seconds = log.resolution_seconds if resolution_seconds is None else resolution_seconds
    if log.is_dask:
        start = _earliest_in_parts(log.data, tz) or log.cutoff
    else:
        created = log.data["created_at"]
        bits = log.data["quality_flags"].to_numpy(dtype=np.int64)
        from evaluation.requests import kernels  # noqa: PLC0415 - deferred: numba loads (0.5 s) only when a log is reduced

        earliest = kernels.earliest(_to_ns(created), bits, FLAG_BITS["impossible_year"] | FLAG_BITS["created_after_cutoff"])
        if earliest == NAT:
            start = log.cutoff
        elif isinstance(created.dtype, pd.DatetimeTZDtype):
            start = pd.Timestamp(earliest, tz="UTC").tz_convert(created.dt.tz)
        else:
            start = pd.Timestamp(earliest)
    edges, labels = period_edges(start, log.cutoff, period)
    clock = None
    if time == "working":
        cal = calendar
        if cal is None:

            years = range(start.year, log.cutoff.year + 1)
            cal = WorkCalendar.china(years) if log.calendar == "china" else WorkCalendar.weekdays()
        first_day = int(edges[0] // NS_PER_DAY) - 1
        last_day = int(_local_ns(np.array([log.cutoff.value]), tz)[0] // NS_PER_DAY) + 1
        clock = working_clock(cal, first_day, last_day)
    elif time != "calendar":
        raise OptionError(f"time must be 'calendar' or 'working', not {time!r}")
    return _Spec(
        by=tuple(by), period=period, edges_local=edges, labels=labels, cutoff_ns=log.cutoff.value,
        timezone=tz, resolution_seconds=int(resolution_seconds), time=time, clock=clock,
        response_sla_seconds=None if response_sla_hours is None else float(response_sla_hours) * 3600.0,
        policy=policy,
    )


def _earliest_in_parts(parts: Parts, tz: str) -> pd.Timestamp | None:
    """The earliest plausible creation stamp of a partitioned log, from the Parquet statistics."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - pyarrow's Parquet metadata, only for partitioned logs

    lo = pd.Timestamp(f"{FIRST_PLAUSIBLE_YEAR}-01-01", tz="UTC")
    best = None
    for f in parts.files:
        meta = pq.ParquetFile(f).metadata
        names = [meta.schema.column(j).name for j in range(meta.num_columns)]
        if "created_at" not in names:
            continue
        j = names.index("created_at")
        for g in range(meta.num_row_groups):
            st = meta.row_group(g).column(j).statistics
            if st is None or not st.has_min_max:
                continue
            m = pd.Timestamp(st.min)
            m = m.tz_localize(tz) if m.tzinfo is None else m
            m = max(m, lo)
            best = m if best is None or m < best else best
    return None if best is None else best.tz_convert(tz)


def _reduce_part(parts: Parts, k: int, spec: _Spec) -> GroupedTables:
    """Part ``k`` of a partitioned log, read, flagged and reduced (one Dask task)."""
    cutoff = pd.Timestamp(spec.cutoff_ns, tz="UTC").tz_convert(spec.timezone)
    return _reduce_chunk(read_part(parts, k, cutoff, spec.timezone), spec)


def _grouped_pass(log: RequestLog, spec: _Spec, engine: str, chunk_rows: int, progress: bool | None,
                  npartitions: int | None, address: str | None = None) -> GroupedTables:
    keys = list(spec.by)
    if engine == "pandas":
        spec = replace(spec, threads=os.cpu_count() or 1)
        if log.is_dask:
            raise OptionError("this log is partitioned Parquet left on disk; use engine='dask' (--engine dask)")
        df = log.data
        n = len(df)
        starts = list(range(0, max(n, 1), chunk_rows))
        show = progress if progress is not None else (n > 2 * chunk_rows and sys.stderr.isatty())
        bar = _progress(len(starts), show, "requests (chunks)")
        parts = []
        for s in starts:
            parts.append(_reduce_chunk(df.iloc[s : s + chunk_rows], spec))
            bar.update(1)
        bar.close()
        return _normalise(_combine(parts, keys), keys)
    if engine != "dask":
        raise OptionError(f"engine must be 'pandas' or 'dask', not {engine!r}")
    import dask  # noqa: PLC0415 - optional: the dask extra, only for --engine dask

    if log.is_dask:
        delayed_parts = [dask.delayed(_reduce_part)(log.data, k, spec) for k in range(len(log.data.files))]
    else:
        df = log.data
        size = max(1, -(-len(df) // (npartitions or max(1, len(df) // chunk_rows + 1))))
        delayed_parts = [dask.delayed(_reduce_chunk)(df.iloc[s : s + size], spec) for s in range(0, max(len(df), 1), size)]
    # tree reduction keeps memory flat: never more than `fan_in` partials in one task
    fan_in = 8
    level = delayed_parts
    while len(level) > 1:
        level = [dask.delayed(_combine)(level[i : i + fan_in], keys) for i in range(0, len(level), fan_in)]
    show = progress if progress is not None else sys.stderr.isatty()
    with scheduler(address):
        if show and address is None:
            from dask.diagnostics import ProgressBar  # noqa: PLC0415 - optional: the dask extra

            with ProgressBar(out=sys.stderr):
                (result,) = dask.compute(level[0])
        else:
            (result,) = dask.compute(level[0])
    return _normalise(result, keys)


class _NoBar:
    def update(self, k):
        pass

    def close(self):
        pass


def _progress(total: int, show: bool, desc: str):
    if not show:
        return _NoBar()
    try:

        return tqdm(total=total, desc=desc, file=sys.stderr)
    except ImportError:  # pragma: no cover
        return _NoBar()


def grouped_tables(log: RequestLog, by: Sequence[str] = (), period: str = "month", *, time: str = "calendar",
                   resolution_seconds: int | None = None, policy: QualityPolicy | None = None,
                   engine: str = "pandas", chunk_rows: int = DEFAULT_CHUNK_ROWS) -> GroupedTables:
    """Reduce ``log`` to its :class:`GroupedTables` by ``by`` and creation ``period``.

    The one reduction behind the request indicators and the impact panels, so that both treat
    every flagged request the same way (``policy``). ``resolution_seconds`` defaults to the log's
    stamp resolution.
    """
    policy = policy or QualityPolicy()
    by = _check_by(log, by)
    spec = _make_spec(log, by, period, time, resolution_seconds, None, policy)
    return _grouped_pass(log, spec, engine, chunk_rows, False, None)


def life_table(
    log: RequestLog,
    by: Sequence[str] = (),
    period: str = "month",
    time: str = "calendar",
    resolution_seconds: int | None = None,
    engine: str = "pandas",
    policy: QualityPolicy | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> pd.DataFrame:
    """The life table of time to resolution: by columns, period, ``bin``, ``hours``, events, censored.

    ``bin`` counts whole ``resolution_seconds`` (default: the log's stamp resolution) from creation
    to resolution (events) or to the cut-off (censored); ``hours`` is ``bin x resolution_seconds / 3600``.
    """
    res = log.resolution_seconds if resolution_seconds is None else resolution_seconds
    p = grouped_tables(log, by, period, time=time, resolution_seconds=res, policy=policy, engine=engine,
                       chunk_rows=chunk_rows)
    out = p.life.drop(columns="_cell")
    out.insert(out.columns.get_loc("bin") + 1, "hours", out["bin"] * res / 3600.0)
    return out


def _check_by(log: RequestLog, by) -> list[str]:
    """The grouping columns, each present and none a personal identifier (its values would become unit ids)."""
    by = [by] if isinstance(by, str) else list(by or [])
    cols = log.columns
    for b in by:
        if b not in cols:
            raise MissingInputError(f"{log.source}: no column {b!r} to group by; columns are {', '.join(map(str, cols))}")
        kind = kind_by_header(str(b)) or (None if log.is_dask else kind_by_content(log.data[b]))
        if kind is not None:
            raise PersonalDataError("cannot group by it: it looks like " + kind + ", and its values would be "
                                    "published as unit ids", file=log.source, column=str(b))
    return by
