"""The constants that define the service indicators, each stated once.

Every module that scores a rating, weighs the three rates or names an SLA reads it here: the
request indicators, the per-unit service indicators, the impact panels and the synthetic district.
"""

from __future__ import annotations

#: Score of each rating in ``svc.satisfaction_rate``: (satisfied + 0.9 x basically satisfied) /
#: rated requests, where rated means satisfied, basically satisfied or dissatisfied;
#: ``not_reached`` is left out of the denominator (the scoring of one documented Beijing practice).
RATING_SCORE = {"satisfied": 1.0, "basically_satisfied": 0.9, "dissatisfied": 0.0}

#: Ratings that count as rated (the denominator of the satisfaction rate).
RATED = tuple(RATING_SCORE)

#: Default weights of response, resolution and satisfaction in ``svc.three_rate_score`` (Beijing's
#: 接诉即办 assessment as given in the issue brief; practice varies between cities and years, so
#: the weights are a parameter).
DEFAULT_WEIGHTS = (0.10, 0.50, 0.40)

#: Default service-level times (hours) of ``svc.resolved_within_sla`` in the request table.
DEFAULT_SLA_HOURS = (24.0, 72.0, 168.0)

#: The one service-level time (hours) of ``svc.resolved_within_sla`` in the indicator table of a
#: year (one row per indicator, unit and period).
DEFAULT_PROVIDER_SLA_HOURS = 72.0

#: Grouping columns of a request log that are units of the hierarchy, and their level.
UNIT_LEVELS = {"compound_id": "compound", "community_id": "community", "street_id": "street", "district_id": "district"}

#: Rows resting on fewer requests than this are flagged ``few_requests``.
MIN_REQUESTS = 30


def satisfaction_text() -> str:
    """The satisfaction-rate definition as a method note."""
    return (f"(satisfied + {RATING_SCORE['basically_satisfied']:g} x basically satisfied) / rated; "
            "not_reached excluded")
