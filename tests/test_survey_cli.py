"""``evaluation survey DIR --wave Y --item ITEM [--by COL] --out FILE`` end to end.

Runs the CLI entry point on a copy of the bundled district's survey tables (only the tables the
sub-command reads, so the test stays fast) and checks the written file against the tidy table
contract (:data:`evaluation.results.INDICATOR_COLUMNS` plus the survey's extra columns) and
against the same estimate computed through the Python API.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.results import INDICATOR_COLUMNS
from evaluation.survey import EXTRA_COLUMNS

TABLES = ("survey", "survey_codebook", "units", "compounds", "population")


@pytest.fixture(scope="module")
def survey_dir(bundled_dir, tmp_path_factory):
    if not (bundled_dir / "survey.csv").exists():
        pytest.skip("bundled synthetic district not generated")
    d = tmp_path_factory.mktemp("zw_survey")
    for t in TABLES:
        shutil.copy(bundled_dir / f"{t}.csv", d / f"{t}.csv")
    return d


def test_cli_writes_the_tidy_table_by_street(survey_dir, tmp_path, capsys):
    out = tmp_path / "sat.csv"
    code = main(["survey", str(survey_dir), "--wave", "2020", "--item", "out.resident_satisfaction",
                 "--by", "street", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    t = pd.read_csv(out)
    assert list(t.columns) == list(INDICATOR_COLUMNS) + list(EXTRA_COLUMNS)
    assert list(t["unit_id"]) == ["S01", "S02", "S03", "S04"] and (t["level"] == "street").all()
    assert (t["indicator"] == "out.resident_satisfaction").all() and (t["period"] == 2020).all()
    assert ((t["ci_low"] < t["value"]) & (t["value"] < t["ci_high"])).all()
    assert not any("respondent" in c for c in t.columns)  # no identifier reaches the output
    # the same numbers as the Python API on the full dataset loader
    from evaluation.dataset import load_dataset
    from evaluation.survey import survey_wave

    api = survey_wave(load_dataset(survey_dir), 2020).mean("satisfaction_index", by="stratum").table
    assert t["value"].to_numpy() == pytest.approx(api["value"].to_numpy(), rel=1e-12)
    assert t["se"].to_numpy() == pytest.approx(api["se"].to_numpy(), rel=1e-12)


def test_cli_binary_item_gives_a_district_proportion(survey_dir, tmp_path):
    out = tmp_path / "kbh.csv"
    assert main(["survey", str(survey_dir), "--wave", "2021", "--item", "knows_building_head", "--out", str(out)]) == 0
    t = pd.read_csv(out)
    assert len(t) == 1 and t["unit_id"].iloc[0] == "ZW" and t["statistic"].iloc[0] == "proportion"
    assert 0 < t["ci_low"].iloc[0] < t["value"].iloc[0] < t["ci_high"].iloc[0] < 1


def test_cli_bad_item_exits_1_with_one_sentence(survey_dir, tmp_path, capsys):
    out = tmp_path / "x.csv"
    code = main(["survey", str(survey_dir), "--wave", "2020", "--item", "sat_overal", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert "'sat_overal'" in err and "sat_overall" in err  # names the bad item and the valid ones
    assert len(err.splitlines()) == 1 and "Traceback" not in err and err.endswith(")")
    assert not out.exists()


def test_cli_bad_wave_and_group(survey_dir, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["survey", str(survey_dir), "--wave", "2030", "--item", "sat_overall", "--out", str(out)]) == 1
    assert "no respondents in wave 2030" in capsys.readouterr().err
    assert main(["survey", str(survey_dir), "--wave", "2020", "--item", "sat_overall", "--by", "floor",
                 "--out", str(out)]) == 1
    assert "no column floor to group by" in capsys.readouterr().err
    assert not out.exists()


def test_numeric_category_matches_float_items():
    # Regression: a Float64 0/1 item holds 1.0; category=1 must match it (the CLI found no ones before).
    from evaluation.survey import SurveyData, SurveyDesign

    df = pd.DataFrame({"stratum": ["a"] * 4 + ["b"] * 4, "psu": [str(i) for i in range(8)], "weight": 1.0,
                       "y": pd.array([1, 0, 1, None, 0, 0, 1, 1], dtype="Float64")})
    res = SurveyData(df, SurveyDesign(fpc=None)).proportion("y", 1).table.iloc[0]
    assert res["value"] == pytest.approx(4 / 7) and res["n"] == 7
    tot = SurveyData(df, SurveyDesign(fpc=None)).total("y", category=0).table.iloc[0]
    assert tot["value"] == pytest.approx(3)


def test_cli_calibrate_and_replicates_match_the_api(survey_dir, tmp_path, capsys):
    from evaluation.dataset import load_dataset
    from evaluation.survey import as_replicate, calibrate_to_registry, survey_wave

    out = tmp_path / "cal.csv"
    code = main(["survey", str(survey_dir), "--wave", "2020", "--item", "sat_overall", "--by", "street",
                 "--calibrate", "--replicates", "JKn", "--out", str(out)])
    msg = capsys.readouterr()
    assert code == 0, msg.err
    assert "JKn replicate weights (60 replicates)" in msg.out and "calibrated to the registry" in msg.out
    t = pd.read_csv(out)
    assert list(t.columns) == list(INDICATOR_COLUMNS) + list(EXTRA_COLUMNS)
    assert t["method"].str.contains("JKn replicate weights").all() and t["method"].str.contains("calibrated").all()
    ds = load_dataset(survey_dir)
    rep = as_replicate(survey_wave(ds, 2020), "JKn")
    api = calibrate_to_registry(ds, rep, 2020).survey.mean("sat_overall", by="stratum").table
    assert t["value"].to_numpy() == pytest.approx(api["value"].to_numpy(), rel=1e-12)
    assert t["se"].to_numpy() == pytest.approx(api["se"].to_numpy(), rel=1e-12)
    assert (t["df"] == 56).all()  # degf of 60 replicates in 4 strata


def test_cli_replicate_choices_and_unpairable_brr(survey_dir, tmp_path, capsys):
    out = tmp_path / "x.csv"
    with pytest.raises(SystemExit):
        main(["survey", str(survey_dir), "--wave", "2020", "--item", "sat_overall", "--replicates", "JK3",
              "--out", str(out)])
    capsys.readouterr()
    code = main(["survey", str(survey_dir), "--wave", "2020", "--item", "sat_overall", "--replicates", "BRR",
                 "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "even number of PSUs" in err and "S01 with 15" in err and len(err.splitlines()) == 1
    assert not out.exists()
    boot = tmp_path / "boot.csv"
    assert main(["survey", str(survey_dir), "--wave", "2020", "--item", "sat_overall", "--replicates", "bootstrap",
                 "--seed", "3", "--out", str(boot)]) == 0
    first = pd.read_csv(boot)["se"].iloc[0]
    assert main(["survey", str(survey_dir), "--wave", "2020", "--item", "sat_overall", "--replicates", "bootstrap",
                 "--seed", "3", "--out", str(boot)]) == 0
    assert pd.read_csv(boot)["se"].iloc[0] == first  # the seed makes the bootstrap reproducible
