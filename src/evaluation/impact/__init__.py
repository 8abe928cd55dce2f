"""Did red property work? Staggered difference-in-differences with event studies, and how sure we are.

===================  ===========================================================================
``options``          :class:`DidOptions` (R ``did``'s settings and defaults) and :class:`DidLabels`
``panels``           compound x period panels from the flagged request log, survey cross-sections
``did``              :func:`staggered_did` (Callaway-Sant'Anna through ``moderndid``)
``result``           :class:`ImpactResult`: tidy table, summary, event-study plot
``twfe``             the naive two-way fixed effects and raw comparison shown beside it
``red_property``     :func:`red_property_impact`: the whole analysis on a dataset
``alternatives``     Sun-Abraham and Borusyak-Jaravel-Spiess imputation estimators
``bacon``            the Goodman-Bacon decomposition of the TWFE estimate
``pretrends``        the power of the pre-trend test (Roth 2022)
``honest``           honest DiD (Rambachan-Roth) intervals, with a fast least-favourable solver
``robustness``       :func:`red_property_robustness`: all the checks as one table and one figure
===================  ===========================================================================
"""

from evaluation.impact.alternatives import EventStudyEstimate, imputation, sun_abraham
from evaluation.impact.bacon import BaconDecomposition, bacon_decomposition
from evaluation.impact.did import staggered_did
from evaluation.impact.honest import HonestResult, honest_sensitivity
from evaluation.impact.options import (
    AGGREGATIONS,
    BASE_PERIODS,
    CONTROL_GROUPS,
    DEFAULT_SEED,
    EST_METHODS,
    DidLabels,
    DidOptions,
)
from evaluation.impact.panels import (
    REQUEST_OUTCOMES,
    adoption_dates,
    adoption_status,
    end_dates,
    in_force,
    request_panel,
    survey_panel,
)
from evaluation.impact.pretrends import PretrendPower, pretrend_power, slope_for_power
from evaluation.impact.red_property import ImpactDesign, impact_design, red_property_impact
from evaluation.impact.result import ImpactResult
from evaluation.impact.robustness import RobustnessPanel, red_property_robustness, robustness_panel, switching_did
from evaluation.impact.twfe import naive_difference, twfe

__all__ = [
    "AGGREGATIONS", "BASE_PERIODS", "CONTROL_GROUPS", "DEFAULT_SEED", "EST_METHODS", "BaconDecomposition",
    "DidLabels", "DidOptions", "EventStudyEstimate", "HonestResult", "ImpactDesign", "ImpactResult",
    "PretrendPower", "REQUEST_OUTCOMES", "RobustnessPanel", "adoption_dates", "adoption_status",
    "bacon_decomposition", "end_dates", "honest_sensitivity", "impact_design", "imputation", "in_force",
    "naive_difference", "pretrend_power", "red_property_impact", "red_property_robustness", "request_panel",
    "robustness_panel", "slope_for_power", "staggered_did", "sun_abraham", "survey_panel", "switching_did", "twfe",
]
