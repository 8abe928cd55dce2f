"""Options shared by the commands, and the steps every command takes the same way.

Every command that reads a dataset takes ``--cutoff``, ``--timezone``, ``--pii``, ``--salt-file``
and ``--force`` (:func:`add_data_options`), opens the dataset with :func:`open_dataset` (only the
tables it needs, validated before anything is computed) and checks ``--out`` with
:func:`check_out` before doing any work. Only the standard library is imported here, so that
``evaluation --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

#: extensions ``--out`` accepts for a table
TABLE_FORMATS = (".csv", ".parquet", ".xlsx")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help texts that show each option's default and keep the description's line breaks."""


def add_command(sub, name: str, help: str, description: str, run) -> argparse.ArgumentParser:
    """A sub-command parser whose ``args.run`` is ``run``."""
    p = sub.add_parser(name, help=help, description=description, formatter_class=HelpFormatter)
    p.set_defaults(run=run)
    return p


def add_data_options(p: argparse.ArgumentParser, cutoff: bool = True) -> None:
    """``--cutoff``, ``--timezone``, ``--pii``, ``--salt-file`` and ``--force``."""
    g = p.add_argument_group("data")
    if cutoff:
        g.add_argument("--cutoff", default=None, metavar="ISO",
                       help="data cut-off (extraction time), ISO 8601, local time unless an offset is given; "
                            "overrides the one declared in datapackage.json (default: the declared one)")
    g.add_argument("--timezone", default=None, metavar="ZONE",
                   help="IANA time zone of stamps written without an offset (default: the one declared in "
                        "datapackage.json, else Asia/Shanghai)")
    g.add_argument("--pii", default="refuse", choices=["refuse", "hash"],
                   help="what to do with a column that looks like personal identifiers (names, phones, ID-card "
                        "numbers): refuse the data, or keep the column as a salted hash")
    g.add_argument("--salt-file", default=None, metavar="FILE",
                   help="file holding the secret salt for --pii hash (keep it out of the data folder)")
    g.add_argument("--force", action="store_true",
                   help="compute even though validation found errors (the output then says so)")


def add_out_option(p: argparse.ArgumentParser, required: bool = True, what: str = "the table") -> None:
    """``--out FILE`` for a table (CSV, Parquet or XLSX by extension, written atomically)."""
    p.add_argument("--out", required=required, metavar="FILE",
                   help=f"where to write {what}: .csv, .parquet or .xlsx (written atomically)")


def check_out(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), formats=TABLE_FORMATS) -> Path:
    """``--out`` before any work is done: a supported extension, and never one of the inputs."""
    from evaluation.errors import OptionError  # small module, no heavy imports

    out = Path(path)
    if out.suffix.lower() not in formats:
        raise OptionError(f"{out}: --out must end in {', '.join(formats[:-1])} or {formats[-1]}")
    target = out.resolve()
    for given in inputs:
        g = Path(given).resolve()
        if target == g or (g.is_dir() and g in target.parents and target.stem in _table_names()):
            raise OptionError(f"{out}: --out points at an input ({given}); write the result somewhere else")
    return out


def _table_names() -> set[str]:
    from evaluation.dataset.schema import TABLES  # the data model, to protect the tables of an input folder

    return set(TABLES)


def salt_of(args) -> str | None:
    """The salt of ``--salt-file`` (``None`` without it)."""
    from evaluation.dataset.privacy import check_pii_option, read_salt

    salt = read_salt(getattr(args, "salt_file", None))
    check_pii_option(getattr(args, "pii", "refuse"), salt)
    return salt


def open_dataset(args, tables: Iterable[str], folder: str | None = None):
    """The dataset of ``args.dir`` with the command's options, its ``tables`` validated first.

    Validation runs on the tables the command needs (and the ones they refer to); with errors the
    command stops with the grouped problems, unless ``--force`` was given, which is then stated.
    """
    from evaluation.dataset.load import load_dataset
    from evaluation.dataset.validate import require_valid

    ds = load_dataset(folder or args.dir, cutoff=getattr(args, "cutoff", None), timezone=getattr(args, "timezone", None),
                      pii=getattr(args, "pii", "refuse"), salt=salt_of(args))
    for w in ds.warnings:
        print(f"note: {w}", file=sys.stderr)
    report = require_valid(ds, tables, force=getattr(args, "force", False))
    if report is not None and not report.ok:
        print(f"warning: --force: computing from data with {len(report.errors):,} validation errors; "
              "the results are not fit to publish", file=sys.stderr)
    return ds
