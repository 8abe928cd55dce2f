"""The sections of the annual review, one module each, in the order the report shows them.

Each module has one function ``build(review, section)`` that states the section's question,
answers it in a sentence or two, adds the evidence (a chart and a compact table; the full tables
go to the workbook) and the caveat, and leaves the numbers the first screen is written from in
``section.facts``. :func:`evaluation.report.context.Review.section` runs it once and turns any
failure into one sentence in the report's language.
"""

from __future__ import annotations

from evaluation.report.model import OPTIONAL, PAGE_ORDER
from evaluation.report.sections import (
                                        assessed,
                                        first_screen,
                                        hotline,
                                        impact,
                                        index,
                                        methods,
                                        organisation,
                                        provenance,
                                        requests,
                                        survey,
                                        targets,
)

#: section key -> its builder
BUILDERS = {
    "summary": first_screen.build,
    "targets": targets.build,
    "requests": requests.build,
    "hotline": hotline.build,
    "organisation": organisation.build,
    "survey": survey.build,
    "index": index.build,
    "impact": impact.build,
    "not_assessed": assessed.build,
    "methods": methods.build,
    "provenance": provenance.build,
}

__all__ = ["BUILDERS", "OPTIONAL", "PAGE_ORDER"]
