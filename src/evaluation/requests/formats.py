"""Formats: any request log -> the standard request columns (schema table ``requests``).

Each adapter returns a frame with the standard columns (:data:`STANDARD_COLUMNS`; times
timezone-aware), a ``quality_flags`` bit mask with the defects only the format can see (the
1900-01-01 placeholder, unparseable or truncated stamps, keys repeated inside a JSON record) and
the source's own columns under their own names, so that ``by=["Complaint Type"]`` works on a NYC
export. Inputs are never modified. :data:`SOURCE_COLUMNS` says which source columns each format
reads, so that a large export is read only in part.

Formats
-------
``native``
    The ``requests`` table of :mod:`evaluation.dataset.schema` (CSV, Parquet or XLSX, or a dataset
    folder), with Chinese or English headers (``受理时间``) and values (``已办结``, ``满意``) mapped
    as in a dataset (:mod:`evaluation.dataset.values`). Naive stamps are local time of the dataset
    (Asia/Shanghai by default).
``nyc311``
    NYC Open Data 311: the CSV export (``Unique Key``, ``Created Date``, ``Closed Date``,
    ``Status``, ``Agency``, ``Complaint Type``, ``Open Data Channel Type``; ``MM/DD/YYYY hh:mm:ss AM``)
    or the Socrata API's JSON (``unique_key``, ``created_date``, ``closed_date`` absent while open,
    ISO 8601), local New York time. ``Closed Date`` is the resolution time.
``open311``
    GeoReport v2 JSON (``service_request_id``, ``requested_datetime``, ``updated_datetime``,
    ``status`` open/closed). GeoReport has no close time: for *closed* requests
    ``updated_datetime`` stands in for it (an upper bound: a later edit moves it). Stamps without an
    offset need ``timezone``.
``boston311``
    Boston 311 export (``case_enquiry_id``, ``open_dt``, ``closed_dt``, ``target_dt``,
    ``case_status``, ``ontime``, ``type``, ``department``, ``source``), naive Boston time.
``mapping``
    Any other city: a YAML (or dict) with ``columns`` (standard name -> source column, ``request_id``
    and ``created_at`` required), ``time_format`` (strptime, or omitted for ISO 8601),
    ``timezone`` and optionally ``status_values`` (standard status -> list of source values). Built-in
    mappings (:data:`BUILTIN_MAPPINGS`, files in ``mappings/``) can be named instead of a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from evaluation.dataset.read import file_row
from evaluation.dataset.values import enum_columns, map_values
from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.requests.quality import FLAG_BITS, NAT

STANDARD_COLUMNS = (
    "request_id", "channel", "category", "affair_class", "compound_id", "community_id",
    "created_at", "first_response_at", "resolved_at", "closed_at", "status", "reopened", "rating",
)
TIME_COLUMNS = ("created_at", "first_response_at", "resolved_at", "closed_at")
#: the standard columns the request indicators read whatever the grouping; the label columns
#: (channel, category, affair class, compound, community) are read only when a grouping names them
MEASURE_COLUMNS = ("request_id", *TIME_COLUMNS, "status", "reopened", "rating")

#: Defaults of each format: time zone (``None``: stamps must carry an offset, or ``timezone`` be
#: given), working calendar ("china" or "weekdays").
FORMAT_DEFAULTS = {
    "native": {"timezone": "Asia/Shanghai", "calendar": "china"},
    "nyc311": {"timezone": "America/New_York", "calendar": "weekdays"},
    "boston311": {"timezone": "America/New_York", "calendar": "weekdays"},
    "open311": {"timezone": None, "calendar": "weekdays"},
    "mapping": {"timezone": None, "calendar": "weekdays"},
}

#: columns of the open-data exports that locate the incident, not a person (the cities publish them)
PUBLIC_COLUMNS = {
    "nyc311": ("Incident Address", "Street Name", "Cross Street 1", "Cross Street 2", "Intersection Street 1",
               "Intersection Street 2", "Landmark", "incident_address", "street_name", "cross_street_1",
               "cross_street_2", "intersection_street_1", "intersection_street_2", "landmark"),
    "boston311": ("location", "location_street_name", "location_zipcode"),
    "open311": ("address", "address_id"),
}

#: the Socrata (NYC Open Data API) field names -> the CSV export's column names
SOCRATA_NYC = {"unique_key": "Unique Key", "created_date": "Created Date", "closed_date": "Closed Date",
               "status": "Status", "agency": "Agency", "complaint_type": "Complaint Type",
               "open_data_channel_type": "Open Data Channel Type",
               "resolution_action_updated_date": "Resolution Action Updated Date"}

#: source columns each format reads (beyond those a grouping asks for), its id column and its labels
SOURCE_COLUMNS = {
    "nyc311": (("Unique Key", "Created Date", "Closed Date", "Status", "Complaint Type", "Open Data Channel Type",
                "Agency"), "Unique Key", ("Status", "Complaint Type", "Open Data Channel Type", "Agency")),
    "boston311": (("case_enquiry_id", "open_dt", "closed_dt", "case_status", "type", "source", "target_dt", "ontime"),
                  "case_enquiry_id", ("case_status", "type", "source", "ontime")),
}

#: mappings that ship with the package (name -> file in ``mappings/``)
BUILTIN_MAPPINGS = {"chicago311": "chicago311.yaml"}

NYC_STATUS = {
    "closed": ["Closed"],
    "in_progress": ["Assigned", "Started", "In Progress", "Pending", "Email Sent", "Draft"],
    "open": ["Open", "Unassigned", "Unspecified"],
}

_PLACEHOLDER_YEAR = 1900
_OFFSET = r"(?:[zZ]|[+-]\d{2}:?\d{2})$"
#: a year, a year and month, or a date with a bare hour: truncated, not a stamp
_TRUNCATED = r"^\d{4}(-\d{1,2})?$|^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}$"


# --------------------------------------------------------------------------- time stamps


def _text(values) -> pa.Array:
    """Values as an Arrow string array, trimmed, empty strings missing."""
    if isinstance(values, pd.Series):
        values = values.astype("str") if values.dtype != "str" else values
        arr = pa.array(values.array)
    else:
        arr = values
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _flags_of(mask: np.ndarray, name: str) -> np.ndarray | np.int64:
    """The bit of flag ``name`` where ``mask`` is true (a scalar 0 when it is nowhere: no 80 MB of zeros)."""
    if not mask.any():
        return np.int64(0)
    return mask.astype(np.int64) * np.int64(FLAG_BITS[name])


def parse_times(values, fmt: str | None, tz: str | None, column: str = "", source: str = ""):
    """Parse time stamps (text) into timezone-aware times in ``tz``.

    Stamps with an offset (``+08:00``, ``Z``) are converted; stamps without one are local
    wall-clock time of ``tz`` (ambiguous autumn hours read as standard time, non-existent spring
    hours moved forward). Arrow's ISO 8601 and strptime parsers do the work; a column they cannot
    read as a whole goes through pandas, cell by cell.

    Returns
    -------
    times, flags, naive
        Times (``NaT`` where missing, unparseable, truncated or the 1900-01-01 placeholder), the
        per-row flag bits (``unparseable_time``, ``truncated_time``, ``default_1900``) and whether any
        stamp was read without an offset (so that the zone used can be stated).

    Raises
    ------
    OptionError
        When stamps without an offset are found and ``tz`` is ``None``.
    """
    arr = _text(values)
    present = np.asarray(pc.is_valid(arr), dtype=bool)
    truncated = present & np.asarray(pc.fill_null(pc.match_substring_regex(arr, _TRUNCATED), False), dtype=bool)
    if truncated.any():
        arr = pc.if_else(pa.array(truncated), pa.scalar(None, pa.string()), arr)
    has_offset = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _OFFSET), False), dtype=bool)
    naive = present & ~truncated & ~has_offset
    if naive.any() and tz is None:
        raise OptionError(f"{source}: column {column} has stamps without a UTC offset (e.g. "
                          f"{arr.filter(pa.array(naive))[0].as_py()!r}); give --timezone (e.g. America/Chicago) "
                          "to say whose local time they are")
    zone = tz or "UTC"
    ns = None
    try:
        if fmt is not None:
            parsed = pc.strptime(arr, format=fmt, unit="ns", error_is_null=True)
            ns = np.asarray(parsed.cast(pa.int64()).fill_null(NAT), dtype=np.int64)
            if "%z" not in fmt:  # the format has no offset: wall-clock time of the zone
                ns = _localise(ns, zone)
        elif not has_offset.any():
            ns = _localise(np.asarray(arr.cast(pa.timestamp("ns")).cast(pa.int64()).fill_null(NAT), np.int64), zone)
        elif not naive.any():
            ns = np.asarray(arr.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).fill_null(NAT), np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ns = None
    if ns is None:  # mixed or irregular stamps: pandas, cell by cell
        ns = _parse_cells(pd.Series(arr.to_pandas(), dtype="str"), has_offset, zone)
    got = ns != NAT
    unparseable = present & ~truncated & ~got
    lo = pd.Timestamp(f"{_PLACEHOLDER_YEAR}-01-01", tz="UTC").value - 86_400 * 10**9
    hi = pd.Timestamp(f"{_PLACEHOLDER_YEAR + 1}-01-01", tz="UTC").value + 86_400 * 10**9
    placeholder = got & (ns >= lo) & (ns < hi)
    ns = np.where(placeholder, NAT, ns)
    times = pd.Series(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").tz_convert(zone))
    flags = _flags_of(unparseable, "unparseable_time") | _flags_of(truncated, "truncated_time") | \
        _flags_of(placeholder, "default_1900")
    return times, flags, bool(naive.any())


def _localise(wall_ns: np.ndarray, tz: str) -> np.ndarray:
    """Naive local wall-clock int64 ns -> UTC int64 ns (NAT kept)."""
    ok = wall_ns != NAT
    if not ok.any():
        return wall_ns
    idx = pd.DatetimeIndex(np.where(ok, wall_ns, 0).view("M8[ns]"))
    utc = idx.tz_localize(tz, ambiguous=np.zeros(len(idx), dtype=bool), nonexistent="shift_forward").asi8
    return np.where(ok, utc, NAT)


def _parse_cells(text: pd.Series, has_offset: np.ndarray, tz: str) -> np.ndarray:
    out = np.full(len(text), NAT, dtype=np.int64)
    naive = text.where(~has_offset)
    p = pd.to_datetime(naive, format="ISO8601", errors="coerce")
    if p.notna().any():
        out = np.where(p.notna().to_numpy(), _localise(p.dt.as_unit("ns").array.asi8, tz), out)
    if has_offset.any():
        q = pd.to_datetime(text.where(has_offset), format="ISO8601", errors="coerce", utc=True)
        out = np.where(q.notna().to_numpy(), q.dt.as_unit("ns").array.asi8, out)
    return out


def _as_times(s: pd.Series, tz: str) -> tuple[pd.Series, np.ndarray]:
    """Stored times (Parquet) in ``tz``, with the 1900 placeholder set missing and flagged."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        if str(s.dtype.tz) != str(tz):
            s = s.dt.tz_convert(tz)
    else:  # wall-clock times of the zone, placed exactly as parse_times places text stamps
        wall = s.to_numpy("datetime64[ns]").view("i8")
        s = pd.Series(pd.DatetimeIndex(_localise(wall, tz).view("M8[ns]"), copy=False)
                      .tz_localize("UTC").tz_convert(tz), copy=False)
    if s.dtype.unit != "ns":
        s = s.dt.as_unit("ns")
    v = s.array.asi8  # raw nanoseconds: much faster than .dt.year on millions of rows
    lo = pd.Timestamp(f"{_PLACEHOLDER_YEAR}-01-01", tz="UTC").value - 86_400 * 10**9
    hi = pd.Timestamp(f"{_PLACEHOLDER_YEAR + 1}-01-01", tz="UTC").value + 86_400 * 10**9
    ph = (v >= lo) & (v < hi)  # NAT (the smallest int64) is below lo
    if ph.any():
        ph &= (s.dt.year == _PLACEHOLDER_YEAR).fillna(False).to_numpy(bool)
        s = s.mask(ph)
    return s, _flags_of(ph, "default_1900")


