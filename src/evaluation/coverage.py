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
  deliberation outcomes, volunteer hours, funding), see :mod:`evaluation.cadence`.

Each indicator is a numerator and a denominator counted per base unit (compound, community or
the district) and summed up the hierarchy (:mod:`evaluation.rollup`): a district value is the
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

from evaluation import catalog
from evaluation.cadence import RULE_WORDS, RULES, cadence_counts, duty_counts
from evaluation.calendar import WorkCalendar
from evaluation.results import IndicatorResult, add_flag, indicator_frame
from evaluation.rollup import LEVELS, UnitTree, rollup_long

#: facility types that count as community service space (see the module docstring)
SERVICE_SPACE_TYPES = ("service_centre", "community_room", "party_complex")


# --------------------------------------------------------------------------- helpers


def _table(ds: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    return ds[name] if name in ds else None


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else pd.to_datetime(s)


def in_force(starts: pd.Series, ends: pd.Series | None, as_of) -> np.ndarray:
    """Is an arrangement with these start and (optional) end dates in force on ``as_of``?

    In force on day ``d`` when ``start <= d`` and (``end`` missing or ``end > d``): the end date
    is the first day it no longer holds.
    """
    d = pd.Timestamp(as_of).normalize()
    s = _dates(starts)
    ok = (s <= d).fillna(False).to_numpy(dtype=bool)
    if ends is not None:
        e = _dates(ends)
        ok = ok & (e.isna() | (e > d)).to_numpy(dtype=bool)
    return ok


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
        where = dict(zip(vol["volunteer_id"].astype("str"), vol["community_id"].astype("str")))
        per_unit = h.groupby(h["volunteer_id"].astype("str").map(where))["hours"].sum().reindex(bids, fill_value=0.0)
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


# --------------------------------------------------------------------------- results


class RegistryIndicators(IndicatorResult):
    """Registry indicators of one year at one or more levels (a results object).

    ``.table`` is the tidy indicator table; ``.value(indicator, unit_id)`` one number;
    ``.plot(indicator, level)`` a bar chart of the units with the target line.
    """

    def summary(self, lang: str = "en") -> str:
        """Title, method and notes, then the district value of each indicator with its counts."""
        lines = [super().summary(), ""]
        d = self.table[self.table["level"].eq("district")]
        for r in d.itertuples(index=False):
            e = catalog.get(r.indicator)
            if pd.isna(r.value):
                val = "missing"
            elif e.unit == "share":
                val = f"{r.value:.1%}"
            else:
                val = f"{r.value:,.0f}" if abs(r.value) >= 1000 else f"{r.value:.4g}"
            counts = f"{r.numerator:,.0f} / {r.denominator:,.0f}" if e.unit != "yuan" else f"{r.numerator:,.0f} yuan / {r.denominator:,.0f}"
            lines.append(f"  {e.label(lang)}: {val} ({counts}; {r.period})" + (f" [{r.flags}]" if r.flags else ""))
        return "\n".join(lines).rstrip()

    def value(self, indicator: str, unit_id: str | None = None, level: str | None = None) -> float:
        """The value of ``indicator`` for ``unit_id`` (default: the district)."""
        t = self.table[self.table["indicator"].eq(indicator)]
        if level is not None:
            t = t[t["level"].eq(level)]
        t = t[t["unit_id"].eq(unit_id)] if unit_id is not None else t[t["level"].eq("district")]
        if len(t) != 1:
            raise KeyError(f"no single row for indicator {indicator!r}, unit {unit_id!r}, level {level!r}")
        return float(t["value"].iloc[0])

    def row(self, indicator: str, unit_id: str | None = None) -> pd.Series:
        """The tidy row of ``indicator`` for ``unit_id`` (default: the district)."""
        t = self.table[self.table["indicator"].eq(indicator)]
        t = t[t["unit_id"].eq(unit_id)] if unit_id is not None else t[t["level"].eq("district")]
        if len(t) != 1:
            raise KeyError(f"no single row for indicator {indicator!r}, unit {unit_id!r}")
        return t.iloc[0]

    def wide(self, lang: str = "en") -> pd.DataFrame:
        """One row per unit, one column per indicator (labelled in ``lang``)."""
        t = self.table
        w = t.pivot_table(index=["level", "unit_id"], columns="indicator", values="value", sort=False)
        w.columns = [catalog.label(c, lang) for c in w.columns]
        return w

    def scorecard(self, previous: RegistryIndicators | pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                  year: int | None = None, lang: str = "en"):
        """Set these values against their targets and ``previous`` (see :mod:`evaluation.scorecard`)."""
        from evaluation.scorecard import build_scorecard

        prev = previous.table if isinstance(previous, IndicatorResult) else previous
        return build_scorecard(self.table, prev, targets, year, lang)

    def plot(self, indicator: str, level: str | None = None, ax=None, lang: str = "en"):
        """Horizontal bars of ``indicator`` by unit at ``level``, with the catalogue target as a line."""
        import matplotlib.pyplot as plt

        t = self.table[self.table["indicator"].eq(indicator)]
        if level is None:
            level = next((lv for lv in ("community", "street", "compound", "district") if lv in set(t["level"])), "district")
        t = t[t["level"].eq(level)].sort_values("value")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, max(2.0, 0.22 * len(t) + 1)))
        ax.barh(t["unit_id"], t["value"], color="#4C72B0")
        entry = catalog.get(indicator)
        if entry.target is not None:
            ax.axvline(entry.target.value, color="#C44E52", linestyle="--",
                       label=f"{catalog.message('target', lang)} {entry.target.comparator} {entry.target.value:g}")
            ax.legend(loc="lower right")
        ax.set_xlabel(entry.label(lang))
        ax.set_ylabel(catalog.message(level, lang))
        return ax


