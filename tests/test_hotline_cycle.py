"""The smart-community cycle and dispatch (evaluation.hotline.cycle, .dispatch) against the planted truth.

References: ``truth.json`` ``hotline.cycle`` (grid-worker share by street, app go-live day by community,
affair classes left unrecorded by year, ratings not reached) and ``hotline.events`` (send-back
probability by street, exponential whistle-to-report times by street). A real NYC 311 export, which
records neither an affair class nor a rating, checks that what is not recorded is not assessed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluation.dataset import load_dataset
from evaluation.errors import DataError, MissingInputError
from evaluation.hotline import cycle_indicators, dispatch_measures
from evaluation.requests import load_requests


@pytest.fixture(scope="module")
def ds(bundled_dir):
    return load_dataset(bundled_dir)


@pytest.fixture(scope="module")
def truth(bundled_dir):
    return json.loads((bundled_dir / "truth.json").read_text(encoding="utf-8"))["hotline"]


@pytest.fixture(scope="module")
def streets(ds):
    return cycle_indicators(ds, "street", "year").table


def _covered(t: pd.DataFrame, true: pd.Series) -> pd.Series:
    return (t["ci_low"] <= true) & (true <= t["ci_high"])


def test_proactive_rated_and_graded_shares_recover_their_plants(streets, truth):
    """Three 12-interval families (4 streets x 3 years); at least 10 of 12 must cover (98 % of districts)."""
    c = truth["cycle"]
    t = streets[streets["indicator"].eq("svc.proactive_share")]
    assert _covered(t, t["unit_id"].map(c["proactive_share_expected_by_street"])).sum() >= 10
    t = streets[streets["indicator"].eq("svc.rated_share")]
    assert _covered(t, pd.Series(1 - c["not_reached_share_of_closed"], index=t.index)).sum() >= 10
    t = streets[streets["indicator"].eq("svc.graded_share")]
    true = 1 - t["period"].map(c["affair_class_unrecorded_share_by_year"]).astype(float)
    assert _covered(t, true).sum() >= 10
    assert (t.groupby("period")["value"].mean().diff().dropna() > 0).all()  # grading improved each year


def test_full_collection_follows_the_app_going_live(ds, truth):
    """Before its app goes live a community has at most 3 of the 4 channels; from the quarter after, all 4
    in nearly every quarter (a live channel without a request in a quarter, e.g. no walk-in in a small
    community, also counts as not live: the measure sees use, not availability)."""
    t = cycle_indicators(ds, "community", "quarter").table
    t = t[t["indicator"].eq("svc.channels_live_share")].set_index(["unit_id", "period"])["value"]
    live = truth["cycle"]["app_live_by_community"]
    before, after = [], []
    for c, day in live.items():
        q = pd.Timestamp(day).to_period("Q")
        before += [t.loc[(c, str(p))] for p in pd.period_range("2019Q1", q - 1, freq="Q")]
        after += [t.loc[(c, str(p))] for p in pd.period_range(q + 1, "2021Q4", freq="Q")]
    assert len(before) > 100 and max(before) <= 0.75
    assert np.mean(np.array(after) == 1.0) > 0.97


def test_what_a_log_does_not_record_is_not_assessed(reference_dir):
    nyc = load_requests(reference_dir / "requests" / "nyc311_2011_sample.csv", format="nyc311")
    t = cycle_indicators(nyc, None, "year").table.set_index("indicator")
    for iid in ("svc.graded_share", "svc.rated_share"):
        assert t.loc[[iid], "value"].isna().all() and (t.loc[[iid], "flags"] == "not_recorded").all()
    assert t.loc[["svc.proactive_share"], "value"].notna().all()


def test_dispatch_recovers_send_backs_and_whistle_times(ds, truth):
    ev = truth["events"]
    res = dispatch_measures(ds, level="street", period="year")
    t = res.table[res.table["period"].eq("2021")]
    sb = t[t["indicator"].eq("svc.send_back_rate")]
    assert _covered(sb, sb["unit_id"].map(ev["return_probability_by_street"])).all()
    wh = t[t["indicator"].eq("svc.whistle_report_hours")]
    assert _covered(wh, wh["unit_id"].map(ev["report_hours_median_by_street"])).all()
    assert (res.whistles["reported"] == 0).sum() == ev["whistles"] - ev["whistles_reported_by_cutoff"]
    # requests before the events were recorded are not dispatched as far as the log knows: not counted
    assert set(res.table["period"]) == {"2021"}
    assert any("without a dispatch event are not counted" in n for n in res.notes)


def test_dispatch_errors(ds):
    with pytest.raises(MissingInputError, match="no events table"):
        dispatch_measures({k: ds[k] for k in ("units", "requests")})
    bad = ds["events"].head(20).assign(event_type="phoned")
    with pytest.raises(DataError, match="phoned"):
        dispatch_measures(ds, bad)
    plot = dispatch_measures(ds, level="street").plot()
    assert len(plot.get_yticklabels()) == 4
    np.testing.assert_array_equal(cycle_indicators(ds, None, "year").table["unit_id"].unique(), ["all"])
