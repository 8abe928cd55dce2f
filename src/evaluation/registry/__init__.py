"""Registry indicators: coverage, participation, rules and support, from complete registries.

The article's claims are coverage claims ("every compound has a party branch", "more than 60 %
of compounds run red property"). This subpackage counts them from the registries of a dataset,
as of any date, from the start and end of each arrangement:

===================  ===========================================================================
``counts``           numerator and denominator of every registry indicator per base unit
``cadence``          weekday duty and meeting rules over the official working-day calendar
``rollup``           sums up the unit tree (pooled ratios, never averages of ratios)
``indicators``       :func:`registry_indicators`: the tidy table of a year at any level
``over_time``        :func:`coverage_over_time`: the stock indicators at many dates at once
``published``        the article's figures recomputed and set beside the indicators
===================  ===========================================================================
"""

from evaluation.registry.cadence import cadence_counts, duty_counts, rule_periods
from evaluation.registry.counts import base_counts, default_as_of, milestone_in_force
from evaluation.registry.indicators import RegistryIndicators, registry_indicators, registry_scorecard
from evaluation.registry.over_time import DATED_STOCK_INDICATORS, CoverageOverTime, coverage_over_time
from evaluation.registry.published import (
                                           PUBLISHED_COUNTERPARTS,
                                           RULE_KEYS,
                                           Reconciliation,
                                           agrees,
                                           beside_published,
                                           published_figures,
                                           reconcile,
)
from evaluation.registry.rollup import ratio_table, rollup_counts, rollup_long

__all__ = [
    "CoverageOverTime", "DATED_STOCK_INDICATORS", "PUBLISHED_COUNTERPARTS", "RULE_KEYS", "Reconciliation",
    "RegistryIndicators", "agrees", "base_counts", "beside_published", "cadence_counts", "coverage_over_time",
    "default_as_of", "duty_counts", "milestone_in_force", "published_figures", "ratio_table", "reconcile",
    "registry_indicators", "registry_scorecard", "rollup_counts", "rollup_long", "rule_periods",
]
