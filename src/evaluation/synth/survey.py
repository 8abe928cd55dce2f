"""The synthetic resident population and its survey waves.

Every household of every compound is populated with adults (sex, age group); each adult has a
persistent latent satisfaction made of street, community, compound and personal effects, plus a
wave trend and, where red property is in force at fieldwork, a planted shift. Likert items are
cut from the latent variables. The *finite-population* means of every item by district, street and
community and wave are recorded in ``truth.json``: the survey estimates them.

The survey is a stratified two-stage sample: strata = streets, PSUs = compounds by simple random
sampling within the street, then households by simple random sampling within the compound, one
adult at random per household. Design weight = (N_h / n_h) (M_i / m_i) A_k with A_k the adults of
the household; ``fpc`` = N_h (compounds in the street), ``fpc2`` = M_i (households in the compound).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

AGE_GROUPS = np.array(["18-34", "35-59", "60+"])
SEXES = np.array(["female", "male"])
ITEMS = (
    # item, zh, en, min, max, direction, construct
    ("sat_overall", "总体而言，您对本社区的治理和服务是否满意？", "Overall, how satisfied are you with governance and services in your community?", 1, 5, "positive", "satisfaction"),
    ("sat_services", "您对社区为民服务(办事、养老、文体等)是否满意？", "How satisfied are you with community services (administration, elderly care, culture)?", 1, 5, "positive", "satisfaction"),
    ("sat_property", "您对所住小区的物业管理是否满意？", "How satisfied are you with the property management of your compound?", 1, 5, "positive", "satisfaction"),
    ("problems_unsolved", "小区里的问题反映了也常常得不到解决。", "Problems in my compound often remain unsolved even when reported.", 1, 5, "negative", "satisfaction"),
    ("trust_party_org", "您对社区党组织的信任程度如何？", "How much do you trust the community party organisation?", 1, 5, "positive", "trust"),
    ("trust_residents_committee", "您对社区居委会的信任程度如何？", "How much do you trust the residents' committee?", 1, 5, "positive", "trust"),
    ("perceived_improvement", "与一年前相比，社区治理有明显改善。", "Compared with a year ago, community governance has clearly improved.", 1, 5, "positive", "improvement"),
    ("knows_building_head", "您知道您所在楼栋的楼栋长是谁吗？", "Do you know who your building head is?", 0, 1, "positive", "engagement"),
    ("joined_deliberation", "过去一年您是否参加过居民议事会？", "Did you take part in a resident deliberation meeting in the past year?", 0, 1, "positive", "engagement"),
)
FIELDWORK = "10-15"  # month-day of fieldwork in each wave year
WAVE_TREND = {2019: -0.15, 2020: 0.05, 2021: 0.20}
STREET_LEVEL = {"S01": 0.35, "S02": 0.15, "S03": 0.0, "S04": -0.2}
#: planted effect of red property on the latent satisfaction (sat_overall and sat_property scale)
RED_SURVEY_SHIFT = 0.45
THRESHOLDS = np.array([-1.6, -0.6, 0.4, 1.4])
PSUS_PER_STRATUM = 15
HOUSEHOLDS_PER_PSU = 25


def _likert(z: np.ndarray) -> np.ndarray:
    return (1 + (z[:, None] > THRESHOLDS[None, :]).sum(axis=1)).astype(np.int8)


def make_population(rng: np.random.Generator, compounds: pd.DataFrame) -> pd.DataFrame:
    """Adults: compound, household, sex, age group and persistent latent effects."""
    hh = compounds["households"].to_numpy()
    comp_idx = np.repeat(np.arange(len(compounds)), hh)
    hh_id = np.arange(hh.sum())
    adults = rng.choice([1, 2, 3, 4], size=len(hh_id), p=[0.2, 0.5, 0.2, 0.1])
    person_hh = np.repeat(hh_id, adults)
    person_comp = comp_idx[person_hh]
    n = len(person_hh)
    old = np.where(compounds["compound_type"].to_numpy()[person_comp] == "work_unit", 0.42, 0.26)
    u = rng.random(n)
    age = np.where(u < old, 2, np.where(u < old + 0.4, 1, 0))
    sex = (rng.random(n) < 0.49).astype(int)
    comm_codes, comm_idx = np.unique(compounds["community_id"].to_numpy(), return_inverse=True)
    comm_effect = rng.normal(0, 0.25, len(comm_codes))
    comp_effect = rng.normal(0, 0.3, len(compounds))
    street = compounds["street_id"].to_numpy()
    base = (np.array([STREET_LEVEL[s] for s in street])[person_comp] + comm_effect[comm_idx[person_comp]]
            + comp_effect[person_comp] + np.array([-0.1, 0.0, 0.25])[age] + rng.normal(0, 0.6, n))
    return pd.DataFrame({
        "household": person_hh, "compound": person_comp, "adults": adults[person_hh],
        "sex": SEXES[sex], "age_group": AGE_GROUPS[age], "base": base,
        "trust_base": 0.6 * base + rng.normal(0.2, 0.5, n),
        "engaged": rng.normal(0, 1, n) + np.where(age == 2, 0.5, 0.0),
    })


def wave_items(rng: np.random.Generator, pop: pd.DataFrame, compounds: pd.DataFrame, red_date: np.ndarray,
               wave: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Item values of every adult in ``wave``; also the potential sat_overall without/with red property."""
    n = len(pop)
    field = np.datetime64(f"{wave}-{FIELDWORK}", "D")
    comp = pop["compound"].to_numpy()
    adopted = ~np.isnat(red_date)
    treated_comp = adopted & (np.where(adopted, red_date, field) <= field)
    treated = treated_comp[comp]
    unmanaged = (compounds["compound_type"].to_numpy() == "unmanaged")[comp]
    z_common = pop["base"].to_numpy() + WAVE_TREND[wave] + rng.normal(0, 0.5, n)
    shift = np.where(treated, RED_SURVEY_SHIFT, 0.0)
    e = lambda s=0.6: rng.normal(0, s, n)  # noqa: E731 - item-specific noise
    z0_sat = z_common + e()
    items = {
        "sat_overall": _likert(z0_sat + shift),
        "sat_services": _likert(z_common + 0.1 + e()),
        "sat_property": _likert(z_common - 0.5 * unmanaged + 1.2 * shift + e(0.8)),
        "problems_unsolved": (6 - _likert(z_common + 0.6 * shift + e(0.9))).astype(np.int8),
        "trust_party_org": _likert(pop["trust_base"].to_numpy() + 0.5 * WAVE_TREND[wave] + 0.5 * shift + e()),
        "trust_residents_committee": _likert(pop["trust_base"].to_numpy() + e(0.7)),
        "perceived_improvement": _likert(0.5 * z_common + WAVE_TREND[wave] + shift + e(0.8)),
        "knows_building_head": (pop["engaged"].to_numpy() + e(1.0) > 0.2 - 0.4 * treated).astype(np.int8),
        "joined_deliberation": (pop["engaged"].to_numpy() + e(1.0) > 1.6).astype(np.int8),
    }
    y0 = _likert(z0_sat).astype(float)
    y1 = _likert(z0_sat + RED_SURVEY_SHIFT).astype(float)
    return pd.DataFrame(items), y0, y1