# --------------------------------------------------------------------------- building the frame


def _finish(src: pd.DataFrame, std: dict, flags: np.ndarray, notes: list[str]) -> pd.DataFrame:
    n = len(src)
    cols: dict[str, pd.Series] = {}
    for col in STANDARD_COLUMNS:
        value = std.get(col)
        if col in TIME_COLUMNS:
            if value is None or not isinstance(value.dtype, pd.DatetimeTZDtype):
                value = pd.Series(pd.DatetimeIndex(np.full(n, NAT).view("M8[ns]"), copy=False)
                                  .tz_localize("UTC").tz_convert(std["_tz"]), copy=False)
        elif col == "reopened":
            value = pd.Series(pd.array(np.zeros(n, np.int64), dtype="Int64")).mask(np.ones(n, bool)) if value is None \
                else (value if isinstance(value.dtype, pd.Int64Dtype) or value.dtype.kind in "iu"
                      else pd.Series(pd.array(pd.to_numeric(value, errors="coerce"), dtype="Int64")))
        elif value is None:
            # an all-missing categorical costs one byte a row (a missing str column costs far more)
            value = pd.Series(pd.Categorical.from_codes(np.full(n, -1, np.int8), categories=pd.Index([], dtype="str")))
        cols[col] = value.reset_index(drop=True) if isinstance(value, pd.Series) else pd.Series(value)
    read_flags = src.attrs.get("read_flags")
    if read_flags is not None and len(read_flags) == n:
        flags = flags | np.asarray(read_flags, dtype=np.int64)
    cols["quality_flags"] = pd.Series(np.asarray(flags, dtype=np.int64), copy=False)
    for col in src.columns:  # the source's own columns, for --by on its own names
        if col not in cols:
            cols[col] = src[col].reset_index(drop=True)
    out = pd.DataFrame(cols, copy=False)
    out.attrs["notes"] = list(src.attrs.get("read_notes", [])) + notes
    return out