def registry_indicators(ds: Mapping[str, pd.DataFrame], year: int, level: str | Iterable[str] = "district",
                        as_of=None, calendar: WorkCalendar | None = None, cutoff=None,
                        indicators: Iterable[str] | None = None) -> RegistryIndicators:
    """Every registry indicator of ``year`` at ``level`` (one level or several).

    Parameters
    ----------
    ds
        A :class:`evaluation.dataset.Dataset` or any mapping table name -> DataFrame with the
        columns of :mod:`evaluation.schema` (missing tables skip their indicators).
    year
        Calendar year of flow indicators; stock indicators are counted as of ``as_of``.
    level
        ``district``, ``street``, ``community``, ``compound`` or a list of them. An indicator is
        reported only at the levels the catalogue defines for it.
    as_of
        Date for stock indicators (default: 31 December of ``year``, or the cut-off if earlier).
    calendar
        Working-day calendar for duty and cadence (default: official Chinese calendar).
    cutoff
        Data cut-off (default: ``ds.cutoff`` when the dataset has one): periods after it are not
        judged and stock indicators are counted as of it when it falls inside ``year``.
    indicators
        Restrict to these ids.

    Returns
    -------
    RegistryIndicators
        ``.table`` in the tidy format (value = scale x numerator / denominator; ``n`` the base
        units or periods counted; ``period`` the as-of date for stocks, the year for flows).
    """
    levels = [level] if isinstance(level, str) else list(level)
    for lv in levels:
        if lv not in LEVELS:
            raise ValueError(f"unknown level {lv!r}; use one of {', '.join(LEVELS)}")
    tree = UnitTree.from_dataset(ds)
    cutoff = cutoff if cutoff is not None else getattr(ds, "cutoff", None)
    as_of_ts = pd.Timestamp(as_of).normalize() if as_of is not None else default_as_of(year, cutoff)
    wanted = set(indicators) if indicators is not None else None
    counts = base_counts(ds, year, as_of_ts, calendar, cutoff, tree, wanted)
    counts = [bc for bc in counts if wanted is None or bc.indicator in wanted]
    meta = {}
    for bc in counts:
        entry = catalog.get(bc.indicator)
        if bc.kind == "stock":
            period = as_of_ts.strftime("%Y-%m-%d")
            method = f"registry count as of {period}"
        else:
            period = str(year)
            method = f"registry count, calendar year {year}"
        if bc.note:
            method += f" ({bc.note})"
        flags = bc.flags
        if bc.kind == "stock" and as_of is None and as_of_ts < pd.Timestamp(year, 12, 31):
            flags = ";".join(x for x in (flags, "as_of_cutoff") if x)
        meta[bc.indicator] = {"entry": entry, "period": period, "method": method, "flags": flags}
    frames = []
    if counts:
        long = pd.concat([bc.base.assign(indicator=bc.indicator) for bc in counts], ignore_index=True)
        for lv in levels:
            ids_here = [i for i, m in meta.items() if lv in m["entry"].levels]
            if not ids_here:
                continue
            part = long[long["indicator"].isin(ids_here)]
            summed = rollup_long(part, tree, lv, {i: meta[i]["entry"].scope for i in ids_here})
            summed["level"] = lv
            frames.append(summed)
    if frames:
        t = pd.concat(frames, ignore_index=True)
        num, den = t["numerator"].astype("float64"), t["denominator"].astype("float64")
        scale = t["indicator"].map({i: m["entry"].scale for i, m in meta.items()}).astype("float64")
        t["value"] = (scale * num / den.where(den > 0)).where(den > 0)
        for col in ("period", "method", "flags"):
            t[col] = t["indicator"].map({i: m[col] for i, m in meta.items()})
        t["flags"] = add_flag(t["flags"].astype("str"), den.to_numpy() <= 0, "zero_denominator")
        table = indicator_frame(t)
    else:
        table = indicator_frame([])
    order = {iid: i for i, iid in enumerate(catalog.CATALOG)}
    level_order = {lv: i for i, lv in enumerate(LEVELS[::-1])}
    table = (table.assign(_i=table["indicator"].map(order), _l=table["level"].map(level_order))
             .sort_values(["_i", "_l", "unit_id"], kind="stable").drop(columns=["_i", "_l"]).reset_index(drop=True))
    notes = [
        "Complete registries: counts, not samples; no sampling interval.",
        "Ratios are pooled up the hierarchy (numerators and denominators summed), never averaged.",
        "A zero denominator gives a missing value flagged zero_denominator.",
    ]
    return RegistryIndicators(table=table, title=f"Registry indicators {year} ({', '.join(levels)})",
                              method=f"registry counts; stocks as of {as_of_ts:%Y-%m-%d}, flows over {year}",
                              notes=notes)


