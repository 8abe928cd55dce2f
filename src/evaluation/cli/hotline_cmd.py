"""``evaluation hotline``: rankings, on-time shares, repeats, hot spots, targeted problems, the cycle, dispatch."""

from __future__ import annotations

import sys

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, forced, open_dataset

#: what ``--analysis`` computes (each a function of evaluation.hotline)
ANALYSES = ("rankings", "on-time", "response", "repeats", "hotspots", "targeted", "cycle", "dispatch")


def register(sub) -> None:
    p = add_command(sub, "hotline", "hotline analytics: fair rankings, deadlines, repeats, hot spots, targeted problems",
                    "Hotline analytics of a dataset's request log, beyond the three rates: rankings of streets or "
                    "communities with rank intervals, raw and standardised for the mix of categories and channels "
                    "(rankings); the share resolved within each request's own deadline (on-time) or responded to "
                    "within the response deadline (response), by Kaplan-Meier on working time with censoring; repeat "
                    "requests by pseudonymous caller or building (repeats); compounds or buildings with more requests "
                    "than expected, with the false-discovery rate controlled (hotspots); a targeted category against "
                    "its seasonal baseline (targeted, needs --category); the smart-community cycle (cycle); send-backs, "
                    "reassignments and whistle-to-report times from the events table (dispatch). The output is the "
                    "tidy indicator table with the analysis's own columns.", run)
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--analysis", required=True, choices=ANALYSES, help="what to compute")
    p.add_argument("--year", type=int, default=None,
                   help="only this year (rankings, on-time, response, repeats, cycle, dispatch: rows of its periods; "
                        "hotspots: requests of the year; targeted: the target year)")
    p.add_argument("--level", default="street", choices=["district", "street", "community"],
                   help="the units (rankings: street or community)")
    p.add_argument("--period", default=None, choices=["month", "quarter", "year"],
                   help="period of creation (default: month for rankings, year otherwise)")
    p.add_argument("--draws", type=int, default=1000, help="posterior draws behind the rank intervals (rankings)")
    p.add_argument("--seed", type=int, default=2020, help="seed of the draws (rankings)")
    p.add_argument("--deadlines", default=None, metavar="FILE",
                   help="deadline table (YAML or JSON: response, resolution by affair class, resolution_by_category); "
                        "default: the catalogue's")
    p.add_argument("--repeat-match", default="caller", choices=["caller", "building"],
                   help="repeats: the same caller (caller_key), or the same building and category")
    p.add_argument("--repeat-days", type=float, default=7.0, help="repeats: the window in days")
    p.add_argument("--place", default="compound", choices=["compound", "building"], help="hotspots: the places")
    p.add_argument("--by-category", action="store_true", help="hotspots: place x category cells")
    p.add_argument("--family", default="negbin", choices=["negbin", "poisson"], help="hotspots: the count model")
    p.add_argument("--fdr", type=float, default=0.05, help="false-discovery rate (hotspots, targeted)")
    p.add_argument("--category", default=None, help="targeted: the targeted category")
    p.add_argument("--campaign", default=None, metavar="DATE", help="targeted: the day the campaign began")
    add_out_option(p)
    add_data_options(p)


def run(args) -> int:
    # deferred: the analyses (pandas, statsmodels) load only when this command runs
    from evaluation import hotline
    from evaluation.assess import check_year
    from evaluation.errors import OptionError
    from evaluation.io import write_table

    out = check_out(args.out, [args.dir])
    if args.analysis == "targeted" and not args.category:
        raise OptionError("--analysis targeted needs --category (and usually --campaign DATE)")
    if args.analysis == "rankings" and args.level == "district":
        raise OptionError("--analysis rankings ranks streets or communities: --level street or community")
    tables = ["units", "compounds", "requests"] + (["buildings"] if args.place == "building" else [])
    ds = open_dataset(args, tables + (["events"] if args.analysis == "dispatch" else []))
    if args.year is not None:
        check_year(ds, int(args.year))
    level = None if args.level == "district" else args.level
    period = args.period or ("month" if args.analysis == "rankings" else "year")
    a = args.analysis
    if a == "rankings":
        res = hotline.monthly_rankings(ds, args.level, period, draws=args.draws, seed=args.seed)
    elif a in ("on-time", "response"):
        table = hotline.DeadlineTable.read(args.deadlines) if args.deadlines else None
        res = hotline.on_time(ds, level, period, deadlines=table, what="resolution" if a == "on-time" else "response")
    elif a == "repeats":
        rule = (hotline.RepeatRule(window_days=args.repeat_days) if args.repeat_match == "caller"
                else hotline.RepeatRule.building_category(args.repeat_days))
        res = hotline.repeat_rates(ds, level, period, rule=rule)
    elif a == "hotspots":
        res = hotline.hot_spots(ds, place=args.place, period=None if args.year is None else str(args.year),
                                by="category" if args.by_category else None, family=args.family, fdr=args.fdr)
    elif a == "targeted":
        res = hotline.targeted_problem(ds, args.category, args.campaign, year=args.year, fdr=args.fdr)
    elif a == "cycle":
        res = hotline.cycle_indicators(ds, level, period)
    else:
        res = hotline.dispatch_measures(ds, level=level, period=period)
    table = res.table
    if args.year is not None and a not in ("hotspots", "targeted"):
        table = table[table["period"].astype("str").str.startswith(str(args.year))]
    write_table(forced(args, table), out)
    print(f"wrote {len(table):,} rows of {a} to {out}")
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    if a == "targeted" and res.effect is not None and len(res.effect):
        for r in res.effect.itertuples(index=False):
            print(f"{r.effect}: ratio {r.ratio:.3f} (95 % {r.ci_low:.3f}-{r.ci_high:.3f}), {r.months} months")
    return 0
