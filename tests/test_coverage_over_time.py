"""Coverage over time: dated stock indicators at many as-of dates in one pass.

References:

* a hand-built registry whose counts at each date are written out by hand below (spells that
  overlap, spells that ended, a spell that ends before it starts, a missing start);
* the one-date implementation, :func:`evaluation.coverage.registry_indicators`, which counts the
  rows in force with boolean masks, independently of the spell / cumulative-count algorithm: on the
  bundled synthetic district both must give identical numerators, denominators, ``n`` and values
  at every level, including on the days two owners committees were dissolved in 2021
  (compounds X0134 on 2021-05-30 and X0146 on 2021-10-13, with their party-led committees);
* a brute-force count of random spells (hypothesis).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.registry import DATED_STOCK_INDICATORS, coverage_over_time, registry_indicators

LEVELS = ["district", "street", "community", "compound"]
KEY = ["indicator", "level", "unit_id", "period"]


def _d(values):
    return pd.to_datetime(pd.Series(values, dtype="object"))


def registry() -> dict[str, pd.DataFrame]:
    """District D; streets S1 (communities C1, C2), S2 (C3); compounds P1, P2 (C1), P3 (C2), P4 (C3)."""
    units = pd.DataFrame({
        "unit_id": ["D", "S1", "S2", "C1", "C2", "C3"],
        "unit_type": ["district", "street", "street", "community", "community", "community"],
        "parent_id": [None, "D", "D", "S1", "S1", "S2"],
        "population": [20000, 0, 0, 8000, 6000, 4000],
        "households": [7000, 0, 0, 2500, 2000, 1500],
    })
    compounds = pd.DataFrame({"compound_id": ["P1", "P2", "P3", "P4"], "community_id": ["C1", "C1", "C2", "C3"],
                              "households": [100, 300, 50, 200], "buildings": [2, 1, 0, 1]})
    ms = pd.DataFrame([
        ("P1", "red_property", "2019-03-01", "2019-09-01"),  # first spell ...
        ("P1", "red_property", "2019-06-01", "2020-02-01"),  # ... overlaps the second: P1 counts once
        ("P2", "red_property", "2020-01-15", None),
        ("P3", "red_property", "2020-05-01", "2020-04-01"),  # ends before it starts: never in force
        ("P4", "red_property", None, None),                  # no start date: never in force
        ("P1", "owners_committee", "2015-01-01", None),
        ("P4", "owners_committee", "2018-01-01", "2021-05-30"),  # dissolved
        ("P1", "party_led_owners_committee", "2019-06-01", None),
        ("P4", "party_led_owners_committee", "2019-01-01", "2021-05-30"),
        ("P2", "party_led_owners_committee", "2019-01-01", None),  # no owners committee: never counted
    ], columns=["compound_id", "milestone", "date", "ended"])
    ms["date"], ms["ended"] = _d(ms["date"]), _d(ms["ended"])
    buildings = pd.DataFrame({"building_id": ["B1", "B2", "B3", "B4"], "compound_id": ["P1", "P1", "P2", "P4"],
                              "households": [50, 50, 300, 200],
                              "party_group_since": _d(["2019-05-01", None, "2021-03-01", "2020-02-01"])})
    orgs = pd.DataFrame({"org_id": ["O1", "O2"], "org_type": ["community_committee"] * 2, "unit_id": ["C1", "C2"],
                         "established": _d(["2020-05-10", "2019-01-01"]), "dissolved": _d([None, "2020-01-01"])})
    return {"units": units, "compounds": compounds, "compound_milestones": ms, "buildings": buildings,
            "party_orgs": orgs}


DATES = ["2019-02-28", "2019-06-30", "2019-12-31", "2020-01-31", "2020-06-30", "2021-05-29", "2021-05-30"]


def test_hand_counted_red_property_and_households():
    r = coverage_over_time(registry(), ["par.red_property_coverage", "par.red_property_coverage.households"],
                           DATES, LEVELS)
    s = r.series("par.red_property_coverage", column="numerator")
    # P1 in force 2019-03-01 .. 2020-02-01 (two overlapping rows, counted once); P2 from 2020-01-15
    assert s.tolist() == [0, 1, 1, 2, 1, 1, 1]
    assert r.series("par.red_property_coverage", column="denominator").tolist() == [4] * 7
    hh = r.series("par.red_property_coverage.households")
    assert hh.tolist() == pytest.approx([0, 100 / 650, 100 / 650, 400 / 650, 300 / 650, 300 / 650, 300 / 650])
    assert r.series("par.red_property_coverage.households", column="n").tolist() == [4] * 7  # compounds
    c1 = r.series("par.red_property_coverage", unit_id="C1", column="numerator")
    assert c1.tolist() == [0, 1, 1, 2, 1, 1, 1]
    assert r.value("par.red_property_coverage", "2020-01-31", unit_id="S2") == 0.0


def test_hand_counted_party_led_share_with_a_dissolved_committee():
    r = coverage_over_time(registry(), ["par.party_led_oc_coverage"], DATES, "district")
    num = r.series("par.party_led_oc_coverage", column="numerator").tolist()
    den = r.series("par.party_led_oc_coverage", column="denominator").tolist()
    # owners committees: P1 (from 2015), P4 (2018 until 2021-05-30); party-led: P4 from 2019-01-01,
    # P1 from 2019-06-01; P2's party-led row has no owners committee and never counts
    assert den == [2, 2, 2, 2, 2, 2, 1]
    assert num == [1, 2, 2, 2, 2, 2, 1]


def test_hand_counted_buildings_and_big_committees():
    r = coverage_over_time(registry(), ["org.building_group_coverage", "org.big_committee_coverage"], DATES,
                           ["district", "community"])
    assert r.series("org.building_group_coverage", column="numerator").tolist() == [0, 1, 1, 1, 2, 3, 3]
    assert r.series("org.building_group_coverage", column="denominator").tolist() == [4] * 7
    # C2's committee dissolved on 2020-01-01, C1's formed on 2020-05-10
    assert r.series("org.big_committee_coverage", column="numerator").tolist() == [1, 1, 1, 0, 1, 1, 1]
    assert r.series("org.big_committee_coverage", unit_id="C2").tolist() == [1, 1, 1, 0, 0, 0, 0]


def test_zero_denominator_flag_and_after_cutoff():
    r = coverage_over_time(registry(), ["par.party_led_oc_coverage"], ["2014-12-31", "2030-01-01"], "community",
                           cutoff=pd.Timestamp("2022-01-04 09:00", tz="Asia/Shanghai"))
    t = r.table.set_index(["unit_id", "period"])
    assert np.isnan(t.loc[("C2", "2014-12-31"), "value"])
    assert t.loc[("C2", "2014-12-31"), "flags"] == "zero_denominator"
    assert t.loc[("C1", "2030-01-01"), "flags"] == "after_cutoff"
    assert t["ci_low"].isna().all()  # complete registry: no sampling interval


def test_dates_sorted_and_deduplicated_and_errors():
    r = coverage_over_time(registry(), ["par.red_property_coverage"], ["2020-06-30", "2019-06-30", "2020-06-30"])
    assert r.table["period"].tolist() == ["2019-06-30", "2020-06-30"]
    with pytest.raises(ValueError, match="svc.backlog"):
        coverage_over_time(registry(), ["svc.backlog"], DATES)
    with pytest.raises(ValueError, match="unknown level"):
        coverage_over_time(registry(), None, DATES, "province")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["P1", "P2", "P3", "P4"]), st.integers(0, 60), st.integers(0, 70),
                          st.booleans()), min_size=0, max_size=12),
       st.lists(st.integers(-5, 75), min_size=1, max_size=8))
def test_random_spells_match_brute_force(spells, day_offsets):
    # brute force: a compound counts on day d when any of its rows has start <= d < end
    base = pd.Timestamp("2020-01-01")
    ds = registry()
    rows = [(c, base + pd.Timedelta(days=s), (base + pd.Timedelta(days=e)) if has_end else pd.NaT)
            for c, s, e, has_end in spells]
    ds["compound_milestones"] = pd.DataFrame(rows or [("P1", pd.NaT, pd.NaT)], columns=["compound_id", "date", "ended"]) \
        .assign(milestone="red_property").astype({"date": "datetime64[ns]", "ended": "datetime64[ns]"})
    dates = [base + pd.Timedelta(days=k) for k in day_offsets]
    r = coverage_over_time(ds, ["par.red_property_coverage"], dates, "community")
    got_counts = dict(zip(zip(r.table["unit_id"], r.table["period"]), r.table["numerator"]))
    for d in sorted(set(dates)):
        for comm, members in {"C1": {"P1", "P2"}, "C2": {"P3"}, "C3": {"P4"}}.items():
            want = sum(any(c == p and s <= d and (pd.isna(e) or e > d) for c, s, e in rows) for p in members)
            assert got_counts[(comm, d.strftime("%Y-%m-%d"))] == want


# --------------------------------------------------------------------------- bundled district


@pytest.fixture(scope="module")
def bundled(bundled_dir):
    if not (bundled_dir / "datapackage.json").exists():
        pytest.skip(f"the bundled district is not built at {bundled_dir} (run `make data`)")
    from evaluation.dataset import load_dataset

    return load_dataset(bundled_dir)


# 2021-05-29/30 and 2021-10-12/13: the days before and on which X0134's and X0146's owners committees ended
BUNDLED_DATES = ["2019-06-30", "2020-12-31", "2021-05-29", "2021-05-30", "2021-10-12", "2021-10-13"]


@pytest.fixture(scope="module")
def over_time(bundled):
    return coverage_over_time(bundled, None, BUNDLED_DATES, LEVELS)


@pytest.mark.parametrize("as_of", BUNDLED_DATES)
def test_identical_to_registry_indicators(bundled, over_time, as_of):
    ts = pd.Timestamp(as_of)
    ref = registry_indicators(bundled, ts.year, LEVELS, as_of=ts, indicators=DATED_STOCK_INDICATORS).table
    got = over_time.table[over_time.table["period"].eq(as_of)]
    assert len(got) == len(ref) > 3000
    m = ref.merge(got, on=KEY, how="outer", suffixes=("_ref", "_got"), indicator=True)
    assert m["_merge"].eq("both").all()
    for col in ("numerator", "denominator", "n"):
        # counts of compounds, households, buildings, members, volunteers: exact; areas in m2 to 1e-9
        np.testing.assert_allclose(m[f"{col}_got"].astype(float), m[f"{col}_ref"].astype(float), rtol=1e-12, atol=0)
    np.testing.assert_allclose(m["value_got"], m["value_ref"], rtol=1e-12, equal_nan=True)
    assert (m["method_got"] == m["method_ref"]).all()
    assert (m["flags_got"] == m["flags_ref"]).all()


def test_dissolved_owners_committees_leave_the_counts(over_time):
    t = over_time.table.set_index(KEY)
    for comp, before, on in (("X0134", "2021-05-29", "2021-05-30"), ("X0146", "2021-10-12", "2021-10-13")):
        for iid, col in (("par.owners_committee_coverage", "numerator"), ("par.party_led_oc_coverage", "denominator"),
                         ("par.party_led_oc_coverage", "numerator")):
            assert t.loc[(iid, "compound", comp, before), col] == 1
            assert t.loc[(iid, "compound", comp, on), col] == 0
    d = over_time.series("par.party_led_oc_coverage", column="denominator")
    assert d["2021-05-29"] - d["2021-05-30"] == 1 and d["2021-10-12"] - d["2021-10-13"] == 1


def test_published_2020_figures_and_monthly_rollout_is_fast(bundled):
    # article: 60%以上的小区推行红色物业 (>= 0.60 of compounds); 党建主导型业委会246个, 覆盖率达92% (246 / 267)
    ids = ["par.red_property_coverage", "par.red_property_coverage.households", "par.party_led_oc_coverage",
           "org.building_group_coverage"]
    months = pd.date_range("2019-01-31", "2021-12-31", freq="ME")
    start = time.perf_counter()
    r = coverage_over_time(bundled, ids, months, "district")
    seconds = time.perf_counter() - start
    assert seconds < 2.0, f"36 monthly points of 4 indicators took {seconds:.2f} s"
    assert len(r.table) == 4 * 36
    assert r.value("par.red_property_coverage", "2020-12-31") >= 0.60
    row = r.table[r.table["indicator"].eq("par.party_led_oc_coverage") & r.table["period"].eq("2020-12-31")].iloc[0]
    assert (row["numerator"], row["denominator"]) == (246, 267)
    # building party groups: 楼栋党小组1077个 on 31 December 2020
    assert r.series("org.building_group_coverage", column="numerator")["2020-12-31"] == 1077
    # a stock of milestones without ends never falls: red property only rises month by month
    assert (np.diff(r.series("par.red_property_coverage", column="numerator").to_numpy()) >= 0).all()