def indicator_provider(ds: Mapping[str, pd.DataFrame], year: int, level: str) -> RegistryIndicators | None:
    """Provider for ``evaluation indicators`` (:mod:`evaluation.indicators`)."""
    if "units" not in ds:
        return None
    return registry_indicators(ds, year, level)


# --------------------------------------------------------------------------- coverage over time
#
# registry_indicators() counts everything as of one date (about 2 s on the bundled district).
# A roll-out figure needs the dated stock indicators at dozens of dates, so they are counted here
# from spells (unit, start, end): each spell adds its weight from the first requested date on or
# after its start and removes it from the first date on or after its end. Sorting the dates once
# and a searchsorted per spell give every date in one pass, O(spells log dates + units x dates).

#: stock indicators that :func:`coverage_over_time` counts from dated starts and ends
DATED_STOCK_INDICATORS = (
    "org.compound_branch_coverage", "org.building_group_coverage", "org.branch_standardisation",
    "org.branch_venue_coverage", "org.big_committee_coverage", "org.double_registration_rate",
    "par.red_property_coverage", "par.red_property_coverage.households", "par.owners_committee_coverage",
    "par.party_led_oc_coverage", "par.volunteers_per_1000", "sup.service_space_per_100hh",
)

_OPEN_NS = np.iinfo(np.int64).max  # end of a spell that has not ended
_NAT_NS = np.iinfo(np.int64).min


def _ns(s) -> np.ndarray:
    """Dates as int64 nanoseconds (naive local dates); NaT is ``iinfo(int64).min``."""
    return _dates(pd.Series(s)).astype("datetime64[ns]").to_numpy().view("i8")


@dataclass(frozen=True)
class _Spells:
    """Spells of an arrangement: base unit (row of ``UnitTree.lineage``, -1 unknown), start and
    end (int64 ns, end exclusive) and weight."""

    unit: np.ndarray
    start: np.ndarray
    end: np.ndarray
    weight: np.ndarray

    @classmethod
    def make(cls, units: pd.Index, unit, start, end=None, weight=None) -> _Spells:
        code = units.get_indexer(pd.Index(pd.Series(unit).astype("str")))
        s = _ns(start)
        e = np.full(len(s), _OPEN_NS, dtype=np.int64) if end is None else _ns(end)
        e = np.where(e == _NAT_NS, _OPEN_NS, e)
        w = np.ones(len(s)) if weight is None else np.asarray(weight, dtype="float64")
        keep = (s != _NAT_NS) & (e > s)  # no start, or ended before it began: never in force
        return cls(code[keep], s[keep], e[keep], w[keep])

    def where(self, mask) -> _Spells:
        m = np.asarray(mask, dtype=bool)
        return _Spells(self.unit[m], self.start[m], self.end[m], self.weight[m])

    def union(self) -> _Spells:
        """Merge overlapping or touching spells of a unit ("any of its rows in force"), weight 1."""
        if len(self.unit) == 0:
            return self
        order = np.lexsort((self.start, self.unit))
        u, s, e = self.unit[order], self.start[order], self.end[order]
        run_end = pd.Series(e).groupby(u).cummax().to_numpy()
        new_unit = np.r_[True, u[1:] != u[:-1]]
        # a spell opens a new block when it starts after every earlier spell of its unit has ended
        new_block = new_unit | np.r_[False, s[1:] > run_end[:-1]]
        first = np.flatnonzero(new_block)
        return _Spells(u[first], s[first], np.maximum.reduceat(e, first), np.ones(len(first)))

    def intersect(self, other: _Spells) -> _Spells:
        """Days on which both hold, per unit; both sides must be unions (disjoint spells)."""
        a = pd.DataFrame({"unit": self.unit, "sa": self.start, "ea": self.end})
        b = pd.DataFrame({"unit": other.unit, "sb": other.start, "eb": other.end})
        p = a.merge(b, on="unit", how="inner")
        s = np.maximum(p["sa"].to_numpy(), p["sb"].to_numpy())
        e = np.minimum(p["ea"].to_numpy(), p["eb"].to_numpy())
        ok = e > s
        return _Spells(p["unit"].to_numpy()[ok], s[ok], e[ok], np.ones(int(ok.sum())))


