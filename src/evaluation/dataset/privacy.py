"""Personal identifiers: the one detector, used where data come in and where outputs go out.

The data model stores no name, phone number, ID-card number or address of a person (DESIGN.md
section 3). This module decides what looks like one, once, for every entry point:

* by **header**: Chinese words (:data:`PERSONAL_HEADER_WORDS`: 姓名, 反映人, 联系人, 来电人,
  业主姓名, 手机, 电话, 身份证, 住址 ...) and English names (:data:`PERSONAL_HEADER_EN`: name,
  contact, phone, mobile, id_card, address, email ...);
* by **content**: mainland mobile numbers written with spaces, dashes or ``+86``
  (:data:`MOBILE`: ``13812345678``, ``138-1234-5678``, ``+86 138 1234 5678``) and 18-character
  resident ID-card numbers with a valid check character (:func:`id_card_valid`, GB 11643-1999,
  ISO 7064 MOD 11-2).

:func:`screen_personal_data` applies it to a table as it is loaded (refuse, or hash with a
secret salt); :func:`scan_text` and :func:`scan_paths` apply the same patterns to every text a
report or command writes.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evaluation.dataset import schema
from evaluation.dataset.headers import _english_key, normalise_header
from evaluation.errors import OptionError, PersonalDataError

#: Hex characters kept of a salted SHA-256 digest: 16 hex = 64 bits, collision-free in practice
#: for registers of millions of people, short enough to read.
HASH_HEX_CHARS = 16

#: what to do with a column that looks like a personal identifier
PII_ACTIONS = ("refuse", "hash", "drop")

#: Chinese header words that name a person or reach one
PERSONAL_HEADER_WORDS = (
    "姓名", "名字", "反映人", "联系人", "来电人", "投诉人", "诉求人", "申请人", "业主姓名", "户主", "被访者姓名",
    "电话", "手机", "联系方式", "身份证", "证件号", "住址", "地址", "门牌", "邮箱", "微信",
)
#: English header names (after lower-casing and joining words with ``_``)
PERSONAL_HEADER_EN = re.compile(
    r"^(full_?name|first_?name|last_?name|given_?name|family_?name|surname|name|person_?name|"
    r"resident_?name|caller(_?name)?|complainant(_?name)?|contact(_?name)?|(tele)?phone(_?(no|number))?|tel|"
    r"mobile(_?(phone|no|number))?|cell(_?phone)?|id_?card(_?(no|number))?|id_?number|identity(_?card)?(_?no)?|"
    r"national_?id|passport(_?no)?|(home_?|street_?|incident_?)?address|email|e_?mail|wechat)$"
)
#: mainland mobile numbers: 11 digits starting 13-19 (spaces or dashes after the 3rd and 7th
#: digit allowed), optionally +86; never inside a longer number
MOBILE = re.compile(r"(?<![\d.])(?:\+?86[- ]?)?(1[3-9]\d(?:[- ]?\d{4}){2})(?![\d])")
#: 18-character resident ID-card numbers (17 digits and a check character)
ID_CARD = re.compile(r"(?<![\d.])(\d{17}[\dXx])(?![\dXx])")
#: RE2 pre-filter of both (Arrow's engine has no look-around): candidates only
_CANDIDATE = r"1[3-9]\d[- ]?\d{4}[- ]?\d{4}|\d{17}[\dXx]"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
#: columns of source tables that would hold names of persons, for the output scan
NAME_COLUMNS = ("name", "resident_name", "contact_name", "contact", "respondent_name", "member_name",
                "cadre_name", "volunteer_name", "handler_name", "caller_name", "姓名", "联系人", "反映人")


def id_card_valid(number: str) -> bool:
    """True if an 18-character mainland ID-card number has a correct check character (GB 11643-1999)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


# --------------------------------------------------------------------------- columns


def kind_by_header(name: str, table: str | None = None) -> str | None:
    """What a header says its column holds, if it names a personal identifier; else ``None``.

    Canonical columns of the data model are never personal (``name_zh`` of a unit is a place).
    """
    if table and name in schema.table_schema(table).columns:
        return None
    if any(name in t.columns for t in schema.TABLES.values()):
        return None
    h = normalise_header(name)
    if any(k in h for k in PERSONAL_HEADER_WORDS) or PERSONAL_HEADER_EN.match(_english_key(h)):
        return "a name, phone number, ID-card number or address (by its header)"
    return None


