"""What a section of the annual review holds: a question, its answer, the evidence and a caveat.

A :class:`Section` is built by one function of :mod:`evaluation.report.sections` and rendered by
:mod:`evaluation.report.render`; it knows nothing of HTML. The evidence is a few compact
:class:`PublishedTable` objects (top and bottom five, a distribution) and figures; the full
tables go to the workbook only (``full=True``), never truncated on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: the sections after the first screen, in page order (each gets an entry in the table of contents)
PAGE_ORDER = ("targets", "requests", "hotline", "organisation", "survey", "index", "impact", "not_assessed", "methods",
              "provenance")
#: sections the user may leave out with ``--sections`` (the first screen, what could not be
#: assessed, methods and provenance are always there)
OPTIONAL = ("targets", "requests", "hotline", "organisation", "survey", "index", "impact")


@dataclass
class PublishedTable:
    """A table as published, after disclosure control.

    ``frame`` has message keys (or indicator ids) as column names; ``units`` maps a column to the
    unit its numbers are written in (``share``, ``hours``, ``score``, ``count``, ``p`` or
    ``indicator``: the row's indicator decides). ``page``: shown on the page (compact);
    ``sheet``: written to the workbook.
    """

    key: str
    title: str
    frame: pd.DataFrame
    units: dict[str, str] = field(default_factory=dict)
    page: bool = True
    sheet: bool = True
    note: str = ""
    n_primary: int = 0
    n_secondary: int = 0


@dataclass
class Figure:
    """A saved figure (PNG beside an SVG) with its alternative text."""

    path: Path
    alt: str
    wide: bool = False


@dataclass
class Tile:
    """One figure of the headline band: a label, the value, its interval or target, a change marker."""

    label: str
    value: str
    detail: str = ""
    change: str = "not_compared"  # better / worse / no_clear_change / not_compared / not_assessed
    change_text: str = ""
    state: str = ""  # met / not_met / no_target / not_assessed
    change_word: str = ""  # the pill's word (which way the value moved, in Chinese)


@dataclass
class Section:
    """One section: question, answer, evidence (tables, figures), caveats; or why it is not available."""

    key: str
    title: str
    question: str = ""
    answer: list[str] = field(default_factory=list)
    tables: list[PublishedTable] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    available: bool = True
    reason: str = ""
    #: numbers the first screen is written from (headline tiles, key findings)
    facts: dict = field(default_factory=dict)

    @property
    def anchor(self) -> str:
        """The section's id in the page (the contents link to it)."""
        return f"sec-{self.key}"
