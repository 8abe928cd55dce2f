"""Excel templates: bilingual headers, notes, drop-down lists, and a filled set that round-trips."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evaluation.dataset import load_dataset, schema
from evaluation.dataset.read import read_table
from evaluation.dataset.templates import header_text, write_templates
from evaluation.dataset.validate import validate_dataset

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "data" / "templates"
MINIMAL = Path(__file__).parent / "fixtures" / "minimal"


def _contents(path: Path) -> dict:
    """What a template says (headers, comments, drop-down lists, notes), not its zip bytes."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    return {
        "sheets": wb.sheetnames,
        "headers": [c.value for c in ws[1]],
        "comments": [c.comment.text if c.comment else None for c in ws[1]],
        "lists": sorted((str(dv.sqref), dv.formula1) for dv in ws.data_validations.dataValidation),
        "notes": [[c.value for c in row] for row in wb.worksheets[1].iter_rows()],
    }


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("templates")
    written = write_templates(folder)
    assert [p.stem for p in written] == list(schema.TABLE_ORDER)
    return folder


def test_one_template_per_table_with_bilingual_headers(fresh):
    for name, ts in schema.TABLES.items():
        c = _contents(fresh / f"{name}.xlsx")
        assert c["headers"] == [f"{f.label_zh}\n{f.name}" for f in ts.fields]
        assert c["sheets"][:2] == [name, "说明 notes"]
        assert [row[0] for row in c["notes"][2 : 2 + len(ts.fields)]] == ts.columns
        for f, comment in zip(ts.fields, c["comments"]):
            assert comment.startswith(f.name) and ("必填" in comment) == f.required


def test_enumerated_columns_have_drop_down_lists(fresh):
    c = _contents(fresh / "requests.xlsx")
    lists = dict(c["lists"])
    assert lists["K2:K2001"] == '"' + ",".join(schema.REQUEST_STATUSES) + '"'
    assert lists["B2:B2001"] == '"' + ",".join(schema.CHANNELS) + '"'
    assert all(len(f) <= 255 for _, f in c["lists"])  # Excel's limit for inline lists


def test_long_lists_move_to_a_hidden_sheet(tmp_path, monkeypatch):
    import evaluation.dataset.templates as templates

    monkeypatch.setattr(templates, "INLINE_LIST_LIMIT", 50)
    assert write_templates(tmp_path, ["party_orgs"]) == [tmp_path / "party_orgs.xlsx"]
    wb = openpyxl.load_workbook(tmp_path / "party_orgs.xlsx")
    (dv,) = wb.worksheets[0].data_validations.dataValidation
    assert dv.formula1 == f"lists!$A$1:$A${len(schema.ORG_TYPES)}" and wb["lists"].sheet_state == "hidden"
    assert [wb["lists"].cell(row=i + 1, column=1).value for i in range(len(schema.ORG_TYPES))] == list(schema.ORG_TYPES)
    assert read_table(tmp_path / "party_orgs.xlsx", "party_orgs").empty


def test_committed_templates_are_current(fresh):
    committed = sorted(p.name for p in COMMITTED.glob("*.xlsx"))
    assert committed == sorted(f"{n}.xlsx" for n in schema.TABLES), "run python -m evaluation.dataset.templates data/templates"
    for name in schema.TABLES:
        assert _contents(COMMITTED / f"{name}.xlsx") == _contents(fresh / f"{name}.xlsx"), name


def test_filled_templates_round_trip_through_loader_and_validator(fresh, tmp_path):
    """Fill every template with the minimal fixture's rows; it must read, validate and type back."""
    filled = tmp_path / "filled"
    filled.mkdir()
    for name in schema.TABLES:
        src = MINIMAL / f"{name}.csv"
        if not src.exists():
            continue
        rows = pd.read_csv(src, dtype=str, keep_default_na=False)
        wb = openpyxl.load_workbook(fresh / f"{name}.xlsx")
        ws = wb.worksheets[0]
        headers = [c.value for c in ws[1]]
        extra = [c for c in rows.columns if c not in schema.TABLES[name].columns]  # survey items
        for j, col in enumerate(extra, start=len(headers) + 1):
            ws.cell(row=1, column=j, value=col)
        order = [h.split("\n")[1] for h in headers] + extra
        for i, rec in enumerate(rows.reindex(columns=order, fill_value="").itertuples(index=False), start=2):
            for j, v in enumerate(rec, start=1):
                if v != "":
                    ws.cell(row=i, column=j, value=v)
        wb.save(filled / f"{name}.xlsx")
    df = read_table(filled / "requests.xlsx", "requests")
    assert list(df.columns) == schema.TABLES["requests"].columns and list(df.attrs["row_numbers"]) == [2, 3, 4, 5]
    report = validate_dataset(filled)
    # a plain folder has no datapackage.json, hence no cut-off: that warning only
    assert report.problems[["table", "column"]].values.tolist() == [["datapackage", "cutoff"]]
    got, want = load_dataset(filled), load_dataset(MINIMAL)
    assert set(got.tables) == set(want.tables)
    for name in want.tables:
        # the template has every column; the fixture leaves some optional ones out
        pd.testing.assert_frame_equal(got[name][list(want[name].columns)], want[name], obj=name)
        assert got[name].drop(columns=list(want[name].columns)).isna().all().all()


def test_header_text_is_read_back():
    f = schema.TABLES["requests"].field("created_at")
    assert header_text(f) == "受理时间\ncreated_at"
