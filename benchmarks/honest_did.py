"""Honest DiD (relative magnitudes) run time on the bundled district, before and after.

Effect of red property on the mean resolution hours at event time 1, Mbar = 0.5, 1, 1.5, 2:

1. before: ``moderndid.honest_did`` on the event study of ``red_property_impact`` (varying base
   period, all 19 event times), as ``ImpactResult.sensitivity`` called it until the robustness
   issue; every least-favourable critical value solves its 1,000 Monte Carlo LPs through
   ``scipy.optimize.linprog``;
2. the same moderndid call on the event study honest DiD needs (universal base period, event times
   up to the one asked), still with moderndid's LP loop;
3. after: ``evaluation.impact.honest_sensitivity`` (that event study, the least-favourable LPs
   solved by vertex enumeration), all pre-adoption periods, then the nearest 4;

and the largest difference between the intervals of 2 and 3 (same draws: equal to solver tolerance).
The first call in a process also compiles moderndid's numba kernels (about 5 s); it is made once
before timing.

    nice python benchmarks/honest_did.py            # about 5 minutes (the "before" takes most)
    nice python benchmarks/honest_did.py --skip-before
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data" / "zhangwan-synthetic"
MBAR = [0.5, 1.0, 1.5, 2.0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-before", action="store_true", help="leave out the slow runs 1 and 2")
    ap.add_argument("--event-time", type=int, default=1)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    from moderndid import honest_did

    from evaluation.dataset import load_dataset
    from evaluation.impact import honest_sensitivity, red_property_impact
    from evaluation.impact.honest import universal_event_study

    res = red_property_impact(load_dataset(DATA), "mean_resolution_hours", biters=99)
    e = a.event_time
    honest_sensitivity(res, event_time=e, bounds=[1.0], pre_periods=2)  # compile numba, warm caches
    es = universal_event_study(res, max_event=max(e, 1))
    if not a.skip_before:
        t = time.perf_counter()
        honest_did(res.raw_dynamic, event_time=e, sensitivity_type="relative_magnitude", m_bar_vec=MBAR)
        print(f"1. before (moderndid, varying base, {len(res.raw_dynamic.event_times)} event times): "
              f"{time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        slow = honest_did(es, event_time=e, sensitivity_type="relative_magnitude", m_bar_vec=MBAR).robust_ci
        print(f"2. moderndid's LP loop on the universal-base event study {int(es.event_times[0])}..{int(es.event_times[-1])}:"
              f" {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    fast = honest_sensitivity(res, event_time=e, bounds=MBAR)
    print(f"3. after (honest_sensitivity, all pre-adoption periods): {time.perf_counter() - t:.2f} s")
    print(fast.table.round(3).to_string(index=False))
    t = time.perf_counter()
    four = honest_sensitivity(res, event_time=e, bounds=MBAR, pre_periods=4)
    print(f"   the nearest 4 pre-adoption periods: {time.perf_counter() - t:.2f} s")
    print(four.table.round(3).to_string(index=False))
    if not a.skip_before:
        s = slow.to_pandas() if hasattr(slow, "to_pandas") else slow
        diff = np.abs(np.c_[s["lb"], s["ub"]] - fast.table.iloc[1:][["ci_low", "ci_high"]].to_numpy()).max()
        print(f"largest difference between the intervals of 2 and 3: {diff:.2e}")


if __name__ == "__main__":
    main()
