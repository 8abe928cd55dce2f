"""What this review could not assess, and why.

Every catalogue indicator the data cannot support (:func:`evaluation.assess.assessability`: a
table missing or empty, a field not recorded) or that had no cases this year is listed with its
reason and what would make it assessable; none of them is scored anywhere in the review.
"""

from __future__ import annotations

import pandas as pd

from evaluation.report.context import Review
from evaluation.report.model import Section
from evaluation.report.sections.targets import district_states


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with every indicator the data could not assess, and the sections that could not be computed."""
    sec.question = rv.msg("rv_q_not_assessed")
    st = district_states(rv)
    na = st[st["state"].eq("not_assessed")]
    skipped = [s for s in rv.computed() if not s.available and s.key != sec.key]
    if na.empty and not skipped:
        sec.answer.append(rv.msg("rv_a_all_assessed", n=len(st)))
    else:
        sec.answer.append(rv.msg("rv_a_not_assessed", n=len(na), total=len(st)))
    if len(na):
        frame = pd.DataFrame({"rv_col_pillar": na["pillar"].map(lambda p: rv.msg(p)), "rv_col_indicator": na["name"],
                              "rv_col_reason": na["reason"]})
        rv.publish(sec, "not_assessed", rv.msg("rv_tab_not_assessed"), frame)
    if skipped:
        sec.paragraphs.extend(f"{s.title}: {s.reason}" for s in skipped)
    sec.facts.update(not_assessed=na, skipped=[s.key for s in skipped])
