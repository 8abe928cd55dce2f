"""``evaluation impact``: staggered difference-in-differences of red property."""

from __future__ import annotations

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, open_dataset


def register(sub) -> None:
    p = add_command(sub, "impact", "staggered difference-in-differences of red property",
                    "The effect of red-property adoption on a request outcome (compound x period panel) or a "
                    "survey item (repeated cross-sections): Callaway-Sant'Anna ATT with event study, pre-trend "
                    "tests and the naive two-way fixed effects beside it.", run)
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--outcome", required=True,
                   help="requests, resolution_rate, mean_resolution_hours, median_resolution_hours, "
                        "satisfaction_rate, or a survey item (e.g. sat_overall)")
    p.add_argument("--period", default="quarter", choices=["month", "quarter"], help="period of the request panel")
    p.add_argument("--control-group", default="nevertreated", choices=["nevertreated", "notyettreated"],
                   help="comparison units")
    p.add_argument("--est-method", default="reg", choices=["reg", "dr", "ipw"],
                   help="outcome regression, doubly robust or inverse probability weighting")
    p.add_argument("--covariates", nargs="*", default=[], metavar="COL",
                   help="time-invariant compound covariates (columns of compounds) for conditional parallel trends")
    p.add_argument("--cluster", default=None, metavar="COL",
                   help="cluster variable coarser than the compound, e.g. community_id (default: the compound)")
    add_out_option(p)
    add_data_options(p)


def run(args) -> int:
    # deferred: moderndid and the panels load only when this command runs
    from evaluation.assess import tables_for
    from evaluation.impact import red_property_impact
    from evaluation.io import write_table

    out = check_out(args.out, [args.dir])
    ds = open_dataset(args, tables_for("impact"))
    res = red_property_impact(ds, args.outcome, period=args.period, control_group=args.control_group,
                              est_method=args.est_method, covariates=args.covariates or None, cluster=args.cluster)
    write_table(res.table, out)
    print(res.summary())
    return 0
