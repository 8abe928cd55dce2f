"""Grouped Kaplan-Meier from a life table against R survival (published output) and statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from evaluation.survival import kaplan_meier_from_life_table, km_quantiles, km_survival_at


def _lung_life_table(reference_dir, by):
    lung = pd.read_csv(reference_dir / "survival" / "lung.csv")
    lung = lung.dropna(subset=[c for c in by])
    lung = lung.assign(events=(lung["status"] == 2).astype(int), censored=(lung["status"] == 1).astype(int))
    return lung.groupby(by + ["time"], as_index=False)[["events", "censored"]].sum() if by else lung


def test_reproduces_every_r_reference_row(reference_dir):
    """reference/survival/reference.csv (R survival 3.8-6): medians and their 95 % log intervals
    exactly (integer days), S(t) and its interval to the 3 printed decimals."""
    ref = pd.read_csv(reference_dir / "survival" / "reference.csv")
    ovarian = pd.read_csv(reference_dir / "survival" / "ovarian.csv")
    checked = 0
    for _, row in ref.iterrows():
        if row["dataset"] == "lung":
            if row["group"] == "all":
                by, key = [], {}
            else:
                key = dict(part.split("=") for part in row["group"].split(" "))
                by = list(key)
            lt = _lung_life_table(reference_dir, by)
            km = kaplan_meier_from_life_table(lt, by, "time", "events", "censored")
            q = km_quantiles(km, [0.5], method="log")
            for col, val in key.items():
                q = q[q[col] == float(val)]
            assert len(q) == 1
            got = q.iloc[0]
            assert (got["estimate"], got["ci_low"], got["ci_high"]) == (row["estimate"], row["ci_low"], row["ci_high"]), row["call"]
        elif row["statistic"] == "median":  # R prints NA for an upper limit that is not reached
            lt = ovarian.assign(events=ovarian["fustat"], censored=1 - ovarian["fustat"])
            km = kaplan_meier_from_life_table(lt, [], "futime", "events", "censored")
            got = km_quantiles(km, [0.5], method="log").iloc[0]
            assert (got["estimate"], got["ci_low"]) == (row["estimate"], row["ci_low"]), row["call"]
            assert np.isnan(got["ci_high"]) and np.isnan(row["ci_high"]), row["call"]
        else:
            t = float(row["statistic"][2:-1])
            lt = ovarian.assign(events=ovarian["fustat"], censored=1 - ovarian["fustat"])
            km = kaplan_meier_from_life_table(lt, [], "futime", "events", "censored")
            s = km_survival_at(km, [t], method="log").iloc[0]
            assert s["surv"] == pytest.approx(row["estimate"], abs=5e-4)
            assert s["ci_low"] == pytest.approx(row["ci_low"], abs=5e-4)
            assert s["ci_high"] == pytest.approx(row["ci_high"], abs=5e-4)
        checked += 1
    assert checked == len(ref) == 11


@pytest.mark.parametrize("method,sm_method", [("log", "log"), ("loglog", "cloglog")])
def test_grouped_quantiles_match_statsmodels_on_random_data_with_ties_and_censoring(method, sm_method):
    """Per-group statsmodels SurvfuncRight quantile / quantile_ci is the second implementation:
    every estimate and bound must be identical (they are event times), for 150 random groups with
    heavy ties (times 0-14) and censoring shares from 0 to 1."""
    rng = np.random.default_rng(20261127)
    rows, groups = [], []
    for g in range(150):
        n = int(rng.integers(1, 80))
        t = rng.integers(0, 15, n)
        e = rng.random(n) < rng.random()
        rows.append(pd.DataFrame({"g": g, "time": t, "events": e.astype(int), "censored": (~e).astype(int)}))
        groups.append((t, e))
    lt = pd.concat(rows, ignore_index=True).sample(frac=1, random_state=1)  # any order, repeated times
    km = kaplan_meier_from_life_table(lt, ["g"])
    probs = (0.25, 0.5, 0.75)
    q = km_quantiles(km, probs, method=method).set_index(["g", "prob"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g, (t, e) in enumerate(groups):
            sf = SurvfuncRight(t, e.astype(int))
            for p in probs:
                got = q.loc[(g, p)]
                if e.sum() == 0:
                    assert np.isnan(got["estimate"])
                    continue
                # includes groups where S(t) equals 1 - p exactly (e.g. 10 of 20 left): the
                # same floating-point arithmetic must give the same side of the plateau
                want = [sf.quantile(p), *sf.quantile_ci(p, method=sm_method)]
                # where statsmodels and R part, R's NA: no upper limit past the last event (statsmodels:
                # inf), nor at the event where the curve reaches 0 (statsmodels: that time)
                upper = want[2]
                at_zero = np.isfinite(upper) and sf.surv_prob[np.searchsorted(sf.surv_times, upper)] == 0
                if np.isinf(upper) or at_zero:
                    want[2] = np.nan
                np.testing.assert_array_equal([got["estimate"], got["ci_low"], got["ci_high"]], want, err_msg=f"group {g} p {p}")


def test_survival_at_times_matches_statsmodels_pointwise_log_interval():
    """S(t) and its log-transformed Greenwood interval (statsmodels simultaneous_cb is not it:
    compare with SurvfuncRight.surv_prob and surv_prob_se), to 1e-12."""
    rng = np.random.default_rng(3)
    t = rng.integers(0, 50, 500)
    e = rng.random(500) < 0.7
    sf = SurvfuncRight(t, e.astype(int))
    km = kaplan_meier_from_life_table(pd.DataFrame({"time": t, "events": e.astype(int), "censored": (~e).astype(int)}))
    at = km_survival_at(km, [5, 17, 30], method="log")
    for _, row in at.iterrows():
        i = np.searchsorted(sf.surv_times, row["time"], side="right") - 1
        s, se = sf.surv_prob[i], sf.surv_prob_se[i]
        assert row["surv"] == pytest.approx(s, abs=1e-12)
        assert row["ci_low"] == pytest.approx(s * np.exp(-1.959963984540054 * se / s), abs=1e-12)


def test_beyond_follow_up_is_missing_not_extrapolated():
    km = kaplan_meier_from_life_table(pd.DataFrame({"time": [1, 2, 3], "events": [1, 0, 0], "censored": [0, 1, 1]}))
    at = km_survival_at(km, [2.5, 10])
    assert at["surv"].iloc[0] == pytest.approx(2 / 3)
    assert np.isnan(at["surv"].iloc[1]) and bool(at["beyond_follow_up"].iloc[1])


def test_after_the_last_event_a_curve_at_zero_stays_zero():
    """Events at 1 and 2 and no censoring: S(2) = 0, so S(3) = 0 is identified (not missing)."""
    km = kaplan_meier_from_life_table(pd.DataFrame({"time": [1, 2], "events": [1, 1], "censored": [0, 0]}))
    at = km_survival_at(km, [1.5, 3])
    assert at["surv"].tolist() == [0.5, 0.0]
    assert not at["beyond_follow_up"].any()


def _random_life_table(seed: int, n_groups: int = 120):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        n = int(rng.integers(1, 300))
        t = rng.integers(0, 40, n)
        e = rng.random(n) < rng.random()
        rows.append(pd.DataFrame({"g": g, "time": t, "events": e.astype(int), "censored": (~e).astype(int)}))
    return pd.concat(rows, ignore_index=True)


def test_curves_are_those_of_statsmodels_bit_for_bit():
    """S(t) at each event time equals statsmodels ``surv_prob`` exactly, and the Greenwood
    standard error of S equals ``surv_prob_se`` to rounding, group by group."""
    lt = _random_life_table(7)
    km = kaplan_meier_from_life_table(lt, ["g"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g, grp in lt.groupby("g"):
            t = np.repeat(grp["time"].to_numpy(), 1)
            sf = SurvfuncRight(t, grp["events"].to_numpy())
            s, e = km.starts[g], km.ends[g]
            np.testing.assert_array_equal(km.time[s:e], sf.surv_times)
            np.testing.assert_array_equal(km.surv[s:e], sf.surv_prob)
            np.testing.assert_allclose(np.sqrt(km.greenwood[s:e]) * km.surv[s:e], sf.surv_prob_se, rtol=1e-12, atol=0)


def test_estimates_on_several_threads_are_identical_to_one(monkeypatch):
    """Whole groups go to each thread, so splitting the work cannot change a single bit."""
    import evaluation.survival.estimation as survival

    lt = _random_life_table(11, n_groups=300)
    one = kaplan_meier_from_life_table(lt, ["g"])
    q_one = km_quantiles(one, (0.25, 0.5, 0.75), method="loglog")
    monkeypatch.setattr(survival, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(survival, "BLOCK_ROWS", 50)  # several blocks per thread, some one group
    parts = survival._group_parts(np.searchsorted(np.sort(lt["g"].to_numpy()), np.arange(301)), parts=3)
    assert len(parts) == 3 and parts[0][0] == 0 and parts[-1][1] == 300
    many = kaplan_meier_from_life_table(lt, ["g"])
    q_many = km_quantiles(many, (0.25, 0.5, 0.75), method="loglog")
    for name in ("gid", "time", "n_risk", "events", "surv", "greenwood", "starts", "ends", "n_obs", "n_events"):
        np.testing.assert_array_equal(getattr(many, name), getattr(one, name), err_msg=name)
    pd.testing.assert_frame_equal(q_many, q_one)


def test_summaries_without_curves_equal_the_curves_searches(monkeypatch):
    """km_summaries (block by block, no curve kept) gives bit for bit what km_quantiles and
    km_survival_at give on the KaplanMeier, for both transforms, on one thread and on several
    with blocks smaller than some groups."""
    import evaluation.survival.estimation as survival
    from evaluation.survival import km_summaries

    lt = _random_life_table(5, n_groups=200)
    km = kaplan_meier_from_life_table(lt, ["g"])
    gid = lt["g"].to_numpy()
    for method in ("log", "loglog"):
        want_q = km_quantiles(km, (0.25, 0.5, 0.75), method=method)
        want_s = km_survival_at(km, [0.5, 7, 20, 39], method=method)
        for parallel_rows, block_rows in ((10**9, 65_536), (1, 40)):
            monkeypatch.setattr(survival, "PARALLEL_ROWS", parallel_rows)
            monkeypatch.setattr(survival, "BLOCK_ROWS", block_rows)
            got = km_summaries(gid, lt["time"].to_numpy(), lt["events"].to_numpy(), lt["censored"].to_numpy(),
                               km.groups, (0.25, 0.5, 0.75), [0.5, 7, 20, 39], method=method)
            pd.testing.assert_frame_equal(got.quantiles, want_q)
            pd.testing.assert_frame_equal(got.survival, want_s)
            np.testing.assert_array_equal(got.n_obs, km.n_obs)
            np.testing.assert_array_equal(got.max_time, km.max_time)