def draw_sample(rng: np.random.Generator, pop: pd.DataFrame, compounds: pd.DataFrame, wave: int,
                frame: tuple | None = None) -> pd.DataFrame:
    """One wave's stratified two-stage sample; returns person rows with design variables."""
    rows = []
    street = compounds["street_id"].to_numpy()
    hh_of_comp, first_person = frame if frame is not None else sampling_frame(pop)
    for s in sorted(set(street)):
        in_s = np.flatnonzero(street == s)
        N_h = len(in_s)
        psus = np.sort(rng.choice(in_s, size=min(PSUS_PER_STRATUM, N_h), replace=False))
        for j in psus:
            hhs = hh_of_comp[j]
            M_i = len(hhs)
            m_i = min(HOUSEHOLDS_PER_PSU, M_i)
            chosen = np.sort(rng.choice(hhs, size=m_i, replace=False))
            first, count = first_person[0][chosen], first_person[1][chosen]
            person = first + (rng.random(m_i) * count).astype(int)
            a = count
            rows.append(pd.DataFrame({
                "person": person, "stratum": s, "psu": compounds["compound_id"].iloc[j],
                "weight": (N_h / len(psus)) * (M_i / m_i) * a, "fpc": float(N_h), "fpc2": float(M_i),
            }))
    return pd.concat(rows, ignore_index=True)


