"""Additions for notebook 06: partial event-study averages, the raw adopter/never-adopter
comparison and the adoption status of compounds.

References: R ``did`` README on ``mpdta`` (``reference/did/aggregate_reference.csv``: dynamic
overall ATT -0.0772, 4 decimals) for the event-study averages; statsmodels OLS with
cluster-robust (CR1) covariance as the second implementation of the raw comparison; hand-worked
examples for the rest.
"""

from __future__ import annotations

import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation import impact, periods
from evaluation.impact import panels


@pytest.fixture(scope="module")
def mpdta(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "did" / "mpdta.csv")


@pytest.fixture(scope="module")
def fit(mpdta):
    return impact.staggered_did(mpdta, "lemp", unit="countyreal", time="year", first_treated="first.treat",
                                options=impact.DidOptions(biters=99))


def test_event_average_from_zero_is_the_dynamic_aggregate(fit, reference_dir):
    ref = pd.read_csv(reference_dir / "did" / "aggregate_reference.csv")
    r = fit.event_average(min_event=0)
    ov = fit.overall.set_index("aggregation").loc["dynamic"]
    assert r["att"] == pytest.approx(ov["att"], abs=1e-12)
    assert r["se"] == pytest.approx(ov["se"], abs=1e-12)
    # did README: dynamic overall -0.0772 (4 decimals)
    assert r["att"] == pytest.approx(float(ref.set_index("aggregation").loc["dynamic", "overall_att"]), abs=5e-5)


def test_event_average_is_the_mean_of_the_event_study_estimates(fit):
    d = fit.aggregates["dynamic"]
    r = fit.event_average(min_event=1)
    later = d[d["key"] >= 1]
    assert r["att"] == pytest.approx(later["att"].mean(), abs=1e-12)  # equal weights over event times
    assert r["n_event_times"] == len(later) == 3
    assert r["ci_low"] < r["att"] < r["ci_high"]
    # a single event time: its own estimate and standard error
    one = fit.event_average(min_event=2, max_event=2)
    row = d.set_index("key").loc[2]
    assert one["att"] == pytest.approx(row["att"], abs=1e-12)
    assert one["se"] == pytest.approx(row["se"], rel=1e-9)
    with pytest.raises(ValueError, match="no event-study estimate"):
        fit.event_average(min_event=10)


def test_naive_difference_matches_statsmodels_cluster_ols(mpdta):
    r = impact.naive_difference(mpdta, "lemp", "countyreal", "year", "first.treat")
    treated = (mpdta["first.treat"] > 0) & (mpdta["year"] >= mpdta["first.treat"])
    never = (mpdta["first.treat"] == 0) & mpdta["year"].isin(set(mpdta.loc[treated, "year"]))
    s = mpdta[treated | never]
    X = sm.add_constant(treated[s.index].astype(float).to_numpy())
    ols = sm.OLS(s["lemp"].to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": s["countyreal"].to_numpy()})
    assert r["att"] == pytest.approx(ols.params[1], abs=1e-10)
    assert r["se"] == pytest.approx(ols.bse[1], rel=1e-8)
    assert r["n_adopter_obs"] == int(treated.sum())


def test_naive_difference_hand_worked():
    # adopter a treated from period 2 (values 5, 7 after), b never (values 1, 2, 3): periods with a treated
    # adopter are 2 and 3, so never-adopter values 2 and 3: 6 - 2.5 = 3.5
    d = pd.DataFrame({"u": ["a"] * 3 + ["b"] * 3, "t": [1, 2, 3] * 2, "g": [2] * 3 + [0] * 3,
                      "y": [0.0, 5, 7, 1, 2, 3]})
    r = impact.naive_difference(d, "y", "u", "t", "g")
    assert r["att"] == pytest.approx(3.5)
    assert (r["mean_adopters"], r["mean_never"], r["n_never_obs"]) == (6.0, 2.5, 2)
    with pytest.raises(ValueError, match="never-adopters"):
        impact.naive_difference(d[d["u"] == "a"], "y", "u", "t", "g")


def test_adoption_status_hand_worked():
    comp = pd.DataFrame({"compound_id": ["c1", "c2", "c3", "c4"], "compound_type": ["commercial"] * 4})
    adoption = pd.Series(pd.to_datetime(["2018-05-01", "2019-03-31", "2020-08-01", "2022-02-01"]),
                         index=["c1", "c2", "c3", "c4"])
    first, last = periods.period_code(pd.to_datetime(["2019-01-01", "2021-09-30"]), "quarter")
    st = panels.adoption_status(comp, adoption.iloc[:3].combine_first(adoption), int(first), int(last))
    assert st["status"].tolist() == ["always treated", "always treated", "cohort", "not adopting"]
    assert st["cohort"].tolist() == ["2018Q2", "2019Q1", "2020Q3", "2022Q1"]
    st = panels.adoption_status(comp, adoption.iloc[:2], int(first), int(last))
    assert st["status"].tolist()[2:] == ["not adopting", "not adopting"]
    assert st["cohort"].isna().tolist() == [False, False, True, True]
    assert st["first_treated"].tolist()[2:] == [0, 0]
    assert "first_treated" not in comp.columns  # input untouched
