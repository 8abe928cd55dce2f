"""Duty coverage and meeting cadence on small hand-built calendars with known answers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from evaluation.calendar import WorkCalendar
from evaluation.registry.cadence import cadence_counts, duty_counts, rule_periods

# A toy calendar: Wednesday 2020-03-04 is a public holiday, Saturday 2020-03-07 a make-up workday.
HOLIDAY = dt.date(2020, 3, 4)
MAKEUP_SAT = dt.date(2020, 3, 7)
TOY = WorkCalendar(holidays=frozenset({HOLIDAY}), extra_workdays=frozenset({MAKEUP_SAT}), name="toy")


def _members():
    return pd.DataFrame({"member_id": ["M1", "M2", "M3"], "sunk": pd.array([True, True, False], dtype="boolean")})


def _roster(rows):
    df = pd.DataFrame(rows, columns=["date", "community_id", "member_id", "hours"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def test_duty_week_with_holiday_and_makeup_saturday():
    # 2020-03-02 (Mon) .. 2020-03-08 (Sun): working days Mon, Tue, Thu, Fri, Sat = 5
    roster = _roster([
        ("2020-03-02", "C1", "M1", 8),  # Monday: covered
        ("2020-03-02", "C1", "M2", 8),  # second cadre the same day: still one covered day
        ("2020-03-03", "C1", "M3", 8),  # Tuesday, but M3 is not a sunk member: not covered
        ("2020-03-04", "C1", "M1", 8),  # the holiday: not a working day, ignored
        ("2020-03-05", "C1", "M1", 0),  # zero hours: not on duty
        ("2020-03-06", "C1", "M2", 4),  # Friday: covered
        ("2020-03-07", "C1", "M1", 8),  # make-up Saturday: a working day, covered
        ("2020-03-08", "C1", "M1", 8),  # ordinary Sunday: ignored
        ("2020-03-02", "C2", "M1", 8),  # C2: Monday only
    ])
    out = duty_counts(roster, _members(), pd.Index(["C1", "C2", "C3"]), 2020, TOY, until="2020-03-08")
    # until=2020-03-08 caps the year at that day: working days 2020-01-01..2020-03-08 on the toy calendar
    n_days = len(TOY.working_days("2020-01-01", "2020-03-08"))
    assert n_days == 48  # 48 Mon-Fri days (23 + 20 + 5), minus the holiday, plus the make-up Saturday
    got = out.set_index("unit_id")
    assert got.loc["C1", "numerator"] == 3  # Monday, Friday, make-up Saturday
    assert got.loc["C2", "numerator"] == 1
    assert got.loc["C3", "numerator"] == 0  # a community with no roster rows is due, not skipped
    assert (got["denominator"] == n_days).all()


def test_duty_official_calendar_2020_working_days():
    # counted by hand from the State Council holiday notice for 2020 and the Spring Festival extension to 2 February:
    # 262 Monday-Friday days - 19 holiday weekdays (1 + 6 + 1 + 3 + 2 + 6) + 6 make-up weekend days = 249
    out = duty_counts(_roster([]), _members(), pd.Index(["C1"]), 2020, WorkCalendar.china([2020]))
    assert out["denominator"].iloc[0] == 249
    assert out["numerator"].iloc[0] == 0


def test_weekly_periods_skip_weeks_without_working_days():
    cal = WorkCalendar.china([2020])
    weeks = rule_periods("W", 2020, cal)
    # ISO 2020 has 53 weeks; week 5 (27 Jan - 2 Feb 2020, the extended Spring Festival) has no working day
    assert len(weeks) == 52
    assert "2020-W05" not in set(weeks["period"])
    assert weeks["start"].iloc[0] == pd.Timestamp("2019-12-30")
    # the generic Monday-Friday calendar owes all 53
    assert len(rule_periods("W", 2020, WorkCalendar.weekdays())) == 53


def test_all_holiday_week_is_not_due_on_toy_calendar():
    week = pd.date_range("2020-03-09", "2020-03-13").date
    cal = WorkCalendar(holidays=frozenset(week))
    weeks = rule_periods("W", 2020, cal)
    assert "2020-W11" not in set(weeks["period"]) and "2020-W10" in set(weeks["period"])


def _meetings(rows):
    df = pd.DataFrame(rows, columns=["unit_id", "meeting_type", "date"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def test_cadence_weekly_monthly_quarterly_known_answers():
    cal = WorkCalendar.weekdays()
    meetings = _meetings([
        # weekly: two meetings in ISO week 2 count once; one in week 3; Sunday 2020-01-12 is still week 2
        ("C1", "resident_deliberation", "2020-01-06"),
        ("C1", "resident_deliberation", "2020-01-12"),
        ("C1", "resident_deliberation", "2020-01-15"),
        # a meeting on 2019-12-31 belongs to ISO week 2020-W01
        ("C1", "resident_deliberation", "2019-12-31"),
        # monthly: January twice, March once
        ("C1", "three_party", "2020-01-03"), ("C1", "three_party", "2020-01-30"), ("C1", "three_party", "2020-03-01"),
        # quarterly: Q1 and Q4
        ("C1", "big_committee_joint", "2020-02-15"), ("C1", "big_committee_joint", "2020-12-31"),
        # another community's meetings do not count for C1
        ("C2", "big_committee_joint", "2020-05-15"),
    ])
    bodies = {"resident_deliberation": None, "big_committee_joint": None, "three_party": None}
    out = cadence_counts(meetings, pd.Index(["C1", "C2"]), 2020, cal, bodies)
    wk = out["resident_deliberation"].set_index("unit_id")
    assert (wk.loc["C1", "numerator"], wk.loc["C1", "denominator"]) == (3, 53)  # W01, W02, W03
    mo = out["three_party"].set_index("unit_id")
    assert (mo.loc["C1", "numerator"], mo.loc["C1", "denominator"]) == (2, 12)
    q = out["big_committee_joint"].set_index("unit_id")
    assert (q.loc["C1", "numerator"], q.loc["C1", "denominator"]) == (2, 4)
    assert (q.loc["C2", "numerator"], q.loc["C2", "denominator"]) == (1, 4)


def test_cadence_due_only_when_body_in_place_and_period_finished():
    cal = WorkCalendar.weekdays()
    # C1's big committee formed 2020-05-10: Q3 and Q4 are due, Q2 (started before it existed) is not;
    # C2's committee formed 2020-01-01 and was dissolved 2020-10-01: Q1-Q3 due, Q4 not.
    bodies = {"big_committee_joint": pd.DataFrame({
        "community_id": ["C1", "C2"],
        "date": pd.to_datetime(["2020-05-10", "2020-01-01"]),
        "ended": pd.to_datetime([None, "2020-10-01"]),
    })}
    meetings = _meetings([("C1", "big_committee_joint", "2020-05-20"), ("C1", "big_committee_joint", "2020-08-01"),
                          ("C2", "big_committee_joint", "2020-11-01")])
    out = cadence_counts(meetings, pd.Index(["C1", "C2", "C3"]), 2020, cal, bodies)["big_committee_joint"]
    got = out.set_index("unit_id")
    assert (got.loc["C1", "numerator"], got.loc["C1", "denominator"]) == (1, 2)  # Q3 met, Q4 not, Q2 not due
    assert (got.loc["C2", "numerator"], got.loc["C2", "denominator"]) == (0, 3)  # its Q4 meeting is after dissolution
    assert (got.loc["C3", "numerator"], got.loc["C3", "denominator"]) == (0, 0)  # no committee: nothing due
    # a data cut-off in mid-November: Q4 is not finished, so not judged
    cut = cadence_counts(meetings, pd.Index(["C1"]), 2020, cal, bodies, until="2020-11-15")["big_committee_joint"]
    assert (cut["numerator"].iloc[0], cut["denominator"].iloc[0]) == (1, 1)


def test_unknown_rule_period():
    with pytest.raises(ValueError, match="unknown rule period"):
        rule_periods("Y", 2020, WorkCalendar.weekdays())
