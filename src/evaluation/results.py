"""The tidy indicator table and the one results protocol every computation follows.

DESIGN.md section 4: every computation returns a tidy table with at least the columns of
:data:`INDICATOR_COLUMNS`. Results objects follow statsmodels and linearmodels:

* ``.table``: the tidy indicator table;
* ``.summary()``: a :class:`Summary`, printable text with an HTML representation (what a reader
  needs: title, method, size, caveats);
* ``.plot(*, ax=None, **kw)``: a picture on ``ax`` (a new figure when ``None``), returning the Axes.

Every results class of the package extends :class:`IndicatorResult` and overrides only what it
adds: its own summary lines (:meth:`IndicatorResult.summary_lines`) and its own picture.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Columns of the tidy indicator table, in order.
INDICATOR_COLUMNS = (
    "indicator",  # catalogue id, e.g. "par.red_property_coverage"
    "level",  # district, street, community, compound, or a grouping such as "category"
    "unit_id",  # the unit (or group label) the value is for
    "period",  # "2020", "2020Q3", "2020-07", or an as-of date "2020-12-31"
    "value",
    "ci_low",  # lower bound of the 95 % interval; missing where no sampling interval applies
    "ci_high",
    "numerator",
    "denominator",
    "n",  # observations the value rests on (respondents, requests, compounds, ...)
    "method",  # short method note, e.g. "registry count", "Kaplan-Meier, log CI"
    "flags",  # semicolon-separated flags, e.g. "zero_denominator;few_respondents"
)

_DTYPES = {
    "indicator": "str",
    "level": "str",
    "unit_id": "str",
    "period": "str",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "numerator": "float64",
    "denominator": "float64",
    "n": "Int64",
    "method": "str",
    "flags": "str",
}


def indicator_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    """Build a tidy indicator table with the standard columns, in order, with standard dtypes.

    Parameters
    ----------
    rows
        Records or a frame; missing standard columns are filled with missing values (``flags``
        with ``""``).
    extra
        Further columns kept after the standard ones (when present); anything else is dropped.

    Returns
    -------
    pandas.DataFrame
        The table of :data:`INDICATOR_COLUMNS` (+ ``extra``) with a fresh index.
    """
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    for col in INDICATOR_COLUMNS:
        if col not in df.columns:
            df[col] = "" if col == "flags" else np.nan
    df["flags"] = df["flags"].fillna("").astype("str")
    extra = [c for c in extra if c in df.columns and c not in INDICATOR_COLUMNS]
    df = df[list(INDICATOR_COLUMNS) + extra].copy()
    for col, dtype in _DTYPES.items():
        if dtype == "Int64":
            df[col] = pd.array(pd.to_numeric(df[col], errors="coerce").round(), dtype="Int64")
        elif dtype == "float64":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        else:
            df[col] = df[col].astype("str").where(df[col].notna(), None) if col != "flags" else df[col]
    return df.reset_index(drop=True)


def add_flag(flags: pd.Series, mask, flag: str) -> pd.Series:
    """Append ``flag`` to the ``;``-separated flags where ``mask`` is true."""
    mask = pd.Series(mask, index=flags.index).fillna(False).astype(bool)
    out = flags.copy()
    out[mask] = [f"{f};{flag}" if f else flag for f in out[mask]]
    return out


def new_axes(ax=None, figsize: tuple[float, float] = (7.0, 4.0)):
    """``ax``, or the Axes of a new figure of ``figsize`` (inches) when ``ax`` is ``None``."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # noqa: PLC0415 - deferred: matplotlib loads only when a result is drawn

    _, ax = plt.subplots(figsize=figsize)
    return ax


class Summary(str):
    """A result's summary: plain text (it *is* a ``str``) that notebooks show as HTML.

    Built from a title, ``key: value`` lines, an optional small table and notes, like the
    ``summary()`` of a statsmodels result; ``print(result.summary())`` gives the text.
    """

    def __new__(cls, title: str, lines: Iterable[str] = (), notes: Iterable[str] = (),
                table: pd.DataFrame | None = None):
        """The text: ``title`` underlined, the ``lines``, the ``table`` without index, one ``Note:`` line per note."""
        lines, notes = list(lines), list(notes)
        parts = [title, "=" * len(title), *lines]
        if table is not None and len(table):
            parts += ["", table.to_string(index=False)]
        parts += [f"Note: {n}" for n in notes]
        self = super().__new__(cls, "\n".join(parts))
        self.title, self.lines, self.notes, self.frame = title, lines, notes, table
        return self

    def _repr_html_(self) -> str:
        out = [f"<h4>{html.escape(self.title)}</h4>"]
        if self.lines:
            out.append("<p>" + "<br>".join(html.escape(x) for x in self.lines) + "</p>")
        if self.frame is not None and len(self.frame):
            out.append(self.frame.to_html(index=False, na_rep=""))
        if self.notes:
            out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "".join(out)


@dataclass
class IndicatorResult:
    """Result of an indicator computation: the base class of every results object.

    Attributes
    ----------
    table
        The tidy indicator table (:data:`INDICATOR_COLUMNS`).
    title
        One-line description.
    method
        How the numbers were computed, with the reference to the method.
    notes
        Caveats a reader needs (censoring, small cells, data-quality decisions).
    """

    table: pd.DataFrame
    title: str = "Indicators"
    method: str = ""
    notes: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """The ``key: value`` lines of the summary (subclasses add their own)."""
        t = self.table
        lines = [f"Method: {self.method}"] if self.method else []
        if "indicator" in t.columns and "unit_id" in t.columns:
            lines.append(f"Rows: {len(t)}; indicators: {t['indicator'].nunique() if len(t) else 0}; "
                         f"units: {t['unit_id'].nunique() if len(t) else 0}")
        flagged = int((t["flags"] != "").sum()) if len(t) and "flags" in t.columns else 0
        if flagged:
            lines.append(f"Flagged rows: {flagged}")
        return lines

    def summary(self) -> Summary:
        """Title, method, size and caveats (:class:`Summary`: text, shown as HTML in a notebook)."""
        return Summary(self.title, self.summary_lines(), self.notes)

    def plot(self, *, ax=None, indicator: str | None = None, **kw):
        """Values with their 95 % intervals by unit, for one indicator (the first by default).

        Returns the matplotlib Axes.
        """
        t = self.table
        if indicator is None and len(t):
            indicator = str(t["indicator"].iloc[0])
        t = t[t["indicator"].eq(indicator)]
        ax = new_axes(ax, (6.0, 0.3 * len(t) + 1.2))
        y = np.arange(len(t))
        value = t["value"].to_numpy(dtype=float)
        low = np.nan_to_num(value - t["ci_low"].to_numpy(dtype=float))
        high = np.nan_to_num(t["ci_high"].to_numpy(dtype=float) - value)
        ax.errorbar(value, y, xerr=[low, high], fmt="o", capsize=3, **kw)
        ax.set_yticks(y, t["unit_id"].astype(str).tolist())
        ax.invert_yaxis()
        ax.set_xlabel(str(indicator))
        return ax

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        head = f"<h4>{html.escape(self.title)}</h4>"
        if self.method:
            head += f"<p><b>Method:</b> {html.escape(self.method)}</p>"
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        if notes:
            head += f"<ul>{notes}</ul>"
        return head + self.table.head(50).to_html(index=False, na_rep="", float_format=lambda x: f"{x:.4g}")
