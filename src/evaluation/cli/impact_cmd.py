"""``evaluation impact``: staggered difference-in-differences of red property, or of any panel file."""

from __future__ import annotations

import sys

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, forced, open_dataset


def register(sub) -> None:
    p = add_command(sub, "impact", "staggered difference-in-differences of red property or of a panel file",
                    "The effect of red-property adoption on a request outcome (compound x period panel) or a "
                    "survey item (repeated cross-sections) of a dataset folder, or of a policy in any long panel "
                    "file (--panel, with its unit, time, first-treated and outcome columns named): Callaway-Sant'Anna "
                    "ATT (R did's defaults: doubly robust, never-treated controls) with event study, pre-trend "
                    "tests and the naive two-way fixed effects beside it.", run)
    p.add_argument("dir", nargs="?", default=None, help="dataset folder (or give --panel)")
    p.add_argument("--outcome", required=True,
                   help="requests, resolution_rate, mean_resolution_hours, median_resolution_hours, "
                        "satisfaction_rate, a survey item (e.g. sat_overall), or the outcome column of --panel")
    g = p.add_argument_group("a panel file instead of a dataset")
    g.add_argument("--panel", default=None, metavar="FILE", help="long panel (CSV, XLSX or Parquet): one row per "
                   "unit and period")
    g.add_argument("--unit", default=None, metavar="COL", help="unit id column of --panel")
    g.add_argument("--time", default=None, metavar="COL", help="period column of --panel (integers, e.g. years)")
    g.add_argument("--first-treated", default=None, metavar="COL",
                   help="column of --panel with each unit's first treated period (0 or empty: never treated)")
    e = p.add_argument_group("estimator (R att_gt's arguments and defaults)")
    e.add_argument("--est-method", default="dr", choices=["dr", "reg", "ipw"],
                   help="doubly robust, outcome regression or inverse probability weighting")
    e.add_argument("--control-group", default="nevertreated", choices=["nevertreated", "notyettreated"],
                   help="comparison units")
    e.add_argument("--covariates", nargs="*", default=[], metavar="COL",
                   help="time-invariant covariates for conditional parallel trends: columns of compounds (dataset) "
                        "or of --panel")
    e.add_argument("--cluster", default=None, metavar="COL",
                   help="cluster variable coarser than the unit, e.g. community_id (default: the unit)")
    e.add_argument("--anticipation", type=int, default=0, help="periods before adoption the outcome may react")
    e.add_argument("--base-period", default="varying", choices=["varying", "universal"],
                   help="base period of the pre-adoption estimates")
    p.add_argument("--period", default="quarter", choices=["month", "quarter"], help="period of the request panel")
    p.add_argument("--robustness", default=None, metavar="FILE",
                   help="also write the robustness panel (pre-trend power, Sun-Abraham, imputation, Goodman-Bacon, "
                        "dCDH, honest DiD, leave one street out) to FILE")
    add_out_option(p)
    add_data_options(p)


def _numeric(panel, col: str, source: str):
    """Column ``col`` of a panel read as text, as numbers; the first unreadable cell is an error."""
    import pandas as pd

    from evaluation.errors import DataError

    text = panel[col].astype("string").str.strip()
    num = pd.to_numeric(text.mask(text.eq("")), errors="coerce")
    bad = num.isna() & text.notna() & text.ne("")
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        rows = panel.attrs.get("row_numbers")
        raise DataError("not a number", file=source, row=rows[i] if rows is not None else i + 2, column=col,
                        value=panel[col].iloc[i])
    return num.astype("float64")


def _read_panel(args):
    """The --panel file with the named columns as numbers (first treated: 0 when empty)."""
    from evaluation.cli.options import salt_of
    from evaluation.dataset.read import read_table
    from evaluation.errors import MissingInputError, OptionError

    need = {"--unit": args.unit, "--time": args.time, "--first-treated": args.first_treated}
    absent = [k for k, v in need.items() if not v]
    if absent:
        raise OptionError(f"--panel needs {', '.join(absent)} (the columns of the file)")
    panel = read_table(args.panel, pii=args.pii, salt=salt_of(args))
    cols = [args.unit, args.time, args.first_treated, args.outcome, *args.covariates,
            *([args.cluster] if args.cluster else [])]
    missing = [c for c in dict.fromkeys(cols) if c not in panel.columns]
    if missing:
        raise MissingInputError(f"{args.panel}: no column {', '.join(missing)}; it has {', '.join(map(str, panel.columns))}")
    out = panel[list(dict.fromkeys(cols))].copy()
    for c in dict.fromkeys([args.time, args.first_treated, args.outcome, *args.covariates]):
        out[c] = _numeric(panel, c, args.panel)
    out[args.first_treated] = out[args.first_treated].fillna(0).astype("int64")
    if out[args.time].isna().any():
        raise MissingInputError(f"{args.panel}: column {args.time} has empty cells")
    out[args.time] = out[args.time].astype("int64")
    return out


def run(args) -> int:
    # deferred: moderndid and the panels load only when this command runs
    from evaluation.errors import OptionError
    from evaluation.impact import DidOptions, red_property_robustness, robustness_panel, staggered_did
    from evaluation.io import write_table

    if (args.dir is None) == (args.panel is None):
        raise OptionError("give a dataset folder or --panel FILE (one of them)")
    inputs = [x for x in (args.dir, args.panel) if x]
    out = check_out(args.out, inputs)
    rob_out = check_out(args.robustness, inputs) if args.robustness else None
    options = DidOptions(est_method=args.est_method, control_group=args.control_group,
                         covariates=tuple(args.covariates), cluster=args.cluster, anticipation=args.anticipation,
                         base_period=args.base_period)
    if args.panel:
        res = staggered_did(_read_panel(args), args.outcome, unit=args.unit, time=args.time,
                            first_treated=args.first_treated, options=options)
        rob = robustness_panel(res, street="") if rob_out else None
    else:
        from evaluation.assess import tables_for
        from evaluation.impact import red_property_impact

        ds = open_dataset(args, tables_for("impact"))
        res = red_property_impact(ds, args.outcome, options=options, period=args.period)
        rob = red_property_robustness(ds, args.outcome, result=res) if rob_out else None
    write_table(forced(args, res.table), out)
    if rob is not None:
        write_table(forced(args, rob.table), rob_out)
        print(f"wrote the robustness panel ({len(rob.table)} checks) to {rob_out}", file=sys.stderr)
    print(res.summary())
    return 0
