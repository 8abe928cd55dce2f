"""Request durations at the resolution of the stamps: the package's Kaplan-Meier against statsmodels
on the raw durations of real exports (NYC 311, Boston 311) and of random logs with ties.

The second implementation is deliberately plain: the durations are computed here with pandas from
the raw file, open requests censored at the cut-off, the rows the quality policy leaves out dropped
by the same rules, and ``statsmodels.duration.survfunc.SurvfuncRight`` estimates each group. The
package must agree to 1e-9 h (both work in whole seconds), with R's NA where R prints one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from evaluation.requests import load_requests, request_indicators

PROBS = {"svc.resolution_hours_p25": 0.25, "svc.median_resolution_hours": 0.5, "svc.resolution_hours_p75": 0.75}
SLA = (2.0, 24.0, 72.0)


def _expected(hours: np.ndarray, event: np.ndarray) -> dict:
    """statsmodels on raw durations (hours): quantiles with log intervals (R's NA rule) and 1 - S at the SLAs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf = SurvfuncRight(hours, event.astype(int))
        out = {}
        for ind, p in PROBS.items():
            lo, hi = sf.quantile_ci(p, method="log")
            if np.isfinite(hi) and sf.surv_prob[np.searchsorted(sf.surv_times, hi)] == 0:
                hi = np.nan  # R survfit: no upper limit at the event where the curve reaches 0
            out[ind] = (sf.quantile(p), lo, np.nan if np.isinf(hi) else hi)
        for h in SLA:
            i = np.searchsorted(sf.surv_times, h, side="right") - 1
            out[("sla", h)] = 1 - (sf.surv_prob[i] if i >= 0 else 1.0)
    return out


def _compare(table: pd.DataFrame, group_col: str, groups: dict[str, tuple[np.ndarray, np.ndarray]]) -> int:
    checked = 0
    for g, (hours, event) in groups.items():
        if event.sum() == 0:
            continue
        want = _expected(hours, event)
        rows = table[table[group_col].astype(str).eq(str(g))]
        for ind in PROBS:
            r = rows[rows["indicator"].eq(ind)].iloc[0]
            np.testing.assert_allclose([r["value"], r["ci_low"], r["ci_high"]], want[ind], rtol=0, atol=1e-9,
                                       err_msg=f"{group_col}={g} {ind}")
        for h in SLA:
            r = rows[rows["indicator"].eq("svc.resolved_within_sla") & rows["sla_hours"].eq(h)].iloc[0]
            if not np.isnan(r["value"]):
                assert r["value"] == pytest.approx(want[("sla", h)], abs=1e-12), (g, h)
        checked += 1
    return checked


def _raw_groups(frame: pd.DataFrame, created: pd.Series, resolved: pd.Series, keep: np.ndarray, cutoff, by: str):
    """Durations (hours) and events per group from raw stamps, open requests censored at the cut-off."""
    end = resolved.where(resolved.notna() & (resolved <= cutoff), cutoff)
    event = (resolved.notna() & (resolved <= cutoff)).to_numpy()
    hours = ((end - created).dt.total_seconds() / 3600.0).to_numpy()
    g = frame[by].astype(str).to_numpy()
    return {k: (hours[keep & (g == k)], event[keep & (g == k)]) for k in pd.unique(g[keep])}


def test_nyc311_medians_and_intervals_equal_statsmodels_on_the_raw_durations(reference_dir):
    path = reference_dir / "requests" / "nyc311_2011_sample.csv"
    log = load_requests(path, format="nyc311")
    assert log.resolution_seconds == 1  # the stamps carry seconds: no minute binning
    res = request_indicators(log, by=["Agency"], period="year", sla_hours=SLA)
    raw = pd.read_csv(path, dtype=str)
    fmt = "%m/%d/%Y %I:%M:%S %p"
    created = pd.to_datetime(raw["Created Date"], format=fmt).dt.tz_localize("America/New_York")
    resolved = pd.to_datetime(raw["Closed Date"], format=fmt).dt.tz_localize("America/New_York")
    resolved = resolved.where(resolved.dt.year != 1900)  # the 1900-01-01 placeholder is no date
    status_open = raw["Status"].isin(["Open", "Assigned", "Started", "Pending", "In Progress", "Unspecified",
                                      "Email Sent", "Draft", "Unassigned"]).to_numpy()
    resolved = resolved.where(~status_open)  # status wins over a close date on an open request
    closed_no_date = raw["Status"].eq("Closed").to_numpy() & resolved.isna().to_numpy()
    backwards = (resolved < created).fillna(False).to_numpy()
    keep = ~closed_no_date & ~backwards & created.notna().to_numpy()
    cutoff = log.cutoff
    for year in (2011,):
        in_year = (created.dt.year == year).to_numpy()
        groups = _raw_groups(raw, created, resolved, keep & in_year, cutoff, "Agency")
        checked = _compare(res.table[res.table["period"].eq(str(year))], "Agency", groups)
        assert checked >= 10


def test_boston311_medians_and_intervals_equal_statsmodels_on_the_raw_durations(reference_dir):
    path = reference_dir / "requests" / "boston311-100.csv"
    log = load_requests(path, format="boston311")
    res = request_indicators(log, by=["type"], period="year", sla_hours=SLA)
    raw = pd.read_csv(path, dtype=str)
    created = pd.to_datetime(raw["open_dt"]).dt.tz_localize("America/New_York")
    resolved = pd.to_datetime(raw["closed_dt"]).dt.tz_localize("America/New_York")
    keep = (created.notna() & ~(resolved < created).fillna(False)).to_numpy()
    groups = _raw_groups(raw, created, resolved, keep, log.cutoff, "type")
    assert _compare(res.table, "type", groups) >= 5


def test_random_logs_with_ties_equal_statsmodels_at_the_second():
    """Durations in whole seconds with many ties (a few hundred distinct values), open requests,
    several groups: every quantile, bound and SLA share as statsmodels gives them."""
    rng = np.random.default_rng(20261201)
    n = 6_000
    created = pd.Timestamp("2021-03-01", tz="Asia/Shanghai") + pd.to_timedelta(rng.integers(0, 86_400 * 200, n), unit="s")
    dur = pd.to_timedelta(rng.choice(np.arange(60, 86_400 * 4, 997), n), unit="s")
    resolved = pd.Series(created + dur).where(rng.random(n) > 0.15)
    df = pd.DataFrame({"request_id": [f"R{i}" for i in range(n)], "created_at": created, "resolved_at": resolved,
                       "status": np.where(resolved.notna(), "closed", "open"),
                       "community_id": rng.choice(["A", "B", "C", "D"], n)})
    cutoff = pd.Timestamp("2021-09-01", tz="Asia/Shanghai")
    log = load_requests(df, cutoff=cutoff)
    res = request_indicators(log, by=["community_id"], period="year", sla_hours=SLA)
    keep = (pd.Series(created) <= cutoff).to_numpy()
    groups = _raw_groups(df, pd.Series(created), resolved, keep, cutoff, "community_id")
    assert _compare(res.table, "community_id", groups) == 4
