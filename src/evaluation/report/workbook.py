"""The review's workbook: every full table, a README sheet and a data dictionary, in the report's language.

Sheets follow the page order (``01 Targets, all indicators`` ...), after a README sheet (what the
workbook is, its parameters, what the marks mean, the list of sheets) and a data dictionary (every
column: what it means, in both languages). Numbers keep their full precision and get Excel
number formats by unit (per cent, one decimal for hours, two for scores, thousands separators),
so a reader sees 46.9 % and a formula still gets 0.4686...; columns are sized to their text and the
header row is frozen (:func:`evaluation.io.write_workbook`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evaluation import catalog, disclosure
from evaluation.io import write_workbook
from evaluation.report.model import PublishedTable
from evaluation.report.text import t, unit_of

#: Excel number format of each unit
NUMBER_FORMATS = {"share": "0.0%", "hours": "#,##0.0", "score": "0.00", "count": "#,##0", "rank": "0",
                  "effect": "#,##0.00", "p": "0.000", "yuan": "#,##0", "per_1000": "#,##0.0", "per_10k": "#,##0.0",
                  "per_100hh": "#,##0.0", "hours_per_capita": "#,##0.00"}
CHANGE_FORMATS = {"share": "+0.0%;-0.0%;0.0%", "score": "+0.00;-0.00;0.00"}


def sheet_name(i: int, tb: PublishedTable, lang: str) -> str:
    """``03 Requests by community`` (at most 31 characters, Excel's limit)."""
    return f"{i:02d} {t(f'rv_sheet_{tb.key}', lang)}"[:31]


def numbered(tables: list[PublishedTable], lang: str, first: int = 1) -> list[tuple[str, PublishedTable]]:
    """The workbook tables with their sheet names, numbered from ``first``."""
    out = []
    for tb in tables:
        if tb.sheet:
            out.append((sheet_name(first + len(out), tb, lang), tb))
    return out


def _formats(tb: PublishedTable) -> dict[str, object]:
    f = tb.frame
    codes = f["rv_col_code"].astype(str).tolist() if "rv_col_code" in f.columns else None
    out: dict[str, object] = {}
    for col, unit in tb.units.items():
        if col not in f.columns:
            continue
        if unit in ("indicator", "row") and codes is not None:
            out[col] = [NUMBER_FORMATS.get(unit_of(c), "General") for c in codes]
        elif unit == "change" and codes is not None:
            out[col] = [CHANGE_FORMATS.get(unit_of(c), "+#,##0.0;-#,##0.0;0.0") for c in codes]
        elif unit in NUMBER_FORMATS:
            out[col] = NUMBER_FORMATS[unit]
    return out


def workbook_sheets(review, tables: list[PublishedTable]) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """The sheets (README, data dictionary, then the tables) and their number formats."""
    lang = review.lang
    msg = review.msg
    named = numbered(tables, lang, first=1)
    sheets: dict[str, pd.DataFrame] = {}
    formats: dict[str, dict] = {}
    cutoff = getattr(review.ds, "cutoff", None)
    readme = [(msg("rv_readme_title"), msg("rv_title", district=review.district_name, year=review.year)),
              (msg("rv_param_data"), Path(getattr(review.ds, "path", "")).name),
              (msg("rv_param_cutoff"), "–" if cutoff is None else f"{cutoff:%Y-%m-%d %H:%M %Z}"),
              (msg("rv_param_weights"), msg("rv_weights_calibrated" if review.calibrated else "rv_weights_design")),
              (msg("rv_param_control"), msg(f"rv_control_{review.options.control_group}")),
              (msg("rv_readme_mark"), msg("rv_readme_mark_text", mark=disclosure.MARK, k=review.k)),
              (msg("rv_readme_numbers"), msg("rv_readme_numbers_text")),
              (msg("rv_readme_dictionary"), msg("rv_sheet_dictionary"))]
    readme += [(name, tb.title) for name, tb in named]
    sheets[msg("rv_sheet_readme")] = pd.DataFrame(readme, columns=[msg("rv_col_item"), msg("rv_col_text")])
    columns: dict[str, None] = {}
    for _, tb in named:
        for c in tb.frame.columns:
            columns.setdefault(str(c))
    dictionary = [(_header(c, lang), _header(c, "en" if lang == "zh" else "zh"), _describe(c, lang)) for c in columns]
    sheets[msg("rv_sheet_dictionary")] = pd.DataFrame(dictionary, columns=[msg("rv_col_column"), msg("rv_col_other_lang"),
                                                                            msg("rv_col_meaning")])
    for name, tb in named:
        frame = tb.frame.copy()
        fmts = _formats(tb)
        frame.columns = [_header(c, lang) for c in frame.columns]
        formats[name] = {_header(c, lang): v for c, v in fmts.items()}
        sheets[name] = frame
    return sheets, formats


def _header(col: str, lang: str) -> str:
    col = str(col)
    if col.isdigit():
        return col
    return catalog.message(col, lang)


def _describe(col: str, lang: str) -> str:
    col = str(col)
    if col.isdigit():
        return t("rv_desc_year_column", lang, year=col)
    if col in catalog.PILLARS:
        return t("rv_desc_pillar_score", lang, pillar=catalog.message(col, lang))
    key = f"rv_desc_{col.removeprefix('rv_col_')}"
    text = catalog.message(key, lang)
    return "" if text == key else text


def write_review_workbook(review, tables: list[PublishedTable], path: str | Path) -> Path:
    """Write the workbook of ``review`` (atomically, the same bytes for the same review)."""
    sheets, formats = workbook_sheets(review, tables)
    return write_workbook(sheets, path, formats=formats)
