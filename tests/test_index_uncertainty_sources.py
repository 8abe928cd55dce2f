"""The index's new pieces against hand-worked cases and closed forms.

* data error: two units, one noisy indicator: the share of runs in which they swap is the normal
  probability Phi(-d / se); zero errors change nothing; the data factor's indices are zero without
  noise and the construction factors' are zero with ``construction=False``;
* multi-year: pooled normalisation (an unchanged unit keeps its score), rank changes under the same
  draws, the nominal change;
* entropy weights by hand; AHP on a consistent matrix (weights recovered, CR = 0) and on an
  inconsistent one (lambda_max from numpy's eigenvalues, CR = CI / 1.12 for n = 5);
* COINr's second treatment: log_CT by its formula, applied to the original values when 5 points of
  winsorising are not enough; Box-Cox as scipy's on the shifted values;
* validation: an outcome monotone in the index correlates at 1 in every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.index import (
    IndexSpec,
    IndicatorMatrix,
    ahp,
    compute_index,
    entropy_weights,
    index_validation,
    rank_uncertainty,
    uncertainty_sources,
)
from evaluation.index.normalise import boxcox, log_ct, treat_outliers
from evaluation.index.weights import entropy_weight
from evaluation.index.years import stack_years

ORG = ["org.building_group_coverage", "org.branch_standardisation"]
SUP = "sup.worker_quota_fill"
OUT = "out.resident_satisfaction"


def _two_units(se: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    m = pd.DataFrame({ORG[0]: [0.6, 0.5], ORG[1]: [0.5, 0.5]}, index=["A", "B"])
    e = pd.DataFrame({ORG[0]: [se, np.nan], ORG[1]: [np.nan, np.nan]}, index=m.index)
    return m, e


def test_swap_probability_is_the_normal_one():
    """A = 0.6 +- se, B = 0.5 exactly, a tie on the other indicator: A ranks below B when its draw
    falls under 0.5, probability Phi(-0.1 / se)."""
    se = 0.08
    m, e = _two_units(se)
    u = rank_uncertainty(m, IndexSpec(treatment="none"), draws=1500, seed=3, bootstrap=0, errors=e, construction=False)
    share_swapped = float((u.ranks["A"] > u.ranks["B"]).mean())
    p = stats.norm.cdf(-0.1 / se)
    assert share_swapped == pytest.approx(p, abs=3.5 * np.sqrt(p * (1 - p) / 3000))
    assert list(u.sensitivity.query("output == 'ranks'")["factor"]) == ["data"]


def test_no_error_no_change():
    m, e = _two_units(0.0)  # zero standard errors are no data error
    a = rank_uncertainty(m, draws=50, seed=1, bootstrap=0)
    b = rank_uncertainty(m, draws=50, seed=1, bootstrap=0, errors=e)
    pd.testing.assert_frame_equal(a.rank_table, b.rank_table)
    assert b.choices["error_groups"] == {}


def test_uncertainty_sources_table():
    rng = np.random.default_rng(4)
    n = 12
    q = np.linspace(0, 1, n)
    m = pd.DataFrame({ORG[0]: 0.2 + 0.6 * q + rng.normal(0, 0.05, n), ORG[1]: rng.uniform(0.1, 0.9, n),
                      SUP: 0.3 + 0.5 * q + rng.normal(0, 0.1, n), OUT: 3 + q + rng.normal(0, 0.2, n)},
                     index=[f"C{i:02d}" for i in range(n)])
    e = pd.DataFrame(np.nan, index=m.index, columns=m.columns)
    e[OUT] = 0.3
    t, runs = uncertainty_sources(m, errors=e, error_groups={"survey": [OUT]}, draws=60, bootstrap=0)
    t = t.set_index("source")
    assert t.loc["both", "share_of_width"] == 1.0
    assert 0 < t.loc["data", "share_of_width"] < 1 and 0 < t.loc["construction", "share_of_width"] <= 1.2
    s = runs["both"].sensitivity.query("output == 'ranks'").set_index("factor")
    assert "survey" in s.index and s.loc["survey", "total"] > 0
    assert set(runs["data"].sensitivity["factor"]) == {"survey"}


def test_multi_year_pooled_normalisation_and_rank_change():
    units = ["A", "B", "C"]
    m19 = pd.DataFrame({ORG[0]: [0.2, 0.5, 0.8], ORG[1]: [0.3, 0.6, 0.9]}, index=units)
    m20 = pd.DataFrame({ORG[0]: [0.9, 0.5, 0.4], ORG[1]: [0.95, 0.6, 0.5]}, index=units)  # B unchanged
    g = pd.Series("S01", index=units)
    mats = {y: IndicatorMatrix(values=v, groups=g, names=pd.DataFrame(index=units), dropped=pd.DataFrame(), year=y)
            for y, v in ((2019, m19), (2020, m20))}
    values, errors, groups, blocks = stack_years(mats)
    assert errors is None and list(blocks) == [2019, 2020] * 3
    base = compute_index(values, IndexSpec(treatment="none"), groups=groups)
    assert base.index[("B", 2019)] == pytest.approx(base.index[("B", 2020)])  # same raw values, same pooled score
    u = rank_uncertainty(values, IndexSpec(treatment="none"), draws=30, seed=2, bootstrap=0, blocks=blocks,
                         construction=False)
    # A: last in 2019, first in 2020 in every run
    d = u.ranks[("A", 2020)] - u.ranks[("A", 2019)]
    assert (d == -2).all()
    assert u.nominal_ranks[("C", 2019)] == 1 and u.nominal_ranks[("C", 2020)] == 3


def test_entropy_weights_by_hand():
    # column x: 0, 1 -> p = (0, 1), entropy 0, divergence 1; column y: 1, 1 -> entropy 1, divergence 0
    v = pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 1.0]})
    assert entropy_weight(v).to_dict() == pytest.approx({"x": 1.0, "y": 0.0}, abs=1e-12)
    # three units p = (1/6, 2/6, 3/6): e = -sum p ln p / ln 3
    w = entropy_weight(pd.DataFrame({"a": [1.0, 2, 3], "b": [1.0, 1, 2]}))
    def ent(x):
        p = np.asarray(x) / np.sum(x)
        return -(p * np.log(p)).sum() / np.log(3)
    da, db = 1 - ent([1, 2, 3]), 1 - ent([1, 1, 2])
    assert w["a"] == pytest.approx(da / (da + db), abs=1e-12)
    ps = pd.DataFrame({"P1": [1.0, 2.0, 3.0], "P2": [2.0, 2.0, 2.0]})
    ew = entropy_weights(pd.DataFrame({"a": [1.0, 2, 3], "b": [1.0, 1, 2]}), {"P1": ["a"], "P2": ["b"]}, ps)
    assert ew.within.to_dict() == {"a": 1.0, "b": 1.0}
    assert ew.pillar.to_dict() == pytest.approx({"P1": 1.0, "P2": 0.0}, abs=1e-12)


def test_ahp_consistent_and_inconsistent():
    w = np.array([0.4, 0.3, 0.2, 0.1])
    labels = list("abcd")
    consistent = pd.DataFrame(np.outer(w, 1 / w), index=labels, columns=labels)
    r = ahp(consistent)
    np.testing.assert_allclose(r.weights.to_numpy(), w, atol=1e-12)
    assert r.lambda_max == pytest.approx(4.0, abs=1e-10) and abs(r.cr) < 1e-10 and r.consistent
    a = np.array([[1, 3, 5, 1 / 2, 7], [1 / 3, 1, 1 / 3, 1 / 5, 3], [1 / 5, 3, 1, 1 / 7, 1 / 2], [2, 5, 7, 1, 9],
                  [1 / 7, 1 / 3, 2, 1 / 9, 1]])
    r = ahp(pd.DataFrame(a, index=list("abcde"), columns=list("abcde")))
    lam = max(np.linalg.eigvals(a).real)
    assert r.lambda_max == pytest.approx(lam, abs=1e-10)
    assert r.cr == pytest.approx((lam - 5) / 4 / 1.12, abs=1e-12)
    assert r.cr > 0.1 and not r.consistent  # this one is too inconsistent to use
    with pytest.raises(ValueError, match="reciprocal"):
        ahp(pd.DataFrame([[1, 2], [2, 1]], index=["a", "b"], columns=["a", "b"]))


def test_coinr_log_and_boxcox_when_winsorising_fails():
    x = np.r_[np.ones(50), 10, 20, 40, 80, 160, 320, 640, 1280]  # more extreme points than 5 can fix
    m = pd.DataFrame({"x": x})
    treated, report = treat_outliers(m, "winsorise")
    assert report.loc[0, "transform"] == "log_CT" and report.loc[0, "points_winsorised"] == 0
    a = 0.01 * (x.max() - x.min())
    np.testing.assert_allclose(treated["x"], np.log(x - x.min() + a), atol=1e-12)  # on the original values
    np.testing.assert_allclose(log_ct(-x), -np.log(-x.min() + a - (-x)), atol=1e-12)  # left skew mirrored
    bc, report_bc = treat_outliers(m, "winsorise_boxcox")
    assert report_bc.loc[0, "transform"] == "boxcox"
    np.testing.assert_allclose(bc["x"], stats.boxcox(x - x.min() + 1)[0], atol=1e-10)
    np.testing.assert_allclose(boxcox(x), bc["x"], atol=1e-12)
    assert np.all(np.diff(bc["x"].to_numpy()[np.argsort(x, kind="stable")]) >= 0)  # increasing: direction kept


def test_validation_against_a_monotone_outcome():
    n = 10
    q = np.linspace(0.1, 0.9, n)
    m = pd.DataFrame({ORG[0]: q, ORG[1]: q ** 2, OUT: 2 + 3 * q}, index=[f"C{i}" for i in range(n)])
    mat = IndicatorMatrix(values=m, groups=pd.Series("S01", index=m.index), names=pd.DataFrame(index=m.index),
                          dropped=pd.DataFrame(), year=2020)
    v = index_validation(mat, held_out="outcome", draws=40, boot=200)
    r = v.table.iloc[0]
    assert r["held_out"] == OUT and r["value"] == pytest.approx(1.0)
    assert r["mc_p05"] == pytest.approx(1.0) and r["share_positive"] == 1.0
    with pytest.raises(ValueError, match="nothing to hold out"):
        index_validation(mat, held_out="service")
