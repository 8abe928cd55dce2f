"""Request logs as they come: a year-end cut-off, messy Open311 and Socrata JSON, zone-less stamps,
personal identifiers in a single file, another city's mapping, and partitioned logs that share ids.

Every fixture is written here, by hand, so that each expected number can be read off the rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from evaluation.cli import main
from evaluation.errors import DataError, OptionError, PersonalDataError
from evaluation.requests import Engine, load_requests, request_indicators
from evaluation.requests.readers import _typed_columns
from evaluation.requests.simulate import simulate_request_log

TZ = "Asia/Shanghai"


# --------------------------------------------------------------------------- a year-end cut-off


def _december_log(n: int = 400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2021-12-01", tz=TZ) + pd.to_timedelta(rng.integers(0, 31 * 86_400, n), unit="s")
    resolved = created + pd.to_timedelta(rng.integers(600, 20 * 86_400, n), unit="s")
    return pd.DataFrame({"request_id": [f"D{i}" for i in range(n)], "created_at": created, "resolved_at": resolved,
                         "first_response_at": created + pd.Timedelta(minutes=30), "status": "closed",
                         "community_id": rng.choice(["C1", "C2"], n), "rating": "satisfied"})


def test_a_year_end_cutoff_censors_what_happened_after_it_and_drops_nothing():
    """Stamps after 31 December are not yet happened at a 31 December cut-off: the same table as a log
    whose later stamps were blanked by hand (and whose status was set back to open)."""
    full = _december_log()
    cutoff = "2021-12-31 23:59:59"
    blanked = full.copy()
    late = blanked["resolved_at"] > pd.Timestamp(cutoff, tz=TZ)
    assert 0.2 < late.mean() < 0.8  # the test needs both kinds
    blanked.loc[late, "resolved_at"] = pd.NaT
    blanked.loc[late, "status"] = "open"
    a = request_indicators(load_requests(full, cutoff=cutoff), by=["community_id"], period="month").table
    b = request_indicators(load_requests(blanked, cutoff=cutoff), by=["community_id"], period="month").table
    cols = ["indicator", "unit_id", "period", "value", "ci_low", "ci_high", "numerator", "denominator", "n"]
    a_, b_ = a[cols].reset_index(drop=True), b[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a_, b_)
    n = a[a["indicator"].eq("svc.requests")]["value"].sum()
    assert n == len(full)  # no request dropped
    rate = a[a["indicator"].eq("svc.resolution_rate") & a["unit_id"].eq("C1")]["value"].iloc[0]
    c1 = full[full["community_id"].eq("C1")]
    assert rate == pytest.approx((~late[c1.index]).mean())


# --------------------------------------------------------------------------- messy JSON


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_open311_with_repeated_keys_null_strings_and_truncated_stamps(tmp_path):
    """Three closed requests whose ``updated_datetime`` is repeated inside the record: once with the same
    value twice, once with a value and a literal "null", once with two different values; one open
    request with a truncated stamp; "null" and "N/A" as values. Never last-wins."""
    text = """[
 {"service_request_id": "1", "requested_datetime": "2012-05-01T10:00:00-04:00", "status": "closed",
  "updated_datetime": "2012-05-01T12:00:00-04:00", "updated_datetime": "2012-05-01T12:00:00-04:00",
  "service_name": "Pothole"},
 {"service_request_id": "2", "requested_datetime": "2012-05-02T10:00:00-04:00", "status": "closed",
  "updated_datetime": "2012-05-02T14:00:00-04:00", "updated_datetime": "null", "service_name": "Pothole"},
 {"service_request_id": "3", "requested_datetime": "2012-05-03T10:00:00-04:00", "status": "closed",
  "updated_datetime": "2012-05-03T11:00:00-04:00", "updated_datetime": "2012-05-04T11:00:00-04:00",
  "service_name": "N/A"},
 {"service_request_id": "4", "requested_datetime": "2012-05-0", "status": "open", "updated_datetime": null,
  "service_name": "null"},
 {"service_request_id": "5", "requested_datetime": "2012-05-05T09:00:00-04:00", "status": "closed",
  "updated_datetime": "2012-05-05T10:30:00-04:00", "service_name": "Graffiti"}
]"""
    path = _write(tmp_path / "dump.json", text)
    log = load_requests(path, format="open311")
    d = log.data.set_index("request_id")
    flags = log.flags().set_axis(log.data["request_id"])
    assert "duplicate_key" in flags["1"] and "duplicate_key" in flags["2"]
    assert "conflicting_key" in flags["3"] and pd.isna(d.loc["3", "resolved_at"])
    assert d.loc["2", "resolved_at"] == pd.Timestamp("2012-05-02T14:00:00-04:00")  # the one value, not "null"
    assert "unparseable_time" in flags["4"] or "truncated_time" in flags["4"]
    assert pd.isna(d.loc["4", "category"]) and pd.isna(d.loc["3", "category"])  # "null", "N/A": missing
    assert any("updated_datetime repeated" in n for n in log.notes)
    res = request_indicators(log, period="year", sla_hours=(24,))
    t = res.table
    assert t[t["indicator"].eq("svc.resolution_rate")]["numerator"].iloc[0] == 3  # 1, 2 and 5


def test_a_dump_that_leaves_no_resolution_fails_in_one_sentence(tmp_path):
    records = [{"service_request_id": str(i), "requested_datetime": f"2012-05-0{i}T10:00:00-04:00",
                "status": "closed", "updated_datetime": f"2012-05-0{i}T11:00:00-04:00"} for i in range(1, 5)]
    text = json.dumps(records).replace('"updated_datetime": ', '"updated_datetime": "2012-06-01T00:00:00-04:00", '
                                                             '"updated_datetime": ')
    path = _write(tmp_path / "bad.json", text)
    with pytest.raises(DataError, match="none has a resolution time"):
        request_indicators(load_requests(path, format="open311"))
    out = tmp_path / "x.csv"
    code = main(["requests", str(path), "--format", "open311", "--out", str(out)])
    assert code == 1 and not out.exists()


def test_zone_less_open311_stamps_need_a_timezone_and_say_which_was_used(tmp_path):
    text = json.dumps([{"service_request_id": "1", "requested_datetime": "2012-05-01T10:00:00", "status": "open"},
                       {"service_request_id": "2", "requested_datetime": "2012-05-02T10:00:00", "status": "closed",
                        "updated_datetime": "2012-05-02T12:00:00"}])
    path = _write(tmp_path / "naive.json", text)
    with pytest.raises(OptionError, match="--timezone"):
        load_requests(path, format="open311")
    log = load_requests(path, format="open311", timezone="America/Indiana/Indianapolis")
    assert any("America/Indiana/Indianapolis" in n for n in log.notes)
    assert log.data["created_at"].iloc[0] == pd.Timestamp("2012-05-01T10:00:00-04:00")


def test_socrata_json_of_nyc_open_data(tmp_path):
    """The NYC Open Data API's JSON: snake_case fields, ISO stamps, closed_date absent while open."""
    records = [
        {"unique_key": "1", "created_date": "2011-03-01T10:00:00.000", "closed_date": "2011-03-01T12:30:00.000",
         "agency": "DOT", "complaint_type": "Street Condition", "status": "Closed"},
        {"unique_key": "2", "created_date": "2011-03-02T09:00:00.000", "agency": "DOT",
         "complaint_type": "Street Condition", "status": "Open"},
        {"unique_key": "3", "created_date": "2011-03-03T08:00:00.000", "closed_date": "2011-03-03T09:00:00.000",
         "agency": "NYPD", "complaint_type": "Noise", "status": "Closed"},
    ]
    path = _write(tmp_path / "socrata.json", json.dumps(records))
    log = load_requests(path, format="nyc311")
    assert log.data["created_at"].iloc[0] == pd.Timestamp("2011-03-01 10:00", tz="America/New_York")
    t = request_indicators(log, by=["Agency"], period="year", sla_hours=(24,)).table
    dot = t[t["unit_id"].eq("DOT")].set_index("indicator")
    assert dot.loc["svc.requests", "value"] == 2 and dot.loc["svc.resolution_rate", "value"] == 0.5


