"""The robustness estimators against independent references, on R ``did``'s ``mpdta``.

* Sun-Abraham: on a balanced panel with never-treated controls its cohort x relative-period
  coefficients are Callaway-Sant'Anna's ATT(g,t) with a universal base period (moderndid, a
  different computation: 2x2 regressions on subsamples), and its CR1 standard errors are those of
  statsmodels' OLS on the full dummy regression.
* Imputation (Borusyak, Jaravel and Spiess): the point estimates equal the coefficients of the
  regression with unit, period and one dummy per treated observation (their Proposition 5; here
  statsmodels); with one cohort and two periods the conservative variance is the two-sample one.
* Goodman-Bacon: the weighted 2x2 estimates add up to the TWFE of ``impact.twfe`` (alternating
  projections) to 1e-12; with one cohort there is one comparison, the DiD of means.
* de Chaisemartin-D'Haultfoeuille on an absorbing treatment: effect at horizon l is
  Callaway-Sant'Anna's not-yet-treated event-study estimate at e = l - 1 (same comparisons).
* Honest DiD: the fast least-favourable critical value equals moderndid's (same draws) to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation import impact
from evaluation.impact import honest


@pytest.fixture(scope="module")
def mpdta(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "did" / "mpdta.csv")


def _cols():
    return dict(unit="countyreal", time="year", first_treated="first.treat")


def test_sun_abraham_equals_callaway_santanna_universal_base(mpdta):
    import moderndid as md

    sa = impact.sun_abraham(mpdta, "lemp", **_cols())
    mp = md.att_gt(mpdta, yname="lemp", tname="year", idname="countyreal", gname="first.treat",
                   base_period="universal", est_method="reg")
    cs = pd.DataFrame({"cohort": mp.groups.astype(int), "event_time": (mp.times - mp.groups).astype(int),
                       "cs": mp.att_gt})
    m = sa.cells.merge(cs, on=["cohort", "event_time"], validate="1:1")
    assert len(m) == len(sa.cells) == 3 * 5 - 3  # 3 cohorts x 5 years; e = -1 of each is the reference
    np.testing.assert_allclose(m["att"], m["cs"], atol=1e-10)
    es = md.aggte(mp, type="dynamic")
    got = sa.table.set_index("event_time")["att"]
    for e, a in zip(es.event_times.astype(int), es.att_by_event):
        if e != -1:
            assert got[e] == pytest.approx(a, abs=1e-10)
    simple = md.aggte(mp, type="simple").overall_att
    assert sa.overall["att"] == pytest.approx(simple, abs=1e-10)


def test_sun_abraham_se_equal_statsmodels_dummy_regression(mpdta):
    d = mpdta[mpdta["countyreal"].isin(mpdta["countyreal"].drop_duplicates().iloc[::4])].reset_index(drop=True)
    sa = impact.sun_abraham(d, "lemp", **_cols())
    rel = d["year"] - d["first.treat"]
    X = pd.DataFrame({f"c{g}_{r}": ((d["first.treat"] == g) & (rel == r)).astype(float)
                      for g, r in zip(sa.cells["cohort"], sa.cells["event_time"])})
    X = pd.concat([X, pd.get_dummies(d["countyreal"].astype(str), drop_first=True, dtype=float),
                   pd.get_dummies(d["year"].astype(str), prefix="y", drop_first=True, dtype=float)], axis=1)
    X.insert(0, "const", 1.0)
    fit = sm.OLS(d["lemp"].to_numpy(), X.to_numpy()).fit(cov_type="cluster",
                                                          cov_kwds={"groups": pd.factorize(d["countyreal"])[0]})
    k = len(sa.cells)
    np.testing.assert_allclose(sa.cells["att"], fit.params[1:k + 1], atol=1e-10)
    np.testing.assert_allclose(sa.cells["se"], fit.bse[1:k + 1], rtol=1e-8)


def test_imputation_equals_saturated_regression(mpdta):
    d = mpdta[mpdta["countyreal"].isin(mpdta["countyreal"].drop_duplicates().iloc[::5])].reset_index(drop=True)
    bj = impact.imputation(d, "lemp", **_cols())
    treated = (d["first.treat"] > 0) & (d["year"] >= d["first.treat"])
    dummies = pd.DataFrame(np.eye(len(d))[:, treated.to_numpy()], columns=[f"o{i}" for i in np.flatnonzero(treated)])
    X = pd.concat([dummies, pd.get_dummies(d["countyreal"].astype(str), dtype=float),
                   pd.get_dummies(d["year"].astype(str), prefix="y", drop_first=True, dtype=float)], axis=1)
    tau = sm.OLS(d["lemp"].to_numpy(), X.to_numpy()).fit().params[: treated.sum()]
    assert bj.overall["att"] == pytest.approx(tau.mean(), abs=1e-10)
    rel = (d["year"] - d["first.treat"])[treated].to_numpy()
    for _, r in bj.table.iterrows():
        assert r["att"] == pytest.approx(tau[rel == r["event_time"]].mean(), abs=1e-10)


def test_imputation_variance_with_one_cohort_and_two_periods():
    """Two periods, one cohort treated in the second: the estimate is the DiD of mean changes and
    the conservative variance is sum (dy - mean)^2 / n^2 over treated plus the same over controls."""
    rng = np.random.default_rng(5)
    n1, n0 = 30, 50
    g = np.r_[np.full(n1, 2), np.zeros(n0, int)]
    y1, y2 = rng.normal(size=n1 + n0), rng.normal(size=n1 + n0) + 0.5 * (g > 0)
    d = pd.DataFrame({"u": np.repeat(np.arange(n1 + n0), 2), "t": np.tile([1, 2], n1 + n0),
                      "g": np.repeat(g, 2), "y": np.column_stack([y1, y2]).ravel()})
    bj = impact.imputation(d, "y", unit="u", time="t", first_treated="g")
    dy = y2 - y1
    t, c = dy[g > 0], dy[g == 0]
    assert bj.overall["att"] == pytest.approx(t.mean() - c.mean(), abs=1e-12)
    se = np.sqrt(((t - t.mean()) ** 2).sum() / n1**2 + ((c - c.mean()) ** 2).sum() / n0**2)
    assert bj.overall["se"] == pytest.approx(se, rel=1e-10)


def test_bacon_weights_add_up_to_the_twfe(mpdta):
    b = impact.bacon_decomposition(mpdta, "lemp", **_cols())
    tw = impact.twfe(mpdta, "lemp", "countyreal", "year", "first.treat")
    assert b.twfe == pytest.approx(tw["att"], abs=1e-12)
    assert b.table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert set(b.table["kind"]) == {"treated_vs_never", "earlier_vs_later", "later_vs_earlier"}
    assert 0 < b.forbidden_weight < 0.1  # 3 small cohorts against 309 never-treated counties
    one = mpdta[mpdta["first.treat"].isin([0, 2006])]
    b1 = impact.bacon_decomposition(one, "lemp", **_cols())
    assert len(b1.table) == 1 and b1.table["weight"].iloc[0] == pytest.approx(1.0)
    m = one.assign(post=one["year"] >= 2006, tr=one["first.treat"] > 0).groupby(["tr", "post"])["lemp"].mean()
    assert b1.twfe == pytest.approx((m[True, True] - m[True, False]) - (m[False, True] - m[False, False]), abs=1e-12)


def test_dcdh_on_an_absorbing_treatment_is_not_yet_treated_cs(mpdta):
    d = mpdta.assign(D=((mpdta["first.treat"] > 0) & (mpdta["year"] >= mpdta["first.treat"])).astype(int))
    sw = impact.switching_did(d, "lemp", unit="countyreal", time="year", treatment="D", effects=3, placebo=2)
    cs = impact.staggered_did(mpdta, "lemp", **_cols(), options=impact.DidOptions(
        control_group="notyettreated", base_period="universal", biters=9, with_twfe=False))
    dyn = cs.aggregates["dynamic"].set_index("key")
    for _, r in sw["effects"].iterrows():
        assert r["att"] == pytest.approx(dyn.loc[int(r["horizon"]) - 1, "att"], abs=1e-10)
    # placebo -1 compares F-2 with F-1 for all switchers: the universal-base e = -2 (later placebos keep only
    # the switchers whose effect at that horizon is also estimated, so they differ)
    p1 = sw["placebos"].set_index("horizon").loc[-1]
    assert p1["att"] == pytest.approx(dyn.loc[-2, "att"], abs=1e-10)
    assert sw["n_switch_off"] == 0


@pytest.mark.parametrize("m,k", [(4, 1), (7, 2), (30, 6)])
def test_fast_least_favorable_cv_equals_moderndid(m, k):
    from moderndid.didhonest import arp_nuisance

    rng = np.random.default_rng(m)
    x = rng.normal(size=(m, k))
    a = rng.normal(size=(m, m))
    sigma = a @ a.T / m + np.eye(m) * 0.1
    slow = arp_nuisance.compute_least_favorable_cv(x, sigma, 0.005, sims=200, seed=3)
    fast = honest.fast_least_favorable_cv(x, sigma, 0.005, sims=200, seed=3)
    assert fast == pytest.approx(slow, abs=1e-9)
    if m == 30:  # too many supports to enumerate: the warm-started HiGHS path
        assert honest._dual_vertices(np.sqrt(np.diag(sigma)), x) is None


def test_honest_relative_magnitudes_fast_and_ordered(mpdta):
    res = impact.staggered_did(mpdta, "lemp", **_cols(), options=impact.DidOptions(biters=9))
    h = impact.honest_sensitivity(res, "relative_magnitude", event_time=0, bounds=[0.5, 1.0, 2.0])
    t = h.table
    e0 = res.aggregates["dynamic"].set_index("key").loc[0]
    assert t.iloc[0]["ci_low"] == pytest.approx(e0["ci_low"], abs=1e-8)  # post estimates: same under both bases
    width = (t["ci_high"] - t["ci_low"]).to_numpy()
    assert (np.diff(width) > 0).all()
    assert h.event_times[0] == -4 and h.event_times[-1] == 1
    assert np.isfinite(h.breakdown) and h.breakdown <= 0.5  # the e0 effect of mpdta is not significant
    s = res.sensitivity("smoothness", event_time=0, bounds=[0.0, 0.01])
    assert len(s) == 3 and s.iloc[0]["method"] == "original"
