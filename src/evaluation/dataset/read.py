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
Parquet. Typing is :func:`evaluation.dataset.cells.type_table`'s job, so that the validator can report
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
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.dataset import schema
from evaluation.dataset.headers import canonical_name, map_headers
from evaluation.dataset.privacy import screen_personal_data
from evaluation.errors import LoadError

#: File extensions read by :func:`read_table`.
READABLE = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".parquet", ".pq")

#: Rows scanned for the header (title rows above it are skipped).
HEADER_SCAN_ROWS = 20


# --------------------------------------------------------------------------- reading a grid


#: the encodings a CSV may be in, as :func:`detect_encoding` names them (Python codec -> what a person reads)
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "gb18030": "GB18030", "utf-16": "UTF-16"}
#: below this share of common characters, text read as GB18030 is taken for another encoding's bytes
PLAUSIBLE_SHARE = 0.8
#: the verdict on plausibility needs at least this many non-ASCII characters
PLAUSIBLE_MIN_CHARS = 8
#: characters the verdict is made on (the start of the text; a log of gigabytes is not scanned twice)
PLAUSIBLE_SAMPLE = 1 << 20


@functools.lru_cache(maxsize=1)
def _common_characters() -> np.ndarray:
    """Boolean table over the Basic Multilingual Plane: the characters of GB2312.

    Punctuation, full-width forms and both levels of hanzi: what Chinese text written in GB18030 is made of.
    Text of another encoding read as GB18030 (Big5 above all) turns into kana, Greek, private-use
    and rare extension characters instead.
    """
    table = np.zeros(0x10000, dtype=bool)
    for row in (*range(1, 4), *range(16, 88)):
        for col in range(1, 95):
            try:
                table[ord(bytes((0xA0 + row, 0xA0 + col)).decode("gb2312"))] = True
            except UnicodeDecodeError:
                continue
    return table


def common_share(text: str) -> tuple[float, int]:
    """Share of the non-ASCII characters of ``text`` that are common Chinese characters, and their number.

    Common: GB2312's hanzi and punctuation (:func:`_common_characters`).
    """
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    wide = cp[cp > 127]
    if len(wide) == 0:
        return 1.0, 0
    good = _common_characters()[np.minimum(wide, 0xFFFF)] & (wide <= 0xFFFF)
    return float(good.mean()), int(len(wide))


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    """Text and encoding (a Python codec name): UTF-16 with its BOM, UTF-8 (BOM or not), else GB18030.

    Text that decodes as GB18030 only by accident (a Big5 file, a legacy code page) is refused
    rather than read as garbled names: Chinese text in GB18030 is almost entirely made of the
    common characters of GB2312; bytes of another encoding are not.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), ("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        share, n = common_share(text[:PLAUSIBLE_SAMPLE])  # a file in another encoding is so from its start
        if n < PLAUSIBLE_MIN_CHARS or share >= PLAUSIBLE_SHARE:
            return text, "gb18030"
        raise LoadError(_not_chinese(data, path, share))
    raise LoadError(f"{path.name}: the text is neither UTF-8 nor GB18030 (the encodings read); open it in "
                    "Excel or a text editor and save it as CSV UTF-8")


def _not_chinese(data: bytes, path: Path, share: float) -> str:
    """Why text that GB18030 decodes is refused, naming the encoding it is likely in."""
    for codec, name in (("big5", "Big5 (traditional characters)"), ("cp950", "Big5 (traditional characters)")):
        try:
            if common_share(data.decode(codec))[1]:
                return (f"{path.name}: the text looks like {name}, which is not read: read as GB18030 it gives garbled "
                        f"characters (only {share:.0%} are common Chinese characters); save it as CSV UTF-8")
        except UnicodeDecodeError:
            continue
    return (f"{path.name}: read as GB18030 the text is garbled (only {share:.0%} of its characters are common Chinese "
            "characters): the file is in another encoding; save it as CSV UTF-8")


#: bytes of a file that decide its encoding (the whole file when smaller)
ENCODING_SAMPLE = 1 << 20


def detect_encoding(path: Path) -> str:
    """The text encoding of ``path`` (``utf-8``, ``utf-8-sig``, ``gb18030``, ``utf-16``), decided on its first MiB.

    The sample ends at its last line break, so no character is cut. Readers of the whole file
    check the rest: Arrow's CSV reader validates every UTF-8 value it reads, and
    :func:`read_table` decodes the whole file. A log of gigabytes is not read twice to be sure.

    Raises
    ------
    LoadError
        The text is in none of these encodings, or decodes as GB18030 only to garbled characters
        (a Big5 file): the message names the likely encoding and how to save the file.
    """
    p = Path(path)
    with open(p, "rb") as fh:
        data = fh.read(ENCODING_SAMPLE + 1)
    if len(data) > ENCODING_SAMPLE:
        data = data[: data.rfind(b"\n", 0, ENCODING_SAMPLE) + 1 or ENCODING_SAMPLE]
    return _decode(data, p)[1]


def _head_lines(text: str, n: int) -> str:
    """The first ``n`` lines of ``text`` (all of it when shorter), however long each line is."""
    end = -1
    for _ in range(n):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    return text[: end + 1]


def _read_csv_grid(path: Path) -> tuple[pd.DataFrame, str]:
    data = path.read_bytes()
    text, encoding = _decode(data, path)
    head = _head_lines(text, HEADER_SCAN_ROWS)  # the header may be longer than any fixed sample
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    if delimiter == "," and head.count("\t") > head.count(",") and head.count("\t") > 0:
        delimiter = "\t"
    # a title row has fewer fields than the header: size the grid by the widest early line
    width = 0
    for i, row in enumerate(csv.reader(io.StringIO(_head_lines(text, 201)), delimiter=delimiter)):
        width = max(width, len(row))
        if i >= 200:
            break
    if width == 0:
        return pd.DataFrame(), encoding
    try:
        grid = pd.read_csv(
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
    return grid, encoding


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
    import openpyxl  # noqa: PLC0415 - deferred: openpyxl loads only for XLSX files

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
    for row in head.to_numpy(dtype=object):
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
    df.attrs["header_rows"] = tuple(range(start + 1, start + n_rows + 1))
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



def file_row(frame: pd.DataFrame, label) -> int | None:
    """The row a person sees in the file for the row ``label`` of a table read by :func:`read_table`.

    Typed tables keep the index of the file's data rows (0, 1, ...) and ``attrs["row_numbers"]``
    (header and title rows counted), also after rows are selected (``survey[survey.wave == 2020]``),
    so an error found in a computation can name the file row: ``file_row(data, data.index[bad][0])``.
    ``None`` when the frame does not carry file rows.
    """
    rows = frame.attrs.get("row_numbers")
    try:
        position = int(label)
    except (TypeError, ValueError):
        return None
    if rows is None or not 0 <= position < len(rows):
        return None
    return int(rows[position])


# --------------------------------------------------------------------------- entry point


def read_table(
    path: str | os.PathLike[str],
    table: str | None = None,
    sheet: str | int | None = None,
    pii: str = "refuse",
    salt: str | None = None,
) -> pd.DataFrame:
    r"""Read one table file into canonical column names with raw values.

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
    df = read_unscreened(path, table, sheet)
    return screen_personal_data(df, table, df.attrs["source"], pii=pii, salt=salt)


