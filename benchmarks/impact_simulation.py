"""Simulation check of the red-property impact estimates: bias, RMSE and CI coverage over many districts.

The synthetic district is regenerated with seeds ``--first-seed .. --first-seed + --seeds - 1``
(``evaluation.synth.generate_district``, a smaller request volume than the bundled 60,000 a year) and
``red_property_impact`` is run on each with its defaults (Callaway-Sant'Anna, doubly robust,
never-treated controls, quarterly panel). For the mean resolution hours each draw is compared with
two targets:

* ``truth_json``: ``truth.json`` ``realised_att.compound_quarter.mean_resolution_hours``, the
  generator's realised ATT: over compound-quarters with a treated request, the mean over the
  requests *created on or after the adoption date* of ``Y(1) - Y(0)``;
* ``panel``: the same realised effect on the scale the panel measures, rebuilt from the observed log
  and the planted parameters that ``truth.json`` records (street factors, the 0-1-2 month ramp, the
  epidemic hours): for every treated request ``Y(0) = (Y - surge) / factor + surge``; for each
  compound-quarter of the estimation window the effect on the mean over *all* its resolved
  requests; averaged over the treated compound-quarters the estimator averages (adoption quarter to
  2021Q3, cohorts adopting within the window).

The two differ because in the adoption quarter the panel's mean mixes requests raised before the
adoption date (no effect) with those after, and because the window ends at 2021Q3 (90 days of
follow-up) while ``truth.json`` counts 2021Q4. Reported per target: mean bias, RMSE, coverage of
the 95 % interval (with its Monte Carlo standard error), and the mean standard error against the
standard deviation of the estimates. The satisfaction rate is compared with ``truth.json`` only
(its per-request potential ratings are not recoverable from the log).

    nice python benchmarks/impact_simulation.py --seeds 200 --per-year 20000 --workers 2
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import simulation_main  # noqa: E402


def panel_scale_truth(tables: dict, truth: dict, res) -> float:
    """The realised ATT on the panel's scale (module docstring), from the log and the planted parameters."""
    rp, rq = truth["red_property"], truth["requests"]
    factor_by_street = rp["resolution_time_factor_by_street"]
    ramp = np.array(rp["resolution_time_ramp_months_0_1_2"])
    epi = rq["epidemic_additive_hours"]
    req = tables["requests"]
    req = req[req["compound_id"].notna() & req["resolved_at"].notna()].copy()
    units = tables["units"].set_index("unit_id")
    street_of = tables["compounds"].set_index("compound_id")["community_id"].map(units["parent_id"])
    ms = tables["compound_milestones"]
    adopt = pd.to_datetime(ms[ms["milestone"] == "red_property"].groupby("compound_id")["date"].min())
    created = req["created_at"].dt.tz_localize(None)
    hours = (req["resolved_at"] - req["created_at"]).dt.total_seconds().to_numpy() / 3600
    a = pd.to_datetime(req["compound_id"].map(adopt))
    treated = (a.notna() & (created.dt.normalize() >= a)).to_numpy()
    months = (created.dt.year * 12 + created.dt.month - (a.dt.year * 12 + a.dt.month)).to_numpy()
    long_run = req["compound_id"].map(street_of).map(factor_by_street).to_numpy(dtype=float)
    f = 1 - ramp[np.clip(np.nan_to_num(months, nan=0).astype(int), 0, 2)] * (1 - long_run)
    surge = np.where((created >= pd.Timestamp(epi["from"])) & (created < pd.Timestamp(epi["to"])), epi["hours"], 0.0)
    y0 = np.where(treated, (hours - surge) / np.where(treated, f, 1.0) + surge, hours)
    req["effect"] = hours - y0
    req["quarter"] = created.dt.year * 4 + created.dt.quarter - 1
    cell = req.groupby(["compound_id", "quarter"])["effect"].mean()
    d = res.fit["data"]
    cells = d[(d["first_treated"] > 0) & (d["period"] >= d["first_treated"])][["compound_id", "period"]]
    return float(cell.reindex(pd.MultiIndex.from_frame(cells)).mean())


def one(seed: int, per_year: int) -> dict:
    """Generate district ``seed`` and estimate; returns the estimates and targets."""
    warnings.simplefilter("ignore")
    from evaluation.dataset.load import Dataset
    from evaluation.impact import DidOptions, red_property_impact
    from evaluation.synth import generate_district

    t0 = time.perf_counter()
    tables, truth, meta = generate_district(seed, (2019, 2020, 2021), per_year)
    ds = Dataset.from_tables(tables, timezone=meta["timezone"], cutoff=meta["cutoff"])
    opts = DidOptions(aggregations=("simple", "dynamic"), biters=49)
    out = {"seed": seed}
    for outcome in ("mean_resolution_hours", "satisfaction_rate"):
        res = red_property_impact(ds, outcome, options=opts)
        s = res.overall.set_index("aggregation").loc["simple"]
        later = res.event_average(min_event=1)
        out.update({f"{outcome}.att": s["att"], f"{outcome}.se": s["se"], f"{outcome}.ci_low": s["ci_low"],
                    f"{outcome}.ci_high": s["ci_high"], f"{outcome}.e1plus": later["att"],
                    f"{outcome}.twfe": res.twfe["att"],
                    f"{outcome}.truth_json": truth["red_property"]["realised_att"]["compound_quarter"][outcome]})
        if outcome == "mean_resolution_hours":
            out[f"{outcome}.panel"] = panel_scale_truth(tables, truth, res)
    out["seconds"] = time.perf_counter() - t0
    return out


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE, coverage (and its MC standard error), mean SE and SD of the estimates, per target."""
    rows = []
    for outcome, targets in (("mean_resolution_hours", ("panel", "truth_json")), ("satisfaction_rate", ("truth_json",))):
        att, se = df[f"{outcome}.att"], df[f"{outcome}.se"]
        for target in targets:
            tv = df[f"{outcome}.{target}"]
            err = att - tv
            cover = (df[f"{outcome}.ci_low"] <= tv) & (tv <= df[f"{outcome}.ci_high"])
            rows.append({"outcome": outcome, "target": target, "draws": len(df), "mean_target": tv.mean(),
                         "mean_estimate": att.mean(), "bias": err.mean(), "bias_mc_se": err.std(ddof=1) / np.sqrt(len(df)),
                         "rmse": float(np.sqrt((err**2).mean())), "coverage": cover.mean(),
                         "coverage_mc_se": float(np.sqrt(cover.mean() * (1 - cover.mean()) / len(df))),
                         "mean_se": se.mean(), "sd_estimate": att.std(ddof=1),
                         "twfe_bias": (df[f"{outcome}.twfe"] - tv).mean(),
                         "e1plus_bias": (df[f"{outcome}.e1plus"] - tv).mean()})
    return pd.DataFrame(rows)


def main() -> None:
    simulation_main(__doc__.splitlines()[0], one, summarise, name="impact_simulation", seeds=200, per_year=20000)


if __name__ == "__main__":
    main()
