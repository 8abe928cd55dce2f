"""A district office's own files, through the command line (issue 14).

``tests/fixtures/own_district/clean`` is a small district written as an office writes it (Chinese
headers and values, GB18030 CSV and XLSX, title rows, tables missing, no datapackage.json);
``planted`` is the same with one mistake of each kind. Expected values come from the generator's
own data (:func:`make_own_district.build`), never from what the package reads.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation import catalog
from evaluation.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CLEAN = FIXTURES / "own_district" / "clean"
PLANTED_DIR = FIXTURES / "own_district" / "planted"


def _generator():
    spec = importlib.util.spec_from_file_location("make_own_district", FIXTURES / "make_own_district.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_own_district"] = module
    spec.loader.exec_module(module)
    return module


gen = _generator()
TABLES = gen.build()
CUT = ["--cutoff", gen.CUTOFF]
END_2020 = dt.date(2020, 12, 31)


def run(capsys, *argv):
    """Exit code, stdout and stderr of ``evaluation argv``."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_sentence(err: str) -> str:
    """The user's error: one line, no traceback."""
    lines = [line for line in err.strip().splitlines() if not line.startswith(("note:", "warning:"))]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


def problem_lines(text: str, severity: str = "error") -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{severity}: ")]


@pytest.fixture
def copy(tmp_path):
    """A fresh copy of a fixture folder (commands never write into the committed one)."""
    def make(src: Path = CLEAN) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        return dst
    return make


def planted_alone(tmp_path, mistake) -> Path:
    """The clean district with this one mistake only."""
    folder = tmp_path / re.sub(r"\W+", "_", mistake.mistake)
    gen.write_planted(TABLES, folder, (mistake,))
    return folder


# --------------------------------------------------------------------------- the fixture itself


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def test_the_committed_fixture_is_what_the_generator_writes(tmp_path):
    gen.main(tmp_path)
    for sub in ("clean", "planted"):
        made = sorted(p.name for p in (tmp_path / sub).iterdir())
        assert made == sorted(p.name for p in (FIXTURES / "own_district" / sub).iterdir() if p.name != "README.md")
        for name in made:
            new, old = tmp_path / sub / name, FIXTURES / "own_district" / sub / name
            if name.endswith(".xlsx"):  # the same cells and parts (deflate output may differ across zlib builds)
                assert _members(new) == _members(old), name
            else:
                assert new.read_bytes() == old.read_bytes(), name
    assert (tmp_path / "planted.csv").read_bytes() == (FIXTURES / "own_district" / "planted.csv").read_bytes()


