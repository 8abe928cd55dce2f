"""Reading one table from CSV, XLSX or Parquet into canonical column names, raw values.

:func:`read_table` is the single entry point for files a user brings. It

* detects the text encoding of a CSV file (UTF-8, UTF-8 with BOM, GB18030);
* finds the header row, skipping title rows above it (Chinese government spreadsheets often
  put a merged title such as ``张湾区2020年居民诉求台账`` in row 1) and accepting two-line
  bilingual headers (a row of Chinese labels followed by a row of canonical names);
* maps headers to canonical column names through the schema's Chinese labels, the alias table
  ``aliases.csv`` and case/space-insensitive English (``Created At`` -> ``created_at``);
* refuses columns that look like personal identifiers (names, phone numbers, ID-card numbers,
  addresses), by header and by content, unless asked to hash them with a salt.

Values are returned *raw*: strings for CSV and XLSX (empty cells missing), native types for
Parquet. Typing is :func:`evaluation.dataset.type_table`'s job, so that the validator can report
every cell that fails to parse.

Row numbers: ``df.attrs["row_numbers"]`` holds, for each data row, the row number a user sees
in the file, the header counted: the first data row of a plain CSV or XLSX is row 2; with one
title row above the header it is row 3. Parquet files have no header row: their rows are
numbered from 1. ``df.attrs["source"]`` is the file name.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import hashlib
import io
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation import schema

#: File extensions read by :func:`read_table`.
READABLE = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".parquet", ".pq")

#: Rows scanned for the header (title rows above it are skipped).
HEADER_SCAN_ROWS = 20

#: Hex characters kept of a salted SHA-256 digest: 16 hex = 64 bits, collision-free in practice
#: for registers of millions of people, short enough to read.
HASH_HEX_CHARS = 16


class LoadError(ValueError):
    """A file cannot be read as a table (format, encoding, layout)."""


class PersonalDataError(ValueError):
    """A column looks like a personal identifier and the caller did not ask to hash it."""

    def __init__(self, message: str, path: str = "", column: str = "", kind: str = ""):
        super().__init__(message)
        self.path = path
        self.column = column
        self.kind = kind


# --------------------------------------------------------------------------- header mapping


def normalise_header(text: object) -> str:
    """Header text compared case-, width- and space-insensitively.

    NFKC folds full-width brackets and letters (``（`` -> ``(``), markers of required columns
    (``*``) are dropped, whitespace collapses, English is lower-cased.
    """
    s = unicodedata.normalize("NFKC", str(text)).replace("*", "").strip().lower()
    return re.sub(r"\s+", " ", s)


def _english_key(s: str) -> str:
    return re.sub(r"[\s\-]+", "_", s.strip())


@functools.lru_cache(maxsize=1)
def _alias_rows() -> tuple[tuple[str, str, str], ...]:
    path = Path(__file__).with_name("aliases.csv")
    with path.open(encoding="utf-8") as fh:
        return tuple(
            (normalise_header(r["alias"]), r["canonical"].strip(), (r["table"] or "").strip())
            for r in csv.DictReader(fh)
        )


@functools.lru_cache(maxsize=None)
def header_map(table: str | None) -> dict[str, str]:
    """Normalised header -> canonical column name, for ``table`` (or any table when ``None``).

    Sources, later ones never overriding earlier ones: the canonical names, the schema's Chinese
    labels (``Field.label_zh``), then ``aliases.csv`` (table-specific rows before general ones).
    Without a table, a Chinese label shared by several columns maps to the most common one
    (``社区编码`` -> ``community_id``).
    """
    out: dict[str, str] = {}
    tables = [schema.table_schema(table)] if table else list(schema.TABLES.values())
    names = {f.name for t in tables for f in t.fields}
    for n in names:
        out[n] = n
    labels: dict[str, Counter] = {}
    for t in tables:
        for f in t.fields:
            labels.setdefault(normalise_header(f.label_zh), Counter())[f.name] += 1
    for label, counts in labels.items():
        out.setdefault(label, counts.most_common(1)[0][0])
    rows = _alias_rows()
    for alias, canonical, tbl in sorted(rows, key=lambda r: r[2] == ""):
        if canonical not in names:
            continue
        if tbl and table and tbl != table:
            continue
        out.setdefault(alias, canonical)
    return out


def canonical_name(header: object, table: str | None = None) -> str | None:
    """Canonical column name for one header cell, or ``None`` when it maps to none.

    Accepts a canonical name in any case with spaces (``Created At``), a Chinese label or alias
    (``受理时间``), and bilingual headers such as ``受理时间 created_at``, ``受理时间\\ncreated_at``
    or ``受理时间 (created_at)``.
    """
    if header is None or (isinstance(header, float) and np.isnan(header)):
        return None
    mapping = header_map(table)
    h = normalise_header(header)
    for key in (h, _english_key(h), h.replace(" ", "")):
        if key in mapping:
            return mapping[key]
    parts = [p for p in re.split(r"[\s()\[\]/|:]+", h) if p]
    # the English part of a bilingual header is the unambiguous one: try it first
    for p in sorted(parts, key=lambda p: not p.isascii()):
        if p in mapping:
            return mapping[p]
    return None


def map_headers(headers: list[object], table: str | None, path: str = "") -> list[str]:
    """Canonical names for a header row; unknown headers are kept (stripped, NFKC) as they are."""
    out: list[str] = []
    seen: dict[str, str] = {}
    for i, h in enumerate(headers):
        name = canonical_name(h, table)
        if name is None:
            raw = "" if h is None else unicodedata.normalize("NFKC", str(h)).strip()
            name = re.sub(r"\s+", " ", raw) or f"column_{i + 1}"
        if name in seen:
            raise LoadError(
                f"{path}: headers {seen[name]!r} and {str(h)!r} both mean column {name!r}; "
                "keep one of them"
            )
        seen[name] = str(h)
        out.append(name)
    return out


# --------------------------------------------------------------------------- reading a grid


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM or not), else GB18030, else charset-normalizer's guess."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    try:  # pragma: no cover - reached only by exotic encodings
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best), best.encoding
    except ImportError:
        pass
    raise LoadError(f"{path.name}: cannot detect the text encoding; save it as UTF-8 or GB18030")


def _read_csv_grid(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    text, _ = _decode(data, path)
    sample = text[:65536]
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    if delimiter == "," and sample.count("\t") > sample.count(",") and sample.count("\t") > 0:
        delimiter = "\t"
    # a title row has fewer fields than the header: size the grid by the widest early line
    width = 0
    for i, row in enumerate(csv.reader(io.StringIO(sample), delimiter=delimiter)):
        width = max(width, len(row))
        if i >= 200:
            break
    if width == 0:
        return pd.DataFrame()
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            names=range(width),
            dtype="str",
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise LoadError(f"{path.name}: not a readable CSV table ({exc})") from None


def _cell_text(v: object) -> object:
    """Excel cell value -> the raw string a CSV would carry (None stays missing)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    s = str(v)
    return s if s.strip() else None


def _read_xlsx_grid(path: Path, sheet: str | int | None) -> pd.DataFrame:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise LoadError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            ws = wb.worksheets[sheet]
        else:
            if sheet not in wb.sheetnames:
                raise LoadError(
                    f"{path.name}: no sheet {sheet!r}; sheets are {', '.join(wb.sheetnames)}"
                )
            ws = wb[sheet]
        rows = [[_cell_text(v) for v in r] for r in ws.iter_rows(min_row=1, values_only=True)]
    finally:
        wb.close()
    width = max((len(r) for r in rows), default=0)
    grid = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], columns=range(width), dtype="str")
    return grid


