"""The annual review as its reader gets it: findings first, honest states and changes, Chinese
throughout, disclosure that holds against subtraction, a workbook to forward, failures in one sentence.

The reviews of the bundled district are generated once per session through the command line
(``test_report_runs.review_runs``); the rest run the review in process (``start_review(display=False)``),
on the bundled district, on copies of it with planted small cells and failures, and on the
district office's own folder (``tests/fixtures/own_district``).
"""

from __future__ import annotations

import hashlib
import html as htmllib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evaluation import catalog, disclosure
from evaluation.dataset import privacy
from evaluation.errors import OptionError
from evaluation.report import ReviewError, run_review, template_path
from evaluation.report.changes import call_change
from evaluation.report.session import start_review
from evaluation.report.text import fmt_value
from test_report_runs import BUNDLED, ROOT, YEAR, review_runs

CJK = re.compile(r"[\u4e00-\u9fff]")
OWN = ROOT / "tests" / "fixtures" / "own_district" / "clean"
OWN_CUTOFF = "2021-01-10T18:00:00+08:00"
PAGE = ("targets", "requests", "hotline", "organisation", "survey", "index", "impact", "not_assessed", "methods", "provenance")


@pytest.fixture(scope="session")
def review(tmp_path_factory):
    return review_runs(tmp_path_factory.mktemp("reviews"))


