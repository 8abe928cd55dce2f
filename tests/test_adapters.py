"""Adapters on the real exports in reference/requests/: counts match what the files hold."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from evaluation.requests import load_requests, quality_summary, request_indicators


@pytest.fixture(scope="module")
def req_dir(reference_dir):
    return reference_dir / "requests"


@pytest.fixture(scope="module")
def boston(req_dir):
    return load_requests(req_dir / "boston311-100.csv", format="boston311")


@pytest.fixture(scope="module")
def nyc(req_dir):
    return load_requests(req_dir / "nyc311_2011_sample.csv", format="nyc311")


def _flag_count(log, name):
    q = quality_summary(log).set_index("flag")
    return int(q.loc[name, "requests"])


def test_boston_counts_match_published_qsv_statistics(req_dir, boston):
    """boston311-100.freqs.csv / -stats.csv (qsv): case_status Closed 85 / Open 15, closed_dt null
    15, ontime ONTIME 83 / OVERDUE 17, open_dt from 2022-01-01 00:16 to 2022-01-31 11:46."""
    log = boston
    d = log.data
    assert len(d) == 100
    assert d["status"].value_counts().to_dict() == {"closed": 85, "open": 15}
    assert int(d["resolved_at"].isna().sum()) == 15
    assert d["ontime"].value_counts().to_dict() == {"ONTIME": 83, "OVERDUE": 17}  # source column kept
    local = d["created_at"].dt.tz_localize(None)
    assert str(local.min()) == "2022-01-01 00:16:00" and str(local.max()) == "2022-01-31 11:46:00"
    assert str(d["created_at"].dt.tz) == "America/New_York"
    # no cut-off declared: the latest timestamp of any kind (closed_dt max 2022-04-25 14:30:31)
    assert str(log.cutoff.tz_localize(None)) == "2022-04-25 14:30:31"
    t = request_indicators(log, period="year").table.set_index("indicator")
    assert t.loc["svc.requests", "value"] == 100
    assert t.loc["svc.resolution_rate", "value"] == pytest.approx(0.85)
    assert t.loc["svc.backlog", "value"] == 15  # the 15 open cases at the cut-off
    assert np.isnan(t.loc["svc.response_rate", "value"])  # Boston records no first response
    assert "not_recorded" in t.loc["svc.response_rate", "flags"]


def test_boston_by_source_column_sums_to_total(req_dir, boston):
    log = boston
    t = request_indicators(log, by=["department"], period="month").table
    vol = t[t["indicator"] == "svc.requests"]
    assert vol["value"].sum() == 100
    want = pd.read_csv(req_dir / "boston311-100.csv", dtype=str)["department"].value_counts()
    got = vol.set_index("unit_id")["value"]
    assert got.sort_index().to_dict() == want.astype(float).sort_index().to_dict()


def test_nyc_defects_flagged_and_counts_match_the_file(req_dir, nyc):
    """README: 2,000 rows, about 2 % without Closed Date, one row on the 1900-01-01 default.
    The expected counts are read from the CSV with the csv module, independently of pandas."""
    with open(req_dir / "nyc311_2011_sample.csv", newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.DictReader(fh))
    n_1900 = sum(r["Closed Date"].startswith("01/01/1900") for r in rows)
    n_no_close = sum(r["Closed Date"] == "" for r in rows)
    n_status_closed = sum(r["Status"] == "Closed" for r in rows)
    log = nyc
    assert len(log) == len(rows) == 2000
    assert _flag_count(log, "default_1900") == n_1900 == 1
    assert int(log.data["resolved_at"].isna().sum()) == n_no_close + n_1900
    assert 0.01 < n_no_close / 2000 < 0.03
    assert _flag_count(log, "date_only_stamp") >= 1  # e.g. Created Date 03/02/2011 12:00:00 AM
    assert _flag_count(log, "close_on_open") >= 1  # a Pending request with a Closed Date
    assert int((log.data["status"] == "closed").sum()) == n_status_closed
    res = request_indicators(log, by=["Complaint Type"], period="quarter")
    vol = res.table[res.table["indicator"] == "svc.requests"]
    assert vol["value"].sum() == 2000
    assert set(vol["unit_id"]) == {r["Complaint Type"] for r in rows}
    # the quality summary says what was done with the placeholder
    assert any("default_1900" in n for n in res.notes)


def test_open311_status_offsets_and_zero_coordinates(req_dir):
    """README: 21 records, May 2012, offsets -04:00, 3 closed, 6 records with lat = 0."""
    raw = json.loads((req_dir / "open311_bloomington_2012.json").read_text(encoding="utf-8"))
    log = load_requests(req_dir / "open311_bloomington_2012.json", format="open311")
    assert len(log) == len(raw) == 21
    assert int((log.data["status"] == "closed").sum()) == 3
    assert _flag_count(log, "zero_coordinates") == sum(r.get("lat") == 0 for r in raw) == 6
    assert log.data["created_at"].iloc[0].utcoffset() == pd.Timedelta(hours=-4)
    # updated_datetime stands in for the close time of closed requests only
    closed = log.data["status"] == "closed"
    assert log.data.loc[closed, "resolved_at"].notna().all()
    assert log.data.loc[~closed, "resolved_at"].isna().all()


def test_mapping_reproduces_the_boston_adapter(req_dir, boston):
    mapping = {
        "columns": {"request_id": "case_enquiry_id", "created_at": "open_dt", "resolved_at": "closed_dt",
                    "status": "case_status", "category": "type"},
        "time_format": "%Y-%m-%d %H:%M:%S",
        "timezone": "America/New_York",
        "status_values": {"closed": ["Closed"], "open": ["Open"]},
    }
    a = load_requests(req_dir / "boston311-100.csv", format="mapping", mapping=mapping)
    b = boston
    for col in ("request_id", "created_at", "resolved_at", "category"):
        pd.testing.assert_series_equal(a.data[col].astype(b.data[col].dtype), b.data[col], check_names=False, check_categorical=False)
    assert (a.data["status"].astype(str) == b.data["status"].astype(str)).all()
