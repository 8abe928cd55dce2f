"""The validator: one fixture per kind of defect, each asserting the exact table/row/column.

Every fixture is ``tests/fixtures/minimal`` (a tiny dataset that validates cleanly) with one
cell changed; ``row`` is the line a user sees in the CSV (header = row 1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from argparse import Namespace
from pathlib import Path

import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.dataset import schema
from evaluation.dataset.checks import PROBLEM_COLUMNS
from evaluation.dataset.validate import validate_dataset, validate_table


def run_cli(args: Namespace) -> int:
    """``evaluation validate`` as the user runs it."""
    argv = ["validate", args.dir] + (["--table", args.table] if args.table else []) + (["--out", args.out] if args.out else [])
    return main(argv)

MINIMAL = Path(__file__).parent / "fixtures" / "minimal"


@pytest.fixture
def ds(tmp_path) -> Path:
    out = tmp_path / "ds"
    shutil.copytree(MINIMAL, out)
    return out


def set_cell(folder: Path, table: str, row: int, column: str, value: str) -> None:
    """Set the cell at file row ``row`` (header is row 1) of ``table``.csv; append a row if needed."""
    path = folder / f"{table}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    header = lines[0]
    if column not in header:
        header.append(column)
        for line in lines[1:]:
            line.append("")
    while len(lines) < row:
        lines.append(list(lines[-1]))
    lines[row - 1][header.index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(lines)


def problems_at(report, severity=None) -> set[tuple]:
    p = report.problems if severity is None else report.problems[report.problems["severity"] == severity]
    return {(t, None if pd.isna(r) else int(r), c) for t, r, c in zip(p["table"], p["row"], p["column"])}


def test_minimal_fixture_is_clean():
    report = validate_dataset(MINIMAL)
    assert list(report.problems.columns) == list(PROBLEM_COLUMNS)
    assert report.ok and report.problems.empty, report.problems.to_string()


# Each defect is one changed cell of the clean fixture: (batch, table, file row, column, new
# value, words expected in the problem, severity). Validation costs ~0.5 s per dataset, so
# defects that cannot interact share a dataset ("batch"); test_batches_report_nothing_else
# proves that each batch reports exactly its defects' cells, so no defect is found by accident.
DEFECTS = [
    ("A", "duty_roster", 3, "hours", "eight", "not a number", "error"),
    ("A", "units", 2, "population", "1.5", "not a whole number", "error"),
    ("A", "compounds", 2, "built", "2005-13-01", "not a date", "error"),
    ("A", "requests", 2, "created_at", "yesterday", "not a date-time", "error"),
    ("A", "buildings", 2, "building_head", "maybe", "true/false", "error"),
    ("A", "compounds", 3, "name_zh", "", "required value is missing", "error"),
    ("A", "requests", 4, "channel", "wechat", "not one of the allowed values", "error"),
    ("A", "requests", 4, "closed_at", "2020-07-01 10:00", "status is open but closed_at is filled", "warning"),
    ("A", "meetings", 2, "issues_resolved", "9", "more issues resolved (9) than raised (6)", "error"),
    ("A", "staffing", 2, "hired", "19", "hired (19) exceeds the quota (18)", "warning"),
    ("A", "survey", 4, "weight", "0", "weight must be greater than 0", "error"),
    ("A", "survey", 3, "q_satisfied", "very", "not a number", "error"),
    ("B", "compounds", 2, "households", "-5", "below the minimum 0", "error"),
    ("B", "duty_roster", 2, "hours", "25", "above the maximum 24", "error"),
    ("B", "requests", 5, "compound_id", "P99", "'P99' is not a compound_id in compounds", "error"),
    ("B", "compounds", 2, "community_id", "S01", "'S01' is a street in units, not a community", "error"),
    ("B", "party_orgs", 5, "parent_org_id", "O99", "'O99' is not a org_id in party_orgs", "error"),
    ("B", "requests", 2, "closed_at", "2020-02-28 10:00:00",
     "closed_at 2020-02-28 10:00 is before created_at 2020-03-01 08:15", "error"),
    ("B", "requests", 3, "first_response_at", "2020-03-05T09:00:00+08:00", "is before created_at", "error"),
    ("B", "meetings", 4, "date", "2021-02-01", "after the data cut-off", "error"),
    ("B", "compound_milestones", 2, "date", "2004-01-01", "before the compound's built date 2005-06-01", "error"),
    ("B", "party_orgs", 6, "dissolved", "2017-01-01", "is before established", "error"),
    ("C", "requests", 3, "resolved_at", "", "status is resolved but resolved_at is empty", "error"),
    # 16:00 UTC on 31 December is 00:00 on 1 January in Shanghai: after the cut-off
    ("C", "requests", 4, "created_at", "2020-12-31T16:00:00Z", "after the data cut-off", "error"),
    ("C", "compound_milestones", 5, "ended", "2018-01-01", "ended 2018-01-01 is before date 2019-01-15", "error"),
    ("C", "survey", 2, "fpc", "1", "smaller than the 2 PSUs sampled in stratum S01", "error"),
    ("C", "survey", 4, "q_trust", "7", "outside the codebook scale 1-5", "error"),
    ("C", "units", 3, "unit_type", "city", "not one of the allowed values", "error"),
    ("D", "units", 5, "unit_id", "C01", "duplicate unit_id: same as row 4", "error"),
]
# cells reported besides the defects themselves, and why
SIDE_EFFECTS = {
    "B": {("requests", 2, "closed_at")},  # also before resolved_at (warning), same cell
    "C": {("units", 3, "unit_type")},  # S01 is no longer a street: nothing else refers to its type
}


@pytest.fixture(scope="module")
def batch_reports(tmp_path_factory):
    reports = {}
    for batch in sorted({d[0] for d in DEFECTS}):
        folder = tmp_path_factory.mktemp(f"batch{batch}") / "ds"
        shutil.copytree(MINIMAL, folder)
        for _, table, row, column, value, _, _ in (d for d in DEFECTS if d[0] == batch):
            set_cell(folder, table, row, column, value)
        reports[batch] = validate_dataset(folder)
    return reports


@pytest.mark.parametrize("batch,table,row,column,value,words,severity", DEFECTS,
                         ids=[f"{d[1]}.{d[3]}={d[4]}" for d in DEFECTS])
def test_each_defect_is_reported_at_its_cell(batch_reports, batch, table, row, column, value, words, severity):
    p = batch_reports[batch].problems
    hit = p[(p["table"] == table) & (p["row"] == row) & (p["column"] == column)]
    assert len(hit) >= 1, f"no problem at {table} row {row} column {column}:\n{p.to_string()}"
    assert hit["problem"].str.contains(words, regex=False).any(), hit.to_string()
    assert severity in set(hit["severity"])
    if value:  # the report shows the cell as the user wrote it
        assert value in set(hit["value"].dropna()), hit.to_string()


@pytest.mark.parametrize("batch", ["A", "B", "C"])
def test_batches_report_nothing_else(batch_reports, batch):
    """Every problem of a batch is reported at once, and nothing beyond its defects."""
    expected = {(d[1], d[2], d[3]) for d in DEFECTS if d[0] == batch} | SIDE_EFFECTS.get(batch, set())
    assert problems_at(batch_reports[batch]) == expected


def test_duplicate_unit_breaks_the_references_to_the_lost_unit(batch_reports):
    # C02 was renamed C01 (a duplicate): rows referring to C02 are reported too
    errs = problems_at(batch_reports["D"], "error")
    assert {("compounds", 4, "community_id"), ("requests", 3, "community_id")} <= errs
    assert batch_reports["A"].ok is False and batch_reports["D"].ok is False


def test_duplicate_compound_key_names_every_key_column(ds):
    set_cell(ds, "volunteer_hours", 3, "year", "2019")
    p = validate_table(ds / "volunteer_hours.csv", "volunteer_hours").errors
    assert list(p["column"]) == ["volunteer_id+year"] and list(p["row"]) == [3]
    assert p["value"].iloc[0] == "V01 / 2019"


def test_unknown_column_is_a_warning_but_codebook_items_are_expected(ds):
    set_cell(ds, "compounds", 2, "colour", "red")
    set_cell(ds, "survey", 2, "favourite_food", "热干面")
    report = validate_dataset(ds)
    assert report.ok
    assert problems_at(report, "warning") == {("compounds", None, "colour"), ("survey", None, "favourite_food")}


def test_missing_required_column(ds):
    df = pd.read_csv(ds / "meetings.csv", dtype=str, keep_default_na=False)
    df.drop(columns="meeting_type").to_csv(ds / "meetings.csv", index=False)
    report = validate_table(ds / "meetings.csv", "meetings")
    assert ("meetings", None, "meeting_type") in problems_at(report, "error")
    assert "required column is missing" in report.errors["problem"].tolist()


def test_missing_required_table_and_missing_file(ds):
    meta = json.loads((ds / "datapackage.json").read_text(encoding="utf-8"))
    meta["resources"] = [r for r in meta["resources"] if r["name"] != "staffing"]
    (ds / "datapackage.json").write_text(json.dumps(meta), encoding="utf-8")
    (ds / "funding.csv").unlink()
    # a file the descriptor does not list is still read, with a warning
    assert validate_dataset(ds).warnings["problem"].str.contains("staffing.csv: not listed in datapackage.json").any()
    (ds / "staffing.csv").unlink()
    report = validate_dataset(ds)
    errs = report.errors
    # a table only some indicators need is not an error when absent: those indicators are not assessed
    assert "staffing" not in set(errs["table"])
    from evaluation.assess import assessability
    from evaluation.dataset import load_dataset

    a = assessability(load_dataset(ds)).set_index("indicator")
    assert a.loc["sup.worker_quota_fill", "reason"] == "table_missing" and not a.loc["sup.worker_quota_fill", "assessable"]
    # a file the descriptor names but which is not there is an error
    assert errs.loc[errs["table"] == "funding", "problem"].str.contains("funding.csv").all()
    assert errs.loc[errs["table"].isin(["funding"]), "row"].isna().all()
    assert run_cli(Namespace(dir=str(ds), table=None, out=None)) == 1  # table-level rows print too


def test_personal_identifier_column_is_an_error_naming_the_column(ds):
    set_cell(ds, "requests", 2, "联系电话", "13812345678")
    report = validate_table(ds / "requests.csv", "requests")
    assert ("requests", None, "联系电话") in problems_at(report, "error")


def test_no_cutoff_is_a_warning(ds):
    meta = json.loads((ds / "datapackage.json").read_text(encoding="utf-8"))
    del meta["cutoff"]
    (ds / "datapackage.json").write_text(json.dumps(meta), encoding="utf-8")
    report = validate_dataset(ds)
    assert report.ok and problems_at(report, "warning") == {("datapackage", None, "cutoff")}


def _sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_validate_leaves_every_input_unchanged(ds, tmp_path, capsys):
    set_cell(ds, "requests", 2, "closed_at", "2020-02-28 10:00:00")
    before = _sha(ds)
    assert run_cli(Namespace(dir=str(ds), table=None, out=str(tmp_path / "problems.csv"))) == 1
    assert _sha(ds) == before
    written = pd.read_csv(tmp_path / "problems.csv")
    assert list(written.columns) == list(PROBLEM_COLUMNS)
    assert ("requests", 2, "closed_at") in {tuple(r) for r in written[["table", "row", "column"]].itertuples(index=False)}
    assert "FAILED: 1 errors" in capsys.readouterr().out


def test_cli_exit_code_zero_with_warnings_only(ds, capsys):
    set_cell(ds, "staffing", 2, "hired", "19")
    assert run_cli(Namespace(dir=str(ds / "staffing.csv"), table=None, out=None)) == 0
    out = capsys.readouterr().out
    assert "exceeds the quota" in out and "OK: 0 errors, 1 warnings" in out


def test_cli_single_file_guesses_table_from_name(ds):
    set_cell(ds, "units", 2, "households", "-1")
    assert run_cli(Namespace(dir=str(ds / "units.csv"), table=None, out=None)) == 1
    assert run_cli(Namespace(dir=str(ds / "datapackage.json"), table=None, out=None)) == 1  # one sentence: --table


def test_validate_table_on_a_frame_uses_row_numbers_of_the_file(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("行政单位台账,,,\nunit_id,unit_type,name_zh,households\nD01,district,张湾区,10\n\nC01,village,某村,x\n",
                    encoding="utf-8")
    report = validate_table(path, "units")
    # title row 1, header row 2, data rows 3 and 5 (row 4 is blank)
    assert problems_at(report, "error") == {("units", 5, "households")}


def test_report_summary_and_html(ds):
    set_cell(ds, "requests", 4, "channel", "wechat")
    report = validate_table(ds / "requests.csv", "requests")
    assert "1 errors" in report.summary() and "channel" in report.summary()
    assert "<table" in report._repr_html_() and "wechat" in report._repr_html_()
    assert report.first_error().startswith("requests row 4 column channel")


def test_every_table_of_the_schema_has_a_fixture():
    names = {p.stem for p in MINIMAL.glob("*.csv")}
    required = {n for n, t in schema.TABLES.items() if t.required_table}
    assert required <= names


def test_bundled_district_validates_without_errors(bundled_dir):
    if not (bundled_dir / "datapackage.json").is_file():
        pytest.skip("data/zhangwan-synthetic has not been generated")
    import time

    before = _sha(bundled_dir)
    t0 = time.perf_counter()
    report = validate_dataset(bundled_dir)
    seconds = time.perf_counter() - t0
    assert report.ok, report.errors.head(20).to_string()
    assert _sha(bundled_dir) == before
    # contract: under ~10 s for ~180k requests (about 2 s on an idle machine)
    assert seconds < 15, f"validation took {seconds:.1f} s"


def test_an_empty_referenced_table_does_not_stop_validation(ds):
    """The shipped empty template of compounds once crashed the milestone check (a date cast to float)."""
    (ds / "compounds.csv").unlink()
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "templates" / "compounds.xlsx", ds / "compounds.xlsx")
    (ds / "datapackage.json").unlink()
    report = validate_dataset(ds)
    assert any(line.startswith("compounds: compounds.xlsx, XLSX, header in row 1, empty (no data rows)")
               for line in report.reading)
    fk = report.errors[report.errors["table"].eq("compound_milestones")]
    assert len(fk) and fk["problem"].str.contains("is not a compound_id in compounds").all()


def test_value_needs_mark_unrecorded_values_not_assessed(ds):
    from evaluation.assess import missing_need, reason_text, unrecorded
    from evaluation.dataset import load_dataset

    d = load_dataset(ds)
    milestones = set(d["compound_milestones"]["milestone"])
    assert "party_branch" in milestones and "branch_six_haves" not in milestones
    assert missing_need(d, "compound_milestones.milestone=party_branch") is None
    why = missing_need(d, "compound_milestones.milestone=branch_six_haves")
    assert why == ("value_not_recorded", "compound_milestones.milestone = branch_six_haves")
    assert reason_text(*why) == "no compound_milestones.milestone = branch_six_haves is recorded"
    assert unrecorded(d, ["org.compound_branch_coverage"]) == {}  # no value need: nothing to say


def test_the_report_says_how_files_were_read(ds):
    report = validate_dataset(ds)
    units = next(line for line in report.reading if line.startswith("units: "))
    assert units.startswith("units: units.csv, CSV in UTF-8, header in row 1")
    assert f"{len(pd.read_csv(ds / 'units.csv')):,} rows" in units


def test_a_cutoff_given_before_the_extraction_censors_instead_of_failing(tmp_path, capsys):
    """A reporting cut-off (--cutoff 31 December) earlier than the data's extraction (4 January): what
    happened between the two has not happened yet at the cut-off, a warning, not an error (the request
    path censors it there); a stamp after the extraction itself stays an error."""
    src = Path(__file__).resolve().parents[1] / "data" / "zhangwan-synthetic"
    cut = "2021-12-31T23:59:59+08:00"
    rep = validate_dataset(src, cutoff=cut)
    assert rep.ok
    given = rep.warnings[rep.warnings["problem"].str.contains("given with --cutoff")]
    assert set(given["column"]) >= {"resolved_at", "closed_at"} and len(given) > 100
    assert "2021-12-31 23:59 +0800" in rep.text()  # the cut-off is written out, not masked to '#'
    # the same log with one stamp after the extraction: an error whichever cut-off is given
    ds = tmp_path / "d"
    shutil.copytree(src, ds)
    meetings = pd.read_csv(ds / "meetings.csv", dtype=str)
    meetings.loc[0, "date"] = "2022-02-01"
    meetings.to_csv(ds / "meetings.csv", index=False)
    rep = validate_dataset(ds, cutoff=cut)
    errors = rep.errors
    assert len(errors) == 1 and errors.iloc[0]["column"] == "date"
    assert "after the data cut-off 2022-01-04" in errors.iloc[0]["problem"]
    assert main(["validate", str(ds), "--cutoff", cut]) == 1
    assert "after the data cut-off 2022-01-04" in capsys.readouterr().out