def _step_counts(spells: _Spells, rows: np.ndarray, n_rows: int, dates_ns: np.ndarray) -> np.ndarray:
    """Weight in force at each date per output row: array ``(n_rows, n_dates)``.

    ``rows[u]`` is the output row of base unit ``u`` (-1: not counted). ``dates_ns`` must be
    sorted. In force on ``d`` when ``start <= d < end``: the spell adds its weight at the first
    date on or after its start and removes it at the first date on or after its end.
    """
    n_dates = len(dates_ns)
    width = n_dates + 1
    t = np.where(spells.unit >= 0, rows[np.clip(spells.unit, 0, None)], -1) if len(rows) else spells.unit * 0 - 1
    ok = t >= 0
    t, w = t[ok], spells.weight[ok]
    on = np.searchsorted(dates_ns, spells.start[ok], side="left")
    off = np.searchsorted(dates_ns, spells.end[ok], side="left")
    size = n_rows * width
    delta = (np.bincount(t * width + on, weights=w, minlength=size)
             - np.bincount(t * width + off, weights=w, minlength=size))
    return np.cumsum(delta.reshape(n_rows, width), axis=1)[:, :n_dates]


@dataclass(frozen=True)
class _Static:
    """A count that does not change over time: base units (lineage rows) and weights."""

    unit: np.ndarray
    weight: np.ndarray | None = None

    def counts(self, rows: np.ndarray, n_rows: int, n_dates: int) -> np.ndarray:
        t = np.where(self.unit >= 0, rows[np.clip(self.unit, 0, None)], -1)
        w = np.ones(len(t)) if self.weight is None else self.weight
        ok = t >= 0
        col = np.bincount(t[ok], weights=w[ok], minlength=n_rows)
        return np.repeat(col[:, None], n_dates, axis=1)


@dataclass(frozen=True)
class _DatedCounts:
    """Numerator, denominator and n of one indicator over time at base-unit resolution."""

    indicator: str
    num: _Spells
    den: _Spells | _Static
    n: _Spells | _Static | None = None  # None: n = denominator
    notes: tuple[str, ...] | None = None  # method note per date (None: none)