def _find_header(grid: pd.DataFrame, table: str | None) -> tuple[int, int]:
    """(first header row, number of header rows), as 0-based grid positions.

    The header is the early row with the most cells that map to canonical columns (ties: the
    earliest); when none maps, the first row as wide as the widest early row (a title row is
    one merged cell). A following row that also maps, cell for cell, is the second line of a
    bilingual header.
    """
    head = grid.head(HEADER_SCAN_ROWS)
    if head.empty:
        return 0, 1
    scores, filled = [], []
    for r, row in enumerate(head.to_numpy(dtype=object)):
        cells = [c for c in row if isinstance(c, str) and c.strip()]
        filled.append(len(cells))
        scores.append(sum(canonical_name(c, table) is not None for c in cells))
    best = int(np.argmax(scores))
    if scores[best] == 0:
        widest = max(filled)
        best = next(i for i, n in enumerate(filled) if n == widest)
        return best, 1
    n_rows = 1
    nxt = best + 1
    if nxt < len(head) and scores[nxt] >= max(1, filled[nxt] // 2) and scores[nxt] >= scores[best] // 2:
        n_rows = 2
    return best, n_rows


def _merge_header_rows(rows: list[list[object]], table: str | None) -> list[object]:
    """One header cell per column from one or two header rows (the row that maps wins)."""
    if len(rows) == 1:
        return rows[0]
    out = []
    for cells in zip(*rows):
        pick = next((c for c in reversed(cells) if canonical_name(c, table) is not None), None)
        if pick is None:
            pick = next((c for c in cells if c is not None), None)
        out.append(pick)
    return out


def _grid_to_frame(grid: pd.DataFrame, table: str | None, path: Path) -> pd.DataFrame:
    if grid.empty:
        raise LoadError(f"{path.name}: the file holds no table")
    start, n_rows = _find_header(grid, table)
    header = _merge_header_rows([grid.iloc[start + k].tolist() for k in range(n_rows)], table)
    body = grid.iloc[start + n_rows :]
    # drop columns with neither header nor data (trailing commas, formatted empty Excel columns)
    keep = [i for i, h in enumerate(header) if h is not None or body.iloc[:, i].notna().any()]
    body = body.iloc[:, keep]
    header = [header[i] for i in keep]
    names = map_headers(header, table, path.name)
    nonempty = body.notna().any(axis=1).to_numpy()
    row_numbers = np.flatnonzero(nonempty) + start + n_rows + 1
    df = body.loc[nonempty].copy()
    df.columns = names
    df = df.reset_index(drop=True)
    df.attrs["row_numbers"] = _compact_rows(row_numbers)
    return df


def _compact_rows(row_numbers: np.ndarray) -> range | tuple[int, ...]:
    """A ``range`` when rows are consecutive (cheap to copy in ``attrs``), else a tuple."""
    n = len(row_numbers)
    if n == 0:
        return range(0)
    first = int(row_numbers[0])
    if int(row_numbers[-1]) - first == n - 1:
        return range(first, first + n)
    return tuple(int(x) for x in row_numbers)


# --------------------------------------------------------------------------- personal data

_PII_HEADER_ZH = ("姓名", "名字", "联系人", "电话", "手机", "联系方式", "身份证", "证件号", "住址", "地址", "门牌", "邮箱", "微信")
_PII_HEADER_EN = re.compile(
    r"^(full_?name|first_?name|last_?name|given_?name|family_?name|surname|name|person_?name|"
    r"resident_?name|contact(_?name)?|(tele)?phone(_?(no|number))?|tel|mobile(_?(phone|no|number))?|"
    r"cell(_?phone)?|id_?card(_?(no|number))?|id_?number|identity(_?card)?(_?no)?|national_?id|"
    r"passport(_?no)?|(home_?|street_?|incident_?)?address|email|e_?mail|wechat)$"
)
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_ID_CARD_FULL = re.compile(r"(?<!\d)(\d{17}[\dXx])(?!\d)")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_valid(number: str) -> bool:
    """True if an 18-character mainland ID-card number has a correct check character (GB 11643)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def _pii_by_header(name: str, table: str | None) -> str | None:
    if table and name in schema.table_schema(table).columns:
        return None
    if any(name in t.columns for t in schema.TABLES.values()):
        return None
    h = normalise_header(name)
    if any(k in h for k in _PII_HEADER_ZH):
        return "a name, phone number, ID-card number or address (by its header)"
    if _PII_HEADER_EN.match(_english_key(h)):
        return "a name, phone number, ID-card number or address (by its header)"
    return None


def _pii_by_content(values: pd.Series) -> str | None:
    """Kind of personal identifier found in a column's values, or ``None``.

    Distinct values are screened by Arrow's RE2 engine for runs of 11 or 18 digits, and only
    those candidates are checked with Python's ``re`` (digit boundaries need look-around, which
    RE2 lacks) and, for ID-card numbers, the GB 11643 check character.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = values.dtype
    if not (pd.api.types.is_string_dtype(dtype) or dtype == object or pd.api.types.is_integer_dtype(dtype)):
        return None
    if dtype == "str":  # Arrow-backed already: scan every value, no hashing needed
        arr = pa.array(values.array)
    else:
        uniq = values.unique()
        try:
            arr = pa.array(np.asarray(uniq, dtype=object), type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array([None if pd.isna(v) else str(v) for v in uniq], type=pa.string())
    cand = arr.filter(pc.fill_null(pc.match_substring_regex(arr, r"1[3-9]\d{9}|\d{17}[\dXx]"), False))
    cand = pc.unique(cand)
    if len(cand) == 0:
        return None
    blob = "\n".join(cand.to_pylist())
    if _PHONE.search(blob):
        return "mainland mobile phone numbers (by its content)"
    if any(id_card_valid(m) for m in _ID_CARD_FULL.findall(blob)):
        return "ID-card numbers (by its content)"
    return None


def hash_values(values: pd.Series, salt: str) -> pd.Series:
    """Salted SHA-256 of each value, first :data:`HASH_HEX_CHARS` hex characters; missing stays missing.

    The same value with the same salt always gives the same hash, so hashed identifiers still
    link tables; without the salt the original cannot be recovered by trying likely values.
    """
    key = salt.encode("utf-8")
    uniq = pd.unique(values.dropna().astype("str"))
    table = {u: hashlib.sha256(key + u.encode("utf-8")).hexdigest()[:HASH_HEX_CHARS] for u in uniq}
    out = values.astype("str").map(table)
    return out.where(values.notna(), None).astype("str")


def screen_personal_data(df: pd.DataFrame, table: str | None, source: str, pii: str = "refuse", salt: str | None = None) -> pd.DataFrame:
    """Refuse, hash or drop columns that hold personal identifiers (see :func:`read_table`)."""
    if pii not in ("refuse", "hash", "drop"):
        raise ValueError(f"pii must be 'refuse', 'hash' or 'drop', not {pii!r}")
    if pii == "hash" and not salt:
        raise ValueError("pii='hash' needs a non-empty salt (keep it secret and the same across files)")
    out = df
    for col in df.columns:
        kind = _pii_by_header(str(col), table) or _pii_by_content(df[col])
        if kind is None:
            continue
        if pii == "refuse":
            hint = ""
            if "header" in kind and ("name" in str(col).lower() or "名" in str(col)):
                hint = " (if it is the name of a place, call the column name_zh or 名称)"
            raise PersonalDataError(
                f"{source}: column {col!r} looks like {kind}; the data model stores no personal "
                f"identifiers: remove the column, or load with pii='hash' and a secret salt{hint}",
                path=source,
                column=str(col),
                kind=kind,
            )
        if out is df:
            out = df.copy()
        if pii == "drop":
            out = out.drop(columns=[col])
        else:
            out[col] = hash_values(df[col], salt or "")
    if out is not df:
        out.attrs = dict(df.attrs)
    return out


# --------------------------------------------------------------------------- entry point


def read_table(
    path: str | os.PathLike[str],
    table: str | None = None,
    sheet: str | int | None = None,
    pii: str = "refuse",
    salt: str | None = None,
) -> pd.DataFrame:
    """Read one table file into canonical column names with raw values.

    Parameters
    ----------
    path
        A ``.csv`` (UTF-8, UTF-8 with BOM or GB18030, detected; ``.tsv`` tab-separated),
        ``.xlsx`` or ``.parquet`` file.
    table
        Table of :data:`evaluation.schema.TABLES` the file holds; headers are then mapped with
        that table's labels first (``社区编码`` is ``unit_id`` in ``meetings``). ``None`` maps
        against all tables.
    sheet
        XLSX sheet name or 0-based position; default the first sheet.
    pii
        ``"refuse"`` (default) raises :class:`PersonalDataError` for a column that looks like a
        personal identifier (by header: 姓名, 电话, 手机, 身份证, 住址, name, phone, id_card,
        address ...; by content: mainland mobile numbers ``1[3-9]\\d{9}``, 18-character ID-card
        numbers with a valid check character). ``"hash"`` replaces such columns by salted
        SHA-256 digests (first 16 hex characters); ``"drop"`` removes them.
    salt
        Secret salt for ``pii="hash"``.

    Returns
    -------
    pandas.DataFrame
        Raw values: ``str`` (missing where the cell is empty) for CSV and XLSX, native types for
        Parquet. ``attrs["source"]`` is the file name, ``attrs["row_numbers"]`` the row number
        a user sees in the file for each data row (header counted; Parquet rows from 1).

    Raises
    ------
    LoadError
        The file is missing, of an unknown format or unreadable.
    PersonalDataError
        A column looks like a personal identifier and ``pii="refuse"``.
    """
    p = Path(path)
    if table is not None:
        schema.table_schema(table)  # unknown table -> KeyError naming the known ones
    if not p.is_file():
        raise LoadError(f"{p}: no such file")
    ext = p.suffix.lower()
    if ext in (".csv", ".txt", ".tsv"):
        df = _grid_to_frame(_read_csv_grid(p), table, p)
    elif ext in (".xlsx", ".xlsm"):
        df = _grid_to_frame(_read_xlsx_grid(p, sheet), table, p)
    elif ext in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(p)
        except Exception as exc:
            raise LoadError(f"{p.name}: not a readable Parquet file ({exc})") from None
        df.columns = map_headers(list(df.columns), table, p.name)
        df.attrs["row_numbers"] = range(1, len(df) + 1)
    elif ext == ".xls":
        raise LoadError(f"{p.name}: old .xls workbooks are not read; save it as .xlsx")
    else:
        raise LoadError(f"{p.name}: unknown format {ext or '(no extension)'}; use CSV, XLSX or Parquet")
    df.attrs["source"] = p.name
    return screen_personal_data(df, table, p.name, pii=pii, salt=salt)
