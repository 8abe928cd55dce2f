"""The synthetic Zhangwan district: ``evaluation synth``.

:func:`generate_district` builds every table of the data model for a district whose 2020
aggregates reproduce the figures published in the 2020 article (``published_figures.csv``), whose
rules are met imperfectly and unevenly, and whose policy effects are planted and recorded in
``truth.json`` together with their realised average effect on the treated. Same seed, same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.dataset import schema
from evaluation.errors import OptionError
from evaluation.io import atomic_path, write_table
from evaluation.synth import registry as reg
from evaluation.synth import requests as rq
from evaluation.synth import survey as sv

DEFAULT_SEED = 20201225
DEFAULT_YEARS = (2019, 2020, 2021)
DEFAULT_REQUESTS_PER_YEAR = 60000
TIMEZONE = schema.DEFAULT_TZ

#: child seeds, one per component, so that changing one part leaves the others unchanged
COMPONENTS = ("units", "milestones", "buildings", "orgs", "members", "roster", "meetings", "staffing",
              "postings", "volunteers", "facilities", "requests", "survey")


def _cast(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Order and type columns as the schema says (strings stay strings, dates naive)."""
    ts = schema.table_schema(table)
    cols = [c for c in ts.columns if c in df.columns]
    extra = [c for c in df.columns if c not in ts.columns] if ts.open_columns else []
    out = df[cols + extra].copy()
    for f in ts.fields:
        if f.name not in out.columns:
            continue
        s = out[f.name]
        if f.type == "string":
            out[f.name] = s.astype("str").where(s.notna(), None)
        elif f.type == "integer":
            out[f.name] = pd.array(s, dtype="Int64")
        elif f.type == "number":
            out[f.name] = s.astype("float64")
        elif f.type == "boolean":
            out[f.name] = pd.array(s, dtype="boolean")
        elif f.type == "date":
            out[f.name] = pd.to_datetime(s).astype("datetime64[ns]")
    return out.reset_index(drop=True)


