"""The annual review: outputs, languages, determinism, disclosure, identifiers, errors.

The reviews themselves are generated once per session (``test_report_runs.review_runs``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evaluation import catalog, disclosure
from evaluation.dataset import privacy
from evaluation.report import ReviewError, run_review, template_path
from evaluation.report.sections import SECTIONS, Review, fmt_value
from test_report_runs import BUNDLED, ROOT, YEAR, review_runs

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="session")
def review(tmp_path_factory):
    return review_runs(tmp_path_factory.mktemp("reviews"))


def cells(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out = {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    wb.close()
    return out


def test_outputs_exist_and_no_staging_left(review):
    for key in ("en", "zh"):
        run = review[key].check()
        assert run.html.is_file() and run.xlsx.is_file()
        figs = sorted((run.out / "figures").iterdir())
        stems = {f.stem for f in figs}
        assert {f"annual-review-{YEAR}-{run.lang}-{n}" for n in ("scorecard", "requests", "red-property", "survey",
                                                               "event-study")} <= stems
        assert {f.suffix for f in figs} == {".png", ".svg"}
        assert [p.name for p in run.out.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_progress_per_section_on_stderr(review):
    err = review["en"].check().stderr
    for key in ("scorecard", "requests", "survey", "impact", "summary"):
        assert catalog.message(f"rv_{key}", "en") in err
    assert re.search(r"\[\d+/\d+\] Scorecard against targets", err)
    assert "wrote" in review["en"].stdout


def test_html_has_no_code_and_all_sections_in_both_languages(review):
    for key in ("en", "zh"):
        run = review[key]
        text = run.html.read_text(encoding="utf-8")
        assert "review.show(" not in text and "import warnings" not in text  # no code cells
        assert 'src="http' not in text  # self-contained: nothing fetched from the network
        for sec in SECTIONS:
            assert catalog.message(f"rv_{sec}", run.lang) in text
        assert text.count('src="data:image/png;base64') >= 5
    zh = review["zh"].html.read_text(encoding="utf-8")
    headings = re.findall(r"<h[12][^>]*>(.*?)</h[12]>", zh, flags=re.S)
    assert headings and all(CJK.search(h) for h in headings)
    # the executive summary comes first although it is computed last
    en = review["en"].html.read_text(encoding="utf-8")
    assert en.index("Executive summary") < en.index("Scorecard against targets")


def test_executive_summary_is_written_from_the_numbers(review):
    en = review["en"].html.read_text(encoding="utf-8")
    # the scorecard of 2021 (registry counts): red-property coverage 74.6 % of compounds against the
    # article's 60 % target (catalog.yaml); the counts sentence adds up to the scorecard rows
    m = re.search(r"Of (\d+) indicators with a target, (\d+) met it and (\d+) did not", en)
    assert m and int(m.group(2)) + int(m.group(3)) == int(m.group(1))
    assert "cannot be told apart" in en
    assert "Composite index" in en and "rank" in en.lower()


def test_workbook_has_every_table_with_bilingual_headers(review):
    wb = cells(review["en"].xlsx)
    toc = wb["00 contents"]
    assert toc[0] == ("sheet / 工作表", "title / 标题")
    assert len(wb) == len(toc)  # contents + one sheet per listed table
    for sheet, rows in wb.items():
        if sheet == "00 contents":
            continue
        header = rows[0]
        assert any("/" in str(h) and CJK.search(str(h)) for h in header), (sheet, header)
    assert ("value / 值" in wb["01 scorecard"][0])


def test_same_inputs_give_the_same_tables(review):
    a, b = cells(review["en"].xlsx), cells(review["en_again"].check().xlsx)
    assert a.keys() == b.keys()
    for sheet in a:
        assert a[sheet] == b[sheet], sheet
    # the run time stamp is kept out of the compared outputs
    flat = " ".join(str(v) for rows in a.values() for r in rows for v in r)
    assert "Run at" not in flat and not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", flat)


def _rests_on_people(indicator) -> bool:
    # survey outcomes rest on respondents, service indicators on requests; registry rows count
    # compounds, buildings or communities (n is not people there) and impact rows count compounds
    try:
        return catalog.get(str(indicator)).pillar in ("outcome", "service")
    except KeyError:
        return False


def test_no_published_cell_rests_on_fewer_than_k(review):
    checked = 0
    for key in ("en", "zh"):
        for sheet, rows in cells(review[key].xlsx).items():
            header = [str(h) for h in rows[0]]
            if "n / 样本数" not in header or "indicator / 指标编码" not in header:
                continue
            j, i = header.index("n / 样本数"), header.index("indicator / 指标编码")
            ns = [r[j] for r in rows[1:] if _rests_on_people(r[i]) and isinstance(r[j], (int, float))]
            checked += len(ns)
            assert all(n == 0 or n >= disclosure.DEFAULT_K for n in ns), sheet
    assert checked > 100  # survey and request rows by community were checked


def test_no_personal_identifiers_in_any_output(review):
    from evaluation.dataset import load_dataset

    names = privacy.person_names(load_dataset(BUNDLED))  # the synthetic data have no names: empty
    paths = [review[k].out for k in ("en", "zh")] + [template_path(), ROOT / "notebooks"]
    if (ROOT / "figures").is_dir():
        paths.append(ROOT / "figures")
    assert privacy.scan_paths(paths, names) == []


def test_chinese_figure_text_is_chinese(review):
    svg = (review["zh"].out / "figures" / f"annual-review-{YEAR}-zh-scorecard.svg").read_text(encoding="utf-8")
    texts = re.findall(r"<text[^>]*>([^<]+)</text>", svg)
    assert any(CJK.search(t) for t in texts)  # svg.fonttype none: the labels are text, in the CJK font
    assert "WenQuanYi" in svg or "Noto" in svg or "Source Han" in svg or "Droid" in svg


# --------------------------------------------------------------------------- errors (no report left behind)


def test_missing_required_table_is_named_and_nothing_written(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(BUNDLED / "units.csv", data / "units.csv")  # a plain folder: tables by file name
    out = tmp_path / "out"
    with pytest.raises(ReviewError, match=r"no compounds table.*compounds\.csv"):
        run_review(data, YEAR, "en", out=out, progress=False)
    assert not out.exists() or list(out.iterdir()) == []


def test_failure_inside_the_notebook_leaves_no_report(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ReviewError, match=r"stopped in the load section.*2030 is after the data cut-off.*no report"):
        run_review(BUNDLED, 2030, "en", out=out, progress=False)
    assert list(out.iterdir()) == []


def test_section_without_its_table_says_what_to_add(tmp_path):
    from evaluation.dataset import Dataset

    units = pd.read_csv(BUNDLED / "units.csv", dtype=str)
    ds = Dataset.from_tables({"units": units}, path=tmp_path)
    rv = Review(ds, YEAR, "en", out_dir=tmp_path)
    sec = rv.section("requests")
    assert not sec.available and "no requests table" in sec.reason and "requests.csv" in sec.reason
    idx = rv.section("index")
    assert not idx.available and "no compounds table" in idx.reason
    zh = Review(ds, YEAR, "zh", out_dir=tmp_path).section("survey")
    assert not zh.available and "survey" in zh.reason and CJK.search(zh.reason)


def test_value_formats():
    assert fmt_value("par.red_property_coverage", 0.74627) == "74.6%"
    assert fmt_value("par.red_property_coverage", 0.134, change=True) == "+13.4 pp"
    assert fmt_value("out.trust_party_org", 3.7195) == "3.72"
    assert fmt_value("sup.funding_per_community", 300000.0) == "300,000"
    assert fmt_value(None, float("nan")) == "–"
    assert fmt_value(None, disclosure.MARK) == disclosure.MARK
