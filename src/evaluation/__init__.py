"""governance-evaluation: governance-effectiveness indicators from registry, request and survey data.

The package turns the registries, request log and resident survey of a district into tidy
indicator tables with honest uncertainty. See ``README.md`` (and ``docs/architecture.md`` for the
layers), the notebooks for the story, and ``evaluation --help`` for the command line.

The public API is importable from here::

    import evaluation as ev
    ds = ev.load_dataset("data/zhangwan-synthetic")
    reg = ev.registry_indicators(ds, 2020, level="street")
    req = ev.request_indicators(ev.load_requests("data/zhangwan-synthetic"), by=["street_id"])

Names are loaded on first use (PEP 562), so ``import evaluation`` and the command line's
``--help`` do not pay for pandas, statsmodels or numba. :data:`API` says where each name lives.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("governance-evaluation")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

#: public name -> the subpackage that defines it
API = {
    # the data model and input
    "Dataset": "evaluation.dataset", "load_dataset": "evaluation.dataset", "read_table": "evaluation.dataset",
    "validate": "evaluation.dataset", "validate_dataset": "evaluation.dataset", "UnitTree": "evaluation.dataset",
    "assessability": "evaluation.assess",
    # registry indicators
    "registry_indicators": "evaluation.registry", "coverage_over_time": "evaluation.registry",
    "reconcile": "evaluation.registry", "beside_published": "evaluation.registry",
    "build_scorecard": "evaluation.scorecard", "collect_indicators": "evaluation.indicators",
    # requests and survival
    "load_requests": "evaluation.requests", "request_indicators": "evaluation.requests",
    "service_indicators": "evaluation.requests", "QualityPolicy": "evaluation.requests",
    "kaplan_meier": "evaluation.survival",
    # the resident survey
    "SurveyData": "evaluation.survey", "SurveyDesign": "evaluation.survey", "survey_indicators": "evaluation.survey",
    "survey_wave": "evaluation.survey", "rake": "evaluation.survey", "fay_herriot": "evaluation.survey",
    "calibrate": "evaluation.survey", "as_replicate": "evaluation.survey", "svyglm": "evaluation.survey",
    "svyolr": "evaluation.survey",
    # index and impact
    "governance_index": "evaluation.index", "IndexSpec": "evaluation.index",
    "staggered_did": "evaluation.impact", "red_property_impact": "evaluation.impact",
    "DidOptions": "evaluation.impact", "red_property_robustness": "evaluation.impact",
    # the review
    "run_review": "evaluation.report",
    # errors
    "EvaluationError": "evaluation.errors", "DataError": "evaluation.errors",
    "MissingInputError": "evaluation.errors", "PersonalDataError": "evaluation.errors",
}

__all__ = ["API", "__version__", *API]


def __getattr__(name: str):
    if name in API:
        value = getattr(importlib.import_module(API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evaluation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))
