"""Did red property work? Staggered difference-in-differences with event studies.

===================  ===========================================================================
``panels``           compound x period panels from the flagged request log, survey cross-sections
``did``              :func:`staggered_did` (Callaway-Sant'Anna through ``moderndid``) and its results
``twfe``             the naive two-way fixed effects and raw comparison shown beside it
``red_property``     :func:`red_property_impact`: the whole analysis on a dataset
===================  ===========================================================================
"""

from evaluation.impact.did import AGGREGATIONS, CONTROL_GROUPS, DEFAULT_SEED, EST_METHODS, ImpactResult, staggered_did
from evaluation.impact.panels import REQUEST_OUTCOMES, adoption_dates, adoption_status, request_panel, survey_panel
from evaluation.impact.red_property import red_property_impact
from evaluation.impact.twfe import naive_difference, twfe

__all__ = [
    "AGGREGATIONS", "CONTROL_GROUPS", "DEFAULT_SEED", "EST_METHODS", "ImpactResult", "REQUEST_OUTCOMES",
    "adoption_dates", "adoption_status", "naive_difference", "red_property_impact", "request_panel",
    "staggered_did", "survey_panel", "twfe",
]
