"""``evaluation survey``: design-based estimates of one survey item."""

from __future__ import annotations

from evaluation.cli.options import add_command, add_data_options, add_out_option, check_out, open_dataset


def register(sub) -> None:
    p = add_command(sub, "survey", "design-based survey estimates",
                    "Design-based mean (or, for a 0/1 item, proportion) of one survey item in one wave, with "
                    "Taylor-linearised 95 % intervals (strata, clusters, weights, finite-population correction).",
                    run)
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--wave", type=int, required=True, help="survey wave (year)")
    p.add_argument("--item", required=True,
                   help="a survey column, satisfaction_index, or an outcome indicator id (out.resident_satisfaction)")
    p.add_argument("--by", default=None, metavar="COL",
                   help="domain column or level (street, community, compound, sex, age_group; default: none)")
    add_out_option(p)
    add_data_options(p, cutoff=False)


def run(args) -> int:
    # deferred: pandas, svy and polars load only when this command runs
    import pandas as pd

    from evaluation.errors import MissingInputError
    from evaluation.io import write_table
    from evaluation.survey import OUTCOME_INDICATORS, district_label, survey_wave
    from evaluation.survey.outcomes import LEVEL_COLUMNS

    out = check_out(args.out, [args.dir])
    ds = open_dataset(args, ["survey", "survey_codebook", "units", "compounds"])
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
    values = set(pd.to_numeric(sd.data[item], errors="coerce").dropna().unique())
    kw = {"by": by, "indicator": indicator, "unit_id": district_label(ds)}
    res = sd.proportion(item, 1, **kw) if values <= {0, 1} else sd.mean(item, **kw)
    write_table(res.table, out)
    print(f"wrote {len(res.table)} estimates of {args.item} (wave {args.wave}) to {out}")
    return 0
