"""A district dataset: a folder of tables, typed by the data model, read when first needed.

:func:`load_dataset` opens a folder with a Frictionless ``datapackage.json`` (top-level
``cutoff`` and ``timezone`` are read from it), a partial one, or none: files named after a table
(``units.csv``, ``requests.parquet``) or its Chinese title (``居民诉求.xlsx``) are found beside it,
and the files a partial descriptor does not list are used with a warning
(:attr:`Dataset.warnings`).

A :class:`Dataset` reads and types a table the first time it is asked for (``ds["requests"]``),
with :func:`evaluation.dataset.read.read_table` and :func:`evaluation.dataset.cells.type_table`,
so a command reads only the tables it uses. Computations on the dataset can be kept with
:meth:`Dataset.memo`: the annual review loads the request log once and computes each indicator
table once per year and level.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.dataset import schema
from evaluation.dataset.cells import type_table
from evaluation.dataset.privacy import PersonalColumn, personal_columns
from evaluation.dataset.read import READABLE, read_table, read_unscreened
from evaluation.dataset.values import FOLDER_FILE, read_aliases_file
from evaluation.errors import DataError, MissingInputError


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_cutoff(value: Any, tz: str, where: str = "cutoff") -> pd.Timestamp | None:
    """A data cut-off as a time in ``tz``: ISO 8601, naive values read as local time of ``tz``.

    ``None`` or ``""`` give ``None``. A value that is not a date-time raises
    :class:`~evaluation.errors.DataError` naming ``where`` (the file or option it came from).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"cutoff {value!r} is not an ISO 8601 date-time", file=where,
                        hint="write it as 2021-12-31T23:59:59+08:00") from None
    if pd.isna(ts):
        raise DataError(f"cutoff {value!r} is not an ISO 8601 date-time", file=where)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def read_descriptor(folder: Path) -> dict[str, Any]:
    """The folder's ``datapackage.json`` as a dict, ``{}`` if there is none."""
    dp = folder / "datapackage.json"
    if not dp.is_file():
        return {}
    try:
        meta = json.loads(dp.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid JSON ({exc})", file=str(dp)) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("resources", []), list):
        raise DataError("not a data package descriptor (no 'resources' list)", file=str(dp))
    return meta


def table_of_file(path: Path) -> str | None:
    """The table a file holds by its name: ``units.csv`` -> ``units``, ``居民诉求.xlsx`` -> ``requests``.

    A name that is not a table's name or Chinese title itself may contain one, as offices name
    their files (``2020年居民诉求台账.xlsx``, ``小区台账.xlsx``, ``requests_2020.csv``): the longest
    table name or title it contains decides; a name containing two of the same length decides nothing.
    """
    stem = Path(path).stem
    titles = {t.title_zh: t.name for t in schema.TABLES.values()}
    if stem in schema.TABLES:
        return stem
    if stem in titles:
        return titles[stem]
    key = stem.casefold()
    found = [(len(w), t) for w, t in [*((n, n) for n in schema.TABLES), *titles.items()] if w.casefold() in key]
    if not found:
        return None
    longest = max(n for n, _ in found)
    tables = {t for n, t in found if n == longest}
    return tables.pop() if len(tables) == 1 else None


@dataclass
class FolderScan:
    """What the files of a dataset folder are: table -> file, and what could not be decided."""

    files: dict[str, Path]
    meta: dict[str, Any]
    #: remarks (files the descriptor does not list, files that are no table)
    warnings: list[str]
    #: table -> the message: two files claim the same table, so it cannot be read unambiguously
    conflicts: dict[str, str]


def scan_folder(folder: str | os.PathLike[str]) -> FolderScan:
    """Which file of the folder holds which table (:func:`table_files`, with the conflicts).

    Resources listed in ``datapackage.json`` come first; files named after a table (or containing
    its name, :func:`table_of_file`) that the descriptor does not list are added, each with a
    warning (a descriptor that names no resource at all is a minimal one, and its folder is read as
    a plain folder without a warning). A readable file that names no table is reported, and two
    files for one table are a conflict: neither is read silently in place of the other.
    """
    root = Path(folder)
    if not root.is_dir():
        raise MissingInputError(f"{root}: no such dataset folder")
    meta = read_descriptor(root)
    files: dict[str, Path] = {}
    for res in meta.get("resources", []):
        name, rel = res.get("name"), res.get("path")
        if isinstance(name, str) and isinstance(rel, str):
            files[name] = root / rel
    listed_paths = {p.resolve() for p in files.values()}
    listed = bool(files)
    warnings: list[str] = []
    conflicts: dict[str, str] = {}
    found: dict[str, list[Path]] = {}
    for p in sorted(root.iterdir()):
        if not p.is_file() or p.suffix.lower() not in READABLE or p.name.startswith((".", "~$")):
            continue
        if p.resolve() in listed_paths:
            continue
        name = table_of_file(p)
        if name is None:
            warnings.append(f"{p.name}: not read: its name is not that of a table (name it after one, e.g. "
                            f"units.csv or 居民诉求.xlsx, or list it in datapackage.json)")
            continue
        found.setdefault(name, []).append(p)
    for name, paths in found.items():
        if name in files:
            if listed:
                warnings.append(f"{', '.join(p.name for p in paths)}: not read: datapackage.json names "
                                f"{files[name].name} as the {name} table")
            continue
        if len(paths) > 1:
            conflicts[name] = (f"{' and '.join(p.name for p in paths)} are all named as the {name} table; keep one "
                               "file per table (combine them), or say which one in datapackage.json")
            continue
        files[name] = paths[0]
        if listed:
            warnings.append(f"{paths[0].name}: not listed in datapackage.json; read as the {name} table")
    return FolderScan(files, meta, warnings, conflicts)


def table_files(folder: str | os.PathLike[str]) -> tuple[dict[str, Path], dict[str, Any], list[str]]:
    """Table name -> file, the descriptor, and warnings, for a dataset folder (see :func:`scan_folder`)."""
    scan = scan_folder(folder)
    return scan.files, scan.meta, scan.warnings + list(scan.conflicts.values())


def likert_items(codebook: pd.DataFrame | None) -> list[str]:
    """Survey item names listed in a (raw or typed) codebook table."""
    if codebook is None or "item" not in codebook.columns:
        return []
    return [str(x).strip() for x in codebook["item"].dropna().tolist()]


class Dataset(Mapping):
    """The tables of one district dataset, typed by the data model and read on first use.

    A read-only mapping table name -> typed DataFrame: ``ds["requests"]`` reads the file the
    first time, ``"requests" in ds`` only looks whether the table has a file, ``len(ds)`` and
    iteration go over the tables that have one.

    Attributes
    ----------
    path
        The dataset folder.
    meta
        The ``datapackage.json`` descriptor (``{}`` for a plain folder).
    timezone
        IANA name; naive times in the files are local times of this zone.
    cutoff
        Data extraction time (tz-aware): the ``cutoff`` argument of :func:`load_dataset`, else the
        descriptor's, else ``None``; :attr:`cutoff_source` says which.
    files
        Table name -> file.
    warnings
        Remarks made while finding the tables (files the descriptor does not list).
    """

    def __init__(self, path: Path, files: Mapping[str, Path], meta: Mapping[str, Any] | None = None,
                 timezone: str = schema.DEFAULT_TZ, cutoff: pd.Timestamp | None = None, *,
                 tables: Mapping[str, pd.DataFrame] | None = None, pii: str = "refuse", salt: str | None = None,
                 cutoff_source: str = "declared in datapackage.json", warnings: Iterable[str] = (),
                 date_order: str | None = None, value_aliases: Mapping[str, Mapping[str, str]] | None = None,
                 conflicts: Mapping[str, str] | None = None):
        self.path = Path(path)
        self.files = dict(files)
        self.meta = dict(meta or {})
        self.timezone = timezone
        self.cutoff = cutoff
        self.cutoff_source = cutoff_source if cutoff is not None else "none declared"
        self.pii, self.salt, self.date_order = pii, salt, date_order
        self.value_aliases = dict(value_aliases or {})
        #: what typing mapped, by table: ``requests.rating: 满意 -> satisfied (233)``
        self.value_mappings: dict[str, list[str]] = {}
        self.warnings = list(warnings)
        #: table -> why it cannot be read (two files claim it)
        self.conflicts = dict(conflicts or {})
        self._tables: dict[str, pd.DataFrame] = dict(tables or {})
        self._raw: dict[str, pd.DataFrame] = {}
        self._memo: dict[Any, Any] = {}

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame], *, path: str | os.PathLike = ".",
                    timezone: str = schema.DEFAULT_TZ, cutoff=None, meta: Mapping[str, Any] | None = None) -> Dataset:
        """A dataset of tables already typed (tests, notebooks, a district built in code)."""
        cut = parse_cutoff(cutoff, timezone) if cutoff is not None else None
        return cls(Path(path), {}, meta, timezone, cut, tables=tables, cutoff_source="given")

    # -- the mapping -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> pd.DataFrame:
        if name in self._tables:
            return self._tables[name]
        if name in self.conflicts:
            raise MissingInputError(f"{self.path}: {self.conflicts[name]}", table=name)
        if name not in self:
            raise MissingInputError(f"dataset {self.path} has no {name} table; it has "
                                    f"{', '.join(self) or 'none'} (templates are in data/templates/)", table=name)
        self._tables[name] = self._load(name)
        return self._tables[name]

    def __contains__(self, name: object) -> bool:
        """Whether the dataset has the table: read already, or a file that is there."""
        return name in self._tables or (name in self.files and self.files[name].is_file())

    @property
    def missing_files(self) -> dict[str, Path]:
        """Tables the descriptor lists whose file is not there."""
        return {t: p for t, p in self.files.items() if not p.is_file() and t not in self._tables}

    def __iter__(self) -> Iterator[str]:
        names = set(self._tables) | {t for t in self.files if t in self}
        known = [t for t in schema.TABLE_ORDER if t in names]
        return iter(known + sorted(n for n in names if n not in schema.TABLES))

    def __len__(self) -> int:
        return len(set(self._tables) | {t for t in self.files if t in self})

    @property
    def tables(self) -> Dataset:
        """The dataset itself (a mapping of tables), for code written against a dict of tables."""
        return self

    @property
    def loaded(self) -> list[str]:
        """Tables read so far."""
        return list(self._tables)

    def _file(self, name: str) -> Path:
        if name in self.conflicts:
            raise MissingInputError(f"{self.path}: {self.conflicts[name]}", table=name)
        if name not in self.files:
            raise MissingInputError(f"dataset {self.path} has no {name} table", table=name)
        p = self.files[name]
        if not p.is_file():
            raise MissingInputError(f"{p}: the file of the {name} table (named in datapackage.json) is missing",
                                    table=name)
        return p

    def raw(self, name: str) -> pd.DataFrame:
        """The table as read, before typing (canonical column names, file row numbers in ``attrs``)."""
        if name not in self._raw:
            self._raw[name] = read_table(self._file(name), table=name if name in schema.TABLES else None,
                                         pii=self.pii, salt=self.salt)
        return self._raw[name]

    def raw_for_checking(self, name: str) -> tuple[pd.DataFrame, list[PersonalColumn]]:
        """The table as read, and the personal columns found in it, for validation.

        With ``pii="refuse"`` a personal column does not stop the reading here: it is listed (with
        the file row of its first value) and left out, so that validation reports it and goes on
        checking the other columns. Such a table is not kept: computing on it still refuses it.
        """
        if name in self._raw or self.pii != "refuse":
            return self.raw(name), []
        df = read_unscreened(self._file(name), table=name if name in schema.TABLES else None)
        found = personal_columns(df, name if name in schema.TABLES else None)
        if not found:
            self._raw[name] = df
            return df, []
        kept = df.drop(columns=[f.column for f in found])
        kept.attrs = dict(df.attrs)
        return kept, found

    def reading(self, name: str) -> str:
        """How the table's file was read, for a person; empty for a table not read from a file.

        For example ``居民诉求.csv, CSV in GB18030, header in row 2 (1 row above it skipped), 460 rows``.
        """
        raw = self._raw.get(name)
        typed = self._tables.get(name)
        frame = raw if raw is not None else typed
        if frame is None or name not in self.files:
            return ""
        a = frame.attrs
        how = a.get("format", self.files[name].suffix.lstrip(".").upper())
        if a.get("encoding"):
            how += f" in {a['encoding']}"
        head = a.get("header_rows") or ()
        if head:
            rows = "rows" if len(head) > 1 else "row"
            where = f"{head[0]}-{head[-1]}" if len(head) > 1 else f"{head[0]}"
            how += f", header in {rows} {where}"
            if head[0] > 1:
                how += f" ({head[0] - 1} {'row' if head[0] == 2 else 'rows'} above it skipped)"
        n = len(frame)
        how += ", empty (no data rows)" if n == 0 else f", {n:,} {'row' if n == 1 else 'rows'}"
        return f"{self.files[name].name}, {how}"

    def adopt(self, name: str, typed: pd.DataFrame) -> None:
        """Keep ``typed`` as the table ``name`` (validation typed it already), unless it was read."""
        if name not in self._tables:
            self._tables[name] = typed
            self.value_mappings[name] = typed.attrs.get("value_mappings", [])

    def _load(self, name: str) -> pd.DataFrame:
        raw = self.raw(name)
        if name not in schema.TABLES:
            return raw
        items = likert_items(self.raw("survey_codebook")) if name == "survey" and "survey_codebook" in self.files else None
        typed, _ = type_table(raw, name, self.timezone, items, date_order=self.date_order,
                              value_aliases=self.value_aliases)
        self.value_mappings[name] = typed.attrs.get("value_mappings", [])
        return typed

    # -- computations kept on the dataset ---------------------------------------------------------
    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, the kept result afterwards.

        Results computed from the dataset (the request log, an indicator table of a year and
        level) are kept here so that a report asking twice computes once.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def checksums(self) -> dict[str, str]:
        """SHA-256 (hex) of every file of the dataset, by path relative to the folder."""
        paths = [p for p in self.files.values() if p.is_file()]
        dp = self.path / "datapackage.json"
        if dp.is_file():
            paths.append(dp)
        return {str(p.relative_to(self.path)): _sha256(p) for p in sorted(set(paths))}

    def __repr__(self) -> str:
        cut = self.cutoff.isoformat() if self.cutoff is not None else "none"
        return f"<Dataset {self.path.name}: {len(self)} tables ({', '.join(self)}); cutoff {cut}>"


