"""``evaluation index`` options of the index issue: entropy / AHP weights, data error off, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evaluation.cli import main

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "minimal"


def test_cli_entropy_weights_and_ahp_file(tmp_path, capsys):
    out = tmp_path / "index.csv"
    assert main(["index", str(DATA), "--year", "2020", "--draws", "10", "--weighting", "entropy", "--no-data-error",
                 "--out", str(out)]) == 0
    t = pd.read_csv(out)
    assert "entropy weights" in t.loc[t["indicator"].eq("index.governance"), "method"].iloc[0]
    assert main(["index", str(DATA), "--year", "2020", "--weighting", "ahp", "--out", str(out)]) == 1
    assert "--weighting ahp and --ahp FILE go together" in capsys.readouterr().err
