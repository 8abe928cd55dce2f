"""Likert scales: reverse coding, index, Cronbach's alpha (two algebraic forms and planted truth), top-two-box."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.survey.scales import (
    Codebook,
    construct_mean_from_item_means,
    cronbach_alpha,
    reverse_code,
    scale_index,
    scale_report,
    top_two_box,
)


@pytest.fixture
def codebook():
    return Codebook(pd.DataFrame({
        "item": ["sat_overall", "sat_services", "problems_unsolved", "knows_building_head"],
        "wording_zh": ["总体满意度", "服务满意度", "问题未解决", "认识楼栋长"],
        "wording_en": ["Overall satisfaction", "Satisfaction with services", "Problems left unsolved",
                       "Knows the building head"],
        "scale_min": [1, 1, 1, 0], "scale_max": [5, 5, 5, 1],
        "direction": ["positive", "positive", "negative", "positive"],
        "construct": ["satisfaction", "satisfaction", "satisfaction", "engagement"],
    }))


def test_reverse_coding_and_index(codebook):
    data = pd.DataFrame({"sat_overall": [5, 4, None], "sat_services": [5, 2, None], "problems_unsolved": [1, 4, 3]})
    rc = reverse_code(data, codebook)
    assert list(rc["problems_unsolved"]) == [5, 2, 3] and list(data["problems_unsolved"]) == [1, 4, 3]
    idx = scale_index(data, codebook, "satisfaction")
    assert idx.iloc[0] == 5 and idx.iloc[1] == pytest.approx(8 / 3)
    assert np.isnan(idx.iloc[2])  # one of three items answered: below the half rule
    assert codebook.wording("problems_unsolved", "zh") == "问题未解决" and codebook.is_binary("knows_building_head")


def test_out_of_scale_value_names_row_and_column(codebook):
    with pytest.raises(ValueError, match="row 1: column sat_overall value 7"):
        reverse_code(pd.DataFrame({"sat_overall": [3, 7]}), codebook)


def test_cronbach_alpha_two_forms_and_planted_reliability():
    rng = np.random.default_rng(3)
    k, n = 4, 4000
    true_score = rng.normal(0, 1, n)
    items = pd.DataFrame({f"i{j}": true_score + rng.normal(0, 1.2, n) for j in range(k)})
    alpha = cronbach_alpha(items)
    # Covariance form: alpha = k^2 * mean off-diagonal covariance / sum of the covariance matrix.
    c = items.cov().to_numpy()
    off = (c.sum() - np.trace(c)) / (k * (k - 1))
    assert alpha == pytest.approx(k**2 * off / c.sum(), rel=1e-12)
    # Parallel items: population alpha = k s_t / (k s_t + s_e) = 4 / (4 + 1.44).
    assert alpha == pytest.approx(4 / (4 + 1.44), abs=0.02)


def test_top_two_box_and_report(codebook):
    assert list(top_two_box(pd.Series([1, 4, 5, None]), 5).fillna(-1)) == [0, 1, 1, -1]
    rng = np.random.default_rng(0)
    base = rng.integers(1, 6, 300)
    data = pd.DataFrame({"sat_overall": base, "sat_services": np.clip(base + rng.integers(-1, 2, 300), 1, 5),
                         "problems_unsolved": np.clip(6 - base + rng.integers(-1, 2, 300), 1, 5),
                         "knows_building_head": rng.integers(0, 2, 300)})
    rep = scale_report(data, codebook).set_index("construct")
    assert rep.loc["satisfaction", "cronbach_alpha"] > 0.8  # reversal makes the negative item agree
    assert rep.loc["satisfaction", "k"] == 3 and np.isnan(rep.loc["engagement", "cronbach_alpha"])


def test_construct_mean_from_item_means_equals_mean_of_the_index(codebook):
    # Independent check: the plain population mean of scale_index over a small population
    # equals the value built from the item means (linearity, no item non-response).
    rng = np.random.default_rng(8)
    pop = pd.DataFrame({c: rng.integers(1, 6, 300) for c in ("sat_overall", "sat_services", "problems_unsolved")})
    pop["unit"] = rng.choice(["A", "B"], 300)
    means = {c: pop.groupby("unit")[c].mean().to_dict() for c in ("sat_overall", "sat_services", "problems_unsolved")}
    got = construct_mean_from_item_means(means, codebook, "satisfaction")
    direct = scale_index(pop, codebook, "satisfaction").groupby(pop["unit"]).mean()
    assert got == pytest.approx(direct.to_dict(), rel=1e-12)
    # by hand for unit A: (m1 + m2 + 6 - m3) / 3
    a = (means["sat_overall"]["A"] + means["sat_services"]["A"] + 6 - means["problems_unsolved"]["A"]) / 3
    assert got["A"] == pytest.approx(a)
    with pytest.raises(ValueError, match="problems_unsolved of construct satisfaction missing"):
        construct_mean_from_item_means({"sat_overall": {}, "sat_services": {}}, codebook)
