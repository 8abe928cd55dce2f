"""Staggered DiD (evaluation.impact) against the R ``did`` references on ``mpdta``.

References (``reference/did/README.md``):

* ``att_gt_reference.csv``: ATT(g,t) of the ``did`` README (``est_method="reg"``, never-treated),
  point estimates to the published 4 decimals, analytical standard errors to 3 decimals.
* ``aggregate_reference.csv``: the README's ``aggte`` overall values (simple, dynamic, group,
  calendar) to 4 decimals; only the simple one carries an analytical SE (0.0120).
* ``att_gt_r_full_precision.csv`` / ``aggte_r_full_precision.csv``: R ``did`` 2.5.0 with analytical
  SEs for four scenarios; reproduced here to 1e-10, and the Wald pre-test p-values (R rounds them
  to 5 decimals) exactly, to 1e-8.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from evaluation import impact
from evaluation.errors import OptionError
from evaluation.results import INDICATOR_COLUMNS

SCENARIOS = {
    "mpdta_nev_dr": dict(est_method="dr", control_group="nevertreated"),
    "mpdta_nyt_dr": dict(est_method="dr", control_group="notyettreated"),
    "mpdta_nev_ipw": dict(est_method="ipw", control_group="nevertreated"),
    "mpdta_nev_reg_cov": dict(est_method="reg", control_group="nevertreated", covariates=["lpop"]),
}
# README of reference/did: Wald pre-test p-values of R did (rounded by R to 5 decimals)
WALD_P = {"mpdta_nev_dr": 0.16812, "mpdta_nyt_dr": 0.16814, "mpdta_nev_ipw": 0.16812, "mpdta_nev_reg_cov": 0.23116}


@pytest.fixture(scope="module")
def mpdta(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "did" / "mpdta.csv")


def _fit(data, **kw):
    return impact.staggered_did(data, "lemp", unit="countyreal", time="year", first_treated="first.treat",
                                options=impact.DidOptions(**kw))


@pytest.fixture(scope="module")
def readme_fit(mpdta):
    return _fit(mpdta, est_method="reg")


def test_att_gt_reproduces_did_readme(readme_fit, reference_dir):
    """ATT(g,t) of the did README: point estimates to 4 decimals, analytical SEs to 3 decimals."""
    ref = pd.read_csv(reference_dir / "did" / "att_gt_reference.csv").rename(columns={"att": "ref_att"})
    got = readme_fit.att_gt.merge(ref, on=["group", "time"], validate="1:1")
    assert len(got) == 12
    assert (got["att"].round(4) - got["ref_att"]).abs().max() < 1e-9
    assert (got["se"].round(3) - got["se_analytical"].round(3)).abs().max() < 1e-9


def test_aggregates_reproduce_did_readme(readme_fit, reference_dir):
    """aggte overall values of the README to 4 decimals; the simple one's analytical SE to 3."""
    ref = pd.read_csv(reference_dir / "did" / "aggregate_reference.csv").set_index("aggregation")
    ov = readme_fit.overall.set_index("aggregation")
    for agg in ("simple", "dynamic", "group", "calendar"):
        assert round(ov.loc[agg, "att"], 4) == pytest.approx(ref.loc[agg, "overall_att"], abs=1e-12), agg
    assert round(ov.loc["simple", "se"], 3) == pytest.approx(round(ref.loc["simple", "se"], 3), abs=1e-12)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_full_precision_r_did(mpdta, reference_dir, scenario):
    """All four R did 2.5.0 scenarios: ATT(g,t), every aggte row, SEs to 1e-10; Wald p to 1e-8."""
    res = _fit(mpdta, with_twfe=False, **SCENARIOS[scenario])
    gt = pd.read_csv(reference_dir / "did" / "att_gt_r_full_precision.csv")
    gt = gt[gt["scenario"] == scenario].rename(columns={"t": "time", "att": "ref_att", "se": "ref_se"})
    m = res.att_gt.merge(gt, on=["group", "time"], validate="1:1")
    assert len(m) == 12
    np.testing.assert_allclose(m["att"], m["ref_att"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(m["se"], m["ref_se"], rtol=0, atol=1e-10)
    ag = pd.read_csv(reference_dir / "did" / "aggte_r_full_precision.csv")
    ag = ag[ag["scenario"] == scenario]
    ov = res.overall.set_index("aggregation")
    for agg, rows in ag.groupby("type"):
        assert ov.loc[agg, "att"] == pytest.approx(rows["overall_att"].iloc[0], abs=1e-10)
        assert ov.loc[agg, "se"] == pytest.approx(rows["overall_se"].iloc[0], abs=1e-10)
        if agg == "simple":
            continue
        mine = res.aggregates[agg].set_index("key")
        for _, r in rows.iterrows():
            assert mine.loc[int(r["egt"]), "att"] == pytest.approx(r["att_egt"], abs=1e-10)
            assert mine.loc[int(r["egt"]), "se"] == pytest.approx(r["se_egt"], abs=1e-10)
    assert res.pretest["wald_p"] == pytest.approx(WALD_P[scenario], abs=1e-8)


def test_event_pretest_equals_att_gt_wald_with_one_cohort(mpdta):
    """With a single cohort the pre-adoption event-study estimates are the pre-adoption ATT(g,t),
    so our joint test must equal the library's Wald statistic (an independent computation path:
    aggregated influence functions versus the ATT(g,t) variance matrix)."""
    one = mpdta[mpdta["first.treat"].isin([0, 2007])]
    res = _fit(one, est_method="reg", with_twfe=False)
    assert res.pretest["event_df"] == 3 == res.pretest["wald_df"]
    assert res.pretest["event_wald"] == pytest.approx(res.pretest["wald_stat"], rel=1e-9)
    assert round(res.pretest["event_p"], 5) == pytest.approx(res.pretest["wald_p"], abs=1e-12)


def test_twfe_matches_within_estimator_and_cluster_sandwich(mpdta, readme_fit):
    """Naive TWFE: the coefficient equals the two-way within (FWL) estimator on the balanced panel,
    and the SE equals a CR1 sandwich computed by hand (G/(G-1) * (N-1)/(N-K))."""
    d = mpdta.copy()
    D = ((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).astype(float)

    def within(v):
        v = pd.Series(np.asarray(v, float))
        return (v - v.groupby(d["countyreal"].to_numpy()).transform("mean")
                - v.groupby(d["year"].to_numpy()).transform("mean") + v.mean()).to_numpy()

    y, x = within(d["lemp"]), within(D)
    beta = x @ y / (x @ x)
    tw = readme_fit.twfe
    assert tw["att"] == pytest.approx(beta, abs=1e-10)
    # hand-made CR1: residuals of the full dummy regression equal the within residuals
    u = y - beta * x
    N, G = len(d), d["countyreal"].nunique()
    K = 1 + G - 1 + d["year"].nunique() - 1 + 1  # treated, unit dummies, year dummies, constant
    meat = pd.Series(x * u).groupby(d["countyreal"].to_numpy()).sum().pow(2).sum()
    se = np.sqrt(meat / (x @ x) ** 2 * G / (G - 1) * (N - 1) / (N - K))
    assert tw["se"] == pytest.approx(se, rel=1e-8)
    assert tw["clusters"] == 500 and tw["n"] == 2500


def _statsmodels_dummy_twfe(d, cluster="countyreal"):
    """Second implementation: statsmodels OLS on the full set of unit and year dummies."""
    import statsmodels.api as sm

    D = ((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).astype(float).rename("D")
    X = pd.concat([D, pd.get_dummies(d["countyreal"].astype(str), drop_first=True, dtype=float),
                   pd.get_dummies(d["year"].astype(str), prefix="y", drop_first=True, dtype=float)], axis=1)
    X.insert(0, "const", 1.0)
    fit = sm.OLS(d["lemp"].to_numpy(float), X.to_numpy()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d[cluster])[0]})
    return float(fit.params[1]), float(fit.bse[1])


def test_twfe_matches_statsmodels_dummy_regression_unbalanced(mpdta):
    """On an unbalanced panel (a third of the counties, every 7th row dropped) the alternating-projection TWFE equals the
    statsmodels dummy regression, coefficient and CR1 SE, to 1e-8."""
    keep = mpdta["countyreal"].isin(mpdta["countyreal"].drop_duplicates().iloc[::3])  # 167 counties: fast SVD
    d = mpdta[keep].reset_index(drop=True)
    d = d.iloc[[i for i in range(len(d)) if i % 7]].reset_index(drop=True)
    tw = impact.twfe(d, "lemp", "countyreal", "year", "first.treat")
    beta, se = _statsmodels_dummy_twfe(d)
    assert tw["att"] == pytest.approx(beta, rel=1e-8)
    assert tw["se"] == pytest.approx(se, rel=1e-8)


def test_simultaneous_band_is_seeded_and_wider_than_pointwise(mpdta):
    a = _fit(mpdta, est_method="reg", with_twfe=False, seed=7)
    b = _fit(mpdta, est_method="reg", with_twfe=False, seed=7)
    c = _fit(mpdta, est_method="reg", with_twfe=False, seed=8)
    da, db, dc = (r.aggregates["dynamic"] for r in (a, b, c))
    pd.testing.assert_frame_equal(da, db)
    assert not np.allclose(da["band_low"], dc["band_low"])  # the seed matters: a real bootstrap
    crit = da["critical_value"].iloc[0]
    k = len(da)
    # a 95 % simultaneous band over k estimates lies between the pointwise and the Bonferroni value
    assert scipy.stats.norm.ppf(0.975) < crit < scipy.stats.norm.ppf(1 - 0.025 / k) + 0.1
    assert (da["band_low"] <= da["ci_low"]).all() and (da["band_high"] >= da["ci_high"]).all()


def test_always_treated_and_late_adopters_handled(mpdta):
    d = mpdta.copy()
    first_ids = d["countyreal"].drop_duplicates().iloc[:5]
    d.loc[d["countyreal"].isin(first_ids), "first.treat"] = 2003  # treated in the first year
    late_ids = d["countyreal"].drop_duplicates().iloc[5:8]
    d.loc[d["countyreal"].isin(late_ids), "first.treat"] = 2010  # after the data end
    res = _fit(d, est_method="reg", with_twfe=False)
    assert res.params["n_always_treated"] == 5
    assert res.params["n_units"] == 495
    assert any(n.startswith("5 units adopted in or before the first period") for n in res.notes)
    assert any("adopted after 2007" in n for n in res.notes)
    assert set(res.att_gt["group"]) == {2004, 2006, 2007}


def test_tidy_table_summary_html_and_plot(readme_fit):
    t = readme_fit.table
    assert list(t.columns[: len(INDICATOR_COLUMNS)]) == list(INDICATOR_COLUMNS)
    ids = set(t["indicator"])
    p = "imp.policy"
    for name in ("simple", "dynamic.e-3", "dynamic.e0", "dynamic.e3", "dynamic.post", "group.2004",
                 "group.average", "calendar.2007", "calendar.average", "twfe", "pretest_p", "pretest_event_p"):
        assert f"{p}.{name}" in ids, name
    simple = t.set_index("indicator").loc[f"{p}.simple"]
    assert simple["value"] == pytest.approx(readme_fit.overall.set_index("aggregation").loc["simple", "att"])
    assert simple["ci_low"] < simple["value"] < simple["ci_high"]
    assert "never-treated" in simple["method"] and "outcome regression" in simple["method"]
    pre = t[t["event_time"].notna() & (t["event_time"] < 0)]
    assert (pre["flags"] == "pre_adoption").all() and len(pre) == 3
    assert t["n"].dtype == "Int64"
    s = readme_fit.summary()
    assert "Callaway-Sant'Anna" in s and "naive TWFE" in s and "Caveats" in s and "anticipation" in s
    assert "<table" in readme_fit._repr_html_()
    ax = readme_fit.plot()
    assert ax.get_xlabel() == "periods since adoption"
    assert len(ax.collections) >= 1  # the simultaneous band


def test_errors_are_for_people(mpdta):
    with pytest.raises(ValueError, match="est_method"):
        _fit(mpdta, est_method="ols")
    with pytest.raises(OptionError, match="est_method"):
        impact.DidOptions(est_method="ols")
    with pytest.raises(ValueError, match="lacks column"):
        impact.staggered_did(mpdta, "nope", unit="countyreal", time="year", first_treated="first.treat")
    never = mpdta[mpdta["first.treat"] > 0]
    with pytest.raises(ValueError, match="notyettreated"):
        _fit(never, est_method="reg")


def test_honest_did_sensitivity(mpdta):
    """Rambachan-Roth sensitivity through moderndid (needs cvxpy, the 'didhonest' extra). The
    original interval must be the pointwise e0 interval of the event study, and robust intervals
    must contain it and widen as the allowed violation grows."""
    pytest.importorskip("cvxpy")
    res = _fit(mpdta, est_method="dr", with_twfe=False)
    e0 = res.aggregates["dynamic"].set_index("key").loc[0]
    # smoothness only: its FLCI takes seconds; the relative-magnitude (C-LF) grid takes about a minute
    for kind in ("smoothness",):
        s = res.sensitivity(kind, bounds=[0.01, 0.02])
        orig = s.iloc[0]
        assert orig["ci_low"] == pytest.approx(e0["ci_low"], abs=1e-8)
        assert orig["ci_high"] == pytest.approx(e0["ci_high"], abs=1e-8)
        robust = s.iloc[1:]
        width = (robust["ci_high"] - robust["ci_low"]).to_numpy()
        assert (np.diff(width) >= -1e-9).all()
        last = robust.iloc[-1]
        assert last["ci_low"] <= orig["ci_low"] and last["ci_high"] >= orig["ci_high"]


def test_cli_panel_file_with_r_defaults(mpdta, reference_dir, tmp_path, capsys):
    """``evaluation impact --panel``: named columns, doubly robust by default, covariates; the table
    equals the API's; a missing column option and an unreadable cell are one-sentence errors."""
    from evaluation import cli

    src = reference_dir / "did" / "mpdta.csv"
    out = tmp_path / "impact.csv"
    code = cli.main(["impact", "--panel", str(src), "--unit", "countyreal", "--time", "year",
                     "--first-treated", "first.treat", "--outcome", "lemp", "--covariates", "lpop", "--out", str(out)])
    assert code == 0
    got = pd.read_csv(out).set_index("indicator")
    api = _fit(mpdta, covariates=["lpop"]).table.set_index("indicator")
    assert got.loc["imp.policy.simple", "value"] == pytest.approx(api.loc["imp.policy.simple", "value"], abs=1e-12)
    assert "doubly robust" in got.loc["imp.policy.simple", "method"]
    assert "doubly robust" in capsys.readouterr().out
    code = cli.main(["impact", "--panel", str(src), "--unit", "countyreal", "--time", "year", "--outcome", "lemp",
                     "--out", str(out)])
    assert code == 1 and "--first-treated" in capsys.readouterr().err
    bad = mpdta.astype({"lemp": object})
    bad.loc[6, "lemp"] = "n/a"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    code = cli.main(["impact", "--panel", str(tmp_path / "bad.csv"), "--unit", "countyreal", "--time", "year",
                     "--first-treated", "first.treat", "--outcome", "lemp", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "row 8" in err and "column lemp" in err and "not a number" in err
