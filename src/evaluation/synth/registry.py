"""Registry tables of the synthetic district, calibrated to the published 2020 figures.

Every count the article publishes is planted *exactly* by construction (choose exactly k of n at
random, split a total exactly with a multinomial), so that any seed gives a different district with
the same published aggregates. The rules the article states (a sunk cadre on duty every weekday,
weekly / monthly / quarterly meetings, six-haves standardisation) are met imperfectly and unevenly:
street and community compliance rates are drawn here and recorded in ``truth.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import pandas as pd

from evaluation.calendar import WorkCalendar
from evaluation.synth import places

D = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Figures:
    """The published figures the generator reproduces (``published_figures.csv``)."""

    values: dict[str, float]

    @classmethod
    def load(cls) -> Figures:
        """The published figures of the article (``resources/published_figures.csv``)."""
        path = files("evaluation") / "resources" / "published_figures.csv"
        with path.open(encoding="utf-8") as fh:
            df = pd.read_csv(fh, dtype=str)
        vals = {}
        for key, val in zip(df["key"], df["value"]):
            try:
                vals[key] = float(val)
            except ValueError:
                continue
        return cls(vals)

    def __getitem__(self, key: str) -> int:
        return int(round(self.values[key]))

    def share(self, key: str) -> float:
        """A published figure that is a share (not rounded)."""
        return float(self.values[key])


def _day(s: str) -> np.datetime64:
    return np.datetime64(s, "D")


def uniform_dates(rng: np.random.Generator, start: str, end: str, n: int) -> np.ndarray:
    """``n`` dates uniformly between ``start`` and ``end`` inclusive (datetime64[D])."""
    a, b = _day(start), _day(end)
    span = int((b - a) / D) + 1
    return a + rng.integers(0, span, size=n) * D


def split_total(rng: np.random.Generator, total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split ``total`` into ``len(weights)`` non-negative integers summing exactly to ``total``."""
    weights = np.asarray(weights, dtype=float)
    base = np.full(len(weights), minimum, dtype=int)
    rest = total - base.sum()
    if rest < 0:
        raise ValueError("minimum too large for total")
    return base + rng.multinomial(rest, weights / weights.sum())


def choose(rng: np.random.Generator, candidates: np.ndarray, k: int, p: np.ndarray | None = None) -> np.ndarray:
    """Exactly ``k`` distinct elements of ``candidates`` (probabilities ``p``, normalised)."""
    candidates = np.asarray(candidates)
    if k > len(candidates):
        raise ValueError(f"cannot choose {k} of {len(candidates)}")
    if p is not None:
        p = np.asarray(p, dtype=float)
        p = p / p.sum()
    return rng.choice(candidates, size=k, replace=False, p=p)


def _dates_frame(d: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(d)).astype("datetime64[ns]")


# --------------------------------------------------------------------------------------------
# units and compounds
# --------------------------------------------------------------------------------------------


def make_units_and_compounds(rng: np.random.Generator, fig: Figures) -> dict:
    """Streets, communities, townships, villages, compounds and buildings."""
    n_streets = fig["street_party_working_committees"]
    n_communities = fig["community_party_committees"]
    assert n_streets == len(places.STREETS) and n_communities == sum(s[3] for s in places.STREETS)

    # communities: named ones first, invented names for the rest
    invented = list(places.INVENTED_COMMUNITIES)
    rng.shuffle(invented)
    comm_rows = []
    k = 0
    for sid, _, _, n in places.STREETS:
        named = list(places.NAMED_COMMUNITIES.get(sid, []))
        for j in range(n):
            cid = f"C{len(comm_rows) + 1:02d}"
            if j < len(named):
                zh, en = named[j]
            else:
                stem_zh, stem_en = invented[k]
                k += 1
                zh, en = f"{stem_zh}社区", f"{stem_en} Community (synthetic)"
            comm_rows.append({"unit_id": cid, "parent_id": sid, "name_zh": zh, "name_en": en})
    communities = pd.DataFrame(comm_rows)

    # compounds: 335 (full party-branch coverage means one branch per compound)
    n_compounds = fig["compound_party_branches"]
    size = rng.gamma(3.0, 1.0, len(communities))
    per_comm = split_total(rng, n_compounds, size, minimum=4)
    types = np.array(["commercial", "work_unit", "resettlement", "affordable", "unmanaged", "other"])
    type_p = np.array([0.40, 0.28, 0.10, 0.05, 0.11, 0.06])
    mean_hh = {"commercial": 480, "work_unit": 300, "resettlement": 260, "affordable": 700, "unmanaged": 70, "other": 160}
    hh_per_building = {"commercial": 70, "work_unit": 40, "resettlement": 45, "affordable": 90, "unmanaged": 18, "other": 35}
    named_by_comm = {}
    for zh, en, comm_zh, ctype in places.NAMED_COMPOUNDS:
        named_by_comm.setdefault(comm_zh, []).append((zh, en, ctype))
    rows = []
    for (_, c), n in zip(communities.iterrows(), per_comm):
        named = named_by_comm.get(c["name_zh"], [])
        for j in range(n):
            xid = f"X{len(rows) + 1:04d}"
            if j < len(named):
                zh, en, ctype = named[j]
            else:
                ctype = str(rng.choice(types, p=type_p))
                zh = f"{c['name_zh'].removesuffix('社区')}{j + 1}号小区"
                en = f"{c['name_en'].removesuffix(' (synthetic)').removesuffix(' Community')} compound {j + 1} (synthetic)"
            hh = max(12, int(rng.lognormal(np.log(mean_hh[ctype]), 0.45)))
            if zh == "家和苑小区":
                hh = 2800  # the city's largest affordable-housing compound
            if zh == "东鑫大厦":
                hh = 96
            nb = max(1, int(round(hh / hh_per_building[ctype] * rng.uniform(0.8, 1.25))))
            if zh == "东鑫大厦":
                nb = 1
            built = _day("1975-01-01") + int(rng.integers(0, (2014 - 1975) * 365)) * D
            rows.append({
                "compound_id": xid, "community_id": c["unit_id"], "name_zh": zh, "name_en": en,
                "compound_type": ctype, "households": hh, "buildings": nb, "built": built,
            })
    compounds = pd.DataFrame(rows)
    compounds["street_id"] = compounds["community_id"].map(communities.set_index("unit_id")["parent_id"])

    # buildings: split compound households across its buildings
    b_rows = []
    for x in compounds.itertuples():
        shares = rng.dirichlet(np.full(x.buildings, 4.0))
        hh = split_total(rng, x.households, shares)
        for j in range(x.buildings):
            b_rows.append({"building_id": f"{x.compound_id}-B{j + 1:02d}", "compound_id": x.compound_id, "households": int(hh[j])})
    buildings = pd.DataFrame(b_rows)

    # rural side: townships and villages
    t_rows, v_rows = [], []
    for tid, zh, en, nv in places.TOWNSHIPS:
        t_rows.append({"unit_id": tid, "unit_type": "township", "parent_id": "ZW", "name_zh": zh, "name_en": en})
        for j in range(1, nv + 1):
            vzh, ven = places.village_name(zh, j)
            hh = int(rng.integers(180, 900))
            v_rows.append({
                "unit_id": f"V{len(v_rows) + 1:03d}", "unit_type": "village", "parent_id": tid,
                "name_zh": vzh, "name_en": ven, "households": hh, "population": int(hh * rng.uniform(2.8, 3.4)),
            })
    return {"communities": communities, "compounds": compounds, "buildings": buildings,
            "townships": pd.DataFrame(t_rows), "villages": pd.DataFrame(v_rows)}


