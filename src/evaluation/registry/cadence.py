"""Rules over the calendar: weekday duty coverage and meeting cadence compliance.

Both are *flow* indicators over a calendar year and both are counts of unit-periods, so they roll
up by summing numerators and denominators (:mod:`evaluation.registry.rollup`).

Weekday duty (the article: "every community has at least one sunk cadre working full-time on
every weekday, Monday to Friday"). The weekdays are the *official working days* of
:class:`evaluation.calendar.WorkCalendar`: public holidays that fall on Monday-Friday are not
due, make-up Saturdays and Sundays are. A community-working-day is covered when the duty roster
has at least one sunk party member (``party_members.sunk``) with ``hours > 0`` that day.

Meeting cadence (the article: a big-committee joint meeting every quarter, a three-party meeting
every month, a resident deliberation every week). A rule period is *met* when at least one
meeting of the type is held in it. A period is *due* when

* it lies in the year and has ended by the data cut-off (an unfinished period is not judged),
* it has at least one working day (so Spring Festival week 2020, 27 January - 2 February, all
  holiday, owes no weekly deliberation), and
* the body the rule binds exists at the period's start: a community big party committee
  (``party_orgs`` of type ``community_committee``) for joint meetings; an owners committee in
  force in one of the community's compounds for three-party meetings (community + owners
  committee + property company); nothing for resident deliberations.

Weeks are ISO weeks (Monday-Sunday) of the ISO year equal to the calendar year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.calendar import WorkCalendar
from evaluation.periods import calendar_periods, in_force

#: meeting type -> rule period (pandas frequency: quarter, month, ISO week)
RULES = {"big_committee_joint": "Q", "three_party": "M", "resident_deliberation": "W"}
RULE_WORDS = {"Q": "quarterly", "M": "monthly", "W": "weekly"}


def _day(x) -> pd.Timestamp:
    return pd.Timestamp(x).normalize()


def rule_periods(freq: str, year: int, calendar: WorkCalendar, until=None) -> pd.DataFrame:
    """Rule periods of ``year`` that are due on the calendar: ``period``, ``start``, ``end``.

    ``freq`` is ``Q``, ``M`` or ``W`` (ISO weeks of ISO year ``year``). Periods that end after
    ``until`` (the data cut-off) and periods without a working day are left out.
    """
    df = calendar_periods(year, freq)
    if until is not None:
        df = df[df["end"] <= _day(until)]
    if len(df) == 0:
        return df.reset_index(drop=True)
    days = pd.date_range(df["start"].min(), df["end"].max(), freq="D")
    # working days up to and including each day; a period has one if the count rises across it
    cum = np.concatenate([[0], np.cumsum(calendar.is_working_day(days))])
    first = days.searchsorted(df["start"])
    last = days.searchsorted(df["end"])
    has_workday = (cum[last + 1] - cum[first]) > 0
    return df[has_workday].reset_index(drop=True)


def _assign_period(dates: pd.Series, periods: pd.DataFrame) -> pd.Series:
    """Label of the period that contains each date (missing outside every period)."""
    d = pd.to_datetime(dates).dt.normalize().to_numpy()
    if len(periods) == 0:
        return pd.Series([None] * len(d), index=dates.index, dtype="object")
    starts = periods["start"].to_numpy()
    ends = periods["end"].to_numpy()
    idx = np.searchsorted(starts, d, side="right") - 1
    inside = (idx >= 0) & (d <= ends[np.clip(idx, 0, None)])  # NaT compares false: never inside
    labels = periods["period"].to_numpy()[np.clip(idx, 0, None)]
    return pd.Series(np.where(inside, labels, None), index=dates.index, dtype="object")


def cadence_counts(meetings: pd.DataFrame | None, communities: pd.Index, year: int, calendar: WorkCalendar,
                   bodies: dict[str, pd.DataFrame | None], until=None) -> dict[str, pd.DataFrame]:
    """Rule periods due and met per community and meeting type.

    Parameters
    ----------
    meetings
        The ``meetings`` table (``unit_id``, ``meeting_type``, ``date``).
    communities
        Community ids the rules apply to.
    bodies
        Meeting type -> table of the bodies the rule needs, with ``community_id``, ``date``
        (in place from) and ``ended`` (missing while in place); ``None`` when the rule binds
        every community (resident deliberation) or the table is not available.

    Returns
    -------
    Meeting type -> one row per community: ``unit_id``, ``numerator`` (periods met),
    ``denominator`` (periods due), ``n`` (periods due).
    """
    out = {}
    comm = pd.Index(communities, dtype="str")
    for mtype, freq in RULES.items():
        periods = rule_periods(freq, year, calendar, until)
        grid = pd.merge(pd.DataFrame({"unit_id": comm}), periods, how="cross")
        body = bodies.get(mtype)
        if body is not None:
            pairs = grid[["unit_id", "period", "start"]].merge(
                body.rename(columns={"community_id": "unit_id"}), on="unit_id", how="inner")
            pairs = pairs[in_force(pairs["date"], pairs["ended"], pairs["start"])]
            due_keys = set(zip(pairs["unit_id"], pairs["period"]))
            grid = grid[[k in due_keys for k in zip(grid["unit_id"], grid["period"])]]
        held_keys: set = set()
        if meetings is not None and len(meetings) and len(periods):
            m = meetings[meetings["meeting_type"].eq(mtype)]
            lab = _assign_period(m["date"], periods)
            held_keys = set(zip(m["unit_id"].astype("str"), lab))
        grid = grid.assign(met=[k in held_keys for k in zip(grid["unit_id"], grid["period"])])
        g = grid.groupby("unit_id")["met"].agg(["sum", "size"]).reindex(comm, fill_value=0)
        out[mtype] = pd.DataFrame({"unit_id": comm, "numerator": g["sum"].to_numpy(dtype=float),
                                   "denominator": g["size"].to_numpy(dtype=float), "n": g["size"].to_numpy()})
    return out


def duty_counts(roster: pd.DataFrame | None, members: pd.DataFrame | None, communities: pd.Index, year: int,
                calendar: WorkCalendar, until=None) -> pd.DataFrame:
    """Community-working-days with a sunk cadre on duty.

    Returns one row per community: ``numerator`` (working days with at least one sunk member
    on duty, ``hours > 0``), ``denominator`` and ``n`` (working days of ``year`` up to
    ``until``).
    """
    end = pd.Timestamp(year, 12, 31)
    if until is not None:
        end = min(end, _day(until))
    days = calendar.working_days(pd.Timestamp(year, 1, 1), end) if end >= pd.Timestamp(year, 1, 1) else pd.DatetimeIndex([])
    comm = pd.Index(communities, dtype="str")
    covered = pd.Series(0.0, index=comm)
    if roster is not None and len(roster) and members is not None:
        sunk_ids = members.loc[members["sunk"].fillna(False).astype(bool), "member_id"]
        r = roster[roster["member_id"].isin(sunk_ids) & (roster["hours"] > 0)]
        d = pd.to_datetime(r["date"]).dt.normalize()
        r = r.assign(date=d)[d.isin(days).to_numpy()]
        cnt = r.drop_duplicates(["community_id", "date"]).groupby("community_id").size()
        covered = cnt.reindex(comm, fill_value=0).astype(float)
    return pd.DataFrame({"unit_id": comm, "numerator": covered.to_numpy(),
                         "denominator": float(len(days)), "n": len(days)})
