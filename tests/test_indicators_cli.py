"""`evaluation indicators DIR --year Y --level L --out FILE` and the provider registry."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evaluation import indicators
from evaluation.cli import main
from evaluation.results import INDICATOR_COLUMNS, indicator_frame

FIXTURE = Path(__file__).parent / "fixtures" / "minimal"


def test_csv_output_is_the_tidy_table(tmp_path, capsys):
    out = tmp_path / "ind.csv"
    assert main(["indicators", str(FIXTURE), "--year", "2020", "--level", "community", "--out", str(out)]) == 0
    t = pd.read_csv(out, dtype={"unit_id": "str", "period": "str"})
    assert set(INDICATOR_COLUMNS) <= set(t.columns) and {"pillar", "name_en", "name_zh"} <= set(t.columns)
    assert set(t["level"]) == {"community"} and set(t["unit_id"]) == {"C01", "C02"}
    # fixture: C01 has P01 (branch in force) and P02 (branch ended 2019-12-31)
    r = t[(t["indicator"] == "org.compound_branch_coverage") & (t["unit_id"] == "C01")].iloc[0]
    assert (r["numerator"], r["denominator"], r["period"]) == (1, 2, "2020-12-31")
    q = t[(t["indicator"] == "sup.worker_quota_fill") & (t["unit_id"] == "C01")].iloc[0]
    assert (q["numerator"], q["denominator"]) == (17, 18)  # staffing.csv: quota 18, hired 17
    assert "wrote" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*part"))  # atomic write leaves no temporary file


def test_xlsx_has_one_sheet_per_pillar_with_bilingual_headers(tmp_path):
    out = tmp_path / "ind.xlsx"
    assert main(["indicators", str(FIXTURE), "--year", "2020", "--out", str(out)]) == 0
    wb = openpyxl.load_workbook(out, read_only=True)
    # sheets follow the catalogue's pillar order; the fixture has requests, so Service comes second
    assert wb.sheetnames[:3] == ["Organisation 组织体系", "Service 服务效能", "Democracy 民主协商"]
    assert "Participation 多元参与" in wb.sheetnames and "Support 保障支撑" in wb.sheetnames
    header = [c.value for c in next(wb["Support 保障支撑"].iter_rows(max_row=1))]
    assert "value / 值" in header and "numerator / 分子" in header and "名称 / 中文名称" in header
    rows = list(wb["Participation 多元参与"].iter_rows(min_row=2, values_only=True))
    assert all(r[0].startswith("par.") for r in rows) and {r[3] for r in rows} == {"district"}


def test_user_errors_exit_1_with_one_sentence(tmp_path, capsys):
    assert main(["indicators", str(tmp_path / "nope"), "--year", "2020", "--out", str(tmp_path / "x.csv")]) == 1
    assert "no such dataset folder" in capsys.readouterr().err
    assert main(["indicators", str(FIXTURE), "--year", "2020", "--out", str(tmp_path / "x.txt")]) == 1
    err = capsys.readouterr().err
    assert "--out must end in .csv, .parquet or .xlsx" in err and "Traceback" not in err
    assert not (tmp_path / "x.txt").exists()


def test_providers_plug_in_and_those_without_data_are_skipped():
    def fake(ds, year, level):
        return indicator_frame([{"indicator": "svc.backlog", "level": level, "unit_id": "D01", "period": str(year),
                                 "value": 3.0, "method": "test provider"}])

    providers = {"registry": indicators.registry_provider, "service": fake,
                 "outcome": lambda ds, year, level: None, "declines": lambda ds, year, level: None}
    from evaluation.dataset import load_dataset

    res = indicators.collect_indicators(load_dataset(FIXTURE), 2020, "district", providers)
    assert res.providers_run == ["registry", "service"]
    assert res.providers_skipped == ["outcome", "declines"]
    assert res.table.loc[res.table["indicator"].eq("svc.backlog"), "value"].tolist() == [3.0]
    assert any("lacks the tables" in n for n in res.notes)


def test_default_providers_are_functions_not_names():
    # no dispatch by string: every provider is the function itself
    assert all(callable(p) for p in indicators.PROVIDERS.values())
    assert set(indicators.PROVIDERS) == {"registry", "service", "outcome"}


def test_survey_outcomes_join_when_the_survey_has_them(bundled_dir):
    if not (bundled_dir / "datapackage.json").exists():
        pytest.skip("the bundled district is not built")
    from evaluation.dataset import load_dataset

    ds = load_dataset(bundled_dir)
    res = indicators.collect_indicators(ds, 2020, "district",
                                        {"outcome": indicators.survey_provider})
    assert set(res.table["indicator"]) == {"out.resident_satisfaction", "out.trust_party_org", "out.perceived_improvement"}
    assert res.table["ci_low"].notna().all()  # survey rows keep their design-based intervals
    # no wave 2019 in the bundled survey -> skipped, not an error
    assert indicators.survey_provider(ds, 1999, "district") is None
    # the minimal fixture's survey asks other items: skipped
    assert indicators.survey_provider(load_dataset(FIXTURE), 2020, "district") is None
