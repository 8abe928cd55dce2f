"""Roll-ups of counts through the unit hierarchy: compound -> community -> street -> district.

A ratio indicator is carried as its numerator and denominator; a roll-up sums both over the
units below and divides once at the end, so a district value is the pooled ratio, never an
average of community ratios. A ratio whose denominator is zero is missing (``NaN``) with the
flag ``zero_denominator``, never 0 or infinity.

Levels (DESIGN.md section 3): ``district``; ``street`` holds urban streets and rural townships;
``community`` holds urban communities and villages; ``compound`` holds residential compounds
(urban only). An indicator's ``scope`` (catalogue) restricts the units reported: ``urban``
(streets, communities, compounds), ``rural`` (townships, villages) or ``all``. The district is
always reported.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evaluation.dataset.units import UnitTree
from evaluation.errors import DataError
from evaluation.results import add_flag, indicator_frame


def rollup_counts(base: pd.DataFrame, tree: UnitTree, level: str, scope: str = "all",
                  value_cols: tuple[str, ...] = ("numerator", "denominator", "n")) -> pd.DataFrame:
    """Sum counts of base units up to ``level``.

    Parameters
    ----------
    base
        One row per base unit (``unit_id``) with the count columns ``value_cols``; units of
        any single level below or at ``level``.
    tree
        The unit hierarchy.
    level
        Level to report: every unit of that level within ``scope`` gets a row, with zero counts
        where no base unit lies below it.

    Returns
    -------
    DataFrame with ``unit_id`` and the summed ``value_cols``.
    """
    cols = list(value_cols)
    units = tree.units(level, scope)
    if len(base) == 0:
        out = pd.DataFrame({"unit_id": units})
        for c in cols:
            out[c] = 0.0
        return out
    unknown = ~base["unit_id"].isin(tree.lineage.index)
    if unknown.any():
        raise DataError(f"unit {base.loc[unknown, 'unit_id'].iloc[0]!r} is not in the units or compounds table")
    target = tree.lineage.loc[base["unit_id"].to_numpy(), level].to_numpy()
    b = base[cols].astype("float64").copy()
    b["unit_id"] = target
    # base units above ``level`` (e.g. district-only counts asked at street level) are not spread down
    b = b[pd.notna(b["unit_id"])]
    summed = b.groupby("unit_id", sort=False)[cols].sum(min_count=1)
    summed = summed.reindex(units).fillna(0.0)
    summed.index.name = "unit_id"
    return summed.reset_index()


def ratio_table(counts: pd.DataFrame, indicator: str, level: str, period: str, scale: float = 1.0,
                method: str = "", flags: str = "") -> pd.DataFrame:
    """Tidy indicator rows from summed counts: ``value = scale * numerator / denominator``.

    A zero denominator gives a missing value and the flag ``zero_denominator``.
    """
    num = counts["numerator"].astype("float64")
    den = counts["denominator"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, scale * num / den.where(den > 0, np.nan), np.nan)
    df = pd.DataFrame({
        "indicator": indicator, "level": level, "unit_id": counts["unit_id"].astype("str").to_numpy(),
        "period": period, "value": value, "numerator": num.to_numpy(), "denominator": den.to_numpy(),
        "n": counts["n"].to_numpy() if "n" in counts else den.to_numpy(), "method": method, "flags": flags,
    })
    df["flags"] = add_flag(df["flags"], den.to_numpy() <= 0, "zero_denominator")
    return indicator_frame(df)


def rollup_long(base: pd.DataFrame, tree: UnitTree, level: str, scopes: Mapping[str, str]) -> pd.DataFrame:
    """Roll up many indicators at once (the vectorised form of :func:`rollup_counts`).

    Parameters
    ----------
    base
        Long table: ``indicator``, ``unit_id`` (base unit), ``numerator``, ``denominator``, ``n``.
    scopes
        Indicator id -> scope (``urban``, ``rural``, ``all``): which units of ``level`` get a row.

    Returns
    -------
    Long table with one row per indicator and unit of ``level`` in its scope (zeros where no base
    unit lies below it).
    """
    cols = ["numerator", "denominator", "n"]
    unknown = ~base["unit_id"].isin(tree.lineage.index)
    if unknown.any():
        raise DataError(f"unit {base.loc[unknown, 'unit_id'].iloc[0]!r} is not in the units or compounds table")
    b = base[["indicator"] + cols].copy()
    b["unit_id"] = tree.lineage[level].reindex(base["unit_id"].to_numpy()).to_numpy()
    b = b[b["unit_id"].notna()]
    summed = b.groupby(["indicator", "unit_id"], sort=False)[cols].sum()
    units_by_scope = {s: tree.units(level, s) for s in set(scopes.values())}
    inds = list(pd.unique(base["indicator"]))
    ind_arr = np.concatenate([np.repeat(i, len(units_by_scope[scopes[i]])) for i in inds]) if inds else np.array([])
    unit_arr = np.concatenate([units_by_scope[scopes[i]].to_numpy(dtype=object) for i in inds]) if inds else np.array([])
    idx = pd.MultiIndex.from_arrays([ind_arr, unit_arr], names=["indicator", "unit_id"])
    return summed.reindex(idx, fill_value=0.0).reset_index()
