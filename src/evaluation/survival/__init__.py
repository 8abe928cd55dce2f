"""Kaplan-Meier estimation of many groups at once, from raw durations or a life table.

===================  ===========================================================================
``kaplan_meier``     the estimation from a life table (product-limit, Greenwood, Brookmeyer-Crowley
                     quantile intervals), whole groups per thread; equal to statsmodels and R
``result``           :func:`kaplan_meier` on raw durations, as a results object
``kernels``          the compiled bookkeeping loops (numba), imported only when estimating
===================  ===========================================================================
"""

from evaluation.survival.estimation import (
                                              CI_METHODS,
                                              KaplanMeier,
                                              KMSummary,
                                              kaplan_meier_from_life_table,
                                              km_median_event_only,
                                              km_quantiles,
                                              km_summaries,
                                              km_survival_at,
)
from evaluation.survival.result import KaplanMeierResult, kaplan_meier

__all__ = [
    "CI_METHODS", "KMSummary", "KaplanMeier", "KaplanMeierResult", "kaplan_meier", "kaplan_meier_from_life_table",
    "km_median_event_only", "km_quantiles", "km_summaries", "km_survival_at",
]
