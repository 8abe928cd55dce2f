"""Request indicators: definitions by hand, censoring, flags, working time, engines, CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from evaluation.cli import main
from evaluation.requests import (
    Engine,
    QualityPolicy,
    RequestSettings,
    life_table,
    load_requests,
    quality_summary,
    request_indicators,
)
from evaluation.requests.simulate import simulate_request_log

WORKING = RequestSettings(time="working")
TZ = "Asia/Shanghai"


def _t(s):
    return pd.Timestamp(s, tz=TZ) if s else pd.NaT


def _log(rows, cutoff="2020-03-31 23:59"):
    cols = ["request_id", "community_id", "created_at", "first_response_at", "resolved_at", "status", "rating", "reopened"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("created_at", "first_response_at", "resolved_at"):
        df[c] = pd.to_datetime(pd.Series([_t(x) for x in df[c]], dtype=f"datetime64[ns, {TZ}]"))
    df["closed_at"] = df["resolved_at"]
    df["channel"] = "app"
    df["category"] = "road"
    return load_requests(df, cutoff=cutoff)


HAND = [
    # id, community, created, first response, resolved, status, rating, reopened
    ("a", "C1", "2020-03-02 09:00", "2020-03-02 09:30", "2020-03-02 19:00", "closed", "satisfied", 0),
    ("b", "C1", "2020-03-02 10:00", "2020-03-02 10:10", "2020-03-05 10:00", "closed", "basically_satisfied", 1),
    ("c", "C1", "2020-03-03 08:00", None, None, "open", None, 0),
    ("d", "C1", "2020-03-04 08:00", "2020-03-04 09:00", "2020-03-04 08:00", "closed", "dissatisfied", 0),
    ("e", "C1", "2020-03-05 08:00", "2020-03-05 08:05", "2020-03-06 08:00", "closed", "not_reached", 0),
    ("f", "C2", "2020-03-05 08:00", None, "2020-03-04 08:00", "closed", None, 0),
    ("f", "C2", "2020-03-06 08:00", None, None, "open", None, 0),
]


def _value(table, indicator, unit, **kw):
    t = table[(table["indicator"] == indicator) & (table["unit_id"] == unit)]
    for k, v in kw.items():
        t = t[t[k] == v]
    assert len(t) == 1, (indicator, unit, kw)
    return t.iloc[0]


def test_rates_by_hand():
    log = _log(HAND)
    t = request_indicators(log, by=["community_id"], period="month", sla_hours=[24]).table
    assert _value(t, "svc.requests", "C1")["value"] == 5
    assert _value(t, "svc.response_rate", "C1")["value"] == pytest.approx(4 / 5)
    assert _value(t, "svc.resolution_rate", "C1")["value"] == pytest.approx(4 / 5)
    # rated = satisfied + basically + dissatisfied = 3 ("not_reached" excluded)
    sat = _value(t, "svc.satisfaction_rate", "C1")
    assert sat["value"] == pytest.approx((1 + 0.9) / 3) and sat["denominator"] == 3
    score = _value(t, "svc.three_rate_score", "C1")["value"]
    assert score == pytest.approx(0.1 * 0.8 + 0.5 * 0.8 + 0.4 * 1.9 / 3)
    assert _value(t, "svc.reopen_rate", "C1")["value"] == pytest.approx(1 / 5)
    # backlog at the end of March: c is still open
    assert _value(t, "svc.backlog", "C1")["value"] == 1


def test_censoring_by_hand_and_closed_only_bias():
    """C1 resolution hours: a 10, b 72, d 0, e 24 (events); c open, censored at the cut-off
    (28 days 15 h 59 min). KM: S drops at 0 (4/5), 10 (3/5), 24 (2/5): median 24 h.
    Closed only (lower median of 0, 10, 24, 72) is 10 h: biased downwards."""
    log = _log(HAND)
    t = request_indicators(log, by=["community_id"], period="month", sla_hours=[24]).table
    assert _value(t, "svc.median_resolution_hours", "C1")["value"] == pytest.approx(24)
    assert _value(t, "svc.median_resolution_hours_closed_only", "C1")["value"] == pytest.approx(10)
    within = _value(t, "svc.resolved_within_sla", "C1", sla_hours=24.0)
    assert within["value"] == pytest.approx(3 / 5)


def test_quality_flags_never_drop_and_policy_is_configurable():
    log = _log(HAND)
    assert len(log) == len(HAND)
    q = quality_summary(log).set_index("flag")["requests"]
    assert q["duplicate_id"] == 1 and q["close_before_create"] == 1 and q["zero_duration"] == 1
    t = request_indicators(log, by=["community_id"], period="month").table
    # default: the later copy of "f" is excluded; the first, closed before creation, stays in the
    # volume but not in Kaplan-Meier
    assert _value(t, "svc.requests", "C2")["value"] == 1
    assert _value(t, "svc.median_resolution_hours", "C2")["n"] == 0
    keep_all = QualityPolicy().with_actions(duplicate_id="keep", zero_duration="exclude_durations")
    t2 = request_indicators(log, by=["community_id"], period="month", settings=RequestSettings(policy=keep_all)).table
    assert _value(t2, "svc.requests", "C2")["value"] == 2
    assert _value(t2, "svc.median_resolution_hours", "C1")["n"] == 4  # d (zero duration) left out
    with pytest.raises(ValueError, match="unknown quality flag"):
        QualityPolicy().with_actions(nonsense="keep")


def test_working_time_chinese_calendar():
    """2020-09-25 is a Friday, 09-27 a Sunday make-up workday, 10-01..10-08 the National Day
    holiday, 10-10 a Saturday make-up workday (State Council notice, python-holidays).
    a: Fri 18:00 -> Mon 28 Sep 09:00 = Fri 6 h + Sun 27 (workday) 24 h + Mon 9 h = 39 h.
    b: Wed 30 Sep 12:00 -> Fri 9 Oct 12:00 = 12 h + 9 Oct 12 h = 24 h (1-8 Oct holidays)."""
    rows = [
        ("a", "C1", "2020-09-25 18:00", None, "2020-09-28 09:00", "closed", None, 0),
        ("b", "C2", "2020-09-30 12:00", None, "2020-10-09 12:00", "closed", None, 0),
    ]
    log = _log(rows, cutoff="2020-10-31 23:59")
    t = request_indicators(log, by=["community_id"], period="year", sla_hours=[], settings=WORKING).table
    assert _value(t, "svc.median_resolution_hours", "C1")["value"] == pytest.approx(39)
    assert _value(t, "svc.median_resolution_hours", "C2")["value"] == pytest.approx(24)
    cal = request_indicators(log, by=["community_id"], period="year", sla_hours=[]).table
    assert _value(cal, "svc.median_resolution_hours", "C2")["value"] == pytest.approx(9 * 24)


@pytest.fixture(scope="module")
def sim_log():
    df = simulate_request_log(8_000, n_communities=4, seed=7)
    return load_requests(df, cutoff="2020-12-31 23:59")


def test_medians_and_cis_agree_with_statsmodels_per_group(sim_log):
    """Each community x quarter median and its log CI equal SurvfuncRight on the minute-binned
    durations (bins are what the estimate is exact for)."""
    res = request_indicators(sim_log, by=["community_id"], period="quarter")
    t = res.table[res.table["indicator"] == "svc.median_resolution_hours"]
    d = sim_log.data
    cut = sim_log.cutoff
    end = d["resolved_at"].where(d["resolved_at"].notna(), cut)
    minutes = np.floor((end - d["created_at"]).dt.total_seconds() / 60)
    quarter = d["created_at"].dt.tz_localize(None).dt.to_period("Q").astype(str).str.replace("Q", "Q")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for (comm, q), idx in d.groupby([d["community_id"].astype(str), quarter]).groups.items():
            sf = SurvfuncRight(minutes[idx].to_numpy(), d.loc[idx, "resolved_at"].notna().astype(int).to_numpy())
            row = t[(t["unit_id"] == comm) & (t["period"] == q)].iloc[0]
            lb, ub = sf.quantile_ci(0.5, method="log")
            assert row["value"] * 60 == pytest.approx(sf.quantile(0.5), abs=1e-9)
            assert row["ci_low"] * 60 == pytest.approx(lb, abs=1e-9)
            assert row["ci_high"] * 60 == pytest.approx(ub, abs=1e-9)


def test_pandas_chunks_and_dask_give_identical_tables(sim_log):
    a = request_indicators(sim_log, by=["community_id", "category"], period="quarter", settings=WORKING)
    b = request_indicators(sim_log, by=["community_id", "category"], period="quarter", settings=WORKING,
                           engine=Engine(chunk_rows=3_001))
    c = request_indicators(sim_log, by=["community_id", "category"], period="quarter", settings=WORKING,
                           engine=Engine("dask", npartitions=3, progress=False))
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.table, c.table)


def test_threads_give_identical_tables(sim_log, monkeypatch):
    """The row pass and Kaplan-Meier split the work between threads on large logs; on this small
    one, forced to split, every table must be identical to the one-thread run."""
    import evaluation.requests.grouped as requests_module
    import evaluation.survival.estimation as survival_module

    kw = dict(by=["community_id", "category"], period="month", settings=WORKING)
    monkeypatch.setattr(requests_module.os, "cpu_count", lambda: 1)
    one = request_indicators(sim_log, **kw)
    monkeypatch.setattr(requests_module.os, "cpu_count", lambda: 3)
    monkeypatch.setattr(requests_module, "ROWS_PER_THREAD", 1_000)
    monkeypatch.setattr(survival_module, "PARALLEL_ROWS", 100)
    many = request_indicators(sim_log, **kw)
    pd.testing.assert_frame_equal(many.table, one.table)
    pd.testing.assert_frame_equal(many.life, one.life)
    pd.testing.assert_frame_equal(many.quality, one.quality)


def test_dask_from_partitioned_parquet_matches_pandas(tmp_path):
    parts = [simulate_request_log(3_000, n_communities=4, seed=s, id_offset=10_000 * s) for s in range(3)]
    folder = tmp_path / "requests"
    folder.mkdir()
    for i, p in enumerate(parts):
        p.to_parquet(folder / f"part-{i}.parquet")
    whole = load_requests(pd.concat(parts, ignore_index=True), cutoff="2020-12-31 23:59")
    lazy = load_requests(folder, engine="dask", cutoff="2020-12-31 23:59")
    a = request_indicators(whole, by=["community_id"], period="quarter")
    b = request_indicators(lazy, by=["community_id"], period="quarter", engine=Engine("dask", progress=False))
    pd.testing.assert_frame_equal(a.table, b.table)


def test_life_table_counts_every_request_once(sim_log):
    lt = life_table(sim_log, by=["community_id"], period="year")
    assert int(lt["events"].sum() + lt["censored"].sum()) == len(sim_log)
    assert int(lt["events"].sum()) == int(sim_log.data["resolved_at"].notna().sum())


def test_per_1000_uses_unit_population(tmp_path):
    df = simulate_request_log(2_000, n_communities=2, seed=1)
    df.to_parquet(tmp_path / "requests.parquet")
    units = pd.DataFrame({"unit_id": ["D", "S1", "C000", "C001"], "unit_type": ["district", "street", "community", "community"],
                          "parent_id": [None, "D", "S1", "S1"], "name_zh": ["区", "街", "甲", "乙"], "population": [None, None, 5000, 3000]})
    units.to_csv(tmp_path / "units.csv", index=False)
    (tmp_path / "datapackage.json").write_text(json.dumps({"cutoff": "2020-12-31T23:59:00+08:00", "resources": [
        {"name": "requests", "path": "requests.parquet"}, {"name": "units", "path": "units.csv"}]}))
    log = load_requests(tmp_path)
    assert log.cutoff_source == "declared by the dataset"
    t = request_indicators(log, by=["community_id"], period="year").table
    n0 = _value(t, "svc.requests", "C000")["value"]
    assert _value(t, "svc.requests_per_1000", "C000")["value"] == pytest.approx(n0 / 5000 * 1000)


def test_cli_writes_the_table_and_reports_errors(reference_dir, tmp_path, capsys):
    out = tmp_path / "boston.xlsx"
    code = main(["requests", str(reference_dir / "requests" / "boston311-100.csv"), "--format", "boston311",
                 "--by", "department", "--period", "month", "--sla-hours", "24", "72", "--out", str(out)])
    assert code == 0 and out.exists()
    t = pd.read_excel(out)
    assert t.loc[t["indicator"] == "svc.requests", "value"].sum() == 100
    code = main(["requests", str(reference_dir / "requests" / "boston311-100.csv"), "--format", "boston311",
                 "--by", "nope", "--out", str(tmp_path / "x.csv")])
    assert code == 1 and "no column 'nope'" in capsys.readouterr().err


def test_cli_dask_engine_on_an_export_matches_pandas(reference_dir, tmp_path):
    src = str(reference_dir / "requests" / "nyc311_2011_sample.csv")
    outs = []
    for engine in ("pandas", "dask"):
        out = tmp_path / f"nyc-{engine}.csv"
        assert main(["requests", src, "--format", "nyc311", "--by", "Agency", "--period", "quarter", "--engine", engine, "--out", str(out)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_result_object_is_notebook_friendly(sim_log):
    import matplotlib

    matplotlib.use("Agg")
    res = request_indicators(sim_log, by=["community_id"], period="quarter")
    assert "Kaplan-Meier" in res.summary() and "<table" in res._repr_html_()
    ax = res.plot(groups=3)
    assert len(ax.get_lines()) == 3
    assert {"community_id", "period", "bin", "hours", "events", "censored"} <= set(res.life.columns)


@pytest.fixture(scope="module")
def cli_log_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "requests.parquet"
    simulate_request_log(600, n_communities=3, seed=7, end="2020-06-30 23:59").to_parquet(path)
    return path


@pytest.mark.parametrize("cli_args,api_kw,load_kw", [
    ([], {}, {}),  # defaults agree: --period month as request_indicators(period="month")
    (["--time", "working"], {"time": "working"}, {}),
    (["--ci-method", "loglog"], {"ci_method": "loglog"}, {}),
    (["--response-sla-hours", "2"], {"response_sla_hours": 2.0}, {}),
    (["--cutoff", "2020-05-31T23:59"], {}, {"cutoff": "2020-05-31 23:59"}),
])
def test_cli_options_give_the_api_table(cli_log_file, tmp_path, cli_args, api_kw, load_kw):
    """Each new option of `evaluation requests` gives byte for byte the table of the Python call
    with the matching argument, and (except the defaults) a table different from the defaults'."""
    from evaluation.io import write_table

    out = tmp_path / "cli.csv"
    assert main(["requests", str(cli_log_file), "--by", "community_id", "--out", str(out)] + cli_args) == 0
    log = load_requests(cli_log_file, **load_kw)
    api = request_indicators(log, by=["community_id"], settings=RequestSettings(**api_kw)).table
    write_table(api, tmp_path / "api.csv")
    assert out.read_bytes() == (tmp_path / "api.csv").read_bytes()
    assert set(api["period"]) >= {"2020-01", "2020-05"}
    if cli_args:
        default = request_indicators(load_requests(cli_log_file), by=["community_id"]).table
        assert not api[["value", "ci_low", "ci_high"]].equals(default[["value", "ci_low", "ci_high"]]) or len(api) != len(default)


def test_cli_rejects_a_bad_cutoff(cli_log_file, tmp_path, capsys):
    assert main(["requests", str(cli_log_file), "--cutoff", "end of June", "--out", str(tmp_path / "x.csv")]) == 1
    assert "--cutoff" in capsys.readouterr().err
