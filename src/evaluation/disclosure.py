"""Disclosure control for published tables: small cells suppressed so that no subtraction recovers them.

Two checks stand between a computation and anything the package publishes (the annual review,
its workbook, its figures): this one, and the scan for personal identifiers
(:func:`evaluation.dataset.privacy.scan_paths`).

* :func:`suppress_small_cells`: a cell that rests on fewer than ``k`` respondents or requests
  (``k = 5`` by default) is suppressed and shown with a mark (*primary suppression*). Where the
  table publishes a total over a line of cells (a row or column margin, or a total row of a tidy
  table), a single suppressed cell in that line could be recovered as total minus the others, so
  the smallest other cell of the line is suppressed as well (*secondary suppression*), repeated
  until no line has exactly one suppressed cell. This is the threshold rule with complementary
  suppression described in Hundepool et al. (2012), *Statistical Disclosure Control*, Wiley,
  sections 4.2 and 4.3 (Eurostat/ESSnet practice).

A cell with zero respondents is not suppressed: there is nobody to disclose, and its value is
missing anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluation.errors import DataError, OptionError

#: default minimum number of respondents or requests a published cell may rest on
DEFAULT_K = 5
#: mark shown in place of a suppressed value (the Statistics Canada / Eurostat confidentiality mark)
MARK = "x"


@dataclass
class Suppression:
    """A table after disclosure control.

    Attributes
    ----------
    table
        The table to publish: suppressed cells hold :data:`MARK` (those columns become object dtype).
    mask
        Same shape as ``table`` (tidy mode: index of the rows, one column ``suppressed``),
        ``"primary"``, ``"secondary"`` or ``""``.
    k
        The threshold used.
    """

    table: pd.DataFrame
    mask: pd.DataFrame
    k: int
    mark: str = MARK
    notes: list[str] = field(default_factory=list)

    @property
    def n_primary(self) -> int:
        """The number of cells suppressed because they rest on fewer than ``k`` (primary suppression)."""
        return int((self.mask.to_numpy() == "primary").sum())

    @property
    def n_secondary(self) -> int:
        """The number of cells at or above ``k`` suppressed only so that no total gives a small cell away.

        These are the complementary (secondary) suppressions; ``n_primary + n_secondary`` cells show the mark.
        """
        return int((self.mask.to_numpy() == "secondary").sum())


def _small(n: np.ndarray, k: int) -> np.ndarray:
    n = np.asarray(pd.to_numeric(pd.Series(np.ravel(n)), errors="coerce"), dtype=float).reshape(np.shape(n))
    return (n > 0) & (n < k)


def suppress_small_cells(
    table: pd.DataFrame,
    count_col: str | None = None,
    *,
    n: pd.DataFrame | None = None,
    k: int = DEFAULT_K,
    value_cols: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    total: dict[str, object] | None = None,
    total_row: object | None = None,
    total_col: object | None = None,
    mark: str = MARK,
) -> Suppression:
    """Suppress cells resting on fewer than ``k`` respondents or requests.

    Two layouts:

    *Tidy* (``count_col`` given): one row per cell, the count in ``count_col``. Rows with
    ``0 < count < k`` have ``value_cols`` (default: every numeric column, the count included)
    replaced by ``mark``. With ``groups`` and ``total`` (e.g. ``groups=["indicator"]``,
    ``total={"unit_id": "ZW"}``: within each indicator the district row is the total of the
    others), a line with exactly one suppressed non-total row gets its smallest other row
    suppressed too.

    *Wide* (``n`` given, same shape as ``table``; or neither, and ``table`` holds the counts
    themselves): each cell is suppressed when its count is below ``k``. ``total_row`` /
    ``total_col`` name the margin row / column; lines with exactly one suppressed inner cell then
    get secondary suppression, iterated until stable (the margins themselves stay published).

    Parameters
    ----------
    k
        Threshold: a cell must rest on at least ``k`` units (default 5).

    Returns
    -------
    Suppression
        ``.table`` with marks, ``.mask`` (primary / secondary), counts of each.
    """
    if k < 1:
        raise OptionError(f"k must be at least 1, not {k}")
    if count_col is not None:
        return _suppress_tidy(table, count_col, k, value_cols, groups, total, mark)
    counts = table if n is None else n
    if counts.shape != table.shape:
        raise DataError(f"counts shape {counts.shape} differs from the table's {table.shape}")
    return _suppress_wide(table, counts, k, total_row, total_col, mark)


def _suppress_tidy(table, count_col, k, value_cols, groups, total, mark) -> Suppression:
    if count_col not in table.columns:
        raise KeyError(f"count column {count_col!r} is not in the table (columns: {', '.join(map(str, table.columns))})")
    counts = pd.to_numeric(table[count_col], errors="coerce").astype(float)
    state = np.where(_small(counts.to_numpy(), k), "primary", "").astype(object)  # object: room for "secondary"
    if groups and total:
        is_total = np.ones(len(table), dtype=bool)
        for col, val in total.items():
            is_total &= table[col].astype(str).eq(str(val)).to_numpy()
        keys = table[list(groups)].astype(str).agg("\x1f".join, axis=1).to_numpy()
        for key in pd.unique(keys):
            line = np.flatnonzero(keys == key)
            inner = line[~is_total[line]]
            if not is_total[line].any() or (state[line[is_total[line]]] != "").all():
                continue  # no published total in this line: nothing to recover
            if (state[inner] != "").sum() == 1:
                free = inner[(state[inner] == "") & (counts.to_numpy()[inner] > 0)]
                if len(free):
                    state[free[np.argmin(counts.to_numpy()[free])]] = "secondary"
    if value_cols is None:
        value_cols = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    out = table.copy()
    hide = state != ""
    for col in value_cols:
        if hide.any():
            col_values = out[col].astype(object)
            col_values[hide] = mark
            out[col] = col_values
    mask = pd.DataFrame({"suppressed": state}, index=table.index)
    return Suppression(out, mask, k, mark)


def _suppress_wide(table, counts, k, total_row, total_col, mark) -> Suppression:
    c = counts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    state = np.where(_small(c, k), "primary", "").astype(object)
    rows = [i for i, r in enumerate(table.index) if total_row is None or r != total_row]
    cols = [j for j, col in enumerate(table.columns) if total_col is None or col != total_col]
    inner_r, inner_c = rows, cols
    # margins stay published, so a line with a margin must not have exactly one hidden cell
    changed = True
    while changed:
        changed = False
        lines = []
        if total_col is not None:
            lines += [[(i, j) for j in inner_c] for i in inner_r]
        if total_row is not None:
            lines += [[(i, j) for i in inner_r] for j in inner_c]
        for line in lines:
            hidden = [cell for cell in line if state[cell]]
            if len(hidden) != 1:
                continue
            free = [cell for cell in line if not state[cell] and c[cell] > 0]
            if not free:
                continue
            pick = min(free, key=lambda cell: (c[cell], cell))
            state[pick] = "secondary"
            changed = True
    out = table.astype(object).copy()
    out = out.mask(pd.DataFrame(state != "", index=table.index, columns=table.columns), mark)
    mask = pd.DataFrame(state, index=table.index, columns=table.columns)
    return Suppression(out, mask, k, mark)


def protect_hierarchy(table: pd.DataFrame, parent: dict[str, str], k: int = DEFAULT_K,
                      count_col: str = "n", line: Sequence[str] = ("indicator", "period")) -> pd.Series:
    """Primary and secondary suppression of a tidy table whose units nest (communities in streets in a district).

    Every unit's total is taken to be published somewhere (the district and street figures are),
    so each set of sibling units under one parent is a line with a known total. In each line,
    within each ``line`` group (an indicator in a period), cells with ``0 < n < k`` are
    suppressed (primary), and then, while a line has exactly one suppressed cell, or suppressed
    cells whose counts add up to fewer than ``k`` (their sum would be a small cell itself), the
    smallest published sibling is suppressed as well (secondary). Subtracting the published
    cells from the total then recovers only a sum of at least ``k``, never one cell (Hundepool
    et al. 2012, sections 4.2-4.3).

    Parameters
    ----------
    table
        Tidy rows with ``unit_id``, the ``line`` columns and ``count_col``.
    parent
        Unit id -> its parent's id (the unit tree).
    k
        Threshold.

    Returns
    -------
    pandas.Series
        ``"primary"``, ``"secondary"`` or ``""`` for each row of ``table``.
    """
    counts = pd.to_numeric(table[count_col], errors="coerce").astype(float).to_numpy()
    state = np.where(_small(counts, k), "primary", "").astype(object)
    units = table["unit_id"].astype(str).to_numpy()
    parents = np.array([parent.get(u, "") for u in units], dtype=object)
    keys = table[list(line)].astype(str).agg("\x1f".join, axis=1).to_numpy() if line else np.zeros(len(table), str)
    for key in pd.unique(keys):
        in_key = keys == key
        for p in pd.unique(parents[in_key]):
            if not p:
                continue
            rows = np.flatnonzero(in_key & (parents == p))
            while True:
                hidden = rows[state[rows] != ""]
                if len(hidden) == 0:
                    break
                total = np.nansum(counts[hidden])
                if len(hidden) >= 2 and not (0 < total < k):
                    break
                free = rows[(state[rows] == "") & (counts[rows] > 0)]
                if len(free) == 0:
                    break  # every sibling hidden: the parent's own count is then below k too
                state[free[np.argmin(counts[free])]] = "secondary"
    return pd.Series(state, index=table.index, dtype=object)
