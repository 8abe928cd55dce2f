"""``evaluation index``: the composite governance index with rank intervals."""

from __future__ import annotations

import sys

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, open_dataset

#: the largest --draws accepted (each base draw is 7 index computations, 9 with data error)
MAX_DRAWS = 100_000


def register(sub) -> None:
    p = add_command(sub, "index", "composite governance index with rank intervals",
                    "The OECD/JRC composite governance index of the communities of a year (or of several years, "
                    "with rank changes), with 5-95 % rank intervals and sensitivity indices from a Monte Carlo over the "
                    "construction choices and the sampling error of the survey and request indicators. CSV/Parquet "
                    "get the tidy table, XLSX a workbook with the scorecard and sensitivity.", run)
    p.add_argument("dir", help="dataset folder")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--year", type=int, help="calendar year")
    when.add_argument("--years", type=int, nargs="+", metavar="YEAR",
                      help="two or more years: one index on their pooled scale, with rank changes")
    p.add_argument("--draws", type=int, default=1000, help=f"Monte Carlo base draws (10 to {MAX_DRAWS:,})")
    p.add_argument("--weighting", default="equal", choices=["equal", "pca", "entropy", "ahp"],
                   help="nominal weights (ahp needs --ahp)")
    p.add_argument("--ahp", default=None, metavar="FILE",
                   help="AHP pairwise-comparison matrix of the pillars (CSV, first column the pillar names)")
    p.add_argument("--no-data-error", action="store_true",
                   help="leave the sampling error of the indicators out of the rank intervals")
    add_out_option(p)
    add_data_options(p)


def _pairwise(path: str):
    import pandas as pd

    from evaluation.dataset.read import read_table
    from evaluation.errors import DataError

    raw = read_table(path)
    m = raw.set_index(raw.columns[0])
    try:
        return m.apply(lambda c: pd.to_numeric(c, errors="raise")).astype(float)
    except (ValueError, TypeError) as exc:
        raise DataError(f"the AHP matrix must hold numbers ({exc})", file=path) from None


def run(args) -> int:
    # deferred: the index pipeline (pandas, scipy) loads only when this command runs
    from evaluation.assess import check_year, tables_for
    from evaluation.errors import OptionError
    from evaluation.index import IndexSpec, governance_index, governance_index_years, index_sheets
    from evaluation.io import write_table, write_workbook

    out = check_out(args.out, [args.dir])
    if not 10 <= args.draws <= MAX_DRAWS:
        raise OptionError(f"--draws {args.draws}: use between 10 and {MAX_DRAWS:,} base draws")
    if (args.weighting == "ahp") != (args.ahp is not None):
        raise OptionError("--weighting ahp and --ahp FILE go together")
    pairwise = _pairwise(args.ahp) if args.ahp else None
    spec = IndexSpec(weighting=args.weighting)
    ds = open_dataset(args, tables_for("index"))
    if args.years:
        for y in args.years:
            check_year(ds, int(y))
        if args.weighting == "ahp":
            raise OptionError("--years takes equal, pca or entropy weights")
        my = governance_index_years(ds, args.years, draws=args.draws, nominal=spec, data_error=not args.no_data_error)
        write_table(my.table, out)
        print(f"wrote the governance index of {len(my.years)} years to {out}")
        return 0
    check_year(ds, int(args.year))
    gi = governance_index(ds, int(args.year), draws=args.draws, nominal=spec, data_error=not args.no_data_error,
                          pairwise=pairwise)
    sheets = index_sheets(gi)
    if out.suffix.lower() == ".xlsx":
        write_workbook(sheets, out)
    else:
        write_table(sheets["index"], out)
    print(f"wrote the governance index of {len(gi.matrix.values)} communities ({args.year}, {args.draws} draws) to {out}")
    for note in gi.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
