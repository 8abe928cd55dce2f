"""Durations between two instants in calendar or working time.

Calendar time is elapsed time (UTC instants, so a daylight-saving change never adds or removes an
hour). Working time counts only the hours that fall on working days of a
:class:`~evaluation.calendar.WorkCalendar` (official Chinese working days for Chinese data, plain
Monday-Friday elsewhere), **all 24 hours of a working day**, on the local wall clock: a request
filed on Friday 18:00 and resolved on Monday 09:00 took 6 + 9 = 15 working hours; one filed on a
Saturday and resolved the same Saturday took 0. Office hours are not modelled: a hotline log does
not record them and a 24-hour working day keeps the measure additive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND


@dataclass(frozen=True)
class WorkingClock:
    """Cumulative working seconds on a range of local days, for fast vectorised lookup.

    Built by :func:`working_clock`; ``first_day`` is the day number (days since 1970-01-01,
    local) of ``cum_seconds[0]``; ``cum_seconds[k]`` the working seconds before day
    ``first_day + k``; ``is_working[k]`` whether that day is a working day.
    """

    first_day: int
    is_working: np.ndarray
    cum_seconds: np.ndarray
    name: str

    def seconds_at(self, local_ns: np.ndarray) -> np.ndarray:
        """Working seconds from the start of the calendar to each local instant (int64 ns)."""
        day = np.floor_divide(local_ns, NS_PER_DAY)
        k = np.clip(day - self.first_day, 0, len(self.is_working) - 1)
        within = (local_ns - day * NS_PER_DAY) / NS_PER_SECOND
        return self.cum_seconds[k] + np.where(self.is_working[k], within, 0.0)


def working_clock(calendar, first_day: int, last_day: int) -> WorkingClock:
    """Tabulate ``calendar`` (a :class:`~evaluation.calendar.WorkCalendar`) from day to day."""
    days = pd.to_datetime(np.arange(first_day, last_day + 1), unit="D")
    is_working = np.asarray(calendar.is_working_day(days), dtype=bool)
    cum = np.concatenate(([0.0], np.cumsum(is_working * 86_400.0)[:-1]))
    return WorkingClock(int(first_day), is_working, cum, calendar.name)


def calendar_seconds(start_ns: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
    """Elapsed seconds between UTC instants given as int64 nanoseconds."""
    return (end_ns - start_ns) / NS_PER_SECOND


def working_seconds(start_local_ns: np.ndarray, end_local_ns: np.ndarray, clock: WorkingClock) -> np.ndarray:
    """Working seconds between local wall-clock instants (int64 ns, naive local time)."""
    return clock.seconds_at(end_local_ns) - clock.seconds_at(start_local_ns)