def test_the_fixture_is_written_as_an_office_writes_it():
    files = {p.name for p in CLEAN.iterdir()}
    assert not (CLEAN / "datapackage.json").exists()
    assert all(re.search(r"[\u4e00-\u9fff]", f) for f in files)  # Chinese file names
    assert any(f.endswith(".xlsx") for f in files) and any(f.endswith(".csv") for f in files)
    units = (CLEAN / "行政单位.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        units.decode("utf-8")
    text = units.decode("gb18030")
    assert text.splitlines()[0].startswith("汉水区行政区划") and "社区" in text and "街道" in text
    requests = (CLEAN / "居民诉求台账.csv").read_bytes().decode("gb18030")
    for word in ("已办结", "满意", "基本满意", "未回访", "热线", "来访", "网格员", "大事", "小事", "私事"):
        assert word in requests
    for table in ("duty_roster", "postings", "buildings", "population"):
        assert table not in {s.table for s in gen.SHEETS}
    assert not any(m["meeting_type"] == "big_committee_joint" for m in TABLES["meetings"])


# --------------------------------------------------------------------------- validate


def test_clean_district_validates_with_only_its_genuine_problems(capsys):
    code, out, _ = run(capsys, "validate", CLEAN, *CUT)
    assert code == 0, out
    assert problem_lines(out) == []
    warnings = problem_lines(out, "warning")
    staff = TABLES["staffing"]
    over = [i for i, r in enumerate(staff) if r["hired"] > r["quota"]]
    sheet = next(s for s in gen.SHEETS if s.table == "staffing")
    rows = [sheet.first_data_row + i for i in over]
    assert len(warnings) == 2, warnings
    assert any("compounds, column 备注" in w and "unknown column" in w for w in warnings)
    assert any(f"staffing, column hired (row {rows[0]})" in w and "exceeds the quota" in w for w in warnings)
    # without a declared or given cut-off, that is a genuine problem too
    code, out, _ = run(capsys, "validate", CLEAN)
    assert code == 0
    assert any("no data cut-off given" in w for w in problem_lines(out, "warning"))


def test_validate_says_how_each_file_was_read_and_what_was_mapped(capsys):
    _, out, _ = run(capsys, "validate", CLEAN, *CUT)
    for sheet in gen.SHEETS:
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{sheet.table}: {sheet.file}"))
        assert ("CSV in GB18030" if sheet.file.endswith(".csv") else "XLSX") in line
        assert f"header in row {sheet.first_data_row - 1}" in line
        if sheet.title:
            assert "1 row above it skipped" in line
        assert f"{len(TABLES[sheet.table]):,} rows" in line
    ratings = pd.Series([r["rating"] for r in TABLES["requests"]]).value_counts()
    assert f"满意 → satisfied ({ratings['satisfied']:,})" in out
    assert f"未回访 → not_reached ({ratings['not_reached']:,})" in out
    statuses = pd.Series([r["status"] for r in TABLES["requests"]]).value_counts()
    assert f"已办结 → closed ({statuses['closed']:,})" in out
    assert "单位宿舍 → work_unit" in out and "社区 → community (5)" in out and "男 → male" in out
    assert "cut-off 2021-01-10 18:00 +0800, given with --cutoff" in out


def test_what_the_clean_district_can_assess(capsys):
    _, out, _ = run(capsys, "validate", CLEAN, *CUT)
    present = {s.table for s in gen.SHEETS}
    part = out[out.index("What this dataset can assess"):]
    missing_listed = set(re.findall(r"the (\w+) table is missing", part))
    expected = {n.partition(".")[0] for i in catalog.ids() for n in catalog.get(i).needs} - present
    assert missing_listed == expected
    columns = {(s.table, c) for s in gen.SHEETS for c, _ in s.headers}

    def unmet(need):
        table, _, rest = need.partition(".")
        column, _, value = rest.partition("=")
        if table not in present or column and (table, column) not in columns:
            return True
        return bool(value) and not any(str(r.get(column)) == value for r in TABLES[table])

    for iid in catalog.ids():
        listed = f"({iid}):" in part
        assert listed == any(unmet(n) for n in catalog.get(iid).needs), iid


def test_planted_mistakes_each_caught_as_one_grouped_line_with_its_file_row(capsys):
    code, out, _ = run(capsys, "validate", PLANTED_DIR, *CUT)
    assert code == 1
    errors = problem_lines(out)
    assert len(errors) == len(gen.PLANTED), "\n".join(errors)
    for p in gen.PLANTED:
        hits = [e for e in errors if e.startswith(f"error: {p.table}") and p.problem in e]
        assert len(hits) == 1, (p, errors)
        if p.file_row() is not None:
            assert f"column {p.column} (row {p.file_row()})" in hits[0], hits[0]
    assert "139-0719-2468" not in out and "13907192468" not in out  # never echoed


def test_planted_report_matches_the_manifest():
    manifest = pd.read_csv(FIXTURES / "own_district" / "planted.csv", dtype=str, keep_default_na=False)
    assert list(manifest["mistake"]) == [p.mistake for p in gen.PLANTED]
    assert list(manifest["file_row"]) == [str(p.file_row() or "") for p in gen.PLANTED]


@pytest.mark.parametrize("mistake", gen.PLANTED, ids=lambda p: p.mistake)
def test_each_mistake_alone_is_one_line_and_every_command_refuses(capsys, tmp_path, mistake):
    folder = planted_alone(tmp_path, mistake)
    code, out, _ = run(capsys, "validate", folder, *CUT)
    assert code == 1
    errors = problem_lines(out)
    assert len(errors) == 1 and mistake.problem in errors[0], errors
    if mistake.file_row() is not None:
        assert f"(row {mistake.file_row()})" in errors[0]
    command = {"survey": ["survey", folder, "--wave", "2020", "--item", "sat_overall"]}.get(
        mistake.table, ["indicators", folder, "--year", "2020"])
    target = tmp_path / "out.csv"
    code, _, err = run(capsys, *command, *CUT, "--out", target)
    assert code == 1
    sentence = one_sentence(err)
    assert mistake.table in sentence and "nothing was computed" in sentence
    assert not target.exists()


def test_validate_reports_a_personal_column_and_goes_on_checking(capsys, tmp_path):
    both = tuple(p for p in gen.PLANTED if p.table == "party_orgs" or p.mistake == "unknown community")
    gen.write_planted(TABLES, tmp_path / "d", both)
    _, out, _ = run(capsys, "validate", tmp_path / "d", *CUT)
    errors = problem_lines(out)
    assert len(errors) == 2
    assert any("mobile phone numbers" in e and "--pii hash --salt-file" in e for e in errors)


# --------------------------------------------------------------------------- the commands compute correctly


def _expected_district_2020() -> dict[str, float]:
    ms = TABLES["compound_milestones"]

    def cover(kind):
        return len({m["compound_id"] for m in ms if m["milestone"] == kind and m["date"] <= END_2020})

    req = [r for r in TABLES["requests"] if r["created_at"].year == 2020]
    rated = [r["rating"] for r in req if r["rating"] in ("satisfied", "basically_satisfied", "dissatisfied")]
    staff = [r for r in TABLES["staffing"] if r["year"] == 2020]
    meetings = [m for m in TABLES["meetings"] if m["date"].year == 2020]
    return {
        "org.compound_branch_coverage": cover("party_branch") / len(TABLES["compounds"]),
        "par.red_property_coverage": cover("red_property") / len(TABLES["compounds"]),
        "svc.requests": len(req),
        "svc.satisfaction_rate": (rated.count("satisfied") + 0.9 * rated.count("basically_satisfied")) / len(rated),
        "sup.worker_quota_fill": sum(r["hired"] for r in staff) / sum(r["quota"] for r in staff),
        "dem.deliberation_resolution_share": sum(m["issues_resolved"] for m in meetings)
        / sum(m["issues_raised"] for m in meetings),
    }


def test_indicators_of_the_clean_district(capsys, tmp_path):
    out = tmp_path / "ind.csv"
    code, text, _ = run(capsys, "indicators", CLEAN, "--year", 2020, *CUT, "--out", out)
    assert code == 0, text
    got = pd.read_csv(out, dtype={"unit_id": str}).set_index("indicator")
    for iid, value in _expected_district_2020().items():
        assert got.loc[iid, "value"] == pytest.approx(value), iid
    assert "org.weekday_duty_coverage" not in got.index  # no duty roster: not assessed, never 0
    assert not got["flags"].fillna("").str.contains("forced").any()


def test_indicators_refuse_a_year_outside_the_data(capsys, tmp_path):
    code, _, err = run(capsys, "indicators", CLEAN, "--year", 1990, *CUT, "--out", tmp_path / "x.csv")
    assert code == 1 and "outside the years the data cover" in one_sentence(err)


def test_survey_of_the_clean_district(capsys, tmp_path):
    out = tmp_path / "s.csv"
    code, _, _ = run(capsys, "survey", CLEAN, "--wave", 2020, "--item", "sat_overall", *CUT, "--out", out)
    assert code == 0
    rows = [r for r in TABLES["survey"] if r["wave"] == 2020]
    w = np.array([r["weight"] for r in rows])
    y = np.array([r["sat_overall"] for r in rows])
    est = pd.read_csv(out).iloc[0]
    assert est["value"] == pytest.approx((w * y).sum() / w.sum(), rel=1e-9)
    assert est["ci_low"] < est["value"] < est["ci_high"] and est["ci_high"] - est["ci_low"] < 1


def test_requests_of_the_clean_district_are_rated(capsys, tmp_path):
    out = tmp_path / "r.csv"
    code, _, _ = run(capsys, "requests", CLEAN, "--period", "year", *CUT, "--out", out)
    assert code == 0
    got = pd.read_csv(out)
    sat = got[got["indicator"].eq("svc.satisfaction_rate") & got["period"].astype(str).str.startswith("2020")]
    assert sat["value"].iloc[0] == pytest.approx(_expected_district_2020()["svc.satisfaction_rate"])


def test_index_and_impact_of_the_clean_district(capsys, tmp_path):
    out = tmp_path / "i.csv"
    code, _, _ = run(capsys, "index", CLEAN, "--year", 2020, "--draws", 20, *CUT, "--out", out)
    assert code == 0
    index = pd.read_csv(out, dtype={"unit_id": str})
    communities = {c[0] for c in gen.COMMUNITIES}
    assert communities <= set(index["unit_id"])
    out = tmp_path / "p.csv"
    code, text, _ = run(capsys, "impact", CLEAN, "--outcome", "requests", *CUT, "--out", out)
    assert code == 0
    att = pd.read_csv(out)
    adopters = {m["compound_id"] for m in TABLES["compound_milestones"] if m["milestone"] == "red_property"}
    assert f"Among the {len(adopters)} compounds that adopted red property" in text
    simple = att[att["indicator"].str.endswith(".simple")].iloc[0]
    assert simple["ci_low"] <= simple["value"] <= simple["ci_high"]


def test_index_size_is_checked_before_the_run(capsys, tmp_path):
    code, _, err = run(capsys, "index", CLEAN, "--year", 2020, "--draws", 10_000_000, *CUT, "--out", tmp_path / "i.csv")
    assert code == 1 and "--draws 10,000,000" in one_sentence(err)
    from evaluation.cli.index_cmd import check_memory
    from evaluation.errors import OptionError

    with pytest.raises(OptionError, match=r"would need about .* GB .*use --draws [\d,]+ or fewer"):
        check_memory(100_000, 34, available=2 * 2**30)
    check_memory(1000, 34, available=2 * 2**30)  # fits


# --------------------------------------------------------------------------- --force, personal data, encodings


def test_force_computes_and_says_so_in_the_output(capsys, tmp_path):
    weight = next(p for p in gen.PLANTED if p.mistake == "extreme weight")
    folder = planted_alone(tmp_path, weight)
    out = tmp_path / "s.csv"
    argv = ["survey", folder, "--wave", 2020, "--item", "sat_overall", *CUT, "--out", out]
    code, _, err = run(capsys, *argv)
    assert code == 1 and "weight" in one_sentence(err)
    code, _, err = run(capsys, *argv, "--force")
    assert code == 0 and "--force" in err and "not fit to publish" in err
    assert pd.read_csv(out)["flags"].str.contains("forced_despite_validation_errors").all()


def test_personal_data_refused_even_with_force_and_hashed_with_a_salt(capsys, tmp_path):
    phone = next(p for p in gen.PLANTED if "phone" in p.mistake)
    folder = planted_alone(tmp_path, phone)
    out = tmp_path / "i.csv"
    code, _, err = run(capsys, "indicators", folder, "--year", 2020, *CUT, "--force", "--out", out)
    sentence = one_sentence(err)
    assert code == 1 and f"row {phone.file_row()}" in sentence and "--force does not override" in sentence
    assert "2468" not in sentence
    salt = tmp_path / "salt.txt"
    salt.write_text("a secret of the office\n", encoding="utf-8")
    code, _, err = run(capsys, "indicators", folder, "--year", 2020, *CUT, "--pii", "hash", "--salt-file", salt,
                       "--out", out)
    assert code == 0, err
    assert "2468" not in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("header", ["反映人", "联系人", "来电人", "业主姓名", "姓名", "手机", "电话", "身份证号码"])
def test_personal_headers_refused(capsys, copy, header):
    folder = copy()
    units = folder / "行政单位.csv"
    lines = units.read_bytes().decode("gb18030").splitlines()
    lines[1] += f",{header}"
    lines[2:] = [line + ",x" for line in lines[2:]]
    units.write_bytes("\r\n".join(lines).encode("gb18030"))
    code, out, _ = run(capsys, "validate", folder, *CUT)
    assert code == 1
    assert any(f"column {header}" in e and "by its header" in e for e in problem_lines(out))


@pytest.mark.parametrize("value", ["138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+8613812345678",
                                   "11010519491231002X"])
def test_personal_values_refused(capsys, copy, value):
    folder = copy()
    path = folder / "阵地设施.csv"
    lines = path.read_bytes().decode("gb18030").splitlines()
    lines[1] += ",说明"
    lines[2:] = [line + ("," + (f"负责人 {value}" if k == 3 else "")) for k, line in enumerate(lines[2:])]
    path.write_bytes("\r\n".join(lines).encode("gb18030"))
    code, out, _ = run(capsys, "validate", folder, *CUT)
    errors = problem_lines(out)
    assert code == 1 and len(errors) == 1
    assert "column 说明 (row 6)" in errors[0] and value not in out


def test_an_id_number_with_a_wrong_check_character_is_no_id_number(capsys, copy):
    folder = copy()
    path = folder / "阵地设施.csv"
    lines = path.read_bytes().decode("gb18030").splitlines()
    lines[1] += ",编号"
    lines[2:] = [line + ",110105194912310021" for line in lines[2:]]  # check character should be X
    path.write_bytes("\r\n".join(lines).encode("gb18030"))
    code, out, _ = run(capsys, "validate", folder, *CUT)
    assert code == 0, problem_lines(out)


def test_a_big5_file_is_refused_by_name(capsys, tmp_path):
    big5 = next(p for p in gen.PLANTED if p.mistake == "Big5 file")
    folder = planted_alone(tmp_path, big5)
    code, out, _ = run(capsys, "validate", folder, *CUT)
    [line] = problem_lines(out)
    assert code == 1 and "志愿者.csv" in line and "Big5" in line and "save it as CSV UTF-8" in line
    code, _, err = run(capsys, "init", folder, *CUT)
    assert code == 1 and "Big5" in one_sentence(err)


# --------------------------------------------------------------------------- data packages


def test_init_declares_the_cutoff_and_every_command_uses_it(capsys, copy, tmp_path):
    folder = copy()
    code, out, _ = run(capsys, "init", folder, *CUT)
    assert code == 0
    meta = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert meta["cutoff"] == "2021-01-10T18:00:00+08:00" and meta["timezone"] == "Asia/Shanghai"
    assert {r["name"]: r["path"] for r in meta["resources"]} == {s.table: s.file for s in gen.SHEETS}
    assert {r["encoding"] for r in meta["resources"] if r["path"].endswith(".csv")} == {"gb18030"}
    code, out, _ = run(capsys, "validate", folder)
    assert code == 0 and "declared in datapackage.json" in out and "no data cut-off" not in out
    code, _, _ = run(capsys, "indicators", folder, "--year", 2020, "--out", tmp_path / "i.csv")
    assert code == 0
    code, _, err = run(capsys, "init", folder, *CUT)
    assert code == 1 and "--force" in one_sentence(err)


def test_a_partial_datapackage_reads_the_other_files_with_a_warning(capsys, copy):
    folder = copy()
    (folder / "datapackage.json").write_text(json.dumps({
        "name": "hanshui", "cutoff": gen.CUTOFF,
        "resources": [{"name": "units", "path": "行政单位.csv"}, {"name": "requests", "path": "居民诉求台账.csv"}]}),
        encoding="utf-8")
    code, out, _ = run(capsys, "validate", folder)
    assert code == 0
    warned = [w for w in problem_lines(out, "warning") if "not listed in datapackage.json" in w]
    assert len(warned) == len(gen.SHEETS) - 2
    assert "小区台账.xlsx: not listed in datapackage.json; read as the compounds table" in out


def test_two_files_for_one_table_are_a_conflict_not_a_silent_choice(capsys, copy):
    folder = copy()
    shutil.copy(folder / "居民诉求台账.csv", folder / "居民诉求2020.csv")
    code, out, _ = run(capsys, "validate", folder, *CUT)
    assert code == 1
    assert any("居民诉求2020.csv and 居民诉求台账.csv are all named as the requests table" in e for e in problem_lines(out))


def test_a_file_that_names_no_table_is_reported(capsys, copy):
    folder = copy()
    shutil.copy(folder / "目标值.csv", folder / "汇总表.csv")
    _, out, _ = run(capsys, "validate", folder, *CUT)
    assert any("汇总表.csv: not read" in w for w in problem_lines(out, "warning"))


def test_an_empty_table_is_valid_and_reported_as_empty(capsys, copy):
    folder = copy()
    for name in ("小区台账.xlsx", "小区治理节点.csv"):
        (folder / name).unlink()
    shutil.copy(Path(__file__).parents[1] / "data" / "templates" / "compounds.xlsx", folder / "compounds.xlsx")
    shutil.copy(Path(__file__).parents[1] / "data" / "templates" / "compound_milestones.xlsx",
                folder / "compound_milestones.xlsx")
    code, out, _ = run(capsys, "validate", folder, *CUT)
    assert "compounds: compounds.xlsx, XLSX, header in row 1, empty (no data rows)" in out
    assert "the compounds table is empty (not recorded)" in out
    # the requests and survey still name compounds that are not in the (empty) register: genuine errors
    assert all("is not a compound_id in compounds" in e for e in problem_lines(out))


def test_out_never_points_into_the_inputs(capsys, copy):
    folder = copy()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for target in ("units.csv", "行政单位.csv", "居民诉求.xlsx", "2021年居民诉求台账.csv"):
        code, _, err = run(capsys, "indicators", folder, "--year", 2020, *CUT, "--out", folder / target)
        assert code == 1 and "--out points at an input" in one_sentence(err)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


# --------------------------------------------------------------------------- dates


def test_a_day_month_column_is_read_in_one_stated_order(capsys, copy):
    folder = copy()
    path = folder / "小区治理节点.csv"
    lines = path.read_bytes().decode("gb18030").splitlines()
    rows = [line.split(",") for line in lines]
    day_first = []
    for r in rows[1:]:
        y, m, d = r[2].split("/")
        r[2] = f"{int(d):02d}/{int(m):02d}/{y}"
        day_first.append(int(d) > 12)
    assert any(day_first)
    path.write_bytes("\r\n".join(",".join(r) for r in rows).encode("gb18030"))
    code, out, _ = run(capsys, "validate", folder, *CUT)
    assert code == 0
    assert f"compound_milestones.date: {len(rows) - 1} dates written day/month/year (decided by" in out
    code, out, _ = run(capsys, "validate", folder, *CUT, "--date-order", "MDY")
    assert code == 1
    [line] = problem_lines(out)
    assert "compound_milestones, column date" in line and "not a date" in line


def test_an_indicator_of_a_value_no_row_records_is_not_assessed(monkeypatch):
    """With the value need of the catalogue, six-haves standardisation (never recorded here) is not scored 0."""
    import dataclasses

    from evaluation.dataset import load_dataset
    from evaluation.indicators import collect_indicators

    iid = "org.branch_standardisation"
    assert not any(m["milestone"] == "branch_six_haves" for m in TABLES["compound_milestones"])
    entry = catalog.get(iid)
    monkeypatch.setitem(catalog.CATALOG, iid, dataclasses.replace(
        entry, needs=(*entry.needs, "compound_milestones.milestone=branch_six_haves")))
    result = collect_indicators(load_dataset(CLEAN, cutoff=gen.CUTOFF), 2020, "district")
    assert iid not in set(result.table["indicator"])
    assert "org.compound_branch_coverage" in set(result.table["indicator"])
    assert any(n.startswith(f"{iid}: not assessed, no compound_milestones.milestone = branch_six_haves")
               for n in result.notes)
