"""Adapters: any request log -> the standard request columns (schema table ``requests``).

Each adapter returns a frame with the standard columns (:data:`STANDARD_COLUMNS`; times
timezone-aware), a ``quality_flags`` bit mask with the defects only the adapter can see (the
1900-01-01 placeholder, unparseable stamps) and the source's own columns under their own names, so
that ``by=["Complaint Type"]`` works on a NYC export. Inputs are never modified.

Formats
-------
``native``
    The ``requests`` table of :mod:`evaluation.dataset.schema` (CSV, Parquet or XLSX, or a dataset folder).
``nyc311``
    NYC Open Data 311 export: ``Unique Key``, ``Created Date``, ``Closed Date``, ``Status``,
    ``Agency``, ``Complaint Type``, ``Open Data Channel Type``, ``Resolution Action Updated Date``;
    local New York time ``MM/DD/YYYY hh:mm:ss AM``. ``Closed Date`` is the resolution time.
``open311``
    GeoReport v2 JSON (``service_request_id``, ``requested_datetime``, ``updated_datetime``,
    ``status`` open/closed, ISO 8601 with offsets). GeoReport has no close time: for *closed*
    requests ``updated_datetime`` stands in for it (an upper bound: a later edit moves it).
``boston311``
    Boston 311 export (``case_enquiry_id``, ``open_dt``, ``closed_dt``, ``target_dt``,
    ``case_status``, ``ontime``, ``type``, ``department``, ``source``), naive Boston time.
``mapping``
    Any other city: a YAML (or dict) with ``columns`` (standard name -> source column),
    ``time_format`` (strptime, or omitted for ISO 8601), ``timezone`` and optionally
    ``status_values`` (standard status -> list of source values).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.errors import DataError, MissingInputError
from evaluation.requests.quality import FLAG_BITS

STANDARD_COLUMNS = (
    "request_id", "channel", "category", "affair_class", "compound_id", "community_id",
    "created_at", "first_response_at", "resolved_at", "closed_at", "status", "reopened", "rating",
)
TIME_COLUMNS = ("created_at", "first_response_at", "resolved_at", "closed_at")

#: Defaults of each format: time zone, working calendar ("china" or "weekdays").
FORMAT_DEFAULTS = {
    "native": {"timezone": "Asia/Shanghai", "calendar": "china"},
    "nyc311": {"timezone": "America/New_York", "calendar": "weekdays"},
    "boston311": {"timezone": "America/New_York", "calendar": "weekdays"},
    "open311": {"timezone": None, "calendar": "weekdays"},
    "mapping": {"timezone": "UTC", "calendar": "weekdays"},
}

#: columns of the open-data exports that locate the incident, not a person (the cities publish them)
PUBLIC_COLUMNS = {
    "nyc311": ("Incident Address", "Street Name", "Cross Street 1", "Cross Street 2", "Intersection Street 1",
               "Intersection Street 2", "Landmark", "incident_address", "street_name", "cross_street_1",
               "cross_street_2", "intersection_street_1", "intersection_street_2", "landmark"),
    "boston311": ("location", "location_street_name", "location_zipcode"),
    "open311": ("address", "address_id"),
}

_PLACEHOLDER_YEAR = 1900
NS_DAY = 86_400 * 10**9


def _read_any(path: Path) -> pd.DataFrame:
    ext = path.suffix.lower()
    if ext in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if ext in (".xlsx", ".xls"):
        return pd.read_excel(path, dtype=str)
    if ext == ".json":
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if isinstance(data, dict):  # some servers wrap the list
            data = data.get("service_requests", data.get("requests", [data]))
        return pd.DataFrame(data)
    for enc in ("utf-8-sig", "gb18030", "latin-1"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=enc)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path}: cannot decode the file as UTF-8, GB18030 or Latin-1")


def parse_local_times(values: pd.Series, fmt: str | None, tz: str, column: str, source: str):
    """Parse local wall-clock strings into timezone-aware times.

    Returns ``(times, unparseable, placeholder)``: times in ``tz`` (``NaT`` where missing,
    unparseable or the 1900-01-01 placeholder), and boolean masks of the two defects. Ambiguous
    autumn hours are read as standard time; non-existent spring hours move forward.
    """
    text = values.astype("str").where(values.notna(), None).str.strip()
    text = text.where(text != "", None)
    parsed = pd.to_datetime(text, format=fmt, errors="coerce") if fmt else pd.to_datetime(text, errors="coerce", format="ISO8601")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert(tz)
    else:
        parsed = parsed.dt.as_unit("ns").dt.tz_localize(tz, ambiguous=np.zeros(len(parsed), dtype=bool), nonexistent="shift_forward")
    parsed = parsed.dt.as_unit("ns")
    unparseable = (text.notna() & parsed.isna()).to_numpy()
    placeholder = (parsed.dt.year == _PLACEHOLDER_YEAR).fillna(False).to_numpy(dtype=bool)
    parsed = parsed.mask(placeholder)
    return parsed, unparseable, placeholder


def _finish(src: pd.DataFrame, std: dict, flags: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame(index=src.index)
    n = len(src)
    for col in STANDARD_COLUMNS:
        if col in std and std[col] is not None:
            out[col] = std[col]
        elif col in TIME_COLUMNS:
            nat = np.full(n, np.iinfo(np.int64).min).view("M8[ns]")
            out[col] = pd.Series(pd.DatetimeIndex(nat).tz_localize("UTC").tz_convert(std["_tz"]), index=src.index)
        elif col == "reopened":
            out[col] = pd.Series(pd.array(np.zeros(n, np.int64), dtype="Int64"), index=src.index).mask(np.ones(n, bool))
        else:
            # an all-missing categorical costs one byte a row (a missing str column costs far more)
            out[col] = pd.Series(pd.Categorical.from_codes(np.full(n, -1, np.int8), categories=pd.Index([], dtype="str")), index=src.index)
    for col in TIME_COLUMNS:
        if not isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = pd.Series(pd.DatetimeIndex(np.full(n, np.iinfo(np.int64).min).view("M8[ns]")).tz_localize("UTC").tz_convert(std["_tz"]), index=src.index)
    if not isinstance(out["reopened"].dtype, pd.Int64Dtype):
        out["reopened"] = pd.array(pd.to_numeric(out["reopened"], errors="coerce"), dtype="Int64")
    out["quality_flags"] = flags.astype(np.int64)
    for col in src.columns:  # the source's own columns, for --by on its own names
        if col not in out.columns:
            out[col] = src[col]
    return out.reset_index(drop=True)


def _times(src, mapping_cols: dict, fmt, tz, source, flags):
    std = {"_tz": tz}
    for std_col, src_col in mapping_cols.items():
        if src_col is None or src_col not in src.columns:
            continue
        t, bad, ph = parse_local_times(src[src_col], fmt, tz, src_col, source)
        flags |= np.where(bad, FLAG_BITS["unparseable_time"], 0)
        flags |= np.where(ph, FLAG_BITS["default_1900"], 0)
        std[std_col] = t
    return std


def _status(values: pd.Series, table: dict[str, list[str]]) -> pd.Series:
    low = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="str")
    for std, raw in table.items():
        out = out.mask(low.isin([r.lower() for r in raw]), std)
    return out


def _require(src: pd.DataFrame, cols, source: str, fmt: str):
    missing = [c for c in cols if c not in src.columns]
    if missing:
        raise MissingInputError(f"{source}: not a {fmt} export, column(s) {', '.join(repr(m) for m in missing)} missing")


NYC_STATUS = {
    "closed": ["Closed"],
    "in_progress": ["Assigned", "Started", "In Progress", "Pending", "Email Sent", "Draft"],
    "open": ["Open", "Unassigned", "Unspecified"],
}


def adapt_nyc311(src: pd.DataFrame, source: str = "NYC 311 export", timezone: str | None = None) -> pd.DataFrame:
    """NYC 311 export -> standard columns (``Closed Date`` is the resolution time)."""
    _require(src, ["Unique Key", "Created Date", "Closed Date", "Status"], source, "NYC 311")
    tz = timezone or FORMAT_DEFAULTS["nyc311"]["timezone"]
    flags = np.zeros(len(src), dtype=np.int64)
    std = _times(src, {"created_at": "Created Date", "resolved_at": "Closed Date"}, "%m/%d/%Y %I:%M:%S %p", tz, source, flags)
    std["closed_at"] = std.get("resolved_at")
    std["request_id"] = src["Unique Key"].astype("str")
    std["status"] = _status(src["Status"], NYC_STATUS)
    std["category"] = src.get("Complaint Type")
    std["channel"] = src.get("Open Data Channel Type")
    return _finish(src, std, flags)


def adapt_boston311(src: pd.DataFrame, source: str = "Boston 311 export", timezone: str | None = None) -> pd.DataFrame:
    """Boston 311 export -> standard columns (``closed_dt`` is the resolution time)."""
    _require(src, ["case_enquiry_id", "open_dt", "closed_dt", "case_status"], source, "Boston 311")
    tz = timezone or FORMAT_DEFAULTS["boston311"]["timezone"]
    flags = np.zeros(len(src), dtype=np.int64)
    std = _times(src, {"created_at": "open_dt", "resolved_at": "closed_dt"}, "%Y-%m-%d %H:%M:%S", tz, source, flags)
    std["closed_at"] = std.get("resolved_at")
    std["request_id"] = src["case_enquiry_id"].astype("str")
    std["status"] = _status(src["case_status"], {"closed": ["Closed"], "open": ["Open"]})
    std["category"] = src.get("type")
    std["channel"] = src.get("source")
    return _finish(src, std, flags)


def adapt_open311(src: pd.DataFrame, source: str = "Open311 response", timezone: str | None = None) -> pd.DataFrame:
    """Open311 GeoReport v2 -> standard columns.

    ``updated_datetime`` stands in for the close time of *closed* requests only; on open requests
    it is an edit time, not a close date. ``lat``/``long`` of exactly 0 are flagged
    ``zero_coordinates`` (a placeholder, not a place).
    """
    _require(src, ["service_request_id", "requested_datetime", "status"], source, "Open311 GeoReport v2")
    if timezone is None:
        # keep the offset the server reports when it is the same for every stamp
        offsets = src["requested_datetime"].dropna().astype("str").str.extract(r"([+-]\d{2}:?\d{2}|Z)$")[0].dropna().unique()
        timezone = "UTC" if len(offsets) != 1 or offsets[0] == "Z" else _fixed_offset(offsets[0])
    flags = np.zeros(len(src), dtype=np.int64)
    std = _times(src, {"created_at": "requested_datetime", "updated_at": "updated_datetime"}, None, timezone, source, flags)
    status = _status(src["status"], {"closed": ["closed"], "open": ["open"]})
    updated = std.pop("updated_at", None)
    if updated is not None:
        std["resolved_at"] = updated.where(status == "closed")
        std["closed_at"] = std["resolved_at"]
    std["request_id"] = src["service_request_id"].astype("str")
    std["status"] = status
    std["category"] = src.get("service_name")
    if "lat" in src.columns:
        lat = pd.to_numeric(src["lat"], errors="coerce")
        lon = pd.to_numeric(src.get("long", src["lat"]), errors="coerce")
        flags |= np.where(((lat == 0) | (lon == 0)).fillna(False).to_numpy(bool), FLAG_BITS["zero_coordinates"], 0)
    return _finish(src, std, flags)


def _fixed_offset(text: str) -> str:
    """'-04:00' -> a fixed-offset zone name pandas understands ('UTC-04:00')."""
    return f"UTC{text[:3]}:{text[-2:]}"


def adapt_mapping(src: pd.DataFrame, mapping: dict, source: str = "request log", timezone: str | None = None) -> pd.DataFrame:
    """Any export described by a user mapping (see the module docstring)."""
    cols = dict(mapping.get("columns", {}))
    for need in ("request_id", "created_at"):
        if need not in cols:
            raise DataError(f"{source}: the mapping must name the source column of {need!r} under 'columns'")
    _require(src, [c for c in cols.values() if c], source, "mapped")
    tz = timezone or mapping.get("timezone") or FORMAT_DEFAULTS["mapping"]["timezone"]
    flags = np.zeros(len(src), dtype=np.int64)
    std = _times(src, {k: v for k, v in cols.items() if k in TIME_COLUMNS}, mapping.get("time_format"), tz, source, flags)
    for k, v in cols.items():
        if k not in TIME_COLUMNS and k in STANDARD_COLUMNS:
            std[k] = src[v].astype("str").where(src[v].notna(), None) if k != "reopened" else src[v]
    if "status" in cols:
        table = mapping.get("status_values") or {s: [s] for s in ("open", "in_progress", "resolved", "closed")}
        std["status"] = _status(src[cols["status"]], table)
    return _finish(src, std, flags)


def adapt_native(src: pd.DataFrame, source: str = "requests table", timezone: str | None = None) -> pd.DataFrame:
    """The native ``requests`` table: parse times (ISO 8601; naive stamps are local ``timezone``)."""
    _require(src, ["request_id", "created_at", "status"], source, "native requests")
    tz = timezone or FORMAT_DEFAULTS["native"]["timezone"]
    flags = np.zeros(len(src), dtype=np.int64)
    std = {"_tz": tz}
    for col in TIME_COLUMNS:
        if col not in src.columns:
            continue
        s = src[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.tz_convert(tz) if isinstance(s.dtype, pd.DatetimeTZDtype) else s.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
            s = s.dt.as_unit("ns")
            # compare raw nanoseconds: much faster than .dt.year on millions of rows
            v = s.array.asi8
            lo, hi = pd.Timestamp("1900-01-01", tz="UTC").value - NS_DAY, pd.Timestamp("1901-01-01", tz="UTC").value + NS_DAY
            ph = (v >= lo) & (v < hi) & (v != np.iinfo(np.int64).min)
            if ph.any():
                ph &= (s.dt.year == _PLACEHOLDER_YEAR).fillna(False).to_numpy(bool)
                s = s.mask(ph)
                flags |= np.where(ph, FLAG_BITS["default_1900"], 0)
        else:
            s, bad, ph = parse_local_times(s, None, tz, col, source)
            flags |= np.where(bad, FLAG_BITS["unparseable_time"], 0) | np.where(ph, FLAG_BITS["default_1900"], 0)
        std[col] = s
    for col in STANDARD_COLUMNS:
        if col not in TIME_COLUMNS and col in src.columns:
            std[col] = src[col]
    return _finish(src, std, flags)


ADAPTERS = {
    "native": adapt_native,
    "nyc311": adapt_nyc311,
    "boston311": adapt_boston311,
    "open311": adapt_open311,
}


def read_source(path: Path) -> pd.DataFrame:
    """Read a request export (CSV in UTF-8/GB18030, XLSX, Parquet, JSON) without changing it."""
    if not path.exists():
        raise MissingInputError(f"{path}: no such file or folder")
    return _read_any(path)
