"""``evaluation init``: write a ``datapackage.json`` for a folder of table files."""

from __future__ import annotations

from evaluation.cli.options import add_command


def register(sub) -> None:
    p = add_command(sub, "init", "write a datapackage.json for a folder of table files",
                    "Describe the table files of a folder (units.csv, 居民诉求.xlsx, ...) in a Frictionless "
                    "datapackage.json with the data cut-off and time zone, so that every command reads them.", run)
    p.add_argument("dir", help="folder of table files")
    p.add_argument("--cutoff", required=True, metavar="ISO",
                   help="data cut-off (extraction time), ISO 8601, e.g. 2021-12-31T23:59:59+08:00")
    p.add_argument("--timezone", default="Asia/Shanghai", metavar="ZONE", help="IANA time zone of naive stamps")
    p.add_argument("--name", default=None, help="package name (default: the folder's name)")
    p.add_argument("--force", action="store_true", help="replace an existing datapackage.json")


def run(args) -> int:
    # deferred: the data model loads only when this command runs
    import sys

    from evaluation.dataset.describe import init_package
    from evaluation.dataset.load import scan_folder

    path, tables = init_package(args.dir, cutoff=args.cutoff, timezone=args.timezone, name=args.name,
                                replace=args.force)
    print(f"wrote {path} describing {len(tables)} tables: {', '.join(tables)}")
    for w in scan_folder(args.dir).warnings:
        print(f"note: {w}", file=sys.stderr)
    print(f"next: evaluation validate {args.dir}")
    return 0