def _times(src, mapping_cols: dict, fmt, tz, source):
    std = {"_tz": tz or "UTC"}
    flags = np.zeros(len(src), dtype=np.int64)
    naive = False
    for std_col, src_col in mapping_cols.items():
        if src_col is None or src_col not in src.columns:
            continue
        if pd.api.types.is_datetime64_any_dtype(src[src_col]):
            t, f = _as_times(src[src_col], tz or "UTC")
            naive |= not isinstance(src[src_col].dtype, pd.DatetimeTZDtype)
        else:
            t, f, was_naive = parse_times(src[src_col], fmt, tz, src_col, source)
            naive |= was_naive
        flags |= f
        std[std_col] = t
    return std, flags, naive


def _zone_note(naive: bool, tz: str, given: bool, fmt_name: str) -> list[str]:
    if not naive:
        return []
    how = "given with --timezone" if given else f"the {fmt_name} format's zone; --timezone to change"
    return [f"stamps without a UTC offset were read as local time of {tz} ({how})"]


def _status(values: pd.Series, table: dict[str, list[str]]) -> pd.Series:
    low = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="str")
    for std, raw in table.items():
        out = out.mask(low.isin([r.lower() for r in raw]), std)
    return out.astype("category")


def _require(src: pd.DataFrame, cols, source: str, fmt: str):
    missing = [c for c in cols if c not in src.columns]
    if missing:
        raise MissingInputError(f"{source}: not a {fmt} export, column(s) {', '.join(repr(m) for m in missing)} missing")


