"""Loading a request log: any format, one row per request, with its flags and its cut-off.

:func:`load_requests` reads a native table, a dataset folder, a NYC 311, Boston 311 or Open311
export, or a log described by a mapping (:mod:`evaluation.requests.formats`), flags it
(:mod:`evaluation.requests.quality`) and fixes the cut-off: the one given, else the dataset's
declared one, else the latest valid stamp of the log. A folder or glob of Parquet parts stays lazy
and partitioned for the Dask engine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.dataset.load import load_dataset, parse_cutoff
from evaluation.dataset.privacy import check_pii_option, screen_headers, screen_personal_data
from evaluation.errors import MissingInputError, OptionError
from evaluation.requests.durations import NS_PER_SECOND
from evaluation.requests.formats import (
    ADAPTERS,
    FORMAT_DEFAULTS,
    MEASURE_COLUMNS,
    PUBLIC_COLUMNS,
    SOURCE_COLUMNS,
    STANDARD_COLUMNS,
    adapt_mapping,
    load_mapping,
    refuse_unknown_values,
)
from evaluation.requests.partitioned import (
    Parts,
    find_later_copies,
    find_parts,
    native_timezone,
    read_part,
    resolve_cutoff,
)
from evaluation.requests.quality import (
    FIRST_PLAUSIBLE_YEAR,
    FLAG_BITS,
    FLAG_MEANING,
    NAT,
    QualityPolicy,
    _to_ns,
    decode_flags,
    flag_requests,
)
from evaluation.requests.readers import LABEL_COLUMNS, canonical_columns, read_source, source_columns


class Stopwatch:
    """Seconds per stage: ``lap(name)`` records the time since the previous lap."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        """Add the seconds since the previous lap (or since the start) to stage ``name`` in ``laps``."""
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._t
        self._t = now


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
    #: resolution of the source stamps in seconds: 1 when any stamp has seconds, 60 when all are
    #: whole minutes (durations are measured at this resolution, so estimates are exact for it)
    resolution_seconds: int = 1
    #: what loading did that a reader should know: the zone of naive stamps, values mapped, keys repeated
    notes: list[str] = field(default_factory=list)
    #: seconds each stage of loading took (read, screen and adapt, cut-off, flags, labels)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """The log's columns (standard, ``quality_flags`` and the source's own)."""
        return list(self.data.names if isinstance(self.data, Parts) else self.data.columns)

    def recorded(self, column: str) -> bool:
        """Does the log record ``column`` at all (some value present)? Partitioned logs: column exists."""
        if column not in self.columns:
            return False
        return True if self.is_dask else bool(self.data[column].notna().any())

    @property
    def is_dask(self) -> bool:
        """Is the log a partitioned one, left on disk for the Dask engine?"""
        return isinstance(self.data, Parts)

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


def _latest_timestamp(df: pd.DataFrame) -> pd.Timestamp | None:
    """Latest plausible stamp of any kind (placeholders already missing; none after tomorrow), from int64 maxima."""
    best = None
    upper = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)).value
    lower = pd.Timestamp(f"{FIRST_PLAUSIBLE_YEAR}-01-01", tz="UTC").value
    tz = None
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            tz = s.dt.tz
            v = _to_ns(s)
            m = v.max(initial=NAT)
            if m > upper:  # a stamp in the future is a typo, not the extraction time
                ok = (v >= lower) & (v <= upper)
                m = v[ok].max(initial=NAT)
            if m != NAT and (best is None or m > best):
                best = m
    return None if best is None else pd.Timestamp(best, tz="UTC").tz_convert(tz)


def _wanted_columns(path: Path, format: str, mapping: Mapping | None, keep) -> tuple[list[str] | None, list[str], str | None]:
    """Source columns to read (``None``: all), label columns and the id column, for a file."""
    if path.suffix.lower() not in (".parquet", ".pq", ".csv", ".txt", ".tsv"):
        return None, list(LABEL_COLUMNS), None
    keep = None if keep is None else list(keep)
    if format == "native":
        names = source_columns(path)
        canon = canonical_columns(names)
        id_col = next((c for c, v in canon.items() if v == "request_id"), "request_id")
        if keep is None:
            wanted = {c for c in names if canon.get(c) in STANDARD_COLUMNS}
        else:  # what every indicator reads, and the columns the grouping names (by either name)
            need = set(MEASURE_COLUMNS) | set(keep)
            wanted = {c for c in names if canon.get(c) in need or c in need}
        labels = [c for c in names if canon.get(c) in LABEL_COLUMNS and (keep is None or c in wanted)]
    elif format in SOURCE_COLUMNS:
        need, id_col, labels = SOURCE_COLUMNS[format]
        wanted, labels = set(need), list(labels)
    elif format == "mapping" and mapping is not None:
        m = mapping.get("columns", {})
        id_col = m.get("request_id")
        wanted = {v for v in m.values() if v}
        labels = [m[k] for k in ("channel", "category", "status", "community_id", "compound_id") if m.get(k)]
    else:
        return None, list(LABEL_COLUMNS), None
    if keep is None:
        return None, labels, id_col
    return sorted(wanted | set(keep)), labels + keep, id_col


def load_requests(
    path_or_frame,
    format: str = "native",
    mapping: Mapping | str | os.PathLike | None = None,
    cutoff=None,
    timezone: str | None = None,
    engine: str = "pandas",
    units: pd.DataFrame | None = None,
    pii: str = "refuse",
    salt: str | None = None,
    keep=None,
) -> RequestLog:
    """Load a request log, one row per request, with data-quality flags.

    Parameters
    ----------
    path_or_frame
        A file (CSV, XLSX, Parquet, JSON), a dataset folder, or a DataFrame in the source's layout;
        with ``engine="dask"`` also a folder or a glob of Parquet parts (``logs/2021-*.parquet``).
    format
        "native", "nyc311", "open311", "boston311" or "mapping" (then ``mapping`` is required: a
        dict, a YAML file, or the name of a built-in mapping, see :mod:`evaluation.requests.formats`).
    cutoff
        Data cut-off; default: the dataset's declared cut-off, else the latest timestamp of any
        kind in the log. A stamp after the cut-off has not happened yet at it.
    timezone
        IANA zone of stamps without an offset; default: the format's (Asia/Shanghai for native,
        America/New_York for NYC and Boston; Open311 and mappings need one when their stamps have
        no offset). The zone used is stated in :attr:`RequestLog.notes`.
    engine
        "pandas", or "dask" (a partitioned Parquet log stays on disk, part by part).
    units
        The ``units`` table, for per-1,000 rates and ``street_id`` / ``district_id`` (read from the
        dataset when ``path_or_frame`` is a dataset folder).
    pii, salt
        Columns that look like personal identifiers (names, phones, ID-card numbers, addresses of
        people) are refused (``"refuse"``, default) or kept as salted hashes (``"hash"`` with a
        secret ``salt``), by the same detector as the dataset loader
        (:func:`evaluation.dataset.privacy.screen_personal_data`). The incident locations of the
        open-data exports (NYC, Boston) are not personal data.
    keep
        Source columns a grouping will need beyond the standard ones (``["Agency"]``); the others
        are not read. ``None`` (default) keeps every column of the source.
    """
    if format == "mapping":
        if mapping is None:
            raise OptionError("--format mapping needs a mapping (--mapping FILE.yaml, or a built-in name such as "
                              "chicago311)")
        mapping = load_mapping(mapping)
    elif format not in ADAPTERS:
        raise OptionError(f"unknown request-log format {format!r}; use native, nyc311, open311, boston311 or mapping")
    if not isinstance(path_or_frame, pd.DataFrame):
        text = str(path_or_frame)
        if not any(ch in text for ch in "*?[") and not Path(text).exists():
            raise MissingInputError(f"{text}: no such file or folder")
    if engine == "dask" and format == "native" and not isinstance(path_or_frame, pd.DataFrame):
        text = str(path_or_frame)
        p = Path(text)
        if any(ch in text for ch in "*?[") or (p.is_dir() and not (p / "datapackage.json").exists()) \
                or p.suffix.lower() in (".parquet", ".pq"):
            return _load_partitioned(text, cutoff=cutoff, timezone=timezone)
    # other inputs are read with pandas; request_indicators(engine="dask") partitions them
    clock = Stopwatch()
    declared_cutoff, declared_tz = None, None
    source = "DataFrame" if isinstance(path_or_frame, pd.DataFrame) else str(path_or_frame)
    screened = False
    if isinstance(path_or_frame, pd.DataFrame):
        src = path_or_frame
    else:
        path = Path(path_or_frame)
        if path.is_dir():
            if format != "native":
                raise OptionError(f"{path}: a folder can only be read as a native dataset (--format native)")
            src, units, declared_cutoff, declared_tz = _read_dataset_folder(path, timezone=timezone, pii=pii,
                                                                            salt=salt)
            screened = True
        else:
            cols, labels, id_col = _wanted_columns(path, format, mapping, keep)
            if cols is not None:
                check_pii_option(pii, salt)
                unread = [c for c in source_columns(path) if c not in set(cols)]
                screen_headers(unread, "requests" if format == "native" else None, path.name, pii,
                               exempt=PUBLIC_COLUMNS.get(format, ()))
            src = read_source(path, cols, labels, id_col, table="requests" if format == "native" else None,
                              pii=pii, salt=salt)
            screened = bool(src.attrs.get("screened"))
    clock.lap("read")
    if not screened:
        src = screen_personal_data(src, "requests" if format == "native" else None, Path(source).name, pii, salt,
                                   exempt=PUBLIC_COLUMNS.get(format, ()))
    if format == "native":
        src = src.rename(columns=canonical_columns(src.columns))
    tz = timezone or declared_tz or FORMAT_DEFAULTS[format]["timezone"]
    if format == "mapping":
        std = adapt_mapping(src, mapping, source=source, timezone=timezone)
    else:
        std = ADAPTERS[format](src, source=source, timezone=tz)
        if format == "native" and not isinstance(path_or_frame, pd.DataFrame) and not Path(path_or_frame).is_dir():
            refuse_unknown_values(std, src, source)  # a dataset folder's values were validated with it
    clock.lap("screen and adapt")
    notes = list(std.attrs.get("notes", []))
    tz = str(std["created_at"].dt.tz)
    if cutoff is not None:
        cut = parse_cutoff(cutoff, tz, "--cutoff")
        how = "given"
    elif declared_cutoff is not None:
        cut = declared_cutoff.tz_convert(tz)
        how = "declared by the dataset"
    else:
        cut = _latest_timestamp(std)
        if cut is None:
            raise MissingInputError(f"{source}: no valid timestamp in the log, cannot set a cut-off; give --cutoff")
        how = "latest timestamp in the log"
    clock.lap("cut-off")
    std = flag_requests(std, cut, tz)
    clock.lap("quality flags")
    for col in ("channel", "category", "affair_class", "community_id", "compound_id", "status", "rating"):
        if not isinstance(std[col].dtype, pd.CategoricalDtype):
            std[col] = std[col].astype("category")
    if units is not None and "community_id" in std.columns:
        std = _with_parent_units(std, units)
    clock.lap("labels")
    return RequestLog(
        data=std, cutoff=cut, timezone=tz, format=format, source=source,
        calendar=FORMAT_DEFAULTS.get(format, {}).get("calendar", "weekdays"), cutoff_source=how, units=units,
        resolution_seconds=stamp_resolution(std), notes=notes, timings=clock.laps,
    )


def stamp_resolution(std: pd.DataFrame) -> int:
    """Seconds a duration can be resolved to from the stamps.

    60 when every created, first-response and resolution stamp falls on a whole minute, else 1
    (sub-second parts are dropped).
    """
    minute = 60 * NS_PER_SECOND
    for col in ("created_at", "first_response_at", "resolved_at"):
        if col in std.columns and isinstance(std[col].dtype, pd.DatetimeTZDtype):
            v = _to_ns(std[col])
            v = v[v != NAT]
            if len(v) and np.any(v % minute):
                return 1
    return 60


def _read_dataset_folder(path: Path, cutoff=None, timezone: str | None = None, pii: str = "refuse",
                         salt: str | None = None):
    """Requests (and units) of a dataset folder, its cut-off and time zone: only these two tables are read."""
    ds = load_dataset(path, cutoff=cutoff, timezone=timezone, pii=pii, salt=salt)
    if "requests" not in ds:
        raise MissingInputError(f"{path}: the dataset has no requests table (requests.csv, .xlsx or .parquet)",
                                table="requests")
    units = ds["units"] if "units" in ds else None
    return ds["requests"], units, ds.cutoff, ds.timezone


def _with_parent_units(std: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """Add ``street_id`` and ``district_id``, the parents of ``community_id`` in ``units``.

    So ``by=["street_id"]`` works on a dataset; a community missing from ``units`` gives missing parents.
    """
    parent = pd.Series(units["parent_id"].astype("str").to_numpy(), index=units["unit_id"].astype("str").to_numpy())
    street = std["community_id"].astype("str").map(parent)
    out = std.copy()
    out["street_id"] = street.astype("category")
    out["district_id"] = street.map(parent).astype("category")
    return out


def _as_tz(t, tz: str) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize(tz) if t.tzinfo is None else t.tz_convert(tz)


def _load_partitioned(path: str, cutoff=None, timezone: str | None = None) -> RequestLog:
    """A native log stored as Parquet parts, left on disk (:mod:`evaluation.requests.partitioned`).

    The cut-off comes from the Parquet statistics; repeated ids are found across parts now, so
    that every part is flagged as the pandas engine would flag the whole log.
    """
    files = find_parts(path)
    tz = native_timezone(timezone)
    cut, how = resolve_cutoff(files, cutoff, tz)
    parts = Parts(files)
    parts.later_copies = find_later_copies(files)
    return RequestLog(data=parts, cutoff=cut, timezone=tz, format="native", source=str(path), calendar="china",
                      cutoff_source=how, resolution_seconds=1)


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
    import dask  # noqa: PLC0415 - optional: the dask extra

    parts = [dask.delayed(_part_flag_counts)(log.data, k, log.cutoff, log.timezone) for k in range(len(log.data.files))]
    total = dict.fromkeys(FLAG_BITS, 0)
    for d in dask.compute(*parts):
        for k, v in d.items():
            total[k] += v
    return total


def _part_flag_counts(parts: Parts, k: int, cutoff, tz):
    bits = read_part(parts, k, cutoff, tz)["quality_flags"].to_numpy()
    return {name: int(((bits & bit) != 0).sum()) for name, bit in FLAG_BITS.items()}


def dataset_log(ds) -> RequestLog:
    """The request log of a dataset, typed and flagged once and kept on the dataset.

    The one pipeline behind the ``svc.*`` indicators, the per-unit service indicators and the
    impact panels: the dataset's ``requests`` table through the native format, the quality flags at
    the dataset's cut-off, and ``street_id`` / ``district_id`` from ``units``.
    """
    def load() -> RequestLog:
        units = ds["units"] if "units" in ds else None
        return load_requests(ds["requests"], cutoff=getattr(ds, "cutoff", None),
                             timezone=getattr(ds, "timezone", None), units=units)

    memo = getattr(ds, "memo", None)
    return memo(("request_log",), load) if memo is not None else load()
