"""``evaluation indicators``: every indicator of a year at one level, in one table."""

from __future__ import annotations

import sys

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, forced, open_dataset


def register(sub) -> None:
    p = add_command(sub, "indicators", "registry, service and survey indicators of a year",
                    "Every indicator of the catalogue that the dataset can give, for one year at one level: "
                    "CSV/Parquet get the tidy table, XLSX one sheet per pillar with bilingual headers.", run)
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--year", type=int, required=True, help="calendar year (stocks as of 31 December)")
    p.add_argument("--level", default="district", choices=["district", "street", "community", "compound"],
                   help="unit level of the rows")
    add_out_option(p)
    add_data_options(p)


def run(args) -> int:
    # deferred: the domain subpackages (pandas, statsmodels) load only when this command runs
    from evaluation.assess import check_year, tables_for
    from evaluation.indicators import collect_indicators, write_indicators

    out = check_out(args.out, [args.dir])
    ds = open_dataset(args, tables_for("indicators"))
    check_year(ds, int(args.year))
    result = collect_indicators(ds, int(args.year), args.level)
    write_indicators(forced(args, result.table), out)
    n_ind = result.table["indicator"].nunique()
    print(f"wrote {len(result.table)} rows ({n_ind} indicators, level {args.level}, {args.year}) to {out}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
