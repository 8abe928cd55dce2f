"""Speed of the hotline analytics: seconds per analysis on the bundled district and on a ten-times larger one.

Each analysis of :mod:`evaluation.hotline` runs on the flagged log of the bundled district (178,624
requests) and of a district generated with ten times the requests (``--scale``), both already
loaded, so the times are of the analyses alone. The ratio of the two times says how each scales
with the log (the grouped pass and the Kaplan-Meier estimates are linear in requests; the rankings'
draws and the hot-spot models grow with units and places, not requests).

    nice python benchmarks/hotline.py [--scale 10]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "results" / "hotline.txt"


def analyses():
    from evaluation import hotline

    return {
        "cycle_indicators(street, year)": lambda ds: hotline.cycle_indicators(ds, "street", "year"),
        "on_time(street, year)": lambda ds: hotline.on_time(ds, "street", "year"),
        "on_time(response)": lambda ds: hotline.on_time(ds, "street", "year", what="response"),
        "monthly_rankings(community, month)": lambda ds: hotline.monthly_rankings(ds, "community", "month"),
        "repeat_rates(street, year)": lambda ds: hotline.repeat_rates(ds, "street", "year"),
        "hot_spots(compound)": lambda ds: hotline.hot_spots(ds),
        "hot_spots(building)": lambda ds: hotline.hot_spots(ds, place="building"),
        "targeted_problem(parking)": lambda ds: hotline.targeted_problem(ds, "parking_traffic", "2021-04-01"),
        "dispatch_measures(street)": lambda ds: hotline.dispatch_measures(ds, level="street"),
    }


def timed(ds, repeat: int = 2) -> dict[str, float]:
    """Best of ``repeat`` runs of each analysis (seconds)."""
    out = {}
    for name, f in analyses().items():
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            f(ds)
            best = min(best, time.perf_counter() - t0)
        out[name] = best
    return out


def main() -> None:
    warnings.simplefilter("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=10, help="requests of the larger district, in bundled volumes")
    a = ap.parse_args()
    from evaluation.dataset import load_dataset
    from evaluation.dataset.load import Dataset
    from evaluation.requests import dataset_log
    from evaluation.synth import DEFAULT_REQUESTS_PER_YEAR, generate_district

    bundled = load_dataset(ROOT / "data" / "zhangwan-synthetic")
    dataset_log(bundled)
    bundled["events"]
    small = timed(bundled)
    t0 = time.perf_counter()
    tables, truth, meta = generate_district(requests_per_year=a.scale * DEFAULT_REQUESTS_PER_YEAR)
    big = Dataset.from_tables(tables, timezone=meta["timezone"], cutoff=meta["cutoff"])
    dataset_log(big)
    gen = time.perf_counter() - t0
    large = timed(big, repeat=1)
    n_small, n_big = len(bundled["requests"]), len(big["requests"])
    df = pd.DataFrame({"bundled (s)": small, f"x{a.scale} (s)": large})
    df["ratio"] = df.iloc[:, 1] / df.iloc[:, 0]
    text = (f"requests: bundled {n_small:,}, larger {n_big:,} (x{n_big / n_small:.1f}; generated and loaded in "
            f"{gen:.0f} s)\n" + df.round(3).to_string())
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
