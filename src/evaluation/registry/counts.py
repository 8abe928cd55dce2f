"""Registry indicators: coverage, participation and support counts at every level and any date.

The article's claims are coverage claims ("every compound has a party branch", "more than 60 %
of compounds run red property", "92 % of owners committees are party-led"). This module computes
them from the registries of a dataset (DESIGN.md section 3), as of any date, from the start and
end dates of each arrangement, never from a static flag:

* *stock* indicators are counted **as of a date** (default: 31 December of the year, or the data
  cut-off if earlier). A compound milestone is in force on day ``d`` when
  ``date <= d`` and (``ended`` is missing or ``ended > d``); a building group exists from
  ``party_group_since``; a party organisation from ``established`` until ``dissolved``.
* *flow* indicators are counted **over the calendar year** (duty coverage, meeting cadence,
  deliberation outcomes, volunteer hours, funding), see :mod:`evaluation.registry.cadence`.

Each indicator is a numerator and a denominator counted per base unit (compound, community or
the district) and summed up the hierarchy (:mod:`evaluation.registry.rollup`): a district value is the
pooled ratio, never an average of community ratios. The registries are complete counts, not
samples, so there is no sampling interval (``ci_low`` / ``ci_high`` missing).

Definitions, units, directions and targets come from the catalogue (:mod:`evaluation.catalog`).

Choices documented here because the article does not fix them:

* Service space (``sup.service_space_per_100hh``) counts facilities of the types in
  :data:`SERVICE_SPACE_TYPES` (community service centres, community rooms handed over by
  real-estate projects, party-building complexes) located in an urban community; the Hubei
  standard is about community comprehensive service facilities, so compound branch venues and
  volunteer stations (posts, usually not dedicated space) are left out.
* Double registration is a district-level indicator: the registry records the member's employer
  and home compound, not the community they registered with, and many registered members live
  outside the district's compounds.
* Worker indicators use the ``staffing`` row of the year; communities without a row for the year
  count in neither numerator nor denominator.
"""


from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.calendar import WorkCalendar
from evaluation.dataset.units import UnitTree
from evaluation.periods import in_force
from evaluation.registry.cadence import RULE_WORDS, RULES, cadence_counts, duty_counts

#: facility types that count as community service space (see the module docstring)
SERVICE_SPACE_TYPES = ("service_centre", "community_room", "party_complex")


# --------------------------------------------------------------------------- helpers


