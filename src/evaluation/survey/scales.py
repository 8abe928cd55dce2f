"""Likert items and scales: codebook, reverse coding, indices, Cronbach's alpha, top-two-box.

The codebook (table ``survey_codebook``) gives each item its wording in Chinese and English, its
scale (``scale_min`` .. ``scale_max``), its direction (``positive``: higher is better;
``negative``: higher is worse, e.g. ``problems_unsolved``) and its construct (satisfaction,
trust, improvement, engagement).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import DataError, MissingInputError

CODEBOOK_COLUMNS = ("item", "wording_zh", "wording_en", "scale_min", "scale_max", "direction", "construct")


@dataclass(frozen=True)
class Codebook:
    """The survey codebook, indexed by item."""

    table: pd.DataFrame

    def __post_init__(self) -> None:
        missing = [c for c in CODEBOOK_COLUMNS if c not in self.table.columns]
        if missing:
            raise MissingInputError(f"table survey_codebook: column(s) {', '.join(missing)} missing")
        bad = self.table.index[~self.table["direction"].isin(["positive", "negative"])]
        if len(bad):
            raise DataError(f"table survey_codebook row {bad[0]}: direction must be positive or negative, "
                             f"got {self.table.loc[bad[0], 'direction']!r}")

    def row(self, item: str) -> pd.Series:
        """The codebook row of ``item`` (wording, scale, direction, construct)."""
        hit = self.table[self.table["item"] == item]
        if hit.empty:
            raise MissingInputError(f"table survey_codebook: item {item} not found")
        return hit.iloc[0]

    def items(self, construct: str | None = None) -> list[str]:
        """The items of the codebook, or of one ``construct``, in codebook order."""
        t = self.table if construct is None else self.table[self.table["construct"] == construct]
        return list(t["item"])

    def wording(self, item: str, lang: str = "en") -> str:
        """The question wording of ``item`` in ``lang`` (``"en"`` or ``"zh"``)."""
        return str(self.row(item)[f"wording_{lang}"])

    def is_binary(self, item: str) -> bool:
        """Whether ``item`` is a yes/no item (its scale spans one unit, e.g. 0-1)."""
        r = self.row(item)
        return int(r["scale_max"]) - int(r["scale_min"]) == 1


def reverse_code(data: pd.DataFrame, codebook: Codebook, items: list[str] | None = None) -> pd.DataFrame:
    """Copy of ``data`` with negative-direction items reversed: ``x -> scale_min + scale_max - x``.

    After reversal every item reads "higher is better". Values outside the scale raise an error
    naming the row and column.
    """
    out = data.copy()
    for item in items or codebook.items():
        if item not in data.columns:
            continue
        r = codebook.row(item)
        x = pd.to_numeric(data[item], errors="coerce").astype("float64")
        lo, hi = float(r["scale_min"]), float(r["scale_max"])
        bad = x.index[(x < lo) | (x > hi)]
        if len(bad):
            raise DataError(f"table survey row {bad[0]}: column {item} value {x[bad[0]]:g} outside the scale {lo:g}-{hi:g}")
        out[item] = (lo + hi - x) if r["direction"] == "negative" else x
    return out


def cronbach_alpha(items: pd.DataFrame) -> float:
    """Cronbach's (1951) alpha on complete cases: ``k/(k-1) * (1 - sum(var_i) / var(sum))``.

    The internal consistency of the unweighted sum of ``k`` items (survey items of a construct,
    reverse-coded first, or the standardised indicators of an index pillar; OECD/JRC Handbook
    section 4). Sample variances use ``ddof=1``. ``NaN`` where alpha is not defined: fewer than two
    items, fewer than two complete rows, or a sum without variance.
    """
    x = items.apply(pd.to_numeric, errors="coerce").dropna().to_numpy(dtype="float64")
    k = x.shape[1]
    if k < 2 or len(x) < 2:
        return float("nan")
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var == 0:
        return float("nan")
    return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var))


def scale_index(data: pd.DataFrame, codebook: Codebook, construct: str = "satisfaction",
                min_answered: float = 0.5) -> pd.Series:
    """Per-respondent index of a construct: mean of its reverse-coded items (same scale as items).

    A respondent who answered fewer than ``min_answered`` of the items gets a missing index
    (the usual half rule for Likert scales); otherwise the mean of the answered items.
    """
    items = [i for i in codebook.items(construct) if i in data.columns]
    if not items:
        raise MissingInputError(f"table survey: no item of construct {construct} among the columns")
    x = reverse_code(data[items], codebook, items)
    answered = x.notna().sum(axis=1)
    return x.mean(axis=1).where(answered >= min_answered * len(items))


def top_two_box(values: pd.Series, scale_max: int) -> pd.Series:
    """1.0 where the answer is in the top two categories (``>= scale_max - 1``), missing where unanswered."""
    x = pd.to_numeric(values, errors="coerce").astype("float64")
    return (x >= scale_max - 1).astype("float64").where(x.notna())


def scale_report(data: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Per construct: items, Cronbach's alpha (reverse-coded items, complete cases), respondents used."""
    rows = []
    for construct in dict.fromkeys(codebook.table["construct"]):
        items = [i for i in codebook.items(construct) if i in data.columns]
        x = reverse_code(data[items], codebook, items) if items else None
        alpha = cronbach_alpha(x) if len(items) >= 2 else np.nan
        rows.append({"construct": construct, "items": ", ".join(items), "k": len(items), "cronbach_alpha": alpha,
                     "n_complete": int(x.dropna().shape[0]) if x is not None else 0})
    return pd.DataFrame(rows)


def construct_mean_from_item_means(item_means: dict[str, dict[str, float]], codebook: Codebook,
                                   construct: str = "satisfaction") -> dict[str, float]:
    """Mean of a construct's index per unit, from the units' item means.

    The index (:func:`scale_index`) is the mean of the reverse-coded items, a linear function,
    so where every respondent answers every item its population mean is the mean of the
    reverse-coded item means: ``mean_i(m_i)`` with ``m_i -> scale_min + scale_max - m_i`` for
    negative items. Used to get the true index means of the synthetic district from
    ``truth.json`` (``item_means[item][unit_id]``, one wave).
    """
    items = codebook.items(construct)
    missing = [i for i in items if i not in item_means]
    if missing:
        raise MissingInputError(f"item means: item(s) {', '.join(missing)} of construct {construct} missing")
    units = set.intersection(*(set(item_means[i]) for i in items))
    out = {}
    for unit in sorted(units):
        vals = []
        for i in items:
            r = codebook.row(i)
            m = float(item_means[i][unit])
            vals.append(float(r["scale_min"]) + float(r["scale_max"]) - m if r["direction"] == "negative" else m)
        out[unit] = float(np.mean(vals))
    return out
