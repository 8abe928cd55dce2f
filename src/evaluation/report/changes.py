"""Honest change calls: a change is *better* or *worse* only when it stands outside its noise.

The review compares each indicator with the previous year. A difference is called better or
worse (given the catalogue direction) only when the data can tell it from chance:

* **Survey estimates** (``out.*``): the 95 % interval of the difference of the two independent
  waves (:func:`evaluation.survey.wave_difference`, design-based) excludes zero.
* **Rates on cases** (numerator and denominator counted, e.g. the resolution rate over the
  year's requests, the satisfaction rate over its rated requests): Newcombe's hybrid score
  interval for the difference of two independent proportions excludes zero (Newcombe 1998,
  *Statistics in Medicine* 17, 873-890; ``statsmodels.stats.proportion.confint_proportions_2indep``).
  The year's requests are treated as draws from the office's process: 88.6 % of 179 ratings
  against 85.3 % the year before is no clear change.
* **Estimates with intervals but no joint variance** (Kaplan-Meier medians): the two 95 %
  intervals do not overlap (a conservative rule: overlapping intervals may still differ).
* **Complete counts without sampling error** (registry stocks and flows): the change is at
  least :data:`SHARE_THRESHOLD` (1 percentage point) for shares, else at least
  :data:`RELATIVE_THRESHOLD` (2 %) of the previous value. The thresholds are stated in the
  review's methods.

Anything else is *no clear change*, and a value without a previous one is *not compared*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.report.text import missing

#: a complete-count share must move at least this much (1 percentage point) to be called a change
SHARE_THRESHOLD = 0.01
#: other complete counts must move at least this share of their previous value
RELATIVE_THRESHOLD = 0.02

#: the states of a change call (message keys)
STATES = ("better", "worse", "no_clear_change", "not_compared")


@dataclass(frozen=True)
class ChangeCall:
    """One change call: ``state`` (:data:`STATES`), the change, its interval and the rule used."""

    state: str
    change: float = np.nan
    low: float = np.nan
    high: float = np.nan
    rule: str = ""  # message key of the rule (rv_rule_*)


def _direction(indicator: str) -> str:
    try:
        return catalog.get(indicator).direction
    except KeyError:
        return "none"


def _signed(indicator: str, low: float, high: float) -> str:
    """Better / worse / no_clear_change from an interval of the change and the direction."""
    d = _direction(indicator)
    if d == "none" or missing(low) or missing(high) or (low <= 0 <= high):
        return "no_clear_change"
    up = low > 0
    return "better" if (up and d == "higher") or (not up and d == "lower") else "worse"


def _proportion_interval(k1, n1, k0, n0) -> tuple[float, float]:
    from statsmodels.stats.proportion import confint_proportions_2indep  # noqa: PLC0415 - statsmodels loads on first call

    lo, hi = confint_proportions_2indep(float(k1), float(n1), float(k0), float(n0), method="newcomb", compare="diff")
    return float(lo), float(hi)


def call_change(indicator: str, current: pd.Series | dict, previous: pd.Series | dict | None,
                difference: pd.Series | dict | None = None) -> ChangeCall:
    """The change call of ``indicator`` from its tidy row of this year and of the previous year.

    Parameters
    ----------
    indicator
        Catalogue id (direction and unit).
    current, previous
        Tidy rows (``value``, ``ci_low``, ``ci_high``, ``numerator``, ``denominator``, ``method``).
    difference
        For survey estimates, the row of the wave difference (``value``, ``ci_low``, ``ci_high``).
    """
    if previous is None or missing(current.get("value")) or missing(previous.get("value")):
        return ChangeCall("not_compared")
    v1, v0 = float(current["value"]), float(previous["value"])
    change = v1 - v0
    if difference is not None and not missing(difference.get("ci_low")):
        lo, hi = float(difference["ci_low"]), float(difference["ci_high"])
        return ChangeCall(_signed(indicator, lo, hi), float(difference["value"]), lo, hi, "rv_rule_survey")
    entry = catalog.get(indicator) if _known(indicator) else None
    unit = entry.unit if entry else "other"
    if entry is not None and entry.pillar == "outcome":
        return ChangeCall("not_compared", change)  # a survey change needs the wave difference
    has_ci = not missing(current.get("ci_low")) and not missing(previous.get("ci_low"))
    if "Kaplan-Meier" in str(current.get("method", "")) and has_ci:
        a = (float(current["ci_low"]), float(current["ci_high"]) if not missing(current.get("ci_high")) else np.inf)
        b = (float(previous["ci_low"]), float(previous["ci_high"]) if not missing(previous.get("ci_high")) else np.inf)
        apart = a[0] > b[1] or b[0] > a[1]
        return ChangeCall(_signed(indicator, change, change) if apart else "no_clear_change", change,
                          rule="rv_rule_overlap")
    k1, n1 = current.get("numerator"), current.get("denominator")
    k0, n0 = previous.get("numerator"), previous.get("denominator")
    counted = not any(missing(x) for x in (k1, n1, k0, n0)) and float(n1) > 0 and float(n0) > 0
    if entry is not None and entry.pillar == "service" and unit == "share" and counted:
        lo, hi = _proportion_interval(k1, n1, k0, n0)
        return ChangeCall(_signed(indicator, lo, hi), change, lo, hi, "rv_rule_rates")
    threshold = SHARE_THRESHOLD if unit == "share" else RELATIVE_THRESHOLD * abs(v0)
    if abs(change) < threshold or (unit != "share" and v0 == 0 and change == 0):
        return ChangeCall("no_clear_change", change, rule="rv_rule_counts")
    return ChangeCall(_signed(indicator, change, change), change, rule="rv_rule_counts")


def _known(indicator: str) -> bool:
    try:
        catalog.get(indicator)
        return True
    except KeyError:
        return False