# --------------------------------------------------------------------------- the formats


def adapt_nyc311(src: pd.DataFrame, source: str = "NYC 311 export", timezone: str | None = None) -> pd.DataFrame:
    """NYC 311 export (CSV or Socrata JSON) -> standard columns (``Closed Date`` is the resolution time)."""
    if "unique_key" in src.columns and "Unique Key" not in src.columns:  # the Socrata API's JSON
        src = src.rename(columns={k: v for k, v in SOCRATA_NYC.items() if k in src.columns})
        if "Closed Date" not in src.columns:  # absent while open: every request of the file is open
            src = src.assign(**{"Closed Date": pd.Series([None] * len(src), dtype="str")})
    _require(src, ["Unique Key", "Created Date", "Closed Date", "Status"], source, "NYC 311")
    tz = timezone or FORMAT_DEFAULTS["nyc311"]["timezone"]
    sample = src["Created Date"].dropna().astype("str").head(1).tolist()
    fmt = None if sample and "T" in sample[0] else "%m/%d/%Y %I:%M:%S %p"
    std, flags, naive = _times(src, {"created_at": "Created Date", "resolved_at": "Closed Date"}, fmt, tz, source)
    std["closed_at"] = std.get("resolved_at")
    std["request_id"] = src["Unique Key"].astype("str")
    std["status"] = _status(src["Status"], NYC_STATUS)
    std["category"] = src.get("Complaint Type")
    std["channel"] = src.get("Open Data Channel Type")
    return _finish(src, std, flags, _zone_note(naive, tz, timezone is not None, "NYC 311"))


