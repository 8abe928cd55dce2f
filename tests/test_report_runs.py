"""The annual reviews generated once per test session (shared by test_report.py and test_browser.py).

``evaluation review`` runs as a subprocess, exactly as a user runs it: English and Chinese for 2021
on the bundled district, and English a second time into another folder (for the determinism
test). The three runs go in parallel to keep the wall time down. How long a review takes is
measured by ``benchmarks/review.py``, not asserted here.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "zhangwan-synthetic"
YEAR = 2021


@dataclass
class Run:
    lang: str
    out: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def html(self) -> Path:
        return self.out / f"annual-review-{YEAR}-{self.lang}.html"

    @property
    def xlsx(self) -> Path:
        return self.out / f"annual-review-{YEAR}-{self.lang}.xlsx"

    def check(self) -> Run:
        if self.returncode != 0:
            pytest.fail(f"evaluation review --lang {self.lang} failed (exit {self.returncode}): {self.stderr[-2000:]}")
        return self


_RUNS: dict[str, Run] = {}


def review_runs(base: Path) -> dict[str, Run]:
    """Run (once per process) the reviews ``en``, ``zh`` and ``en_again`` under ``base``."""
    if _RUNS:
        return _RUNS
    jobs = {}
    for key, lang in (("en", "en"), ("zh", "zh"), ("en_again", "en")):
        out = base / key
        cmd = [sys.executable, "-m", "evaluation.cli", "review", str(BUNDLED), "--year", str(YEAR), "--lang", lang,
               "--out", key]  # relative to the working directory, as `make review` gives it
        jobs[key] = (lang, out, time.monotonic(),
                     subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=base))
    for key, (lang, out, t0, proc) in jobs.items():
        stdout, stderr = proc.communicate(timeout=600)
        _RUNS[key] = Run(lang, out, proc.returncode, stdout, stderr, time.monotonic() - t0)
    return _RUNS


@pytest.fixture(scope="session")
def review(tmp_path_factory) -> dict[str, Run]:
    return review_runs(tmp_path_factory.mktemp("reviews"))
