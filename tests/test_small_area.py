"""Fay-Herriot small-area estimates: planted truth and the closed-form limits.

No published Fay-Herriot example with printed numbers is stored in reference/, so the estimator
is checked against a simulation with known area effects and sampling variances (Rao & Molina
2015, section 6.1 design) and against its limits: sigma_u^2 -> 0 gives the regression-synthetic
estimate x'beta (GLS with V = D), a huge sigma_u^2 gives the direct estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation.survey.small_area import estimate_area_variance, fay_herriot

M_AREAS = 60
A_TRUE = 0.25
BETA = np.array([3.0, 1.5])


def _areas(rng):
    x = rng.uniform(0, 1, M_AREAS)
    D = np.linspace(0.05, 1.0, M_AREAS)  # known sampling variances
    theta = BETA[0] + BETA[1] * x + rng.normal(0, np.sqrt(A_TRUE), M_AREAS)
    y = theta + rng.normal(0, np.sqrt(D))
    ids = [f"C{i:02d}" for i in range(M_AREAS)]
    direct = pd.DataFrame({"unit_id": ids, "value": y, "se": np.sqrt(D), "n": 20})
    cov = pd.DataFrame({"unit_id": ids, "red_property": x})
    return direct, cov, theta


def test_planted_truth_variance_and_mse():
    rng = np.random.default_rng(2024)
    a_hat = {"reml": [], "pr": []}
    se_eblup, se_direct, mse_est = [], [], []
    for _ in range(60):
        direct, cov, theta = _areas(rng)
        res = fay_herriot(direct, cov, method="reml")
        a_hat["reml"].append(res.sigma2_u)
        a_hat["pr"].append(fay_herriot(direct, cov, method="pr").sigma2_u)
        t = res.table
        se_eblup.append((t["value"].to_numpy() - theta) ** 2)
        se_direct.append((t["direct"].to_numpy() - theta) ** 2)
        mse_est.append(t["eblup_rmse"].to_numpy() ** 2)
    # The variance component is recovered (mean over 60 replicates; its Monte Carlo se is about 0.013).
    assert np.mean(a_hat["reml"]) == pytest.approx(A_TRUE, abs=0.04)
    assert np.mean(a_hat["pr"]) == pytest.approx(A_TRUE, abs=0.05)
    emp_eblup = np.mean(se_eblup, axis=0)
    emp_direct = np.mean(se_direct, axis=0)
    # EBLUPs beat the direct estimates overall and in the noisiest third of the areas.
    assert emp_eblup.mean() < 0.7 * emp_direct.mean()
    assert emp_eblup[40:].mean() < 0.5 * emp_direct[40:].mean()
    # The Prasad-Rao MSE estimate tracks the empirical MSE (average over areas within 15 %).
    assert np.mean(mse_est) == pytest.approx(emp_eblup.mean(), rel=0.15)


def test_limits_synthetic_and_direct():
    rng = np.random.default_rng(7)
    direct, cov, _ = _areas(rng)
    X = sm.add_constant(cov["red_property"].to_numpy())
    D = direct["se"].to_numpy() ** 2
    synth = fay_herriot(direct, cov, sigma2_u=0.0).table
    wls = sm.WLS(direct["value"].to_numpy(), X, weights=1 / D).fit()  # GLS with V = D
    assert np.allclose(synth["value"], wls.fittedvalues, rtol=1e-10)
    assert np.allclose(synth["gamma"], 0)
    # MSE at A = 0 is g2 = x' cov(beta) x, the WLS prediction variance
    pred_var = np.einsum("ij,jk,ik->i", X, wls.cov_params() / wls.scale, X)
    assert np.allclose(synth["eblup_rmse"] ** 2, pred_var, rtol=1e-8)
    huge = fay_herriot(direct, cov, sigma2_u=1e9).table
    assert np.allclose(huge["value"], direct["value"], atol=1e-6)
    assert np.allclose(huge["eblup_rmse"], direct["se"], rtol=1e-6)


def test_reml_matches_direct_maximisation_and_pr_formula():
    rng = np.random.default_rng(11)
    direct, cov, _ = _areas(rng)
    y, D = direct["value"].to_numpy(), direct["se"].to_numpy() ** 2
    X = sm.add_constant(cov["red_property"].to_numpy())
    # Independent REML: grid search of the restricted log-likelihood written out (Harville 1977).
    def restricted_ll(A):
        V = A + D
        W = np.diag(1 / V)
        P = W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
        return -0.5 * (np.sum(np.log(V)) + np.linalg.slogdet(X.T @ W @ X)[1] + y @ P @ y)
    grid = np.linspace(0, 1.5, 301)
    a0 = grid[np.argmax([restricted_ll(a) for a in grid])]
    fine = np.linspace(max(0, a0 - 0.005), a0 + 0.005, 201)
    a_grid = fine[np.argmax([restricted_ll(a) for a in fine])]
    assert estimate_area_variance(y, X, D, "reml") == pytest.approx(a_grid, abs=2e-4)
    ols = sm.OLS(y, X).fit()
    h = ols.get_influence().hat_matrix_diag
    a_pr = max(0.0, (np.sum(ols.resid**2) - np.sum(D * (1 - h))) / (len(y) - 2))
    assert estimate_area_variance(y, X, D, "pr") == pytest.approx(a_pr, rel=1e-10)


def test_area_without_respondents_gets_synthetic_estimate():
    rng = np.random.default_rng(5)
    direct, cov, _ = _areas(rng)
    cov = pd.concat([cov, pd.DataFrame({"unit_id": ["NEW"], "red_property": [0.5]})], ignore_index=True)
    res = fay_herriot(direct, cov)
    row = res.table.set_index("unit_id").loc["NEW"]
    assert row["value"] == pytest.approx(res.beta["intercept"] + 0.5 * res.beta["red_property"])
    assert "no_direct_estimate" in row["flags"] and row["eblup_rmse"] ** 2 > res.sigma2_u
    assert "Fay-Herriot" in res.summary()


def test_cluster_variance_components_and_smoothed_variance_by_simulation():
    # Planted components: between-cluster variance 0.3, within 0.9; unbalanced cluster sizes.
    from evaluation.survey.small_area import cluster_variance_components, smoothed_sampling_variance

    rng = np.random.default_rng(12)
    sizes = rng.integers(10, 40, 400)
    cluster = np.repeat(np.arange(400), sizes)
    y = rng.normal(0, np.sqrt(0.3), 400)[cluster] + rng.normal(0, np.sqrt(0.9), len(cluster))
    within, between = cluster_variance_components(y, cluster)
    assert within == pytest.approx(0.9, rel=0.03)
    assert between == pytest.approx(0.3, rel=0.15)
    # nested in areas with their own effects (variance 1): the within-area cluster variance is still 0.3
    area = np.arange(400) // 4
    y_area = y + rng.normal(0, 1, 100)[area[cluster]]
    assert cluster_variance_components(y_area, cluster, area[cluster])[1] == pytest.approx(0.3, rel=0.2)
    assert cluster_variance_components(y_area, cluster)[1] > 0.9  # ignoring the nesting mixes in area effects
    # The variance of the mean of k clusters x m people equals between / k + within / (k m): check by simulation.
    k, m, reps = 2, 25, 20000
    means = (rng.normal(0, np.sqrt(0.3), (reps, k))[:, :, None] + rng.normal(0, np.sqrt(0.9), (reps, k, m))).mean(axis=(1, 2))
    assert smoothed_sampling_variance([k * m], [k], 0.9, 0.3)[0] == pytest.approx(means.var(), rel=0.04)
    assert np.isnan(smoothed_sampling_variance([0], [0], 0.9, 0.3)[0])


def test_smooth_direct_variances_by_hand():
    from evaluation.survey.small_area import cluster_variance_components, smooth_direct_variances

    data = pd.DataFrame({"area": ["A"] * 6 + ["B"] * 3, "psu": ["a1"] * 3 + ["a2"] * 3 + ["b1"] * 3,
                         "y": [1.0, 2, 3, 3, 4, 5, 2, 2, 5]})
    direct = pd.DataFrame({"unit_id": ["A", "B", "C"], "value": [3.0, 3.0, np.nan], "se": [0.5, 0.2, np.nan]})
    out = smooth_direct_variances(direct, data, "y", area="area", cluster="psu")
    # ANOVA by hand: cluster means 2, 4, 3; within SS = 2 + 2 + 6 = 10 on 9 - 3 = 6 df
    within, between = cluster_variance_components(data["y"], data["psu"], data["area"])
    assert within == pytest.approx(10 / 6)
    # nested: clusters a1, a2 around area A's mean 3 (B has one cluster: no information); C - A = 1, m0 = 3
    msb = 3 * ((2 - 3) ** 2 + (4 - 3) ** 2) / 1
    assert between == pytest.approx((msb - 10 / 6) / 3)
    # not nested: around the grand mean 3 with C - 1 = 2 df
    assert cluster_variance_components(data["y"], data["psu"])[1] == pytest.approx((3 * 2 / 2 - 10 / 6) / 3)
    assert out["clusters"].tolist() == [2, 1, 0] and out["respondents"].tolist() == [6, 3, 0]
    assert out.loc[0, "smoothed_se"] == pytest.approx(np.sqrt(between / 2 + within / 6))
    assert np.isnan(out.loc[2, "smoothed_se"])
    assert "smoothed_se" not in direct.columns
