"""Empirical coverage of the nominal 95 % design-based intervals for street means.

Builds a finite population shaped like the synthetic district's survey frame (4 streets =
strata; compounds with 40-400 households, compound effects; 1-4 adults per household; a 1-5
item with compound and household clustering), then redraws the survey many times with the
bundled design (per street: 15 compounds by SRS, 25 households by SRS in each, one adult per
household, weight = N_c/15 * M_i/25 * adults), estimates street means with
``evaluation.survey.SurveyData`` and counts how often the 95 % interval covers the true
finite-population mean. Target: between 93 % and 97 %.

Each redraw is estimated twice: with the design weights, and with the weights calibrated (linear,
GREG; ``evaluation.survey.calibrate``) to the population's adults and households per street (the
registry margins a district has: the household share of a respondent is one over its adults), with
the calibration-residual variance.

    python benchmarks/survey_coverage.py            # 200 redraws (about a minute on a busy 2-core machine)
    python benchmarks/survey_coverage.py --redraws 1000   # about three minutes

The Monte Carlo standard error of a coverage share c from R redraws x S streets is
sqrt(c (1 - c) / (R S)) (streets are independent strata, so their intervals are independent
within a redraw); with 200 redraws it is about 0.008, with 1000 about 0.0035. Target: the
coverage within two Monte Carlo SE of 0.95 and inside 0.93-0.97.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from evaluation.survey import SurveyData, SurveyDesign, calibrate


def build_population(rng: np.random.Generator, streets: int = 4) -> pd.DataFrame:
    rows = []
    for s in range(streets):
        n_comp = int(rng.integers(60, 110))
        street_effect = rng.normal(0, 0.3)
        for c in range(n_comp):
            hh = int(rng.integers(40, 400))
            comp_effect = rng.normal(0, 0.45)
            adults = rng.integers(1, 5, hh)
            hh_effect = rng.normal(0, 0.4, hh)
            for h in range(hh):
                latent = 3.2 + street_effect + comp_effect + hh_effect[h] + rng.normal(0, 0.9, adults[h])
                y = np.clip(np.rint(latent), 1, 5)
                rows.append((f"S{s + 1:02d}", f"S{s + 1:02d}X{c:03d}", f"S{s + 1:02d}X{c:03d}H{h:03d}", n_comp, hh,
                             adults[h], y))
    df = pd.DataFrame(rows, columns=["stratum", "psu", "respondent_id", "fpc", "fpc2", "adults", "y"])
    return df


def draw(pop_hh: pd.DataFrame, rng: np.random.Generator, compounds: int = 15, households: int = 25,
         _cache: dict = {}) -> pd.DataFrame:  # noqa: B006 - per-population index cache
    key = id(pop_hh)
    if key not in _cache:
        by_street: dict[str, list[np.ndarray]] = {}
        for (street, _), ix in pop_hh.groupby(["stratum", "psu"]).indices.items():
            by_street.setdefault(street, []).append(np.asarray(ix))
        # offsets into one flat array of adults' answers, for drawing one adult per household
        sizes = pop_hh["adults"].to_numpy()
        flat = np.concatenate([np.asarray(v, dtype=float) for v in pop_hh["y"]])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        _cache[key] = (by_street, sizes, flat, starts)
    by_street, sizes, flat, starts = _cache[key]
    rows = []
    for psus in by_street.values():
        for k in rng.choice(len(psus), compounds, replace=False):
            idx = psus[k]
            rows.append(rng.choice(idx, min(households, len(idx)), replace=False))
    rows = np.concatenate(rows)
    take = pop_hh.iloc[rows].drop(columns=["y"]).reset_index(drop=True)
    pick = starts[rows] + rng.integers(0, sizes[rows])
    m = take.groupby("psu")["psu"].transform("size").to_numpy()
    return take.assign(y=flat[pick], weight=take["fpc"] / compounds * take["fpc2"] / m * take["adults"])


def calibrated(sd: SurveyData, adults: dict[str, float], households: dict[str, float]) -> SurveyData:
    """The survey calibrated to adults and households per street (linear calibration, GREG)."""
    data = sd.data.copy()
    totals: dict[str, object] = {"stratum": adults}
    for street, total in households.items():
        data[f"households_{street}"] = np.where(data["stratum"] == street, 1.0 / data["adults"], 0.0)
        totals[f"households_{street}"] = total
    return calibrate(sd.with_data(data), totals).survey


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redraws", type=int, default=200)
    p.add_argument("--seed", type=int, default=20201)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    pop = build_population(rng)
    # true finite-population means over adults
    long = pop.explode("y")
    long["y"] = long["y"].astype(float)
    truth = long.groupby("stratum")["y"].mean()
    adults = {s: float(v) for s, v in pop.groupby("stratum")["adults"].sum().items()}
    households = {s: float(v) for s, v in pop.groupby("stratum").size().items()}
    design = SurveyDesign.zhangwan()
    weights = ("design", "calibrated")
    covered = {w: {s: 0 for s in truth.index} for w in weights}
    widths = {w: [] for w in weights}
    g_range = [np.inf, -np.inf]
    t0 = time.perf_counter()
    for _ in range(args.redraws):
        sample = draw(pop, rng)
        sd = SurveyData(sample, design)
        cal = calibrated(sd, adults, households)
        g = cal.data["weight"].to_numpy() / sd.data["weight"].to_numpy()
        g_range = [min(g_range[0], g.min()), max(g_range[1], g.max())]
        for w, survey in zip(weights, (sd, cal)):
            t = survey.mean("y", by="stratum").table.set_index("unit_id")
            for s in truth.index:
                covered[w][s] += int(t.loc[s, "ci_low"] <= truth[s] <= t.loc[s, "ci_high"])
            widths[w].append((t["ci_high"] - t["ci_low"]).mean())
    elapsed = time.perf_counter() - t0
    n = args.redraws
    print(f"population: {len(pop)} households, {int(pop['adults'].sum())} adults in {len(truth)} streets")
    print(f"redraws: {n}; design: 15 compounds x 25 households per street, two-stage fpc")
    for w in weights:
        total = sum(covered[w].values()) / (n * len(truth))
        # Monte Carlo SE of the observed share (binomial; streets are independent strata)
        mc_se = np.sqrt(total * (1 - total) / (n * len(truth)))
        label = "design weights" if w == "design" else "weights calibrated to street adults and households (GREG)"
        print(f"{label}:")
        for s in truth.index:
            c = covered[w][s] / n
            print(f"  {s}: true mean {truth[s]:.3f}, coverage {c:.3f} (MC se {np.sqrt(c * (1 - c) / n):.3f})")
        print(f"  empirical coverage of nominal 95 % street intervals: {total:.3f} "
              f"(Monte Carlo se {mc_se:.4f}; 95 % MC interval {total - 1.96 * mc_se:.3f}-{total + 1.96 * mc_se:.3f}; "
              f"target 0.93-0.97) -> {'OK' if 0.93 <= total <= 0.97 else 'OUTSIDE TARGET'}; "
              f"mean interval width {np.mean(widths[w]):.3f}")
    print(f"g-weights of the calibration over all redraws: {g_range[0]:.3f} to {g_range[1]:.3f}; {elapsed:.1f} s")


if __name__ == "__main__":
    main()
