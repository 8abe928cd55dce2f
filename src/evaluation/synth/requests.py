"""The synthetic request log, with both potential outcomes of red-property adoption and the hotline plants.

Each request gets an untreated resolution time ``Y0`` (log-normal around a category median, with
street and compound effects and an additive surge during the 2020 epidemic) and a treated one
``Y1 = factor(street, months since adoption) * Y0_base + surge``. The observed time is ``Y1`` when
red property is in force in the request's compound at creation, else ``Y0``. Ratings come from an
ordered-logit latent variable that depends on the resolution time and, under red property, on a
planted shift; the same noise draws give both potential ratings. Because untreated outcomes have
compound effects and *additive* calendar effects only, parallel trends hold in levels.

The hotline analytics (:mod:`evaluation.hotline`) have their own plants, recorded in ``truth.json``:

* **volume**: a compound's request intensity is its households times a compound-type factor
  (:data:`COMPOUND_TYPE_INTENSITY`), a gamma frailty (coefficient of variation
  :data:`COMPOUND_FRAILTY_CV`) and, for a few hot-spot compounds, a planted excess
  (:data:`HOT_SPOT_EXCESS`);
* **category mix** by street (:data:`CATEGORY_TILT_BY_STREET`) and by month (:data:`SEASONALITY`);
  a targeted category (:data:`TARGETED`) whose volume falls by a known factor from a campaign date;
* **rates that depend on the mix**: the share never resolved depends on the category only
  (:data:`NEVER_RESOLVED_BY_CATEGORY`, no street effect: a raw ranking of the resolution rate
  penalises the street with the hard categories, a standardised one does not); the share without a
  response on the channel (:data:`NO_RESPONSE_BY_CHANNEL`); the rating on the category
  (:data:`CATEGORY_RATING`);
* **channels**: the grid-worker share by street (:data:`GRID_SHARE_BY_STREET`), the app going live
  community by community (:data:`APP_LIVE_BY_STREET`; before it, would-be app requests come by
  hotline), affair classes left unrecorded in a share that falls by year (:data:`UNGRADED_BY_YEAR`);
* **repeats**: every request a resident raises (not a grid worker's) is followed by another from the
  same caller about the same matter (same compound, building, category) with a probability by street
  (:data:`FOLLOW_UP_BY_STREET`), 1 to 156 hours later; a caller's independent matters are at least
  :data:`CALLER_GAP_DAYS` apart, so a same-caller rule with a window up to that finds exactly the
  follow-ups within its window. Caller keys are salted hashes (never a clear identifier), written in
  the letters a-p (:data:`KEY_LETTERS`) so that no key can look like a phone number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.dataset.privacy import hash_values

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
#: the category mix by street: multipliers of the shares, renormalised within the street (Hongwei's old
#: housing brings public-facility and neighbour matters, Huaguo's narrow streets parking)
CATEGORY_TILT_BY_STREET = {
    "S01": {"administrative_services": 1.3},
    "S02": {},
    "S03": {"public_facilities": 1.9, "neighbour_dispute": 1.6},
    "S04": {"parking_traffic": 1.4},
}
#: seasonal volume of a category: (amplitude, peak month), intensity x (1 + amplitude cos(2 pi (month - peak) / 12))
SEASONALITY = {"environment_sanitation": (0.25, 7), "elderly_care": (0.20, 1), "public_facilities": (0.12, 8),
               "parking_traffic": (0.15, 12)}
#: the targeted problem (每月一题): its volume is multiplied by ``volume_factor`` from ``campaign_start`` on
TARGETED = {"category": "parking_traffic", "campaign_start": "2021-04-01", "volume_factor": 0.70}
#: share of requests never resolved, by category (no street effect)
NEVER_RESOLVED_BY_CATEGORY = {"public_facilities": 0.07, "neighbour_dispute": 0.05, "parking_traffic": 0.03,
                              "property_management": 0.012, "environment_sanitation": 0.012, "safety": 0.012,
                              "elderly_care": 0.012, "administrative_services": 0.012, "other": 0.012}
#: share of requests without any first response, by channel (a walk-in or a grid worker is answered on the spot)
NO_RESPONSE_BY_CHANNEL = {"app": 0.02, "hotline": 0.05, "walk_in": 0.0, "grid_worker": 0.0}
#: shift of the rating latent variable by category (hard matters are rated worse at equal resolution time)
CATEGORY_RATING = {"public_facilities": -0.5, "neighbour_dispute": -0.6, "parking_traffic": -0.3, "safety": 0.2,
                   "elderly_care": 0.2, "administrative_services": 0.1, "property_management": 0.0,
                   "environment_sanitation": 0.0, "other": 0.0}
#: street effect on the rating latent variable (Hongwei rates well at equal category and speed)
STREET_RATING = {"S01": 0.5, "S02": 0.3, "S03": 0.5, "S04": -0.1}
#: channels of residents' own requests and their shares (the grid-worker share is by street)
RESIDENT_CHANNELS = (("app", 0.55), ("hotline", 0.25), ("walk_in", 0.10))
#: share of requests raised by grid workers (the proactive share), by street
GRID_SHARE_BY_STREET = {"S01": 0.14, "S02": 0.11, "S03": 0.09, "S04": 0.06}
#: the smart-community app goes live in each community on a day drawn in its street's range (汉江路 built it)
APP_LIVE_BY_STREET = {"S01": ("2019-01-01", "2019-01-01"), "S02": ("2020-01-01", "2020-06-30"),
                      "S03": ("2020-07-01", "2020-12-31"), "S04": ("2021-01-01", "2021-06-30")}
#: share of requests whose affair class (三事分办) was not recorded, by year
UNGRADED_BY_YEAR = {2019: 0.12, 2020: 0.05, 2021: 0.02}
#: probability that a resident's request is followed by another about the same matter, by street
FOLLOW_UP_BY_STREET = {"S01": 0.08, "S02": 0.10, "S03": 0.12, "S04": 0.15}
#: hours between a request and its follow-up (uniform)
FOLLOW_UP_HOURS = (1.0, 156.0)
#: a caller's independent matters are at least this many days apart
CALLER_GAP_DAYS = 30
#: caller keys: the hex digits of the salted hash written as letters (no digits, so never phone-shaped)
KEY_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
#: residents per household who may call
CALLERS_PER_HOUSEHOLD = 2.7
#: request intensity by compound type (per household)
COMPOUND_TYPE_INTENSITY = {"commercial": 0.95, "work_unit": 1.0, "resettlement": 1.15, "affordable": 1.1,
                           "unmanaged": 1.3, "other": 1.0}
#: coefficient of variation of the compounds' gamma frailty (request intensity beyond households and type)
COMPOUND_FRAILTY_CV = 0.15
#: planted excess of the hot-spot compounds (one compound each, drawn among those with at least
#: HOT_SPOT_MIN_HOUSEHOLDS households)
HOT_SPOT_EXCESS = (1.6, 1.8, 2.0, 2.3, 2.6, 3.0)
HOT_SPOT_MIN_HOUSEHOLDS = 150
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
NOT_REACHED = 0.08
EPIDEMIC = ("2020-01-24", "2020-03-31", 30.0)  # additive hours during the lockdown
#: mean hours to a first response (exponential, plus 3 minutes), by street
RESPONSE_MEAN_HOURS_BY_STREET = {"S01": 2.0, "S02": 3.0, "S03": 4.5, "S04": 7.0}
#: share of requests raised at community level (no compound)
AT_COMMUNITY = 0.08


def red_factor(street: np.ndarray, months_since: np.ndarray) -> np.ndarray:
    """Multiplicative effect on resolution time ``months_since`` adoption (1 before adoption)."""
    long_run = np.array([RED_FACTOR_BY_STREET[s] for s in street])
    ramp = np.where(months_since < 0, 0.0, np.array(RED_RAMP)[np.clip(months_since, 0, 2)])
    return 1.0 - ramp * (1.0 - long_run)


def category_mix(street: str) -> np.ndarray:
    """Shares of the categories (in :data:`CATEGORIES` order) in ``street``."""
    tilt = CATEGORY_TILT_BY_STREET.get(street, {})
    p = np.array([share * tilt.get(c, 1.0) for c, (share, _, _) in CATEGORIES.items()])
    return p / p.sum()


def volume_factor(category_index: np.ndarray, local: pd.DatetimeIndex) -> np.ndarray:
    """Seasonal and campaign factor of each request's category intensity at its creation time."""
    cats = list(CATEGORIES)
    month = local.month.to_numpy()
    out = np.ones(len(local))
    for c, (amp, peak) in SEASONALITY.items():
        sel = category_index == cats.index(c)
        out[sel] *= 1.0 + amp * np.cos(2 * np.pi * (month[sel] - peak) / 12.0)
    sel = (category_index == cats.index(TARGETED["category"])) & (local >= pd.Timestamp(TARGETED["campaign_start"]))
    out[sel] *= TARGETED["volume_factor"]
    return out


