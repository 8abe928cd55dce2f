"""The synthetic dispatch events and the realised truth of the hotline plants (``truth.json`` ``hotline``).

The truth is computed here from what the generator knows and the log does not show: the resolution
and response time of every request without censoring (requests still open at the cut-off included),
which requests are follow-ups, both potential outcomes. Working time is computed here on its own
(:func:`working_hours`, from the official calendar of :class:`evaluation.calendar.WorkCalendar`), not
with the estimator's code, so that a test comparing the two checks the estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.calendar import WorkCalendar
from evaluation.synth import requests as rq

#: dispatch events are recorded from this day on (the app's dispatch module)
EVENTS_FROM = "2021-01-01"
#: probability that the unit a request is assigned to sends it back (退单), by street
RETURN_BY_STREET = {"S01": 0.03, "S02": 0.05, "S03": 0.07, "S04": 0.10}
#: probability that a request is transferred (转派) to another unit, by category
TRANSFER_BY_CATEGORY = {"public_facilities": 0.15, "parking_traffic": 0.12, "neighbour_dispute": 0.10,
                        "property_management": 0.05, "environment_sanitation": 0.05, "safety": 0.05,
                        "elderly_care": 0.05, "administrative_services": 0.05, "other": 0.05}
#: share of major matters (大事) for which the community blows the whistle (吹哨) to the departments
WHISTLE_SHARE_MAJOR = 0.6
#: mean hours from a whistle to the department's report (报到), exponential, by street
REPORT_MEAN_HOURS_BY_STREET = {"S01": 4.0, "S02": 6.0, "S03": 8.0, "S04": 12.0}
#: the department a category's major matters go to
DEPARTMENT_BY_CATEGORY = {"public_facilities": "D-URBAN", "parking_traffic": "D-TRAFFIC",
                          "property_management": "D-HOUSING", "environment_sanitation": "D-SANITATION",
                          "safety": "D-SAFETY", "elderly_care": "D-CIVIL", "administrative_services": "D-GOV",
                          "neighbour_dispute": "D-JUSTICE", "other": "D-GOV"}


def default_deadlines() -> dict:
    """The default deadline table of the catalogue (``svc.on_time_share``), in working days."""
    return catalog.get("svc.on_time_share").extra["deadlines"]


def deadline_days(affair_class: pd.Series, category: pd.Series, table: dict) -> np.ndarray:
    """Resolution deadline of each request (working days).

    Its category's where the table names one, else its affair class's, else the unclassified one.
    """
    by_class = affair_class.map(table["resolution"]).fillna(table["resolution"]["unclassified"])
    by_cat = category.map(table.get("resolution_by_category", {}))
    return by_cat.fillna(by_class).to_numpy(dtype=float)


def working_hours(start_local_s: np.ndarray, end_local_s: np.ndarray, calendar: WorkCalendar) -> np.ndarray:
    """Hours of working days between naive local instants (seconds), every hour of a working day counted."""
    start_local_s, end_local_s = np.asarray(start_local_s, np.int64), np.asarray(end_local_s, np.int64)
    d0 = int(min(start_local_s.min(), end_local_s.min()) // 86400)
    d1 = int(max(start_local_s.max(), end_local_s.max()) // 86400)
    days = pd.to_datetime(np.arange(d0, d1 + 1) * 86400, unit="s")
    working = calendar.is_working_day(days)
    before = np.r_[0.0, np.cumsum(working * 86400.0)]  # working seconds before each day

    def clock(x):
        k = x // 86400 - d0
        return before[k] + np.where(working[k], x % 86400, 0)

    return (clock(end_local_s) - clock(start_local_s)) / 3600.0


def on_time_truth(requests: pd.DataFrame, potential: pd.DataFrame, years: list[int]) -> dict:
    """Realised shares resolved and responded within each request's own deadline, by street and year.

    Over every request created in the year: resolved within its deadline (working days of the
    default table, 24 working hours a day) by its true resolution time, whether or not that came
    before the cut-off (never resolved: not in time); responded within the response deadline.
    """
    table = default_deadlines()
    cal = WorkCalendar.china(range(years[0], years[-1] + 3))
    start = (potential["created_local"].astype("datetime64[s]").astype("int64")).to_numpy()
    hours = np.where(potential["never_resolved"], 0.0, potential["hours"].to_numpy())
    end = start + np.round(hours * 3600).astype(np.int64)
    work = working_hours(start, end, cal)
    limit = deadline_days(requests["affair_class"], requests["category"], table) * 24.0
    resolved_in_time = ~potential["never_resolved"].to_numpy() & (work <= limit)
    resp = potential["response_hours"].to_numpy()
    resp_end = start + np.round(np.nan_to_num(resp) * 3600).astype(np.int64)
    responded_in_time = ~np.isnan(resp) & (working_hours(start, resp_end, cal) <= table["response"] * 24.0)
    frame = pd.DataFrame({"street": potential["street_id"].to_numpy(), "year": potential["created_local"].dt.year,
                          "resolution": resolved_in_time, "response": responded_in_time})
    out = {}
    for what in ("resolution", "response"):
        g = frame.groupby(["street", "year"])[what].mean()
        out[what] = {s: {str(y): round(float(v), 6) for (s2, y), v in g.items() if s2 == s}
                     for s in sorted(frame["street"].unique())}
        out[what]["all"] = {str(y): round(float(v), 6) for y, v in frame.groupby("year")[what].mean().items()}
        month = potential["created_local"].dt.strftime("%Y-%m")
        out[what]["all_by_month"] = {m: round(float(v), 6) for m, v in frame.groupby(month.to_numpy())[what].mean().items()}
    return out


def repeat_truth(potential: pd.DataFrame) -> dict:
    """Realised share of follow-ups among requests with a caller, by street and over all."""
    p = potential[potential["keyed"]]
    by = p.groupby("street_id")["follow_up"].mean()
    return {"by_street": {s: round(float(v), 6) for s, v in by.items()}, "all": round(float(p["follow_up"].mean()), 6),
            "requests_with_a_caller": int(len(p))}


def panel_scale_att(requests: pd.DataFrame, potential: pd.DataFrame, cutoff: pd.Timestamp, period: str = "Q",
                    followup_days: float = 90.0) -> dict:
    """The realised ATT on the scale of the compound-period panel of :mod:`evaluation.impact`.

    For every compound-period of the estimation window (periods that ended at least
    ``followup_days`` before the cut-off), the effect on the period's mean resolution hours over
    **all** its requests resolved by the cut-off (those raised before the adoption date have no
    effect) and on its satisfaction rate over all its rated requests; averaged with equal weight over
    the treated compound-periods a staggered difference-in-differences averages: compounds with an
    outcome in every period of the window (a balanced panel), adopting after the first period of the
    window and by its last, from their adoption period on.
    """
    local_cut = cutoff.tz_localize(None) if cutoff.tzinfo is None else cutoff.tz_convert(
        str(requests["created_at"].dt.tz)).tz_localize(None)
    p = potential.assign(resolved=potential["resolved_by_cutoff"].to_numpy(), rated=potential["rated_by_cutoff"].to_numpy())
    p = p[p["compound_id"].notna()].copy()
    per = p["created_local"].dt.to_period(period)
    p["period"] = per.astype(str)
    ends = per.dt.end_time.dt.normalize() + pd.Timedelta(days=1)
    p = p[(ends + pd.Timedelta(days=followup_days) <= local_cut).to_numpy()]
    periods = sorted(p["period"].unique())
    first, last = periods[0], periods[-1]
    adopt = p.groupby("compound_id")["adopted_on"].first()
    cohort = adopt.dt.to_period(period).astype(str).where(adopt.notna())
    effect_h = np.where(p["treated"], p["y1_hours"] - p["y0_hours"], 0.0)
    s0 = rq.satisfaction_score(p["r0"].to_numpy())
    s1 = rq.satisfaction_score(np.where(p["treated"], p["r1"], p["r0"]))
    p = p.assign(effect_h=effect_h, effect_s=s1 - s0)
    out = {}
    for outcome, rows, col in (("mean_resolution_hours", p["resolved"], "effect_h"), ("satisfaction_rate", p["rated"], "effect_s")):
        cells = p[rows.to_numpy()].groupby(["compound_id", "period"])[col].mean()
        n_periods = cells.groupby(level=0).size()
        balanced = n_periods.index[n_periods == len(periods)]
        c = cells[cells.index.get_level_values(0).isin(balanced)].reset_index()
        g = c["compound_id"].map(cohort)
        treated = g.notna() & (g > first) & (g <= last) & (c["period"] >= g)
        out[outcome] = round(float(c.loc[treated, col].mean()), 5)
        out[f"{outcome}_treated_compound_periods"] = int(treated.sum())
    out["window"] = f"{first}..{last}"
    return out


def make_events(rng: np.random.Generator, requests: pd.DataFrame, potential: pd.DataFrame,
                cutoff: pd.Timestamp) -> tuple[pd.DataFrame, dict]:
    """Dispatch events of the requests created from :data:`EVENTS_FROM` on (one row per event).

    Every request is assigned (派单) by its street to its community, or for a major matter to the
    department of its category; the unit it went to sends it back (退单) with a probability by
    street, after which it is assigned again; it is transferred (转派) with a probability by
    category; for major matters the community blows the whistle (吹哨) with probability
    :data:`WHISTLE_SHARE_MAJOR` and the department reports (报到) an exponential time later (mean by
    street); the resolution (办结) closes the record. Events after the cut-off have not happened.
    """
    tz = str(requests["created_at"].dt.tz)
    sel = (requests["created_at"] >= pd.Timestamp(EVENTS_FROM, tz=tz)).to_numpy()
    r = requests[sel].reset_index(drop=True)
    pot = potential[sel].reset_index(drop=True)
    n = len(r)
    street = pot["street_id"].to_numpy()
    created = r["created_at"].dt.as_unit("ns").array.asi8 // 10**9  # UTC seconds
    cut = int(cutoff.value // 10**9)
    has_res = r["resolved_at"].notna().to_numpy()
    resolved = np.where(has_res, r["resolved_at"].dt.as_unit("ns").array.asi8 // 10**9, cut)
    end_ref = np.where(has_res, resolved, cut)
    major = (pot["affair_latent"] == "major").to_numpy()
    community = r["community_id"].to_numpy(dtype=object)
    dept = r["category"].map(DEPARTMENT_BY_CATEGORY).to_numpy(dtype=object)
    first_to = np.where(major, dept, community)
    other_to = np.where(major, community, dept)
    # dispatched within minutes, and before a quick resolution
    delay = np.round(rng.exponential(0.25, n) * 3600).astype(np.int64)
    assigned = created + np.minimum(delay, np.where(has_res, (resolved - created) // 2, delay))
    span = np.maximum(end_ref - assigned, 60)
    returned = rng.random(n) < np.array([RETURN_BY_STREET[s] for s in street])
    t_ret = assigned + (rng.uniform(0.05, 0.3, n) * span).astype(np.int64)
    t_reassign = t_ret + np.round(rng.uniform(0.1, 1.0, n) * 3600).astype(np.int64)
    transferred = rng.random(n) < r["category"].map(TRANSFER_BY_CATEGORY).to_numpy(dtype=float)
    t_tr = assigned + (rng.uniform(0.35, 0.6, n) * span).astype(np.int64)
    whistle = major & (rng.random(n) < WHISTLE_SHARE_MAJOR)
    t_wh = assigned + (rng.uniform(0.05, 0.3, n) * span).astype(np.int64)
    report_h = rng.exponential(np.array([REPORT_MEAN_HOURS_BY_STREET[s] for s in street]))
    t_rep = t_wh + np.round(report_h * 3600).astype(np.int64)
    ids = r["request_id"].to_numpy(dtype=object)
    cur = np.where(returned, other_to, first_to)  # the unit holding the request after any send-back
    parts = [
        (np.ones(n, bool), assigned, "assigned", street, first_to),
        (returned, t_ret, "returned", first_to, street),
        (returned, t_reassign, "assigned", street, other_to),
        (transferred, t_tr, "transferred", cur, np.where(cur == dept, community, dept)),
        (whistle, t_wh, "escalated", community, dept),
        (whistle, t_rep, "reported", dept, community),
        (has_res, resolved, "resolved", np.where(transferred, np.where(cur == dept, community, dept), cur), None),
    ]
    frames = []
    for k, (mask, at, kind, src, dst) in enumerate(parts):
        keep = mask & (at <= cut)
        frames.append(pd.DataFrame({
            "request_id": ids[keep], "_order": k, "event_type": kind, "_at": at[keep],
            "from_unit": np.broadcast_to(np.asarray(src, dtype=object), (n,))[keep],
            "to_unit": np.broadcast_to(np.asarray(dst, dtype=object), (n,))[keep]}))
    ev = pd.concat(frames, ignore_index=True).sort_values(["request_id", "_at", "_order"], kind="stable")
    ev["seq"] = ev.groupby("request_id").cumcount() + 1
    ev["at"] = pd.to_datetime(ev["_at"], unit="s", utc=True).dt.tz_convert(tz).astype(f"datetime64[ns, {tz}]")
    ev = ev[["request_id", "seq", "event_type", "at", "from_unit", "to_unit"]].reset_index(drop=True)
    whistles = pd.DataFrame({"street": street[whistle], "reported": (t_rep <= cut)[whistle]})
    facts = {
        "events_from": EVENTS_FROM,
        "return_probability_by_street": RETURN_BY_STREET,
        "transfer_probability_by_category": TRANSFER_BY_CATEGORY,
        "whistle_share_of_major_matters": WHISTLE_SHARE_MAJOR,
        "report_hours_exponential_mean_by_street": REPORT_MEAN_HOURS_BY_STREET,
        "report_hours_median_by_street": {s: round(m * float(np.log(2)), 6) for s, m in REPORT_MEAN_HOURS_BY_STREET.items()},
        "realised_return_share_by_street": {s: round(float(v), 6) for s, v in
                                            pd.Series(returned).groupby(street).mean().items()},
        "whistles": int(whistle.sum()), "whistles_reported_by_cutoff": int(whistles["reported"].sum()),
    }
    return ev, facts
