"""Tests of the composite index: a hand-computed example, properties, sensitivity estimators against
analytical values, data treatment against independent implementations (pandas, statsmodels), CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.index import IndexSpec, compute_index, rank_uncertainty, select_indicators
from evaluation.index.aggregation import (
    aggregate,
    cronbach_alpha,
    explicit_weights,
    first_component,
    pca_within,
    pillar_statistics,
)
from evaluation.index.normalise import (
    impute,
    is_outlying,
    kurtosis,
    missing_report,
    normalise,
    skewness,
    treat_outliers,
    winsorise,
)
from evaluation.index.sensitivity import choose, ishigami, saltelli_design, sensitivity_indices

# ----------------------------------------------------------------------------- the hand example
# 3 indicators, 4 units. a: share, higher is better, target 0.8; b: hours, lower is better,
# target 10; c: count, higher is better, no target. Pillars: P1 = {a, b}, P2 = {c}; equal weights.
HAND = pd.DataFrame({"a": [0.2, 0.4, 0.6, 1.0], "b": [40.0, 20.0, 10.0, 30.0], "c": [5.0, 10.0, 20.0, 15.0]},
                    index=pd.Index(["U1", "U2", "U3", "U4"], name="unit_id"))
PILLARS = {"P1": ["a", "b"], "P2": ["c"]}
ATTRS = ({"a": "higher", "b": "lower", "c": "higher"}, {"a": 0.8, "b": 10.0, "c": None},
         {"a": "share", "b": "hours", "c": "count"})

# Normalised values, by hand (columns a, b, c):
#  minmax   a: 100 (x - 0.2) / 0.8; b: 100 (40 - x) / 30; c: 100 (x - 5) / 15
#  zscore   100 +- 10 (x - mean) / sd: a mean 0.55, sd sqrt(0.35 / 3); b mean 25, sd sqrt(500 / 3) (sign
#           reversed); c mean 12.5, sd sqrt(125 / 3)
#  rank     100 r / 4 with r the ascending rank of the (direction-applied) value
#  distance_to_target  a: 100 x / 0.8 capped at 100; b: 100 * 10 / x; c: 100 x / 20 (best observed)
#  goalposts  a: [0, 0.8] (share, target); b: [worst 40, best target 10]; c: observed [5, 20]
EXPECTED_NORMALISED = {
    "minmax": [[0.0, 25.0, 50.0, 100.0], [0.0, 200 / 3, 100.0, 100 / 3], [0.0, 100 / 3, 100.0, 200 / 3]],
    "zscore": [[89.753049, 95.60845, 101.46385, 113.174651], [88.38105, 103.872983, 111.61895, 96.127017],
               [88.38105, 96.127017, 111.61895, 103.872983]],
    "rank": [[25, 50, 75, 100], [25, 75, 100, 50], [25, 50, 100, 75]],
    "distance_to_target": [[25, 50, 75, 100], [25, 50, 100, 100 / 3], [25, 50, 100, 75]],
    "goalposts": [[25, 50, 75, 100], [0, 200 / 3, 100, 100 / 3], [0, 100 / 3, 100, 200 / 3]],
}
# Index = mean of (mean(a, b), c) for arithmetic; sqrt(sqrt(a b) c) with values floored at 1 for geometric.
EXPECTED_INDEX = {
    ("minmax", "arithmetic"): [0.0, 39.583333, 87.5, 66.666667],
    ("minmax", "geometric"): [1.0, 36.889397, 84.089642, 62.040324],
    ("zscore", "arithmetic"): [88.72405, 97.933867, 109.080175, 104.261909],
    ("zscore", "geometric"): [88.722071, 97.875153, 108.988653, 104.087831],
    ("rank", "arithmetic"): [25.0, 56.25, 93.75, 75.0],
    ("rank", "geometric"): [25.0, 55.334096, 93.060486, 72.823766],
    ("distance_to_target", "arithmetic"): [25.0, 50.0, 93.75, 70.833333],
    ("distance_to_target", "geometric"): [25.0, 50.0, 93.060486, 65.803701],
    ("goalposts", "arithmetic"): [6.25, 45.833333, 93.75, 66.666667],
    ("goalposts", "geometric"): [2.236068, 43.869134, 93.060486, 62.040324],
}
# Copeland, by hand. P1: U2 and U3 beat U1 on a and b; U3 beats U2 on both; U4 splits with U2 and
# with U3 (a vs b), so P1 scores (wins - losses) = U1 -3, U2 0, U3 +2, U4 +1; P2 (c) = -3, -1, +3, +1.
# Index over (P1, P2): U3 beats all, U4 beats U1 and U2, U2 beats U1 -> -3, -1, +3, +1.
EXPECTED_COPELAND_P1 = [-3, 0, 2, 1]
EXPECTED_COPELAND = [-3, -1, 3, 1]


def _index(spec, matrix=HAND, attrs=ATTRS, pillars=PILLARS):
    return compute_index(matrix, spec, pillars=pillars, attributes=attrs)


@pytest.mark.parametrize("method", list(EXPECTED_NORMALISED))
def test_hand_example_normalisation(method):
    got = normalise(HAND, method, *ATTRS)
    exp = pd.DataFrame(np.array(EXPECTED_NORMALISED[method], dtype=float).T, index=HAND.index, columns=HAND.columns)
    pd.testing.assert_frame_equal(got, exp, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method,aggregation", list(EXPECTED_INDEX))
def test_hand_example_index(method, aggregation):
    res = _index(IndexSpec(treatment="none", normalisation=method, aggregation=aggregation))
    np.testing.assert_allclose(res.index.to_numpy(), EXPECTED_INDEX[method, aggregation], atol=1e-5)


@pytest.mark.parametrize("method", list(EXPECTED_NORMALISED))
def test_hand_example_copeland_is_the_same_for_every_normalisation(method):
    res = _index(IndexSpec(treatment="none", normalisation=method, aggregation="copeland"))
    np.testing.assert_array_equal(res.pillar_scores["P1"].to_numpy(), EXPECTED_COPELAND_P1)
    np.testing.assert_array_equal(res.index.to_numpy(), EXPECTED_COPELAND)
    np.testing.assert_array_equal(res.rank.to_numpy(), [4, 3, 1, 2])


def test_hand_example_weights_and_ranks():
    res = _index(IndexSpec(treatment="none"))
    assert res.weights.within.to_dict() == {"a": 0.5, "b": 0.5, "c": 1.0}
    assert res.weights.overall({"a": "P1", "b": "P1", "c": "P2"}).to_dict() == {"a": 0.25, "b": 0.25, "c": 0.5}
    np.testing.assert_array_equal(res.rank.to_numpy(), [4, 3, 1, 2])
    eff = res.effective_weights()
    assert set(eff["level"]) == {"indicator", "pillar"}
    assert eff.groupby("level")["importance_share"].sum().round(12).eq(1).all()


def test_explicit_weights_by_hand():
    # a weighted 3:1 against b inside P1, P2 twice P1: index = (1/3) (0.75 a + 0.25 b) + (2/3) c (minmax)
    table = pd.DataFrame({"id": ["a", "b", "P1", "P2"], "weight": [3, 1, 1, 2]})
    res = compute_index(HAND, IndexSpec(treatment="none", weighting="explicit"), pillars=PILLARS, attributes=ATTRS,
                        weights_table=table)
    a, b, c = (np.array(v, dtype=float) for v in EXPECTED_NORMALISED["minmax"])
    np.testing.assert_allclose(res.index.to_numpy(), (0.75 * a + 0.25 * b) / 3 + 2 * c / 3, atol=1e-9)
    with pytest.raises(ValueError, match="row 2: 'zz' is neither"):
        explicit_weights(PILLARS, pd.DataFrame({"id": ["zz"], "weight": [1]}))


def test_missing_values_are_skipped_with_renormalised_weights():
    x = pd.DataFrame({"a": [10.0, np.nan], "b": [30.0, 40.0], "c": [np.nan, np.nan]}, index=["u", "v"])
    got = aggregate(x, {"a": 1, "b": 3, "c": 1}, "arithmetic")
    np.testing.assert_allclose(got.to_numpy(), [(10 + 90) / 4, 40.0])


def test_impute_by_hand():
    x = pd.DataFrame({"a": [1.0, np.nan, 5.0, np.nan, 10.0]}, index=list("pqrst"))
    groups = pd.Series(["g1", "g1", "g1", "g2", "g3"], index=list("pqrst"))
    assert impute(x, "mean")["a"].tolist() == [1, 16 / 3, 5, 16 / 3, 10]
    assert impute(x, "median")["a"].tolist() == [1, 5, 5, 5, 10]
    # q: mean of its street g1 (1, 5) = 3; s: g2 has no value -> overall mean
    assert impute(x, "group_mean", groups)["a"].tolist() == [1, 3, 5, 16 / 3, 10]
    assert impute(x, "none")["a"].isna().sum() == 2
    assert x["a"].isna().sum() == 2  # input unchanged
    by_ind, by_unit = missing_report(x)
    assert by_ind.loc["a", "n_missing"] == 2 and by_unit.loc["q", "share_missing"] == 1.0


# ----------------------------------------------------------------------------- properties
def _matrix(data):
    n = data.draw(st.integers(4, 9))
    k = data.draw(st.integers(2, 4))
    vals = data.draw(st.lists(st.lists(st.floats(0, 1000, allow_nan=False).map(lambda v: round(v, 3)),
                                       min_size=n, max_size=n, unique=True), min_size=k, max_size=k))
    m = pd.DataFrame(np.array(vals).T, columns=[f"i{j}" for j in range(k)], index=[f"u{j}" for j in range(n)])
    directions = {c: data.draw(st.sampled_from(["higher", "lower"])) for c in m.columns}
    pillars = {"P1": list(m.columns[: max(1, k // 2)]), "P2": list(m.columns[max(1, k // 2):])}
    return m, (directions, {}, {c: "count" for c in m.columns}), pillars


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), scale=st.floats(0.01, 100), shift=st.floats(-1e3, 1e3),
       method=st.sampled_from(["minmax", "zscore"]), aggregation=st.sampled_from(["arithmetic", "geometric"]))
def test_index_invariant_to_affine_change_of_units(data, scale, shift, method, aggregation):
    m, attrs, pillars = _matrix(data)
    col = data.draw(st.sampled_from(list(m.columns)))
    m2 = m.copy()
    m2[col] = scale * m[col] + shift
    spec = IndexSpec(normalisation=method, aggregation=aggregation)  # nominal treatment: winsorise
    a = compute_index(m, spec, pillars=pillars, attributes=attrs).index
    b = compute_index(m2, spec, pillars=pillars, attributes=attrs).index
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-7, atol=1e-7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), step=st.floats(0.001, 500),
       method=st.sampled_from(["minmax", "zscore", "rank", "distance_to_target", "goalposts"]))
def test_improving_an_indicator_never_lowers_the_index(data, step, method):
    m, attrs, pillars = _matrix(data)
    unit = data.draw(st.sampled_from(list(m.index)))
    col = data.draw(st.sampled_from(list(m.columns)))
    better = m.copy()
    better.loc[unit, col] += step if attrs[0][col] == "higher" else -step
    if attrs[0][col] == "lower" and better.loc[unit, col] <= 0:
        better.loc[unit, col] = m.loc[unit, col] / 2 if m.loc[unit, col] > 0 else m.loc[unit, col]
    spec = IndexSpec(treatment="none", normalisation=method)
    before = compute_index(m, spec, pillars=pillars, attributes=attrs).index[unit]
    after = compute_index(better, spec, pillars=pillars, attributes=attrs).index[unit]
    assert after >= before - 1e-9


# ----------------------------------------------------------------------------- data treatment
def test_skew_and_kurtosis_match_pandas_and_scipy():
    # COINr skew()/kurt() are e1071 type 2 = pandas Series.skew()/kurt() = scipy with bias=False (excess kurtosis)
    from scipy import stats

    x = np.random.default_rng(3).lognormal(size=40)
    assert skewness(x) == pytest.approx(pd.Series(x).skew(), rel=1e-12)
    assert kurtosis(x) == pytest.approx(pd.Series(x).kurt(), rel=1e-12)
    assert kurtosis(x) == pytest.approx(stats.kurtosis(x, fisher=True, bias=False), rel=1e-12)


def test_winsorisation_follows_the_coinr_rule():
    # COINr treat vignette's example: 1..10 plus two outliers 30 and 100
    x = pd.Series(list(range(1, 11)) + [30.0, 100.0])
    # by hand (pandas skew/kurt, the same estimators): skew 3.06, kurtosis 9.74 -> treated
    assert is_outlying(x)
    assert pd.Series(list(range(1, 11)) + [30.0, 30.0]).skew() < 2  # after 100 -> 30 the rule passes
    treated, points, still = winsorise(x)
    assert points == 1 and not still
    assert treated.tolist() == list(range(1, 11)) + [30.0, 30.0]
    # a lower outlier is winsorised upwards (skew < 0)
    low, points_low, _ = winsorise(-x)
    assert low.tolist() == (-treated).tolist() and points_low == 1
    clean = pd.DataFrame({"z": np.arange(10.0), "o": x.iloc[:10].tolist()})
    _, report = treat_outliers(clean)
    assert report["points_winsorised"].eq(0).all()


def test_cronbach_alpha_equals_standardised_formula_on_zscores():
    # on standardised items raw alpha = k rbar / (1 + (k - 1) rbar) (Cronbach 1951; the standardised alpha)
    rng = np.random.default_rng(5)
    f = rng.normal(size=200)
    x = pd.DataFrame({f"v{i}": f + rng.normal(scale=1 + i, size=200) for i in range(4)})
    z = (x - x.mean()) / x.std(ddof=1)
    r = x.corr().to_numpy()
    rbar = r[~np.eye(4, dtype=bool)].mean()
    assert cronbach_alpha(z) == pytest.approx(4 * rbar / (1 + 3 * rbar), rel=1e-10)
    # and the textbook two-item case: alpha = 2 r / (1 + r) on z-scores
    assert cronbach_alpha(z[["v0", "v1"]]) == pytest.approx(2 * r[0, 1] / (1 + r[0, 1]), rel=1e-10)


def test_first_component_matches_statsmodels_pca():
    from statsmodels.multivariate.pca import PCA

    rng = np.random.default_rng(7)
    f = rng.normal(size=100)
    x = pd.DataFrame({f"v{i}": f * (i + 1) + rng.normal(size=100) for i in range(3)})
    load, share = first_component(x)
    ref = PCA(x, standardize=True, demean=True, normalize=False)
    assert share == pytest.approx(ref.eigenvals.iloc[0] / ref.eigenvals.sum(), rel=1e-8)
    np.testing.assert_allclose(np.abs(load), np.abs(ref.eigenvecs.iloc[:, 0].to_numpy()), atol=1e-8)
    w = pca_within(x, {"P": list(x.columns)})
    assert w.sum() == pytest.approx(1.0)
    # two identical indicators load equally: equal weights
    same = pd.DataFrame({"p": f, "q": 2 * f + 1})
    assert pca_within(same, {"P": ["p", "q"]}).tolist() == pytest.approx([0.5, 0.5])
    stats_ = pillar_statistics(x, {"P": list(x.columns)})
    assert stats_.loc[0, "first_component_share"] == pytest.approx(share)


def test_select_indicators_reasons():
    wide = pd.DataFrame({"org.building_group_coverage": [0.1, 0.2, 0.3], "org.compound_branch_coverage": [1.0, 1.0, 1.0],
                         "svc.requests_per_1000": [1.0, 2.0, 3.0], "par.red_property_coverage": [0.1, 0.5, 0.2],
                         "par.red_property_coverage.households": [0.1, 0.5, 0.3], "out.trust_party_org": [3.0, np.nan, np.nan],
                         "zz.unknown": [1.0, 2.0, 3.0]})
    keep, dropped = select_indicators(wide)
    assert keep == ["org.building_group_coverage", "par.red_property_coverage"]
    reasons = dict(zip(dropped["indicator"], dropped["reason"]))
    assert reasons["org.compound_branch_coverage"] == "the same value for every unit"
    assert reasons["svc.requests_per_1000"].startswith("no direction")
    assert reasons["par.red_property_coverage.households"].startswith("breakdown of par.red_property_coverage")
    assert reasons["out.trust_party_org"] == "missing for 2 of 3 units"
    assert reasons["zz.unknown"] == "not in the catalogue"


# ----------------------------------------------------------------------------- sensitivity estimators
def test_ishigami_published_indices():
    # Ishigami & Homma (1990), a = 7, b = 0.1: S = (0.3139, 0.4424, 0), S_T = (0.5576, 0.4424, 0.2437)
    # (Saltelli et al. 2008, Primer, section 4.6). N = 20,000: Monte Carlo error about 0.01; tolerance 0.03.
    d = saltelli_design(20000, {"x1": 1, "x2": 1, "x3": 1}, seed=11)
    s = sensitivity_indices(ishigami(d.A), ishigami(d.B), {f: ishigami(d.AB(f)) for f in d.factors}).set_index("factor")
    np.testing.assert_allclose(s["first_order"], [0.3139, 0.4424, 0.0], atol=0.03)
    np.testing.assert_allclose(s["total"], [0.5576, 0.4424, 0.2437], atol=0.03)


def test_additive_function_with_a_group_and_a_discrete_factor():
    # Y = u1 + u2 + 2 u3 + 3 k with u uniform(0,1) (var 1/12) and k uniform on {0, 1} (var 1/4).
    # u1, u2 form one group: V_g = 2/12; V_3 = 4/12; V_k = 9/4. Additive: S_i = S_Ti = V_i / V.
    d = saltelli_design(20000, {"g": 2, "u3": 1, "k": 1}, seed=3)

    def f(x):
        return x[:, 0] + x[:, 1] + 2 * x[:, 2] + 3 * choose(x[:, 3], [0, 1])

    v = np.array([2 / 12, 4 / 12, 9 / 4])
    s = sensitivity_indices(f(d.A), f(d.B), {k: f(d.AB(k)) for k in d.factors}, bootstrap=50).set_index("factor")
    np.testing.assert_allclose(s["first_order"], v / v.sum(), atol=0.03)
    np.testing.assert_allclose(s["total"], v / v.sum(), atol=0.03)
    assert (s["total_low"] <= s["total"]).all() and (s["total"] <= s["total_high"]).all()


def test_vector_output_indices_are_variance_weighted():
    # two outputs: y1 depends on x1 only, y2 (4x the variance) on x2 only -> S_x1 = 1/5, S_x2 = 4/5
    d = saltelli_design(5000, {"x1": 1, "x2": 1}, seed=1)

    def f(x):
        return np.column_stack([x[:, 0], 2 * x[:, 1]])

    s = sensitivity_indices(f(d.A), f(d.B), {k: f(d.AB(k)) for k in d.factors}).set_index("factor")
    np.testing.assert_allclose(s["total"], [0.2, 0.8], atol=0.02)


# ----------------------------------------------------------------------------- Monte Carlo of ranks
def _planted(n=8, k=4, seed=0):
    rng = np.random.default_rng(seed)
    quality = np.linspace(0, 1, n)
    ids = ["org.building_group_coverage", "org.branch_standardisation", "par.red_property_coverage",
           "sup.worker_quota_fill"][:k]
    vals = {i: np.clip(quality + rng.normal(scale=0.3, size=n), 0.01, 0.99) for i in ids}
    return pd.DataFrame(vals, index=[f"C{j:02d}" for j in range(n)])


def test_rank_uncertainty_reproducible_and_ordered():
    m = _planted()
    a = rank_uncertainty(m, draws=40, seed=1, bootstrap=0)
    b = rank_uncertainty(m, draws=40, seed=1, bootstrap=0)
    pd.testing.assert_frame_equal(a.rank_table, b.rank_table)
    rt = a.rank_table
    assert (rt["rank_p05"] <= rt["median_rank"]).all() and (rt["median_rank"] <= rt["rank_p95"]).all()
    assert a.ranks.shape == (80, len(m))
    assert set(a.sensitivity["factor"]) == {"imputation", "treatment", "normalisation", "aggregation", "weights"}
    pw = a.pairwise()
    np.testing.assert_allclose(pw + pw.T + np.eye(len(m)), 1.0, atol=1e-12)  # no ties here


def test_a_unit_best_on_everything_is_first_in_every_run():
    # comonotone indicators: every choice gives the same order, intervals collapse, no rank variance
    q = np.arange(6, dtype=float)
    m = pd.DataFrame({"org.building_group_coverage": 0.1 + q / 10, "org.branch_standardisation": 0.05 + q / 8,
                      "par.red_property_coverage": 0.2 + q / 9, "sup.worker_quota_fill": 0.3 + q / 12},
                     index=[f"C{j}" for j in range(6)])
    u = rank_uncertainty(m, draws=30, seed=2, bootstrap=0)
    rt = u.rank_table
    np.testing.assert_array_equal(rt["rank_p05"], rt["rank_p95"])
    assert rt.loc["C5", "median_rank"] == 1 and rt.loc["C0", "median_rank"] == 6
    assert u.sensitivity["total"].abs().max() == 0
    assert u.distinguishable()["told_apart"].all()


# ----------------------------------------------------------------------------- CLI
def test_cli_index_csv_and_xlsx(tmp_path):
    from evaluation.cli import main

    ROOT = pytest.importorskip("pathlib").Path(__file__).resolve().parents[1]
    data = ROOT / "tests" / "fixtures" / "minimal"
    # one run (loading the fixture and computing its indicators takes most of the time): XLSX holds
    # the tidy table (the same frame that CSV/Parquet get) plus the scorecard and the analysis sheets
    xlsx = tmp_path / "index.xlsx"
    assert main(["index", str(data), "--year", "2020", "--draws", "20", "--out", str(xlsx)]) == 0
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert {"index", "scorecard", "评分卡", "sensitivity", "data treatment", "weights", "left out"} <= set(sheets)
    t = sheets["index"]
    assert {"index.governance"} <= set(t["indicator"])
    assert {"rank", "rank_median", "rank_p05", "rank_p95", "name_en", "name_zh"} <= set(t.columns)
    g = t[t["indicator"].eq("index.governance")]
    assert (g["rank_p05"] <= g["rank_p95"]).all() and g["name_zh"].eq("治理效能指数").all()
    assert sheets["scorecard"]["median_rank"].is_monotonic_increasing


def test_cli_user_errors(tmp_path, capsys):
    from evaluation.cli import main

    assert main(["index", str(tmp_path / "nowhere"), "--year", "2020", "--out", str(tmp_path / "x.csv")]) == 1
    assert "no such dataset folder" in capsys.readouterr().err
    assert main(["index", str(tmp_path), "--year", "2020", "--out", str(tmp_path / "x.txt")]) == 1
    assert "--out must end in" in capsys.readouterr().err


def test_framework_table_from_catalogue():
    from evaluation.index import framework_of, framework_table

    ids = ["sup.workers_per_10k", "org.building_group_coverage"]
    assert list(framework_of(ids)) == ["organisation", "support"]
    t = framework_table(ids).set_index("indicator")
    assert t.loc["sup.workers_per_10k", "target"] == 18.0  # catalogue: hubei-14fyp, 18 per 10,000
    assert t.loc["org.building_group_coverage", "name_zh"] == "楼栋党小组覆盖率"
    assert pd.isna(t.loc["org.building_group_coverage", "target"])


def test_result_object_tables_and_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evaluation.index.result import GovernanceIndex, IndicatorMatrix, _tidy

    m = _planted(n=7)
    names = pd.DataFrame({"name_en": [f"{u} Community" for u in m.index], "name_zh": [f"{u}社区" for u in m.index]},
                         index=m.index)
    matrix = IndicatorMatrix(values=m, groups=pd.Series("S1", index=m.index), names=names,
                             dropped=pd.DataFrame(columns=["indicator", "reason"]), year=2020)
    nominal = compute_index(m)
    unc = rank_uncertainty(m, draws=20, seed=4, bootstrap=0)
    gi = GovernanceIndex(table=_tidy(matrix, nominal, unc, 2020), title="t", method="m", matrix=matrix,
                         nominal=nominal, uncertainty=unc)
    t = gi.table
    assert set(t["indicator"]) == {"index.governance", "index.pillar.organisation", "index.pillar.participation",
                                   "index.pillar.support"}
    g = t[t["indicator"].eq("index.governance")].set_index("unit_id")
    # the tidy value is the nominal score and the rank its nominal rank; the interval brackets the median
    np.testing.assert_allclose(g.loc[m.index, "value"], nominal.index[m.index])
    np.testing.assert_array_equal(g.loc[m.index, "rank"], nominal.rank[m.index])
    assert ((g["rank_p05"] <= g["rank_median"]) & (g["rank_median"] <= g["rank_p95"])).all()
    sc = gi.scorecard()
    assert sc["median_rank"].is_monotonic_increasing and len(sc) == 7
    assert "排名中位数" in gi.scorecard("zh").columns
    assert set(gi.top_overlap(5)) == set(unc.rank_table.index[unc.rank_table["rank_p05"] <= 5])
    corr = gi.correlations()
    assert corr.loc["index.governance", "index.governance"] == pytest.approx(1.0)
    assert "Communities: 7" in gi.summary()
    ax = gi.plot()
    assert len(ax.get_yticklabels()) == 7
    fig = gi.plot_profile()
    assert sum(a.get_visible() for a in fig.axes) == 7
    plt.close("all")


def test_matrix_tolerates_a_missing_provider_and_keeps_urban_communities():
    from evaluation.index import community_indicator_matrix

    units = pd.DataFrame({"unit_id": ["S1", "C1", "C2", "C3", "V1"], "unit_type": ["street", "community", "community",
                                                                                   "community", "village"],
                          "parent_id": ["D", "S1", "S1", "S1", "T1"], "name_en": list("abcde"), "name_zh": list("甲乙丙丁戊")})

    def registry(ds, year, level):
        rows = [{"indicator": "org.building_group_coverage", "level": level, "unit_id": u, "period": str(year), "value": v}
                for u, v in (("C1", 0.2), ("C2", 0.5), ("C3", 0.4), ("V1", 0.9))]
        rows += [{"indicator": "sup.workers_per_10k", "level": level, "unit_id": u, "period": str(year), "value": v}
                 for u, v in (("C1", 10.0), ("C2", 12.0))]
        return pd.DataFrame(rows)

    m = community_indicator_matrix({"units": units}, 2020, providers={
        "registry": registry, "service": lambda ds, y, lv: None, "empty": lambda ds, y, lv: None})
    assert list(m.values.index) == ["C1", "C2", "C3"]  # the village is not an urban community
    assert list(m.values.columns) == ["org.building_group_coverage", "sup.workers_per_10k"]
    assert np.isnan(m.values.loc["C3", "sup.workers_per_10k"])
    assert m.groups.tolist() == ["S1", "S1", "S1"]
    assert any("service indicators" in n for n in m.notes) and any("empty indicators" in n for n in m.notes)


def test_biased_and_size_dependent_indicators_stay_out_of_the_index():
    wide = pd.DataFrame({
        "svc.median_resolution_hours": [10.0, 20.0, 30.0],
        "svc.median_resolution_hours_closed_only": [9.0, 18.0, 25.0],
        "svc.backlog": [5.0, 50.0, 7.0],
        "svc.resolution_hours_p75": [20.0, 40.0, 60.0],
    }, index=["a", "b", "c"])
    keep, dropped = select_indicators(wide)
    assert keep == ["svc.median_resolution_hours"]
    reasons = dropped.set_index("indicator")["reason"]
    assert "biased" in reasons["svc.median_resolution_hours_closed_only"] and "size" in reasons["svc.backlog"]
