"""``evaluation validate``: every problem of a dataset at once, grouped, and what the data can assess."""

from __future__ import annotations

from pathlib import Path

from evaluation.cli.options import add_command, add_data_options, check_out

#: at most this many groups of problems are printed (all are written with --out)
PRINT_LIMIT = 200


def register(sub) -> None:
    p = add_command(sub, "validate", "check a dataset folder and report every problem",
                    "Check every table of a dataset folder (or one table file) against the data model and print "
                    "every problem, grouped by table, column and problem with the file rows; then say which "
                    "indicators of the catalogue the data can assess. Exit 1 when there are errors.", run)
    p.add_argument("dir", help="dataset folder (with or without datapackage.json) or a single table file")
    p.add_argument("--table", default=None, help="table name when DIR is a single file (default: from its name)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write every problem, one row per cell, to this .csv, .parquet or .xlsx")
    p.add_argument("--lang", default="en", choices=["en", "zh"],
                   help="language of the list of what the data can assess")
    add_data_options(p)


def run(args) -> int:
    # deferred: the data model (pandas, pyarrow) loads only when this command runs
    from evaluation.assess import assessable_report
    from evaluation.cli.options import load_options
    from evaluation.dataset.load import load_dataset
    from evaluation.dataset.validate import guess_table, validate, validate_table
    from evaluation.errors import MissingInputError
    from evaluation.io import write_table

    target = Path(args.dir)
    if not target.exists():
        raise MissingInputError(f"{target}: no such file or folder")
    out = check_out(args.out, [args.dir]) if args.out else None
    if target.is_dir():
        ds = load_dataset(target, **load_options(args))
        report = validate(ds)
    else:
        ds = None
        report = validate_table(target, args.table or guess_table(target), timezone=args.timezone or "Asia/Shanghai",
                                cutoff=args.cutoff, date_order=args.date_order)
    if out is not None:
        write_table(report.problems, out)
    if ds is not None:
        print(_read_heading(ds))
        for line in report.reading:
            print("  " + line.replace("\n", "\n  "))
        print()
    print(report.text(limit=PRINT_LIMIT))
    if ds is not None:
        print()
        print(assessable_report(ds, report, lang=args.lang))
    return 0 if report.ok else 1


def _read_heading(ds) -> str:
    """What was read, with the cut-off and time zone in force and where they come from."""
    if ds.cutoff is None:
        cut = "no cut-off (give --cutoff or declare it with evaluation init)"
    else:
        cut = f"cut-off {ds.cutoff.strftime('%Y-%m-%d %H:%M %z')}, {ds.cutoff_source}"
    return f"Read {ds.path}: {cut}; time zone {ds.timezone}"
