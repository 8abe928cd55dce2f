"""Dates and periods: whether an arrangement is in force, and the one coding of months and quarters.

Every module that asks "was this compound under red property on 31 December?" or "which quarter
was this request created in?" asks here, so that a stock, a request panel, a meeting rule and a
life table agree on the same day.

In force
    An arrangement with start ``s`` and (optional) end ``e`` is in force on day ``d`` when
    ``s <= d`` and (``e`` is missing or ``e > d``): the end date is the first day it no longer
    holds (:func:`in_force`).

Periods
    ``month``, ``quarter`` and ``year`` of local wall-clock time, as consecutive integer codes
    (``year * 12 + month - 1``, ``year * 4 + quarter - 1``, ``year``) for estimators that need
    ordered, equally spaced time, and as labels ``"2020-07"``, ``"2020Q3"``, ``"2020"``
    (:func:`period_code`, :func:`period_label`). ISO weeks (``"2020-W05"``) exist for the weekly
    meeting rule (:func:`calendar_periods`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.errors import OptionError

#: periods of the request and impact tables
PERIODS = ("month", "quarter", "year")
_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _check(period: str, allowed=PERIODS) -> str:
    if period not in allowed:
        raise OptionError(f"period must be one of {', '.join(allowed)}, not {period!r}")
    return period


def _naive_days(values) -> pd.Series:
    """Dates (or times) as naive local days; tz-aware values keep their own wall-clock date."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    s = pd.to_datetime(s)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    return s.dt.normalize()


def in_force(starts, ends=None, as_of=None) -> np.ndarray:
    """Is each arrangement (start, optional end) in force on ``as_of``?

    Parameters
    ----------
    starts, ends
        Start and end dates (``ends`` ``None`` or missing values: still in force).
    as_of
        One date, or one date per arrangement (a Series aligned with ``starts``).

    Returns
    -------
    numpy.ndarray of bool
        ``start <= as_of`` and (end missing or ``end > as_of``); a missing start is never in force.
    """
    s = _naive_days(starts)
    if isinstance(as_of, (pd.Series, np.ndarray, pd.Index)):
        d = _naive_days(pd.Series(np.asarray(as_of), index=s.index))
    else:
        d = pd.Timestamp(as_of).tz_localize(None).normalize() if pd.Timestamp(as_of).tzinfo else pd.Timestamp(as_of).normalize()
    ok = (s <= d).fillna(False).to_numpy(dtype=bool)
    if ends is not None:
        e = _naive_days(ends)
        e.index = s.index
        ok = ok & (e.isna() | (e > d)).to_numpy(dtype=bool)
    return ok


def period_code(when, period: str) -> np.ndarray:
    """Consecutive integer code of the month, quarter or year of naive local times ``when``."""
    _check(period)
    idx = pd.DatetimeIndex(when)
    year, month = idx.year.to_numpy().astype("int64"), idx.month.to_numpy().astype("int64")
    if period == "year":
        return year
    return year * _PER_YEAR[period] + (month - 1) // _MONTHS[period]


def period_label(code: int, period: str) -> str:
    """``"2020-07"`` (month), ``"2020Q3"`` (quarter) or ``"2020"`` (year) for a code of :func:`period_code`."""
    code = int(code)
    if period == "quarter":
        return f"{code // 4}Q{code % 4 + 1}"
    if period == "month":
        return f"{code // 12}-{code % 12 + 1:02d}"
    _check(period)
    return str(code)


def label_code(label: str, period: str) -> int:
    """The code of a label of :func:`period_label` (``"2020Q3"`` -> ``2020 * 4 + 2``)."""
    if period == "quarter":
        y, q = label.split("Q")
        return int(y) * 4 + int(q) - 1
    if period == "month":
        y, m = label.split("-")
        return int(y) * 12 + int(m) - 1
    _check(period)
    return int(label)


def period_start(code: int, period: str) -> pd.Timestamp:
    """First instant of the period (naive local time)."""
    code = int(code)
    n = _PER_YEAR[_check(period)]
    return pd.Timestamp(year=code // n, month=_MONTHS[period] * (code % n) + 1, day=1)


def period_end(code: int, period: str) -> pd.Timestamp:
    """First instant after the period (naive local time)."""
    return period_start(int(code) + 1, period)


def period_edges(start: pd.Timestamp, end: pd.Timestamp, period: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Local period starts from the period of ``start`` to the one after ``end``, and the labels.

    ``start`` and ``end`` are local wall-clock times (tz-aware values are taken at their own wall
    clock). Returns the starts as int64 nanoseconds of naive local time (one more than labels:
    the end of the last period) and the label of each period.
    """
    s = pd.Timestamp(start)
    e = pd.Timestamp(end)
    s = s.tz_localize(None) if s.tzinfo else s
    e = e.tz_localize(None) if e.tzinfo else e
    first = int(period_code([s], period)[0])
    last = int(period_code([e], period)[0])
    codes = np.arange(first, last + 2)
    edges = pd.DatetimeIndex([period_start(c, period) for c in codes]).as_unit("ns").asi8
    return edges, tuple(period_label(c, period) for c in codes[:-1])


def calendar_periods(year: int, freq: str) -> pd.DataFrame:
    """The periods of ``year``: ``period`` (label), ``start`` and ``end`` (last day), as naive dates.

    ``freq`` is ``"Q"``, ``"M"`` or ``"W"``; weeks are the ISO weeks (Monday-Sunday) of ISO year
    ``year``, labelled ``"2020-W05"``; quarters and months have the labels of :func:`period_label`.
    """
    if freq == "W":
        first = pd.Timestamp.fromisocalendar(year, 1, 1)
        n_weeks = pd.Timestamp(year, 12, 28).isocalendar()[1]  # 28 December is always in the last ISO week
        starts = pd.date_range(first, periods=n_weeks, freq="7D")
        ends = starts + pd.Timedelta(days=6)
        labels = [f"{year}-W{i + 1:02d}" for i in range(n_weeks)]
    elif freq in ("Q", "M"):
        period = {"Q": "quarter", "M": "month"}[freq]
        codes = np.arange(year * _PER_YEAR[period], (year + 1) * _PER_YEAR[period])
        starts = pd.DatetimeIndex([period_start(c, period) for c in codes])
        ends = pd.DatetimeIndex([period_end(c, period) for c in codes]) - pd.Timedelta(days=1)
        labels = [period_label(c, period) for c in codes]
    else:
        raise OptionError(f"unknown rule period {freq!r}; use Q, M or W")
    return pd.DataFrame({"period": labels, "start": starts, "end": ends})