# --------------------------------------------------------------------------- personal data in single files


def test_an_identifier_column_in_a_single_file_is_refused_and_never_grouped_by(tmp_path):
    df = simulate_request_log(300, n_communities=3, seed=1)
    df["联系电话"] = [f"138{i:08d}" for i in range(len(df))]
    csv = tmp_path / "log.csv"
    df.to_csv(csv, index=False)
    parquet = tmp_path / "log.parquet"
    df.to_parquet(parquet)
    for path in (csv, parquet):
        with pytest.raises(PersonalDataError, match="联系电话"):
            load_requests(path)
    salt = tmp_path / "salt.txt"
    salt.write_text("a secret of the office", encoding="utf-8")
    out = tmp_path / "x.csv"
    assert main(["requests", str(csv), "--out", str(out)]) == 1  # refused, one sentence
    assert main(["requests", str(csv), "--pii", "hash", "--salt-file", str(salt), "--by", "community_id",
                 "--out", str(out)]) == 0
    assert "138" not in out.read_text(encoding="utf-8")
    # grouping by a phone-number column is refused even when it is hashed: its values would be unit ids
    assert main(["requests", str(csv), "--pii", "hash", "--salt-file", str(salt), "--by", "联系电话",
                 "--out", str(tmp_path / "y.csv")]) == 1
    ids = df.assign(phone_number=df["联系电话"]).drop(columns="联系电话")
    with pytest.raises(PersonalDataError):
        request_indicators(load_requests(ids, pii="hash", salt="s"), by=["phone_number"])


