"""Registry stock indicators at many dates at once: the roll-out over time.

:func:`evaluation.registry.registry_indicators` counts everything as of one date (about 2 s on the
bundled district). A roll-out figure needs the dated stock indicators at dozens of dates, so they
are counted here from spells (unit, start, end): each spell adds its weight from the first
requested date on or after its start and removes it from the first date on or after its end.
Sorting the dates once and a searchsorted per spell give every date in one pass,
O(spells log dates + units x dates). The counts equal those of ``registry_indicators`` at every
date (tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.dataset.units import LEVELS, UnitTree
from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.registry.counts import SERVICE_SPACE_TYPES, _dates, _table
from evaluation.results import IndicatorResult, add_flag, indicator_frame, new_axes

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
    """Spells of an arrangement, one array entry per spell.

    Base unit (row of ``UnitTree.lineage``, -1 unknown), start and end (int64 ns, end exclusive)
    and weight.
    """

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


def _counts_at(x: _Spells | _Static, rows: np.ndarray, n_rows: int, dates_ns: np.ndarray) -> np.ndarray:
    """Count ``x`` per output row at each date: array ``(n_rows, n_dates)``.

    Spells are counted where in force (:func:`_step_counts`), a static count is the same at every date.
    """
    if isinstance(x, _Spells):
        return _step_counts(x, rows, n_rows, dates_ns)
    return x.counts(rows, n_rows, len(dates_ns))


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

    def plot(self, *, ax=None, indicators: Iterable[str] | None = None, unit_id: str | None = None,
             level: str | None = None, lang: str = "en"):
        """Step lines of each indicator (default: all) over the as-of dates for one unit (default: district)."""
        ax = new_axes(ax)
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
        A dataset or mapping table name -> DataFrame (:mod:`evaluation.dataset.schema`).
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
            raise OptionError(f"unknown level {lv!r}; use one of {', '.join(LEVELS)}")
    if indicators is None:
        wanted = list(DATED_STOCK_INDICATORS)
    else:
        wanted = [indicators] if isinstance(indicators, str) else list(indicators)
        bad = [i for i in wanted if i not in DATED_STOCK_INDICATORS]
        if bad:
            raise DataError(f"coverage_over_time cannot count {', '.join(map(repr, bad))} from dated registry rows; "
                             f"use registry_indicators() or one of {', '.join(DATED_STOCK_INDICATORS)}")
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates) if not isinstance(dates, (str, pd.Timestamp)) else [dates]))
    if idx.tz is not None:
        idx = idx.tz_convert(getattr(ds, "timezone", "Asia/Shanghai")).tz_localize(None)
    if idx.hasnans:
        raise MissingInputError("coverage_over_time: the dates include a missing value")
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
            k = len(units)
            num = _counts_at(dc.num, rows, k, dates_ns)
            den = _counts_at(dc.den, rows, k, dates_ns)
            n = den if dc.n is None else _counts_at(dc.n, rows, k, dates_ns)
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
