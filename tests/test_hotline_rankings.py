"""Fair rankings (evaluation.hotline.rankings): rank intervals, indirect standardisation, classes.

References: the observed rates are the ``svc.*`` rates of :func:`evaluation.requests.request_indicators`
(the one grouped pass); the Jeffreys interval is statsmodels' ``proportion_confint(method="jeffreys")``;
the expected rate is recomputed by hand on a small log. The planted truth (``truth.json`` ``hotline``):
the share never resolved depends on the category only, so once standardised for the category mix
no street's resolution rate can be told apart from the median, while Hongwei (S03), with the hard
categories, is last on the raw rate.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from evaluation.dataset import load_dataset
from evaluation.errors import OptionError
from evaluation.hotline import monthly_rankings
from evaluation.hotline.common import jeffreys_interval
from evaluation.requests import dataset_log, load_requests, request_indicators, simulate_request_log


@pytest.fixture(scope="module")
def ds(bundled_dir):
    return load_dataset(bundled_dir)


@pytest.fixture(scope="module")
def truth(bundled_dir):
    return json.loads((bundled_dir / "truth.json").read_text(encoding="utf-8"))["hotline"]


@pytest.fixture(scope="module")
def by_year(ds):
    return monthly_rankings(ds, "street", "year", draws=1000)


def test_observed_rates_are_the_request_indicators(ds, by_year):
    """The rankings' rates are the svc.* rates of the grouped pass, unit for unit."""
    ref = request_indicators(dataset_log(ds), by=["street_id"], period="year", sla_hours=()).table
    for iid in ("svc.response_rate", "svc.resolution_rate", "svc.satisfaction_rate", "svc.three_rate_score"):
        a = by_year.table[by_year.table["indicator"].eq(iid)].set_index(["unit_id", "period"])["value"]
        b = ref[ref["indicator"].eq(iid)].assign(unit_id=lambda f: f["street_id"].astype(str)).set_index(
            ["unit_id", "period"])["value"].reindex(a.index)
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, err_msg=iid)


def test_jeffreys_interval_is_statsmodels():
    x = np.array([0, 1, 7, 50, 99, 100])
    n = np.array([100, 100, 30, 100, 100, 100])
    low, high = jeffreys_interval(x, n)
    ref = np.array([proportion_confint(int(a), int(b), method="jeffreys") for a, b in zip(x, n)])
    inner = (x > 0) & (x < n)
    np.testing.assert_allclose(low[inner], ref[inner, 0], atol=1e-12)
    np.testing.assert_allclose(high[inner], ref[inner, 1], atol=1e-12)
    # Brown, Cai and DasGupta's modification at the ends (statsmodels leaves the Beta quantile there)
    assert low[0] == 0.0 and high[-1] == 1.0
    np.testing.assert_allclose(high[0], ref[0, 1], atol=1e-12)
    np.testing.assert_allclose(low[-1], ref[-1, 0], atol=1e-12)


def test_resolution_rate_raw_and_standardised_disagree_where_planted(by_year, truth):
    """Raw: Hongwei (S03, the hard mix) is clearly last; standardised: no street can be told apart."""
    assert truth["rates"]["street_effect_on_resolution_rate"] == 0.0
    tilt = truth["category_mix"]["shares_by_street"]
    hard = {s: v["public_facilities"] + v["neighbour_dispute"] for s, v in tilt.items()}
    assert max(hard, key=hard.get) == "S03"
    t = by_year.table[by_year.table["indicator"].eq("svc.resolution_rate") & by_year.table["period"].isin(["2019", "2020"])]
    for _, g in t.groupby("period"):
        g = g.set_index("unit_id")
        assert g.loc["S03", "rank"] == 4 and g.loc["S03", "class"] == "clearly_worse"
        assert (g["class_std"] == "indistinguishable").all(), g[["rank_std_low", "rank_std_high"]]
        # and the observed / expected interval of every street covers 1 (no street effect planted)
        assert ((g["oe_low"] <= 1) & (1 <= g["oe_high"])).all(), g[["oe_ratio", "oe_low", "oe_high"]]