def generate_district(seed: int = DEFAULT_SEED, years=DEFAULT_YEARS,
                      requests_per_year: int = DEFAULT_REQUESTS_PER_YEAR) -> tuple[dict[str, pd.DataFrame], dict, dict]:
    """Generate the district in memory.

    Returns
    -------
    tables
        Table name -> DataFrame, typed as the schema says.
    truth
        The planted parameters and realised effects (written as ``truth.json``).
    meta
        Extra datapackage properties (``cutoff``, ``timezone``, ``seed``).
    """
    years = sorted(int(y) for y in years)
    if not years or years[0] < 2015 or years[-1] > 2030:
        raise OptionError(f"years {years} outside the supported range 2015-2030")
    if 2020 not in years:
        raise OptionError("the synthetic district is calibrated to 2020: the years must include 2020")
    children = np.random.SeedSequence(seed).spawn(len(COMPONENTS))
    rngs = {name: np.random.Generator(np.random.PCG64(s)) for name, s in zip(COMPONENTS, children)}
    fig = reg.Figures.load()
    cutoff = pd.Timestamp(f"{years[-1] + 1}-01-04T09:00:00", tz=TIMEZONE)

    u = reg.make_units_and_compounds(rngs["units"], fig)
    comm, compounds, buildings = u["communities"], u["compounds"], u["buildings"]
    comm = comm.merge(compounds.groupby("community_id")["households"].sum().rename("households"),
                      left_on="unit_id", right_index=True)
    comm["population"] = (comm["households"] * rngs["units"].uniform(2.6, 3.0, len(comm))).round().astype(int)
    comm["unit_type"] = "community"
    villages = u["villages"]
    streets = pd.DataFrame([{"unit_id": s, "unit_type": "street", "parent_id": "ZW", "name_zh": zh, "name_en": en}
                            for s, zh, en, _ in reg.places.STREETS])
    st_tot = comm.groupby("parent_id")[["households", "population"]].sum()
    streets = streets.join(st_tot, on="unit_id")
    towns = u["townships"].join(villages.groupby("parent_id")[["households", "population"]].sum(), on="unit_id")
    district = pd.DataFrame([{"unit_id": "ZW", "unit_type": "district", "parent_id": None, "name_zh": reg.places.DISTRICT[1],
                              "name_en": reg.places.DISTRICT[2],
                              "households": int(streets["households"].sum() + towns["households"].sum()),
                              "population": int(streets["population"].sum() + towns["population"].sum())}])
    units = pd.concat([district, streets, comm, towns, villages], ignore_index=True)

    milestones, facts = reg.make_milestones(rngs["milestones"], fig, compounds)
    buildings = reg.finish_buildings(rngs["buildings"], fig, buildings, compounds, facts["branch_date"])
    orgs = reg.make_party_orgs(rngs["orgs"], fig, {"communities": comm, "townships": u["townships"], "villages": villages},
                               compounds, buildings, facts)
    members = reg.make_members(rngs["members"], fig, compounds, orgs)
    roster, duty_truth = reg.make_duty_roster(rngs["roster"], years, comm, members)
    meetings = reg.make_meetings(rngs["meetings"], years, comm, compounds, orgs, milestones)
    staffing = reg.make_staffing(rngs["staffing"], fig, years, comm)
    postings = reg.make_postings(rngs["postings"], fig, comm, villages)
    volunteers, hours = reg.make_volunteers(rngs["volunteers"], fig, years, comm, villages)
    facilities = reg.make_facilities(rngs["facilities"], fig, comm, villages, compounds, facts)
    funding = reg.make_funding(fig, years, comm, villages)
    requests, potential = rq.make_requests(rngs["requests"], years, requests_per_year, compounds,
                                           facts["red_date"], cutoff, TIMEZONE)
    survey, codebook, population, survey_truth = sv.make_survey(
        rngs["survey"], years, compounds, facts["red_date"], {"district": "ZW"})

    tables = {
        "units": units, "compounds": compounds, "compound_milestones": milestones, "buildings": buildings,
        "party_orgs": orgs, "party_members": members, "duty_roster": roster, "meetings": meetings,
        "staffing": staffing, "postings": postings, "volunteers": volunteers, "volunteer_hours": hours,
        "facilities": facilities, "funding": funding, "requests": requests, "population": population,
        "survey": survey, "survey_codebook": codebook,
    }
    tables = {k: _cast(v, k) for k, v in tables.items()}

    red = ~np.isnat(facts["red_date"])
    truth = {
        "description": "Planted parameters and realised effects of the synthetic Zhangwan district. "
                       "Microdata are synthetic; only the 2020 aggregates are taken from the published article.",
        "seed": seed,
        "years": years,
        "cutoff": cutoff.isoformat(),
        "red_property": {
            "description": "Red-property adoption (compound_milestones.red_property) shortens resolution times and "
                           "raises satisfaction in the adopting compound from the adoption month on; the effect on "
                           "resolution time builds up over the first three months.",
            "resolution_time_factor_by_street": rq.RED_FACTOR_BY_STREET,
            "resolution_time_ramp_months_0_1_2": list(rq.RED_RAMP),
            "rating_latent_shift_logit": rq.RED_RATING_SHIFT,
            "survey_latent_shift": sv.RED_SURVEY_SHIFT,
            "adopters_by_period": {f"{a}..{b}": k for a, b, k in reg.RED_ADOPTION},
            "never_adopted_compounds": int((~red).sum()),
            "selection_into_adoption": "adoption propensity is higher for commercial and work-unit compounds and in "
                                       "Hanjianglu and Chechenglu streets; unmanaged compounds never adopt",
            "anticipation_months": 0,
            "realised_att": {
                "compound_month": rq.realised_att(potential, "M", f"{years[0]}-01-01"),
                "compound_quarter": rq.realised_att(potential, "Q", f"{years[0]}-01-01"),
                "compound_month_including_adopters_before_first_year": rq.realised_att(potential, "M"),
                "survey_sat_overall_compound_wave": survey_truth.pop("realised_att_sat_overall_compound_wave"),
            },
        },
        "requests": {
            "median_untreated_hours_by_category": {k: v[1] for k, v in rq.CATEGORIES.items()},
            "street_speed_multiplier": rq.STREET_SPEED,
            "log_hours_sd": rq.SIGMA_LOG_HOURS,
            "never_resolved_share": rq.NEVER_RESOLVED,
            "not_reached_share": rq.NOT_REACHED,
            "epidemic_additive_hours": {"from": rq.EPIDEMIC[0], "to": rq.EPIDEMIC[1], "hours": rq.EPIDEMIC[2]},
        },
        "rules": {
            "weekday_duty_probability_by_street_and_year": {s: dict(zip(map(str, years), v)) for s, v in reg.DUTY_BY_STREET.items()},
            "weekday_duty_realised_share_by_community": {k: round(v, 6) for k, v in sorted(duty_truth.items())},
            "meeting_compliance_by_street": reg.MEETING_COMPLIANCE,
            "six_haves_probability_by_street_2020": reg.SIX_HAVES_BY_STREET,
        },
        "survey": {
            "design": f"strata = streets; {sv.PSUS_PER_STRATUM} compounds per street by SRS; "
                      f"{sv.HOUSEHOLDS_PER_PSU} households per compound by SRS; one adult per household",
            "fieldwork_month_day": sv.FIELDWORK,
            **survey_truth,
        },
    }
    meta = {"cutoff": cutoff.isoformat(), "timezone": TIMEZONE, "seed": seed, "synthetic": True}
    return tables, truth, meta


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_district(out: str | Path, tables: dict[str, pd.DataFrame], truth: dict, meta: dict) -> Path:
    """Write tables (CSV, or Parquet for large ones), ``datapackage.json``, ``truth.json``, README."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resources = {}
    for name, df in tables.items():
        ext = "parquet" if schema.table_schema(name).large else "csv"
        path = out / f"{name}.{ext}"
        write_table(df, path)
        resources[name] = path.name
    pkg = schema.datapackage(
        resources, name="zhangwan-synthetic",
        title="Synthetic Zhangwan District (张湾区, 合成数据)",
        description="A synthetic district whose 2020 aggregates reproduce the figures published about Zhangwan "
                    "District, Shiyan (Party Member Life net, 25 December 2020). The microdata are invented.",
        extra={**meta, "licenses": [{"name": "CC0-1.0", "title": "CC0 1.0"}],
               "generator": "evaluation synth"},
    )
    for res in pkg["resources"]:
        res["hash"] = "sha256:" + _sha256(out / res["path"])
    _write_text(out / "datapackage.json", json.dumps(pkg, ensure_ascii=False, indent=2, default=str) + "\n")
    _write_text(out / "truth.json", json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default) + "\n")
    _write_text(out / "README.md", _readme(meta, tables))
    return out


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _readme(meta: dict, tables: dict[str, pd.DataFrame]) -> str:
    rows = "\n".join(f"| `{k}` | {schema.table_schema(k).title_zh} | {len(v):,} |" for k, v in tables.items())
    return f"""# Synthetic Zhangwan District (合成数据)

