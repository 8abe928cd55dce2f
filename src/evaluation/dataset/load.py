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
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.dataset import schema
from evaluation.dataset.cells import type_table
from evaluation.dataset.read import READABLE, read_table
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
    """The table a file holds by its name: ``units.csv`` -> ``units``, ``居民诉求.xlsx`` -> ``requests``."""
    if path.stem in schema.TABLES:
        return path.stem
    return {t.title_zh: t.name for t in schema.TABLES.values()}.get(path.stem)


def table_files(folder: str | os.PathLike[str]) -> tuple[dict[str, Path], dict[str, Any], list[str]]:
    """Table name -> file, the descriptor, and warnings, for a dataset folder.

    Resources listed in ``datapackage.json`` come first; files named after a table that the
    descriptor does not list are added, each with a warning (a descriptor that names no resource
    at all is a minimal one, and its folder is read as a plain folder without a warning).
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
    listed = bool(files)
    warnings = []
    for p in sorted(root.iterdir()):
        if not p.is_file() or p.suffix.lower() not in READABLE or p.name.startswith((".", "~$")):
            continue
        name = table_of_file(p)
        if name and name not in files:
            files[name] = p
            if listed:
                warnings.append(f"{p.name}: not listed in datapackage.json; read as the {name} table")
    return files, meta, warnings


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
                 date_order: str | None = None, value_aliases: Mapping[str, Mapping[str, str]] | None = None):
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

    def raw(self, name: str) -> pd.DataFrame:
        """The table as read, before typing (canonical column names, file row numbers in ``attrs``)."""
        if name not in self._raw:
            if name not in self.files:
                raise MissingInputError(f"dataset {self.path} has no {name} table", table=name)
            p = self.files[name]
            if not p.is_file():
                raise MissingInputError(f"{p}: the file of the {name} table (named in datapackage.json) is missing",
                                        table=name)
            self._raw[name] = read_table(p, table=name if name in schema.TABLES else None, pii=self.pii,
                                         salt=self.salt)
        return self._raw[name]

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
    files, meta, warnings = table_files(root)
    tz = str(timezone or meta.get("timezone") or schema.DEFAULT_TZ)
    if cutoff is not None:
        cut, how = parse_cutoff(cutoff, tz, "--cutoff"), "given"
    else:
        cut, how = parse_cutoff(meta.get("cutoff"), tz, str(root / "datapackage.json")), "declared in datapackage.json"
    aliases: dict[str, dict[str, str]] = {}
    for f in (root / FOLDER_FILE, value_aliases):
        if f is not None and Path(f).is_file():
            aliases.update(read_aliases_file(f))
        elif f is not None and f != root / FOLDER_FILE:
            raise MissingInputError(f"{f}: no such value-alias file")
    ds = Dataset(root, files, meta, tz, cut, pii=pii, salt=salt, cutoff_source=how, warnings=warnings,
                 date_order=date_order, value_aliases=aliases)
    for name in tables or ():
        if name in ds:
            ds[name]
    return ds
