"""Methods and data quality: how each number was made, what the request log's defects did, what was hidden.

The data-quality table counts every quality flag of the request log (:mod:`evaluation.requests.quality`)
with what the estimates did with it, in the report's language; the methods state the estimators,
the rules of the change calls (:mod:`evaluation.report.changes`) and the disclosure control of the
whole report (:meth:`evaluation.report.context.Review.protect`).
"""

from __future__ import annotations

import pandas as pd

from evaluation import disclosure
from evaluation.report.changes import RELATIVE_THRESHOLD, SHARE_THRESHOLD
from evaluation.report.context import Review
from evaluation.report.model import Section


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the request log's quality flags, the methods, the change rules and the disclosure counts."""
    sec.question = rv.msg("rv_q_methods")
    if getattr(rv, "validation_errors", 0):
        sec.paragraphs.append(rv.msg("rv_forced", n=f"{rv.validation_errors:,}"))
    if "requests" in rv.ds:
        q = rv.requests(()).quality
        q = q[q["requests"] > 0]
        if len(q):
            rv.publish(sec, "quality", rv.msg("rv_tab_quality"), pd.DataFrame({
                "rv_col_flag": q["flag"].map(lambda f: rv.msg(f"rv_flag_{f}")),
                "rv_col_requests": q["requests"].map(lambda v: f"{int(v):,}"),
                "rv_col_share": q["share"].map(lambda v: f"{100 * v:.2f}%"),
                "rv_col_action": [rv.msg(f"rv_action_{_action(f, a)}") for f, a in zip(q["flag"], q["action"])]}))
        else:
            sec.paragraphs.append(rv.msg("rv_quality_clean"))
    for key in ("rv_m_registry", "rv_m_requests", "rv_m_survey", "rv_m_index", "rv_m_impact"):
        sec.paragraphs.append(rv.msg(key))
    sec.paragraphs.append(rv.msg("rv_m_changes", share=f"{100 * SHARE_THRESHOLD:g}", rel=f"{100 * RELATIVE_THRESHOLD:g}"))
    sup1 = sum(tb.n_primary for s in rv.computed() for tb in s.tables)
    sup2 = sum(tb.n_secondary for s in rv.computed() for tb in s.tables)
    sec.paragraphs.append(rv.msg("rv_m_disclosure", k=rv.k, mark=disclosure.MARK, primary=sup1, secondary=sup2))


def _action(flag: str, action: str) -> str:
    if flag == "close_on_open":
        return "open_censored" if "open" in action else "resolved_at_close"
    return action
