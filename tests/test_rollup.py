"""Roll-ups carry numerators and denominators; a district value is the pooled ratio.

Property tests (hypothesis): for any generated registry, the district numerator and denominator
equal the sums over streets and over communities, and the value is their ratio, never a mean
of ratios; zero denominators give a missing value with a flag.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.calendar import WorkCalendar
from evaluation.registry import registry_indicators
from evaluation.registry.rollup import UnitTree, rollup_counts, rollup_long

CAL = WorkCalendar.weekdays()


def _units(streets: list[int], villages: int = 1) -> pd.DataFrame:
    rows = [("D", "district", None, 0, 0)]
    for s, n_comm in enumerate(streets):
        rows.append((f"S{s}", "street", "D", 0, 0))
        rows += [(f"S{s}C{c}", "community", f"S{s}", 1000 * (c + 1), 300 * (c + 1)) for c in range(n_comm)]
    rows.append(("T0", "township", "D", 0, 0))
    rows += [(f"T0V{v}", "village", "T0", 500, 150) for v in range(villages)]
    return pd.DataFrame(rows, columns=["unit_id", "unit_type", "parent_id", "population", "households"])


def test_pooled_ratio_not_mean_of_ratios():
    units = _units([2])
    compounds = pd.DataFrame({"compound_id": ["A", "B", "C", "D1"], "community_id": ["S0C0", "S0C1", "S0C1", "S0C1"]})
    tree = UnitTree.from_tables(units, compounds)
    base = pd.DataFrame({"unit_id": ["A", "B", "C", "D1"], "numerator": [1.0, 0, 0, 1], "denominator": 1.0, "n": 1})
    street = rollup_counts(base, tree, "street", "urban").set_index("unit_id")
    # communities: 1/1 and 1/3 -> mean of ratios 2/3, pooled 2/4
    assert (street.loc["S0", "numerator"], street.loc["S0", "denominator"]) == (2, 4)
    assert list(street.index) == ["S0"]  # the township is not urban


def test_tree_lineage_and_errors():
    units = _units([1, 2])
    tree = UnitTree.from_tables(units)
    assert tree.lineage.loc["S1C1", "street"] == "S1" and tree.lineage.loc["S1C1", "district"] == "D"
    assert tree.lineage.loc["T0V0", "street"] == "T0" and bool(tree.lineage.loc["T0V0", "rural"])
    assert list(tree.units("community", "rural")) == ["T0V0"]
    bad = units.copy()
    bad.loc[bad["unit_id"].eq("S1C0"), "parent_id"] = "S9"
    with pytest.raises(ValueError, match="S1C0: parent_id 'S9' is not a unit_id"):
        UnitTree.from_tables(bad)
    cyc = units.copy()
    cyc.loc[cyc["unit_id"].eq("D"), "parent_id"] = "S0C0"
    with pytest.raises(ValueError, match="cycle"):
        UnitTree.from_tables(cyc)
    with pytest.raises(ValueError, match="table compounds, row 1, column community_id: community_id 'X'"):
        UnitTree.from_tables(units, pd.DataFrame({"compound_id": ["P"], "community_id": ["X"]}))


@st.composite
def count_tables(draw):
    streets = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    units = _units(streets, villages=draw(st.integers(0, 3)))
    comms = units.loc[units["unit_type"].isin(["community", "village"]), "unit_id"].tolist()
    n = len(comms)
    den = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    num = [draw(st.integers(0, d)) for d in den]
    base = pd.DataFrame({"indicator": "x", "unit_id": comms, "numerator": np.array(num, float),
                         "denominator": np.array(den, float), "n": np.array(den, float)})
    return units, base


@settings(max_examples=40, deadline=None)
@given(count_tables())
def test_district_equals_sum_of_streets_and_communities(data):
    units, base = data
    tree = UnitTree.from_tables(units)
    levels = {lv: rollup_long(base, tree, lv, {"x": "all"}) for lv in ("community", "street", "district")}
    d = levels["district"].iloc[0]
    for lv in ("community", "street"):
        assert levels[lv]["numerator"].sum() == d["numerator"]
        assert levels[lv]["denominator"].sum() == d["denominator"]
    # every unit of each level has a row, zero-count units included
    assert len(levels["street"]) == (units["unit_type"].isin(["street", "township"])).sum()
    single = rollup_counts(base.drop(columns="indicator"), tree, "street", "all")
    pd.testing.assert_frame_equal(single.sort_values("unit_id").reset_index(drop=True),
                                  levels["street"].drop(columns="indicator").sort_values("unit_id").reset_index(drop=True))


@st.composite
def registries(draw):
    streets = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    units = _units(streets, villages=1)
    comms = units.loc[units["unit_type"].eq("community"), "unit_id"].tolist()
    n_comp = draw(st.integers(0, 10))
    compounds = pd.DataFrame({
        "compound_id": [f"P{i}" for i in range(n_comp)],
        "community_id": [draw(st.sampled_from(comms)) for _ in range(n_comp)],
        "households": [draw(st.integers(0, 400)) for _ in range(n_comp)],
        "buildings": 1,
    })
    rows = []
    for i in range(n_comp):
        for m in ("party_branch", "red_property", "owners_committee", "party_led_owners_committee", "branch_six_haves"):
            if draw(st.booleans()):
                start = pd.Timestamp("2018-01-01") + pd.Timedelta(days=draw(st.integers(0, 1500)))
                end = start + pd.Timedelta(days=draw(st.integers(1, 900))) if draw(st.booleans()) else pd.NaT
                rows.append((f"P{i}", m, start, end))
    ms = pd.DataFrame(rows, columns=["compound_id", "milestone", "date", "ended"])
    ms["date"] = pd.to_datetime(ms["date"])
    ms["ended"] = pd.to_datetime(ms["ended"])
    staffing = pd.DataFrame({"community_id": comms, "year": 2020,
                             "quota": [draw(st.integers(0, 20)) for _ in comms],
                             "hired": [draw(st.integers(0, 20)) for _ in comms]})
    return {"units": units, "compounds": compounds, "compound_milestones": ms, "staffing": staffing}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registries())
def test_registry_rollups_are_consistent(ds):
    t = registry_indicators(ds, 2020, ["community", "street", "district"], calendar=CAL).table
    for iid, g in t.groupby("indicator"):
        d = g[g["level"].eq("district")].iloc[0]
        for lv in ("street", "community"):
            part = g[g["level"].eq(lv)]
            assert part["numerator"].sum() == d["numerator"], (iid, lv)
            assert part["denominator"].sum() == d["denominator"], (iid, lv)
        if d["denominator"] > 0:
            scale = 1e4 if iid == "sup.workers_per_10k" else 1.0
            assert d["value"] == pytest.approx(scale * d["numerator"] / d["denominator"])
        else:
            assert math.isnan(d["value"]) and "zero_denominator" in d["flags"]
    # no infinities anywhere, and every missing value is flagged
    assert not np.isinf(t["value"]).any()
    assert t.loc[t["value"].isna(), "flags"].str.contains("zero_denominator").all()


def test_ratio_table_scales_and_flags():
    from evaluation.registry.rollup import ratio_table

    counts = pd.DataFrame({"unit_id": ["A", "B"], "numerator": [477.0, 0.0], "denominator": [391322.0, 0.0], "n": [34, 0]})
    t = ratio_table(counts, "sup.workers_per_10k", "district", "2020-12-31", scale=10000, method="registry count")
    assert t["value"].iloc[0] == pytest.approx(477 / 391322 * 1e4)
    assert math.isnan(t["value"].iloc[1]) and t["flags"].tolist() == ["", "zero_denominator"]
