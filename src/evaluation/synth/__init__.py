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
from evaluation.synth import hotline as ht
from evaluation.synth import registry as reg
from evaluation.synth import requests as rq
from evaluation.synth import survey as sv

DEFAULT_SEED = 20201225
DEFAULT_YEARS = (2019, 2020, 2021)
DEFAULT_REQUESTS_PER_YEAR = 60000
TIMEZONE = schema.DEFAULT_TZ

#: child seeds, one per component, so that changing one part leaves the others unchanged
COMPONENTS = ("units", "milestones", "buildings", "orgs", "members", "roster", "meetings", "staffing",
              "postings", "volunteers", "facilities", "requests", "survey", "events")
#: salt of the synthetic caller keys (the clear identifiers they hash exist only inside the generator)
CALLER_SALT = "zhangwan-synthetic-callers-{seed}"


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
    requests, potential, plants = rq.make_requests(rngs["requests"], years, requests_per_year, compounds, buildings,
                                                   facts["red_date"], cutoff, TIMEZONE, CALLER_SALT.format(seed=seed))
    events, event_facts = ht.make_events(rngs["events"], requests, potential, cutoff)
    survey, codebook, population, survey_truth = sv.make_survey(
        rngs["survey"], years, compounds, facts["red_date"], {"district": "ZW"})

    tables = {
        "units": units, "compounds": compounds, "compound_milestones": milestones, "buildings": buildings,
        "party_orgs": orgs, "party_members": members, "duty_roster": roster, "meetings": meetings,
        "staffing": staffing, "postings": postings, "volunteers": volunteers, "volunteer_hours": hours,
        "facilities": facilities, "funding": funding, "requests": requests, "events": events, "population": population,
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
                "compound_quarter_panel_scale": ht.panel_scale_att(requests, potential, cutoff, "Q"),
                "compound_month_panel_scale": ht.panel_scale_att(requests, potential, cutoff, "M"),
            },
            "effect_is_permanent": "the planted effect lasts from adoption to the end of the data: it does not end "
                                   "when an owners committee dissolves (compound_milestones.ended)",
        },
        "requests": {
            "median_untreated_hours_by_category": {k: v[1] for k, v in rq.CATEGORIES.items()},
            "street_speed_multiplier": rq.STREET_SPEED,
            "log_hours_sd": rq.SIGMA_LOG_HOURS,
            "never_resolved_share_by_category": rq.NEVER_RESOLVED_BY_CATEGORY,
            "never_resolved_share": round(float(potential["never_resolved"].mean()), 6),  # realised, all requests
            "not_reached_share": rq.NOT_REACHED,
            "epidemic_additive_hours": {"from": rq.EPIDEMIC[0], "to": rq.EPIDEMIC[1], "hours": rq.EPIDEMIC[2]},
            "rating_latent_shift_by_street": rq.STREET_RATING,
            "rating_latent_shift_by_category": rq.CATEGORY_RATING,
        },
        "hotline": _hotline_truth(requests, potential, plants, event_facts, years),
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


