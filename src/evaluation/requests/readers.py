"""Reading a request export as it comes: only the columns needed, labels as dictionaries, defects kept.

:func:`read_source` reads a CSV, Parquet, XLSX or JSON file (or, for the Dask engine elsewhere, a
folder of Parquet parts) without changing it:

* **Parquet** through pyarrow, only the columns the job needs (``columns``), label columns as
  Parquet dictionaries (pandas categoricals: no string hashing), time stamps as they are stored;
* **CSV** through pyarrow's multi-threaded reader (only the needed columns, text as text, label
  columns dictionary-encoded), in the file's encoding (UTF-8, GB18030, ..., detected), falling back
  to the dataset reader for spreadsheets with title rows above the header;
* **JSON** (Open311 GeoReport v2, the NYC Open Data / Socrata API): records read with a hook that
  sees every key, so that a key repeated inside a record is *detected*, never silently last-wins:
  when the copies agree (or only one has a value) that value is used and the record is flagged
  ``duplicate_key``; when they disagree the field is missing and the record is flagged
  ``conflicting_key``.

Missing values: an empty cell, and the strings of :data:`NULL_STRINGS` (``null``, ``NULL``,
``N/A``, ...) are missing in every format. The flags found while reading travel in the frame's
``attrs["read_flags"]`` (bit masks by row) to the formats, which add them to ``quality_flags``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evaluation.dataset.headers import canonical_name
from evaluation.dataset.read import detect_encoding, read_table
from evaluation.errors import DataError, LoadError, MissingInputError
from evaluation.requests.quality import FLAG_BITS

#: text that means "no value" in the exports seen in the wild
NULL_STRINGS = ("", "null", "NULL", "Null", "N/A", "n/a", "NA", "None", "none", "nan", "NaN", "-")
#: label columns of the standard layout, read as dictionaries
LABEL_COLUMNS = ("channel", "category", "affair_class", "compound_id", "community_id", "status", "rating")
#: at most this many distinct values make a text column a label column (else it stays text)
MAX_LABELS = 100_000


def _null(value):
    return None if isinstance(value, str) and value.strip() in NULL_STRINGS else value


# --------------------------------------------------------------------------- Parquet


def _parquet_columns(path: Path) -> list[str]:
    return list(pq.ParquetFile(path).schema_arrow.names)


def read_parquet(path: Path, columns: Iterable[str] | None = None, labels: Iterable[str] = ()) -> pd.DataFrame:
    """The ``columns`` of a Parquet file (all when ``None``), ``labels`` as categoricals."""
    names = _parquet_columns(path)
    cols = names if columns is None else [c for c in names if c in set(columns)]
    schema = pq.ParquetFile(path).schema_arrow
    dictionary = [c for c in cols if c in set(labels) and pa.types.is_string(schema.field(c).type)
                  or (c in set(labels) and pa.types.is_large_string(schema.field(c).type))]
    # one column at a time: the peak is the frame plus one column in Arrow, not the frame twice
    frames = {}
    try:
        pf = pq.ParquetFile(path, read_dictionary=dictionary)
        for c in cols:
            table = _nulls_in_text(pf.read(columns=[c]), skip=dictionary)
            frames[c] = _column_to_pandas(table.column(0))
            del table
    except (pa.ArrowException, OSError) as exc:
        raise LoadError(f"not a readable Parquet file ({exc})", file=path.name) from None
    pa.default_memory_pool().release_unused()  # hand the freed Arrow buffers back to the system
    out = pd.DataFrame(frames, copy=False)
    for c in dictionary:  # a label written as "null" is missing, like an empty one
        cats = out[c].cat.categories
        nulls = [v for v in cats if str(v).strip() in NULL_STRINGS]
        if nulls:
            out[c] = out[c].cat.remove_categories(nulls)
    return out


def _column_to_pandas(col: pa.ChunkedArray) -> pd.Series:
    """One Arrow column as a pandas column: text stays Arrow-backed, labels categorical.

    Stamps with gaps are converted by hand: pyarrow fills the missing stamps value by value
    (0.4 s for 10 M stamps) and pandas copies them again to place them in a zone. Here the
    nanoseconds are copied once, the gaps set to ``NaT``'s integer, and the result handed to
    pandas as a zoned Arrow array without gaps, which it takes without a copy.
    """
    t = col.type
    if not pa.types.is_timestamp(t) or col.null_count == 0:
        return pa.table({"c": col}).to_pandas(self_destruct=True, split_blocks=True)["c"]
    ns_type = pa.timestamp("ns", tz=t.tz)
    out = np.empty(len(col), np.int64)
    at = 0
    for chunk in col.chunks:
        chunk = chunk.cast(ns_type) if t.unit != "ns" else chunk
        n = len(chunk)
        out[at : at + n] = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset : chunk.offset + n]
        if chunk.null_count:
            out[at : at + n][~np.asarray(chunk.is_valid())] = np.iinfo(np.int64).min  # NaT
        at += n
    whole = pa.Array.from_buffers(ns_type, len(out), [None, pa.py_buffer(out)])
    return pa.table({"c": whole}).to_pandas(split_blocks=True)["c"]


def _nulls_in_text(table: pa.Table, skip: Iterable[str] = ()) -> pa.Table:
    """Text columns with the :data:`NULL_STRINGS` as missing values (surrounding blanks ignored)."""
    from evaluation.requests import kernels  # noqa: PLC0415 - deferred: numba loads only when a file is read
    skip = set(skip)
    nulls = pa.array(list(NULL_STRINGS), type=pa.string())
    for i, f in enumerate(table.schema):
        if f.name in skip or not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
            continue
        col = table.column(i)
        # an id column is hundreds of MB: trim (a copy) only when some value has blanks around it
        padded = any(kernels.any_padded(*kernels.string_buffers(c)[:2]) for c in col.chunks)
        hit = pc.is_in(pc.utf8_trim_whitespace(col) if padded else col, value_set=nulls.cast(f.type))
        if pc.any(hit).as_py():
            table = table.set_column(i, f.name, pc.if_else(hit, pa.scalar(None, f.type), col))
    return table


# --------------------------------------------------------------------------- CSV


def _csv_header(path: Path, encoding: str) -> list[str]:
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        import csv  # noqa: PLC0415 - the standard library's csv, only to look at the header line

        return next(csv.reader(fh), [])


def _screened(frame: pd.DataFrame) -> pd.DataFrame:
    frame.attrs["screened"] = True  # the dataset reader applied the personal-data screen
    return frame


#: an ISO 8601 stamp with a UTC offset, and one without (a date alone included)
_ISO_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
_ISO_NAIVE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"


def _typed_columns(path: Path, read_options: pacsv.ReadOptions, wanted: list[str]) -> dict[str, pa.DataType]:
    """Types Arrow can parse the columns in as it reads, judged on the file's first block.

    A column of ISO 8601 stamps, all with a UTC offset or all without, is read as times (UTC, or
    wall-clock time that the format's zone then places); the standard ``reopened`` column, all
    digits, as integers. Parsing as the file is read avoids a second pass over millions of
    strings. Anything else stays text, and a typed read that meets a value it cannot parse is
    redone as text (:func:`read_csv`), where every cell is checked and flagged, so the fast path
    never changes what is read. Other digit columns stay text: ids keep their leading zeros.
    """
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(encoding=read_options.encoding,
                                                                     block_size=1 << 20),
                                convert_options=pacsv.ConvertOptions(include_columns=wanted,
                                                                     column_types={c: pa.string() for c in wanted},
                                                                     null_values=list(NULL_STRINGS),
                                                                     strings_can_be_null=True))
        batch = reader.read_next_batch()
    except (pa.ArrowException, StopIteration, OSError):
        return {}
    canon = canonical_columns(wanted)
    types = {}
    for name in batch.schema.names:
        values = batch.column(name).drop_null()
        if len(values) == 0:
            continue
        if canon.get(name) == "reopened":
            if pc.all(pc.match_substring_regex(values, r"^-?\d+$")).as_py():
                types[name] = pa.int64()
        elif pc.all(pc.match_substring_regex(values, _ISO_OFFSET)).as_py():
            types[name] = pa.timestamp("ns", tz="UTC")
        elif pc.all(pc.match_substring_regex(values, _ISO_NAIVE)).as_py():
            types[name] = pa.timestamp("ns")
    return types


def read_csv(path: Path, columns: Iterable[str] | None = None, labels: Iterable[str] = (),
             id_column: str | None = None, table: str | None = None, pii: str = "refuse",
             salt: str | None = None) -> pd.DataFrame:
    """The ``columns`` of a CSV export as text (all when ``None``), ``labels`` as categoricals.

    Falls back to :func:`evaluation.dataset.read.read_table` (title rows above the header,
    bilingual headers) when the first line is not the header.
    """
    encoding = detect_encoding(path)
    header = _csv_header(path, "utf-8-sig" if encoding == "utf-8" else encoding)
    fast = bool(header) and (id_column is None or id_column in [h.lstrip("\ufeff") for h in header])
    if not fast:  # a title row above the header, or a bilingual header: the dataset reader finds it
        return _screened(read_table(path, table=table, pii=pii, salt=salt))
    wanted = header if columns is None else [c for c in header if c in set(columns)]
    read_options = pacsv.ReadOptions(encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
                                     block_size=1 << 24)
    text = {c: pa.string() for c in wanted}
    typed = _typed_columns(path, read_options, wanted)
    for types in ([typed] if typed else []) + [{}]:
        try:
            table = pacsv.read_csv(
                path,
                read_options=read_options,
                convert_options=pacsv.ConvertOptions(include_columns=wanted, column_types={**text, **types},
                                                     null_values=list(NULL_STRINGS), strings_can_be_null=True,
                                                     quoted_strings_can_be_null=True),
            )
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            if types:  # a value the typed read refuses: read it all as text, where every cell is checked
                continue
            raise LoadError(f"not a readable CSV table ({exc})", file=path.name) from None
        break
    if header and header[0].startswith("\ufeff"):
        table = table.rename_columns([c.lstrip("\ufeff") for c in table.column_names])
    for i, name in enumerate(table.column_names):
        if name in set(labels) and name != id_column:
            col = table.column(i)
            if pc.count_distinct(col).as_py() <= MAX_LABELS:
                table = table.set_column(i, name, pc.dictionary_encode(col))
    out = pd.DataFrame({name: _column_to_pandas(table.column(i)) for i, name in enumerate(table.column_names)},
                       copy=False)
    # the header is the file's first line: data row i is file row i + 2 (a field with a line break
    # inside quotes would shift the rows after it)
    out.attrs["row_numbers"] = range(2, len(out) + 2)
    return out


# --------------------------------------------------------------------------- JSON


def read_json(path: Path) -> pd.DataFrame:
    """Records of a JSON export (a list, or a dict wrapping one), with repeated keys detected.

    ``attrs["read_flags"]`` holds, per record, the ``duplicate_key`` / ``conflicting_key`` bits
    and ``attrs["read_notes"]`` one line per repeated key with how many records have it.
    """
    seen: list[dict] = []

    def hook(pairs):
        record: dict = {}
        dup: dict = {}
        for key, value in pairs:
            value = _null(value)
            if key in record:
                dup.setdefault(key, [record[key]]).append(value)
            else:
                record[key] = value
        for key, values in dup.items():
            present = [v for v in values if v is not None]
            if len({json.dumps(v, sort_keys=True) for v in present}) <= 1:
                record[key] = present[0] if present else None
                record.setdefault("__duplicate_keys__", []).append(key)
            else:
                record[key] = None
                record.setdefault("__conflicting_keys__", []).append(key)
        seen.append(record)
        return record

    try:
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh, object_pairs_hook=hook)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadError(f"not valid JSON ({exc})", file=path.name) from None
    if isinstance(data, dict):  # some servers wrap the list
        for key in ("service_requests", "requests", "data", "records"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise LoadError("expected a list of request records", file=path.name)
    flags = np.zeros(len(data), dtype=np.int64)
    notes: dict[str, int] = {}
    for i, rec in enumerate(data):
        for key in rec.pop("__duplicate_keys__", ()):
            flags[i] |= FLAG_BITS["duplicate_key"]
            notes[f"{key} repeated (copies agree)"] = notes.get(f"{key} repeated (copies agree)", 0) + 1
        for key in rec.pop("__conflicting_keys__", ()):
            flags[i] |= FLAG_BITS["conflicting_key"]
            notes[f"{key} repeated with different values"] = notes.get(f"{key} repeated with different values", 0) + 1
    frame = pd.DataFrame.from_records(data) if data else pd.DataFrame()
    for c in frame.columns:  # values as the text the export carries (numbers too), missing stays missing
        if frame[c].dtype == object:
            frame[c] = frame[c].map(lambda v: v if v is None or isinstance(v, str) else json.dumps(v)).astype("str")
    frame.attrs["read_flags"] = flags
    frame.attrs["read_notes"] = [f"{path.name}: {k} in {n:,} records" for k, n in notes.items()]
    return frame


# --------------------------------------------------------------------------- entry point


def source_columns(path: str | os.PathLike) -> list[str]:
    """The column names of a CSV or Parquet export, without reading its rows."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        return _parquet_columns(p)
    return [c.lstrip("\ufeff") for c in _csv_header(p, detect_encoding(p))]


def read_source(path: str | os.PathLike, columns: Iterable[str] | None = None, labels: Iterable[str] = (),
                id_column: str | None = None, table: str | None = None, pii: str = "refuse",
                salt: str | None = None) -> pd.DataFrame:
    """Read a request export (CSV, TSV, XLSX, Parquet, JSON) without changing it.

    Parameters
    ----------
    path
        The file.
    columns
        Source columns to read (all when ``None``); the others are never read.
    labels
        Source columns to read as categoricals (few distinct values: community, category, status).
    id_column
        The request id column, never dictionary-encoded.
    table, pii, salt
        For spreadsheets (XLSX, CSV with title rows), which go through the dataset reader: the
        table of the data model whose headers to map, and what to do with personal columns.

    Returns
    -------
    pandas.DataFrame
        The source's own columns, text as text; ``attrs["read_flags"]`` (per-row bits) and
        ``attrs["read_notes"]`` when the reader saw defects.
    """
    p = Path(path)
    if not p.exists():
        raise MissingInputError(f"{p}: no such file or folder")
    ext = p.suffix.lower()
    if ext in (".parquet", ".pq"):
        return read_parquet(p, columns, labels)
    if ext == ".json":
        return read_json(p)
    if ext in (".xlsx", ".xlsm"):
        return _screened(read_table(p, table=table, pii=pii, salt=salt))
    if ext == ".xls":
        raise LoadError("old .xls workbooks are not read; save it as .xlsx", file=p.name)
    if ext in (".csv", ".txt", ".tsv"):
        return read_csv(p, columns, labels, id_column, table, pii, salt)
    raise DataError(f"unknown format {ext or '(no extension)'}; use CSV, XLSX, Parquet or JSON", file=p.name)


def canonical_columns(columns: Iterable[str]) -> dict[str, str]:
    """Source column -> canonical request column, for the native layout (Chinese headers too)."""
    out = {}
    for c in columns:
        name = canonical_name(c, "requests")
        if name is not None and name not in out.values():
            out[c] = name
    return out