**The microdata in this folder are synthetic.** They were generated by `evaluation synth --seed {meta['seed']}`.
Only the aggregates are taken from the published article (Party Member Life net, 25 December 2020;
`published_figures.csv`): every 2020 figure with a microdata counterpart is reproduced exactly by
aggregation (see notebook 01's reconciliation table). Names of the streets, of the communities and compounds
the article names, and of the townships are real; every other community, compound and village is invented
and its English name says "(synthetic)". No person in these tables exists; identifiers are pseudonymous.

Data cut-off (extraction time): {meta['cutoff']} ({meta['timezone']}). Requests still open then are
right-censored.

| table | 表 | rows |
|---|---|---|
{rows}

## What is planted (`truth.json`)

- `red_property`: adoption of red property (milestone `red_property`, staggered 2019-2021, 15 compounds before
  2019) multiplies resolution time by `resolution_time_factor_by_street` (reached over months 0-2 after adoption,
  `resolution_time_ramp_months_0_1_2`), shifts the rating latent variable by `rating_latent_shift_logit` and the
  survey satisfaction latent variable by `survey_latent_shift`. `realised_att` gives the realised average effect
  on the treated, computed from both potential outcomes, over compounds that adopted within the years of the
  data (those that adopted earlier are always treated and cannot enter a difference-in-differences):
  `compound_month` and `compound_quarter` hold
  `mean_resolution_hours` (effect on the mean resolution hours of a treated compound-period, unweighted mean over
  treated compound-periods) and `satisfaction_rate` (satisfied + 0.9 x basically satisfied over rated requests);
  `survey_sat_overall_compound_wave` is the effect on the mean `sat_overall` (1-5) of treated compound-waves.
  Adoption is selective (commercial and work-unit compounds, two streets adopt more): a naive comparison is biased.
- `rules`: the weekday-duty probabilities and realised shares, meeting compliance and six-haves probabilities by
  street: the article's rules are met imperfectly and unevenly.
- `survey.population_means[item][wave][unit_id]`: finite-population means of every survey item for the district
  (`ZW`), each street and each community, over all adults of the synthetic population.
- `requests`: the untreated resolution-time model.
"""