# --------------------------------------------------------------------------- another city


def test_the_builtin_chicago_mapping(tmp_path):
    """A file in the layout of Chicago's 311 export, read through the mapping that ships with the package."""
    rows = [
        ("SR21-00000001", "Pothole in Street", "Open", "Phone Call", "12/01/2021 08:00:00 AM", "", "CDOT"),
        ("SR21-00000002", "Pothole in Street", "Completed", "Internet", "12/01/2021 09:00:00 AM",
         "12/02/2021 09:00:00 AM", "CDOT"),
        ("SR21-00000003", "Graffiti Removal", "Completed", "Mobile Device", "12/02/2021 10:15:30 AM",
         "12/02/2021 04:15:30 PM", "Streets and Sanitation"),
        ("SR21-00000004", "Graffiti Removal", "Canceled", "Phone Call", "12/03/2021 11:00:00 AM",
         "12/03/2021 11:30:00 AM", "Streets and Sanitation"),
    ]
    df = pd.DataFrame(rows, columns=["SR_NUMBER", "SR_TYPE", "STATUS", "ORIGIN", "CREATED_DATE", "CLOSED_DATE",
                                     "OWNER_DEPARTMENT"])
    path = tmp_path / "chicago.csv"
    df.to_csv(path, index=False)
    log = load_requests(path, format="mapping", mapping="chicago311")
    assert log.timezone == "America/Chicago"
    assert log.data["created_at"].iloc[2] == pd.Timestamp("2021-12-02 10:15:30", tz="America/Chicago")
    out = tmp_path / "out.csv"
    assert main(["requests", str(path), "--format", "mapping", "--mapping", "chicago311", "--by",
                 "OWNER_DEPARTMENT", "--period", "year", "--out", str(out)]) == 0
    t = pd.read_csv(out)
    cdot = t[t["unit_id"].eq("CDOT")].set_index("indicator")
    assert cdot.loc["svc.requests", "value"] == 2 and cdot.loc["svc.resolution_rate", "value"] == 0.5


# --------------------------------------------------------------------------- partitioned logs


