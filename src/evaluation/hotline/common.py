"""What every hotline analysis shares: the log it reads, the unit level, intervals of a propensity.

* :func:`as_log`: a :class:`~evaluation.requests.RequestLog`, or a dataset whose log
  (:func:`evaluation.requests.dataset_log`) is loaded and flagged once.
* :data:`LEVEL_COLUMNS` / :func:`unit_column`: the column of the log that holds a unit level.
* :func:`jeffreys_interval`: the interval of a propensity from a count of a complete log.

The counts come from the complete log, so they are not samples; the intervals are for the
*propensity* of the process behind them (each request one trial of its unit's process), the reading
a ranking or a comparison between units needs, as in league tables of hospitals (Goldstein and
Spiegelhalter 1996, J. R. Stat. Soc. A 159, 385-443).
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.errors import MissingInputError, OptionError
from evaluation.periods import period_code, period_label
from evaluation.requests import RequestLog, dataset_log

#: unit levels of a request log and the columns that hold them (``street_id`` and ``district_id``
#: come from ``units`` when the log is a dataset's)
LEVEL_COLUMNS = {"district": "district_id", "street": "street_id", "community": "community_id"}


def as_log(source) -> RequestLog:
    """The request log of ``source``: a :class:`~evaluation.requests.RequestLog`, or a dataset."""
    if isinstance(source, RequestLog):
        return source
    if isinstance(source, Mapping) and "requests" in source:
        return dataset_log(source)
    raise MissingInputError("expected a request log (evaluation.requests.load_requests) or a dataset with a "
                            "requests table", table="requests")


def unit_column(log: RequestLog, level: str) -> str:
    """The column of ``log`` holding ``level`` (street, community or district), checked to be there."""
    if level not in LEVEL_COLUMNS:
        raise OptionError(f"level must be one of {', '.join(LEVEL_COLUMNS)}, not {level!r}")
    col = LEVEL_COLUMNS[level]
    if col not in log.columns:
        raise MissingInputError(f"{log.source}: the log has no {col} column for the {level} level; load it from a "
                                "dataset folder (the units table gives street_id and district_id)",
                                table="requests", column=col)
    return col


def z_value(alpha: float) -> float:
    """The two-sided normal quantile of a ``1 - alpha`` interval."""
    if not 0 < alpha < 1:
        raise OptionError(f"alpha must be between 0 and 1, not {alpha}")
    return NormalDist().inv_cdf(1 - alpha / 2)


def jeffreys_interval(successes, trials, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval of a binomial propensity ``x / n``.

    The ``alpha/2`` and ``1 - alpha/2`` quantiles of Beta(x + 1/2, n - x + 1/2), with the bound at
    0 (1) when x = 0 (n).

    Brown, Cai and DasGupta (2001), *Statistical Science* 16, 101-133, recommend it (or Wilson's) over
    the Wald interval, with this modification at the ends; elsewhere
    ``statsmodels.stats.proportion.proportion_confint(method="jeffreys")`` gives the same bounds (a
    test checks it). Missing where ``trials`` is 0.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = stats.beta.ppf(alpha / 2, x + 0.5, n - x + 0.5)
        high = stats.beta.ppf(1 - alpha / 2, x + 0.5, n - x + 0.5)
    low = np.where(x <= 0, 0.0, low)
    high = np.where(x >= n, 1.0, high)
    bad = ~(n > 0)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def share_rows(indicator: str, level: str, frame: pd.DataFrame, num: str, den: str, method: str,
               alpha: float = 0.05, flags: np.ndarray | str = "") -> pd.DataFrame:
    """Indicator rows of a share ``num / den`` per row of ``frame`` (``unit_id``, ``period``).

    With its Jeffreys interval; a zero denominator gives a missing value flagged ``zero_denominator``.
    """
    x = frame[num].to_numpy(dtype=float)
    n = frame[den].to_numpy(dtype=float)
    low, high = jeffreys_interval(x, n, alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n > 0, x / n, np.nan)
    fl = np.broadcast_to(np.asarray(flags, dtype=object), (len(frame),)).astype(object)
    fl = np.where(n > 0, fl, "zero_denominator")
    return pd.DataFrame({"indicator": indicator, "level": level, "unit_id": frame["unit_id"].to_numpy(),
                         "period": frame["period"].to_numpy(), "value": value, "ci_low": low, "ci_high": high,
                         "numerator": x, "denominator": n, "n": n, "method": method, "flags": fl})


def unit_labels(frame: pd.DataFrame, col: str | None) -> pd.Series:
    """The unit of each row: the values of ``col`` as text, or ``"all"`` without a unit column."""
    if col is None:
        return pd.Series("all", index=frame.index, dtype="str")
    return frame[col].astype("str")


def period_labels(stamps: pd.Series, timezone: str, period: str) -> np.ndarray:
    """The creation period label (``"2021-07"``, ``"2021Q3"``, ``"2021"``) of tz-aware stamps, local time."""
    local = stamps.dt.tz_convert(timezone).dt.tz_localize(None)
    codes = period_code(local, period)
    uniq, inverse = np.unique(codes, return_inverse=True)
    return np.array([period_label(c, period) for c in uniq], dtype=object)[inverse]