def load_dataset(
    path: str | os.PathLike[str],
    tables: Iterable[str] | None = None,
    *,
    cutoff=None,
    timezone: str | None = None,
    pii: str = "refuse",
    salt: str | None = None,
    date_order: str | None = None,
    value_aliases: str | os.PathLike | None = None,
) -> Dataset:
    """Open a dataset folder; tables are read and typed when first used.

    Parameters
    ----------
    path
        Folder with ``datapackage.json`` (resources in CSV, XLSX or Parquet), a partial one, or
        none, with files named after tables.
    tables
        Tables to read now (the others are read when first asked for).
    cutoff
        Data cut-off (ISO 8601, local time of the dataset unless it has an offset); overrides the
        descriptor's ``cutoff``.
    timezone
        IANA zone of naive times; overrides the descriptor's ``timezone`` (default Asia/Shanghai).
    pii, salt
        What to do with columns that look like personal identifiers
        (:func:`evaluation.dataset.privacy.screen_personal_data`): ``"refuse"`` (default),
        ``"hash"`` with a secret ``salt``, or ``"drop"``.
    date_order
        ``"YMD"``, ``"DMY"`` or ``"MDY"``: how to read dates written with the day and month as
        numbers (``05/01/2020``); default: refuse a column where the order is ambiguous.
    value_aliases
        A YAML file of the district's own spellings of enumerated values (``rating: {很满意:
        satisfied}``), added to the built-in ones; a ``value_aliases.yaml`` in the folder is read too.

    Returns
    -------
    Dataset
    """
    root = Path(path)
    scan = scan_folder(root)
    files, meta, warnings = scan.files, scan.meta, scan.warnings
    tz = str(timezone or meta.get("timezone") or schema.DEFAULT_TZ)
    if cutoff is not None:
        cut, how = parse_cutoff(cutoff, tz, "--cutoff"), "given with --cutoff"
    else:
        cut, how = parse_cutoff(meta.get("cutoff"), tz, str(root / "datapackage.json")), "declared in datapackage.json"
    aliases: dict[str, dict[str, str]] = {}
    for f in (root / FOLDER_FILE, value_aliases):
        if f is not None and Path(f).is_file():
            aliases.update(read_aliases_file(f))
        elif f is not None and f != root / FOLDER_FILE:
            raise MissingInputError(f"{f}: no such value-alias file")
    ds = Dataset(root, files, meta, tz, cut, pii=pii, salt=salt, cutoff_source=how, warnings=warnings,
                 date_order=date_order, value_aliases=aliases, conflicts=scan.conflicts)
    for name in tables or ():
        if name in ds:
            ds[name]
    return ds
