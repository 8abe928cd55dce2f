"""Typing cells: raw text (or native Parquet values) -> the dtypes of the data model.

:func:`type_table` types every column of a raw table by its Table Schema type:

=========  ==========================================================================
string     pandas ``str`` (surrounding spaces stripped)
integer    ``Int64``
number     ``float64`` (thousands separators ``,`` accepted)
boolean    ``boolean`` (true/false, 1/0, yes/no, y/n, 是/否, 有/无)
date       ``datetime64[ns]``, naive
datetime   ``datetime64[ns, <timezone>]``: naive stamps are local time of the dataset's
           timezone (Asia/Shanghai by default), stamps with an offset are converted
=========  ==========================================================================

Survey items named in the ``survey_codebook`` table become ``Float64``. A cell that does not
parse becomes missing here and is returned in a mask, which :mod:`evaluation.dataset.validate`
reports with its file row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evaluation.dataset import schema
from evaluation.dataset.values import describe, map_values

_TRUE = ("true", "t", "yes", "y", "1", "1.0", "是", "有", "√", "对")
_FALSE = ("false", "f", "no", "n", "0", "0.0", "否", "无", "×", "错")
_BOOL = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
_BOOL_KEYS = pa.array(list(_BOOL), type=pa.string())
_BOOL_VALUES = np.array(list(_BOOL.values()), dtype=bool)
_OFFSET = r"(?:[zZ]|[+-]\d{2}:?\d{2})$"
# datetime64[ns] spans 1677-09-21 .. 2262-04-11; anything outside is a typing error, not a date
_NS_MIN, _NS_MAX = pd.Timestamp("1678-01-01"), pd.Timestamp("2262-01-01")


# --------------------------------------------------------------------------- typing cells


def _clean_text(raw: pd.Series) -> pa.Array:
    """Raw cells as an Arrow string array, stripped, empty strings missing (Arrow: ~4x faster than .str)."""
    if raw.dtype == "str":
        arr = pa.array(raw.array)
    else:
        arr = pa.array(raw.astype("str").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    stripped = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _as_text(raw: pd.Series) -> pd.Series:
    if raw.dtype == "str":  # already text (CSV, XLSX): missing stays missing
        return raw.str.strip()
    return raw.astype("str").str.strip().where(raw.notna(), None).astype("str")


def parse_column(raw: pd.Series, ftype: str, timezone: str = schema.DEFAULT_TZ,
                 date_order: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """Type one column; return the typed column and a mask of cells that did not parse.

    Parameters
    ----------
    raw
        Raw values (strings from CSV/XLSX, native types from Parquet).
    ftype
        Table Schema type: ``string``, ``integer``, ``number``, ``boolean``, ``date``,
        ``datetime`` or ``year``.
    timezone
        IANA name of the dataset timezone for ``datetime`` columns.
    date_order
        ``"DMY"`` or ``"MDY"`` for dates written with the year last (05/01/2020); default: the
        cells decide, and a column where they cannot is refused (``typed.attrs["problem"]``).

    Returns
    -------
    typed, bad
        ``bad`` is true where the cell holds a value that is not a valid ``ftype`` (missing
        cells are not bad: ``required`` is checked separately).
    """
    is_text = raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype)
    if is_text:
        # text: surrounding spaces are not data, and an empty cell is a missing cell
        arr = _clean_text(raw)
        present = np.asarray(pc.is_valid(arr), dtype=bool)
        raw = pd.Series(pd.array(arr, dtype="str"), index=raw.index, name=raw.name)
    else:
        present = raw.notna().to_numpy()
    if not present.any():  # an empty optional column: skip the parsing machinery
        return _empty(len(raw), ftype, timezone, raw.index), np.zeros(len(raw), dtype=bool)
    if ftype == "string":
        return (raw if is_text else raw.astype("str")), np.zeros(len(raw), dtype=bool)
    if ftype in ("integer", "year", "number"):
        if not is_text and pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            num = raw.astype("float64")
        else:
            text = raw if is_text else _as_text(raw)
            if is_text and pc.any(pc.match_substring(arr, ",")).as_py():  # 1,200
                text = text.str.replace(",", "", regex=False)
            num = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = present & num.isna().to_numpy()
        if ftype == "number":
            return num, bad
        values = num.to_numpy()
        nonint = present & ~np.isnan(values) & (np.mod(values, 1, where=~np.isnan(values), out=np.zeros_like(values)) != 0)
        if nonint.any():
            num = num.where(~nonint)
        return num.astype("Int64"), bad | nonint
    if ftype == "boolean":
        if pd.api.types.is_bool_dtype(raw.dtype):
            return raw.astype("boolean"), np.zeros(len(raw), dtype=bool)
        lower = pc.utf8_lower(arr if is_text else _clean_text(raw))
        pos = pc.index_in(lower, value_set=_BOOL_KEYS)
        found = np.asarray(pc.is_valid(pos), dtype=bool)
        idx = np.asarray(pc.fill_null(pos, 0), dtype="int64")
        out = pd.array(np.where(found, _BOOL_VALUES[idx], False), dtype="boolean")
        out[~found] = pd.NA
        return pd.Series(out, index=raw.index, name=raw.name), present & ~found
    if ftype == "date":
        ts, bad = _parse_times(raw, timezone, aware=False, date_order=date_order)
        day = ts.dt.normalize()
        day.attrs = dict(ts.attrs)
        return day, bad
    if ftype == "datetime":
        return _parse_times(raw, timezone, aware=True, date_order=date_order)
    raise ValueError(f"unknown Table Schema type {ftype!r}")


def _empty(n: int, ftype: str, tz: str, index) -> pd.Series:
    dtype = {"string": "str", "integer": "Int64", "year": "Int64", "number": "float64",
             "boolean": "boolean", "date": "datetime64[ns]", "datetime": f"datetime64[ns, {tz}]"}[ftype]
    return pd.Series(pd.array([None] * n, dtype=dtype), index=index)


#: day and month written as numbers with the year last: 05/01/2020, 5.1.2020, 05-01-2020 14:30
_DAY_MONTH = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(.*)$"
#: year first with slashes or dots: 2020/3/1, 2020.3.1 (never ambiguous)
_YEAR_FIRST = r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(.*)$"
#: a year, or a year and a month, alone: a truncated date, not a date
_TRUNCATED = r"^\d{4}(-\d{1,2})?$"
DATE_ORDERS = ("YMD", "DMY", "MDY")


def _day_month_order(text: pd.Series, date_order: str | None) -> tuple[pd.Series, str | None, str | None]:
    """Cells written day/month/year or month/day/year rewritten as ISO dates, in one order for the column.

    The order is ``date_order`` when given; otherwise the cells decide it (a first field above 12
    means day first, a second field above 12 month first). When no cell decides, or cells decide
    both ways, nothing is rewritten and the problem is returned. Returns the text, the problem and
    the order used, in words (``day/month/year (--date-order DMY)``).
    """
    parts = text.str.extract(_DAY_MONTH)
    has = parts[0].notna()
    if not has.any():
        return text, None, None
    a, b = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    if date_order is None:
        day_first, month_first = bool((a[has] > 12).any()), bool((b[has] > 12).any())
        if day_first == month_first:
            why = ("both day-first (13/01) and month-first (01/13) dates" if day_first else
                   "dates such as 05/01/2020 whose day and month cannot be told apart")
            return text, f"{why}; give --date-order DMY or MDY (one order for the whole column)", None
        date_order = "DMY" if day_first else "MDY"
        decider = text[has][(a[has] > 12) if day_first else (b[has] > 12)].iloc[0]
        how = f"decided by {decider}; --date-order {'MDY' if day_first else 'DMY'} would refuse it"
    else:
        how = f"--date-order {date_order}"
    if date_order == "YMD":
        return text, "dates written with the year last; --date-order YMD does not fit, give DMY or MDY", None
    day, month = (parts[0], parts[1]) if date_order == "DMY" else (parts[1], parts[0])
    iso = parts[2] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + parts[3].fillna("")
    words = "day/month/year" if date_order == "DMY" else "month/day/year"
    return text.where(~has, iso), None, f"{int(has.sum()):,} dates written {words} ({how})"


def _parse_times(raw: pd.Series, tz: str, aware: bool, date_order: str | None = None) -> tuple[pd.Series, np.ndarray]:
    present = raw.notna().to_numpy()
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        ts = raw.dt.tz_convert(tz)
        ts = ts if aware else ts.dt.tz_localize(None)
        return ts.astype(f"datetime64[ns, {tz}]" if aware else "datetime64[ns]"), np.zeros(len(raw), bool)
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        ts = raw.astype("datetime64[ns]")
        if aware:
            ts = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        return ts, np.zeros(len(raw), bool)
    text = raw if raw.dtype == "str" else _as_text(raw)
    arr = pa.array(text.array)  # Arrow's RE2 directly: pandas' .str.contains is 10x slower per call
    if pc.any(pc.match_substring(arr, "年")).as_py():
        text = text.str.replace("年", "-", regex=False).str.replace("月", "-", regex=False).str.replace("日", "", regex=False)
        arr = pa.array(text.array)
    has_offset = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _OFFSET), False), dtype=bool)
    naive = pd.to_datetime(text.where(~has_offset) if has_offset.any() else text, format="ISO8601", errors="coerce")
    naive = _in_ns_range(naive)
    if aware:
        out = naive.astype("datetime64[ns]").dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        if has_offset.any():
            withoff = pd.to_datetime(text.where(has_offset), format="ISO8601", errors="coerce", utc=True)
            withoff = withoff.dt.tz_convert(tz).astype(f"datetime64[ns, {tz}]")
            out = out.where(~has_offset, withoff)
    else:
        out = naive.astype("datetime64[ns]")
        if has_offset.any():  # a date written with an offset: keep its local calendar date
            withoff = pd.to_datetime(text.where(has_offset), format="ISO8601", errors="coerce", utc=True)
            local = withoff.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[ns]")
            out = out.where(~has_offset, local)
    truncated = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _TRUNCATED), False), dtype=bool)
    if truncated.any():  # pandas reads 2020-03 as 1 March: a truncated date is not a date
        out = out.copy()
        out[truncated] = pd.NaT
    bad = present & out.isna().to_numpy()
    problem = "a truncated date (year or year and month only)" if truncated.any() else None
    order_used = None
    if bad.any():  # slow path only for the cells ISO 8601 did not read (2020.3.1, 05/01/2020)
        retry_text = text[bad & ~truncated].str.replace(_YEAR_FIRST, r"\1-\2-\3\4", regex=True)
        retry_text, order_problem, order_used = _day_month_order(retry_text, date_order)
        problem = order_problem or problem
        retry = pd.to_datetime(retry_text, format="ISO8601", errors="coerce")
        bad = bad & ~truncated
        retry = _in_ns_range(retry)
        if aware:
            if getattr(retry.dt, "tz", None) is None:
                retry = retry.astype("datetime64[ns]").dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            else:
                retry = retry.dt.tz_convert(tz)
            retry = retry.astype(f"datetime64[ns, {tz}]")
        else:
            if getattr(retry.dt, "tz", None) is not None:
                retry = retry.dt.tz_convert(tz).dt.tz_localize(None)
            retry = retry.astype("datetime64[ns]")
        out = out.copy()
        out[bad] = retry
        bad = present & out.isna().to_numpy()
    if problem is not None and bad.any():
        out.attrs["problem"] = problem
    if order_used is not None:
        out.attrs["date_order"] = order_used
    return out, bad


def _in_ns_range(ts: pd.Series) -> pd.Series:
    if ts.dtype == object:
        ts = pd.to_datetime(ts, errors="coerce", utc=True)
    naive = ts.dt.tz_localize(None) if getattr(ts.dt, "tz", None) is not None else ts
    lo, hi = naive.min(), naive.max()
    if pd.isna(lo) or (lo >= _NS_MIN and hi < _NS_MAX):
        return ts
    ok = naive.isna() | ((naive >= _NS_MIN) & (naive < _NS_MAX))
    return ts.where(ok)


def type_table(
    raw: pd.DataFrame,
    table: str,
    timezone: str = schema.DEFAULT_TZ,
    likert_items: list[str] | None = None,
    date_order: str | None = None,
    value_aliases: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Type a raw table by its schema; return the typed frame and, per column, the unparsable cells.

    Enumerated columns are mapped to the codes of the data model through the value aliases
    (:mod:`evaluation.dataset.values`: 社区 -> community, 满意 -> satisfied); what was mapped is in
    ``attrs["value_mappings"]``, problems of a whole column (a date order that cannot be told)
    in ``attrs["column_problems"]`` and the order in which day-month dates were read, by column, in
    ``attrs["date_orders"]``. Columns of the schema that the file lacks are added, empty (a column not
    recorded), and listed in ``attrs["absent_columns"]``. Columns not in the schema are kept as they are, except survey
    items named in ``likert_items``, which become ``Float64``. ``attrs`` (source, row numbers) are
    kept.
    """
    ts = schema.table_schema(table)
    cols: dict[str, pd.Series] = {}
    bad: dict[str, np.ndarray] = {}
    mapped: list[str] = []
    problems: dict[str, str] = {}
    orders: dict[str, str] = {}
    items = set(likert_items or ())
    for col in raw.columns:
        if col in ts.columns:
            f = ts.field(col)
            typed, b = parse_column(raw[col], f.type, timezone, date_order)
            if "problem" in typed.attrs:
                problems[col] = typed.attrs["problem"]
            if "date_order" in typed.attrs:
                orders[col] = typed.attrs["date_order"]
            if f.enum is not None and f.type == "string":
                typed, made = map_values(typed, table, col, value_aliases)
                mapped += describe(table, col, made)
        elif col in items:
            typed, b = parse_column(raw[col], "number", timezone)
            typed = typed.astype("Float64")
        else:
            cols[col] = raw[col]
            continue
        cols[col] = typed
        if b.any():
            bad[col] = b
    # a column of the data model that the file does not have is a column not recorded: present and
    # empty, of its type, so that computations see "missing", never a KeyError (validation reports
    # the required ones as missing; assess.py reports what cannot be computed without them)
    absent = [f for f in ts.fields if f.name not in cols]
    for f in absent:
        cols[f.name] = _empty(len(raw), f.type, timezone, raw.index)
    out = pd.DataFrame(cols, index=raw.index)
    out.attrs = dict(raw.attrs)
    out.attrs["absent_columns"] = [f.name for f in absent]
    out.attrs["value_mappings"] = mapped
    out.attrs["column_problems"] = problems
    out.attrs["date_orders"] = orders
    return out, bad
