"""The tidy indicator table and the results object every computation returns.

DESIGN.md section 4: every computation returns a tidy table with at least the columns of
:data:`INDICATOR_COLUMNS`. Results objects follow statsmodels: ``.table`` (the tidy table),
``.summary()`` (printable: method, n, caveats), ``.plot()`` where a picture helps, and an HTML
representation so that a notebook cell that shows a result shows something readable.
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

    Missing standard columns are filled with missing values (``flags`` with ``""``); columns
    named in ``extra`` are kept after the standard ones; anything else is dropped.
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


@dataclass
class IndicatorResult:
    """Result of an indicator computation.

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

    def summary(self) -> str:
        """Plain-text summary: title, method, number of rows and units, notes."""
        t = self.table
        lines = [self.title, "=" * len(self.title)]
        if self.method:
            lines.append(f"Method: {self.method}")
        lines.append(
            f"Rows: {len(t)}; indicators: {t['indicator'].nunique() if len(t) else 0}; "
            f"units: {t['unit_id'].nunique() if len(t) else 0}"
        )
        flagged = (t["flags"] != "").sum() if len(t) else 0
        if flagged:
            lines.append(f"Flagged rows: {flagged}")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = f"<h4>{html.escape(self.title)}</h4>"
        if self.method:
            head += f"<p><b>Method:</b> {html.escape(self.method)}</p>"
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        if notes:
            head += f"<ul>{notes}</ul>"
        return head + self.table.head(50).to_html(index=False, na_rep="", float_format=lambda x: f"{x:.4g}")
