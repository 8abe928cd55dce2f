"""Scorecard: each value against its target (met, not met, no target, missing) and the previous year."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.registry import registry_scorecard
from evaluation.results import indicator_frame
from evaluation.scorecard import build_scorecard, resolve_targets, status_of

FIXTURE = Path(__file__).parent / "fixtures" / "minimal"


def _tidy(rows):
    return indicator_frame([dict(zip(["indicator", "level", "unit_id", "period", "value"], r)) for r in rows])


CURRENT = _tidy([
    ("par.red_property_coverage", "district", "D", "2020-12-31", 0.6119),   # target >= 0.60: met
    ("par.party_led_oc_coverage", "district", "D", "2020-12-31", 0.9134),   # target >= 0.92: not met
    ("sup.workers_per_10k", "district", "D", "2020-12-31", 18.0),           # target >= 18: met at the bound
    ("org.building_group_coverage", "district", "D", "2020-12-31", 0.42),   # no target
    ("org.compound_branch_coverage", "district", "D", "2020-12-31", np.nan),  # missing
    ("svc.backlog", "district", "D", "2020", 120.0),                        # lower is better
])
PREVIOUS = _tidy([
    ("par.red_property_coverage", "district", "D", "2019-12-31", 0.30),
    ("svc.backlog", "district", "D", "2019", 150.0),
    ("sup.workers_per_10k", "district", "D", "2019-12-31", 18.0),
])


def test_status_change_and_trend():
    sc = build_scorecard(CURRENT, PREVIOUS, year=2020)
    t = sc.table.set_index("indicator")
    assert t["status"].to_dict() == {
        "par.red_property_coverage": "met", "par.party_led_oc_coverage": "not_met", "sup.workers_per_10k": "met",
        "org.building_group_coverage": "no_target", "org.compound_branch_coverage": "missing", "svc.backlog": "no_target",
    }
    assert t.loc["par.red_property_coverage", "change"] == pytest.approx(0.3119)
    assert t.loc["par.red_property_coverage", "trend"] == "better"
    assert t.loc["svc.backlog", "change"] == -30 and t.loc["svc.backlog", "trend"] == "better"  # fewer open requests
    assert t.loc["sup.workers_per_10k", "trend"] == "unchanged"
    assert pd.isna(t.loc["org.building_group_coverage", "trend"])  # no previous value
    assert t.loc["sup.workers_per_10k", "target_source"].startswith("hubei-14fyp")
    assert list(sc.counts()) == [2, 1, 2, 1]
    assert "met: 2" in sc.summary()


def test_targets_table_overrides_the_catalogue_for_its_year():
    targets = pd.DataFrame({"indicator_id": ["par.party_led_oc_coverage", "par.red_property_coverage"],
                            "year": [2020, 2021], "target": [0.90, 0.99], "comparator": [">=", ">="],
                            "source": ["district plan 2020", "district plan 2021"]})
    t = build_scorecard(CURRENT, None, targets, year=2020).table.set_index("indicator")
    assert t.loc["par.party_led_oc_coverage", "status"] == "met"
    assert t.loc["par.party_led_oc_coverage", "target_source"] == "district plan 2020"
    assert t.loc["par.red_property_coverage", "target"] == 0.60  # the 2021 row does not apply to 2020
    r = resolve_targets(["zzz.unknown"])
    assert math.isnan(r["target"].iloc[0])


def test_status_of_comparators():
    v = pd.Series([1.0, 1.0, 1.0, 1.0, 1.0, np.nan])
    t = pd.Series([1.0, 1.0, 2.0, 0.5, 1.0, 1.0])
    c = pd.Series(["<=", "==", ">", "<", None, ">="], dtype="object")
    assert status_of(v, t, c).tolist() == ["met", "met", "not_met", "not_met", "no_target", "missing"]


def test_display_in_chinese_and_html():
    sc = build_scorecard(CURRENT, PREVIOUS, year=2020, lang="zh")
    d = sc.display()
    assert "状态" in d.columns and "目标值" in d.columns
    assert set(d["状态"]) == {"达标", "未达标", "无目标", "缺失"}
    assert "红色物业覆盖率(按小区)" in set(d["指标名称"])
    assert "<table" in sc._repr_html_()


def test_scorecard_from_a_dataset():
    from evaluation.dataset import load_dataset

    ds = load_dataset(FIXTURE)
    sc = registry_scorecard(ds, 2020, "district")
    t = sc.table.set_index("indicator")
    # fixture: P01 red property from 2019-05-10 of P01-P03, both years
    assert t.loc["par.red_property_coverage", "value"] == pytest.approx(1 / 3)
    assert t.loc["par.red_property_coverage", "previous_value"] == pytest.approx(1 / 3)
    assert t.loc["par.red_property_coverage", "status"] == "not_met"
    assert t.loc["par.red_property_coverage", "trend"] == "unchanged"


def test_registry_result_scorecard_method():
    from evaluation.dataset import load_dataset
    from evaluation.registry import registry_indicators

    ds = load_dataset(FIXTURE)
    cur, prev = registry_indicators(ds, 2020), registry_indicators(ds, 2019)
    t = cur.scorecard(prev, year=2020).table.set_index("indicator")
    # fixture: P02's branch ended on 2019-12-31 and the end date is exclusive, so as of 2019-12-31 only P01
    # has a branch: 1/3 in both years
    assert t.loc["org.compound_branch_coverage", "previous_value"] == pytest.approx(1 / 3)
    # hires: staffing has 2020 rows only -> 2019 fill is missing (zero denominator), so no change
    assert pd.isna(t.loc["sup.worker_quota_fill", "previous_value"]) and pd.isna(t.loc["sup.worker_quota_fill", "change"])
    assert t.loc["sup.worker_quota_fill", "value"] == pytest.approx(37 / 38)
