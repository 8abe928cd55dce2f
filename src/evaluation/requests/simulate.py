"""A quick generator of native request logs with known properties, for tests and benchmarks.

Not the synthetic district (that is :mod:`evaluation.synth`): a plain log with lognormal
resolution times, a share of requests still open, minute-resolution stamps, and ratings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.dataset.schema import CHANNELS, RATINGS


def simulate_request_log(
    n: int,
    n_communities: int = 102,
    start: str = "2020-01-01",
    end: str = "2020-12-31 23:59",
    median_hours: float = 20.0,
    sigma: float = 1.2,
    open_share: float = 0.05,
    seed: int = 0,
    timezone: str = "Asia/Shanghai",
    id_offset: int = 0,
) -> pd.DataFrame:
    """``n`` requests in the native ``requests`` layout (times timezone-aware, minute stamps).

    Resolution times are lognormal (median ``median_hours``); a share ``open_share`` is never
    resolved; requests whose resolution falls after ``end`` are open at that cut-off.
    """
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz=timezone).value // 60_000_000_000
    t1 = pd.Timestamp(end, tz=timezone).value // 60_000_000_000
    created_min = rng.integers(t0, t1, n)
    dur_min = np.floor(rng.lognormal(np.log(median_hours * 60), sigma, n)).astype(np.int64)
    resolved_min = created_min + dur_min
    unresolved = (rng.random(n) < open_share) | (resolved_min > t1)
    resp_min = created_min + np.minimum(rng.integers(0, 240, n), dur_min)
    ns = 60_000_000_000
    to_t = lambda m: pd.to_datetime(m * ns, utc=True).tz_convert(timezone)  # noqa: E731
    resolved = to_t(np.where(unresolved, 0, resolved_min))
    rating_p = np.array([0.6, 0.25, 0.05, 0.10])
    rating = np.asarray(RATINGS, dtype=object)[rng.choice(4, n, p=rating_p)]
    comm = np.array([f"C{i:03d}" for i in range(n_communities)], dtype=object)
    df = pd.DataFrame(
        {
            "request_id": pd.array(np.char.add("R", (np.arange(n) + id_offset).astype(str)), dtype="str"),
            "channel": pd.Categorical.from_codes(rng.integers(0, len(CHANNELS), n), categories=list(CHANNELS)),
            "category": pd.Categorical.from_codes(rng.integers(0, 6, n), categories=["road", "water", "noise", "waste", "property", "other"]),
            "affair_class": pd.Categorical.from_codes(rng.integers(0, 3, n), categories=["major", "minor", "private"]),
            "compound_id": pd.Categorical.from_codes(rng.integers(0, n_communities * 4, n), categories=[f"K{i:04d}" for i in range(n_communities * 4)]),
            "community_id": pd.Categorical.from_codes(rng.integers(0, n_communities, n), categories=list(comm)),
            "created_at": to_t(created_min),
            "first_response_at": to_t(resp_min),
            "resolved_at": resolved.where(~unresolved),
            "closed_at": resolved.where(~unresolved),
            "status": pd.Categorical(np.where(unresolved, "open", "closed"), categories=["open", "in_progress", "resolved", "closed"]),
            "reopened": pd.array((rng.random(n) < 0.03).astype(np.int64), dtype="Int64"),
            "rating": pd.Categorical(np.where(unresolved, None, rating), categories=list(RATINGS)),
        }
    )
    return df