def test_dask_on_parts_that_share_ids_equals_pandas(tmp_path):
    """Three Parquet parts; 40 ids of part 0 appear again in part 2 and 10 twice within part 1: the Dask
    engine flags the same later copies as the pandas engine on the whole log, and the tables are equal."""
    parts = [simulate_request_log(1_500, n_communities=4, seed=s, id_offset=10_000 * s) for s in range(3)]
    parts[2].loc[:39, "request_id"] = parts[0]["request_id"].iloc[100:140].to_numpy()
    parts[1].loc[200:209, "request_id"] = parts[1]["request_id"].iloc[0:10].to_numpy()
    folder = tmp_path / "log"
    folder.mkdir()
    for i, p in enumerate(parts):
        p.to_parquet(folder / f"part-{i}.parquet")
    cutoff = "2020-12-31 23:59"
    whole = load_requests(pd.concat(parts, ignore_index=True), cutoff=cutoff)
    lazy = load_requests(folder, engine="dask", cutoff=cutoff)
    assert int(((whole.data["quality_flags"] & 16) != 0).sum()) == 50
    a = request_indicators(whole, by=["community_id"], period="quarter").table
    b = request_indicators(lazy, by=["community_id"], period="quarter", engine=Engine("dask", progress=False)).table
    pd.testing.assert_frame_equal(a, b)
    by_glob = load_requests(str(folder / "part-*.parquet"), engine="dask", cutoff=cutoff)
    c = request_indicators(by_glob, by=["community_id"], period="quarter", engine=Engine("dask", progress=False)).table
    pd.testing.assert_frame_equal(a, c)


# --------------------------------------------------------------------------- CSV typed as it is read


def _as_text(df: pd.DataFrame, fmt: str) -> pd.DataFrame:
    out = df.copy()
    for c in ("created_at", "first_response_at", "resolved_at", "closed_at"):
        if c in out.columns:
            out[c] = out[c].dt.strftime(fmt).where(out[c].notna())
    return out


def test_csv_stamps_parsed_while_reading_give_the_table_of_the_cell_by_cell_path(tmp_path):
    """A clean CSV has its stamps and reopen counts parsed by Arrow as the file is read; one bad cell
    late in the file sends the whole read down the text path, where every cell is checked. Both give
    the Parquet file's table, and the bad cell is flagged, not dropped."""
    df = simulate_request_log(3000, n_communities=4, seed=11)
    parquet = tmp_path / "log.parquet"
    df.to_parquet(parquet)
    clean, messy = tmp_path / "clean.csv", tmp_path / "messy.csv"
    text = _as_text(df, "%Y-%m-%dT%H:%M:%S%z")
    text.to_csv(clean, index=False)
    bad = text.copy()
    bad.loc[len(bad) - 1, "resolved_at"] = "2020-13-45 99:00"  # far past the first block
    bad.to_csv(messy, index=False)

    def table(path):
        return request_indicators(load_requests(path), by=["community_id"], period="month").table

    ref = table(parquet)
    typed = _typed_columns(clean, pacsv.ReadOptions(), list(text.columns))
    assert typed["created_at"] == pa.timestamp("ns", tz="UTC") and typed["reopened"] == pa.int64()
    pd.testing.assert_frame_equal(table(clean), ref)
    assert load_requests(clean).data["created_at"].dtype == load_requests(parquet).data["created_at"].dtype
    log = load_requests(messy)
    assert int((log.data["quality_flags"] & 2).astype(bool).sum()) == 1  # unparseable_time, the one cell
    assert len(log) == len(df)


