"""``evaluation index``: the composite governance index with rank intervals."""

from __future__ import annotations

import sys

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, forced, open_dataset

#: the largest --draws accepted (each base draw is 7 index computations, 9 with data error)
MAX_DRAWS = 100_000
#: memory of the Monte Carlo, measured (``/usr/bin/time -f %M``, 2,000 and 20,000 draws): about 1.6 KB per
#: base draw and unit ranked (34 communities: 53 KB a draw; 5: 9.5 KB), on top of the loaded data; kept
#: with a margin, so that a run that cannot fit is refused before it starts rather than killed
BYTES_PER_DRAW_AND_UNIT = 2_500
BYTES_PER_DRAW = 8_000
#: memory of the command before the Monte Carlo (interpreter, data, index matrix), measured at 430-590 MB
BASE_BYTES = 700 * 2**20
#: share of the available memory a run may plan to use
MEMORY_SHARE = 0.8


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


def ranked_units(ds) -> int:
    """Units the index ranks: the communities and villages of the dataset (at least 1)."""
    units = ds["units"]
    return max(int(units["unit_type"].isin(["community", "village"]).sum()), 1)


def available_memory() -> int | None:
    """Bytes of memory available to a new computation (Linux ``MemAvailable``), ``None`` where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(draws: int, units: int, available: int | None = None) -> None:
    """Refuse ``--draws`` that the Monte Carlo cannot hold in memory, before it starts."""
    from evaluation.errors import OptionError

    need = BASE_BYTES + draws * (BYTES_PER_DRAW + BYTES_PER_DRAW_AND_UNIT * units)
    have = available_memory() if available is None else available
    if have is None or need <= MEMORY_SHARE * have:
        return
    most = int((MEMORY_SHARE * have - BASE_BYTES) // (BYTES_PER_DRAW + BYTES_PER_DRAW_AND_UNIT * units))
    hint = f"use --draws {most:,} or fewer" if most >= 10 else "free memory or run it on a larger machine"
    raise OptionError(f"--draws {draws:,} would need about {need / 2**30:.1f} GB of memory for {units:,} units ranked, "
                      f"and {have / 2**30:.1f} GB are available; {hint}")


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
        raise OptionError(f"--draws {args.draws:,}: use between 10 and {MAX_DRAWS:,} base draws")
    if (args.weighting == "ahp") != (args.ahp is not None):
        raise OptionError("--weighting ahp and --ahp FILE go together")
    pairwise = _pairwise(args.ahp) if args.ahp else None
    spec = IndexSpec(weighting=args.weighting)
    ds = open_dataset(args, tables_for("index"))
    check_memory(args.draws, ranked_units(ds) * (len(args.years) if args.years else 1))
    if args.years:
        for y in args.years:
            check_year(ds, int(y))
        if args.weighting == "ahp":
            raise OptionError("--years takes equal, pca or entropy weights")
        my = governance_index_years(ds, args.years, draws=args.draws, nominal=spec, data_error=not args.no_data_error)
        write_table(forced(args, my.table), out)
        print(f"wrote the governance index of {len(my.years)} years to {out}")
        return 0
    check_year(ds, int(args.year))
    gi = governance_index(ds, int(args.year), draws=args.draws, nominal=spec, data_error=not args.no_data_error,
                          pairwise=pairwise)
    sheets = {name: forced(args, frame) for name, frame in index_sheets(gi).items()}
    if out.suffix.lower() == ".xlsx":
        write_workbook(sheets, out)
    else:
        write_table(sheets["index"], out)
    print(f"wrote the governance index of {len(gi.matrix.values)} communities ({args.year}, {args.draws} draws) to {out}")
    for note in gi.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
