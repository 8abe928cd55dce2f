"""Benchmark of the index's Monte Carlo uncertainty analysis (not a timed test).

Target of the index issue: 1,000 Monte Carlo draws for the 34 communities in under 5 s on a
2-core machine. Measured side by side in one run, on the bundled district's 2020 indicators:

1. ``composite.rank_uncertainty`` with a Saltelli base sample of N = 1,000: 2 N = 2,000
   independent draws for the rank intervals plus N k = 5,000 more runs for the sensitivity
   indices (7,000 index computations in all), with 200 bootstrap replicates of the indices.
2. The obvious alternative: a loop that draws the same five choices 1,000 times and calls
   ``composite.compute_index`` once per draw (pillar weights perturbed through an explicit
   weights table), i.e. 1,000 draws with no sensitivity indices.

3. The same Monte Carlo with the data error of the survey and request indicators (one more factor
   per source), and the share of the 5-95 % rank-interval width that construction choices and data
   error explain (``uncertainty_sources``: construction only, data only, both).

The ratio printed is time per index computation of the loop over that of ``rank_uncertainty``,
and the median ranks of the two are compared (they sample the same distribution, so they agree
up to Monte Carlo error). Peak memory is the process's maximum resident set size.

    python benchmarks/index_uncertainty.py
    python benchmarks/index_uncertainty.py --draws 2000 --loop-draws 300
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation import index as composite
from evaluation.dataset import load_dataset
from evaluation.index.aggregation import AGGREGATIONS
from evaluation.index.normalise import IMPUTATIONS, NORMALISATIONS
from evaluation.index.uncertainty import MC_TREATMENTS, WEIGHT_SPREAD, uncertainty_sources
from evaluation.indicators import collect_indicators

DATA = Path(__file__).resolve().parent.parent / "data" / "zhangwan-synthetic"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loop(matrix: pd.DataFrame, groups: pd.Series, draws: int, seed: int, year: int) -> np.ndarray:
    """``draws`` independent index computations with the choices drawn as rank_uncertainty does."""
    rng = np.random.default_rng(seed)
    pillars = composite.framework_of(matrix.columns)
    ranks = np.empty((draws, len(matrix)))
    for d in range(draws):
        w = 1 - WEIGHT_SPREAD + 2 * WEIGHT_SPREAD * rng.random(len(pillars))
        weights = pd.DataFrame({"id": list(pillars), "weight": w / w.sum()})
        spec = composite.IndexSpec(imputation=str(rng.choice(IMPUTATIONS)),
                                   treatment=str(rng.choice(MC_TREATMENTS)),
                                   normalisation=str(rng.choice(NORMALISATIONS)),
                                   weighting="explicit", aggregation=str(rng.choice(AGGREGATIONS)))
        ranks[d] = composite.compute_index(matrix, spec, groups=groups, weights_table=weights, year=year,
                                           pillars=pillars).rank.to_numpy()
    return ranks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000, help="Saltelli base sample N of rank_uncertainty")
    ap.add_argument("--loop-draws", type=int, default=1000, help="draws of the compute_index loop")
    ap.add_argument("--year", type=int, default=2020)
    ap.add_argument("--seed", type=int, default=2020)
    a = ap.parse_args()

    t = time.perf_counter()
    ds = load_dataset(DATA)
    table = collect_indicators(ds, a.year, "community").table
    matrix = composite.community_indicator_matrix(ds, a.year, table=table)
    m, groups = matrix.values, matrix.groups
    print(f"bundled district {a.year}: {m.shape[0]} communities x {m.shape[1]} indicators "
          f"(prepared in {time.perf_counter() - t:.1f} s, not compared)")

    composite.rank_uncertainty(m, draws=20, groups=groups, year=a.year, bootstrap=10)  # warm caches and imports
    t = time.perf_counter()
    unc = composite.rank_uncertainty(m, draws=a.draws, groups=groups, year=a.year, seed=a.seed)
    t_ours = time.perf_counter() - t
    runs = a.draws * (len(unc.sensitivity["factor"].unique()) + 2)
    print(f"== rank_uncertainty, N = {a.draws:,}: {2 * a.draws:,} independent draws for the rank intervals, "
          f"{runs:,} index computations, sensitivity indices with 200 bootstrap replicates")
    print(f"   time {t_ours:.2f} s (target: 1,000 draws for 34 communities under 5 s)")
    print(f"   peak memory so far {peak_mb():.0f} MB")

    t = time.perf_counter()
    ranks = loop(m, groups, a.loop_draws, a.seed, a.year)
    t_loop = time.perf_counter() - t
    print(f"== loop over compute_index, {a.loop_draws:,} draws, no sensitivity indices: {t_loop:.2f} s")
    per_ours, per_loop = t_ours / runs, t_loop / a.loop_draws
    print(f"   time per index computation: loop {per_loop * 1e3:.2f} ms, rank_uncertainty {per_ours * 1e3:.3f} ms; "
          f"ratio {per_loop / per_ours:.0f}x")
    print(f"   1,000 draws: loop {per_loop * 1000:.1f} s vs rank_uncertainty {t_ours * 1000 / (2 * a.draws):.2f} s "
          "(its share of the run that gives the intervals)")
    t = time.perf_counter()
    table, runs = uncertainty_sources(m, errors=matrix.errors, error_groups=matrix.error_groups(), draws=a.draws,
                                      groups=groups, year=a.year, seed=a.seed)
    print(f"== data error: three Monte Carlos of N = {a.draws:,} (construction, data, both) in "
          f"{time.perf_counter() - t:.1f} s")
    print(table.round(3).to_string(index=False))
    s = runs["both"].sensitivity.query("output == 'ranks'")[["factor", "first_order", "total"]]
    print(s.round(3).to_string(index=False))
    med_loop = np.median(ranks, axis=0)
    diff = np.abs(med_loop - unc.rank_table["median_rank"].to_numpy())
    print(f"   median ranks, loop vs rank_uncertainty: mean |difference| {diff.mean():.2f}, max {diff.max():.1f} "
          "(Monte Carlo error only)")
    print(f"   peak memory {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
