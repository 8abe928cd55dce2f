"""Request-handling indicators (``svc.*``) from any request log, with censoring done right.

Pipeline
--------
1. :func:`load_requests` reads a log (native table, NYC 311, Open311, Boston 311, or a user
   mapping), keeps one row per request with the standard columns, the source's own columns and a
   ``quality_flags`` bit mask (:data:`evaluation.adapters.FLAG_BITS`), and fixes the cut-off.
2. :func:`request_indicators` makes **one grouped pass** over the log (pandas in chunks, or Dask
   partitions) that reduces it to small partial tables: counts per group and period, resolutions
   per period (for the backlog) and a *life table* (group, duration bin, events, censored).
   The pass is a compiled loop (:mod:`evaluation.kernels`) run on every core, each thread taking
   whole groups, so each thread's sorted life-table keys follow the previous thread's.
3. Kaplan-Meier medians, quartiles and SLA shares with intervals come from the life table
   (:mod:`evaluation.survival`); rates and counts from the counts table.

Definitions (group = the ``by`` columns x creation period)
----------------------------------------------------------
- ``svc.requests``: requests created in the period (after the exclusions of the quality policy).
- ``svc.requests_per_1000``: requests / population x 1,000 when the group is a unit
  (``community_id``, or ``street_id``/``district_id`` derived from ``units``); per period, not
  annualised; missing otherwise.
- ``svc.response_rate``: requests with ``first_response_at`` no later than the cut-off and, when
  ``response_sla_hours`` is given, within that many hours of creation / requests.
- ``svc.resolution_rate``: requests with ``resolved_at`` present and no later than the cut-off /
  requests.
- ``svc.satisfaction_rate``: (satisfied + 0.9 x basically satisfied) / rated requests, where rated
  means satisfied, basically satisfied or dissatisfied (``not_reached`` is excluded from the
  denominator), the scoring of one documented Beijing practice.
- ``svc.three_rate_score``: weighted sum of the three rates (0-1 scale), default weights
  0.10 / 0.50 / 0.40 for response / resolution / satisfaction, the weighting of Beijing's
  接诉即办 assessment as given in the issue brief; practice varies between cities and years, so
  the weights are a parameter.
- ``svc.reopen_rate``: requests reopened at least once / requests.
- ``svc.backlog``: requests of the group created up to the period end and not resolved by then
  (resolved after the cut-off counts as unresolved), one row per period up to the cut-off.
- ``svc.median_resolution_hours`` (and ``svc.resolution_hours_p25`` / ``_p75``): Kaplan-Meier
  quantiles of time to resolution, requests still open at the cut-off right-censored at the
  cut-off; Brookmeyer-Crowley interval (``ci_method`` "log", R's default, or "loglog").
- ``svc.resolved_within_sla``: ``1 - S(t)`` at ``t = sla_hours`` (column ``sla_hours``) with the
  pointwise interval; missing when ``t`` is beyond the group's follow-up.
- ``svc.median_resolution_hours_closed_only``: median over resolved requests only, shown only to
  display the downward bias of ignoring open requests.

Durations are measured in bins of ``resolution_seconds`` (60 by default: the minutes of the
stamps; a duration of 1 h 30 min 59 s is 90 minutes). The estimates are exact Kaplan-Meier
estimates for durations at that resolution.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.adapters import (
    ADAPTERS,
    FLAG_BITS,
    FORMAT_DEFAULTS,
    TIME_COLUMNS,
    adapt_mapping,
    read_source,
)
from evaluation.durations import NS_PER_DAY, NS_PER_SECOND, working_clock
from evaluation.results import IndicatorResult, indicator_frame
from evaluation.survival import (
    CI_METHODS,
    _km_arrays,
    km_summaries,
)

__all__ = [
    "QualityPolicy",
    "RequestLog",
    "RequestIndicators",
    "load_requests",
    "flag_requests",
    "quality_summary",
    "life_table",
    "request_indicators",
    "run_cli",
    "indicator_provider",
]

NAT = np.iinfo(np.int64).min
MISSING_LABEL = "(missing)"
DEFAULT_SLA_HOURS = (24.0, 72.0, 168.0)
DEFAULT_WEIGHTS = (0.10, 0.50, 0.40)
UNIT_LEVELS = {"community_id": "community", "street_id": "street", "district_id": "district"}

#: What each flag does to the estimates by default: "keep" (used as is), "exclude_durations"
#: (counted in volume and rates, left out of Kaplan-Meier), "exclude" (left out of everything,
#: counted in the quality summary).
DEFAULT_ACTIONS = {
    "missing_created": "exclude",
    "unparseable_time": "keep",
    "default_1900": "keep",  # the stamp itself is set to missing; the request is kept
    "impossible_year": "exclude",
    "duplicate_id": "exclude",  # later copies only; the first occurrence is kept
    "created_after_cutoff": "exclude",
    "close_before_create": "exclude_durations",
    "zero_duration": "keep",
    "date_only_stamp": "keep",
    "close_on_open": "keep",
    "closed_without_date": "exclude_durations",
    "resolved_after_cutoff": "keep",  # right-censored at the cut-off
    "zero_coordinates": "keep",
}

FLAG_MEANING = {
    "missing_created": "no creation time",
    "unparseable_time": "a time that could not be parsed (treated as missing)",
    "default_1900": "a 1900-01-01 placeholder stamp (treated as missing)",
    "impossible_year": "a creation or resolution year before 1990 or after the cut-off year",
    "duplicate_id": "a repeated request id (later copies)",
    "created_after_cutoff": "created after the cut-off",
    "close_before_create": "resolved before it was created",
    "zero_duration": "resolved at the same second as created",
    "date_only_stamp": "a creation or resolution stamp at exactly 00:00:00 (date only?)",
    "close_on_open": "a close date on a request whose status is open / in progress",
    "closed_without_date": "status resolved/closed but no resolution time",
    "resolved_after_cutoff": "resolved after the cut-off (censored at the cut-off)",
    "zero_coordinates": "latitude or longitude exactly 0",
}


@dataclass(frozen=True)
class QualityPolicy:
    """What the estimates do with each data-quality flag (see :data:`DEFAULT_ACTIONS`).

    ``close_on_open``: "status" (default: the status wins, the request is open and censored at
    the cut-off) or "date" (the close date wins, the request counts as resolved then).
    """

    actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    close_on_open: str = "status"

    def with_actions(self, **actions: str) -> QualityPolicy:
        merged = dict(self.actions)
        for k, v in actions.items():
            if k not in FLAG_BITS:
                raise ValueError(f"unknown quality flag {k!r}; known: {', '.join(FLAG_BITS)}")
            if v not in ("keep", "exclude_durations", "exclude"):
                raise ValueError(f"action for {k!r} must be keep, exclude_durations or exclude, not {v!r}")
            merged[k] = v
        return replace(self, actions=merged)

    def mask(self, action: str) -> int:
        return sum(FLAG_BITS[k] for k, v in self.actions.items() if v == action)


# ---------------------------------------------------------------------------------------------
# loading


@dataclass
class RequestLog:
    """One row per request: standard columns, ``quality_flags`` and the source's own columns.

    Attributes
    ----------
    data
        pandas DataFrame (or a Dask DataFrame for the Dask engine).
    cutoff
        Data cut-off (timezone-aware): the extraction time the dataset declares, or else the latest
        valid timestamp of any kind in the log (``cutoff_source`` says which).
    timezone
        Local time zone of the log (periods and working time use local wall-clock time).
    format, source
        Input format and path.
    calendar
        "china" or "weekdays": the working-day calendar for ``time="working"``.
    units
        The ``units`` table when the input was a dataset folder (for per-1,000 rates).
    """

    data: object
    cutoff: pd.Timestamp
    timezone: str
    format: str
    source: str
    calendar: str = "weekdays"
    cutoff_source: str = "latest timestamp in the log"
    units: pd.DataFrame | None = None

    def recorded(self, column: str) -> bool:
        """Does the log record ``column`` at all (some value present)? Dask logs: column exists."""
        if column not in self.data.columns:
            return False
        return True if self.is_dask else bool(self.data[column].notna().any())

    @property
    def is_dask(self) -> bool:
        return not isinstance(self.data, pd.DataFrame)

    def __len__(self) -> int:
        return len(self.data)

    def flags(self) -> pd.Series:
        """Flags of each request as ``;``-separated names (pandas logs)."""
        return decode_flags(self.data["quality_flags"])

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Request log</b> {self.source} ({self.format}): {len(self):,} requests, cut-off "
            f"{self.cutoff} ({self.cutoff_source})</p>"
        )
        if self.is_dask:
            return head
        return head + quality_summary(self).to_html(index=False)


def decode_flags(bits: pd.Series) -> pd.Series:
    b = bits.to_numpy(dtype=np.int64)
    out = np.full(len(b), "", dtype=object)
    for name, bit in FLAG_BITS.items():
        hit = (b & bit) != 0
        if hit.any():
            out[hit] = [f"{o};{name}" if o else name for o in out[hit]]
    return pd.Series(out, index=bits.index, dtype="str")


def _to_ns(s: pd.Series) -> np.ndarray:
    """Times as int64 UTC nanoseconds (missing -> NAT)."""
    if not pd.api.types.is_datetime64_any_dtype(s):
        return np.full(len(s), NAT, dtype=np.int64)
    # a view, not a copy: callers only read it (10 M stamps are 80 MB each)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return (s.array if s.dtype.unit == "ns" else s.dt.as_unit("ns").array).asi8
    return s.to_numpy("datetime64[ns]").view("i8")


def _tz_offset(utc_ns: np.ndarray, tz: str) -> int | None:
    """The UTC offset of ``tz`` in ns if it is the same over the range of ``utc_ns`` (else None).

    Probes 64 instants between the earliest and latest valid value, the ends included: a change
    of offset (daylight saving time) inside the range shows up at a probe.
    """
    valid = utc_ns != NAT
    if not valid.any():
        return 0
    v = utc_ns if valid.all() else utc_ns[valid]
    lo, hi = v.min(), v.max()
    probe = pd.DatetimeIndex(pd.to_datetime(np.linspace(lo, hi, 64).astype(np.int64), utc=True)).tz_convert(tz)
    offsets = np.unique([t.utcoffset().total_seconds() for t in probe])
    return int(offsets[0] * NS_PER_SECOND) if len(offsets) == 1 else None


def _local_ns(utc_ns: np.ndarray, tz: str, offset: int | None = None) -> np.ndarray:
    """UTC int64 ns -> local wall-clock int64 ns (NAT kept); ``offset``: known constant offset."""
    valid = utc_ns != NAT
    if not valid.any():
        return utc_ns
    if offset is None:
        offset = _tz_offset(utc_ns, tz)
    if offset is not None:
        # the offset did not change in the range (e.g. China since 1991): add it
        out = utc_ns + offset
        return out if valid.all() else np.where(valid, out, NAT)
    local = pd.DatetimeIndex(pd.to_datetime(np.where(valid, utc_ns, 0), utc=True)).tz_convert(tz).tz_localize(None)
    return np.where(valid, local.as_unit("ns").asi8, NAT)


def flag_requests(df: pd.DataFrame, cutoff: pd.Timestamp, timezone: str, duplicates: bool = True) -> pd.DataFrame:
    """Add the data-quality flags that depend on the whole row and the cut-off to ``quality_flags``.

    Never drops a row. ``duplicates``: flag second and later copies of a ``request_id``.
    """
    out = df.copy(deep=False)
    flags = out["quality_flags"].to_numpy(dtype=np.int64).copy()
    c = _to_ns(out["created_at"])
    r = _to_ns(out["resolved_at"])
    cutoff_ns = pd.Timestamp(cutoff).as_unit("ns").value
    has_c, has_r = c != NAT, r != NAT
    year_lo = pd.Timestamp("1990-01-01", tz="UTC").value
    year_hi = pd.Timestamp(f"{pd.Timestamp(cutoff).year + 1}-01-01", tz="UTC").value
    flags |= np.where(~has_c, FLAG_BITS["missing_created"], 0)
    bad_year = (has_c & ((c < year_lo) | (c >= year_hi))) | (has_r & ((r < year_lo) | (r >= year_hi)))
    flags |= np.where(bad_year, FLAG_BITS["impossible_year"], 0)
    flags |= np.where(has_c & (c > cutoff_ns), FLAG_BITS["created_after_cutoff"], 0)
    both = has_c & has_r
    flags |= np.where(both & (r < c), FLAG_BITS["close_before_create"], 0)
    flags |= np.where(both & (r == c), FLAG_BITS["zero_duration"], 0)
    flags |= np.where(has_r & (r > cutoff_ns), FLAG_BITS["resolved_after_cutoff"], 0)
    lc, lr = _local_ns(c, timezone), _local_ns(r, timezone)
    midnight = (has_c & (lc % NS_PER_DAY == 0)) | (has_r & (lr % NS_PER_DAY == 0))
    flags |= np.where(midnight, FLAG_BITS["date_only_stamp"], 0)
    st = out["status"]
    open_status = _equals(st, "open") | _equals(st, "in_progress")
    closed_status = _equals(st, "resolved") | _equals(st, "closed")
    cl = _to_ns(out["closed_at"])
    flags |= np.where(open_status & (has_r | (cl != NAT)), FLAG_BITS["close_on_open"], 0)
    flags |= np.where(closed_status & ~has_r, FLAG_BITS["closed_without_date"], 0)
    if duplicates and "request_id" in out.columns:
        dup = out["request_id"].duplicated(keep="first").to_numpy()
        flags |= np.where(dup, FLAG_BITS["duplicate_id"], 0)
    out["quality_flags"] = flags
    return out


def _read_dataset_folder(path: Path):
    """Requests (and units) from a dataset folder; uses ``evaluation.dataset`` when available."""
    try:
        from evaluation.dataset import load_dataset  # built by another engineer

        ds = load_dataset(path)
        units = ds["units"] if "units" in ds.tables else None
        return ds["requests"], units, getattr(ds, "cutoff", None), getattr(ds, "timezone", None)
    except ImportError:
        pass
    pkg_path = path / "datapackage.json"
    meta = json.loads(pkg_path.read_text(encoding="utf-8")) if pkg_path.exists() else {}
    files = {r["name"]: path / r["path"] for r in meta.get("resources", [])}
    req = files.get("requests") or next(iter(sorted(path.glob("requests.*"))), None)
    if req is None:
        raise FileNotFoundError(f"{path}: no requests table (requests.csv or requests.parquet) in the folder")
    units_file = files.get("units") or next(iter(sorted(path.glob("units.*"))), None)
    units = read_source(units_file) if units_file else None
    cutoff = meta.get("cutoff")
    return read_source(req), units, (pd.Timestamp(cutoff) if cutoff else None), meta.get("timezone")


def _latest_timestamp(df: pd.DataFrame) -> pd.Timestamp | None:
    """Latest valid timestamp of any kind (placeholders and impossible years already missing)."""
    best = None
    upper = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s[(s.dt.year >= 1990) & (s <= upper)]
            if s.notna().any():
                m = s.max()
                best = m if best is None or m > best else best
    return best


def load_requests(
    path_or_frame,
    format: str = "native",
    mapping: Mapping | str | os.PathLike | None = None,
    cutoff=None,
    timezone: str | None = None,
    engine: str = "pandas",
) -> RequestLog:
    """Load a request log, one row per request, with data-quality flags.

    Parameters
    ----------
    path_or_frame
        A file (CSV, XLSX, Parquet, JSON), a dataset folder, a folder of Parquet parts (Dask), or a
        DataFrame already in the source's layout.
    format
        "native", "nyc311", "open311", "boston311" or "mapping" (then ``mapping`` is required: a
        dict or a YAML file, see :mod:`evaluation.adapters`).
    cutoff
        Data cut-off; default: the dataset's declared cut-off, else the latest timestamp of any
        kind in the log.
    engine
        "pandas" or "dask" (native Parquet only: the log stays lazy and partitioned).
    """
    if engine == "dask" and format == "native" and not isinstance(path_or_frame, pd.DataFrame):
        p = Path(path_or_frame)
        if (p.is_dir() and not (p / "datapackage.json").exists()) or p.suffix.lower() == ".parquet":
            return _load_dask(p, cutoff=cutoff, timezone=timezone)
    # other inputs are read with pandas; request_indicators(engine="dask") partitions them
    units = None
    declared_cutoff, declared_tz = None, None
    source = "DataFrame" if isinstance(path_or_frame, pd.DataFrame) else str(path_or_frame)
    if isinstance(path_or_frame, pd.DataFrame):
        src = path_or_frame
    else:
        path = Path(path_or_frame)
        if path.is_dir():
            if format != "native":
                raise ValueError(f"{path}: a folder can only be read as a native dataset (--format native)")
            src, units, declared_cutoff, declared_tz = _read_dataset_folder(path)
        else:
            src = read_source(path)
    tz = timezone or declared_tz or FORMAT_DEFAULTS.get(format, {}).get("timezone")
    if format == "mapping":
        if mapping is None:
            raise ValueError(f"{source}: --format mapping needs a mapping (--mapping FILE.yaml)")
        if not isinstance(mapping, Mapping):
            import yaml

            mapping = yaml.safe_load(Path(mapping).read_text(encoding="utf-8"))
        std = adapt_mapping(src, mapping, source=source, timezone=timezone)
        tz = timezone or mapping.get("timezone") or "UTC"
    elif format in ADAPTERS:
        std = ADAPTERS[format](src, source=source, timezone=tz)
    else:
        raise ValueError(f"unknown request-log format {format!r}; use native, nyc311, open311, boston311 or mapping")
    tz = str(std["created_at"].dt.tz)
    if cutoff is not None:
        cut = _as_tz(cutoff, tz)
        how = "given"
    elif declared_cutoff is not None:
        cut = _as_tz(declared_cutoff, tz)
        how = "declared by the dataset"
    else:
        cut = _latest_timestamp(std)
        if cut is None:
            raise ValueError(f"{source}: no valid timestamp in the log, cannot set a cut-off")
        how = "latest timestamp in the log"
    std = flag_requests(std, cut, tz)
    for col in ("channel", "category", "affair_class", "community_id", "compound_id", "status", "rating"):
        std[col] = std[col].astype("category")
    if units is not None and "community_id" in std.columns:
        std = _with_parent_units(std, units)
    return RequestLog(
        data=std, cutoff=cut, timezone=tz, format=format, source=source,
        calendar=FORMAT_DEFAULTS.get(format, {}).get("calendar", "weekdays"), cutoff_source=how, units=units,
    )


def _with_parent_units(std: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """Add ``street_id`` and ``district_id`` (the parents of ``community_id`` in ``units``), so that
    ``by=["street_id"]`` works on a dataset; a community missing from ``units`` gives missing parents."""
    parent = pd.Series(units["parent_id"].astype("str").to_numpy(), index=units["unit_id"].astype("str").to_numpy())
    street = std["community_id"].astype("str").map(parent)
    out = std.copy()
    out["street_id"] = street.astype("category")
    out["district_id"] = street.map(parent).astype("category")
    return out


def _as_tz(t, tz: str) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize(tz) if t.tzinfo is None else t.tz_convert(tz)


def _load_dask(path, cutoff=None, timezone: str | None = None) -> RequestLog:
    """A native log stored as partitioned Parquet, lazily (flags per partition)."""
    import dask.dataframe as dd

    path = Path(path)
    ddf = dd.read_parquet(str(path))
    tz = timezone or FORMAT_DEFAULTS["native"]["timezone"]
    if cutoff is None:
        maxima = [ddf[c].max() for c in TIME_COLUMNS if c in ddf.columns]
        import dask

        vals = [pd.Timestamp(v) for v in dask.compute(*maxima) if pd.notna(v)]
        cut = max(_as_tz(v, tz) for v in vals)
        how = "latest timestamp in the log"
    else:
        cut, how = _as_tz(cutoff, tz), "given"
    return RequestLog(data=ddf, cutoff=cut, timezone=tz, format="native", source=str(path), calendar="china", cutoff_source=how)


def _prepare_partition(part: pd.DataFrame, cutoff: pd.Timestamp, tz: str) -> pd.DataFrame:
    """Dask partition of a native table -> standard columns with flags (duplicates within it)."""
    from evaluation.adapters import adapt_native

    std = adapt_native(part, source="partition", timezone=tz)
    return flag_requests(std, cutoff, tz)


def quality_summary(log: RequestLog, policy: QualityPolicy | None = None) -> pd.DataFrame:
    """How many requests carry each flag, and what the estimates do with them.

    Returns one row per flag: ``flag``, ``requests`` (count), ``share``, ``meaning``, ``action``.
    """
    policy = policy or QualityPolicy()
    if log.is_dask:
        counts = _flag_counts_dask(log)
    else:
        bits = log.data["quality_flags"].to_numpy(dtype=np.int64)
        counts = {name: int(((bits & bit) != 0).sum()) for name, bit in FLAG_BITS.items()}
    n = len(log)
    rows = []
    for name, k in counts.items():
        action = policy.actions.get(name, "keep")
        if name == "close_on_open":
            action = "treated as open, censored at the cut-off" if policy.close_on_open == "status" else "treated as resolved at the close date"
        rows.append({"flag": name, "requests": k, "share": k / n if n else np.nan, "meaning": FLAG_MEANING[name], "action": action})
    return pd.DataFrame(rows)


def _flag_counts_dask(log: RequestLog) -> dict[str, int]:
    import dask

    parts = [dask.delayed(_part_flag_counts)(p, log.cutoff, log.timezone) for p in log.data.to_delayed()]
    total = dict.fromkeys(FLAG_BITS, 0)
    for d in dask.compute(*parts):
        for k, v in d.items():
            total[k] += v
    return total


def _part_flag_counts(part, cutoff, tz):
    bits = _prepare_partition(part, cutoff, tz)["quality_flags"].to_numpy()
    return {name: int(((bits & bit) != 0).sum()) for name, bit in FLAG_BITS.items()}


# ---------------------------------------------------------------------------------------------
# the grouped pass


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
    needs_local_prepare: bool = False  # Dask partitions still in the native source layout
    threads: int = 1  # threads of the row pass (the pandas engine uses the machine's cores)


_COUNT_COLUMNS = (
    "n", "responded", "resolved", "rated", "satisfied", "basically_satisfied", "dissatisfied",
    "not_reached", "reopened_any", "in_km", "events", "censored",
)


@dataclass
class _Partials:
    counts: pd.DataFrame  # keys + period + _COUNT_COLUMNS + flag_<name>
    life: pd.DataFrame  # keys + period + bin + events + censored
    resolutions: pd.DataFrame  # keys + period (of resolution) + resolved
    #: cell codes of the three tables' rows when they are already the canonical ones of
    #: _normalise (one chunk with unique labels); None after combining chunks
    cells: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _period_edges(start: pd.Timestamp, cutoff: pd.Timestamp, period: str):
    """Local period starts from the period of ``start`` to the period after ``cutoff``."""
    freq = {"month": "MS", "quarter": "QS", "year": "YS"}[period]
    s = start.tz_localize(None).to_period({"month": "M", "quarter": "Q", "year": "Y"}[period]).start_time
    e = cutoff.tz_localize(None)
    edges = pd.date_range(s, e + pd.offsets.DateOffset(**{"month": {"months": 1}, "quarter": {"months": 3}, "year": {"years": 1}}[period]), freq=freq)
    if period == "month":
        labels = [d.strftime("%Y-%m") for d in edges[:-1]]
    elif period == "quarter":
        labels = [f"{d.year}Q{(d.month - 1) // 3 + 1}" for d in edges[:-1]]
    else:
        labels = [str(d.year) for d in edges[:-1]]
    return edges.as_unit("ns").asi8, tuple(labels)


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


def _reduce_chunk(df: pd.DataFrame, spec: _Spec) -> _Partials:
    """One chunk of the log -> partial counts, life table and resolutions (all integer sums).

    One compiled pass over the rows (:func:`evaluation.kernels.request_pass`) fills the count
    accumulators and writes a life-table key per request in the Kaplan-Meier estimate; the keys
    are sorted (``numpy.sort``, in 32 bits when they fit) and their runs counted.
    """
    from evaluation import kernels

    if spec.needs_local_prepare:
        df = _prepare_partition(df, pd.Timestamp(spec.cutoff_ns, tz="UTC").tz_convert(spec.timezone), spec.timezone)
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
    _on_threads(lambda t: kernels.group_sizes(graw[row_bounds[t] : row_bounds[t + 1]], glut, sizes[t]),
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

    passes = _on_threads(row_pass, [(t,) for t in range(n_parts)])
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

    results = _on_threads(sort_destination, [(d,) for d in range(len(bounds) - 1)])
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
        (g0, g1, key_start), (n_keys, _) = ranges[k], results[k]
        lo, hi = out_start[k], out_start[k + 1]
        kernels.count_runs(keys[key_start : key_start + n_keys], key_bins, *(a[lo:hi] for a in life_cols), rows_per_cell)

    _on_threads(runs, [(k,) for k in range(len(ranges))])
    del keys
    cell_life = life_cols[0]
    life_df = _label_frame(cell_life, spec, radices, cats_list, rows_per_cell)
    life_df = _with_columns(life_df, dict(zip(("bin", "events", "censored"), life_cols[1:])))
    rpresent = np.flatnonzero(rc > 0)
    res_df = _label_frame(rpresent, spec, radices, cats_list)
    res_df["resolved"] = rc[rpresent].astype(np.int64)
    # totals of excluded requests per flag (not in any cell: totals only)
    counts_df.attrs["excluded"] = {"excluded": int(excl[0]), **{f"flag_{k}": int(excl[1 + j]) for j, k in enumerate(flag_names)}}
    canonical = all(len(set(cats)) == len(cats) for cats in cats_list)
    return _Partials(counts_df, life_df, res_df, (present, cell_life, rpresent) if canonical else None)


def _on_threads(fn, arguments: list[tuple]) -> list:
    """``fn(*a)`` for each tuple of ``arguments``, on a thread each when there are several (the
    compiled loops and numpy's sort release the GIL)."""
    if len(arguments) == 1:
        return [fn(*arguments[0])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(arguments)) as pool:
        return list(pool.map(lambda a: fn(*a), arguments))


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
    """Rating as ``(raw, lut)``: the code of row ``i`` is ``lut[raw[i]]`` (-1 takes the last entry),
    0 none/other, 1 satisfied, 2 basically satisfied, 3 dissatisfied, 4 not reached."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        lut = np.array([_RATING_CODE.get(str(c), 0) for c in s.cat.categories] + [0], dtype=np.uint8)
        return s.cat.codes.to_numpy(), lut
    out = np.zeros(len(s), dtype=np.uint8)
    for name, code in _RATING_CODE.items():
        out[(s == name).fillna(False).to_numpy(dtype=bool)] = code
    return out, np.arange(len(_RATING_CODE) + 1, dtype=np.uint8)


def _equals(s: pd.Series, value: str) -> np.ndarray:
    """Boolean mask ``s == value`` (fast on categoricals: compares codes)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if value not in cats:
            return np.zeros(len(s), dtype=bool)
        return s.cat.codes.to_numpy() == cats.get_loc(value)
    return (s == value).fillna(False).to_numpy(dtype=bool)


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


def _combine(parts: Sequence[_Partials], keys: list[str]) -> _Partials:
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
    return _Partials(counts, life, res, (c_cells, l_cells, r_cells))


def _normalise(p: _Partials, keys: list[str]) -> _Partials:
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
    return _Partials(c, life, r)


def _make_spec(log: RequestLog, by, period, time, resolution_seconds, response_sla_hours, policy, calendar=None) -> _Spec:
    tz = log.timezone
    if log.is_dask:
        start = pd.Timestamp(log.data["created_at"].min().compute())
        start = _as_tz(start, tz)
    else:
        created = log.data["created_at"]
        bits = log.data["quality_flags"].to_numpy(dtype=np.int64)
        from evaluation import kernels

        earliest = kernels.earliest(_to_ns(created), bits, FLAG_BITS["impossible_year"] | FLAG_BITS["created_after_cutoff"])
        if earliest == NAT:
            start = log.cutoff
        elif isinstance(created.dtype, pd.DatetimeTZDtype):
            start = pd.Timestamp(earliest, tz="UTC").tz_convert(created.dt.tz)
        else:
            start = pd.Timestamp(earliest)
    edges, labels = _period_edges(start, log.cutoff, period)
    clock = None
    if time == "working":
        cal = calendar
        if cal is None:
            from evaluation.calendar import WorkCalendar

            years = range(start.year, log.cutoff.year + 1)
            cal = WorkCalendar.china(years) if log.calendar == "china" else WorkCalendar.weekdays()
        first_day = int(edges[0] // NS_PER_DAY) - 1
        last_day = int(_local_ns(np.array([log.cutoff.value]), tz)[0] // NS_PER_DAY) + 1
        clock = working_clock(cal, first_day, last_day)
    elif time != "calendar":
        raise ValueError(f"time must be 'calendar' or 'working', not {time!r}")
    return _Spec(
        by=tuple(by), period=period, edges_local=edges, labels=labels, cutoff_ns=log.cutoff.value,
        timezone=tz, resolution_seconds=int(resolution_seconds), time=time, clock=clock,
        response_sla_seconds=None if response_sla_hours is None else float(response_sla_hours) * 3600.0,
        policy=policy, needs_local_prepare=log.is_dask,
    )


def _grouped_pass(log: RequestLog, spec: _Spec, engine: str, chunk_rows: int, progress: bool | None, npartitions: int | None) -> _Partials:
    keys = list(spec.by)
    if engine == "pandas":
        spec = replace(spec, threads=os.cpu_count() or 1)
        if log.is_dask:
            raise ValueError("this log is a Dask DataFrame; use engine='dask'")
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
        raise ValueError(f"engine must be 'pandas' or 'dask', not {engine!r}")
    import dask
    import dask.dataframe as dd

    ddf = log.data
    if isinstance(ddf, pd.DataFrame):
        ddf = dd.from_pandas(ddf, npartitions=npartitions or max(1, len(ddf) // chunk_rows + 1), sort=False)
    delayed_parts = [dask.delayed(_reduce_chunk)(p, spec) for p in ddf.to_delayed()]
    # tree reduction keeps memory flat: never more than `fan_in` partials in one task
    fan_in = 8
    level = delayed_parts
    while len(level) > 1:
        level = [dask.delayed(_combine)(level[i : i + fan_in], keys) for i in range(0, len(level), fan_in)]
    show = progress if progress is not None else sys.stderr.isatty()
    if show:
        from dask.diagnostics import ProgressBar

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
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, file=sys.stderr)
    except ImportError:  # pragma: no cover
        return _NoBar()


def life_table(
    log: RequestLog,
    by: Sequence[str] = (),
    period: str = "month",
    time: str = "calendar",
    resolution_seconds: int = 60,
    engine: str = "pandas",
    policy: QualityPolicy | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> pd.DataFrame:
    """The life table of time to resolution: by columns, period, ``bin``, ``hours``, events, censored.

    ``bin`` counts whole ``resolution_seconds`` from creation to resolution (events) or to the
    cut-off (censored); ``hours`` is ``bin x resolution_seconds / 3600``.
    """
    policy = policy or QualityPolicy()
    by = _check_by(log, by)
    spec = _make_spec(log, by, period, time, resolution_seconds, None, policy)
    p = _grouped_pass(log, spec, engine, chunk_rows, False, None)
    out = p.life.drop(columns="_cell")
    out.insert(out.columns.get_loc("bin") + 1, "hours", out["bin"] * resolution_seconds / 3600.0)
    return out


def _check_by(log: RequestLog, by) -> list[str]:
    by = [by] if isinstance(by, str) else list(by or [])
    cols = list(log.data.columns)
    for b in by:
        if b not in cols:
            raise ValueError(f"{log.source}: no column {b!r} to group by; columns are {', '.join(map(str, cols))}")
    return by


# ---------------------------------------------------------------------------------------------
# indicators


class RequestIndicators(IndicatorResult):
    """Indicator table plus what is needed to draw the Kaplan-Meier curves and the quality summary."""

    life: pd.DataFrame | None = None
    quality: pd.DataFrame | None = None
    by: list[str] | None = None
    resolution_seconds: int = 60

    def plot(self, groups: int = 8, ax=None):
        """Kaplan-Meier curves of time to resolution (hours) for up to ``groups`` groups."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        keys = (self.by or []) + ["period"]
        lt = self.life
        gid, uniq = _groups_of(lt, keys)
        km = _km_arrays(gid, lt["bin"].to_numpy(), lt["events"].to_numpy(float), lt["censored"].to_numpy(float), uniq)
        for g in range(min(groups, km.n_groups)):
            s, e = km.starts[g], km.ends[g]
            hours = np.r_[0, km.time[s:e] * self.resolution_seconds / 3600.0]
            ax.step(hours, np.r_[1.0, km.surv[s:e]], where="post", label=" | ".join(map(str, uniq.iloc[g].tolist())))
        ax.set_xlabel("hours since the request was created")
        ax.set_ylabel("share not yet resolved, S(t)")
        ax.set_title("Time to resolution (Kaplan-Meier, open requests censored at the cut-off)")
        ax.legend(fontsize="small")
        return ax


def _groups_of(frame: pd.DataFrame, keys: list[str]):
    g = frame.groupby(keys, sort=True, observed=True)
    return g.ngroup().to_numpy(np.int64), g.size().index.to_frame(index=False)


def _population(log: RequestLog, by: list[str]) -> pd.Series | None:
    """Population by the unit in ``by`` (community_id, or street/district via ``units``)."""
    if len(by) != 1 or by[0] not in UNIT_LEVELS or log.units is None:
        return None
    u = log.units
    if "population" not in u.columns:
        return None
    pop = pd.to_numeric(u["population"], errors="coerce")
    ids = u["unit_id"].astype("str")
    level = UNIT_LEVELS[by[0]]
    if level == "community":
        return pd.Series(pop.to_numpy(), index=ids)
    # street/district: sum community populations up the parent chain
    parent = dict(zip(ids, u["parent_id"].astype("str")))
    types = dict(zip(ids, u["unit_type"].astype("str")))
    totals: dict[str, float] = {}
    for uid, p in zip(ids, pop):
        if types.get(uid) not in ("community", "village") or pd.isna(p):
            continue
        cur = parent.get(uid)
        while cur is not None and cur in types:
            if types[cur] == level:
                totals[cur] = totals.get(cur, 0.0) + float(p)
                break
            cur = parent.get(cur)
    return pd.Series(totals)


def request_indicators(
    log: RequestLog,
    by: Sequence[str] | str = (),
    period: str = "month",
    sla_hours: Sequence[float] = DEFAULT_SLA_HOURS,
    engine: str = "pandas",
    time: str = "calendar",
    ci_method: str = "log",
    alpha: float = 0.05,
    response_sla_hours: float | None = None,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    resolution_seconds: int = 60,
    policy: QualityPolicy | None = None,
    calendar=None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool | None = None,
    npartitions: int | None = None,
    min_requests: int = 30,
) -> RequestIndicators:
    """``svc.*`` indicators for every group (``by`` columns x period) of a request log.

    See the module docstring for each definition. ``time="working"`` measures durations on
    working days only (24 h per working day; official Chinese calendar for native data, Monday to
    Friday otherwise; or pass ``calendar``). Rows resting on fewer than ``min_requests`` requests
    are flagged ``few_requests``.

    Returns
    -------
    RequestIndicators
        ``.table`` (tidy; extra columns: the ``by`` columns and ``sla_hours``), ``.life`` (the
        life table), ``.quality`` (the quality summary), ``.plot()`` (Kaplan-Meier curves).
    """
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {', '.join(CI_METHODS)}, not {ci_method!r}")
    if period not in ("month", "quarter", "year"):
        raise ValueError(f"period must be month, quarter or year, not {period!r}")
    if len(weights) != 3 or abs(sum(weights) - 1) > 1e-9:
        raise ValueError(f"three-rate weights must be three numbers summing to 1, not {tuple(weights)}")
    policy = policy or QualityPolicy()
    by = _check_by(log, by)
    sla_hours = tuple(float(h) for h in (sla_hours or ()))
    spec = _make_spec(log, by, period, time, resolution_seconds, response_sla_hours, policy, calendar)
    parts = _grouped_pass(log, spec, engine, chunk_rows, progress, npartitions)
    keys = by + ["period"]
    counts = parts.counts
    excluded = counts.attrs.get("excluded", {})
    level = " x ".join(UNIT_LEVELS.get(b, b) for b in by) if by else "all"
    base = {"level": level, "unit_id": _unit_labels(counts, by).to_numpy(dtype=object),
            "period": counts["period"].to_numpy(dtype=object)}
    for b in by:
        base[b] = counts[b].to_numpy(dtype=object)
    n = counts["n"].to_numpy(float)
    few = np.where(n < min_requests, "few_requests", "").astype(object)
    qual = _quality_flag_text(counts).to_numpy(dtype=object)
    rates = _Blocks(base, len(n), qual)
    add = rates.add

    with np.errstate(divide="ignore", invalid="ignore"):
        add("svc.requests", n, n, np.nan, n, "registry count", few)
        pop = _population(log, by)
        if pop is not None:
            popv = counts[by[0]].map(pop).to_numpy(dtype=float)
            add("svc.requests_per_1000", n / popv * 1000, n, popv, n, "registry count per 1,000 residents (units.population); per period, not annualised",
                np.where(np.isnan(popv), "no_population", few))
        resp_def = "any response by the cut-off" if response_sla_hours is None else f"response within {response_sla_hours:g} h"
        responded = counts["responded"].to_numpy(float)
        resolved = counts["resolved"].to_numpy(float)
        rated = counts["rated"].to_numpy(float)
        sat_num = counts["satisfied"].to_numpy(float) + 0.9 * counts["basically_satisfied"].to_numpy(float)
        response_rate, resolution_rate, satisfaction_rate = responded / n, resolved / n, sat_num / rated
        if not log.recorded("first_response_at"):
            response_rate = np.full(len(n), np.nan)
            responded = response_rate
        add("svc.response_rate", response_rate, responded, n, n, f"share of requests with {resp_def}",
            few if log.recorded("first_response_at") else "not_recorded")
        add("svc.resolution_rate", resolution_rate, resolved, n, n, "share of requests resolved by the cut-off", few)
        sat_flags = np.where(rated == 0, "no_ratings", np.where(rated < min_requests, "few_ratings", ""))
        add("svc.satisfaction_rate", satisfaction_rate, sat_num, rated, rated,
            "(satisfied + 0.9 x basically satisfied) / rated; not_reached excluded", sat_flags)
        w = tuple(float(x) for x in weights)
        score = w[0] * response_rate + w[1] * resolution_rate + w[2] * satisfaction_rate
        add("svc.three_rate_score", score, np.nan, np.nan, n,
            f"weighted sum of response, resolution and satisfaction rates, weights {w[0]:g}/{w[1]:g}/{w[2]:g} (Beijing 接诉即办 practice; configurable)",
            few)
        reop = counts["reopened_any"].to_numpy(float) if log.recorded("reopened") else np.full(len(n), np.nan)
        add("svc.reopen_rate", reop / n, reop, n, n, "share of requests reopened at least once", few)
    km_blocks = _Blocks(base, len(n), qual)
    life = _km_rows(parts.life, by, counts, km_blocks, spec, sla_hours, ci_method, alpha, time, min_requests)
    table = pd.concat([rates.frame(), _backlog_rows(parts, counts, by, level, spec), km_blocks.frame()], ignore_index=True)
    table = indicator_frame(table, extra=by + ["sla_hours"])
    quality = _quality_from_counts(parts.counts, excluded, policy)
    notes = [
        f"cut-off {log.cutoff} ({log.cutoff_source}); requests still open then are right-censored at it",
        f"durations in {time} time" + (f" ({spec.clock.name}, 24 h per working day)" if spec.clock is not None else ""),
        f"{int(excluded.get('excluded', 0))} requests excluded from all indicators by the quality policy (see .quality)",
    ]
    for _, q in quality[quality["requests"] > 0].iterrows():
        notes.append(f"{q['flag']}: {q['requests']} requests ({q['meaning']}); {q['action']}")
    res = RequestIndicators(
        table=table,
        title=f"Request handling by {level} and {period}",
        method=(
            f"Kaplan-Meier (Greenwood variance) on {resolution_seconds}-second duration bins; quantile intervals by "
            f"Brookmeyer-Crowley inversion of the {ci_method} pointwise interval ({CI_METHODS[ci_method]}); rates are "
            "registry counts over the complete log (no sampling interval)"
        ),
        notes=notes,
    )
    res.life = life.drop(columns="_cell").assign(hours=life["bin"] * (resolution_seconds / 3600.0))
    res.quality = quality
    res.by = by
    res.resolution_seconds = resolution_seconds
    return res


def _unit_labels(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    """Group label: the ``by`` values joined with `` | `` ("all" without ``by``)."""
    if not by:
        return pd.Series("all", index=frame.index, dtype="str")
    out = frame[by[0]].astype("str")
    for b in by[1:]:
        out = out + " | " + frame[b].astype("str")
    return out


def _join_flags(a, b) -> np.ndarray:
    """Element-wise ``a;b`` of two sequences of flag strings (either may be empty)."""
    return np.array([f"{x};{y}" if x and y else x + y for x, y in zip(a, b)], dtype=object)


class _Blocks:
    """Indicator rows of every group, a block per indicator, made into one frame at the end.

    ``base`` holds the columns shared by every block (level, unit, period, ``by`` columns);
    a block's flags are joined with the groups' data-quality flags ``qual``. Building columns
    with numpy and the frame once keeps pandas' per-column overhead out of the loop.
    """

    def __init__(self, base: dict, n: int, qual: np.ndarray):
        self.base, self.n, self.qual = base, n, qual
        self.blocks: list[dict] = []

    def add(self, indicator, value, num, den, nn, method, flags="", quality: bool = True, **extra):
        flags = np.broadcast_to(np.asarray(flags, dtype=object), (self.n,))
        self.blocks.append({"indicator": indicator, "value": value, "numerator": num, "denominator": den, "n": nn,
                            "method": method, "flags": _join_flags(flags, self.qual) if quality else flags, **extra})

    def frame(self) -> pd.DataFrame:
        names = list(self.base) + list(dict.fromkeys(k for b in self.blocks for k in b))
        out = {}
        for name in names:
            values = [self.base[name] if name in self.base else b.get(name, np.nan) for b in self.blocks]
            text = any(isinstance(v, str) or getattr(v, "dtype", None) == object for v in values)
            parts = [np.broadcast_to(np.asarray(v, dtype=object if text else float), (self.n,)) for v in values]
            column = np.concatenate(parts) if parts else np.zeros(0, dtype=object if text else float)
            out[name] = pd.array(column, dtype="str") if text else column
        return pd.DataFrame(out)


def _quality_flag_text(counts: pd.DataFrame) -> pd.Series:
    """Per group: ``;``-joined names of data-quality flags present among its requests."""
    out = pd.Series("", index=counts.index, dtype="str")
    for name in FLAG_BITS:
        col = f"flag_{name}"
        if name in ("resolved_after_cutoff",) or col not in counts:
            continue
        hit = counts[col].to_numpy() > 0
        if hit.any():
            out = out.where(~hit, np.where(out == "", f"quality:{name}", out + f";quality:{name}"))
    return out


def _quality_from_counts(counts: pd.DataFrame, excluded: dict, policy: QualityPolicy) -> pd.DataFrame:
    total = int(counts["n"].sum() + excluded.get("excluded", 0))
    rows = []
    for name in FLAG_BITS:
        k = int(counts[f"flag_{name}"].sum()) + int(excluded.get(f"flag_{name}", 0))
        action = policy.actions.get(name, "keep")
        if name == "close_on_open":
            action = "treated as open, censored at the cut-off" if policy.close_on_open == "status" else "treated as resolved at the close date"
        rows.append({"flag": name, "requests": k, "share": k / total if total else np.nan, "meaning": FLAG_MEANING[name], "action": action})
    return pd.DataFrame(rows)


def _backlog_rows(parts: _Partials, counts: pd.DataFrame, by, level, spec) -> pd.DataFrame:
    """Open requests at each period end: cumulative created minus cumulative resolved."""
    labels = list(spec.labels)
    n_periods = len(labels)
    pidx = {p: i for i, p in enumerate(labels)}
    lab_c = _unit_labels(counts, by)
    lab_r = _unit_labels(parts.resolutions, by)
    uniq_labels, first = np.unique(np.asarray(lab_c, dtype=object), return_index=True)
    groups = counts[by].iloc[first].reset_index(drop=True) if by else pd.DataFrame(index=range(1))
    created = np.zeros((len(groups), n_periods))
    resolved = np.zeros((len(groups), n_periods))
    for frame, lab, arr, col in ((counts, lab_c, created, "n"), (parts.resolutions, lab_r, resolved, "resolved")):
        gi = np.searchsorted(uniq_labels, np.asarray(lab, dtype=object)) if by else np.zeros(len(frame), np.int64)
        pi = frame["period"].map(pidx).to_numpy(dtype=np.int64)
        np.add.at(arr, (gi, pi), frame[col].to_numpy(float))
    backlog = np.cumsum(created, axis=1) - np.cumsum(resolved, axis=1)
    started = np.cumsum(created, axis=1) > 0
    gi, pi = np.nonzero(started)
    out = groups.iloc[gi].reset_index(drop=True) if by else pd.DataFrame(index=range(len(gi)))
    out["level"] = level
    out["unit_id"] = _unit_labels(out, by) if by else "all"
    out["period"] = np.asarray(labels, dtype=object)[pi]
    out["indicator"] = "svc.backlog"
    out["value"] = backlog[gi, pi]
    out["numerator"] = backlog[gi, pi]
    out["n"] = np.cumsum(created, axis=1)[gi, pi]
    out["method"] = "count of requests created by the period end and not resolved by then (or by the cut-off)"
    out["flags"] = np.where(pi == n_periods - 1, "period_end_after_cutoff:backlog_at_cutoff", "")
    return out


def _positions(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in ``sorted_keys`` (every value is one of them): a look-up table when
    the keys are small integers, else a binary search."""
    if len(sorted_keys) and 0 <= sorted_keys[0] and sorted_keys[-1] < 50_000_000:
        lut = np.zeros(int(sorted_keys[-1]) + 1, dtype=np.int64)
        lut[sorted_keys] = np.arange(len(sorted_keys))
        return lut[values]
    return np.searchsorted(sorted_keys, values).astype(np.int64)


def _km_rows(life, by, counts, blocks: _Blocks, spec, sla_hours, ci_method, alpha, time, min_requests):
    """Kaplan-Meier indicators of every group into ``blocks``; returns the life table."""
    keys = by + ["period"]
    res_h = spec.resolution_seconds / 3600.0
    # groups in the order of `counts` (same keys, sorted the same way)
    gid = _positions(counts["_cell"].to_numpy(), life["_cell"].to_numpy())
    uniq = counts[keys].reset_index(drop=True)
    bins = life["bin"].to_numpy()
    ev_counts = life["events"].to_numpy()
    # the life table is sorted by group cell then bin (see _normalise)
    sla_bins = [h / res_h for h in sla_hours]
    km = km_summaries(gid, bins, ev_counts, life["censored"].to_numpy(), uniq, (0.25, 0.5, 0.75), sla_bins,
                      method=ci_method, alpha=alpha, presorted=True)
    q = km.quantiles
    n_km = km.n_obs
    events = km.n_events
    few = np.where(n_km < min_requests, "few_requests", "")
    what = f"time to resolution in {time} hours"
    meth_q = f"Kaplan-Meier quantile, Brookmeyer-Crowley {ci_method} CI ({CI_METHODS[ci_method]}); open requests censored at the cut-off"
    for p, ind in ((0.5, "svc.median_resolution_hours"), (0.25, "svc.resolution_hours_p25"), (0.75, "svc.resolution_hours_p75")):
        qq = q[q["prob"] == p]
        value = qq["estimate"].to_numpy() * res_h
        low, high = qq["ci_low"].to_numpy() * res_h, qq["ci_high"].to_numpy() * res_h
        fl = np.where(np.isnan(value), "not_reached_in_follow_up", np.where(np.isinf(high), "ci_open_upper", ""))
        blocks.add(ind, value, events, n_km, n_km, f"{meth_q}; {what}", _join_flags(fl, few), ci_low=low, ci_high=high)
    if sla_hours:
        s = km.survival
        n_groups = len(km.groups)
        # bins are floors: "within t hours" means bin <= t in bins; S is evaluated at that bin
        for j, h in enumerate(sla_hours):
            ss = s.iloc[j * n_groups : (j + 1) * n_groups]
            fl = np.where(ss["beyond_follow_up"].to_numpy(), "beyond_follow_up", "")
            blocks.add("svc.resolved_within_sla", 1 - ss["surv"].to_numpy(), np.nan, n_km, n_km,
                       f"1 - Kaplan-Meier S({h:g} h), {ci_method} pointwise CI ({CI_METHODS[ci_method]}); {what}",
                       _join_flags(fl, few), ci_low=1 - ss["ci_high"].to_numpy(), ci_high=1 - ss["ci_low"].to_numpy(),
                       sla_hours=h)
    # closed-only median, only to show the bias of dropping open requests (lower median)
    med = km.median_events_only
    blocks.add("svc.median_resolution_hours_closed_only", med * res_h, np.nan, np.nan, events,
               "median over resolved requests only (ignores open requests: biased downwards; shown for comparison only)",
               "biased_closed_only", quality=False)
    return life


# ---------------------------------------------------------------------------------------------
# command line


def run_cli(args: argparse.Namespace) -> int:
    """``evaluation requests FILE --format ... --by ... --period ... --sla-hours ... --engine ... --time ...
    --ci-method ... --response-sla-hours H --cutoff ISO --out FILE`` (defaults as :func:`request_indicators`)."""
    from evaluation.io import output_path, write_table

    out = output_path(args.out)
    cutoff = getattr(args, "cutoff", None)
    if cutoff is not None:
        try:
            cutoff = pd.Timestamp(cutoff)
        except (ValueError, TypeError):
            raise ValueError(f"--cutoff {args.cutoff!r} is not an ISO 8601 date or time (e.g. 2020-12-31T23:59)") from None
    response_sla = getattr(args, "response_sla_hours", None)
    if response_sla is not None and not response_sla > 0:
        raise ValueError(f"--response-sla-hours must be a positive number of hours, not {response_sla:g}")
    log = load_requests(args.file, format=args.format, mapping=args.mapping, engine=args.engine, cutoff=cutoff)
    sla = tuple(args.sla_hours) if args.sla_hours else DEFAULT_SLA_HOURS
    res = request_indicators(log, by=args.by, period=args.period, sla_hours=sla, engine=args.engine,
                             time=getattr(args, "time", "calendar"), ci_method=getattr(args, "ci_method", "log"),
                             response_sla_hours=response_sla)
    write_table(res.table, out)
    q = res.quality
    flagged = q[q["requests"] > 0]
    print(f"{len(log):,} requests; cut-off {log.cutoff} ({log.cutoff_source}); {len(res.table):,} indicator rows -> {out}", file=sys.stderr)
    for _, row in flagged.iterrows():
        print(f"  {row['flag']}: {row['requests']} ({row['action']})", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# indicator table provider


def indicator_provider(ds, year: int, level: str):
    """Provider for ``evaluation indicators`` (:mod:`evaluation.indicators`): the ``svc.*``
    indicators of calendar ``year`` per unit at ``level``, or ``None`` when the dataset has no
    requests (see :func:`evaluation.service_indicators.service_indicators`)."""
    from evaluation.service_indicators import service_indicators

    return service_indicators(ds, year, level)
