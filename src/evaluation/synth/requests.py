"""The synthetic request log, with both potential outcomes of red-property adoption.

Each request gets an untreated resolution time ``Y0`` (log-normal around a category median, with
street and compound effects and an additive surge during the 2020 epidemic) and a treated one
``Y1 = factor(street, months since adoption) * Y0_base + surge``. The observed time is ``Y1`` when
red property is in force in the request's compound at creation, else ``Y0``. Ratings come from an
ordered-logit latent variable that depends on the resolution time and, under red property, on a
planted shift; the same noise draws give both potential ratings. Because untreated outcomes have
compound effects and *additive* calendar effects only, parallel trends hold in levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: category -> (share of requests, median untreated resolution hours, affair-class probabilities major/minor/private)
CATEGORIES = {
    "property_management": (0.22, 40.0, (0.05, 0.80, 0.15)),
    "environment_sanitation": (0.16, 20.0, (0.10, 0.85, 0.05)),
    "public_facilities": (0.14, 70.0, (0.40, 0.55, 0.05)),
    "neighbour_dispute": (0.10, 50.0, (0.02, 0.48, 0.50)),
    "parking_traffic": (0.09, 45.0, (0.25, 0.65, 0.10)),
    "safety": (0.07, 12.0, (0.30, 0.65, 0.05)),
    "elderly_care": (0.08, 30.0, (0.15, 0.60, 0.25)),
    "administrative_services": (0.09, 25.0, (0.35, 0.45, 0.20)),
    "other": (0.05, 35.0, (0.10, 0.50, 0.40)),
}
CHANNELS = (("app", 0.55), ("hotline", 0.25), ("walk_in", 0.10), ("grid_worker", 0.10))
STREET_SPEED = {"S01": 0.85, "S02": 1.0, "S03": 1.1, "S04": 1.25}
#: planted red-property effect on resolution time: long-run multiplicative factor by street
RED_FACTOR_BY_STREET = {"S01": 0.70, "S02": 0.75, "S03": 0.80, "S04": 0.85}
#: build-up of the effect: share of the long-run effect reached in months 0, 1, 2 after adoption
RED_RAMP = (0.4, 0.7, 1.0)
#: planted shift of the rating latent variable under red property (logit scale)
RED_RATING_SHIFT = 0.35
RATING_THRESHOLDS = (-1.2, 0.4)  # latent below -> dissatisfied, between -> basically, above -> satisfied
RATING_HOURS_SLOPE = -0.006  # per hour of resolution time
SIGMA_LOG_HOURS = 0.95
NEVER_RESOLVED = 0.025
NOT_REACHED = 0.08
EPIDEMIC = ("2020-01-24", "2020-03-31", 30.0)  # additive hours during the lockdown


def red_factor(street: np.ndarray, months_since: np.ndarray) -> np.ndarray:
    """Multiplicative effect on resolution time ``months_since`` adoption (1 before adoption)."""
    long_run = np.array([RED_FACTOR_BY_STREET[s] for s in street])
    ramp = np.where(months_since < 0, 0.0, np.array(RED_RAMP)[np.clip(months_since, 0, 2)])
    return 1.0 - ramp * (1.0 - long_run)


def make_requests(rng: np.random.Generator, years: list[int], per_year: int, compounds: pd.DataFrame,
                  red_date: np.ndarray, cutoff: pd.Timestamp, tz: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the request log; returns (requests table, potential-outcome frame for truth)."""
    n_comp = len(compounds)
    hh = compounds["households"].to_numpy().astype(float)
    comp_effect = rng.normal(0, 0.25, n_comp)
    comp_rating = rng.normal(0, 0.4, n_comp)
    n = int(per_year * len(years) * rng.uniform(0.99, 1.01))
    # creation times: uniform over the years with a surge during the epidemic, day-time hours
    start = pd.Timestamp(f"{years[0]}-01-01").value // 10**9
    end = pd.Timestamp(f"{years[-1] + 1}-01-01").value // 10**9
    t = rng.integers(start, end, int(n * 1.8))  # thinned below: the surge keeps all, other days 1/1.6
    surge = (t >= pd.Timestamp(EPIDEMIC[0]).value // 10**9) & (t < pd.Timestamp(EPIDEMIC[1]).value // 10**9)
    keep = rng.random(len(t)) < np.where(surge, 1.0, 1 / 1.6)
    t = np.sort(rng.permutation(t[keep])[:n])
    n = len(t)
    day_start = t - t % 86400
    hour_of_day = np.clip(rng.normal(13.0, 3.5, n), 7.0, 22.0)
    t = day_start + (hour_of_day * 3600).astype(np.int64) + rng.integers(0, 60, n)
    created_local = pd.to_datetime(t, unit="s")  # naive local time

    # where: compound in proportion to households; 8 % at community level (no compound)
    comp = rng.choice(n_comp, n, p=hh / hh.sum())
    at_community = rng.random(n) < 0.08
    street = compounds["street_id"].to_numpy()[comp]
    cats = list(CATEGORIES)
    cat_p = np.array([CATEGORIES[c][0] for c in cats])
    cat = rng.choice(len(cats), n, p=cat_p / cat_p.sum())
    cat_median = np.array([CATEGORIES[c][1] for c in cats])[cat]
    affair = np.empty(n, dtype=object)
    u = rng.random(n)
    for k, c in enumerate(cats):
        pm, pmin, _ = CATEGORIES[c][2]
        sel = cat == k
        affair[sel] = np.where(u[sel] < pm, "major", np.where(u[sel] < pm + pmin, "minor", "private"))
    ch_names = np.array([c for c, _ in CHANNELS])
    channel = rng.choice(ch_names, n, p=np.array([p for _, p in CHANNELS]))

    # potential resolution times
    speed = np.array([STREET_SPEED[s] for s in street])
    base = cat_median * speed * np.exp(comp_effect[comp] + rng.normal(0, SIGMA_LOG_HOURS, n))
    base = np.where(affair == "major", base * 1.8, base)
    in_epidemic = (created_local >= pd.Timestamp(EPIDEMIC[0])) & (created_local < pd.Timestamp(EPIDEMIC[1]))
    surge_h = np.where(np.asarray(in_epidemic), EPIDEMIC[2], 0.0)
    adopt = red_date[comp]
    adopted = ~np.isnat(adopt)
    created_day = created_local.to_numpy().astype("datetime64[D]")
    treated = adopted & (created_day >= np.where(adopted, adopt, created_day)) & ~at_community
    months_since = np.full(n, -1)
    cm = created_local.to_numpy().astype("datetime64[M]").astype(int)
    am = np.where(adopted, adopt.astype("datetime64[M]").astype(int), 0)
    months_since[adopted] = (cm - am)[adopted]
    months_since = np.where(treated, np.maximum(months_since, 0), -1)
    factor = red_factor(street, np.where(adopted & ~at_community, np.maximum(cm - am, -1), -1))
    y0 = base + surge_h
    y1 = base * np.where(adopted & ~at_community, red_factor(street, np.maximum(cm - am, 0)), 1.0) + surge_h
    y_obs = np.where(treated, y1, y0)
    del factor
    never = rng.random(n) < NEVER_RESOLVED

    # ratings: same noise for both potential outcomes
    street_rating = {"S01": 0.5, "S02": 0.3, "S03": 0.1, "S04": -0.1}
    latent_base = np.array([street_rating[s] for s in street]) + comp_rating[comp] + rng.logistic(0, 1, n)
    red_possible = adopted & ~at_community

    def rate(hours, shift):
        z = latent_base + RATING_HOURS_SLOPE * hours + shift
        return np.where(z > RATING_THRESHOLDS[1], 2, np.where(z > RATING_THRESHOLDS[0], 1, 0))

    r0 = rate(y0, 0.0)
    r1 = rate(y1, np.where(red_possible, RED_RATING_SHIFT, 0.0))
    r_obs = np.where(treated, r1, r0)
    not_reached = rng.random(n) < NOT_REACHED

    created_s = t
    resolved_s = created_s + np.round(y_obs * 3600).astype(np.int64)
    response_h = rng.exponential(2.5, n) + 0.05
    no_response = rng.random(n) < 0.03
    first_resp_s = np.minimum(created_s + np.round(response_h * 3600).astype(np.int64), resolved_s)
    closed_s = resolved_s + np.round(rng.uniform(2, 72, n) * 3600).astype(np.int64)
    cut = (cutoff.tz_convert(tz).tz_localize(None).value // 10**9)
    resolved_ok = (~never) & (resolved_s <= cut)
    closed_ok = resolved_ok & (closed_s <= cut)
    responded = (~no_response | resolved_ok) & (first_resp_s <= cut)
    status = np.where(closed_ok, "closed", np.where(resolved_ok, "resolved", np.where(responded, "in_progress", "open")))
    rating_names = np.array(["dissatisfied", "basically_satisfied", "satisfied"], dtype=object)
    rating = np.where(closed_ok, np.where(not_reached, "not_reached", rating_names[r_obs]), None)
    reopen_p = np.where(closed_ok & (r_obs == 0) & ~not_reached, 0.25, 0.02)
    reopened = (rng.random(n) < reopen_p).astype(int) + (rng.random(n) < reopen_p * 0.1).astype(int)
    reopened = np.where(closed_ok | resolved_ok, reopened, 0)

    def stamp(secs, ok):
        s = pd.Series(pd.to_datetime(np.where(ok, secs, 0), unit="s")).where(ok)
        return s.dt.tz_localize(tz).astype(f"datetime64[ns, {tz}]")

    comp_ids = compounds["compound_id"].to_numpy()
    comm_ids = compounds["community_id"].to_numpy()
    ids = np.array([f"R{y}{i:07d}" for y, i in zip(created_local.year, np.arange(1, n + 1))])
    df = pd.DataFrame({
        "request_id": ids,
        "channel": channel,
        "category": np.array(cats)[cat],
        "affair_class": affair,
        "compound_id": np.where(at_community, None, comp_ids[comp]),
        "community_id": comm_ids[comp],
        "created_at": stamp(created_s, np.ones(n, bool)),
        "first_response_at": stamp(first_resp_s, responded),
        "resolved_at": stamp(resolved_s, resolved_ok),
        "closed_at": stamp(closed_s, closed_ok),
        "status": status,
        "reopened": pd.array(reopened, dtype="Int64"),
        "rating": rating,
    })
    potential = pd.DataFrame({
        "compound_id": np.where(at_community, None, comp_ids[comp]),
        "street_id": street,
        "created_local": created_local,
        "treated": treated,
        "adopted_on": np.where(at_community, np.datetime64("NaT"), adopt).astype("datetime64[ns]"),
        "y0_hours": y0, "y1_hours": y1,
        "rated": ~never & ~not_reached,
        "r0": r0, "r1": r1,
    })
    return df, potential


def satisfaction_score(r: np.ndarray) -> np.ndarray:
    """Per-request contribution to the satisfaction rate: 1 satisfied, 0.9 basically, 0 dissatisfied."""
    return np.where(r == 2, 1.0, np.where(r == 1, 0.9, 0.0))


def realised_att(potential: pd.DataFrame, freq: str, adopted_from: str | None = None) -> dict:
    """Realised average effect on the treated compound-periods, from both potential outcomes.

    For every compound-period (month ``M`` or quarter ``Q``) in which red property is in force,
    the effect on the period's mean resolution hours is ``mean(Y1) - mean(Y0)`` over the requests
    created in it, and on its satisfaction rate ``rate(R1) - rate(R0)`` over rated requests; the
    ATT is the unweighted mean over such compound-periods (each compound-period counts once, as in
    the simple aggregation of Callaway and Sant'Anna). With ``adopted_from``, only compounds that
    adopted on or after that date count (compounds treated before the panel starts cannot be
    used by a difference-in-differences estimator).
    """
    keep = potential["treated"]
    if adopted_from is not None:
        keep &= potential["adopted_on"] >= pd.Timestamp(adopted_from)
    p = potential[keep].copy()
    p["period"] = p["created_local"].dt.to_period(freq).astype(str)
    g = p.groupby(["compound_id", "period"])
    hours = (g["y1_hours"].mean() - g["y0_hours"].mean())
    rated = p[p["rated"]].copy()
    rated["s0"] = satisfaction_score(rated["r0"].to_numpy())
    rated["s1"] = satisfaction_score(rated["r1"].to_numpy())
    gr = rated.groupby(["compound_id", "period"])
    sat = gr["s1"].mean() - gr["s0"].mean()
    return {
        "mean_resolution_hours": round(float(hours.mean()), 4),
        "satisfaction_rate": round(float(sat.mean()), 5),
        "treated_compound_periods": int(len(hours)),
        "treated_requests": int(len(p)),
    }
