"""Benchmark of the annual review as a user runs it: ``evaluation review DIR --year Y --lang L``.

Not a timed test: it prints times, stage times and peak memory. For each language, ``--repeats``
interleaved runs of the command (a child process each), beside two floors measured in the same
run: the start-up of the command line (``evaluation review --help``), and ``evaluation indicators``
on the same data and year (the indicator table every section starts from). The stage times are
the review's own progress lines (the second at which each section started). The ratio
review / indicators says what the review adds on top of computing its numbers once.

Usage::

    python benchmarks/review.py                       # bundled district, 2021, en and zh, 3 rounds
    python benchmarks/review.py --data DIR --year 2020 --langs zh --repeats 1
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run  # noqa: E402 - the benchmarks folder is put on the path first

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "evaluation.cli"]


def stages(stderr: str) -> list[tuple[str, int]]:
    """(section, second it started) from the progress lines ``[3/12] Request handling (6 s)``."""
    return [(m.group(1), int(m.group(2))) for m in re.finditer(r"\[\d+/\d+\] (.+?) \((\d+) s\)", stderr)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "zhangwan-synthetic"), help="dataset folder")
    ap.add_argument("--year", type=int, default=2021, help="year reviewed (default 2021)")
    ap.add_argument("--langs", default="en,zh", help="languages, comma-separated (default en,zh)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    args = ap.parse_args()
    print(f"annual review of {Path(args.data).name}, {args.year}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="review-bench-") as work:
        cmds = {"help": [*CLI, "review", "--help"],
                "indicators": [*CLI, "indicators", args.data, "--year", str(args.year), "--out",
                               str(Path(work) / "ind.csv")]}
        for lang in args.langs.split(","):
            cmds[f"review {lang}"] = [*CLI, "review", args.data, "--year", str(args.year), "--lang", lang, "--out",
                                      str(Path(work) / lang)]
        runs = {k: [] for k in cmds}
        for _ in range(args.repeats):
            for k, cmd in cmds.items():
                runs[k].append(run(cmd))
        med = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
        for k in cmds:
            rss = max(r[1] for r in runs[k])
            print(f"  {k:<14} {med[k]:6.1f} s  (median of {args.repeats})   peak RSS {rss:6,.0f} MB")
        for k in cmds:
            if k.startswith("review"):
                print(f"  {k}: {med[k] / med['indicators']:.1f}x the indicator table alone; started at: "
                      + ", ".join(f"{name} {sec} s" for name, sec in stages(runs[k][-1][2])))


if __name__ == "__main__":
    main()
