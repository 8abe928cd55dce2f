"""Power of the pre-trend test against R ``pretrends`` on its README example (He and Wang 2017).

``reference/did/he_wang_pretrends*.csv`` (see the README there): beta, sigma and tVec of
``pretrends::HeAndWangResults`` and the printed outputs of ``slope_for_power`` and ``pretrends``.
R's rectangle probabilities carry ``mvtnorm::pmvnorm``'s Monte Carlo error (1e-3 absolute), so
power, slope and truncated means are compared to that precision; the likelihood ratio, exact given
the trend, to 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.impact import pretrend_power, slope_for_power
from evaluation.impact.pretrends import rejection_probability, truncated_mean


@pytest.fixture(scope="module")
def he_wang(reference_dir):
    d = pd.read_csv(reference_dir / "did" / "he_wang_pretrends.csv")
    sigma = d[[c for c in d.columns if c.startswith("sigma_")]].to_numpy()
    ref = pd.read_csv(reference_dir / "did" / "he_wang_pretrends_reference.csv")
    return d["beta"].to_numpy(), sigma, d["t"].to_numpy(), ref


def _ref(ref, call_part, quantity, t=None):
    r = ref[ref["call"].str.contains(call_part, regex=False) & ref["quantity"].eq(quantity)]
    if t is not None:
        r = r[r["t"] == t]
    return float(r["value"].iloc[0])


def test_slope_for_power(he_wang):
    beta, sigma, t, ref = he_wang
    slope = slope_for_power(sigma, t, 0.5, reference=-1)
    assert slope == pytest.approx(_ref(ref, "slope_for_power", "slope"), rel=1e-3)


def test_power_bayes_factor_likelihood_ratio_and_means_after_pretesting(he_wang):
    beta, sigma, t, ref = he_wang
    r_slope = _ref(ref, "slope_for_power", "slope")
    res = pretrend_power(beta, sigma, t, slope=r_slope, reference=-1)
    call = "slope50"
    assert res.power == pytest.approx(_ref(ref, call, "Power"), abs=1e-3)
    assert res.bayes_factor == pytest.approx(_ref(ref, call, "Bayes.Factor"), abs=1e-3)
    assert res.likelihood_ratio == pytest.approx(_ref(ref, call, "Likelihood.Ratio"), rel=1e-6)
    after = res.table.set_index("event_time")["mean_after_pretest"]
    for e in t:
        assert after[int(e)] == pytest.approx(_ref(ref, call, "meanAfterPretesting", e), abs=5e-4)
    assert after[-1] == 0.0


def test_quadratic_trend(he_wang):
    beta, sigma, t, ref = he_wang
    res = pretrend_power(beta, sigma, t, delta=0.024 * (t + 1) ** 2, reference=-1)
    call = "^2"
    assert res.power == pytest.approx(_ref(ref, call, "Power"), abs=1e-3)
    assert res.bayes_factor == pytest.approx(_ref(ref, call, "Bayes.Factor"), abs=1e-3)
    assert res.likelihood_ratio == pytest.approx(_ref(ref, call, "Likelihood.Ratio"), rel=1e-6)


def test_one_dimension_by_hand():
    """One pre-period coefficient with SE 1: power against a trend of 2 is P(|Z + 2| > 1.96), and the
    truncated mean is the textbook one-sided formula (mu + s (phi(a) - phi(b)) / (Phi(b) - Phi(a)))."""
    from scipy.stats import norm

    p = rejection_probability([2.0], [[1.0]])
    assert p == pytest.approx(norm.sf(1.96 - 2) + norm.cdf(-1.96 - 2), abs=1e-12)
    m = truncated_mean([2.0], [[1.0]], [-1.96], [1.96])[0]
    a, b = -1.96 - 2, 1.96 - 2
    assert m == pytest.approx(2 + (norm.pdf(a) - norm.pdf(b)) / (norm.cdf(b) - norm.cdf(a)), abs=1e-10)


def test_truncated_mean_matches_monte_carlo():
    rng = np.random.default_rng(1)
    cov = np.array([[1.0, 0.6, 0.2], [0.6, 2.0, 0.3], [0.2, 0.3, 0.5]])
    mu = np.array([0.5, -0.4, 0.2])
    lo, hi = -1.96 * np.sqrt(np.diag(cov)), 1.96 * np.sqrt(np.diag(cov))
    x = rng.multivariate_normal(mu, cov, size=400_000)
    inside = np.all((x >= lo) & (x <= hi), axis=1)
    np.testing.assert_allclose(truncated_mean(mu, cov, lo, hi), x[inside].mean(axis=0), atol=6e-3)