def kind_by_content(values: pd.Series) -> str | None:
    """Kind of personal identifier found among a column's values, or ``None``.

    Distinct values are screened by Arrow's RE2 engine for phone- or ID-shaped runs, and only
    those candidates are checked with :data:`MOBILE` and :data:`ID_CARD` (digit boundaries need
    look-around) and, for ID-card numbers, the check character.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = pd.Series(dtype.categories)
        dtype = values.dtype
    if not (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_integer_dtype(dtype)):
        return None
    if dtype == "str":  # Arrow-backed already: scan every value, no hashing needed
        arr = pa.array(values.array)
    else:
        uniq = values.unique()
        try:
            arr = pa.array(np.asarray(uniq, dtype=object), type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array([None if pd.isna(v) else str(v) for v in uniq], type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    cand = pc.unique(arr.filter(pc.fill_null(pc.match_substring_regex(arr, _CANDIDATE), False)))
    if len(cand) == 0:
        return None
    blob = "\n".join(cand.to_pylist())
    if MOBILE.search(blob):
        return "mainland mobile phone numbers (by its content)"
    if any(id_card_valid(m) for m in ID_CARD.findall(blob)):
        return "ID-card numbers (by its content)"
    return None


#: the work-order number the hotline system assigns: one per request, never published and never a
#: unit of a table, so its content is not screened (a pass over millions of distinct strings).
#: Other id columns are screened: a registry that keys members by their ID-card number is common.
ID_COLUMNS = frozenset({"request_id"})


def personal_kind(name: str, values: pd.Series | None = None, table: str | None = None) -> str | None:
    """What makes column ``name`` (with ``values``) personal: its header or its content; ``None`` if neither."""
    if values is not None and str(name) not in ID_COLUMNS:
        return kind_by_header(str(name), table) or kind_by_content(values)
    return kind_by_header(str(name), table)


def first_personal_position(values: pd.Series) -> int | None:
    """Position of the first value that holds a phone or ID-card number (``None`` when none does).

    Only asked for once a column is known to be personal, to name the file row in the message;
    the value itself is never shown.
    """
    text = values.astype("str")
    arr = pa.array(text.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    hits = np.flatnonzero(np.asarray(pc.fill_null(pc.match_substring_regex(arr, _CANDIDATE), False), dtype=bool))
    for pos in hits:
        v = str(text.iloc[int(pos)])
        if MOBILE.search(v) or any(id_card_valid(m) for m in ID_CARD.findall(v)):
            return int(pos)
    return None


@dataclass(frozen=True)
class PersonalColumn:
    """A column found to hold personal identifiers: why, and the file row of the first such value."""

    column: str
    kind: str
    row: int | None  # file row (header counted) of the first value found by content; None by header


def personal_columns(df: pd.DataFrame, table: str | None, exempt: Iterable[str] = ()) -> list[PersonalColumn]:
    """Every column of ``df`` that looks like personal identifiers (by header or content), in order."""
    skip = set(exempt)
    rows = df.attrs.get("row_numbers")
    out = []
    for col in df.columns:
        if col in skip:
            continue
        kind = personal_kind(str(col), df[col], table)
        if kind is None:
            continue
        row = None
        if "content" in kind:
            pos = first_personal_position(df[col])
            if pos is not None:
                row = int(rows[pos]) if rows is not None and pos < len(rows) else pos + 1
        out.append(PersonalColumn(str(col), kind, row))
    return out


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


def check_pii_option(pii: str, salt: str | None) -> None:
    """Refuse an unknown ``pii`` action, or ``hash`` without a salt."""
    if pii not in PII_ACTIONS:
        raise OptionError(f"--pii must be one of {', '.join(PII_ACTIONS)}, not {pii!r}")
    if pii == "hash" and not salt:
        raise OptionError("--pii hash needs a secret salt (--salt-file FILE: keep it secret and the same across files)")


def screen_personal_data(df: pd.DataFrame, table: str | None, source: str, pii: str = "refuse",
                         salt: str | None = None, exempt: Iterable[str] = ()) -> pd.DataFrame:
    """Refuse, hash or drop the columns of ``df`` that hold personal identifiers.

    Parameters
    ----------
    df
        A table as read (canonical column names).
    table, source
        Table of the data model (or ``None``) and the file name, for the message.
    pii
        ``"refuse"`` (raise :class:`~evaluation.errors.PersonalDataError`), ``"hash"`` (salted
        SHA-256, :func:`hash_values`) or ``"drop"``.
    salt
        Secret salt for ``"hash"``.
    exempt
        Columns known not to hold personal data (an open-data export's incident location).

    Returns
    -------
    pandas.DataFrame
        ``df`` itself when nothing is personal, else a copy (``attrs`` kept).
    """
    check_pii_option(pii, salt)
    out = df
    for found in personal_columns(df, table, exempt):
        col = found.column
        if pii == "refuse":
            raise refusal(found, source, table)
        if out is df:
            out = df.copy()
        if pii == "drop":
            out = out.drop(columns=[col])
        else:
            out[col] = hash_values(df[col], salt or "")
    if out is not df:
        out.attrs = dict(df.attrs)
    return out


#: how to go on when a column is refused
REFUSAL_HINT = ("remove the column, or run with --pii hash --salt-file FILE to keep it as a salted hash "
                "(load_dataset(..., pii='hash', salt=...))")


def refusal(found: PersonalColumn, source: str, table: str | None) -> PersonalDataError:
    """The error refusing a personal column, with the file row of the first value found (never the value)."""
    col, kind = found.column, found.kind
    hint = REFUSAL_HINT
    if "header" in kind and ("name" in col.lower() or "名" in col):
        hint += "; if it is the name of a place, call the column name_zh or 名称"
    err = PersonalDataError(f"looks like {kind}, and the data model stores no personal identifiers",
                            file=source, table=table, column=col, kind=kind, hint=hint)
    if found.row is not None:  # PersonalDataError takes no row: place it as DataError does
        err.row = found.row
        err.args = (err._sentence(),)
    return err


def _refuse(col: str, kind: str, source: str, table: str | None):
    raise refusal(PersonalColumn(col, kind, None), source, table)


def screen_headers(names: Iterable[str], table: str | None, source: str, pii: str = "refuse",
                   exempt: Iterable[str] = ()) -> None:
    """Refuse a file whose *unread* columns are headed as personal identifiers.

    A reader that reads only the columns it needs never sees the others' content, but a column
    headed 联系电话 still means the file holds personal data: with ``pii="refuse"`` the file is
    refused exactly as if the column had been read, so the same file gets the same answer from
    every entry point. With ``"hash"`` or ``"drop"`` nothing unread can reach an output.
    """
    if pii != "refuse":
        return
    skip = set(exempt)
    for col in names:
        kind = None if col in skip else kind_by_header(str(col), table)
        if kind is not None:
            _refuse(str(col), kind, source, table)


def read_salt(path: str | Path | None) -> str | None:
    """The salt kept in ``path`` (the file's text, surrounding whitespace removed); ``None`` without a path."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise OptionError(f"{p}: no such salt file (--salt-file)")
    salt = p.read_text(encoding="utf-8").strip()
    if not salt:
        raise OptionError(f"{p}: the salt file is empty")
    return salt


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Finding:
    """A personal identifier found in an output."""

    kind: str  # mobile, id_card, name
    match: str
    where: str

    def __str__(self) -> str:  # never echo the full identifier
        return f"{self.where}: {self.kind} {self.match[:3]}…"


def person_names(tables, columns: Iterable[str] = NAME_COLUMNS, min_length: int = 2) -> set[str]:
    """Names from the name-like columns of a dataset's tables (units' and places' names excluded)."""
    tables = getattr(tables, "tables", tables)
    wanted = {c.lower() for c in columns}
    names: set[str] = set()
    for df in tables.values():
        for col in df.columns:
            if str(col).lower() in wanted:
                names |= {str(v).strip() for v in df[col].dropna() if len(str(v).strip()) >= min_length}
    return names


def scan_text(text: str, names: Iterable[str] = (), where: str = "text") -> list[Finding]:
    """Personal identifiers in ``text``: mobile numbers, valid ID-card numbers, given names."""
    found = [Finding("mobile", m.group(0), where) for m in MOBILE.finditer(text)]
    found += [Finding("id_card", m.group(1), where) for m in ID_CARD.finditer(text) if id_card_valid(m.group(1))]
    for name in names:
        if name and name in text:
            found.append(Finding("name", name, where))
    return found


def _texts_of(path: Path) -> Iterable[str]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        import openpyxl  # noqa: PLC0415 - deferred: only outputs in XLSX need it

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                yield "\t".join("" if v is None else str(v) for v in row)
        wb.close()
    elif suffix == ".ipynb":
        yield json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False)
    elif suffix == ".parquet":
        yield pd.read_parquet(path).astype("str").to_csv(index=False)
    elif suffix in (".png", ".jpg", ".jpeg", ".pdf"):
        return
    elif suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                yield z.read(info).decode("utf-8", errors="replace")
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
        # an embedded image is not text a reader sees, and its base64 could hold a phone-shaped run
        yield _DATA_URI.sub("data:", text) if suffix in (".html", ".htm", ".svg") else text


#: an embedded (base64) image of an HTML or SVG file
_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+")


def scan_paths(paths: Iterable[str | Path], names: Iterable[str] = ()) -> list[Finding]:
    """Scan files (HTML, notebooks, SVG, XLSX, CSV, Parquet, text; folders recursively) for identifiers."""
    names = list(names)
    found: list[Finding] = []
    for p in paths:
        p = Path(p)
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            for text in _texts_of(f):
                found += scan_text(text, names, where=str(f.name))
    return found
