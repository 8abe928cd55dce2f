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

from evaluation.report.context import Review, ReviewOptions
from evaluation.report.review import ReviewError, ReviewOutputs, run_review, template_path
from evaluation.report.session import start_review

__all__ = ["Review", "ReviewError", "ReviewOptions", "ReviewOutputs", "run_review", "start_review", "template_path"]