def _hotline_truth(requests: pd.DataFrame, potential: pd.DataFrame, plants: dict, event_facts: dict,
                   years: list[int]) -> dict:
    """``truth.json`` ``hotline``: what the hotline analytics (:mod:`evaluation.hotline`) should recover."""
    return {
        "description": "Plants of the hotline analytics; see the README of the dataset.",
        "volume": {
            "compound_type_intensity": rq.COMPOUND_TYPE_INTENSITY,
            "compound_frailty_cv": rq.COMPOUND_FRAILTY_CV,
            "hot_spots": plants["hot_spots"],
            "hot_spot_note": "realised_rate_ratio = excess x frailty: the compound's request intensity relative to "
                             "an average compound of its households, type and street (the frailty of ordinary "
                             "compounds averages 1)",
            "requests_at_community_level_share": rq.AT_COMMUNITY,
        },
        "category_mix": {
            "base_shares": {k: v[0] for k, v in rq.CATEGORIES.items()},
            "tilt_by_street": rq.CATEGORY_TILT_BY_STREET,
            "shares_by_street": {s: dict(zip(rq.CATEGORIES, map(lambda x: round(float(x), 6), rq.category_mix(s))))
                                 for s in rq.CATEGORY_TILT_BY_STREET},
            "seasonality_amplitude_peak_month": {k: list(v) for k, v in rq.SEASONALITY.items()},
        },
        "targeted": rq.TARGETED,
        "rates": {
            "never_resolved_share_by_category": rq.NEVER_RESOLVED_BY_CATEGORY,
            "street_effect_on_resolution_rate": 0.0,
            "no_response_share_by_channel": rq.NO_RESPONSE_BY_CHANNEL,
            "response_hours_exponential_mean_by_street": rq.RESPONSE_MEAN_HOURS_BY_STREET,
        },
        "cycle": {
            "grid_worker_share_by_street": rq.GRID_SHARE_BY_STREET,
            "grid_worker_share_note": "the share among requests raised first; follow-ups come from residents only, "
                                      "so among all requests the expected share is g / (g + (1 - g) / (1 - f)), "
                                      "f the street's follow-up probability (proactive_share_expected_by_street)",
            "proactive_share_expected_by_street": {
                s: round(g / (g + (1 - g) / (1 - rq.FOLLOW_UP_BY_STREET[s])), 6) for s, g in rq.GRID_SHARE_BY_STREET.items()},
            "app_live_range_by_street": {k: list(v) for k, v in rq.APP_LIVE_BY_STREET.items()},
            "app_live_by_community": plants["app_live_by_community"],
            "affair_class_unrecorded_share_by_year": {str(k): v for k, v in rq.UNGRADED_BY_YEAR.items()},
            "not_reached_share_of_closed": rq.NOT_REACHED,
        },
        "repeats": {
            "follow_up_probability_by_street": rq.FOLLOW_UP_BY_STREET,
            "follow_up_hours": list(rq.FOLLOW_UP_HOURS),
            "caller_gap_days": rq.CALLER_GAP_DAYS,
            "rule": "a follow-up comes from the same caller (requests.caller_key), about the same compound, building "
                    "and category; grid-worker requests have no caller",
            "realised_follow_up_share": ht.repeat_truth(potential),
        },
        "deadlines": {
            "table": ht.default_deadlines(),
            "realised_on_time_share_by_street_and_year": ht.on_time_truth(requests, potential, years),
        },
        "events": event_facts,
    }


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
  - `compound_quarter` (and `compound_month`) count **only the requests raised on or after the adoption date**,
    and include 2021Q4. A quarterly difference-in-differences estimates something slightly different: its
    panel's mean over a compound-quarter mixes the requests raised before the adoption date in the adoption
    quarter (no effect) with those after, and its window ends at 2021Q3 (2021Q4 lacks 90 days of follow-up).
    So `compound_quarter.mean_resolution_hours` is about 1 hour further from zero than the effect a quarterly
    estimator targets.
  - `compound_quarter_panel_scale` (and `compound_month_panel_scale`) is that target: over the compound-periods
    a staggered difference-in-differences averages (a balanced panel of the follow-up window, cohorts adopting
    after its first period, from their adoption period on), the effect on the period's mean resolution hours
    over **all** its resolved requests and on its satisfaction rate over all its rated requests, from both
    potential outcomes, averaged with equal weight (`benchmarks/impact_simulation.py::panel_scale_truth`
    rebuilds the hours figure from the log and agrees).
  - The planted effect is permanent: it does **not** end when an owners committee dissolves
    (`compound_milestones.ended`); `effect_is_permanent` says so. An estimator that switches treatment off
    when the committee dissolves estimates another quantity.
- `rules`: the weekday-duty probabilities and realised shares, meeting compliance and six-haves probabilities by
  street: the article's rules are met imperfectly and unevenly.
- `survey.population_means[item][wave][unit_id]`: finite-population means of every survey item for the district
  (`ZW`), each street and each community, over all adults of the synthetic population.
- `requests`: the untreated resolution-time model; the share never resolved by category, the rating's shifts by
  street and category.
- `hotline`: the plants of the hotline analytics (`evaluation.hotline`, notebook 07):
  - `volume`: a compound's request intensity is households x `compound_type_intensity` x a gamma frailty
    (`compound_frailty_cv` 0.15) x, for six **hot-spot compounds**, a planted `excess` (1.6 to 3.0);
    `realised_rate_ratio` (excess x the compound's frailty) is its intensity relative to an average compound
    of its households, type and street, what the observed / expected ratio estimates.
  - `category_mix`: the category shares by street (`tilt_by_street`: Hongwei has more public-facility and
    neighbour matters, Huaguo more parking) and by month (`seasonality_amplitude_peak_month`).
  - `targeted`: **parking_traffic** requests fall to `volume_factor` 0.70 of their seasonal level from the
    campaign start 2021-04-01 (每月一题).
  - `rates`: the share never resolved depends on the category only (`street_effect_on_resolution_rate` 0): the
    resolution rate's raw ranking penalises Hongwei for its harder mix, a standardised one does not; the
    share without a response depends on the channel; response times (exponential) on the street.
  - `cycle`: the grid-worker (proactive) share by street (among first requests; `proactive_share_expected_by_street`
    among all requests), the smart-community app going live community by community (`app_live_by_community`;
    before it would-be app requests come by hotline), affair classes left unrecorded (12 %, 5 %, 2 % in
    2019-2021), ratings not reached (8 % of closed requests).
  - `repeats`: each request a resident raises is followed by another from the same caller about the same
    matter (compound, building, category) with probability `follow_up_probability_by_street` (8 % to 15 %),
    1 to 156 hours later; a caller's independent matters are at least 30 days apart, so "the same caller
    within 7 days" finds exactly the follow-ups (`realised_follow_up_share`). Grid-worker requests have no
    caller. `requests.caller_key` is a salted SHA-256 of a synthetic resident id, written in the letters a-p
    (so that no key can look like a phone number); no clear identifier exists anywhere in the data.
    `requests.building_id` is the building, chosen in proportion to its households.
  - `deadlines`: the default deadline table of the catalogue (`svc.on_time_share`) and the **realised** shares
    resolved and responded to within each request's own deadline, by street and year (and by month), computed
    from the true times of every request (also those still open at the cut-off; never resolved: late) with
    working time of the official calendar computed independently of the package's estimator.
  - `events`: the optional `events` table (dispatch from 2021 on): send-back probability by street, transfer
    probability by category, the whistle share of major matters and the exponential mean hours from a whistle
    to the department's report by street (`report_hours_median_by_street`: its median).
"""
