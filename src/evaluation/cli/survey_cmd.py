"""``evaluation survey``: design-based estimates of one survey item."""

from __future__ import annotations

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, forced, open_dataset

#: ``--replicates`` choices (R ``as.svrepdesign(type=)``); Fay uses rho = 0.5, the bootstrap 500 replicates.
REPLICATE_CHOICES = ("JK1", "JKn", "BRR", "Fay", "bootstrap")
FAY_RHO = 0.5
BOOTSTRAP_REPLICATES = 500


def register(sub) -> None:
    p = add_command(sub, "survey", "design-based survey estimates",
                    "Design-based mean (or, for a 0/1 item, proportion) of one survey item in one wave, with "
                    "Taylor-linearised 95 % intervals (strata, clusters, weights, finite-population correction), "
                    "optionally with weights calibrated to the registry and replicate-weight variances.",
                    run)
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--wave", type=int, required=True, help="survey wave (year)")
    p.add_argument("--item", required=True,
                   help="a survey column, satisfaction_index, or an outcome indicator id (out.resident_satisfaction)")
    p.add_argument("--by", default=None, metavar="COL",
                   help="domain column or level (street, community, compound, sex, age_group; default: none)")
    p.add_argument("--calibrate", action="store_true",
                   help="calibrate the weights (linear, GREG) to the registry: adults by street x sex x age group "
                        "(population table) and households by street (compounds table) where household sizes are known")
    p.add_argument("--replicates", default=None, metavar="TYPE", choices=REPLICATE_CHOICES,
                   help="variance from replicate weights instead of linearisation: JK1, JKn (with the first-stage "
                        f"fpc, as R as.svrepdesign), BRR, Fay (rho {FAY_RHO}) or bootstrap ({BOOTSTRAP_REPLICATES} "
                        "replicates, --seed)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the bootstrap replicates (default 1)")
    add_out_option(p)
    add_data_options(p)


def run(args) -> int:
    # deferred: pandas, svy and polars load only when this command runs
    import pandas as pd

    from evaluation.errors import MissingInputError
    from evaluation.io import write_table
    from evaluation.survey import OUTCOME_INDICATORS, as_replicate, calibrate_to_registry, district_label, survey_wave
    from evaluation.survey.outcomes import LEVEL_COLUMNS

    out = check_out(args.out, [args.dir])
    tables = ["survey", "survey_codebook", "units", "compounds"] + (["population"] if args.calibrate else [])
    ds = open_dataset(args, tables)
    if args.calibrate and "population" not in ds:
        raise MissingInputError(f"{args.dir}: --calibrate needs the population table (adults by community, year, sex "
                                "and age group)", table="population")
    sd = survey_wave(ds, args.wave)
    item, indicator = args.item, None
    if item in OUTCOME_INDICATORS:
        indicator, item = item, OUTCOME_INDICATORS[item][1]
        item = "satisfaction_index" if item == "satisfaction" else item
    if item not in sd.data.columns:
        items = [c for c in sd.data.columns if c not in (*sd.design.columns(), "wave", "stratum", "psu")
                 and pd.api.types.is_numeric_dtype(sd.data[c])]
        raise MissingInputError(f"{args.dir}: table survey has no item {args.item!r}; use one of {', '.join(items)} "
                                f"or an indicator id ({', '.join(OUTCOME_INDICATORS)})", table="survey")
    by = LEVEL_COLUMNS.get(args.by, args.by) if args.by is not None else None
    if by is not None and by not in sd.data.columns:
        raise MissingInputError(f"{args.dir}: table survey has no column {args.by} to group by", table="survey")
    done = []
    if args.replicates:
        sd = as_replicate(sd, args.replicates, fay_rho=FAY_RHO if args.replicates == "Fay" else None,
                          replicates=BOOTSTRAP_REPLICATES, seed=args.seed)
        done.append(f"{sd.type} replicate weights ({sd.n_replicates} replicates)")
    if args.calibrate:
        households = "street" if "adults_in_household" in sd.data.columns else None
        cal = calibrate_to_registry(ds, sd, args.wave, households_by=households)
        sd = cal.survey
        done.append(f"weights calibrated to the registry (g from {cal.g.min():.2f} to {cal.g.max():.2f})")
    values = set(pd.to_numeric(sd.data[item], errors="coerce").dropna().unique())
    kw = {"by": by, "indicator": indicator, "unit_id": district_label(ds)}
    res = sd.proportion(item, 1, **kw) if values <= {0, 1} else sd.mean(item, **kw)
    write_table(forced(args, res.table), out)
    print(f"wrote {len(res.table)} estimates of {args.item} (wave {args.wave}"
          + "".join(f"; {d}" for d in done) + f") to {out}")
    return 0
