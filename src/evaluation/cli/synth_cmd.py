"""``evaluation synth``: write the synthetic Zhangwan district."""

from __future__ import annotations

from evaluation.cli.options import add_command


def register(sub) -> None:
    p = add_command(sub, "synth", "generate the synthetic district",
                    "Write the synthetic Zhangwan district (every table, datapackage.json, truth.json) to a folder.",
                    run)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the bundled district's, 20201225)")
    p.add_argument("--years", default="2019-2021", help="first-last year, e.g. 2019-2021")
    p.add_argument("--requests-per-year", type=int, default=None, metavar="N",
                   help="about this many requests a year (default: 60,000)")


def run(args) -> int:
    # deferred: the generator (pandas, numpy) loads only when this command runs, so --help is instant
    from evaluation.errors import OptionError
    from evaluation.synth import DEFAULT_REQUESTS_PER_YEAR, DEFAULT_SEED, generate_district, write_district

    try:
        a, _, b = args.years.partition("-")
        years = list(range(int(a), int(b or a) + 1))
    except ValueError:
        raise OptionError(f"--years {args.years!r}: expected FIRST-LAST, e.g. 2019-2021") from None
    seed = DEFAULT_SEED if args.seed is None else args.seed
    per_year = DEFAULT_REQUESTS_PER_YEAR if args.requests_per_year is None else args.requests_per_year
    if per_year < 100:
        raise OptionError(f"--requests-per-year {per_year}: at least 100 are needed")
    tables, truth, meta = generate_district(seed, years, per_year)
    out = write_district(args.out, tables, truth, meta)
    n = sum(len(t) for t in tables.values())
    print(f"wrote {len(tables)} tables ({n:,} rows) to {out}")
    return 0
