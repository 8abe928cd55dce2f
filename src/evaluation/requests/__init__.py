"""Request handling (``svc.*``): any request log, from the user's file to the indicator table.

===================  ===========================================================================
``formats``          NYC 311, Boston 311, Open311 and mapped logs -> the standard request columns
``quality``          the data-quality flags and the policy of what each does to the estimates
``log``              :func:`load_requests`: one row per request, flagged, with its cut-off
``grouped``          the one grouped pass that reduces the log to a life table (pandas or Dask)
``kernels``          its compiled loop (numba), imported only when a log is reduced
``indicators``       :func:`request_indicators`: Kaplan-Meier times, the three rates, the backlog
``service``          :func:`service_indicators`: one year per unit, for the indicator table
``definitions``      the constants (rating scores, weights, SLAs), each stated once
``durations``        calendar and working time
``simulate``         a quick generator of logs with known properties (tests, benchmarks)
===================  ===========================================================================
"""

from evaluation.requests.definitions import DEFAULT_SLA_HOURS, DEFAULT_WEIGHTS, RATING_SCORE
from evaluation.requests.grouped import life_table
from evaluation.requests.indicators import Engine, RequestIndicators, RequestSettings, request_indicators
from evaluation.requests.log import RequestLog, dataset_log, load_requests, quality_summary
from evaluation.requests.quality import FLAG_BITS, FLAG_MEANING, QualityPolicy, flag_requests
from evaluation.requests.service import service_indicators
from evaluation.requests.simulate import simulate_request_log

__all__ = [
    "DEFAULT_SLA_HOURS", "DEFAULT_WEIGHTS", "FLAG_BITS", "FLAG_MEANING", "QualityPolicy", "RATING_SCORE",
    "Engine", "RequestIndicators", "RequestLog", "RequestSettings", "dataset_log", "flag_requests", "life_table", "load_requests",
    "quality_summary", "request_indicators", "service_indicators", "simulate_request_log",
]