def read_unscreened(path: str | os.PathLike[str], table: str | None = None,
                    sheet: str | int | None = None) -> pd.DataFrame:
    """:func:`read_table` before the personal-data screen.

    For validation, which reports every personal column with its file row and goes on checking the
    others; nothing read this way is kept or computed on.

    ``attrs`` also say how the file was read: ``format`` (``CSV``, ``XLSX``, ``Parquet``),
    ``encoding`` of a CSV (``GB18030``, ``UTF-8`` ...) and ``header_rows`` (file rows of the header).
    """
    p = Path(path)
    if table is not None:
        schema.table_schema(table)  # unknown table -> KeyError naming the known ones
    if not p.is_file():
        raise LoadError(f"{p}: no such file")
    ext = p.suffix.lower()
    if ext in (".csv", ".txt", ".tsv"):
        grid, encoding = _read_csv_grid(p)
        df = _grid_to_frame(grid, table, p)
        df.attrs["format"], df.attrs["encoding"] = "CSV", ENCODING_NAMES.get(encoding, encoding)
    elif ext in (".xlsx", ".xlsm"):
        df = _grid_to_frame(_read_xlsx_grid(p, sheet), table, p)
        df.attrs["format"] = "XLSX"
    elif ext in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(p)
        except Exception as exc:
            raise LoadError(f"{p.name}: not a readable Parquet file ({exc})") from None
        df.columns = map_headers(list(df.columns), table, p.name)
        df.attrs["row_numbers"] = range(1, len(df) + 1)
        df.attrs["format"] = "Parquet"
    elif ext == ".xls":
        raise LoadError(f"{p.name}: old .xls workbooks are not read; save it as .xlsx")
    else:
        raise LoadError(f"{p.name}: unknown format {ext or '(no extension)'}; use CSV, XLSX or Parquet")
    df.attrs["source"] = p.name
    return df