def test_zone_less_csv_stamps_are_placed_alike_on_both_paths(tmp_path):
    """Wall-clock stamps (no offset) read as times by Arrow and those read cell by cell are placed in the
    zone by the same rule, the ambiguous autumn hour included."""
    rows = pd.DataFrame({
        "request_id": ["A", "B", "C"],
        "created_at": ["2020-11-01 01:30:00", "2020-11-01 00:10:00", "2020-03-08 02:30:00"],
        "resolved_at": ["2020-11-01 03:00:00", "", "2020-03-08 05:00:00"],
        "status": ["closed", "open", "closed"],
    })
    fast, slow = tmp_path / "fast.csv", tmp_path / "slow.csv"
    rows.to_csv(fast, index=False)
    slow_rows = pd.concat([rows, pd.DataFrame({"request_id": ["D"], "created_at": ["2020-11-02"],
                                               "resolved_at": ["not a time"], "status": ["closed"]})])
    slow_rows.to_csv(slow, index=False)
    assert _typed_columns(fast, pacsv.ReadOptions(), list(rows.columns))["created_at"] == pa.timestamp("ns")
    a = load_requests(fast, timezone="America/New_York").data
    b = load_requests(slow, timezone="America/New_York").data
    assert str(a["created_at"].dtype) == "datetime64[ns, America/New_York]"
    for col in ("created_at", "resolved_at"):
        pd.testing.assert_series_equal(a[col].iloc[:3].reset_index(drop=True), b[col].iloc[:3].reset_index(drop=True))
    # the ambiguous 01:30 is read as standard time (EST, -05:00), the missing 02:30 moved forward
    assert a["created_at"].iloc[0].utcoffset() == pd.Timedelta(hours=-5)
    assert a["created_at"].iloc[2] == pd.Timestamp("2020-03-08 03:00", tz="America/New_York")


# --------------------------------------------------------------------------- values outside the data model


def test_a_rating_outside_the_data_model_stops_the_command_naming_file_rows(tmp_path, capsys):
    """还行 is neither a rating of the data model nor missing: taking it as unrated would lose it.
    Every unknown value of every enumerated column is named at once, with its first file row; the
    Chinese aliases (满意, 已办结) are mapped as before; the input file is not touched."""
    log = _december_log(40)
    log["created_at"] = log["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    log = log.drop(columns=["resolved_at", "first_response_at"])
    log["rating"] = "满意"
    log.loc[3, "rating"] = "还行"
    log.loc[7, "rating"] = "还行"
    log.loc[11, "status"] = "已办结"
    log.loc[12, "status"] = "搁置"
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False, encoding="gb18030")
    before = path.read_bytes()
    with pytest.raises(DataError) as err:
        load_requests(path)
    text = str(err.value)
    assert "rating '还行' (2 rows, first at file row 5)" in text
    assert "status '搁置' (1 row, first at file row 14)" in text
    assert "已办结" not in text and "满意" not in text
    code = main(["requests", str(path), "--out", str(tmp_path / "out.csv")])
    assert code == 1 and "还行" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists() and path.read_bytes() == before
    log.loc[[3, 7], "rating"] = "基本满意"
    log.loc[12, "status"] = "办理中"
    log.to_csv(path, index=False, encoding="gb18030")
    got = load_requests(path)
    assert int((got.data["rating"] == "basically_satisfied").sum()) == 2


def test_a_missing_file_is_a_user_error_not_an_internal_one(tmp_path, capsys):
    code = main(["requests", str(tmp_path / "nolog.csv"), "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "nolog.csv: no such file or folder" in err and "internal error" not in err


def test_dask_parts_refuse_a_value_outside_the_data_model_as_pandas_does(tmp_path):
    """One answer from both engines: a rating 还行 in a Parquet part stops the Dask path too, naming the part."""
    log = _december_log(60)
    log["rating"] = "satisfied"
    a, b = log.iloc[:30].copy(), log.iloc[30:].copy()
    b.loc[b.index[4], "rating"] = "还行"
    (tmp_path / "parts").mkdir()
    a.to_parquet(tmp_path / "parts" / "a.parquet", index=False)
    b.to_parquet(tmp_path / "parts" / "b.parquet", index=False)
    log_dask = load_requests(tmp_path / "parts", engine="dask")
    with pytest.raises(DataError, match=r"b\.parquet.*rating '还行' \(1 row, first at data row 5\)"):
        request_indicators(log_dask, engine=Engine("dask"))
    with pytest.raises(DataError, match=r"rating '还行' \(1 row"):
        load_requests(tmp_path / "parts" / "b.parquet")
