"""Describing a folder of table files: ``evaluation init`` writes its ``datapackage.json``.

A district office's folder of spreadsheets becomes a Frictionless data package: one resource per
file named after a table (``units.csv``, ``居民诉求.xlsx``), each with the table's schema, and the
declared data cut-off and time zone at the top, so that every command reads the files the same
way and checks dates against the cut-off.
"""

from __future__ import annotations

import json
import os
import zoneinfo
from pathlib import Path

from evaluation.dataset import schema
from evaluation.dataset.load import parse_cutoff, scan_folder
from evaluation.dataset.read import detect_encoding
from evaluation.errors import MissingInputError, OptionError
from evaluation.io import atomic_path


def init_package(folder: str | os.PathLike, *, cutoff: str, timezone: str = schema.DEFAULT_TZ,
                 name: str | None = None, replace: bool = False) -> tuple[Path, list[str]]:
    """Write ``datapackage.json`` for the table files of ``folder``.

    Parameters
    ----------
    folder
        A folder of files named after tables (or their Chinese titles).
    cutoff
        The data cut-off (extraction time), ISO 8601; naive values are local time of ``timezone``.
    timezone
        IANA time zone of stamps written without an offset.
    name
        Package name (default: the folder's name).
    replace
        Replace an existing ``datapackage.json`` (default: refuse).

    Returns
    -------
    (path, tables)
        The descriptor written and the tables it lists.

    Raises
    ------
    OptionError
        Two files claim the same table (which one is meant cannot be guessed), or the time zone is unknown.
    LoadError
        A CSV file is in an encoding that is not read (Big5, garbled text): the message says how to save it.
    """
    root = Path(folder)
    dp = root / "datapackage.json"
    if dp.exists() and not replace:
        raise OptionError(f"{dp} exists; pass --force to replace it")
    try:

        zoneinfo.ZoneInfo(timezone)
    except Exception:
        raise OptionError(f"--timezone {timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
    cut = parse_cutoff(cutoff, timezone, "--cutoff")
    scan = scan_folder(root)
    if scan.conflicts:
        raise OptionError(f"{root}: " + "; ".join(scan.conflicts.values()))
    files, meta = scan.files, scan.meta
    files = {t: p for t, p in files.items() if t in schema.TABLES and p.parent == root and p.is_file()}
    if not files:
        raise MissingInputError(f"{root}: no file named after a table of the data model (units.csv, requests.xlsx, "
                                f"居民诉求.xlsx, ...); templates are in data/templates/")
    ordered = {t: files[t].name for t in schema.TABLE_ORDER if t in files}
    pkg = schema.datapackage(ordered, name=name or _slug(root.resolve().name), title=meta.get("title", root.name),
                             description=meta.get("description", f"Tables of {root.name}"),
                             extra={"cutoff": cut.isoformat(), "timezone": timezone})
    for res in pkg["resources"]:
        if res.get("mediatype") == "text/csv":  # say what the file really is (GB18030 is common)
            res["encoding"] = detect_encoding(root / res["path"])
    with atomic_path(dp) as tmp:
        tmp.write_text(json.dumps(pkg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return dp, list(ordered)


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isascii() and c.isalnum() else "-" for c in text).strip("-")
    return out or "district"
