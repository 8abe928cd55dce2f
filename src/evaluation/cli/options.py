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
    """Help texts that show each option's default and keep the description's line breaks.

    A help text that already says its default in words ("default: the declared one") keeps its
    words, and an option without a default (``None``, required or optional) gets no
    ``(default: None)`` after them.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text.lower() or action.default is None:
            return text
        return super()._get_help_string(action)


def add_command(sub, name: str, help: str, description: str, run) -> argparse.ArgumentParser:
    """A sub-command parser whose ``args.run`` is ``run``."""
    p = sub.add_parser(name, help=help, description=description, formatter_class=HelpFormatter)
    p.set_defaults(run=run)
    return p


def add_data_options(p: argparse.ArgumentParser, cutoff: bool = True) -> None:
    """``--cutoff``, ``--timezone``, ``--date-order``, ``--value-aliases``, ``--pii``, ``--salt-file`` and ``--force``."""
    g = p.add_argument_group("data")
    if cutoff:
        g.add_argument("--cutoff", default=None, metavar="ISO",
                       help="data cut-off (extraction time), ISO 8601, local time unless an offset is given; "
                            "overrides the one declared in datapackage.json (default: the declared one)")
    g.add_argument("--timezone", default=None, metavar="ZONE",
                   help="IANA time zone of stamps written without an offset (default: the one declared in "
                        "datapackage.json, else Asia/Shanghai)")
    g.add_argument("--date-order", default=None, choices=["YMD", "DMY", "MDY"],
                   help="order of day and month in dates written like 05/01/2020, one for every such column "
                        "(default: the dates decide, and a column where they cannot is refused)")
    g.add_argument("--value-aliases", default=None, metavar="YAML",
                   help="the district's own spellings of enumerated values (rating: {很满意: satisfied}), besides "
                        "the built-in ones and a value_aliases.yaml in the folder")
    g.add_argument("--pii", default="refuse", choices=["refuse", "hash"],
                   help="what to do with a column that looks like personal identifiers (names, phones, ID-card "
                        "numbers): refuse the data, or keep the column as a salted hash")
    g.add_argument("--salt-file", default=None, metavar="FILE",
                   help="file holding the secret salt for --pii hash (keep it out of the data folder)")
    g.add_argument("--force", action="store_true",
                   help="compute even though validation found errors (the output then says so in its flags; "
                        "personal data are refused even then)")


def add_out_option(p: argparse.ArgumentParser, required: bool = True, what: str = "the table") -> None:
    """``--out FILE`` for a table (CSV, Parquet or XLSX by extension, written atomically)."""
    p.add_argument("--out", required=required, metavar="FILE",
                   help=f"where to write {what}: .csv, .parquet or .xlsx (written atomically)")


def check_out(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), formats=TABLE_FORMATS) -> Path:
    """``--out`` before any work is done: a supported extension, and never one of the inputs.

    Refused: an input file itself, a file of an input folder, and a file in an input folder whose
    name would make it a table of that dataset the next time it is read (``units.csv``,
    ``居民诉求.xlsx``, ``2020年居民诉求台账.csv``).
    """
    from evaluation.errors import OptionError  # small module, no heavy imports

    out = Path(path)
    if out.suffix.lower() not in formats:
        raise OptionError(f"{out}: --out must end in {', '.join(formats[:-1])} or {formats[-1]}")
    target = out.resolve()
    for given in inputs:
        g = Path(given).resolve()
        inside = g.is_dir() and g in target.parents
        if target == g or (inside and (target.exists() or _names_a_table(target))):
            raise OptionError(f"{out}: --out points at an input ({given}); write the result somewhere else")
    return out


def _names_a_table(path: Path) -> bool:
    from evaluation.dataset.load import table_of_file  # the data model, to protect the tables of an input folder

    return table_of_file(path) is not None


def salt_of(args) -> str | None:
    """The salt of ``--salt-file`` (``None`` without it)."""
    from evaluation.dataset.privacy import check_pii_option, read_salt

    salt = read_salt(getattr(args, "salt_file", None))
    check_pii_option(getattr(args, "pii", "refuse"), salt)
    return salt


def load_options(args) -> dict:
    """The keyword arguments of :func:`evaluation.dataset.load.load_dataset` given by the data options."""
    return {"cutoff": getattr(args, "cutoff", None), "timezone": getattr(args, "timezone", None),
            "pii": getattr(args, "pii", "refuse"), "salt": salt_of(args), "date_order": getattr(args, "date_order", None),
            "value_aliases": getattr(args, "value_aliases", None)}


#: the flag every row of an output computed with --force from data that failed validation carries
FORCED_FLAG = "forced_despite_validation_errors"


def open_dataset(args, tables: Iterable[str], folder: str | None = None):
    """The dataset of ``args.dir`` with the command's options, its ``tables`` validated first.

    Validation runs on the tables the command needs (and the ones they refer to); with errors the
    command stops with the grouped problems, unless ``--force`` was given, which is then stated
    (on stderr now, and in the output through :func:`forced`). Personal data stop it even then.
    ``args.validation`` is set to the report.
    """
    from evaluation.dataset.load import load_dataset
    from evaluation.dataset.validate import require_valid

    ds = load_dataset(folder or args.dir, **load_options(args))
    for w in ds.warnings:
        print(f"note: {w}", file=sys.stderr)
    report = require_valid(ds, tables, force=getattr(args, "force", False))
    args.validation = report
    mapped = {t: m for t, m in ds.value_mappings.items() if m}
    if mapped:
        n = sum(len(m) for m in mapped.values())
        print(f"note: {n:,} spellings of enumerated values mapped to the codes of the data model in "
              f"{', '.join(mapped)} (e.g. {next(iter(mapped.values()))[0]}); `evaluation validate` lists them all",
              file=sys.stderr)
    if report is not None and not report.ok:
        print(f"warning: --force: computing from data with {len(report.errors):,} validation errors; "
              f"the results are not fit to publish, and every row of the output is flagged {FORCED_FLAG}",
              file=sys.stderr)
    return ds


def forced(args, table):
    """``table`` with :data:`FORCED_FLAG` in the ``flags`` of every row when ``--force`` overrode errors.

    A ``flags`` column is added if the table has none; without overridden errors ``table`` itself.
    """
    report = getattr(args, "validation", None)
    if report is None or report.ok:
        return table
    out = table.copy()
    if "flags" not in out.columns:
        out["flags"] = ""
    flags = out["flags"].fillna("").astype("str")
    out["flags"] = flags.where(flags.eq(""), flags + ";").str.cat([FORCED_FLAG] * len(out)) if len(out) else flags
    return out