def cells(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out = {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    wb.close()
    return out


def frames(path: Path) -> dict[str, pd.DataFrame]:
    return pd.read_excel(path, sheet_name=None)


def visible_text(page: str) -> str:
    """What a reader sees: no style, script, tags or attributes; literal data tables left out."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<table[^>]*rv-literal-table.*?</table>', " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", htmllib.unescape(page))


def run_inproc(data, year=YEAR, lang="en", out=None, **kw):
    """The review computed in process; returns (session, html of every part, workbook path)."""
    s = start_review(str(data), year, lang, "community", str(out), display=False, **kw)
    parts = {k: s.show(k) for k in PAGE}
    parts["summary"] = s.show_first()
    wb = Path(out) / "wb.xlsx"
    s.write_workbook(wb)
    return s, parts, wb


# --------------------------------------------------------------------------- the bundled district, end to end


def test_outputs_exist_and_no_staging_left(review):
    for key in ("en", "zh"):
        run = review[key].check()
        assert run.html.is_file() and run.xlsx.is_file()
        stems = {f.stem for f in (run.out / "figures").iterdir()}
        for name in ("targets", "requests-by-street", "red-property", "survey-by-street", "index", "event-study",
                     "robustness"):
            assert f"annual-review-{YEAR}-{run.lang}-{name}" in stems
        assert {f.suffix for f in (run.out / "figures").iterdir()} == {".png", ".svg"}
        assert [p.name for p in run.out.iterdir() if p.name.startswith(".")] == []  # no staging folder or part file


def test_progress_per_section_on_stderr(review):
    err = review["en"].check().stderr
    for key in ("targets", "requests", "survey", "impact", "summary"):
        assert catalog.message(f"rv_{key}", "en") in err
    assert re.search(r"\[\d+/\d+\] Targets \(\d+ s\)", err)
    assert "wrote" in review["en"].stdout and "Traceback" not in err


def test_findings_come_first_with_a_title_a_band_charts_and_contents(review):
    for key in ("en", "zh"):
        run = review[key].check()
        page = run.html.read_text(encoding="utf-8")
        title = re.search(r"<title>(.*?)</title>", page).group(1)
        district = "Zhangwan District" if key == "en" else "张湾区"
        assert district in title and str(YEAR) in title
        order = [page.index(m) for m in ('class="rv-head"', 'class="rv-band"', 'class="rv-charts"',
                                         'class="rv-findings"', 'class="rv-toc"', 'id="sec-targets"')]
        assert order == sorted(order)
        assert 6 <= page.count('class="rv-tile ') <= 8
        charts = re.search(r'class="rv-charts">(.*?)</div>', page, flags=re.S).group(1)
        assert charts.count("<img ") == 3
        findings = re.search(r'class="rv-findings">.*?<ol>(.*?)</ol>', page, flags=re.S).group(1)
        assert 5 <= findings.count("<li>") <= 7
        # every entry of the contents leads somewhere
        for anchor in re.findall(r'<a href="#([^"]+)"', page):
            assert f'id="{anchor}"' in page, anchor
        for sec in PAGE:
            assert catalog.message(f"rv_{sec}", run.lang) in page
        assert "review.show(" not in page and "import warnings" not in page  # no code
        assert 'src="http' not in page  # self-contained
        assert "first 120" not in page and "Traceback" not in page


def test_the_counts_sentence_adds_up_to_the_workbook(review):
    run = review["en"].check()
    page = visible_text(run.html.read_text(encoding="utf-8"))
    m = re.search(r"Of (\d+) indicators with a target, (\d+) met it and (\d+) did not; (\d+) have no target, and "
                  r"(\d+) could not be assessed", page)
    assert m
    n, met, not_met, no_target, na = map(int, m.groups())
    sheet = frames(run.xlsx)["01 District indicators"]
    states = sheet["state"].value_counts()
    assert (met, not_met, no_target, na) == (states.get("met", 0), states.get("not met", 0),
                                             states.get("no target", 0), states.get("not assessed", 0))
    assert n == met + not_met


def test_workbook_readme_dictionary_formats_and_language(review):
    en, zh = review["en"].check(), review["zh"].check()
    wb = openpyxl.load_workbook(en.xlsx)
    names = wb.sheetnames
    assert names[:2] == ["README", "Data dictionary"] and names[2].startswith("01 ")
    readme = [r for r in wb["README"].iter_rows(values_only=True)]
    assert any("Zhangwan" in str(v) for r in readme for v in r)
    assert any(str(r[0]).startswith("01 ") for r in readme[1:])  # the list of sheets
    ws = wb["01 District indicators"]
    assert ws.freeze_panes == "A2" and ws.column_dimensions["C"].width > 12
    header = [c.value for c in ws[1]]
    code, value = header.index("indicator code") + 1, header.index("value") + 1
    formats = {ws.cell(row=i, column=code).value: ws.cell(row=i, column=value).number_format
               for i in range(2, ws.max_row + 1) if ws.cell(row=i, column=value).value is not None}
    assert formats["par.red_property_coverage"] == "0.0%"
    assert formats["svc.median_resolution_hours"] == "#,##0.0"
    assert formats["svc.requests"] == "#,##0"
    values = [ws.cell(row=i, column=value).value for i in range(2, ws.max_row + 1)]
    assert any(isinstance(v, float) and len(repr(v)) > 8 for v in values)  # full precision kept under the format
    zh_names = openpyxl.load_workbook(zh.xlsx, read_only=True).sheetnames
    assert zh_names[:2] == ["说明", "数据字典"] and all(CJK.search(n) for n in zh_names)


def test_same_inputs_give_the_same_workbook_bytes(review):
    a, b = review["en"].check().xlsx, review["en_again"].check().xlsx
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    flat = " ".join(str(v) for rows in cells(a).values() for r in rows for v in r)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", flat)  # no run time in the workbook


def test_no_published_cell_rests_on_fewer_than_k(review):
    checked = 0
    for key in ("en", "zh"):
        for sheet, frame in frames(review[key].check().xlsx).items():
            for col in ("cases", "respondents", "样本数", "受访人数"):
                if col in frame.columns:
                    n = pd.to_numeric(frame[col], errors="coerce").dropna()
                    checked += len(n)
                    assert ((n == 0) | (n >= disclosure.DEFAULT_K)).all(), (sheet, col)
    assert checked > 100


def test_no_personal_identifiers_in_any_output(review):
    from evaluation.dataset import load_dataset

    names = privacy.person_names(load_dataset(BUNDLED))
    paths = [review[k].out for k in ("en", "zh")] + [template_path(), ROOT / "notebooks"]
    if (ROOT / "figures").is_dir():
        paths.append(ROOT / "figures")
    assert privacy.scan_paths(paths, names) == []


#: words a Chinese evaluator writes in Latin letters: names of methods and their authors, software,
#: symbols and units. Nothing else in Latin letters may appear in the visible text of the zh review.
LATIN_ALLOWED = {"Kaplan-Meier", "Callaway", "Callaway-Sant'Anna", "Sant'Anna", "Sun-Abraham", "Borusyak", "de", "Chaisemartin-D'Haultfoeuille",
                 "Fay-Herriot", "Newcombe", "Mbar", "Brookmeyer-Crowley", "R", "survey", "did", "survival", "SHA-256",
                 "evaluation", "synth", "p", "h", "CI", "gamma", "x", "App", "Goodman-Bacon"}


def test_chinese_review_has_no_identifiers_and_no_english(review):
    page = review["zh"].check().html.read_text(encoding="utf-8")
    text = visible_text(page)
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_'\-]*", text))
    assert not {w for w in words if "_" in w}, "identifiers on the page"  # snake_case ids: few_respondents, svc.*
    assert words <= LATIN_ALLOWED, sorted(words - LATIN_ALLOWED)
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+ [A-Za-z]+", text)  # no English sentence
    svg = (review["zh"].out / "figures" / f"annual-review-{YEAR}-zh-targets.svg").read_text(encoding="utf-8")
    labels = re.findall(r"<text[^>]*>([^<]+)</text>", svg)
    assert labels and any(CJK.search(x) for x in labels)


def test_the_review_and_the_notebooks_agree(review):
    """The review calls the functions the notebooks call: the same numbers come out."""
    from evaluation.dataset import load_dataset
    from evaluation.impact import red_property_impact
    from evaluation.requests import dataset_log, request_indicators
    from evaluation.survey import survey_wave, wave_difference

    page = visible_text(review["en"].check().html.read_text(encoding="utf-8"))
    nb02 = json.loads((ROOT / "notebooks" / "02_request_handling.ipynb").read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for c in nb02["cells"] if c["cell_type"] == "code"
                      for o in c.get("outputs", []))
    open_nb = re.search(r"open at the cut-off \(right-censored\): ([\d,]+) of", printed).group(1)
    m = re.search(r"At the data cut-off \([^)]*\), ([\d,]+) requests were still open", page)
    assert m and m.group(1) == open_nb
    ds = load_dataset(BUNDLED)
    res = request_indicators(dataset_log(ds), period="month")
    assert int(res.open_at_cutoff()["open_at_cutoff"].sum()) == int(open_nb.replace(",", ""))
    # survey: calibrated weights as notebook 04, the design-based difference of the waves
    cur, prev = survey_wave(ds, YEAR, calibrate=True), survey_wave(ds, YEAR - 1, calibrate=True)
    a = cur.mean("satisfaction_index", indicator="out.resident_satisfaction")
    b = prev.mean("satisfaction_index", indicator="out.resident_satisfaction")
    d = wave_difference(a, b, indicator="out.resident_satisfaction").table.iloc[0]
    assert f"{d['value']:+.2f} (95% CI {d['ci_low']:+.2f} to {d['ci_high']:+.2f})" in page
    # impact: notebook 06's headline estimate
    att = red_property_impact(ds, "mean_resolution_hours").overall.set_index("aggregation").loc["simple"]
    assert f"{att['att']:+.1f} h (95% CI {att['ci_low']:+.1f} h to {att['ci_high']:+.1f} h)" in page


# --------------------------------------------------------------------------- honest states and changes


def test_change_calls_stay_silent_inside_the_noise():
    rate = "svc.satisfaction_rate"
    # 88.6 % of 179 ratings against 85.3 % of 177: Newcombe's interval includes zero
    c = call_change(rate, {"value": 0.886, "numerator": 158.6, "denominator": 179},
                    {"value": 0.853, "numerator": 151.0, "denominator": 177})
    assert c.state == "no_clear_change" and c.low < 0 < c.high
    same = call_change("svc.response_rate", {"value": 0.999, "numerator": 9990, "denominator": 10000},
                       {"value": 0.9992, "numerator": 9992, "denominator": 10000})
    assert same.state == "no_clear_change"
    big = call_change(rate, {"value": 0.90, "numerator": 9000, "denominator": 10000},
                      {"value": 0.80, "numerator": 8000, "denominator": 10000})
    assert big.state == "better"
    # registry shares are complete counts: a stated threshold of 1 percentage point
    reg = "par.red_property_coverage"
    assert call_change(reg, {"value": 0.605, "method": "registry count"}, {"value": 0.600}).state == "no_clear_change"
    assert call_change(reg, {"value": 0.62, "method": "registry count"}, {"value": 0.60}).state == "better"
    # a survey change is called by the interval of the difference, nothing else
    sv = "out.resident_satisfaction"
    assert call_change(sv, {"value": 3.7}, {"value": 3.6}, {"value": 0.1, "ci_low": -0.02, "ci_high": 0.22}).state \
        == "no_clear_change"
    assert call_change(sv, {"value": 3.7}, {"value": 3.5}, {"value": 0.2, "ci_low": 0.05, "ci_high": 0.35}).state \
        == "better"
    # Kaplan-Meier medians: intervals that overlap are no clear change
    km = "svc.median_resolution_hours"
    method = {"method": "Kaplan-Meier quantile"}
    assert call_change(km, {"value": 30, "ci_low": 28, "ci_high": 33, **method},
                       {"value": 32, "ci_low": 30, "ci_high": 35}).state == "no_clear_change"
    assert call_change(km, {"value": 20, "ci_low": 18, "ci_high": 22, **method},
                       {"value": 32, "ci_low": 30, "ci_high": 35}).state == "better"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The district office's folder (Chinese values, GB18030, title rows, no duty roster, no joint meetings)."""
    out = tmp_path_factory.mktemp("own")
    return {lang: run_inproc(OWN, 2020, lang, out / lang, cutoff=OWN_CUTOFF) for lang in ("en", "zh")}


def test_what_was_not_recorded_is_not_assessed_and_never_scored(own):
    s, parts, wb = own["en"]
    sheet = frames(wb)["01 District indicators"].set_index("indicator code")
    for iid in ("org.weekday_duty_coverage", "dem.meeting_cadence_compliance.big_committee_joint",
                "org.branch_standardisation", "org.building_group_coverage"):
        assert sheet.at[iid, "state"] == "not assessed", iid
        assert isinstance(sheet.at[iid, "why not assessed"], str) and sheet.at[iid, "why not assessed"]
        assert pd.isna(sheet.at[iid, "value"])  # no number, so no 0 %
    na = visible_text(parts["not_assessed"])
    for iid in ("org.weekday_duty_coverage", "dem.meeting_cadence_compliance.big_committee_joint"):
        assert catalog.label(iid, "en") in na
    page = visible_text(parts["targets"])
    assert "Branch standardisation" not in page  # not in the table of targets met or missed
    assert s.review.failures == [] or all("impact" in f or "small-area" in f for f in s.review.failures)


def test_own_district_in_chinese_says_why_in_chinese(own):
    s, parts, wb = own["zh"]
    text = visible_text("".join(parts.values()))
    assert "未能评估" in text and "下沉干部值班" in text
    assert "Never treated" not in text and "Error" not in text and "Traceback" not in text
    assert "从未推行红色物业的小区过少" in visible_text(parts["impact"])  # the option to use, in one sentence


def test_own_district_through_the_command_line(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "evaluation.cli", "review", str(OWN), "--year", "2020", "--lang", "zh",
                           "--cutoff", OWN_CUTOFF, "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    page = (out / "annual-review-2020-zh.html").read_text(encoding="utf-8")
    assert "汉水区" in re.search(r"<title>(.*?)</title>", page).group(1)
    assert "未能评估的内容" in page and "2021-01-10 18:00" in page
    assert "Traceback" not in page and "Error" not in visible_text(page)


# --------------------------------------------------------------------------- failures never reach the page


def test_an_injected_failure_is_one_sentence_in_the_reports_language(tmp_path, monkeypatch):
    from evaluation.report import sections

    def boom(rv, sec):
        raise ValueError("SECRET-TRACE: Buffer has wrong number of dimensions (expected 1, got 2)")

    monkeypatch.setitem(sections.BUILDERS, "requests", boom)
    for lang in ("en", "zh"):
        s = start_review(str(BUNDLED), YEAR, lang, out_dir=str(tmp_path / lang), sections=["requests"], display=False)
        fragment = s.show("requests") + s.show_first()
        assert "SECRET" not in fragment and "Buffer" not in fragment and "ValueError" not in fragment
        assert catalog.message("rv_section_failed", lang) in htmllib.unescape(fragment)
        assert any("SECRET-TRACE" in f for f in s.review.failures)  # the log keeps it for the run's stderr


def test_data_that_fail_validation_are_refused_unless_forced(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(BUNDLED, data)
    units = pd.read_csv(data / "units.csv", dtype=str)
    units.loc[units["unit_type"].eq("community"), "population"] = "-5"
    units.to_csv(data / "units.csv", index=False)
    with pytest.raises(Exception, match="failed validation"):
        start_review(str(data), YEAR, "en", out_dir=str(tmp_path / "a"), sections=["targets"], display=False)
    s = start_review(str(data), YEAR, "en", out_dir=str(tmp_path / "b"), sections=["targets"], force=True,
                     display=False)
    assert s.review.validation_errors > 0


def test_a_year_outside_the_data_stops_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ReviewError, match=r"2030 is after the data cut-off.*no report was written"):
        run_review(BUNDLED, 2030, "en", out=out, progress=False)
    assert [p for p in out.iterdir() if not p.name.startswith(".")] == []


def test_sections_without_their_tables_say_what_to_add(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("units.csv", "compounds.csv"):
        shutil.copy(BUNDLED / name, data / name)
    s = start_review(str(data), 2020, "en", out_dir=str(tmp_path / "en"), display=False)
    req = s.review.section("requests")
    assert not req.available and "requests.csv" in req.reason
    zh = start_review(str(data), 2020, "zh", out_dir=str(tmp_path / "zh"), display=False).review.section("survey")
    assert not zh.available and "居民调查" in zh.reason and not re.search(r"[a-z]+_[a-z]+", zh.reason)


# --------------------------------------------------------------------------- disclosure that holds


@pytest.fixture(scope="module")
def small_cells(tmp_path_factory):
    """The bundled district with one community's 2021 requests cut to 3 and another's respondents to 2."""
    base = tmp_path_factory.mktemp("small")
    data = base / "data"
    shutil.copytree(BUNDLED, data)
    req = pd.read_parquet(data / "requests.parquet")
    in_2021 = req["created_at"].dt.year.eq(2021)
    c25 = req.index[in_2021 & req["community_id"].eq("C25")]
    gone = set(req.loc[c25[3:], "request_id"].astype(str))
    req.drop(index=c25[3:]).to_parquet(data / "requests.parquet", index=False)
    if (data / "events.parquet").exists():  # dispatch events of the removed requests go too
        ev = pd.read_parquet(data / "events.parquet")
        ev[~ev["request_id"].astype(str).isin(gone)].to_parquet(data / "events.parquet", index=False)
    sv = pd.read_csv(data / "survey.csv", dtype=str)
    c13 = sv.index[sv["wave"].eq(str(YEAR)) & sv["community_id"].eq("C13")]
    sv.drop(index=c13[2:]).to_csv(data / "survey.csv", index=False)
    return run_inproc(data, YEAR, "en", base / "out", sections=["targets", "requests", "survey", "index"])


def _by_unit(wb: Path, sheet: str) -> pd.DataFrame:
    return frames(wb)[sheet]


def test_no_suppressed_cell_can_be_recovered_by_subtraction(small_cells):
    s, parts, wb = small_cells
    sheets = frames(wb)
    district = sheets["03 Requests district"]
    total = float(district[(district["indicator code"] == "svc.requests") & (district["year"] == YEAR)]["value"].iloc[0])
    street_of = {str(u): str(p) for u, p in zip(s.review.ds["units"]["unit_id"], s.review.ds["units"]["parent_id"])}
    checked = 0
    for name in ("02 Indicators by unit", "04 Requests by unit"):
        t = sheets[name]
        rows = t[t["indicator code"] == "svc.requests"]
        hidden = rows[rows["value"].astype(str) == disclosure.MARK]
        visible = pd.to_numeric(rows["value"], errors="coerce").dropna()
        assert "C25" in set(hidden["unit code"].astype(str)), name  # the small cell is hidden
        # the district total minus every published community recovers only a sum of several
        assert len(hidden) >= 2 and total - visible.sum() >= disclosure.DEFAULT_K
        # and so does each street's total (published in the by-street tables of other sections)
        for street in {street_of[u] for u in hidden["unit code"].astype(str)}:
            in_street = rows[rows["unit code"].astype(str).map(street_of).eq(street)]
            assert (in_street["value"].astype(str) == disclosure.MARK).sum() != 1, (name, street)
        checked += 1
    assert checked == 2
    # a cell hidden in one table is hidden in every table that shows it
    a = sheets["02 Indicators by unit"]
    b = sheets["04 Requests by unit"]
    key = ["indicator code", "unit code"]
    both = a.merge(b, on=key, suffixes=("_a", "_b"))
    mark_a = both["value_a"].astype(str) == disclosure.MARK
    mark_b = both["value_b"].astype(str) == disclosure.MARK
    assert (mark_a == mark_b).all()


def test_no_score_rests_on_a_suppressed_cell(small_cells):
    s, parts, wb = small_cells
    sheets = frames(wb)
    hidden = set()
    for t in sheets.values():
        if {"unit code", "value"} <= set(t.columns):
            hidden |= set(t.loc[t["value"].astype(str) == disclosure.MARK, "unit code"].astype(str))
    assert {"C25", "C13"} <= hidden
    index = sheets[next(n for n in sheets if n.endswith("Composite index"))]
    scores = index[index["unit code"].astype(str).isin(hidden)]
    assert len(scores) >= 2
    assert (scores["index score"].astype(str) == disclosure.MARK).all()
    assert (scores["rank"].astype(str) == disclosure.MARK).all()
    page = visible_text(parts["index"])
    assert s.review.unit_name("C25") not in page and s.review.unit_name("C13") not in page


# --------------------------------------------------------------------------- options


def test_the_options_reach_the_review(tmp_path):
    s = start_review(str(BUNDLED), YEAR, "en", out_dir=str(tmp_path), sections=["survey"], weights="design",
                     control_group="notyettreated", cutoff="2022-01-05T08:00:00+08:00", display=False)
    first = s.show_first()
    toc = re.search(r'class="rv-toc">(.*?)</nav>', first, flags=re.S).group(1)
    assert "Residents" in toc and "Request handling" not in toc and "Targets" not in toc
    assert "design weights" in visible_text(s.show("survey"))
    provenance = htmllib.unescape(s.show("provenance"))  # a table of literal settings
    assert "2022-01-05 08:00" in provenance and "had not yet adopted it" in provenance


def test_the_hotline_section_is_the_hotline_modules_answer_with_names_for_codes(tmp_path):
    """The review's hotline section writes :func:`evaluation.hotline.review_section`'s numbers (the
    analyses of notebook 07), with unit and compound names instead of codes, the targeted problem
    of --targeted, and its full tables in the workbook; an unknown category stops the review."""
    from evaluation.dataset import load_dataset
    from evaluation.hotline import review_section

    s = start_review(str(BUNDLED), YEAR, "en", out_dir=str(tmp_path), sections=["hotline"],
                     targeted=("safety", "2021-05-01"), display=False)
    page = visible_text(s.show("hotline"))
    hs = review_section(load_dataset(BUNDLED), YEAR, targeted=("safety", "2021-05-01"), draws=500)
    keys = dict(hs.answer)
    on_time = keys["hl_a_on_time"]
    assert f"{on_time['share']} of requests were resolved within their own deadline" in page
    assert f"95% interval {on_time['low']} to {on_time['high']}" in page
    assert f"requests were {keys['hl_a_targeted']['ratio']} of their seasonal baseline" in page
    assert "campaign against safety began on 2021-05-01" in page
    top = keys["hl_a_hot"]["top"]
    comp = load_dataset(BUNDLED)["compounds"].set_index("compound_id")
    assert comp.loc[top, "name_en"] in page and f" {top}," not in page  # a name, not the code
    ranks = hs.results["ranks_year"].league("svc.three_rate_score", str(YEAR))
    assert f"{(ranks['class_std'] == 'clearly_better').sum()} of {len(ranks)}" in page
    figs = sorted(p.name for p in (tmp_path / "figures").glob("*hotline*.png"))
    assert figs == [f"annual-review-{YEAR}-en-hotline-{n}.png" for n in ("hot-spots", "ranks", "targeted")]
    wb = tmp_path / "wb.xlsx"
    s.write_workbook(wb)
    sheets = frames(wb)
    ranks_sheet = next(v for k, v in sheets.items() if k.endswith("Hotline ranks"))
    assert len(ranks_sheet) == len(ranks) and "rank, standardised" in ranks_sheet.columns
    zh = start_review(str(BUNDLED), YEAR, "zh", out_dir=str(tmp_path / "zh"), sections=["hotline"],
                      targeted=("安全隐患", "2021-05-01"), display=False)
    assert zh.review.options.targeted == ("safety", "2021-05-01")  # the category may be written in Chinese
    with pytest.raises(OptionError, match="no request of category 'noise'"):
        start_review(str(BUNDLED), YEAR, "en", out_dir=str(tmp_path / "x"), sections=["hotline"],
                     targeted=("noise", "2021-05-01"), display=False)


def test_value_formats():
    assert fmt_value("par.red_property_coverage", 0.74627) == "74.6%"
    assert fmt_value("par.red_property_coverage", 0.134, change=True) == "+13.4 pp"
    assert fmt_value("par.red_property_coverage", 0.134, "zh", change=True) == "+13.4个百分点"
    assert fmt_value("out.trust_party_org", 3.7195) == "3.72"
    assert fmt_value("sup.funding_per_community", 300000.0) == "300,000"
    assert fmt_value("svc.backlog", 1454.0, change=True) == "+1,454"
    assert fmt_value("svc.median_resolution_hours", -13.26, change=True) == "-13.3 h"
    assert fmt_value(None, float("nan")) == "–"
    assert fmt_value(None, disclosure.MARK) == disclosure.MARK


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("google-chrome") is None,
                    reason="chromium is not installed (make sysdeps installs it)")
def test_pdf_for_those_who_hand_in_paper(tmp_path):
    out = tmp_path / "out"
    res = run_review(BUNDLED, YEAR, "zh", out=out, progress=False, sections=["targets"], pdf=True)
    pdf = res.pdf.read_bytes()
    assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes)  # A4
    assert res.html.is_file() and [p.name for p in out.iterdir() if p.name.startswith(".")] == []