def adapt_boston311(src: pd.DataFrame, source: str = "Boston 311 export", timezone: str | None = None) -> pd.DataFrame:
    """Boston 311 export -> standard columns (``closed_dt`` is the resolution time)."""
    _require(src, ["case_enquiry_id", "open_dt", "closed_dt", "case_status"], source, "Boston 311")
    tz = timezone or FORMAT_DEFAULTS["boston311"]["timezone"]
    std, flags, naive = _times(src, {"created_at": "open_dt", "resolved_at": "closed_dt"}, "%Y-%m-%d %H:%M:%S", tz,
                               source)
    std["closed_at"] = std.get("resolved_at")
    std["request_id"] = src["case_enquiry_id"].astype("str")
    std["status"] = _status(src["case_status"], {"closed": ["Closed"], "open": ["Open"]})
    std["category"] = src.get("type")
    std["channel"] = src.get("source")
    return _finish(src, std, flags, _zone_note(naive, tz, timezone is not None, "Boston 311"))


def adapt_open311(src: pd.DataFrame, source: str = "Open311 response", timezone: str | None = None) -> pd.DataFrame:
    """Open311 GeoReport v2 -> standard columns.

    ``updated_datetime`` stands in for the close time of *closed* requests only; on open requests
    it is an edit time, not a close date. ``lat``/``long`` of exactly 0 are flagged
    ``zero_coordinates`` (a placeholder, not a place). Stamps keep the offset the server gives;
    stamps without one need ``timezone``.
    """
    _require(src, ["service_request_id", "requested_datetime", "status"], source, "Open311 GeoReport v2")
    zone = timezone
    if zone is None:
        # keep the offset the server reports when it is the same for every stamp
        offsets = src["requested_datetime"].dropna().astype("str").str.extract(r"([+-]\d{2}:?\d{2}|Z)$")[0].dropna().unique()
        zone = _fixed_offset(offsets[0]) if len(offsets) == 1 and offsets[0] != "Z" else None
    std, flags, naive = _times(src, {"created_at": "requested_datetime", "updated_at": "updated_datetime"}, None, zone,
                               source)
    status = _status(src["status"], {"closed": ["closed"], "open": ["open"]})
    updated = std.pop("updated_at", None)
    if updated is not None:
        std["resolved_at"] = updated.where((status == "closed").to_numpy())
        std["closed_at"] = std["resolved_at"]
    std["request_id"] = src["service_request_id"].astype("str")
    std["status"] = status
    std["category"] = src.get("service_name")
    if "lat" in src.columns:
        lat = pd.to_numeric(src["lat"], errors="coerce")
        lon = pd.to_numeric(src.get("long", src["lat"]), errors="coerce")
        flags |= _flags_of(((lat == 0) | (lon == 0)).fillna(False).to_numpy(bool), "zero_coordinates")
    return _finish(src, std, flags, _zone_note(naive, std["_tz"], timezone is not None, "Open311"))


def _fixed_offset(text: str) -> str:
    """'-04:00' -> a fixed-offset zone name pandas understands ('UTC-04:00')."""
    return f"UTC{text[:3]}:{text[-2:]}"


def load_mapping(mapping: Mapping | str | Path) -> dict:
    """A mapping: a dict, a YAML file, or the name of a built-in one (:data:`BUILTIN_MAPPINGS`)."""
    if isinstance(mapping, Mapping):
        return dict(mapping)
    name = str(mapping)
    if name in BUILTIN_MAPPINGS:
        text = (files("evaluation.requests") / "mappings" / BUILTIN_MAPPINGS[name]).read_text(encoding="utf-8")
    else:
        p = Path(mapping)
        if not p.is_file():
            raise MissingInputError(f"{p}: no such mapping file (built-in mappings: {', '.join(BUILTIN_MAPPINGS)})")
        text = p.read_text(encoding="utf-8")
    try:
        out = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"the mapping is not valid YAML ({exc})", file=name) from None
    if not isinstance(out, dict) or not isinstance(out.get("columns"), dict):
        raise DataError("a mapping needs 'columns' (standard column -> column of the export)", file=name)
    unknown = [k for k in out["columns"] if k not in STANDARD_COLUMNS]
    if unknown:
        raise DataError(f"unknown standard column(s) {', '.join(unknown)} under 'columns'; use "
                        f"{', '.join(STANDARD_COLUMNS)}", file=name)
    return out


