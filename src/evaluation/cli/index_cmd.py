"""``evaluation index``: the composite governance index with rank intervals."""

from __future__ import annotations

import sys

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, open_dataset

#: the largest --draws accepted (each base draw is 7 index computations; 100,000 take about 3 minutes)
MAX_DRAWS = 100_000


def register(sub) -> None:
    p = add_command(sub, "index", "composite governance index with rank intervals",
                    "The OECD/JRC composite governance index of the communities of a year, with 5-95 % rank "
                    "intervals and sensitivity indices from a Monte Carlo over the construction choices. "
                    "CSV/Parquet get the tidy table, XLSX a workbook with the scorecard and sensitivity.", run)
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--year", type=int, required=True, help="calendar year")
    p.add_argument("--draws", type=int, default=1000, help=f"Monte Carlo base draws (10 to {MAX_DRAWS:,})")
    add_out_option(p)
    add_data_options(p)


def run(args) -> int:
    # deferred: the index pipeline (pandas, scipy) loads only when this command runs
    from evaluation.assess import check_year, tables_for
    from evaluation.errors import OptionError
    from evaluation.index import governance_index, index_sheets
    from evaluation.io import write_table, write_workbook

    out = check_out(args.out, [args.dir])
    if not 10 <= args.draws <= MAX_DRAWS:
        raise OptionError(f"--draws {args.draws}: use between 10 and {MAX_DRAWS:,} base draws")
    ds = open_dataset(args, tables_for("index"))
    check_year(ds, int(args.year))
    gi = governance_index(ds, int(args.year), draws=args.draws)
    sheets = index_sheets(gi)
    if out.suffix.lower() == ".xlsx":
        write_workbook(sheets, out)
    else:
        write_table(sheets["index"], out)
    print(f"wrote the governance index of {len(gi.matrix.values)} communities ({args.year}, {args.draws} draws) to {out}")
    for note in gi.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
