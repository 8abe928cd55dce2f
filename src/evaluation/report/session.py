"""What the review notebook calls: start the review, show the first screen and each section, write the workbook.

The notebook template (``report/annual_review.ipynb``) holds no logic: one call per cell, so that
everything a reader sees can be tested without a kernel (``start_review(..., display=False)``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evaluation.assess import check_year, tables_for
from evaluation.dataset.load import load_dataset
from evaluation.dataset.privacy import read_salt
from evaluation.dataset.validate import require_valid
from evaluation.dataset.values import code_of
from evaluation.errors import OptionError
from evaluation.report.context import Review, ReviewOptions
from evaluation.report.render import first_screen_html, head_html, section_html
from evaluation.report.sections import OPTIONAL, PAGE_ORDER, impact
from evaluation.report.text import t
from evaluation.report.workbook import numbered, write_review_workbook


class Session:
    """A review being shown cell by cell (see :func:`start_review`)."""

    def __init__(self, review: Review, display: bool = True):
        self.review = review
        self._display = display

    def _show(self, fragment: str) -> str:
        if self._display:
            from IPython.display import HTML, display  # noqa: PLC0415 - only inside the notebook

            display(HTML(fragment))
        return fragment

    def page_tables(self):
        """Every table of the computed sections, in page order."""
        rv = self.review
        return [tb for key in PAGE_ORDER if key in rv._sections for tb in rv._sections[key].tables]

    def show_first(self) -> str:
        """The first screen: headline band, charts, key findings, contents."""
        return self._show(first_screen_html(self.review.section("summary"), self.review.msg))

    def show(self, key: str) -> str:
        """One section after the first screen (nothing for a section the user left out)."""
        rv = self.review
        if key in OPTIONAL and not rv.wanted(key):
            return ""
        for k in PAGE_ORDER[:PAGE_ORDER.index(key)]:  # earlier sections first: their sheets come first
            if k not in OPTIONAL or rv.wanted(k):
                rv.section(k)
        sec = rv.section(key)
        names = {id(tb): name for name, tb in numbered(self.page_tables(), rv.lang)}
        sheets = [names[id(tb)].split(" ", 1)[0] for tb in sec.tables if id(tb) in names]
        return self._show(section_html(sec, rv.msg, sheets))

    def write_workbook(self, path: str | Path) -> Path:
        """The workbook of every full table (and the log of sections that could not be computed)."""
        out = write_review_workbook(self.review, self.page_tables(), path)
        log = Path(path).with_suffix(".log.json")
        log.write_text(json.dumps({"failures": self.review.failures, "notes": getattr(self.review, "notes", [])},
                                  ensure_ascii=False, indent=1), encoding="utf-8")
        return out


def start_review(data_dir: str, year: int, lang: str = "en", level: str = "community", out_dir: str = ".", *,
                 k: int = 5, draws: int = 199, run_time: str = "", cutoff: str | None = None,
                 control_group: str = "nevertreated", weights: str = "auto", sections=None, force: bool = False,
                 targeted=None, pii: str = "refuse", salt_file: str | None = None, timezone: str | None = None,
                 date_order: str | None = None, value_aliases: str | None = None, display: bool = True) -> Session:
    """Load and validate the dataset, show the title block, and return the review :class:`Session`.

    Validation covers the tables the review reads (:func:`evaluation.assess.tables_for`); with
    errors the review stops (one sentence, nothing written) unless ``force``, which the report
    then states on its first screen.
    """
    options = ReviewOptions(year=year, lang=lang, level=level, k=k, draws=draws, cutoff=cutoff,
                            control_group=control_group, weights=weights,
                            sections=tuple(sections) if sections else None, force=force,
                            targeted=None if targeted is None else tuple(targeted))
    ds = load_dataset(data_dir, cutoff=cutoff, timezone=timezone, pii=pii, salt=read_salt(salt_file),
                      date_order=date_order, value_aliases=value_aliases)
    check_year(ds, options.year)
    if options.targeted is not None and "requests" in ds:
        cats = set(ds["requests"]["category"].dropna().astype(str))
        if options.targeted[0] not in cats and code_of("category", options.targeted[0]) in cats:
            options.targeted = (code_of("category", options.targeted[0]), options.targeted[1])  # 安全隐患 -> safety
        if options.targeted[0] not in cats:
            raise OptionError(f"--targeted: no request of category {options.targeted[0]!r}; the log's categories are "
                              f"{', '.join(sorted(cats))}")
    report = require_valid(ds, tables_for("review"), force=force)
    rv = Review(ds, options, out_dir)
    rv.validation_errors = 0 if report is None or report.ok else len(report.errors)
    rv.notes = list(getattr(ds, "warnings", []))
    impact.start(rv)  # the longest section runs on a second core while the others are computed
    cutoff_ts = getattr(ds, "cutoff", None)
    meta = t("rv_meta", lang, district=rv.district_name, year=options.year,
             cutoff=t("rv_no_cutoff", lang) if cutoff_ts is None else f"{cutoff_ts:%Y-%m-%d %H:%M}")
    if run_time:
        try:
            shown = pd.Timestamp(run_time).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            shown = run_time
        meta += " · " + t("rv_run_time", lang, time=shown)
    forced = t("rv_forced", lang, n=f"{rv.validation_errors:,}") if rv.validation_errors else ""
    session = Session(rv, display)
    session._show(head_html(t("rv_title", lang, district=rv.district_name, year=options.year), meta, lang,
                            synthetic=t("rv_synthetic", lang) if rv.synthetic else "", forced=forced,
                            kicker=t("rv_kicker", lang)))
    return session


def page_title(data_dir: str, year: int, lang: str) -> str:
    """The browser tab's title: the district and the year (from the units table's district row)."""
    try:
        units = load_dataset(data_dir)["units"]
        row = units[units["unit_type"].eq("district")]
        name = str(row["name_zh" if lang == "zh" else "name_en"].iloc[0]) if len(row) else ""
    except (LookupError, ValueError, OSError):
        name = ""
    return t("rv_title", lang, district=name or Path(data_dir).name, year=year)