def _dated_counts(ds, tree: UnitTree, wanted: set[str], dates_ns: np.ndarray) -> list[_DatedCounts]:
    lin = tree.lineage
    units_index = lin.index
    code = lambda ids: units_index.get_indexer(pd.Index(pd.Series(ids).astype("str")))  # noqa: E731
    out: list[_DatedCounts] = []
    comp = _table(ds, "compounds")
    if comp is not None and len(comp):
        comp_codes = code(comp["compound_id"])
        hh = comp["households"].astype("float64").fillna(0).to_numpy()
        is_compound = lin["level"].eq("compound").to_numpy()
        compounds = _Static(comp_codes)
        ms = _table(ds, "compound_milestones")
        by_name = dict(tuple(ms.groupby("milestone", sort=False))) if ms is not None and len(ms) else {}

        def milestone(name: str) -> _Spells:
            m = by_name.get(name)
            if m is None:
                return _Spells(*(np.zeros(0, dtype=np.int64),) * 3, np.zeros(0))
            sp = _Spells.make(units_index, m["compound_id"], m["date"], m["ended"] if "ended" in m.columns else None)
            return sp.where((sp.unit >= 0) & is_compound[np.clip(sp.unit, 0, None)]).union()

        simple = {"org.compound_branch_coverage": "party_branch", "org.branch_venue_coverage": "branch_venue",
                  "par.red_property_coverage": "red_property", "par.owners_committee_coverage": "owners_committee"}
        for iid, name in simple.items():
            if iid in wanted:
                out.append(_DatedCounts(iid, milestone(name), compounds))
        if "par.red_property_coverage.households" in wanted:
            rp = milestone("red_property")
            hh_by_code = np.zeros(len(units_index))
            hh_by_code[comp_codes] = hh
            out.append(_DatedCounts("par.red_property_coverage.households",
                                    _Spells(rp.unit, rp.start, rp.end, hh_by_code[rp.unit]), _Static(comp_codes, hh),
                                    compounds))
        if "org.branch_standardisation" in wanted:
            pb = milestone("party_branch")
            out.append(_DatedCounts("org.branch_standardisation", pb.intersect(milestone("branch_six_haves")), pb))
        if "par.party_led_oc_coverage" in wanted:
            oc = milestone("owners_committee")
            out.append(_DatedCounts("par.party_led_oc_coverage",
                                    oc.intersect(milestone("party_led_owners_committee")), oc))
        b = _table(ds, "buildings")
        if b is not None and "org.building_group_coverage" in wanted:
            bc = code(b["compound_id"])
            known = (bc >= 0) & is_compound[np.clip(bc, 0, None)]
            b = b[known]
            out.append(_DatedCounts("org.building_group_coverage",
                                    _Spells.make(units_index, b["compound_id"], b["party_group_since"]),
                                    _Static(bc[known])))
    units = ds["units"]
    urban = units[units["unit_type"].eq("community")]
    urban_codes = code(urban["unit_id"])
    is_urban_comm = np.zeros(len(units_index), dtype=bool)
    is_urban_comm[urban_codes] = True
    orgs = _table(ds, "party_orgs")
    if orgs is not None and "org.big_committee_coverage" in wanted:
        o = orgs[orgs["org_type"].eq("community_committee")]
        sp = _Spells.make(units_index, o["unit_id"], o["established"], o["dissolved"])
        sp = sp.where((sp.unit >= 0) & is_urban_comm[np.clip(sp.unit, 0, None)]).union()
        out.append(_DatedCounts("org.big_committee_coverage", sp, _Static(urban_codes)))
    members = _table(ds, "party_members")
    district = tree.units("district")
    if members is not None and len(district) == 1 and "org.double_registration_rate" in wanted:
        ins = members["in_service"].fillna(False).astype(bool).to_numpy()
        d = np.repeat(district[0], int(ins.sum()))
        out.append(_DatedCounts("org.double_registration_rate",
                                _Spells.make(units_index, d, members.loc[ins, "registered_on"]), _Static(code(d))))
    base_units = units[units["unit_type"].isin(("community", "village"))]
    base_codes = code(base_units["unit_id"])
    is_base = np.zeros(len(units_index), dtype=bool)
    is_base[base_codes] = True
    vol = _table(ds, "volunteers")
    if vol is not None and "par.volunteers_per_1000" in wanted:
        sp = _Spells.make(units_index, vol["community_id"], vol["registered_on"])
        inside = (sp.unit >= 0) & is_base[np.clip(sp.unit, 0, None)]
        away = sp.where(~inside)
        away = _Spells(np.zeros(len(away.unit), dtype=np.int64), away.start, away.end, away.weight)
        elsewhere = _step_counts(away, np.zeros(1, dtype=np.int64), 1, dates_ns)[0]
        notes = tuple(f"{int(x):,} volunteers registered with other units not counted" if x else "" for x in elsewhere)
        out.append(_DatedCounts("par.volunteers_per_1000", sp.where(inside),
                                _Static(base_codes, base_units["population"].astype("float64").to_numpy()),
                                _Static(base_codes), notes))
    fac = _table(ds, "facilities")
    if fac is not None and "sup.service_space_per_100hh" in wanted:
        f = fac[fac["facility_type"].isin(SERVICE_SPACE_TYPES)]
        sp = _Spells.make(units_index, f["unit_id"], f["opened"], None,
                          f["area_m2"].astype("float64").fillna(0.0).to_numpy())
        inside = (sp.unit >= 0) & is_urban_comm[np.clip(sp.unit, 0, None)]
        n_out = int((~inside).sum())
        away = _Spells(np.zeros(n_out, dtype=np.int64), sp.start[~inside], sp.end[~inside], np.ones(n_out))
        outside = _step_counts(away, np.zeros(1, dtype=np.int64), 1, dates_ns)[0]
        note = "facility types " + ", ".join(SERVICE_SPACE_TYPES)
        notes = tuple(note + (f"; {int(x)} such facilities outside urban communities not counted" if x else "")
                      for x in outside)
        out.append(_DatedCounts("sup.service_space_per_100hh", sp.where(inside),
                                _Static(urban_codes, urban["households"].astype("float64").fillna(0).to_numpy()),
                                _Static(urban_codes), notes))
    return out