def sampling_frame(pop: pd.DataFrame) -> tuple:
    """Households of each compound, and the first person and number of adults of each household."""
    hh = pop["household"].to_numpy()  # sorted: people of a household are consecutive
    starts = np.flatnonzero(np.r_[True, hh[1:] != hh[:-1]])
    counts = np.diff(np.r_[starts, len(hh)])
    comp_of_hh = pop["compound"].to_numpy()[starts]
    order = np.argsort(comp_of_hh, kind="stable")
    bounds = np.searchsorted(comp_of_hh[order], np.arange(comp_of_hh.max() + 2))
    hh_of_comp = [order[bounds[j]:bounds[j + 1]] for j in range(len(bounds) - 1)]
    return hh_of_comp, (starts, counts)


def _group_means(v: np.ndarray, codes: np.ndarray, labels: np.ndarray) -> dict:
    sums = np.bincount(codes, weights=v, minlength=len(labels))
    n = np.bincount(codes, minlength=len(labels))
    return {str(k): round(float(s / c), 6) for k, s, c in zip(labels, sums, n)}


def make_survey(rng: np.random.Generator, years: list[int], compounds: pd.DataFrame, red_date: np.ndarray,
                unit_ids: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Survey waves, codebook, population margins and the finite-population truth."""
    pop = make_population(rng, compounds)
    comm = compounds["community_id"].to_numpy()[pop["compound"].to_numpy()]
    street = compounds["street_id"].to_numpy()[pop["compound"].to_numpy()]
    item_names = [it[0] for it in ITEMS]
    street_labels, street_codes = np.unique(street, return_inverse=True)
    comm_labels, comm_codes = np.unique(comm, return_inverse=True)
    frame = sampling_frame(pop)
    truth_means: dict = {it: {} for it in item_names}
    att_rows = []
    waves = []
    for w in years:
        values, y0, y1 = wave_items(rng, pop, compounds, red_date, w)
        for it in item_names:
            v = values[it].to_numpy().astype(float)
            d = {unit_ids["district"]: round(float(v.mean()), 6)}
            d.update(_group_means(v, street_codes, street_labels))
            d.update(_group_means(v, comm_codes, comm_labels))
            truth_means[it][str(w)] = d
        # realised effect on the treated compound-waves (population, both potential outcomes)
        field = np.datetime64(f"{w}-{FIELDWORK}", "D")
        adopted = ~np.isnat(red_date)
        treated_comp = adopted & (np.where(adopted, red_date, field) <= field)
        t = treated_comp[pop["compound"].to_numpy()]
        if t.any():
            diff = pd.Series((y1 - y0)[t]).groupby(pop["compound"].to_numpy()[t]).mean()
            att_rows.extend(diff.to_list())
        s = draw_sample(rng, pop, compounds, w, frame)
        p = pop.iloc[s["person"].to_numpy()]
        df = pd.DataFrame({
            "respondent_id": [f"SR{w}{i + 1:05d}" for i in range(len(s))],
            "wave": w, "stratum": s["stratum"].to_numpy(), "psu": s["psu"].to_numpy(),
            "weight": np.round(s["weight"].to_numpy(), 6), "fpc": s["fpc"].to_numpy(), "fpc2": s["fpc2"].to_numpy(),
            "community_id": comm[s["person"].to_numpy()], "compound_id": s["psu"].to_numpy(),
            "sex": p["sex"].to_numpy(), "age_group": p["age_group"].to_numpy(),
        })
        for it in item_names:
            df[it] = values[it].to_numpy()[s["person"].to_numpy()].astype(int)
        waves.append(df)
    survey = pd.concat(waves, ignore_index=True)
    codebook = pd.DataFrame(ITEMS, columns=["item", "wording_zh", "wording_en", "scale_min", "scale_max", "direction", "construct"])
    margins = (pd.DataFrame({"unit_id": comm, "sex": pop["sex"], "age_group": pop["age_group"]})
               .groupby(["unit_id", "sex", "age_group"]).size().rename("persons").reset_index())
    population = pd.concat([margins.assign(year=y) for y in years], ignore_index=True)[["unit_id", "year", "sex", "age_group", "persons"]]
    adults_by_comm = pd.Series(comm).value_counts()
    truth = {
        "population_means": truth_means,
        "adults": int(len(pop)),
        "adults_by_community": {k: int(v) for k, v in sorted(adults_by_comm.items())},
        "realised_att_sat_overall_compound_wave": round(float(np.mean(att_rows)), 5) if att_rows else None,
    }
    return survey, codebook, population, truth
