"""The hotline plants of the synthetic district (evaluation.synth.hotline) and the truth it records.

References: the realised ATT on the panel's scale is rebuilt from the log by
``benchmarks/impact_simulation.py::panel_scale_truth`` (the impact benchmark's own computation) on the
estimation sample of :func:`evaluation.impact.did.estimation_sample`; the generator's working time
against the package's working clock (two implementations of one definition).
"""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evaluation.calendar import WorkCalendar
from evaluation.dataset import load_dataset
from evaluation.hotline import DeadlineTable
from evaluation.requests.durations import working_clock
from evaluation.synth.hotline import working_hours

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ds(bundled_dir):
    return load_dataset(bundled_dir)


@pytest.fixture(scope="module")
def truth(bundled_dir):
    return json.loads((bundled_dir / "truth.json").read_text(encoding="utf-8"))


def _benchmark():
    spec = importlib.util.spec_from_file_location("impact_simulation", ROOT / "benchmarks" / "impact_simulation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_panel_scale_att_is_the_benchmarks_rebuild_from_the_log(ds, truth):
    from evaluation.impact.did import estimation_sample
    from evaluation.impact.red_property import impact_design

    design = impact_design(ds, "mean_resolution_hours")
    data, _, _ = estimation_sample(design.data, design.outcome, unit=design.unit, time=design.time,
                                   first_treated=design.first_treated, options=design.options, labels=design.labels)
    res = SimpleNamespace(fit={"data": data})
    tables = {k: ds[k] for k in ("requests", "units", "compounds", "compound_milestones")}
    rebuilt = _benchmark().panel_scale_truth(tables, truth, res)
    planted = truth["red_property"]["realised_att"]["compound_quarter_panel_scale"]
    assert rebuilt == pytest.approx(planted["mean_resolution_hours"], abs=1e-4)
    n_cells = int(((data["first_treated"] > 0) & (data["period"] >= data["first_treated"])).sum())
    assert n_cells == planted["mean_resolution_hours_treated_compound_periods"]
    # the quarterly target is nearer zero than the post-adoption-only figure, by about an hour (README)
    gap = planted["mean_resolution_hours"] - truth["red_property"]["realised_att"]["compound_quarter"]["mean_resolution_hours"]
    assert 0.3 < gap < 2.0
    assert "does not end when an owners committee dissolves" in truth["red_property"]["effect_is_permanent"]


def test_generator_working_time_is_the_packages_working_clock():
    rng = np.random.default_rng(1)
    start = pd.Timestamp("2019-01-01").value // 10**9 + rng.integers(0, 3 * 365 * 86400, 2000)
    end = start + rng.integers(0, 40 * 86400, 2000)
    cal = WorkCalendar.china(range(2019, 2023))
    ours = working_hours(start, end, cal)
    clock = working_clock(cal, int(start.min() // 86400) - 1, int(end.max() // 86400) + 1)
    ref = (clock.seconds_at(end * 10**9) - clock.seconds_at(start * 10**9)) / 3600
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


def test_truth_records_the_catalogue_deadlines_and_the_plants(truth, ds):
    h = truth["hotline"]
    d = DeadlineTable.default()
    assert h["deadlines"]["table"]["resolution"] == dict(d.resolution_days)
    assert h["deadlines"]["table"]["response"] == d.response_days
    assert len(h["volume"]["hot_spots"]) == 6 and set(h["volume"]["hot_spots"]) <= set(ds["compounds"]["compound_id"])
    assert h["targeted"] == {"category": "parking_traffic", "campaign_start": "2021-04-01", "volume_factor": 0.7}
    r = ds["requests"]
    # grid-worker requests have no caller; every other request has one, and a building when it has a compound
    assert r.loc[r["channel"].eq("grid_worker"), "caller_key"].isna().all()
    assert r.loc[r["channel"].ne("grid_worker"), "caller_key"].notna().all()
    assert (r["building_id"].notna() == r["compound_id"].notna()).all()
    b = ds["buildings"].set_index("building_id")["compound_id"]
    has = r["building_id"].notna()
    assert (r.loc[has, "building_id"].map(b) == r.loc[has, "compound_id"]).all()


def test_events_are_ordered_and_after_creation(ds):
    ev = ds["events"].sort_values(["request_id", "seq"], kind="stable").reset_index(drop=True)
    r = ds["requests"].set_index("request_id")["created_at"]
    first = ~ev["request_id"].duplicated()
    assert (ev["seq"].to_numpy() == ev.groupby("request_id").cumcount().to_numpy() + 1).all()
    assert (ev.loc[first, "event_type"] == "assigned").all()
    same = ev["request_id"].eq(ev["request_id"].shift())
    assert (ev["at"].diff()[same] >= pd.Timedelta(0)).all()  # in time order within a request
    assert (ev["at"].to_numpy() >= r.reindex(ev["request_id"]).to_numpy()).all()
    assert (ev["at"] <= ds.cutoff).all()