# --------------------------------------------------------------------------------------------
# milestones
# --------------------------------------------------------------------------------------------

#: probability that a compound's branch meets the six-haves standard by the end of 2020, by street
SIX_HAVES_BY_STREET = {"S01": 0.72, "S02": 0.58, "S03": 0.45, "S04": 0.30}
#: adoption-propensity multipliers for red property (selection into adoption)
RED_TYPE_PROPENSITY = {"commercial": 3.0, "work_unit": 1.6, "resettlement": 1.0, "affordable": 1.2, "unmanaged": 0.0, "other": 0.8}
RED_STREET_PROPENSITY = {"S01": 1.6, "S02": 1.3, "S03": 1.0, "S04": 0.7}
#: red-property adopters by period; 2019 adoption starts in April so every cohort has a pre-period
RED_ADOPTION = (("2016-01-01", "2018-12-31", 15), ("2019-04-01", "2019-12-31", 55),
                ("2020-01-01", "2020-12-31", 135), ("2021-01-01", "2021-09-30", 45))


def make_milestones(rng: np.random.Generator, fig: Figures, compounds: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Compound milestones with their dates; returns the table and facts for truth.json."""
    n = len(compounds)
    ids = compounds["compound_id"].to_numpy()
    ctype = compounds["compound_type"].to_numpy()
    street = compounds["street_id"].to_numpy()
    rows: list[dict] = []

    # red property: exact numbers of adopters per period, selection on type and street
    propensity = np.array([RED_TYPE_PROPENSITY[t] * RED_STREET_PROPENSITY[s] for t, s in zip(ctype, street)])
    named_first = compounds["name_zh"].eq("阳光栖谷小区").to_numpy()
    red_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    available = propensity > 0
    for start, end, k in RED_ADOPTION:
        pool = np.flatnonzero(available)
        p = propensity[pool].copy()
        if start.startswith("2019"):
            # the article's model compound adopted early
            p[named_first[pool]] *= 1e6
        pick = choose(rng, pool, k, p)
        red_date[pick] = uniform_dates(rng, start, end, k)
        available[pick] = False
    red = ~np.isnat(red_date)
    share_2020 = (red & (red_date <= _day("2020-12-31"))).mean()
    assert share_2020 >= fig.share("red_property_compound_share")

    # party branch: every compound by end 2020, before red-property adoption where adopted
    branch = uniform_dates(rng, "2016-01-01", "2020-11-30", n)
    late = rng.random(n) < 0.45
    branch[late] = uniform_dates(rng, "2020-03-01", "2020-11-30", late.sum())
    branch[red] = np.minimum(branch[red], red_date[red] - rng.integers(20, 200, red.sum()) * D)
    built = compounds["built"].to_numpy().astype("datetime64[D]")
    branch = np.maximum(branch, built + 30 * D)
    rows += [{"compound_id": i, "milestone": "party_branch", "date": d} for i, d in zip(ids, branch)]
    for i, d in zip(ids[red], red_date[red]):
        rows.append({"compound_id": i, "milestone": "red_property", "date": d})

    # six-haves standardisation: uneven by street
    p6 = np.array([SIX_HAVES_BY_STREET[s] for s in street])
    six = rng.random(n) < p6
    six_date = np.maximum(branch, _day("2019-06-01")) + rng.integers(30, 300, n) * D
    six_2021 = (~six) & (rng.random(n) < 0.25)
    six_date[six] = np.minimum(six_date[six], _day("2020-12-31"))
    six_date[six_2021] = uniform_dates(rng, "2021-02-01", "2021-11-30", six_2021.sum())
    for i, d in zip(ids[six | six_2021], six_date[six | six_2021]):
        rows.append({"compound_id": i, "milestone": "branch_six_haves", "date": d})

    # branch venues: the first batch of 59 in 2020, more in 2021
    n_venues = fig["compound_branch_venues_first_batch"]
    venue = choose(rng, np.arange(n), n_venues + 41, compounds["households"].to_numpy() ** 0.5)
    venue_date = np.concatenate([uniform_dates(rng, "2020-05-01", "2020-12-20", n_venues),
                                 uniform_dates(rng, "2021-03-01", "2021-11-30", 41)])
    venue_date = np.maximum(venue_date, branch[venue] + D)
    # keep exactly 59 in 2020 even after the max() above
    venue_date[:n_venues] = np.minimum(venue_date[:n_venues], _day("2020-12-31"))
    venue_date[n_venues:] = np.maximum(venue_date[n_venues:], _day("2021-01-02"))
    for i, d in zip(ids[venue], venue_date):
        rows.append({"compound_id": i, "milestone": "branch_venue", "date": d})

    # owners committees: 267 by end 2020 (246 party-led = 92 %), none in unmanaged compounds
    n_pl = fig["party_led_owners_committees"]
    cov = fig.share("party_led_owners_committee_coverage")
    n_oc = int(round(n_pl / cov))
    assert round(n_pl / n_oc, 2) == round(cov, 2)
    oc_ok = ctype != "unmanaged"
    oc_p = np.where(red, 4.0, 1.0) * oc_ok
    oc_all = choose(rng, np.arange(n), n_oc + 10, oc_p)
    oc_2020, oc_2021 = oc_all[:n_oc], oc_all[n_oc:]
    oc_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    oc_date[oc_2020] = uniform_dates(rng, "2012-01-01", "2020-10-31", n_oc)
    oc_date[oc_2021] = uniform_dates(rng, "2021-01-15", "2021-10-31", 10)
    oc_date = np.where(np.isnat(oc_date), oc_date, np.maximum(oc_date, built + 365 * D))
    pl_pool = oc_2020
    pl_p = np.where(red[pl_pool], 5.0, 1.0)
    pl_2020 = choose(rng, pl_pool, n_pl, pl_p)
    rest = np.setdiff1d(oc_all, pl_2020)
    pl_2021 = choose(rng, rest, 12)
    pl_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    pl_date[pl_2020] = np.maximum(uniform_dates(rng, "2019-03-01", "2020-12-15", n_pl), oc_date[pl_2020] + 10 * D)
    pl_date[pl_2020] = np.minimum(pl_date[pl_2020], _day("2020-12-31"))
    pl_date[pl_2021] = np.maximum(uniform_dates(rng, "2021-02-01", "2021-11-30", 12), oc_date[pl_2021] + 10 * D)
    # two owners committees dissolve in 2021 (a real registry has endings): both milestones end
    ended = choose(rng, pl_2020, 2)
    end_date = {i: d for i, d in zip(ended, uniform_dates(rng, "2021-04-01", "2021-10-31", 2))}
    for j in oc_all:
        rows.append({"compound_id": ids[j], "milestone": "owners_committee", "date": oc_date[j], "ended": end_date.get(j)})
    for j in np.concatenate([pl_2020, pl_2021]):
        rows.append({"compound_id": ids[j], "milestone": "party_led_owners_committee", "date": pl_date[j], "ended": end_date.get(j)})

    # property-company party branches: 3 by end 2020, among red-property commercial compounds
    n_pb = fig["property_party_branches"]
    pb_pool = np.flatnonzero(red & (red_date <= _day("2020-06-30")) & (ctype == "commercial"))
    pb = choose(rng, pb_pool, n_pb)
    pb_date = np.maximum(uniform_dates(rng, "2020-04-01", "2020-12-15", n_pb), red_date[pb] + D)
    for j, d in zip(pb, pb_date):
        rows.append({"compound_id": ids[j], "milestone": "property_party_branch", "date": min(d, _day("2020-12-31"))})

    ms = pd.DataFrame(rows)
    ms["ended"] = ms.get("ended")
    ms["date"] = _dates_frame(ms["date"].to_numpy().astype("datetime64[D]"))
    ms["ended"] = _dates_frame(pd.to_datetime(ms["ended"]).to_numpy().astype("datetime64[D]"))
    ms = ms.sort_values(["compound_id", "milestone", "date"], kind="stable").reset_index(drop=True)
    facts = {
        "branch_date": branch, "red_date": red_date, "venue": venue, "venue_date": venue_date,
        "pb": pb, "pb_date": pb_date,
    }
    return ms, facts


# --------------------------------------------------------------------------------------------
# buildings, organisations, members
# --------------------------------------------------------------------------------------------


def finish_buildings(rng: np.random.Generator, fig: Figures, buildings: pd.DataFrame, compounds: pd.DataFrame,
                     branch_date: np.ndarray) -> pd.DataFrame:
    """Building party groups (1,077 by end 2020), heads, centre households, red stewards."""
    b = buildings.copy()
    nb = len(b)
    n_groups = fig["building_party_groups"]
    cidx = compounds.reset_index().set_index("compound_id")["index"]
    comp_of = cidx.loc[b["compound_id"]].to_numpy()
    # more households, more party members, more likely a group
    p = b["households"].to_numpy() ** 0.7 + 1
    groups = choose(rng, np.arange(nb), n_groups + 120, p)
    since = np.full(nb, np.datetime64("NaT"), dtype="datetime64[D]")
    since[groups[:n_groups]] = uniform_dates(rng, "2017-01-01", "2020-12-20", n_groups)
    since[groups[n_groups:]] = uniform_dates(rng, "2021-01-10", "2021-11-30", 120)
    since[groups] = np.maximum(since[groups], branch_date[comp_of[groups]])
    since[groups[:n_groups]] = np.minimum(since[groups[:n_groups]], _day("2020-12-31"))
    b["party_group_since"] = _dates_frame(since)
    # building heads and party-member centre households: "2,000 and more" in all
    head = rng.random(nb) < 0.62
    b["building_head"] = pd.array(head, dtype="boolean")
    target = fig["building_heads_and_centre_households"]
    centre_total = max(0, target + int(rng.integers(40, 260)) - int(head.sum()))
    centre = split_total(rng, centre_total, np.where(np.isnat(since), 0.2, 1.0))
    b["centre_households"] = pd.array(centre, dtype="Int64")
    steward = np.zeros(nb, dtype=bool)
    steward[choose(rng, groups[:n_groups], fig["red_stewards"])] = True
    b["red_steward"] = pd.array(steward, dtype="boolean")
    return b


def make_party_orgs(rng: np.random.Generator, fig: Figures, units: dict, compounds: pd.DataFrame,
                    buildings: pd.DataFrame, facts: dict) -> pd.DataFrame:
    """Party organisations of every level (counts from the article)."""
    rows: list[dict] = []

    def add(org_type, parent, unit, established, dissolved=None, compound=None, building=None, sunk=None):
        rows.append({
            "org_id": f"O{len(rows) + 1:05d}", "org_type": org_type, "parent_org_id": parent, "unit_id": unit,
            "compound_id": compound, "building_id": building, "established": established,
            "dissolved": dissolved, "secretary_is_sunk": sunk,
        })
        return rows[-1]["org_id"]

    street_org = {}
    for sid, *_ in places.STREETS:
        street_org[sid] = add("street_working_committee", None, sid, _day("2020-04-15") + int(rng.integers(0, 40)) * D)
    for t in units["townships"].itertuples():
        org = add("township_committee", None, t.unit_id, _day("2001-01-01"))
        for v in units["villages"][units["villages"]["parent_id"] == t.unit_id].itertuples():
            add("village_committee", org, v.unit_id, _day("2001-01-01"))
    comm = units["communities"]
    comm_org = {}
    # big party committees formed in 2020 (Yangguang's first joint meeting: 20 November 2020)
    big_dates = uniform_dates(rng, "2020-05-01", "2020-10-31", len(comm))
    for c, d in zip(comm.itertuples(), big_dates):
        if c.name_zh == "阳光社区":
            d = _day("2020-11-01")
        comm_org[c.unit_id] = add("community_committee", street_org[c.parent_id], c.unit_id, d)
    # stationed units drawn into the big committees: 84
    n_stat = fig["stationed_units_in_big_committees"]
    host = rng.choice(comm["unit_id"].to_numpy(), size=n_stat)
    for h in host:
        add("stationed_unit", comm_org[h], h, _day("2020-06-01") + int(rng.integers(0, 180)) * D)
    # compound branches: one per compound; 24 sunk secretaries
    n_sunk_sec = fig["compound_secretaries_sunk_members"]
    sunk_sec = np.zeros(len(compounds), dtype=bool)
    sunk_sec[choose(rng, np.arange(len(compounds)), n_sunk_sec)] = True
    branch_org = {}
    for j, x in enumerate(compounds.itertuples()):
        branch_org[x.compound_id] = add("compound_branch", comm_org[x.community_id], x.community_id,
                                        facts["branch_date"][j], compound=x.compound_id, sunk=bool(sunk_sec[j]))
    # building groups: one per building with a group; 314 sunk leaders among the 1,077 of 2020
    grp = buildings[buildings["party_group_since"].notna()].copy()
    grp = grp.sort_values(["party_group_since", "building_id"], kind="stable")
    in_2020 = (grp["party_group_since"] <= "2020-12-31").to_numpy()
    sunk_lead = np.zeros(len(grp), dtype=bool)
    sunk_lead[choose(rng, np.flatnonzero(in_2020), fig["building_group_leaders_sunk_members"])] = True
    comm_of = compounds.set_index("compound_id")["community_id"]
    for g, s in zip(grp.itertuples(), sunk_lead):
        add("building_group", branch_org[g.compound_id], comm_of[g.compound_id],
            np.datetime64(g.party_group_since, "D"), compound=g.compound_id, building=g.building_id, sunk=bool(s))
    # property-company branches
    for j, d in zip(facts["pb"], facts["pb_date"]):
        x = compounds.iloc[j]
        add("property_branch", branch_org[x["compound_id"]], x["community_id"], min(d, _day("2020-12-31")),
            compound=x["compound_id"])
    # employer units of in-service members (double registration): 61
    for _ in range(fig["district_units_double_registration"]):
        add("employer_unit", None, "ZW", _day("1990-01-01"))
    # epidemic organisations, work teams, volunteer teams
    all_comm = comm["unit_id"].to_numpy()
    for _ in range(fig["pandemic_temporary_branches"]):
        u = rng.choice(all_comm)
        add("temporary_branch", comm_org[u], u, _day("2020-01-26") + int(rng.integers(0, 20)) * D,
            dissolved=_day("2020-05-01") + int(rng.integers(0, 60)) * D)
    for _ in range(fig["pandemic_commando_teams"]):
        u = rng.choice(all_comm)
        add("commando_team", comm_org[u], u, _day("2020-01-26") + int(rng.integers(0, 25)) * D,
            dissolved=_day("2020-04-15") + int(rng.integers(0, 60)) * D)
    n_wt = fig["community_work_teams"]
    hosts = np.concatenate([all_comm, rng.choice(all_comm, n_wt - len(all_comm), replace=False)])
    for u in hosts:
        wt = add("work_team", comm_org[u], u, _day("2020-03-01") + int(rng.integers(0, 60)) * D)
        add("work_team_temporary_org", wt, u, _day("2020-03-01") + int(rng.integers(0, 60)) * D)
    n_vt = fig["party_volunteer_teams"] + int(rng.integers(5, 40))
    for _ in range(n_vt):
        u = rng.choice(all_comm)
        add("volunteer_team", comm_org[u], u, _day("2019-01-01") + int(rng.integers(0, 700)) * D)
    orgs = pd.DataFrame(rows)
    for col in ("established", "dissolved"):
        orgs[col] = _dates_frame(pd.to_datetime(orgs[col]).to_numpy().astype("datetime64[D]"))
    orgs["secretary_is_sunk"] = pd.array(orgs["secretary_is_sunk"], dtype="boolean")
    return orgs


def make_members(rng: np.random.Generator, fig: Figures, compounds: pd.DataFrame, orgs: pd.DataFrame) -> pd.DataFrame:
    """Party members (pseudonymous ids): in-service members of the 61 employer units and others."""
    employers = orgs.loc[orgs["org_type"] == "employer_unit", "org_id"].to_numpy()
    n_reg = fig["in_service_members_registered"]
    n_in_service = n_reg + 183
    n_other = 3000 + int(rng.integers(100, 900))  # "more than 3,000" members without a post
    n = n_in_service + n_other
    # employer sizes vary; every unit has members registered
    emp = np.concatenate([employers, rng.choice(employers, n_in_service - len(employers), p=rng.dirichlet(np.full(len(employers), 2.0)))])
    rng.shuffle(emp)
    reg_on = np.full(n_in_service, np.datetime64("NaT"), dtype="datetime64[D]")
    order = rng.permutation(n_in_service)
    reg_2020, reg_2021 = order[:n_reg], order[n_reg:n_reg + 60]
    early = rng.random(n_reg) < 0.35
    reg_on[reg_2020] = np.where(early, uniform_dates(rng, "2019-03-01", "2019-12-31", n_reg),
                                uniform_dates(rng, "2020-02-01", "2020-12-31", n_reg))
    reg_on[reg_2021] = uniform_dates(rng, "2021-01-05", "2021-11-30", 60)
    # where they live: "more than 1,000" registered (sunk) members live in the district's compounds
    hh = compounds["households"].to_numpy().astype(float)
    live_in = np.zeros(n_in_service, dtype=bool)
    live_in[rng.choice(reg_2020, 1000 + int(rng.integers(60, 200)), replace=False)] = True
    live_in |= (np.isnat(reg_on)) & (rng.random(n_in_service) < 0.4)
    home = np.full(n_in_service, None, dtype=object)
    home[live_in] = rng.choice(compounds["compound_id"].to_numpy(), live_in.sum(), p=hh / hh.sum())
    other_home = rng.choice(compounds["compound_id"].to_numpy(), n_other, p=hh / hh.sum())
    ids = [f"M{i:06d}" for i in rng.permutation(np.arange(100000, 100000 + n))]
    df = pd.DataFrame({
        "member_id": ids,
        "home_compound_id": np.concatenate([home, other_home]),
        "employer_org_id": np.concatenate([emp, np.full(n_other, None, dtype=object)]),
        "in_service": np.concatenate([np.ones(n_in_service, bool), np.zeros(n_other, bool)]),
        "sunk": np.concatenate([~np.isnat(reg_on), np.zeros(n_other, bool)]),
        "registered_on": np.concatenate([reg_on, np.full(n_other, np.datetime64("NaT"), dtype="datetime64[D]")]),
    })
    df["in_service"] = df["in_service"].astype("boolean")
    df["sunk"] = df["sunk"].astype("boolean")
    df["registered_on"] = _dates_frame(df["registered_on"].to_numpy())
    return df.sort_values("member_id").reset_index(drop=True)


#: probability that a community has a sunk cadre on duty on a working day, by street and year
DUTY_BY_STREET = {"S01": (0.55, 0.97, 0.985), "S02": (0.5, 0.93, 0.95), "S03": (0.45, 0.88, 0.92), "S04": (0.4, 0.80, 0.86)}


def make_duty_roster(rng: np.random.Generator, years: list[int], communities: pd.DataFrame,
                     members: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Cadre-days on duty; coverage of working days is imperfect and uneven (recorded in truth)."""
    cal = WorkCalendar.china(years)
    days = cal.working_days(f"{years[0]}-01-01", f"{years[-1]}-12-31").to_numpy().astype("datetime64[D]")
    sunk = members[members["sunk"].fillna(False).astype(bool)].sort_values(["registered_on", "member_id"])
    reg = sunk["registered_on"].to_numpy().astype("datetime64[D]")
    mids = sunk["member_id"].to_numpy()
    pool_size = np.searchsorted(reg, days, side="right")
    rows_d, rows_c, rows_m, rows_h = [], [], [], []
    truth = {}
    for c in communities.itertuples():
        base = DUTY_BY_STREET[c.parent_id]
        year_idx = (days.astype("datetime64[Y]").astype(int) + 1970 - years[0]).clip(0, 2)
        p = np.array(base)[year_idx] * rng.uniform(0.92, 1.0)
        epidemic = (days >= _day("2020-01-27")) & (days <= _day("2020-04-30"))
        p = np.where(epidemic, 1.0, p)
        p = np.where(pool_size > 0, p, 0.0)
        on = rng.random(len(days)) < p
        truth[c.unit_id] = float(on.mean())
        k = 1 + rng.poisson(0.5, on.sum())
        d_rep = np.repeat(days[on], k)
        ps = np.repeat(pool_size[on], k)
        m = mids[(rng.random(len(d_rep)) * ps).astype(int)]
        rows_d.append(d_rep)
        rows_c.append(np.full(len(d_rep), c.unit_id, dtype=object))
        rows_m.append(m)
        rows_h.append(np.where(rng.random(len(d_rep)) < 0.85, 8.0, 4.0))
    df = pd.DataFrame({"date": np.concatenate(rows_d), "community_id": np.concatenate(rows_c),
                       "member_id": np.concatenate(rows_m), "hours": np.concatenate(rows_h)})
    df = df.drop_duplicates(["date", "community_id", "member_id"])
    df = df.sort_values(["date", "community_id", "member_id"]).reset_index(drop=True)
    df["date"] = _dates_frame(df["date"].to_numpy())
    return df, truth


#: share of rule periods with at least one meeting, by street (quarterly, monthly, weekly rules)
MEETING_COMPLIANCE = {
    "big_committee_joint": {"S01": 0.95, "S02": 0.85, "S03": 0.75, "S04": 0.6},
    "three_party": {"S01": 0.85, "S02": 0.75, "S03": 0.65, "S04": 0.5},
    "resident_deliberation": {"S01": 0.85, "S02": 0.75, "S03": 0.7, "S04": 0.55},
}


def make_meetings(rng: np.random.Generator, years: list[int], communities: pd.DataFrame, compounds: pd.DataFrame,
                  orgs: pd.DataFrame, milestones: pd.DataFrame) -> pd.DataFrame:
    """Meetings: big-committee joint (quarterly rule), three-party (monthly), deliberation (weekly)."""
    rows = []
    big_start = orgs[orgs["org_type"] == "community_committee"].set_index("unit_id")["established"]
    oc = milestones[milestones["milestone"] == "owners_committee"]
    oc_comp = compounds[compounds["compound_id"].isin(oc["compound_id"])]
    start, end = _day(f"{years[0]}-01-01"), _day(f"{years[-1]}-12-31")
    for c in communities.itertuples():
        s = c.parent_id
        # big-committee joint meetings: from the committee's formation, quarterly
        first = np.datetime64(big_start[c.unit_id], "D")
        if c.name_zh == "阳光社区":
            rows.append((c.unit_id, None, "big_committee_joint", _day("2020-11-20")))
            first = _day("2021-01-01")
        for q in pd.period_range(pd.Timestamp(first), pd.Timestamp(end), freq="Q"):
            if rng.random() < MEETING_COMPLIANCE["big_committee_joint"][s] * rng.uniform(0.9, 1.05):
                lo = max(np.datetime64(q.start_time.date(), "D"), first)
                hi = np.datetime64(q.end_time.date(), "D")
                rows.append((c.unit_id, None, "big_committee_joint", lo + int(rng.integers(0, int((hi - lo) / D) + 1)) * D))
        # three-party meetings: monthly, in communities with owners committees, from mid-2019
        comps = oc_comp.loc[oc_comp["community_id"] == c.unit_id, "compound_id"].to_numpy()
        if len(comps):
            p_comm = MEETING_COMPLIANCE["three_party"][s] * rng.uniform(0.8, 1.1)
            for m in pd.period_range(f"{years[0]}-07", f"{years[-1]}-12", freq="M"):
                ramp = 0.6 if m.year == years[0] else 1.0
                for _ in range(1 + int(rng.random() < 0.15)):
                    if rng.random() < min(p_comm * ramp, 0.99):
                        day = _day(str(m.start_time.date())) + int(rng.integers(0, m.days_in_month)) * D
                        rows.append((c.unit_id, str(rng.choice(comps)), "three_party", day))
        # resident deliberation: weekly, improving over the years
        p_w = MEETING_COMPLIANCE["resident_deliberation"][s] * rng.uniform(0.8, 1.1)
        # ISO weeks (Monday to Sunday), as the weekly rule is evaluated
        monday = start - int((start.astype("datetime64[D]").view("int64") - 4) % 7) * D
        weeks = np.arange(monday, end + D, 7 * D)
        trend = np.where(weeks < _day(f"{years[0] + 1}-01-01"), 0.75, np.where(weeks < _day(f"{years[0] + 2}-01-01"), 0.95, 1.05))
        held = rng.random(len(weeks)) < np.minimum(p_w * trend, 0.99)
        for w in weeks[held]:
            rows.append((c.unit_id, None, "resident_deliberation", w + int(rng.integers(0, 7)) * D))
    df = pd.DataFrame(rows, columns=["unit_id", "compound_id", "meeting_type", "date"])
    df = df[(df["date"] >= start) & (df["date"] <= end)].copy()
    n = len(df)
    raised = 1 + rng.poisson(2.5, n)
    p_res = np.where(df["meeting_type"].eq("resident_deliberation"), 0.7, 0.8)
    df["attendees"] = 6 + rng.poisson(12, n)
    df["issues_raised"] = raised
    df["issues_resolved"] = rng.binomial(raised, p_res)
    df = df.sort_values(["date", "unit_id", "meeting_type"], kind="stable").reset_index(drop=True)
    df.insert(0, "meeting_id", [f"MT{i + 1:06d}" for i in range(n)])
    df["date"] = _dates_frame(df["date"].to_numpy().astype("datetime64[D]"))
    return df


def make_staffing(rng: np.random.Generator, fig: Figures, years: list[int], communities: pd.DataFrame) -> pd.DataFrame:
    """Community-worker quota, hires and reserves; 2020 totals are the article's 546 / 477 / 40."""
    pop = communities["population"].to_numpy().astype(float)
    totals = {2019: (520, 431, 24), 2020: (fig["community_worker_quota"], fig["community_workers_hired"], fig["community_worker_reserves"]), 2021: (546, 506, 37)}
    rows = []
    for y in years:
        q_tot, h_tot, r_tot = totals.get(y, totals[2021])
        quota = split_total(rng, q_tot, pop, minimum=8)
        # hires below quota, unevenly; exact total
        fill = rng.beta(8, 1.6, len(pop))
        hired = split_total(rng, h_tot, quota * fill, minimum=0)
        hired = np.minimum(hired, quota)
        diff = h_tot - hired.sum()
        i = 0
        while diff != 0:  # restore the exact total after capping
            j = i % len(hired)
            if diff > 0 and hired[j] < quota[j]:
                hired[j] += 1
                diff -= 1
            elif diff < 0 and hired[j] > 0:
                hired[j] -= 1
                diff += 1
            i += 1
        reserves = split_total(rng, r_tot, np.ones(len(pop)))
        for c, q, h, r in zip(communities["unit_id"], quota, hired, reserves):
            rows.append({"community_id": c, "year": y, "quota": int(q), "hired": int(h), "reserves": int(r)})
    return pd.DataFrame(rows)


def make_postings(rng: np.random.Generator, fig: Figures, communities: pd.DataFrame, villages: pd.DataFrame) -> pd.DataFrame:
    """People posted to communities: commissioners, first secretaries, instructors, liaisons."""
    comm = communities["unit_id"].to_numpy()
    streets = np.array([s[0] for s in places.STREETS])
    rows = []

    def post(kind, units, start, end=None):
        for u in units:
            rows.append({"posting_type": kind, "unit_id": u, "start": _day(start) + int(rng.integers(0, 60)) * D,
                         "end": None if end is None else _day(end) + int(rng.integers(0, 30)) * D})

    for kind, key in (("party_building_commissioner", "party_building_commissioners"),
                      ("first_secretary", "first_secretaries"), ("legal_commissioner", "legal_commissioners")):
        n = fig[key]
        post(kind, np.concatenate([comm, rng.choice(streets, n - len(comm))]), "2020-04-01")
    both = np.concatenate([comm, villages["unit_id"].to_numpy()])
    post("public_health_commissioner", rng.choice(both, fig["public_health_commissioners"]), "2020-02-01", "2020-06-01")
    post("party_building_instructor", rng.choice(comm, fig["party_building_instructors"], replace=False), "2020-05-01")
    liaison = list(rng.choice(comm[comm != "C00"], fig["district_leaders_sunk"] - 1, replace=False))
    wangwan = communities.loc[communities["name_zh"] == "王湾社区", "unit_id"].iloc[0]
    if wangwan in liaison:
        liaison.remove(wangwan)
        liaison.append(str(rng.choice(np.setdiff1d(comm, liaison + [wangwan]))))
    post("district_leader_liaison", [wangwan] + liaison, "2020-03-01")
    post("stationed_unit_leader", rng.choice(comm, fig["stationed_unit_leaders_part_time"] + int(rng.integers(3, 40))), "2020-06-01")
    df = pd.DataFrame(rows)
    df.insert(0, "posting_id", [f"P{i + 1:05d}" for i in range(len(df))])
    df["start"] = _dates_frame(df["start"].to_numpy().astype("datetime64[D]"))
    df["end"] = _dates_frame(pd.to_datetime(df["end"]).to_numpy().astype("datetime64[D]"))
    return df


def make_volunteers(rng: np.random.Generator, fig: Figures, years: list[int], communities: pd.DataFrame,
                    villages: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registered volunteers (50,511 by end 2020) and their hours per year."""
    units = pd.concat([communities[["unit_id", "population"]], villages[["unit_id", "population"]]])
    pop = units["population"].to_numpy().astype(float)
    n_2020 = fig["registered_volunteers"]
    n_2021 = 5210
    n = n_2020 + n_2021
    where = rng.choice(units["unit_id"].to_numpy(), n, p=pop / pop.sum())
    reg = np.concatenate([
        np.where(rng.random(n_2020) < 0.45, uniform_dates(rng, "2020-01-25", "2020-12-31", n_2020),
                 uniform_dates(rng, "2015-01-01", "2019-12-31", n_2020)),
        uniform_dates(rng, "2021-01-01", "2021-12-31", n_2021),
    ])
    vol = pd.DataFrame({"volunteer_id": [f"V{i:07d}" for i in rng.permutation(np.arange(1000000, 1000000 + n))],
                        "community_id": where, "registered_on": _dates_frame(reg),
                        "party_member": pd.array(rng.random(n) < 0.12, dtype="boolean")})
    vol = vol.sort_values("volunteer_id").reset_index(drop=True)
    hrows = []
    reg_year = vol["registered_on"].dt.year.to_numpy()
    for y in years:
        active = (reg_year <= y) & (rng.random(n) < (0.55 if y != 2020 else 0.7))
        hours = np.round(rng.gamma(1.4, 9.0 if y != 2020 else 14.0, active.sum()) + 1, 1)
        hrows.append(pd.DataFrame({"volunteer_id": vol["volunteer_id"].to_numpy()[active], "year": y, "hours": hours}))
    hours = pd.concat(hrows, ignore_index=True).sort_values(["volunteer_id", "year"]).reset_index(drop=True)
    return vol, hours


def make_facilities(rng: np.random.Generator, fig: Figures, communities: pd.DataFrame, villages: pd.DataFrame,
                    compounds: pd.DataFrame, facts: dict) -> pd.DataFrame:
    """Service centres, rural centres, party complexes, community rooms, volunteer stations, venues."""
    rows = []

    def add(unit, ftype, area, opened, compound=None, upgraded=None, investment=None):
        rows.append({"unit_id": unit, "compound_id": compound, "facility_type": ftype, "area_m2": area,
                     "opened": opened, "upgraded": upgraded, "investment_yuan": investment})

    # community service centres: area per 100 households is uneven around the 30 m2 target
    for c in communities.itertuples():
        per100 = rng.uniform(12, 45)
        opened = _day("2005-01-01") + int(rng.integers(0, 14 * 365)) * D
        if c.name_zh == "家和苑社区":  # moved from a 280 m2 basement to a new centre in 2020
            opened = _day("2020-09-15")
        add(c.unit_id, "service_centre", round(c.households / 100 * per100, 0), opened)
    # rural centres: 36 upgraded in 2020
    up = np.zeros(len(villages), dtype=bool)
    up[choose(rng, np.arange(len(villages)), fig["rural_service_centres_upgraded"])] = True
    for v, u in zip(villages.itertuples(), up):
        add(v.unit_id, "service_centre", float(rng.integers(150, 500)), _day("2008-01-01") + int(rng.integers(0, 3000)) * D,
            upgraded=(_day("2020-03-01") + int(rng.integers(0, 280)) * D) if u else None)
    # party-building complexes: 16, "more than 8 million yuan"
    n_cx = fig["party_building_complexes"]
    invest = split_total(rng, fig["party_complex_investment_yuan"] + int(rng.integers(100000, 900000)), rng.uniform(0.5, 1.5, n_cx))
    hosts = np.concatenate([rng.choice(villages["unit_id"].to_numpy(), 10, replace=False),
                            rng.choice(communities["unit_id"].to_numpy(), n_cx - 10, replace=False)])
    for h, inv in zip(hosts, invest):
        add(h, "party_complex", float(rng.integers(300, 1200)), _day("2020-05-01") + int(rng.integers(0, 220)) * D, investment=float(inv))
    # community rooms handed over by "more than thirty" real-estate projects: "more than 6,700 m2"
    n_rooms = fig["real_estate_projects_rooms_transferred"] + int(rng.integers(1, 6))
    area = split_total(rng, fig["community_service_space_m2"] + int(rng.integers(10, 95)), rng.uniform(0.5, 1.5, n_rooms))
    for a in area:
        add(str(rng.choice(communities["unit_id"].to_numpy())), "community_room", float(a), _day("2020-03-01") + int(rng.integers(0, 290)) * D)
    # Lei Feng volunteer stations: "more than 300"
    n_st = fig["volunteer_stations"] + int(rng.integers(5, 40))
    both = np.concatenate([communities["unit_id"].to_numpy(), villages["unit_id"].to_numpy()])
    for _ in range(n_st):
        add(str(rng.choice(both)), "volunteer_station", float(rng.integers(15, 80)), _day("2018-03-05") + int(rng.integers(0, 1000)) * D)
    # compound branch venues (milestone branch_venue)
    comm_of = compounds["community_id"].to_numpy()
    ids = compounds["compound_id"].to_numpy()
    for j, d in zip(facts["venue"], facts["venue_date"]):
        add(comm_of[j], "branch_venue", float(rng.integers(20, 120)), d, compound=ids[j])
    df = pd.DataFrame(rows)
    df.insert(0, "facility_id", [f"F{i + 1:05d}" for i in range(len(df))])
    for col in ("opened", "upgraded"):
        df[col] = _dates_frame(pd.to_datetime(df[col]).to_numpy().astype("datetime64[D]"))
    return df


def make_funding(fig: Figures, years: list[int], communities: pd.DataFrame, villages: pd.DataFrame) -> pd.DataFrame:
    """Work funding per community (300,000 yuan a year from 2020) and village (80,000), special fund."""
    rows = []
    comm_2020, vill_2020 = fig["community_work_fund_yuan_per_year"], fig["village_work_fund_yuan_per_year"]
    for y in years:
        c_amt = comm_2020 if y >= 2020 else 180000
        v_amt = vill_2020 if y >= 2020 else 50000
        rows += [{"unit_id": c, "year": y, "source": "district", "purpose": "work_fund", "amount_yuan": float(c_amt)} for c in communities["unit_id"]]
        rows += [{"unit_id": v, "year": y, "source": "district", "purpose": "work_fund", "amount_yuan": float(v_amt)} for v in villages["unit_id"]]
    if 2020 in years:
        rows.append({"unit_id": "ZW", "year": 2020, "source": "district", "purpose": "governance_special_fund",
                     "amount_yuan": float(fig["governance_special_fund_yuan"])})
    return pd.DataFrame(rows)
