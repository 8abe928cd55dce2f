"""The annual review: one command from a district's data to the report an evaluator hands in.

===================  ===========================================================================
``sections``         what each section computes: tables, figures, sentences (testable alone)
``review``           :func:`run_review`: the parameterised notebook executed, rendered, checked
``annual_review``    the notebook template (package resource ``annual_review.ipynb``)
===================  ===========================================================================
"""

from evaluation.report.review import ReviewError, ReviewOutputs, check_year, run_review, start_review, template_path
from evaluation.report.sections import SECTIONS, Review

__all__ = ["Review", "ReviewError", "ReviewOutputs", "SECTIONS", "check_year", "run_review", "start_review",
           "template_path"]