def _draw_index(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One draw per row of ``cum`` (rows of cumulative probabilities ending in 1)."""
    u = rng.random(len(cum))
    return np.minimum((u[:, None] > cum).sum(axis=1), cum.shape[1] - 1)


def make_requests(rng: np.random.Generator, years: list[int], per_year: int, compounds: pd.DataFrame,
                  buildings: pd.DataFrame, red_date: np.ndarray, cutoff: pd.Timestamp, tz: str,
                  salt: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Generate the request log.

    Returns
    -------
    (requests, potential, plants)
        The requests table; one row per request with both potential outcomes and the untreated
        quantities the truth needs; the realised plants (hot spots, app go-live days).
    """
    n_comp = len(compounds)
    hh = compounds["households"].to_numpy().astype(float)
    comp_street = compounds["street_id"].to_numpy()
    comp_effect = rng.normal(0, 0.25, n_comp)
    comp_rating = rng.normal(0, 0.4, n_comp)
    # request intensity of each compound: households x type x frailty x (hot spots) excess
    shape = 1.0 / COMPOUND_FRAILTY_CV**2
    frailty = rng.gamma(shape, 1.0 / shape, n_comp)
    type_factor = compounds["compound_type"].map(COMPOUND_TYPE_INTENSITY).to_numpy(dtype=float)
    eligible = np.flatnonzero(hh >= HOT_SPOT_MIN_HOUSEHOLDS)
    hot = np.sort(rng.choice(eligible, len(HOT_SPOT_EXCESS), replace=False))
    excess = np.ones(n_comp)
    excess[hot] = rng.permutation(np.array(HOT_SPOT_EXCESS))
    intensity = hh * type_factor * frailty * excess
    # originals: enough that originals and their follow-ups make about per_year a year
    n_total = int(per_year * len(years) * rng.uniform(0.99, 1.01))
    p_follow_comp = np.array([FOLLOW_UP_BY_STREET[s] for s in comp_street])
    resident = 1 - np.array([GRID_SHARE_BY_STREET[s] for s in comp_street])
    w = intensity / intensity.sum()
    mean_chain = float((w * (resident / (1 - p_follow_comp) + (1 - resident))).sum())
    n_orig = int(round(n_total / mean_chain))

    # candidate times (uniform over the years), compounds and categories, thinned by the epidemic surge
    # (kept in full; other days 1/1.6), the seasons and the campaign, then n_orig of them at random
    start = pd.Timestamp(f"{years[0]}-01-01").value // 10**9
    end = pd.Timestamp(f"{years[-1] + 1}-01-01").value // 10**9
    m = int(n_orig * 1.8 * 1.45)
    t = rng.integers(start, end, m)
    comp = rng.choice(n_comp, m, p=w)
    streets = sorted(set(comp_street))
    street_code = np.searchsorted(np.array(streets), comp_street[comp])
    cum = np.cumsum(np.vstack([category_mix(s) for s in streets]), axis=1)
    cat = _draw_index(rng, cum[street_code])
    surge = (t >= pd.Timestamp(EPIDEMIC[0]).value // 10**9) & (t < pd.Timestamp(EPIDEMIC[1]).value // 10**9)
    top = 1.0 + max(a for a, _ in SEASONALITY.values())
    keep_p = np.where(surge, 1.0, 1 / 1.6) * volume_factor(cat, pd.DatetimeIndex(pd.to_datetime(t, unit="s"))) / top
    kept = np.flatnonzero(rng.random(m) < keep_p)
    if len(kept) < n_orig:  # pragma: no cover - the candidates are drawn with room to spare
        raise AssertionError("too few candidate requests")
    pick = np.sort(rng.permutation(kept)[:n_orig])
    pick = pick[np.argsort(t[pick], kind="stable")]
    t, comp, cat = t[pick], comp[pick], cat[pick]
    n_o = len(t)
    day_start = t - t % 86400
    hour_of_day = np.clip(rng.normal(13.0, 3.5, n_o), 7.0, 22.0)
    t = day_start + (hour_of_day * 3600).astype(np.int64) + rng.integers(0, 60, n_o)
    at_community = rng.random(n_o) < AT_COMMUNITY
    street = comp_street[comp]

    # channels: grid workers by street; residents by app (once live in the community), hotline or walk-in
    comm_ids = compounds["community_id"].to_numpy()
    communities = np.unique(comm_ids)
    comm_street = pd.Series(comp_street, index=comm_ids).groupby(level=0).first()
    live = {}
    for c in communities:
        lo, hi = (pd.Timestamp(x).value // 10**9 // 86400 for x in APP_LIVE_BY_STREET[comm_street[c]])
        live[c] = int(rng.integers(lo, hi + 1)) * 86400
    live_s = pd.Series(live)
    grid = rng.random(n_o) < np.array([GRID_SHARE_BY_STREET[s] for s in street])
    names = np.array([c for c, _ in RESIDENT_CHANNELS])
    probs = np.array([p for _, p in RESIDENT_CHANNELS])
    own = names[_draw_index(rng, np.tile(np.cumsum(probs / probs.sum()), (n_o, 1)))]
    app_live = t >= live_s.reindex(comm_ids[comp]).to_numpy()
    own = np.where((own == "app") & ~app_live, "hotline", own)
    channel = np.where(grid, "grid_worker", own)

    # buildings of compound requests, in proportion to their households
    b = buildings.merge(pd.DataFrame({"compound_id": compounds["compound_id"], "_c": np.arange(n_comp)}),
                        on="compound_id").sort_values(["_c", "building_id"], kind="stable")
    b_hh = b["households"].to_numpy(dtype=float)
    b_cum = np.cumsum(b_hh)
    c_first = np.searchsorted(b["_c"].to_numpy(), np.arange(n_comp), side="left")
    c_before = np.r_[0.0, b_cum][c_first]
    c_total = np.bincount(b["_c"].to_numpy(), weights=b_hh, minlength=n_comp)
    target = c_before[comp] + rng.random(n_o) * c_total[comp]
    b_idx = np.minimum(np.searchsorted(b_cum, target, side="right"), len(b) - 1)
    building = np.where(at_community, None, b["building_id"].to_numpy()[b_idx])

    # callers: a resident of the compound (or of the community for community-level requests)
    comp_ids = compounds["compound_id"].to_numpy()
    comm_hh = pd.Series(hh, index=comm_ids).groupby(level=0).sum()
    place = np.where(at_community, comm_ids[comp], comp_ids[comp])
    pool = np.where(at_community, comm_hh.reindex(comm_ids[comp]).to_numpy(), hh[comp]) * CALLERS_PER_HOUSEHOLD
    person = (rng.random(n_o) * pool).astype(np.int64)
    caller = np.array([f"{p}-{k}" for p, k in zip(place, person)], dtype=object)
    caller[grid] = None

    # follow-ups: each resident request is followed by another about the same matter with probability
    # FOLLOW_UP_BY_STREET, 1 to 156 hours later (a chain: a follow-up may have its own)
    p_follow = np.where(grid, 0.0, np.array([FOLLOW_UP_BY_STREET[s] for s in street]))
    k = rng.geometric(1.0 - np.minimum(p_follow, 0.999)) - 1
    src = np.repeat(np.arange(n_o), k)
    step = np.concatenate([np.arange(1, j + 1) for j in k[k > 0]]) if k.any() else np.zeros(0, np.int64)
    gaps = rng.uniform(FOLLOW_UP_HOURS[0] * 3600, FOLLOW_UP_HOURS[1] * 3600, len(src))
    # time of the j-th follow-up: the original plus the first j gaps of its chain
    chain_cum = np.zeros(len(src))
    if len(src):
        first_of_chain = np.r_[True, src[1:] != src[:-1]]
        grp = np.cumsum(first_of_chain) - 1
        csum = np.cumsum(gaps)
        base = np.r_[0.0, csum][np.flatnonzero(first_of_chain)][grp]
        chain_cum = csum - base
    t_f = t[src] + np.round(chain_cum).astype(np.int64)
    ok = t_f < end
    src, step, t_f = src[ok], step[ok], t_f[ok]
    f_live = t_f >= live_s.reindex(comm_ids[comp[src]]).to_numpy()
    f_channel = np.where(f_live, "app", "hotline")

    idx = np.r_[np.arange(n_o), src]
    t_all = np.r_[t, t_f]
    order = np.lexsort((np.r_[np.zeros(n_o, np.int64), step], idx, t_all))
    idx, t_all = idx[order], t_all[order]
    is_follow = np.r_[np.zeros(n_o, bool), np.ones(len(src), bool)][order]
    channel = np.r_[channel, f_channel][order]
    n = len(idx)
    comp, cat, at_community, street = comp[idx], cat[idx], at_community[idx], street[idx]
    building, caller, chain = building[idx], caller[idx], idx
    caller = _separate_callers(caller, chain, t_all)
    t = t_all
    created_local = pd.to_datetime(t, unit="s")  # naive local time

    cats = list(CATEGORIES)
    cat_median = np.array([CATEGORIES[c][1] for c in cats])[cat]
    # affair class of the matter (the same for a chain), recorded or not by year
    u_aff = rng.random(n_o)[idx]
    affair = np.empty(n, dtype=object)
    for j, c in enumerate(cats):
        pm, pmin, _ = CATEGORIES[c][2]
        sel = cat == j
        affair[sel] = np.where(u_aff[sel] < pm, "major", np.where(u_aff[sel] < pm + pmin, "minor", "private"))
    ungraded = rng.random(n) < pd.Series(created_local.year).map(UNGRADED_BY_YEAR).fillna(0.0).to_numpy()
    affair_recorded = np.where(ungraded, None, affair)

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
    cm = created_local.to_numpy().astype("datetime64[M]").astype(int)
    am = np.where(adopted, adopt.astype("datetime64[M]").astype(int), 0)
    y0 = base + surge_h
    y1 = base * np.where(adopted & ~at_community, red_factor(street, np.maximum(cm - am, 0)), 1.0) + surge_h
    y_obs = np.where(treated, y1, y0)
    never = rng.random(n) < np.array([NEVER_RESOLVED_BY_CATEGORY[c] for c in cats])[cat]

    # ratings: same noise for both potential outcomes
    latent_base = (np.array([STREET_RATING[s] for s in street]) + comp_rating[comp]
                   + np.array([CATEGORY_RATING[c] for c in cats])[cat] + rng.logistic(0, 1, n))
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
    response_h = rng.exponential(np.array([RESPONSE_MEAN_HOURS_BY_STREET[s] for s in street])) + 0.05
    no_response = rng.random(n) < pd.Series(channel).map(NO_RESPONSE_BY_CHANNEL).to_numpy(dtype=float)
    first_resp_s = np.minimum(created_s + np.round(response_h * 3600).astype(np.int64), resolved_s)
    closed_s = resolved_s + np.round(rng.uniform(2, 72, n) * 3600).astype(np.int64)
    cut = (cutoff.tz_convert(tz).tz_localize(None).value // 10**9)
    resolved_ok = (~never) & (resolved_s <= cut)
    closed_ok = resolved_ok & (closed_s <= cut)
    responds = ~no_response | ~never  # a response comes at some time (by the resolution at the latest)
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

    ids = np.array([f"R{y}{i:07d}" for y, i in zip(created_local.year, np.arange(1, n + 1))])
    # salted SHA-256 (hash_values), its hex digits written as the letters a-p: a key of hex digits can
    # hold a run that looks like a mobile number, which the loader's screen would rightly refuse
    keys = hash_values(pd.Series(caller, dtype=object), salt).str.translate(KEY_LETTERS)
    df = pd.DataFrame({
        "request_id": ids,
        "channel": channel,
        "category": np.array(cats)[cat],
        "affair_class": affair_recorded,
        "compound_id": np.where(at_community, None, comp_ids[comp]),
        "community_id": comm_ids[comp],
        "created_at": stamp(created_s, np.ones(n, bool)),
        "first_response_at": stamp(first_resp_s, responded),
        "resolved_at": stamp(resolved_s, resolved_ok),
        "closed_at": stamp(closed_s, closed_ok),
        "status": status,
        "reopened": pd.array(reopened, dtype="Int64"),
        "rating": rating,
        "caller_key": keys.to_numpy(dtype=object),
        "building_id": building,
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
        # for the hotline truth: observed quantities without censoring
        "hours": y_obs, "never_resolved": never,
        "response_hours": np.where(responds, (first_resp_s - created_s) / 3600.0, np.nan),
        "resolved_by_cutoff": resolved_ok, "rated_by_cutoff": closed_ok & ~not_reached,
        "follow_up": is_follow, "keyed": caller != None,  # noqa: E711 - element-wise
        "affair_latent": affair,
    })
    plants = {
        "hot_spots": {str(comp_ids[c]): {"excess": float(excess[c]), "frailty": round(float(frailty[c]), 6),
                                         "realised_rate_ratio": round(float(excess[c] * frailty[c]), 6)}
                      for c in hot},
        "app_live_by_community": {c: str(pd.Timestamp(live[c], unit="s").date()) for c in communities},
    }
    return df, potential, plants


def _separate_callers(caller: np.ndarray, chain: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Callers with the independent matters of one caller at least :data:`CALLER_GAP_DAYS` apart.

    A chain (a request and its follow-ups) keeps its caller; a chain that starts less than
    ``CALLER_GAP_DAYS`` after another request of the same caller is given a new caller (another
    resident), so that a same-caller rule finds exactly the follow-ups.
    """
    caller = caller.copy()
    keyed = np.flatnonzero(caller != None)  # noqa: E711 - element-wise
    gap = CALLER_GAP_DAYS * 86400
    fresh = 0
    while True:
        c = caller[keyed]
        codes = pd.factorize(pd.Series(c, dtype=object))[0]
        order = np.lexsort((t[keyed], codes))
        kc, kt, kch = codes[order], t[keyed][order], chain[keyed][order]
        clash = (kc[1:] == kc[:-1]) & (kch[1:] != kch[:-1]) & (kt[1:] - kt[:-1] < gap)
        if not clash.any():
            return caller
        bad = np.unique(kch[1:][clash])
        rows = keyed[np.isin(chain[keyed], bad)]
        new = {ch: f"{caller[rows[np.flatnonzero(chain[rows] == ch)[0]]]}~{fresh + j}" for j, ch in enumerate(bad)}
        fresh += len(bad)
        caller[rows] = [new[ch] for ch in chain[rows]]


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
