"""svc.* indicators in the indicator table (evaluation.requests.service_indicators) on the bundled
district: pooled counts add up through the hierarchy and the Kaplan-Meier figures are those of
request_indicators run directly with the street as the group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.indicators import collect_indicators
from evaluation.requests import load_requests, request_indicators, service_indicators

COUNT_INDICATORS = ("svc.requests", "svc.response_rate", "svc.resolution_rate", "svc.satisfaction_rate",
                    "svc.reopen_rate", "svc.backlog", "svc.requests_per_1000")


@pytest.fixture(scope="module")
def ds(bundled_dir):
    if not (bundled_dir / "datapackage.json").exists():
        pytest.skip("data/zhangwan-synthetic/ not generated yet")
    from evaluation.dataset import load_dataset

    return load_dataset(bundled_dir)


@pytest.fixture(scope="module")
def tables(ds):
    return {lvl: service_indicators(ds, 2020, lvl).table for lvl in ("district", "street", "community")}


def test_district_counts_are_the_sums_over_streets_and_communities(ds, tables):
    """Numerators and denominators of every count-based svc indicator at district level equal the
    sums over streets (and over communities): exact, they are integer counts (population too),
    except the satisfaction numerator (satisfied + 0.9 x basically satisfied) to 1e-12 relative."""
    dist = tables["district"].set_index("indicator")
    units = ds["units"]
    assert set(tables["street"]["unit_id"]) == set(units.loc[units["unit_type"].isin(["street", "township"]), "unit_id"])
    assert set(tables["community"]["unit_id"]) == set(units.loc[units["unit_type"].isin(["community", "village"]), "unit_id"])
    for lvl in ("street", "community"):
        t = tables[lvl]
        for ind in COUNT_INDICATORS:
            part = t[t["indicator"] == ind]
            for col in ("numerator", "denominator"):
                want = dist.loc[ind, col]
                got = part[col].sum(min_count=1)
                if np.isnan(want):
                    assert np.isnan(got), (lvl, ind, col)
                elif ind == "svc.satisfaction_rate" and col == "numerator":  # 0.9 x basically satisfied: a float sum
                    assert got == pytest.approx(want, rel=1e-12), (lvl, ind, col)
                else:
                    assert got == want, (lvl, ind, col, got, want)
    # the district population is that of units.csv, the requests those created in 2020
    assert dist.loc["svc.requests_per_1000", "denominator"] == units.loc[units["unit_type"] == "district", "population"].iloc[0]
    created = ds["requests"]["created_at"].dt.year.eq(2020).sum()
    assert dist.loc["svc.requests", "value"] == created
    assert (tables["district"]["level"] == "district").all() and (tables["district"]["period"] == "2020").all()


def test_street_medians_match_request_indicators_by_street(ds, tables):
    """The Kaplan-Meier median, quartiles and SLA share of each street are identical to a direct
    request_indicators run grouped by street for 2020 (an independent street column built here
    from units.parent_id)."""
    req = ds["requests"]
    parent = ds["units"].set_index("unit_id")["parent_id"]
    log = load_requests(req.assign(street=req["community_id"].map(parent)), cutoff=ds.cutoff)
    direct = request_indicators(log, by=["street"], period="year", sla_hours=[72.0]).table
    direct = direct[direct["period"] == "2020"]
    ours = tables["street"]
    for ind in ("svc.median_resolution_hours", "svc.resolution_hours_p25", "svc.resolution_hours_p75",
                "svc.resolved_within_sla", "svc.requests", "svc.backlog"):
        a = ours[ours["indicator"] == ind].set_index("unit_id")[["value", "ci_low", "ci_high", "n"]]
        b = direct[direct["indicator"] == ind].set_index("unit_id")[["value", "ci_low", "ci_high", "n"]]
        a = a.loc[b.index]
        assert len(b) == 4
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=ind)


def test_collect_indicators_stacks_the_service_rows(ds):
    t = collect_indicators(ds, 2020, "street", providers={"service": service_indicators}).table
    svc = t[t["indicator"].str.startswith("svc.")]
    assert svc["unit_id"].nunique() == 8
    # one row per indicator, unit and period: the tidy table stays pivotable
    assert not svc.duplicated(["indicator", "unit_id", "period"]).any()
    zero = svc[(svc["indicator"] == "svc.requests") & (svc["value"] == 0)]
    assert set(zero["flags"]) == {"no_requests"}


def test_no_requests_in_the_year_gives_no_provider_rows(ds):
    assert service_indicators(ds, 1999, "district") is None
