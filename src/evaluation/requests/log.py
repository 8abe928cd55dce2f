"""Loading a request log: any format, one row per request, with its flags and its cut-off.

:func:`load_requests` reads a native table, a dataset folder, a NYC 311, Boston 311 or Open311
export, or a log described by a mapping (:mod:`evaluation.requests.formats`), flags it
(:mod:`evaluation.requests.quality`) and fixes the cut-off: the one given, else the dataset's
declared one, else the latest valid stamp of the log. A folder or glob of Parquet parts stays lazy
and partitioned for the Dask engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from evaluation.dataset.load import load_dataset, parse_cutoff
from evaluation.dataset.privacy import screen_personal_data
from evaluation.errors import MissingInputError, OptionError
from evaluation.requests.durations import NS_PER_SECOND
from evaluation.requests.formats import (
    ADAPTERS,
    FORMAT_DEFAULTS,
    PUBLIC_COLUMNS,
    TIME_COLUMNS,
    adapt_mapping,
    adapt_native,
    read_source,
)
from evaluation.requests.quality import FLAG_BITS, FLAG_MEANING, NAT, QualityPolicy, _to_ns, decode_flags, flag_requests


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
    units: pd.DataFrame | None = None,
    pii: str = "refuse",
    salt: str | None = None,
) -> RequestLog:
    """Load a request log, one row per request, with data-quality flags.

    Parameters
    ----------
    path_or_frame
        A file (CSV, XLSX, Parquet, JSON), a dataset folder, a folder of Parquet parts (Dask), or a
        DataFrame already in the source's layout.
    format
        "native", "nyc311", "open311", "boston311" or "mapping" (then ``mapping`` is required: a
        dict or a YAML file, see :mod:`evaluation.requests.formats`).
    cutoff
        Data cut-off; default: the dataset's declared cut-off, else the latest timestamp of any
        kind in the log.
    engine
        "pandas" or "dask" (native Parquet only: the log stays lazy and partitioned).
    units
        The ``units`` table, for per-1,000 rates and ``street_id`` / ``district_id`` (read from the
        dataset when ``path_or_frame`` is a dataset folder).
    pii, salt
        Columns that look like personal identifiers (names, phones, ID-card numbers, addresses of
        people) are refused (``"refuse"``, default) or kept as salted hashes (``"hash"`` with a
        secret ``salt``), by the same detector as the dataset loader
        (:func:`evaluation.dataset.privacy.screen_personal_data`). The incident locations of the
        open-data exports (NYC, Boston) are not personal data.
    """
    if engine == "dask" and format == "native" and not isinstance(path_or_frame, pd.DataFrame):
        p = Path(path_or_frame)
        if (p.is_dir() and not (p / "datapackage.json").exists()) or p.suffix.lower() == ".parquet":
            return _load_dask(p, cutoff=cutoff, timezone=timezone)
    # other inputs are read with pandas; request_indicators(engine="dask") partitions them
    declared_cutoff, declared_tz = None, None
    source = "DataFrame" if isinstance(path_or_frame, pd.DataFrame) else str(path_or_frame)
    if isinstance(path_or_frame, pd.DataFrame):
        src = path_or_frame
    else:
        path = Path(path_or_frame)
        if path.is_dir():
            if format != "native":
                raise OptionError(f"{path}: a folder can only be read as a native dataset (--format native)")
            src, units, declared_cutoff, declared_tz = _read_dataset_folder(path, timezone=timezone, pii=pii,
                                                                            salt=salt)
        else:
            src = read_source(path)
    if not (isinstance(path_or_frame, (str, os.PathLike)) and Path(path_or_frame).is_dir()):
        src = screen_personal_data(src, "requests" if format == "native" else None, Path(source).name, pii, salt,
                                   exempt=PUBLIC_COLUMNS.get(format, ()))
    tz = timezone or declared_tz or FORMAT_DEFAULTS.get(format, {}).get("timezone")
    if format == "mapping":
        if mapping is None:
            raise OptionError(f"{source}: --format mapping needs a mapping (--mapping FILE.yaml)")
        if not isinstance(mapping, Mapping):
            mapping = yaml.safe_load(Path(mapping).read_text(encoding="utf-8"))
        std = adapt_mapping(src, mapping, source=source, timezone=timezone)
        tz = timezone or mapping.get("timezone") or "UTC"
    elif format in ADAPTERS:
        std = ADAPTERS[format](src, source=source, timezone=tz)
    else:
        raise OptionError(f"unknown request-log format {format!r}; use native, nyc311, open311, boston311 or mapping")
    tz = str(std["created_at"].dt.tz)
    if cutoff is not None:
        cut = parse_cutoff(cutoff, tz, "--cutoff")
        how = "given"
    elif declared_cutoff is not None:
        cut = _as_tz(declared_cutoff, tz)
        how = "declared by the dataset"
    else:
        cut = _latest_timestamp(std)
        if cut is None:
            raise MissingInputError(f"{source}: no valid timestamp in the log, cannot set a cut-off")
        how = "latest timestamp in the log"
    std = flag_requests(std, cut, tz)
    for col in ("channel", "category", "affair_class", "community_id", "compound_id", "status", "rating"):
        std[col] = std[col].astype("category")
    if units is not None and "community_id" in std.columns:
        std = _with_parent_units(std, units)
    return RequestLog(
        data=std, cutoff=cut, timezone=tz, format=format, source=source,
        calendar=FORMAT_DEFAULTS.get(format, {}).get("calendar", "weekdays"), cutoff_source=how, units=units,
        resolution_seconds=stamp_resolution(std),
    )


def stamp_resolution(std: pd.DataFrame) -> int:
    """Seconds a duration can be resolved to from the stamps: 60 when every created, first-response
    and resolution stamp falls on a whole minute, else 1 (sub-second parts are dropped).
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
    """Add ``street_id`` and ``district_id`` (the parents of ``community_id`` in ``units``), so that
    ``by=["street_id"]`` works on a dataset; a community missing from ``units`` gives missing parents.
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


def _load_dask(path, cutoff=None, timezone: str | None = None) -> RequestLog:
    """A native log stored as partitioned Parquet, lazily (flags per partition)."""
    import dask.dataframe as dd  # noqa: PLC0415 - optional: the dask extra, only for --engine dask

    path = Path(path)
    ddf = dd.read_parquet(str(path))
    tz = timezone or FORMAT_DEFAULTS["native"]["timezone"]
    if cutoff is None:
        maxima = [ddf[c].max() for c in TIME_COLUMNS if c in ddf.columns]
        import dask  # noqa: PLC0415 - optional: the dask extra

        vals = [pd.Timestamp(v) for v in dask.compute(*maxima) if pd.notna(v)]
        cut = max(_as_tz(v, tz) for v in vals)
        how = "latest timestamp in the log"
    else:
        cut, how = parse_cutoff(cutoff, tz, "--cutoff"), "given"
    return RequestLog(data=ddf, cutoff=cut, timezone=tz, format="native", source=str(path), calendar="china", cutoff_source=how)


def _prepare_partition(part: pd.DataFrame, cutoff: pd.Timestamp, tz: str) -> pd.DataFrame:
    """Dask partition of a native table -> standard columns with flags (duplicates within it)."""
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
    import dask  # noqa: PLC0415 - optional: the dask extra

    parts = [dask.delayed(_part_flag_counts)(p, log.cutoff, log.timezone) for p in log.data.to_delayed()]
    total = dict.fromkeys(FLAG_BITS, 0)
    for d in dask.compute(*parts):
        for k, v in d.items():
            total[k] += v
    return total


def _part_flag_counts(part, cutoff, tz):
    bits = _prepare_partition(part, cutoff, tz)["quality_flags"].to_numpy()
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
