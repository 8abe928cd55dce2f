"""The annual review: one command from a district's data to the report an evaluator hands in.

==================  ============================================================================
``context``         :class:`Review` and :class:`ReviewOptions`: the shared data, the disclosure
                    ledger, one sentence for a section that cannot be computed
``sections``        one module per section: question, answer, evidence, caveat
``changes``         honest change calls (better / worse only outside the noise)
``text``            every number and word in the report's language
``render``          HTML of the first screen and the sections, screen and print styles
``workbook``        the workbook: README, data dictionary, every full table, number formats
``session``         what the notebook template calls, cell by cell
``review``          :func:`run_review`: the notebook executed, rendered, checked, moved into place
==================  ============================================================================
"""

from __future__ import annotations

from importlib import import_module

#: public name -> module; loaded on first use, so that ``evaluation review`` (which runs the
#: review in a kernel) does not load the whole domain stack in its own process
_API = {"run_review": "evaluation.report.review", "ReviewError": "evaluation.report.review",
        "ReviewOutputs": "evaluation.report.review", "template_path": "evaluation.report.review",
        "Review": "evaluation.report.context", "ReviewOptions": "evaluation.report.context",
        "start_review": "evaluation.report.session"}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'evaluation.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
