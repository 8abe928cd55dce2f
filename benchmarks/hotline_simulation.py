"""Simulation check of the hotline analytics: how often each interval covers its plant, hits and false positives.

The synthetic district is regenerated with seeds ``--first-seed .. --first-seed + --seeds - 1``
(``evaluation.synth.generate_district``, the bundled volume of 60,000 requests a year unless
``--per-year`` says otherwise) and every estimator of :mod:`evaluation.hotline` is run with its
defaults. Reported per plant (``truth.json`` ``hotline``):

* ``hot_spots``: planted hot spots found (of 6) and other compounds flagged at FDR 5 %, 2019-2021 and
  2021 alone; coverage of the realised rate ratio by the observed / expected intervals;
* ``targeted``: coverage of the planted 0.70 by the campaign effect's interval, and of 1 by the
  placebo's (the months before the campaign);
* ``repeats``: coverage of the planted follow-up probability by the 12 street-year intervals;
* ``on_time``: coverage of the realised 2021 on-time share (censored at the cut-off) by street;
* ``proactive``: coverage of the expected proactive share by street-year (a Jeffreys interval on
  requests that follow one another: expected to be somewhat narrow);
* ``rankings``: share of districts in which the resolution rate of 2019 and 2020, standardised for
  category and channel, tells no street apart from the median (no street effect is planted) and the
  raw rate puts Hongwei clearly last;
* ``dispatch``: coverage of the send-back probability and of the whistle-to-report median by street.

    nice python benchmarks/hotline_simulation.py --seeds 40 --workers 2
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


def _cover(lo, hi, v) -> np.ndarray:
    lo, hi, v = (np.asarray(x, dtype=float) for x in (lo, hi, v))
    return (lo <= v) & (v <= hi)


def one(seed: int, per_year: int) -> dict:
    """Generate district ``seed``, run the analyses, compare with its truth."""
    warnings.simplefilter("ignore")
    from evaluation import hotline
    from evaluation.dataset.load import Dataset
    from evaluation.synth import generate_district

    t0 = time.perf_counter()
    tables, truth, meta = generate_district(seed, (2019, 2020, 2021), per_year)
    ds = Dataset.from_tables(tables, timezone=meta["timezone"], cutoff=meta["cutoff"])
    h = truth["hotline"]
    out = {"seed": seed}
    planted = h["volume"]["hot_spots"]
    for label, period in (("all", None), ("2021", "2021")):
        hs = hotline.hot_spots(ds, period=period)
        found = set(hs.hot()["unit_id"])
        out[f"hot_{label}_hits"] = len(found & set(planted))
        out[f"hot_{label}_false"] = len(found - set(planted))
        t = hs.table.set_index("unit_id").loc[sorted(planted)]
        out[f"hot_{label}_covered"] = int(_cover(t["ci_low"], t["ci_high"],
                                                 [planted[k]["realised_rate_ratio"] for k in t.index]).sum())
    tg = h["targeted"]
    e = hotline.targeted_problem(ds, tg["category"], tg["campaign_start"]).effect.set_index("effect")
    out["targeted_covered"] = bool(_cover(e.loc["after the campaign", "ci_low"], e.loc["after the campaign", "ci_high"],
                                          tg["volume_factor"]))
    out["targeted_ratio"] = float(e.loc["after the campaign", "ratio"])
    out["placebo_covered"] = bool(_cover(e.loc["before the campaign", "ci_low"], e.loc["before the campaign", "ci_high"], 1.0))
    rp = hotline.repeat_rates(ds, "street", "year").table
    out["repeats_covered"] = int(_cover(rp["ci_low"], rp["ci_high"],
                                        rp["unit_id"].map(h["repeats"]["follow_up_probability_by_street"])).sum())
    ot = hotline.on_time(ds, "street", "year").table
    ot = ot[ot["period"].eq("2021")]
    real = h["deadlines"]["realised_on_time_share_by_street_and_year"]["resolution"]
    out["on_time_2021_covered"] = int(_cover(ot["ci_low"], ot["ci_high"], [real[u]["2021"] for u in ot["unit_id"]]).sum())
    cy = hotline.cycle_indicators(ds, "street", "year").table
    pro = cy[cy["indicator"].eq("svc.proactive_share")]
    out["proactive_covered"] = int(_cover(pro["ci_low"], pro["ci_high"],
                                          pro["unit_id"].map(h["cycle"]["proactive_share_expected_by_street"])).sum())
    rk = hotline.monthly_rankings(ds, "street", "year", indicators=("svc.resolution_rate",), draws=500).table
    early = rk[rk["period"].isin(["2019", "2020"])]
    out["ranks_std_no_street_told_apart"] = bool((early["class_std"] == "indistinguishable").all())
    out["ranks_raw_hongwei_clearly_last"] = bool(
        (early[early["unit_id"].eq("S03")]["class"] == "clearly_worse").all())
    dm = hotline.dispatch_measures(ds, level="street", period="year").table
    ev = h["events"]
    sb = dm[dm["indicator"].eq("svc.send_back_rate")]
    out["send_back_covered"] = int(_cover(sb["ci_low"], sb["ci_high"], sb["unit_id"].map(ev["return_probability_by_street"])).sum())
    wh = dm[dm["indicator"].eq("svc.whistle_report_hours")]
    out["whistle_covered"] = int(_cover(wh["ci_low"], wh["ci_high"], wh["unit_id"].map(ev["report_hours_median_by_street"])).sum())
    out["seconds"] = time.perf_counter() - t0
    return out


#: coverage columns and the number of intervals each counts per district
INTERVALS = {"hot_all_covered": 6, "hot_2021_covered": 6, "targeted_covered": 1, "placebo_covered": 1,
             "repeats_covered": 12, "on_time_2021_covered": 4, "proactive_covered": 12, "send_back_covered": 4,
             "whistle_covered": 4}


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Coverage of every family of intervals (with its Monte Carlo standard error), hits and false positives."""
    rows = []
    for col, k in INTERVALS.items():
        c = df[col].astype(float).sum() / (k * len(df))
        rows.append({"check": col.removesuffix("_covered"), "what": "coverage of 95 % intervals", "value": c,
                     "mc_se": float(np.sqrt(c * (1 - c) / (k * len(df)))), "intervals": k * len(df)})
    for col in ("hot_all_hits", "hot_all_false", "hot_2021_hits", "hot_2021_false"):
        rows.append({"check": col, "what": "mean per district (6 planted)", "value": df[col].mean(),
                     "mc_se": df[col].std(ddof=1) / np.sqrt(len(df)), "intervals": len(df)})
    for col in ("ranks_std_no_street_told_apart", "ranks_raw_hongwei_clearly_last"):
        rows.append({"check": col, "what": "share of districts", "value": df[col].mean(),
                     "mc_se": float(np.sqrt(df[col].mean() * (1 - df[col].mean()) / len(df))), "intervals": len(df)})
    rows.append({"check": "targeted_ratio", "what": "mean estimate (planted 0.70)", "value": df["targeted_ratio"].mean(),
                 "mc_se": df["targeted_ratio"].std(ddof=1) / np.sqrt(len(df)), "intervals": len(df)})
    return pd.DataFrame(rows)


def main() -> None:
    simulation_main(__doc__.splitlines()[0], one, summarise, name="hotline_simulation", seeds=40, per_year=60000)


if __name__ == "__main__":
    main()