def _table(ds: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    """The table ``name`` of ``ds``, or ``None`` when the dataset has none."""
    return ds[name] if name in ds else None


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else pd.to_datetime(s)


def milestone_in_force(milestones: pd.DataFrame | None, milestone: str, as_of) -> set[str]:
    """Compound ids with ``milestone`` in force on ``as_of`` (any of its rows)."""
    if milestones is None or len(milestones) == 0:
        return set()
    m = milestones[milestones["milestone"].eq(milestone)]
    ended = m["ended"] if "ended" in m.columns else None
    return set(m.loc[in_force(m["date"], ended, as_of), "compound_id"].astype("str"))


def default_as_of(year: int, cutoff=None) -> pd.Timestamp:
    """31 December of ``year``, or the data cut-off (as a naive local date) when earlier."""
    end = pd.Timestamp(year, 12, 31)
    if cutoff is not None:
        c = pd.Timestamp(cutoff)
        c = c.tz_localize(None) if c.tzinfo is not None else c
        if c.normalize() < end:
            return c.normalize()
    return end


def _base(ids, numerator, denominator, n=None) -> pd.DataFrame:
    ids = pd.Index(ids, dtype="str")
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    return pd.DataFrame({"unit_id": ids, "numerator": num, "denominator": den,
                         "n": den if n is None else np.asarray(n, dtype=float)})


# --------------------------------------------------------------------------- base counts


@dataclass(frozen=True)
class BaseCounts:
    """Numerator and denominator per base unit for one indicator, before the roll-up."""

    indicator: str
    base: pd.DataFrame
    kind: str  # "stock" or "flow"
    note: str = ""
    flags: str = ""


def _compound_counts(ds, tree: UnitTree, as_of) -> list[BaseCounts]:
    comp = _table(ds, "compounds")
    if comp is None or len(comp) == 0:
        return []
    ms = _table(ds, "compound_milestones")
    ids = comp["compound_id"].astype("str")
    hh = comp["households"].astype("float64").fillna(0).to_numpy()
    has = {m: ids.isin(milestone_in_force(ms, m, as_of)).to_numpy()
           for m in ("party_branch", "branch_six_haves", "branch_venue", "red_property",
                     "owners_committee", "party_led_owners_committee")}
    one = np.ones(len(ids))
    out = [
        BaseCounts("org.compound_branch_coverage", _base(ids, has["party_branch"], one), "stock"),
        BaseCounts("org.branch_standardisation",
                   _base(ids, has["party_branch"] & has["branch_six_haves"], has["party_branch"]), "stock"),
        BaseCounts("org.branch_venue_coverage", _base(ids, has["branch_venue"], one), "stock"),
        BaseCounts("par.red_property_coverage", _base(ids, has["red_property"], one), "stock"),
        # n = compounds: the households variant rests on the same compounds
        BaseCounts("par.red_property_coverage.households", _base(ids, hh * has["red_property"], hh, one), "stock"),
        BaseCounts("par.owners_committee_coverage", _base(ids, has["owners_committee"], one), "stock"),
        BaseCounts("par.party_led_oc_coverage",
                   _base(ids, has["owners_committee"] & has["party_led_owners_committee"], has["owners_committee"]),
                   "stock"),
    ]
    b = _table(ds, "buildings")
    if b is not None:
        grp = in_force(b["party_group_since"], None, as_of)
        g = pd.DataFrame({"unit_id": b["compound_id"].astype("str"), "numerator": grp.astype(float), "denominator": 1.0})
        g = g.groupby("unit_id").sum().reindex(pd.Index(ids, name="unit_id"), fill_value=0.0).reset_index()
        g["n"] = g["denominator"]
        out.append(BaseCounts("org.building_group_coverage", g, "stock"))
    return out


def _community_stock_counts(ds, tree: UnitTree, year: int, as_of) -> list[BaseCounts]:
    units = ds["units"]
    urban = units[units["unit_type"].eq("community")]
    cids = urban["unit_id"].astype("str")
    out = []
    orgs = _table(ds, "party_orgs")
    if orgs is not None:
        o = orgs[orgs["org_type"].eq("community_committee")]
        o = o[in_force(o["established"], o["dissolved"], as_of)]
        out.append(BaseCounts("org.big_committee_coverage", _base(cids, cids.isin(set(o["unit_id"].astype("str"))),
                                                                  np.ones(len(cids))), "stock"))
    members = _table(ds, "party_members")
    district = tree.units("district")
    if members is not None and len(district) == 1:
        ins = members["in_service"].fillna(False).astype(bool).to_numpy()
        reg = in_force(members["registered_on"], None, as_of)
        out.append(BaseCounts("org.double_registration_rate",
                              _base(district, [float((ins & reg).sum())], [float(ins.sum())]), "stock"))
    vol = _table(ds, "volunteers")
    base_units = units[units["unit_type"].isin(("community", "village"))]
    bids = base_units["unit_id"].astype("str")
    pop = base_units["population"].astype("float64").to_numpy()
    if vol is not None:
        v = vol[in_force(vol["registered_on"], None, as_of)]
        by_unit = v.groupby(v["community_id"].astype("str")).size()
        cnt = by_unit.reindex(bids, fill_value=0)
        elsewhere = int(by_unit.sum() - cnt.sum())
        note = f"{elsewhere:,} volunteers registered with other units not counted" if elsewhere else ""
        out.append(BaseCounts("par.volunteers_per_1000", _base(bids, cnt.to_numpy(), pop, np.ones(len(bids))), "stock",
                              note=note))
    staff = _table(ds, "staffing")
    if staff is not None:
        s = staff[staff["year"].astype("Int64").eq(year).fillna(False)]
        s = s.groupby(s["community_id"].astype("str"))[["quota", "hired"]].sum()
        s = s.reindex(cids)
        has_row = s["quota"].notna().to_numpy()
        hired = s["hired"].astype("float64").fillna(0).to_numpy()
        quota = s["quota"].astype("float64").fillna(0).to_numpy()
        cpop = urban["population"].astype("float64").fillna(0).to_numpy() * has_row
        out.append(BaseCounts("sup.worker_quota_fill", _base(cids, hired, quota, has_row), "stock",
                              note=f"staffing of {year}"))
        out.append(BaseCounts("sup.workers_per_10k", _base(cids, hired, cpop, has_row), "stock",
                              note=f"staffing of {year}"))
    fac = _table(ds, "facilities")
    if fac is not None:
        f = fac[fac["facility_type"].isin(SERVICE_SPACE_TYPES) & in_force(fac["opened"], None, as_of)]
        in_comm = f["unit_id"].astype("str").isin(set(cids)).to_numpy()
        outside = int((~in_comm).sum())
        f = f[in_comm]
        area = f.groupby(f["unit_id"].astype("str"))["area_m2"].sum().reindex(cids, fill_value=0.0)
        hh = urban["households"].astype("float64").fillna(0).to_numpy()
        note = "facility types " + ", ".join(SERVICE_SPACE_TYPES)
        if outside:
            note += f"; {outside} such facilities outside urban communities not counted"
        out.append(BaseCounts("sup.service_space_per_100hh", _base(cids, area.to_numpy(), hh, np.ones(len(cids))),
                              "stock", note=note))
    return out


def _flow_counts(ds, tree: UnitTree, year: int, calendar: WorkCalendar, until) -> list[BaseCounts]:
    units = ds["units"]
    urban = units[units["unit_type"].eq("community")]
    cids = pd.Index(urban["unit_id"].astype("str"))
    out = []
    flags = "partial_year" if until is not None and pd.Timestamp(until) < pd.Timestamp(year, 12, 31) else ""
    roster = _table(ds, "duty_roster")
    if roster is not None:
        base = duty_counts(roster, _table(ds, "party_members"), cids, year, calendar, until)
        out.append(BaseCounts("org.weekday_duty_coverage", base, "flow", note=calendar.name, flags=flags))
    meetings = _table(ds, "meetings")
    if meetings is not None:
        bodies: dict[str, pd.DataFrame | None] = {"resident_deliberation": None}
        orgs = _table(ds, "party_orgs")
        if orgs is not None:
            o = orgs[orgs["org_type"].eq("community_committee")]
            bodies["big_committee_joint"] = pd.DataFrame({"community_id": o["unit_id"].astype("str"),
                                                          "date": _dates(o["established"]), "ended": _dates(o["dissolved"])})
        ms, comp = _table(ds, "compound_milestones"), _table(ds, "compounds")
        if ms is not None and comp is not None:
            oc = ms[ms["milestone"].eq("owners_committee")]
            comm_of = dict(zip(comp["compound_id"].astype("str"), comp["community_id"].astype("str")))
            ended = _dates(oc["ended"]) if "ended" in oc.columns else pd.Series(pd.NaT, index=oc.index)
            bodies["three_party"] = pd.DataFrame({"community_id": oc["compound_id"].astype("str").map(comm_of),
                                                  "date": _dates(oc["date"]), "ended": ended})
        counts = cadence_counts(meetings, cids, year, calendar, bodies, until)
        for mtype, base in counts.items():
            rule = RULE_WORDS[RULES[mtype]]
            missing_body = mtype not in bodies
            out.append(BaseCounts(f"dem.meeting_cadence_compliance.{mtype}", base, "flow",
                                  note=f"{rule} rule" + ("; body table missing, every period due" if missing_body else ""),
                                  flags=";".join(x for x in (flags, "table_missing" if missing_body else "") if x)))
        total = pd.concat(counts.values()).groupby("unit_id", sort=False).sum().reindex(cids).reset_index()
        out.append(BaseCounts("dem.meeting_cadence_compliance", total, "flow", note="quarterly, monthly and weekly rules pooled",
                              flags=flags))
        m = meetings[_dates(meetings["date"]).dt.year.eq(year).to_numpy()]
        m = m[m["issues_raised"].notna() & m["issues_resolved"].notna()]
        g = m.groupby(m["unit_id"].astype("str")).agg(numerator=("issues_resolved", "sum"),
                                                         denominator=("issues_raised", "sum"), n=("meeting_id", "size"))
        g = g[g.index.isin(tree.lineage.index)].astype("float64").reset_index()
        out.append(BaseCounts("dem.deliberation_resolution_share", g, "flow", flags=flags))
    vol, hours = _table(ds, "volunteers"), _table(ds, "volunteer_hours")
    base_units = units[units["unit_type"].isin(("community", "village"))]
    bids = base_units["unit_id"].astype("str")
    if vol is not None and hours is not None:
        h = hours[hours["year"].astype("Int64").eq(year).fillna(False)]
        pos = pd.Index(vol["volunteer_id"].astype("str")).get_indexer(h["volunteer_id"].astype("str"))
        home = pd.Series(vol["community_id"].astype("str").to_numpy()[pos], index=h.index).where(pos >= 0)
        per_unit = h.groupby(home)["hours"].sum().reindex(bids, fill_value=0.0)
        pop = base_units["population"].astype("float64").to_numpy()
        out.append(BaseCounts("par.volunteer_hours_per_capita", _base(bids, per_unit.to_numpy(), pop, np.ones(len(bids))),
                              "flow", flags=flags))
    fund = _table(ds, "funding")
    if fund is not None:
        f = fund[fund["year"].astype("Int64").eq(year).fillna(False)]
        amount = f.groupby(f["unit_id"].astype("str"))["amount_yuan"].sum()
        for iid, utype in (("sup.funding_per_community", "community"), ("sup.funding_per_village", "village")):
            ids = units.loc[units["unit_type"].eq(utype), "unit_id"].astype("str")
            out.append(BaseCounts(iid, _base(ids, amount.reindex(ids, fill_value=0.0).to_numpy(), np.ones(len(ids))),
                                  "flow", note=f"allocations to {utype} units; district and street allocations excluded"))
    return out


#: indicators counted by each group of base counts (lets a restricted call skip the others)
_COMPOUND_IDS = frozenset({
    "org.compound_branch_coverage", "org.branch_standardisation", "org.branch_venue_coverage",
    "par.red_property_coverage", "par.red_property_coverage.households", "par.owners_committee_coverage",
    "par.party_led_oc_coverage", "org.building_group_coverage"})
_COMMUNITY_STOCK_IDS = frozenset({
    "org.big_committee_coverage", "org.double_registration_rate", "par.volunteers_per_1000",
    "sup.worker_quota_fill", "sup.workers_per_10k", "sup.service_space_per_100hh"})


def base_counts(ds: Mapping[str, pd.DataFrame], year: int, as_of=None, calendar: WorkCalendar | None = None,
                cutoff=None, tree: UnitTree | None = None, indicators: Iterable[str] | None = None) -> list[BaseCounts]:
    """Numerators and denominators of every registry indicator per base unit (before roll-up).

    With ``indicators``, groups of counts that hold none of them are not computed (the result
    may still hold other indicators of the groups that are).
    """
    tree = tree or UnitTree.from_dataset(ds)
    cutoff = cutoff if cutoff is not None else getattr(ds, "cutoff", None)
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else default_as_of(year, cutoff)
    until = None
    if cutoff is not None:
        c = pd.Timestamp(cutoff)
        until = (c.tz_localize(None) if c.tzinfo is not None else c).normalize()
        if until >= pd.Timestamp(year, 12, 31):
            until = None
    wanted = None if indicators is None else set(indicators)
    out: list[BaseCounts] = []
    if wanted is None or wanted & _COMPOUND_IDS:
        out += _compound_counts(ds, tree, as_of)
    if wanted is None or wanted & _COMMUNITY_STOCK_IDS:
        out += _community_stock_counts(ds, tree, year, as_of)
    if wanted is None or wanted - _COMPOUND_IDS - _COMMUNITY_STOCK_IDS:
        out += _flow_counts(ds, tree, year, calendar or WorkCalendar.china([year]), until)
    return out
