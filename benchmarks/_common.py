"""What the benchmarks share: timing a child process, and the command line of a simulation study.

The benchmarks are scripts (``python benchmarks/NAME.py``), so this module sits beside them and
each adds its own folder to ``sys.path`` before importing it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stderr of one child process (the parent stays small)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{text[-3000:]}")
    return wall, usage.ru_maxrss / 1024, text


def simulation_main(description: str, one: Callable, summarise: Callable[[pd.DataFrame], pd.DataFrame], *,
                    name: str, seeds: int, per_year: int) -> None:
    """Run ``one(seed, per_year)`` over the seeds on worker processes, store the rows and print ``summarise``.

    Writes ``results/NAME.csv`` (one row per district) and ``results/NAME.json`` (the summary).
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--per-year", type=int, default=per_year, help="requests a year (bundled district: 60,000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / f"{name}.csv"))
    a = ap.parse_args()
    seed_list = list(range(a.first_seed, a.first_seed + a.seeds))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.workers) as pool:
        rows = list(pool.map(one, seed_list, [a.per_year] * len(seed_list)))
    df = pd.DataFrame(rows)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(a.out, index=False)
    summary = summarise(df)
    pd.set_option("display.width", 200)
    print(f"{len(df)} districts (seeds {seed_list[0]}-{seed_list[-1]}, {a.per_year:,} requests a year), "
          f"{time.perf_counter() - t0:.0f} s on {a.workers} workers; per district {df['seconds'].mean():.1f} s")
    print(summary.round(4).to_string(index=False))
    Path(a.out).with_suffix(".json").write_text(json.dumps(summary.to_dict(orient="records"), indent=1))