class CoverageOverTime(IndicatorResult):
    """Dated stock indicators at many as-of dates (a results object).

    ``.table`` is the tidy indicator table with ``period`` the as-of date (``YYYY-MM-DD``);
    ``.series()`` one indicator of one unit as a date-indexed Series; ``.wide()`` dates by
    indicators; ``.plot()`` the roll-out as step lines.
    """

    def _rows(self, indicator: str, unit_id: str | None, level: str | None) -> pd.DataFrame:
        t = self.table[self.table["indicator"].eq(indicator)]
        if level is not None:
            t = t[t["level"].eq(level)]
        t = t[t["unit_id"].eq(unit_id)] if unit_id is not None else t[t["level"].eq("district")]
        if len(t) == 0:
            raise KeyError(f"no rows for indicator {indicator!r}, unit {unit_id!r}, level {level!r}")
        return t

    def series(self, indicator: str, unit_id: str | None = None, level: str | None = None,
               column: str = "value") -> pd.Series:
        """``column`` (default the value) of ``indicator`` for ``unit_id`` (default: the district) by as-of date."""
        t = self._rows(indicator, unit_id, level)
        return pd.Series(t[column].to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(t["period"]), name="as_of"),
                         name=indicator)

    def value(self, indicator: str, as_of, unit_id: str | None = None, level: str | None = None) -> float:
        """The value of ``indicator`` on ``as_of`` for ``unit_id`` (default: the district)."""
        s = self.series(indicator, unit_id, level)
        return float(s.loc[pd.Timestamp(as_of).normalize()])

    def wide(self, level: str = "district", unit_id: str | None = None, lang: str | None = None) -> pd.DataFrame:
        """One row per as-of date, one column per indicator (ids, or labels in ``lang``), at one unit.

        Without ``unit_id``: the district, or at another ``level`` one column per unit and indicator.
        """
        t = self.table[self.table["level"].eq(level)]
        if unit_id is not None:
            t = t[t["unit_id"].eq(unit_id)]
        cols = ["indicator"] if (unit_id is not None or level == "district") else ["indicator", "unit_id"]
        w = t.assign(as_of=pd.to_datetime(t["period"])).pivot_table(index="as_of", columns=cols, values="value",
                                                                     sort=False, dropna=False)
        if lang is not None and len(cols) == 1:
            w.columns = [catalog.label(c, lang) for c in w.columns]
        return w

    def plot(self, indicators: Iterable[str] | None = None, unit_id: str | None = None, level: str | None = None,
             ax=None, lang: str = "en"):
        """Step lines of each indicator (default: all) over the as-of dates for one unit (default: district)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        for iid in (indicators if indicators is not None else pd.unique(self.table["indicator"])):
            s = self.series(iid, unit_id, level)
            ax.step(s.index, s.to_numpy(), where="post", label=catalog.label(iid, lang))
        ax.set_ylabel(catalog.message("value", lang))
        ax.legend(loc="best", fontsize=8)
        return ax


def coverage_over_time(ds: Mapping[str, pd.DataFrame], indicators: Iterable[str] | None, dates,
                       level: str | Iterable[str] = "district", cutoff=None) -> CoverageOverTime:
    """Dated stock indicators at many as-of dates in one pass (roll-out curves).

    Gives, for each date, the same numerators, denominators, ``n`` and values as
    ``registry_indicators(ds, d.year, level, as_of=d)`` for the indicators in
    :data:`DATED_STOCK_INDICATORS` (milestones with start and end dates, building groups,
    community big committees, registrations, facilities), without computing anything else: about
    a thousand times faster per date on the bundled district. Each arrangement is a spell
    ``[start, end)``; a compound counts once however many of its milestone rows are in force
    (spells of a compound are merged first), and a ratio of two milestones (six-haves among
    branches, party-led among owners committees) counts the days both hold.

    Parameters
    ----------
    ds
        A dataset or mapping table name -> DataFrame (:mod:`evaluation.schema`).
    indicators
        Ids from :data:`DATED_STOCK_INDICATORS`, or ``None`` for all of them (those whose tables
        are missing are skipped).
    dates
        As-of dates (anything :class:`pandas.DatetimeIndex` accepts, e.g.
        ``pd.date_range("2019-01-31", "2021-12-31", freq="ME")``); normalised to days, sorted,
        duplicates dropped.
    level
        ``district``, ``street``, ``community``, ``compound`` or a list; each indicator is reported
        at the levels the catalogue defines for it.
    cutoff
        Data cut-off (default ``ds.cutoff``): rows for dates after it carry the flag
        ``after_cutoff`` (the registry may not yet hold what happened by then).

    Returns
    -------
    CoverageOverTime
        ``.table`` in the tidy format, one row per indicator, level, unit and date (``period`` the
        as-of date); no sampling interval (complete registries).
    """
    levels = [level] if isinstance(level, str) else list(level)
    for lv in levels:
        if lv not in LEVELS:
            raise ValueError(f"unknown level {lv!r}; use one of {', '.join(LEVELS)}")
    if indicators is None:
        wanted = list(DATED_STOCK_INDICATORS)
    else:
        wanted = [indicators] if isinstance(indicators, str) else list(indicators)
        bad = [i for i in wanted if i not in DATED_STOCK_INDICATORS]
        if bad:
            raise ValueError(f"coverage_over_time cannot count {', '.join(map(repr, bad))} from dated registry rows; "
                             f"use registry_indicators() or one of {', '.join(DATED_STOCK_INDICATORS)}")
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates) if not isinstance(dates, (str, pd.Timestamp)) else [dates]))
    if idx.tz is not None:
        idx = idx.tz_convert(getattr(ds, "timezone", "Asia/Shanghai")).tz_localize(None)
    if idx.hasnans:
        raise ValueError("coverage_over_time: the dates include a missing value")
    idx = idx.normalize().unique().sort_values()
    dates_ns = idx.astype("datetime64[ns]").to_numpy().view("i8")
    periods = idx.strftime("%Y-%m-%d").to_numpy(dtype=object)
    cutoff = cutoff if cutoff is not None else getattr(ds, "cutoff", None)
    late = np.zeros(len(idx), dtype=bool)
    if cutoff is not None:
        c = pd.Timestamp(cutoff)
        late = (idx > (c.tz_localize(None) if c.tzinfo is not None else c).normalize())
    tree = UnitTree.from_dataset(ds)
    counts = _dated_counts(ds, tree, set(wanted), dates_ns)
    order = {iid: i for i, iid in enumerate(catalog.CATALOG)}
    counts.sort(key=lambda dc: order.get(dc.indicator, len(order)))
    n_dates = len(idx)
    frames = []
    for dc in counts:
        entry = catalog.get(dc.indicator)
        for lv in LEVELS[::-1]:
            if lv not in levels or lv not in entry.levels:
                continue
            units = tree.units(lv, entry.scope)
            # base unit (lineage row) -> output row of its unit at this level; base units above
            # the level (district-only counts asked at street level) are not spread down
            rows = pd.Index(units).get_indexer(tree.lineage[lv].astype("object").to_numpy())

            def count(x):
                if isinstance(x, _Spells):
                    return _step_counts(x, rows, len(units), dates_ns)
                return x.counts(rows, len(units), n_dates)

            num = count(dc.num)
            den = count(dc.den)
            n = den if dc.n is None else count(dc.n)
            k = len(units)
            frames.append(pd.DataFrame({
                "indicator": dc.indicator, "level": lv,
                "unit_id": np.tile(units.to_numpy(dtype=object), n_dates),
                "period": np.repeat(periods, k),
                "numerator": num.T.ravel(), "denominator": den.T.ravel(), "n": n.T.ravel(),
                "note": np.repeat(np.asarray(dc.notes if dc.notes else [""] * n_dates, dtype=object), k),
                "late": np.repeat(late, k), "scale": entry.scale,
            }))
    if frames:
        t = pd.concat(frames, ignore_index=True)
        num, den = t["numerator"].astype("float64"), t["denominator"].astype("float64")
        t["value"] = (t["scale"] * num / den.where(den > 0)).where(den > 0)
        t["method"] = ("registry count as of " + t["period"].astype("str")
                       + np.where(t["note"].astype("str").ne(""), " (" + t["note"].astype("str") + ")", ""))
        flags = pd.Series("", index=t.index, dtype="str")
        flags = add_flag(flags, t["late"].to_numpy(), "after_cutoff")
        t["flags"] = add_flag(flags, den.to_numpy() <= 0, "zero_denominator")
        table = indicator_frame(t)
    else:
        table = indicator_frame([])
    span = f"{periods[0]} to {periods[-1]}" if n_dates else "no dates"
    notes = [
        "Complete registries: counts, not samples; no sampling interval.",
        "A stock is in force on day d when start <= d and (no end, or end > d); same counts as registry_indicators.",
        "A zero denominator gives a missing value flagged zero_denominator.",
    ]
    return CoverageOverTime(table=table, title=f"Coverage over time, {n_dates} dates ({', '.join(levels)})",
                            method=f"registry counts as of each date, {span}", notes=notes)


# --------------------------------------------------------------------------- beside the published figures

#: published figure key (``published_figures.csv``) -> (registry indicator, column of its district row)
PUBLISHED_COUNTERPARTS = {
    "compound_party_branches": ("org.compound_branch_coverage", "numerator"),
    "building_party_groups": ("org.building_group_coverage", "numerator"),
    "community_party_committees": ("org.big_committee_coverage", "numerator"),
    "compound_branch_venues_first_batch": ("org.branch_venue_coverage", "numerator"),
    "in_service_members_registered": ("org.double_registration_rate", "numerator"),
    "red_property_compound_share": ("par.red_property_coverage", "value"),
    "party_led_owners_committees": ("par.party_led_oc_coverage", "numerator"),
    "party_led_owners_committee_coverage": ("par.party_led_oc_coverage", "value"),
    "registered_volunteers": ("par.volunteers_per_1000", "numerator"),
    "community_worker_quota": ("sup.worker_quota_fill", "denominator"),
    "community_workers_hired": ("sup.worker_quota_fill", "numerator"),
    "community_work_fund_yuan_per_year": ("sup.funding_per_community", "value"),
    "village_work_fund_yuan_per_year": ("sup.funding_per_village", "value"),
    # rules the article states: the registry measures how far they are met (1 = always)
    "weekday_sunk_cadre_on_duty": ("org.weekday_duty_coverage", "value"),
    "big_committee_meeting_period": ("dem.meeting_cadence_compliance.big_committee_joint", "value"),
    "three_party_meeting_period": ("dem.meeting_cadence_compliance.three_party", "value"),
    "resident_deliberation_period": ("dem.meeting_cadence_compliance.resident_deliberation", "value"),
    "branch_standard_six_haves": ("org.branch_standardisation", "value"),
}

RULE_KEYS = {"weekday_sunk_cadre_on_duty", "big_committee_meeting_period", "three_party_meeting_period",
              "resident_deliberation_period", "branch_standard_six_haves"}


def beside_published(result: IndicatorResult | pd.DataFrame, figures: pd.DataFrame | None = None) -> pd.DataFrame:
    """The article's figures beside the district registry indicators that correspond to them.

    Parameters
    ----------
    result
        Registry indicators of the article's year (2020) with district rows (a result or its table).
    figures
        The published figures (default: :func:`evaluation.reconcile.published_figures`).

    Returns
    -------
    DataFrame, one row per figure in :data:`PUBLISHED_COUNTERPARTS` whose indicator is in
    ``result``: ``key``, ``quote_zh``, ``meaning_en``, ``qualifier``, ``published`` (as printed),
    ``indicator``, ``compared`` (the column of the district row: a count or the value),
    ``registry`` (that number), ``value`` (the indicator's value), ``agrees`` (under the figure's
    qualifier, :func:`evaluation.reconcile.agrees`; for a rule, whether it is met every time,
    i.e. the compliance share is 1).
    """
    from evaluation.reconcile import agrees, published_figures

    table = result.table if isinstance(result, IndicatorResult) else result
    figs = (published_figures() if figures is None else figures).set_index("key")
    district = table[table["level"].eq("district")].set_index("indicator")
    rows = []
    for key, (iid, col) in PUBLISHED_COUNTERPARTS.items():
        if key not in figs.index or iid not in district.index:
            continue
        f = figs.loc[key]
        got = float(district.loc[iid, col])
        if key in RULE_KEYS:
            ok = bool(got >= 1.0 - 1e-12)
        else:
            ok = agrees(float(f["value"]), got, str(f["qualifier"]), str(f["unit"]))
        rows.append({"key": key, "quote_zh": f["quote_zh"], "meaning_en": f["meaning_en"],
                     "qualifier": f["qualifier"], "published": f["value"], "indicator": iid, "compared": col,
                     "registry": got, "value": float(district.loc[iid, "value"]), "agrees": ok})
    out = pd.DataFrame(rows, columns=["key", "quote_zh", "meaning_en", "qualifier", "published", "indicator",
                                      "compared", "registry", "value", "agrees"])
    out["agrees"] = out["agrees"].astype("boolean")
    return out