def adapt_mapping(src: pd.DataFrame, mapping: dict, source: str = "request log", timezone: str | None = None) -> pd.DataFrame:
    """Any export described by a mapping (see the module docstring)."""
    cols = dict(mapping.get("columns", {}))
    for need in ("request_id", "created_at"):
        if need not in cols:
            raise DataError(f"{source}: the mapping must name the source column of {need!r} under 'columns'")
    _require(src, [c for c in cols.values() if c], source, "mapped")
    tz = timezone or mapping.get("timezone")
    std, flags, naive = _times(src, {k: v for k, v in cols.items() if k in TIME_COLUMNS}, mapping.get("time_format"),
                               tz, source)
    for k, v in cols.items():
        if k not in TIME_COLUMNS and k in STANDARD_COLUMNS:
            std[k] = src[v].astype("str").where(src[v].notna(), None) if k != "reopened" else src[v]
    if "status" in cols:
        table = mapping.get("status_values") or {s: [s] for s in ("open", "in_progress", "resolved", "closed")}
        std["status"] = _status(src[cols["status"]], table)
    how = "the mapping's zone" if mapping.get("timezone") and timezone is None else None
    notes = _zone_note(naive, std["_tz"], timezone is not None, "mapping") if how is None else \
        ([f"stamps without a UTC offset were read as local time of {std['_tz']} ({how})"] if naive else [])
    return _finish(src, std, flags, notes)


def adapt_native(src: pd.DataFrame, source: str = "requests table", timezone: str | None = None) -> pd.DataFrame:
    """The native ``requests`` table: times (stored, or ISO 8601 text) and values (aliases) typed."""
    _require(src, ["request_id", "created_at", "status"], source, "native requests")
    tz = timezone or FORMAT_DEFAULTS["native"]["timezone"]
    std, flags, naive = _times(src, {c: c for c in TIME_COLUMNS}, None, tz, source)
    notes = []
    for col in STANDARD_COLUMNS:
        if col in TIME_COLUMNS or col not in src.columns:
            continue
        value = src[col]
        if col in ("channel", "affair_class", "status", "rating"):
            value, made = map_values(value, "requests", col)
            notes += [f"requests.{col}: {a} -> {c} ({n:,})" for (a, c), n in made.items() if a.casefold() != c]
        std[col] = value
    return _finish(src, std, flags, _zone_note(naive, tz, timezone is not None, "native") + notes)


#: the enumerated columns of the native log whose values must be codes (or their aliases)
ENUMERATED = ("channel", "affair_class", "status", "rating")


def unknown_values(std: pd.DataFrame) -> list[tuple[str, str, int, int]]:
    """Values of :data:`ENUMERATED` columns that are neither a code nor an alias, after mapping.

    Returns ``(column, value, rows, first position)`` for each, so that a loader can refuse them
    (a rating written 还行 is neither satisfied nor unrated: taking it as unrated would lose it).
    """
    out = []
    for col in ENUMERATED:
        if col not in std.columns:
            continue
        codes = set(enum_columns("requests").get(col, ()))
        v = std[col]
        if isinstance(v.dtype, pd.CategoricalDtype):
            bad = [c for c in v.cat.categories if str(c) not in codes]
            if not bad:
                continue
            cats = v.cat.codes.to_numpy()
            for c in bad:
                hit = np.flatnonzero(cats == v.cat.categories.get_loc(c))
                if len(hit):
                    out.append((col, str(c), len(hit), int(hit[0])))
            continue
        present = v.dropna()
        bad = [u for u in pd.unique(present.astype("str")) if u not in codes]
        for u in bad:
            hit = np.flatnonzero(v.astype("str").eq(u).to_numpy() & v.notna().to_numpy())
            out.append((col, u, len(hit), int(hit[0])))
    return out


def refuse_unknown_values(std: pd.DataFrame, src: pd.DataFrame, source: str) -> None:
    """Stop, naming every value of an enumerated column that is not in the data model (all at once).

    ``std`` is the adapted log of the source frame ``src`` (read from ``source``); rows are named by
    their file row where the reader kept it, else by their position among the data rows.
    """
    bad = unknown_values(std)
    if not bad:
        return
    parts = []
    for col, value, n, first in bad:
        row = file_row(src, src.index[first]) if first < len(src) else None
        where = f"file row {row:,}" if row is not None else f"data row {first + 1:,}"
        parts.append(f"{col} {value!r} ({n:,} row{'' if n == 1 else 's'}, first at {where})")
    codes = {c: ", ".join(enum_columns("requests").get(c, ())) for c in dict.fromkeys(b[0] for b in bad)}
    raise DataError(f"values not in the data model: {'; '.join(parts)}", file=Path(source).name, table="requests",
                    hint="write them as codes (" + "; ".join(f"{c}: {v}" for c, v in codes.items()) +
                         ") or as one of their Chinese aliases (the data dictionary of the documentation lists them)")


ADAPTERS = {
    "native": adapt_native,
    "nyc311": adapt_nyc311,
    "boston311": adapt_boston311,
    "open311": adapt_open311,
}
