"""Registry indicators on a hand-built registry with answers counted by hand.

The registry: district D; urban streets S1 (communities C1, C2) and S2 (C3); rural township T1
(village V1). Compounds P1, P2 (C1), P3 (C2), P4 (C3). Every expected value below is counted from
the rows written here, not computed by the package.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.calendar import WorkCalendar
from evaluation.periods import in_force
from evaluation.registry import default_as_of, milestone_in_force, registry_indicators

CAL = WorkCalendar.weekdays()


def _d(values):
    return pd.to_datetime(pd.Series(values, dtype="object"))


def registry() -> dict[str, pd.DataFrame]:
    units = pd.DataFrame({
        "unit_id": ["D", "S1", "S2", "T1", "C1", "C2", "C3", "V1"],
        "unit_type": ["district", "street", "street", "township", "community", "community", "community", "village"],
        "parent_id": [None, "D", "D", "D", "S1", "S1", "S2", "T1"],
        "population": [100000, 0, 0, 0, 8000, 6000, 4000, 2000],
        "households": [30000, 0, 0, 0, 2500, 2000, 1500, 600],
    })
    compounds = pd.DataFrame({
        "compound_id": ["P1", "P2", "P3", "P4"], "community_id": ["C1", "C1", "C2", "C3"],
        "households": [100, 300, 50, 200], "buildings": [2, 1, 0, 1],
    })
    ms = pd.DataFrame([
        ("P1", "party_branch", "2019-01-01", None),
        ("P2", "party_branch", "2020-06-01", None),
        ("P3", "party_branch", "2018-01-01", "2020-07-01"),  # ended: not in force from 1 July 2020
        ("P4", "party_branch", "2021-01-01", None),
        ("P1", "branch_six_haves", "2020-01-01", None),
        ("P2", "red_property", "2020-03-01", None),
        ("P4", "red_property", "2020-05-01", None),
        ("P1", "owners_committee", "2015-01-01", None),
        ("P2", "owners_committee", "2016-01-01", None),
        ("P4", "owners_committee", "2019-01-01", "2020-10-01"),
        ("P1", "party_led_owners_committee", "2019-06-01", None),
        ("P4", "party_led_owners_committee", "2019-06-01", "2020-10-01"),
        ("P3", "party_led_owners_committee", "2019-06-01", None),  # no owners committee: never counted
    ], columns=["compound_id", "milestone", "date", "ended"])
    ms["date"], ms["ended"] = _d(ms["date"]), _d(ms["ended"])
    buildings = pd.DataFrame({"building_id": ["B1", "B2", "B3", "B4"], "compound_id": ["P1", "P1", "P2", "P4"],
                              "households": [50, 50, 300, 200],
                              "party_group_since": _d(["2019-05-01", None, "2021-03-01", "2020-02-01"])})
    orgs = pd.DataFrame({"org_id": ["O1", "O2"], "org_type": ["community_committee", "community_committee"],
                         "unit_id": ["C1", "C2"], "established": _d(["2020-05-10", "2021-02-01"]),
                         "dissolved": _d([None, None])})
    members = pd.DataFrame({"member_id": ["M1", "M2", "M3", "M4"],
                            "in_service": pd.array([True, True, True, False], dtype="boolean"),
                            "sunk": pd.array([True, True, False, False], dtype="boolean"),
                            "registered_on": _d(["2019-03-01", "2020-11-01", None, None])})
    roster = pd.DataFrame({"date": _d(["2020-03-02", "2020-03-02", "2020-03-03"]), "community_id": ["C1", "C2", "C1"],
                           "member_id": ["M1", "M2", "M3"], "hours": [8.0, 8.0, 8.0]})
    meetings = pd.DataFrame({"meeting_id": ["G1", "G2", "G3"], "unit_id": ["C1", "C1", "C3"],
                             "meeting_type": ["resident_deliberation", "three_party", "resident_deliberation"],
                             "date": _d(["2020-03-04", "2020-04-10", "2019-05-06"]),
                             "issues_raised": [4, 3, 2], "issues_resolved": [3, 3, 1]})
    staffing = pd.DataFrame({"community_id": ["C1", "C2", "C1"], "year": [2020, 2020, 2019],
                             "quota": [10, 8, 9], "hired": [9, 8, 5]})
    volunteers = pd.DataFrame({"volunteer_id": ["V1", "V2", "V3", "V4"], "community_id": ["C1", "C1", "V1", "C2"],
                               "registered_on": _d(["2019-01-01", "2020-06-01", "2020-01-01", "2021-01-01"])})
    hours = pd.DataFrame({"volunteer_id": ["V1", "V2", "V3", "V1"], "year": [2020, 2020, 2020, 2019],
                          "hours": [10.0, 5.0, 2.0, 100.0]})
    facilities = pd.DataFrame({
        "facility_id": ["F1", "F2", "F3", "F4", "F5"], "unit_id": ["C1", "C2", "C3", "S1", "C3"],
        "facility_type": ["service_centre", "community_room", "branch_venue", "service_centre", "party_complex"],
        "area_m2": [300.0, 100.0, 50.0, 900.0, 200.0],
        "opened": _d(["2015-01-01", "2021-01-05", "2019-01-01", "2015-01-01", "2020-12-31"])})
    funding = pd.DataFrame({"unit_id": ["C1", "C2", "V1", "D", "C1"], "year": [2020, 2020, 2020, 2020, 2019],
                            "source": ["district"] * 5, "purpose": ["work_fund"] * 5,
                            "amount_yuan": [300000.0, 200000.0, 80000.0, 5000000.0, 1.0]})
    return {"units": units, "compounds": compounds, "compound_milestones": ms, "buildings": buildings,
            "party_orgs": orgs, "party_members": members, "duty_roster": roster, "meetings": meetings,
            "staffing": staffing, "volunteers": volunteers, "volunteer_hours": hours, "facilities": facilities,
            "funding": funding}


@pytest.fixture(scope="module")
def result():
    return registry_indicators(registry(), 2020, ["compound", "community", "street", "district"], calendar=CAL)


def _row(res, indicator, unit):
    t = res.table
    r = t[t["indicator"].eq(indicator) & t["unit_id"].eq(unit)]
    assert len(r) == 1, (indicator, unit, len(r))
    return r.iloc[0]


def _nd(res, indicator, unit):
    r = _row(res, indicator, unit)
    return r["numerator"], r["denominator"]


def test_in_force_end_date_is_exclusive():
    starts, ends = _d(["2020-01-01", "2020-01-01"]), _d([None, "2020-07-01"])
    assert in_force(starts, ends, "2020-06-30").tolist() == [True, True]
    assert in_force(starts, ends, "2020-07-01").tolist() == [True, False]
    assert in_force(starts, ends, "2019-12-31").tolist() == [False, False]


def test_branch_coverage_as_of_dates():
    ms = registry()["compound_milestones"]
    assert milestone_in_force(ms, "party_branch", "2020-05-31") == {"P1", "P3"}
    assert milestone_in_force(ms, "party_branch", "2020-06-30") == {"P1", "P2", "P3"}
    assert milestone_in_force(ms, "party_branch", "2020-12-31") == {"P1", "P2"}
    mid = registry_indicators(registry(), 2020, "district", as_of="2020-06-30", calendar=CAL)
    r = mid.row("org.compound_branch_coverage")
    assert (r["numerator"], r["denominator"], r["period"]) == (3, 4, "2020-06-30")
    assert r["method"].startswith("registry count as of 2020-06-30")


def test_compound_indicators(result):
    assert _nd(result, "org.compound_branch_coverage", "D") == (2, 4)
    assert _nd(result, "org.compound_branch_coverage", "C1") == (2, 2)
    assert _nd(result, "org.compound_branch_coverage", "S2") == (0, 1)
    # six haves over compounds with a branch: P1 of {P1, P2}
    assert _nd(result, "org.branch_standardisation", "D") == (1, 2)
    # C2's only compound lost its branch: zero denominator -> missing and flagged, never 0
    r = _row(result, "org.branch_standardisation", "C2")
    assert math.isnan(r["value"]) and "zero_denominator" in r["flags"]
    # building groups: B1 (2019) and B4 (2020-02) of B1-B4
    assert _nd(result, "org.building_group_coverage", "D") == (2, 4)
    assert _nd(result, "org.building_group_coverage", "P1") == (1, 2)


def test_red_property_compounds_and_households_differ(result):
    assert _nd(result, "par.red_property_coverage", "D") == (2, 4)
    assert _nd(result, "par.red_property_coverage.households", "D") == (500, 650)
    assert _row(result, "par.red_property_coverage.households", "D")["value"] == pytest.approx(500 / 650)
    assert _nd(result, "par.red_property_coverage.households", "S1") == (300, 450)


def test_party_led_oc_over_compounds_with_oc(result):
    # end 2020: OC in force in P1, P2 (P4's ended 1 Oct); party-led and OC: P1; P3's party-led row has no OC
    assert _nd(result, "par.party_led_oc_coverage", "D") == (1, 2)
    sept = registry_indicators(registry(), 2020, "district", as_of="2020-09-30", calendar=CAL)
    r = sept.row("par.party_led_oc_coverage")
    assert (r["numerator"], r["denominator"]) == (2, 3)


def test_community_stock_indicators(result):
    assert _nd(result, "org.big_committee_coverage", "D") == (1, 3)  # C1 only; C2's forms in 2021
    assert _nd(result, "org.double_registration_rate", "D") == (2, 3)  # M1, M2 of in-service M1-M3
    assert _nd(result, "sup.worker_quota_fill", "D") == (17, 18)
    # workers per 10,000: population of communities with a 2020 staffing row (C1, C2)
    r = _row(result, "sup.workers_per_10k", "D")
    assert (r["numerator"], r["denominator"]) == (17, 14000) and r["value"] == pytest.approx(17 / 14000 * 1e4)
    r = _row(result, "sup.worker_quota_fill", "C3")  # no staffing row: missing, flagged
    assert math.isnan(r["value"]) and "zero_denominator" in r["flags"]
    # service space: F1 (300) and F5 (200, opened on the as-of date); F2 opens 2021; F3 is a branch venue;
    # F4 sits at the street, not in a community
    assert _nd(result, "sup.service_space_per_100hh", "D") == (500, 6000)
    assert "1 such facilities outside urban communities not counted" in _row(result, "sup.service_space_per_100hh", "D")["method"]
    assert _row(result, "sup.service_space_per_100hh", "C1")["value"] == pytest.approx(300 / 2500 * 100)
    # volunteers: V1, V2 (C1), V3 (village) registered by end 2020; V4 in 2021
    assert _nd(result, "par.volunteers_per_1000", "D") == (3, 20000)
    assert _row(result, "par.volunteers_per_1000", "T1")["numerator"] == 1


def test_flow_indicators(result):
    assert _nd(result, "par.volunteer_hours_per_capita", "D") == (17, 20000)
    assert _nd(result, "sup.funding_per_community", "D") == (500000, 3)  # C3 got nothing; district funds excluded
    assert _nd(result, "sup.funding_per_village", "D") == (80000, 1)
    assert _nd(result, "dem.deliberation_resolution_share", "D") == (6, 7)  # 2020 meetings only
    # duty: working days of 2020 on the Monday-Friday calendar = 262; C1 covered 2 March (M3 not sunk)
    assert _nd(result, "org.weekday_duty_coverage", "C1") == (1, 262)
    assert _nd(result, "org.weekday_duty_coverage", "D") == (2, 3 * 262)
    # weekly rule: one week met in C1, 53 ISO weeks due in each of 3 communities
    assert _nd(result, "dem.meeting_cadence_compliance.resident_deliberation", "D") == (1, 159)
    # monthly three-party rule is due where an owners committee is in force at the month's start:
    # C1 (P1, P2) all 12 months; C3 (P4) January-September (its committee ended on 1 October)
    assert _nd(result, "dem.meeting_cadence_compliance.three_party", "D") == (1, 21)
    # quarterly: C1's committee formed 10 May: Q3, Q4 due
    assert _nd(result, "dem.meeting_cadence_compliance.big_committee_joint", "D") == (0, 2)
    assert _nd(result, "dem.meeting_cadence_compliance", "D") == (2, 182)
    r = _row(result, "org.weekday_duty_coverage", "D")
    assert r["period"] == "2020" and r["method"].startswith("registry count, calendar year 2020")


def test_registry_rows_have_no_sampling_interval(result):
    t = result.table
    assert t["ci_low"].isna().all() and t["ci_high"].isna().all()


def test_levels_follow_the_catalogue(result):
    t = result.table
    assert set(t.loc[t["level"].eq("compound"), "indicator"]) <= {
        "org.compound_branch_coverage", "org.building_group_coverage", "org.branch_standardisation",
        "org.branch_venue_coverage", "par.red_property_coverage", "par.red_property_coverage.households",
        "par.owners_committee_coverage", "par.party_led_oc_coverage"}
    # urban indicators are not reported for the township; participation indicators of scope 'all' are
    assert not ((t["unit_id"] == "T1") & t["indicator"].eq("org.compound_branch_coverage")).any()
    assert ((t["unit_id"] == "T1") & t["indicator"].eq("par.volunteers_per_1000")).any()
    assert set(t.loc[t["indicator"].eq("org.double_registration_rate"), "level"]) == {"district"}


def test_cutoff_inside_the_year():
    res = registry_indicators(registry(), 2020, "district", calendar=CAL, cutoff=pd.Timestamp("2020-06-30 18:00", tz="Asia/Shanghai"))
    r = res.row("org.compound_branch_coverage")
    assert r["period"] == "2020-06-30" and "as_of_cutoff" in r["flags"] and r["numerator"] == 3
    d = res.row("org.weekday_duty_coverage")
    assert d["denominator"] == 3 * len(pd.bdate_range("2020-01-01", "2020-06-30")) and "partial_year" in d["flags"]
    assert default_as_of(2020, None) == pd.Timestamp("2020-12-31")


def test_results_object(result):
    assert "Registry indicators 2020" in result.summary()
    assert "<table" in result._repr_html_()
    assert result.value("par.red_property_coverage") == 0.5
    assert result.wide().shape[0] == len(result.table[["level", "unit_id"]].drop_duplicates())
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot(indicator="par.red_property_coverage", level="community")
    assert len(ax.patches) == 3
    with pytest.raises(ValueError, match="unknown level"):
        registry_indicators(registry(), 2020, "county")


def test_missing_tables_skip_their_indicators():
    ds = {k: v for k, v in registry().items() if k in ("units", "compounds", "compound_milestones")}
    res = registry_indicators(ds, 2020, "district", calendar=CAL)
    assert set(res.table["indicator"]) == {
        "org.compound_branch_coverage", "org.branch_standardisation", "org.branch_venue_coverage",
        "par.red_property_coverage", "par.red_property_coverage.households", "par.owners_committee_coverage",
        "par.party_led_oc_coverage"}


# ------------------------------------------------------------------ property: as-of monotonicity

_day = st.integers(min_value=0, max_value=5 * 365)


@st.composite
def milestone_rows(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        for m in ("party_branch", "red_property", "owners_committee", "party_led_owners_committee"):
            if draw(st.booleans()):
                rows.append((f"P{i}", m, pd.Timestamp("2017-01-01") + pd.Timedelta(days=draw(_day))))
    return n, rows


@settings(max_examples=40, deadline=None)
@given(milestone_rows(), st.lists(st.integers(0, 5 * 365), min_size=2, max_size=6))
def test_in_force_sets_never_shrink_when_nothing_ended(data, offsets):
    _, rows = data
    ms = pd.DataFrame(rows, columns=["compound_id", "milestone", "date"]).assign(ended=pd.NaT)
    dates = sorted(pd.Timestamp("2017-01-01") + pd.Timedelta(days=o) for o in offsets)
    for m in ("party_branch", "red_property", "owners_committee"):
        sets = [milestone_in_force(ms, m, d) for d in dates]
        assert all(a <= b for a, b in zip(sets, sets[1:]))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(milestone_rows(), st.integers(0, 5 * 365), st.integers(1, 3 * 365))
def test_coverage_never_decreases_when_nothing_ended(data, first, step):
    n, rows = data
    units = registry()["units"]
    compounds = pd.DataFrame({"compound_id": [f"P{i}" for i in range(n)], "community_id": (["C1", "C2", "C3"] * n)[:n],
                              "households": [10 + i for i in range(n)], "buildings": [1] * n})
    ms = pd.DataFrame(rows, columns=["compound_id", "milestone", "date"]).assign(ended=pd.NaT)
    ds = {"units": units, "compounds": compounds, "compound_milestones": ms}
    d1 = pd.Timestamp("2017-01-01") + pd.Timedelta(days=first)
    tables = [registry_indicators(ds, 2020, ["community", "district"], as_of=d, calendar=CAL).table
              .set_index(["indicator", "unit_id"]) for d in (d1, d1 + pd.Timedelta(days=step))]
    a, b = tables
    for iid in ("org.compound_branch_coverage", "par.red_property_coverage",
                "par.red_property_coverage.households", "par.owners_committee_coverage"):
        sel = a.index.get_level_values(0) == iid
        assert (b.loc[sel, "numerator"].to_numpy() >= a.loc[sel, "numerator"].to_numpy()).all()
        va, vb = a.loc[sel, "value"].to_numpy(), b.loc[sel, "value"].to_numpy()
        both = ~np.isnan(va) & ~np.isnan(vb)
        assert (vb[both] >= va[both] - 1e-12).all()
    # party-led coverage is a ratio over committees (the denominator grows too): its numerator cannot fall
    sel = a.index.get_level_values(0) == "par.party_led_oc_coverage"
    assert (b.loc[sel, "numerator"].to_numpy() >= a.loc[sel, "numerator"].to_numpy()).all()


def test_summary_lists_district_values(result):
    s = result.summary()
    assert "Red-property coverage (compounds): 50.0% (2 / 4; 2020-12-31)" in s
    assert "Funding per urban community (yuan): 166,667 (500,000 yuan / 3; 2020)" in s
