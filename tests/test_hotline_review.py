"""The annual review's hotline section (evaluation.hotline.review) and the ``evaluation hotline`` command."""

from __future__ import annotations

import re
import string

import pandas as pd
import pytest

from evaluation import catalog, cli
from evaluation.dataset import load_dataset
from evaluation.dataset.privacy import scan_text
from evaluation.hotline.review import KEYS, message, review_section


@pytest.fixture(scope="module")
def ds(bundled_dir):
    return load_dataset(bundled_dir)


@pytest.fixture(scope="module")
def section(ds):
    return review_section(ds, 2021, targeted=("parking_traffic", "2021-04-01"), draws=300)


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_key_has_both_languages_with_the_same_placeholders():
    assert set(KEYS) <= set(catalog.MESSAGES)
    for key in KEYS:
        val = catalog.MESSAGES[key]
        assert set(val) == {"en", "zh"} and val["en"] and re.search(r"[\u4e00-\u9fff]", val["zh"]), key
        assert _fields(val["en"]) >= _fields(val["zh"]), key  # zh may leave a word out, never add one


def test_section_content_in_both_languages(section):
    used = [section.question[0], *(k for k, _ in section.answer), *(k for k, _ in section.caveats),
            *(t.title[0] for t in section.tables), *(v[0][0] for v in section.figures.values())]
    assert set(used) <= set(KEYS)
    for lang in ("en", "zh"):
        text = section.text(lang)
        assert len(text["answer"]) == 7 and not text["not_assessed"]
        for s in text["question"] + text["answer"] + text["caveats"]:
            assert "{" not in s and s.strip()
    en = " ".join(section.text("en")["answer"])
    assert "6 compounds had more requests than expected" in en
    assert "0.70 of their seasonal baseline" in en
    assert {t.key for t in section.tables} == {"hotline_cycle", "hotline_on_time", "hotline_repeats", "hotline_ranks",
                                                "hotline_hot_spots", "hotline_targeted", "hotline_dispatch"}
    for t in section.tables:  # every table carries its count for disclosure control
        assert t.count_column in t.frame.columns, t.key


def test_section_publishes_no_personal_identifier(section, ds):
    text = " ".join(sum(section.text("en").values(), []))
    for t in section.tables:
        text += t.frame.to_csv(index=False)
    assert scan_text(text) == []
    keys = ds["requests"]["caller_key"].dropna().unique()[:2000]
    assert not any(k in text for k in keys)


def test_section_figures_draw(section):
    import matplotlib.pyplot as plt

    for name in section.figures:
        fig = section.figure(name)
        assert fig.axes and fig.axes[0].get_title()
        plt.close(fig)


def test_not_assessed_without_caller_keys_or_events(ds):
    from evaluation.dataset.load import Dataset

    tables = {k: ds[k] for k in ("units", "compounds", "compound_milestones", "buildings")}
    tables["requests"] = ds["requests"].drop(columns=["caller_key"])
    sec = review_section(Dataset.from_tables(tables, cutoff=ds.cutoff), 2021, level="street", draws=200)
    na = " ".join(sec.text("en")["not_assessed"])
    assert "Repeat requests: not assessed (the request log records no caller key)" in na
    assert "no events table" in na
    assert message("hl_na", "zh", what="x", why="y") == "x：未评估（y）。"


@pytest.mark.parametrize("analysis, extra, indicator", [
    ("rankings", ["--level", "street", "--period", "year"], "svc.three_rate_score"),
    ("targeted", ["--category", "parking_traffic", "--campaign", "2021-04-01"], "svc.targeted_volume_ratio"),
    ("repeats", ["--year", "2021"], "svc.repeat_rate"),
])
def test_cli_writes_the_tidy_table(ds, tmp_path, monkeypatch, capsys, analysis, extra, indicator):
    import evaluation.dataset.load

    monkeypatch.setattr(evaluation.dataset.load, "load_dataset", lambda path, **kw: ds)
    out = tmp_path / "hotline.csv"
    assert cli.main(["hotline", "data/zhangwan-synthetic", "--analysis", analysis, *extra, "--out", str(out)]) == 0
    t = pd.read_csv(out)
    assert indicator in set(t["indicator"])
    assert f"of {analysis} to" in capsys.readouterr().out
    if analysis == "repeats":
        assert set(t["period"].astype(str)) == {"2021"}


def test_cli_refuses_what_it_cannot_do(tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert cli.main(["hotline", "data/zhangwan-synthetic", "--analysis", "targeted", "--out", str(out)]) == 1
    assert "--category" in capsys.readouterr().err
    assert cli.main(["hotline", "data/zhangwan-synthetic", "--analysis", "rankings", "--level", "district",
                     "--out", str(out)]) == 1
    assert "street or community" in capsys.readouterr().err
    assert not out.exists()
