"""Working-day calendars: official Chinese public holidays and make-up workdays, or plain weekdays.

China's State Council moves working days around public holidays: a holiday week is paid for by
working on a weekend before or after it (调休). A "weekday" rule in the article ("a sunk cadre on
duty in every community from Monday to Friday") is therefore evaluated on *official working days*:
Monday-Friday that are not public holidays, plus the make-up Saturdays and Sundays. The dates come
from the ``holidays`` package (``holidays.China``), which records both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class WorkCalendar:
    """A working-day calendar.

    Parameters
    ----------
    holidays
        Dates that are not working days although they fall on Monday-Friday.
    extra_workdays
        Saturdays and Sundays that are working days (make-up workdays).
    name
        Description used in method notes.
    """

    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    extra_workdays: frozenset[dt.date] = field(default_factory=frozenset)
    name: str = "Monday-Friday"

    @classmethod
    def china(cls, years: Iterable[int]) -> WorkCalendar:
        """Official Chinese calendar for ``years`` (public holidays and make-up workdays)."""
        import holidays as hol  # noqa: PLC0415 - deferred: the holiday tables load only for the Chinese calendar

        years = sorted(set(int(y) for y in years))
        cn = hol.China(years=years)
        return cls(
            holidays=frozenset(d for d in cn if d.weekday() < 5),
            extra_workdays=frozenset(d for d in cn.weekend_workdays if d.year in years),
            name=f"official Chinese working days {years[0]}-{years[-1]} (public holidays and make-up workdays, python-holidays)",
        )

    @classmethod
    def weekdays(cls) -> WorkCalendar:
        """Generic calendar: Monday-Friday, no holidays."""
        return cls()

    def is_working_day(self, dates) -> np.ndarray:
        """Boolean array: is each date (date-like, Series or DatetimeIndex) a working day?"""
        idx = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates)).dt.tz_localize(None) if _has_tz(dates) else pd.to_datetime(pd.Series(dates)))
        idx = idx.normalize()
        weekday = idx.day_of_week < 5
        out = weekday.copy()
        if self.holidays:
            hol = pd.DatetimeIndex(sorted(self.holidays))
            out &= ~idx.isin(hol)
        if self.extra_workdays:
            extra = pd.DatetimeIndex(sorted(self.extra_workdays))
            out |= idx.isin(extra)
        return np.asarray(out, dtype=bool)

    def working_days(self, start, end) -> pd.DatetimeIndex:
        """Working days from ``start`` to ``end`` inclusive."""
        days = pd.date_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), freq="D")
        return days[self.is_working_day(days)]


def _has_tz(dates) -> bool:
    s = pd.Series(dates)
    return isinstance(s.dtype, pd.DatetimeTZDtype)
