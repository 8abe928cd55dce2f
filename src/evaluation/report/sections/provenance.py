"""Provenance: which files, which parameters and which version made this review."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evaluation import __version__
from evaluation.report.context import Review
from evaluation.report.model import Section


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the data files (SHA-256) and the parameters of the review."""
    sums = rv.ds.checksums() if hasattr(rv.ds, "checksums") else {}
    rv.publish(sec, "checksums", rv.msg("rv_tab_checksums"),
               pd.DataFrame({"rv_col_file": list(sums), "rv_col_sha256": list(sums.values())}))
    o = rv.options
    cutoff = getattr(rv.ds, "cutoff", None)
    params = [("rv_param_data", Path(getattr(rv.ds, "path", "")).name), ("rv_param_year", str(o.year)),
              ("rv_param_lang", o.lang), ("rv_param_level", rv.msg(o.level)), ("rv_param_k", str(o.k)),
              ("rv_param_cutoff", "–" if cutoff is None else f"{cutoff:%Y-%m-%d %H:%M %Z}"),
              ("rv_param_cutoff_source", rv.msg(f"rv_cutoff_{_source_key(getattr(rv.ds, 'cutoff_source', ''))}")),
              ("rv_param_weights", rv.msg("rv_weights_calibrated" if rv.calibrated else "rv_weights_design")),
              ("rv_param_control", rv.msg(f"rv_control_{o.control_group}")), ("rv_param_draws", str(o.draws)),
              ("rv_param_sections", ", ".join(o.sections) if o.sections else rv.msg("rv_all")),
              ("rv_param_force", rv.msg("rv_yes" if o.force else "rv_no")), ("rv_param_version", __version__)]
    rv.publish(sec, "parameters", rv.msg("rv_tab_params"),
               pd.DataFrame({"rv_col_parameter": [rv.msg(k) for k, _ in params], "rv_col_setting": [v for _, v in params]}))


def _source_key(source: str) -> str:
    s = source.lower()
    if "given" in s:
        return "given"
    if "declared" in s:
        return "declared"
    return "none"