def test_satisfaction_standardised_reorders_hongwei_and_chechenglu(by_year, bundled_dir):
    """Hongwei rates better than Chechenglu at equal category (planted street shifts 0.5 vs 0.3), but its
    harder mix puts it below Chechenglu on the raw rate."""
    shifts = json.loads((bundled_dir / "truth.json").read_text(encoding="utf-8"))["requests"]
    assert shifts["rating_latent_shift_by_street"]["S03"] > shifts["rating_latent_shift_by_street"]["S02"]
    t = by_year.table[by_year.table["indicator"].eq("svc.satisfaction_rate")]
    for _, g in t.groupby("period"):
        g = g.set_index("unit_id")
        assert g.loc["S03", "value"] < g.loc["S02", "value"]
        assert g.loc["S03", "oe_ratio"] > g.loc["S02", "oe_ratio"]
        assert g.loc["S04", "class_std"] == "clearly_worse"


def _log(n: int, seed: int, **columns) -> object:
    """A simulated native log with some columns replaced, loaded (flagged) as any log is."""
    df = simulate_request_log(n, seed=seed)
    for k, v in columns.items():
        df[k] = v(df) if callable(v) else v
    return load_requests(df)


def test_rank_intervals_and_classes_on_a_log_with_known_rates():
    """Two units resolve everything, two leave two thirds unresolved, three lie between: the extremes are
    told apart from the median, the middle is not; ranks are reproducible, and a period's ranks do not
    depend on the other periods ranked."""
    n = 7000
    unit = np.array(["U1", "U2", "U3", "U4", "U5", "U6", "U7"])[np.arange(n) % 7]
    bad = np.isin(unit, ["U6", "U7"]) & (np.arange(n) % 3 > 0)

    def resolved(df):
        return df["resolved_at"].where(~bad)

    def status(df):
        return np.where(bad, "in_progress", df["status"].astype(str))

    log = _log(n, 3, community_id=unit, resolved_at=resolved, closed_at=resolved, status=status)
    r = monthly_rankings(log, "community", "year", indicators=("svc.resolution_rate",), draws=500,
                         standardise_by=("category",))
    g = r.table.set_index("unit_id")
    assert set(g.loc[["U6", "U7"], "class"]) == {"clearly_worse"}
    assert g.loc["U4", "class"] == "indistinguishable"
    assert (g["units_ranked"] == 7).all()
    again = monthly_rankings(log, "community", "year", indicators=("svc.resolution_rate",), draws=500,
                             standardise_by=("category",), periods=["2020"])
    pd.testing.assert_frame_equal(again.table, r.table[r.table["period"].eq("2020")].reset_index(drop=True))


def test_expected_rate_by_hand():
    """Indirect standardisation on a small log: e = sum_s n_s p_s / n with the district's stratum rates."""
    n = 5000
    street = np.where(np.arange(n) % 2, "A", "B")
    log = _log(n, 11, street_id=street)
    r = monthly_rankings(log, "street", "year", indicators=("svc.resolution_rate",), draws=200,
                         standardise_by=("category",))
    from evaluation.requests.grouped import grouped_tables

    c = grouped_tables(log, ["street_id", "category"], "year").counts
    c = c[c["period"].astype(str).eq("2020")]
    p = c.groupby("category", observed=True)["resolved"].sum() / c.groupby("category", observed=True)["n"].sum()
    for s, g in c.groupby("street_id", observed=True):
        e = (g["n"] * g["category"].map(p).astype(float)).sum() / g["n"].sum()
        row = r.table[(r.table["unit_id"] == str(s)) & (r.table["period"] == "2020")].iloc[0]
        assert row["expected"] == pytest.approx(e, rel=1e-12)
        assert row["oe_ratio"] == pytest.approx(row["value"] / e, rel=1e-12)


def test_plot_league_and_errors(by_year):
    league = by_year.league("svc.three_rate_score", "2021")
    assert list(league["rank_std"]) == sorted(league["rank_std"])
    ax = by_year.plot(indicator="svc.resolution_rate", period="2020")
    assert len(ax.get_yticklabels()) == 4
    assert "svc.resolution_rate" in by_year.summary()
    with pytest.raises(OptionError, match="cannot rank"):
        monthly_rankings(by_year, "street", indicators=("svc.backlog",))
    with pytest.raises(OptionError, match="street or community"):
        monthly_rankings(by_year, "district")
