"""Hotline analytics beyond the dashboard: fair rankings, each request's own deadline, repeats, hot spots, targeted problems.

Built on :mod:`evaluation.requests` (the log, its quality flags and the one grouped pass) and
:mod:`evaluation.survival` (Kaplan-Meier); every result follows the package protocol (``.table``,
``.summary()``, ``.plot()``). The counts are of the complete log; where an interval is given it is
for the *propensity* of the process behind a unit's requests (:mod:`evaluation.hotline.common`).

===================  ===========================================================================
``rankings``         :func:`monthly_rankings`: ranks of the three rates and the score with rank
                     intervals, indirect standardisation for category and channel, classes against
                     the median (红黑榜 without the false precision)
``deadlines``        :class:`DeadlineTable`, :func:`on_time`: on-time shares against each request's
                     own deadline, Kaplan-Meier on working time with censoring
``repeats``          :class:`RepeatRule`, :func:`repeat_rates`: repeats by pseudonymous caller (or
                     building and category) within N days, cluster-robust intervals
``hotspots``         :func:`hot_spots`: more requests than expected (negative binomial), BH-FDR
``targeted``         :func:`targeted_problem`: a category against its seasonal baseline, the
                     campaign effect, unusual months (每月一题)
``cycle``            :func:`cycle_indicators`: the article's smart-community cycle (全收集, 全评价,
                     分类分级, the proactive share)
``dispatch``         :func:`dispatch_measures`: send-backs, reassignments, whistle to report
                     (双向派单, 吹哨报到) from the optional events table
``review``           :func:`review_section`: the annual review's hotline section (tables, figures,
                     sentences by message key)
===================  ===========================================================================
"""

from evaluation.hotline.cycle import CYCLE_IDS, INTAKE_CHANNELS, PROACTIVE_CHANNELS, CycleIndicators, cycle_indicators
from evaluation.hotline.deadlines import DeadlineTable, OnTime, on_time
from evaluation.hotline.dispatch import DISPATCH_IDS, Dispatch, dispatch_measures
from evaluation.hotline.hotspots import HotSpots, hot_spots, places_table
from evaluation.hotline.rankings import CLASSES, RANKED, STANDARDISE_BY, Rankings, monthly_rankings
from evaluation.hotline.repeats import RepeatRule, Repeats, flag_repeats, repeat_rates
from evaluation.hotline.review import HotlineSection, review_section
from evaluation.hotline.targeted import TargetedProblem, targeted_problem

__all__ = [
    "CLASSES", "CYCLE_IDS", "DISPATCH_IDS", "INTAKE_CHANNELS", "PROACTIVE_CHANNELS", "RANKED", "STANDARDISE_BY",
    "CycleIndicators", "DeadlineTable", "Dispatch", "HotSpots", "HotlineSection", "OnTime", "Rankings", "RepeatRule",
    "Repeats", "TargetedProblem", "cycle_indicators", "dispatch_measures", "flag_repeats", "hot_spots", "monthly_rankings",
    "on_time", "places_table", "repeat_rates", "review_section", "targeted_problem",
]
