"""The synthetic district: determinism, calibration to the published figures, planted truth."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.registry.published import reconcile
from evaluation.synth import generate_district


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def small_districts(tmp_path_factory):
    """Two runs with seed 7 and one with seed 8, each with a small request log."""
    out = {}
    for name, seed in (("a", 7), ("b", 7)):
        d = tmp_path_factory.mktemp(name)
        assert main(["synth", "--out", str(d), "--seed", str(seed), "--requests-per-year", "3000"]) == 0
        out[name] = d
    return out


def test_bundled_dataset_is_what_synth_produces(tmp_path, bundled_dir):
    """data/zhangwan-synthetic is byte for byte the output of `evaluation synth` with the default seed."""
    assert main(["synth", "--out", str(tmp_path)]) == 0
    assert _digests(tmp_path) == _digests(bundled_dir)


def test_same_seed_same_bytes(small_districts):
    assert _digests(small_districts["a"]) == _digests(small_districts["b"])


@pytest.fixture(scope="module")
def in_memory():
    return {seed: generate_district(seed, requests_per_year=1000)[0] for seed in (20201225, 8)}


def test_different_seed_different_district(in_memory):
    a, b = in_memory[20201225], in_memory[8]
    assert not a["compounds"].equals(b["compounds"])
    assert not a["compound_milestones"].equals(b["compound_milestones"])


@pytest.mark.parametrize("seed", [20201225, 8])
def test_every_published_figure_with_a_counterpart_agrees(seed, in_memory):
    t = reconcile(in_memory[seed], 2020).table
    checked = t[t["kind"].isin(["count", "share"])]
    assert len(checked) == 44
    bad = checked[~checked["agrees"].astype(bool)]
    assert bad.empty, bad[["key", "published", "recomputed"]].to_string()
    # the headline figures, explicitly
    val = t.set_index("key")["recomputed"]
    assert val["compound_party_branches"] == 335
    assert val["building_party_groups"] == 1077
    assert val["party_led_owners_committees"] == 246
    assert round(val["party_led_owners_committee_coverage"], 2) == 0.92
    assert val["red_property_compound_share"] >= 0.60
    assert val["in_service_members_registered"] == 2497
    assert val["district_units_double_registration"] == 61
    assert (val["community_worker_quota"], val["community_workers_hired"], val["community_worker_reserves"]) == (546, 477, 40)
    assert val["registered_volunteers"] == 50511


def test_reconciliation_flags_a_figure_that_does_not_agree(in_memory):
    tables = in_memory[20201225]
    staffing = tables["staffing"].copy()
    row = staffing.index[staffing["year"] == 2020][0]
    staffing.loc[row, "hired"] += 1
    t = reconcile({**tables, "staffing": staffing}, 2020).table.set_index("key")
    assert not t.loc["community_workers_hired", "agrees"]
    assert t.loc["community_worker_quota", "agrees"]


def test_rules_are_met_imperfectly_and_unevenly(bundled_dir):
    truth = json.loads((bundled_dir / "truth.json").read_text(encoding="utf-8"))
    duty = truth["rules"]["weekday_duty_realised_share_by_community"]
    assert len(duty) == 34
    assert max(duty.values()) < 1.0 and max(duty.values()) - min(duty.values()) > 0.1


def test_truth_records_realised_effects(bundled_dir):
    truth = json.loads((bundled_dir / "truth.json").read_text(encoding="utf-8"))
    att = truth["red_property"]["realised_att"]
    # red property shortens resolution and raises satisfaction: the realised effects have the planted signs
    assert att["compound_quarter"]["mean_resolution_hours"] < -5
    assert att["compound_quarter"]["satisfaction_rate"] > 0.02
    assert att["survey_sat_overall_compound_wave"] > 0.1
    pm = truth["survey"]["population_means"]["sat_overall"]
    assert set(pm) == {"2019", "2020", "2021"} and "ZW" in pm["2020"] and "S01" in pm["2020"]


def test_requests_have_censoring_and_sane_times(bundled_dir):
    r = pd.read_parquet(bundled_dir / "requests.parquet")
    assert 170_000 < len(r) < 190_000
    open_at_cutoff = r["resolved_at"].isna()
    assert 0.01 < open_at_cutoff.mean() < 0.1  # requests still open at the cut-off exist
    done = r.dropna(subset=["resolved_at"])
    assert (done["resolved_at"] >= done["created_at"]).all()
    assert r["request_id"].is_unique


def test_synth_rejects_years_without_2020(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "x"), "--years", "2021-2022"]) == 1
    assert "2020" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
