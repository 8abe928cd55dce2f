"""Rank intervals and sensitivity indices: how far the ranking depends on the construction choices and on the data.

Step 7 of the OECD/JRC Handbook (2008) and COINr's ``get_sensitivity``: a Monte Carlo over the
choices (imputation, outlier treatment, normalisation, pillar weights perturbed around their
nominal values, aggregation) on a Saltelli design (:mod:`evaluation.index.sensitivity`). Each unit
gets its nominal rank, median rank and 5-95 % rank interval; each choice its first-order and total
sensitivity index on the ranks.

**Data error.** With ``errors`` (the standard error of each unit's indicator value, from its 95 %
sampling interval), the indicators are also drawn from their sampling distributions: in each run
``x + se z`` with ``z`` standard normal (shares kept in ``[0, 1]``, non-negative units at or above
0), the way the World Bank's governance indicators carry margins of error. Each group of noisy
indicators (``error_groups``, e.g. the survey outcomes and the request-based service indicators)
is one more factor of the design, so the sensitivity indices give the share of the rank variance
each source explains, beside the construction choices; :func:`uncertainty_sources` gives the share
of the rank-interval width. Draws are independent across units and indicators (the correlation of
indicators measured on the same respondents is not modelled), and an asymmetric interval (a
Kaplan-Meier median's) enters through its average half-width.

**Several years.** With ``blocks`` (the year of each row of a stacked units-x-years matrix) the
choices and draws are applied to all years at once (normalised over the pooled years, as a
panel index is, so that scores can be compared over time) and units are ranked within each year
(:func:`evaluation.index.result.governance_index_years`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.special

from evaluation.index.aggregation import AGGREGATIONS, aggregate_batch, pca_within
from evaluation.index.compute import IndexSpec, _ranks, compute_index
from evaluation.index.matrix import catalogue_attributes, framework_of
from evaluation.index.normalise import (
    IMPUTATIONS,
    NORMALISATIONS,
    impute,
    impute_column,
    is_outlying,
    normalise,
    normalise_column,
    treat_column,
    treat_outliers,
)
from evaluation.index.sensitivity import choose, saltelli_design, sensitivity_indices

DEFAULT_DRAWS = 500
WEIGHT_SPREAD = 0.25  # pillar weights perturbed by up to +-25 % (the COINr vignette's default)
#: outlier treatments tried by the Monte Carlo (winsorise_boxcox differs from winsorise only where 5 points fail)
MC_TREATMENTS = ("winsorise", "none")
CONSTRUCTION = ("imputation", "treatment", "normalisation", "aggregation", "weights")


# ============================================================================= uncertainty
@dataclass
class RankUncertainty:
    """Monte Carlo over the construction choices (and the data): rank intervals and sensitivity indices.

    Attributes
    ----------
    ranks
        Runs x units: the index rank in each of the ``2 N`` independent runs (the ``A`` and ``B``
        rows of the design); ranked within each year when there are several.
    scores
        Runs x units: the index score of the same runs.
    pillar_ranks
        Pillar -> runs x units ranks of the pillar scores (weights do not change them).
    rank_table
        Per unit: ``nominal_rank``, ``median_rank``, ``rank_p05``, ``rank_p95``, ``share_top5``.
    sensitivity
        Per factor (choice or data-error source): first-order and total indices of the ranks
        (generalised over units) and of COINr's scalar output, the mean absolute rank shift from
        the nominal ranking.
    choices
        The options sampled for each discrete choice, the weight spread and the error groups.
    """

    ranks: pd.DataFrame
    pillar_ranks: dict[str, pd.DataFrame]
    rank_table: pd.DataFrame
    sensitivity: pd.DataFrame
    choices: dict
    draws: int
    seed: int
    scores: pd.DataFrame | None = None
    nominal_ranks: pd.Series | None = None
    blocks: np.ndarray | None = field(default=None, repr=False)

    def pairwise(self) -> pd.DataFrame:
        """Share of runs in which the row unit ranks better (lower rank) than the column unit."""
        r = self.ranks.to_numpy()
        better = (r[:, :, None] < r[:, None, :]).mean(axis=0)
        return pd.DataFrame(better, index=self.ranks.columns, columns=self.ranks.columns)

    def distinguishable(self, level: float = 0.95) -> pd.DataFrame:
        """Pairs of units ordered the same way in at least ``level`` of runs (told apart) or not.

        Returns one row per pair (``a`` ranked better nominally): ``share_a_better`` and
        ``told_apart``.
        """
        pw = self.pairwise()
        nominal = self.rank_table["nominal_rank"]
        rows = []
        ids = list(nominal.sort_values(kind="stable").index)
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                s = pw.loc[a, b]
                rows.append({"a": a, "b": b, "share_a_better": s, "told_apart": bool(s >= level or s <= 1 - level)})
        return pd.DataFrame(rows)

    def interval_width(self) -> float:
        """Mean width of the 5-95 % rank intervals over units."""
        return float((self.rank_table["rank_p95"] - self.rank_table["rank_p05"]).mean())


def _rank_summary(ranks: np.ndarray, units, nominal: pd.Series) -> pd.DataFrame:
    q = np.percentile(ranks, [5, 50, 95], axis=0)
    return pd.DataFrame({"nominal_rank": nominal.reindex(units).to_numpy(), "median_rank": q[1], "rank_p05": q[0],
                         "rank_p95": q[2], "share_top5": (ranks <= 5).mean(axis=0)}, index=_unit_index(units))


def _unit_index(units) -> pd.Index:
    """``unit_id`` index, or ``(unit_id, year)`` for a stacked multi-year matrix."""
    if units and isinstance(units[0], tuple):
        return pd.MultiIndex.from_tuples(units, names=["unit_id", "year"])
    return pd.Index(units, name="unit_id")


def _block_ranks(scores: np.ndarray, blocks: np.ndarray | None) -> np.ndarray:
    """Ranks of each row of ``scores`` (runs x units), within each block of units."""
    if blocks is None:
        return _ranks(scores)
    out = np.empty_like(scores)
    for b in pd.unique(blocks):
        cols = np.flatnonzero(blocks == b)
        out[:, cols] = _ranks(scores[:, cols])
    return out


def error_cells(errors: pd.DataFrame | None, matrix: pd.DataFrame,
                error_groups: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Group -> (row indices, column indices, standard errors) of the cells drawn with data error."""
    if errors is None:
        return {}
    se = errors.reindex(index=matrix.index, columns=matrix.columns).to_numpy(dtype=float)
    se = np.where(np.isfinite(se) & (se > 0) & matrix.notna().to_numpy(), se, np.nan)
    groups = dict(error_groups) if error_groups else {"data": [c for c in matrix.columns if np.isfinite(se[:, matrix.columns.get_loc(c)]).any()]}
    out = {}
    for g, cols in groups.items():
        cidx = np.array([matrix.columns.get_loc(c) for c in cols if c in matrix.columns], dtype=int)
        if not len(cidx):
            continue
        sub = se[:, cidx]
        r, c = np.nonzero(np.isfinite(sub))
        if len(r):
            out[g] = (r, cidx[c], sub[r, c])
    return out


def rank_uncertainty(matrix: pd.DataFrame, nominal: IndexSpec | None = None, *, draws: int = DEFAULT_DRAWS,
                     seed: int = 2020, groups: pd.Series | None = None, weights_table: pd.DataFrame | None = None,
                     targets: pd.DataFrame | None = None, year: int | None = None,
                     imputations: Sequence[str] = IMPUTATIONS, treatments: Sequence[str] = MC_TREATMENTS,
                     normalisations: Sequence[str] = NORMALISATIONS, aggregations: Sequence[str] = AGGREGATIONS,
                     weight_spread: float = WEIGHT_SPREAD, bootstrap: int = 200, errors: pd.DataFrame | None = None,
                     error_groups: Mapping[str, Sequence[str]] | None = None, blocks: np.ndarray | None = None,
                     pairwise: pd.DataFrame | None = None, construction: bool = True) -> RankUncertainty:
    """Monte Carlo uncertainty and sensitivity analysis of the ranking, with the data error of the module docstring.

    Handbook section 7; Saisana, Saltelli & Tarantola (2005).

    Five construction inputs, sampled independently and uniformly: imputation, outlier treatment,
    normalisation, aggregation (each a discrete choice among its options), and the pillar weights
    (a group factor: each pillar weight is its nominal value times a uniform factor on
    ``[1 - spread, 1 + spread]``, then re-normalised). The within-pillar weights are the nominal
    scheme's (``nominal.weighting``; PCA ones are recomputed in each run). With ``errors`` each
    error group is one more factor. ``construction=False`` keeps every choice nominal (data error
    only). ``draws`` is the base sample ``N`` of the Saltelli design; the model runs ``N (k + 2)``
    times for ``k`` factors. ``blocks``: the year of each row (ranks within years).

    Rank intervals use the ``2 N`` independent runs; sensitivity indices use all runs
    (:func:`evaluation.index.sensitivity.sensitivity_indices`, with bootstrap intervals).
    """
    nominal = nominal or IndexSpec()
    if not construction:
        imputations, treatments = [nominal.imputation], [nominal.treatment]
        normalisations, aggregations, weight_spread = [nominal.normalisation], [nominal.aggregation], 0.0
    groups_needed = "group_mean" in imputations or nominal.imputation == "group_mean"
    if groups_needed and groups is None:
        imputations = [m for m in imputations if m != "group_mean"]
    pillars = framework_of(matrix.columns)
    attrs = catalogue_attributes(list(matrix.columns), targets, year)
    base = compute_index(matrix, nominal, groups=groups, weights_table=weights_table, pillars=pillars,
                         attributes=attrs, pairwise=pairwise)
    nominal_ranks = pd.Series(_block_ranks(base.index.to_numpy()[None, :], blocks)[0], index=matrix.index)
    nominal_pw = base.weights.pillar[list(pillars)].to_numpy()
    cells = error_cells(errors, matrix, error_groups)
    factors = {"imputation": 1, "treatment": 1, "normalisation": 1, "aggregation": 1, "weights": len(pillars)}
    factors.update({g: len(c[0]) for g, c in cells.items()})
    design = saltelli_design(draws, factors, seed)
    X, _ = design.stacked()
    cols = design.factors
    pick = {name: choose(X[:, cols[name][0]], opts) for name, opts in
            (("imputation", imputations), ("treatment", treatments), ("normalisation", normalisations),
             ("aggregation", aggregations))}
    w = nominal_pw[None, :] * (1 - weight_spread + 2 * weight_spread * X[:, cols["weights"]])
    w = w / w.sum(axis=1, keepdims=True)
    n_units = len(matrix)
    scores = np.full((len(X), n_units), np.nan)
    pranks = {p: np.full((len(X), n_units), np.nan) for p in pillars}
    combo = np.stack([pick["imputation"], pick["treatment"], pick["normalisation"], pick["aggregation"]], axis=1)
    keys, inverse = np.unique(combo, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    directions, tgt, unit_of = attrs
    names = list(matrix.columns)
    positions = {p: np.array([matrix.columns.get_loc(i) for i in ids]) for p, ids in pillars.items()}
    raw = matrix.to_numpy(dtype=float)
    noisy = np.unique(np.concatenate([c[1] for c in cells.values()])) if cells else np.array([], dtype=int)
    gcodes = pd.factorize(groups.reindex(matrix.index))[0] if groups is not None else None
    noisy_pillar = {p: bool(np.isin(positions[p], noisy).any()) for p in pillars}
    treated, normalised = {}, {}  # cached: the treated and normalised matrices of each combination of choices
    for k, (ii, ti, ni, ai) in enumerate(keys):
        if (ii, ti) not in treated:
            treated[ii, ti] = treat_outliers(impute(matrix, imputations[ii], groups), treatments[ti])[0]
        if (ii, ti, ni) not in normalised:
            normalised[ii, ti, ni] = normalise(treated[ii, ti], normalisations[ni], directions, tgt, unit_of)
        norm = normalised[ii, ti, ni]
        agg = aggregations[ai]
        rows = np.flatnonzero(inverse == k)
        if not cells:
            within = (pca_within(norm, pillars) if nominal.weighting == "pca" else base.weights.within)[names]
            x, wv = norm.to_numpy(dtype=float), within.to_numpy(dtype=float)
            ps = np.column_stack([aggregate_batch(x[:, positions[p]], wv[positions[p]][None, :], agg)[0] for p in pillars])
            scores[rows] = aggregate_batch(ps, w[rows], agg)
            for j, p in enumerate(pillars):
                pranks[p][rows] = _ranks(ps[:, j])
            continue
        x0 = norm.to_numpy(dtype=float)
        fixed_within = None if nominal.weighting == "pca" else base.weights.within[names].to_numpy(dtype=float)
        if fixed_within is not None:  # pillars without a noisy indicator: the same in every run of this combination
            ps0 = np.column_stack([aggregate_batch(x0[:, positions[p]], fixed_within[positions[p]][None, :], agg)[0]
                                   for p in pillars])
        treat = treatments[ti]
        for r in rows:
            x = x0.copy()
            drawn = raw.copy()
            for g, (ri, ci, se) in cells.items():
                drawn[ri, ci] += se * scipy.special.ndtri(np.clip(X[r, cols[g]], 1e-12, 1 - 1e-12))
            for j in noisy:
                col = drawn[:, j]
                unit = unit_of.get(names[j])
                col = np.clip(col, 0.0, 1.0) if unit == "share" else (np.maximum(col, 0.0) if np.nanmin(raw[:, j]) >= 0 else col)
                col = impute_column(col, imputations[ii], gcodes)
                if treat != "none" and is_outlying(col):
                    col = treat_column(col, treat)[0]
                x[:, j] = normalise_column(col, normalisations[ni], directions[names[j]], tgt.get(names[j]), unit)
            if fixed_within is None:
                within = pca_within(pd.DataFrame(x, columns=names), pillars)[names].to_numpy(dtype=float)
                ps = np.column_stack([aggregate_batch(x[:, positions[p]], within[positions[p]][None, :], agg)[0]
                                      for p in pillars])
            else:
                ps = ps0.copy()
                for j, p in enumerate(pillars):
                    if noisy_pillar[p]:
                        ps[:, j] = aggregate_batch(x[:, positions[p]], fixed_within[positions[p]][None, :], agg)[0]
            scores[r] = aggregate_batch(ps, w[r][None, :], agg)[0]
            for j, p in enumerate(pillars):
                pranks[p][r] = _ranks(ps[:, j])
    ranks = _block_ranks(scores, blocks)
    if blocks is not None:
        for p in pillars:
            pranks[p] = _block_ranks(np.where(np.isnan(pranks[p]), np.nan, pranks[p]), blocks)
    n = design.n
    ab = slice(0, 2 * n)
    units = list(matrix.index)
    rank_table = _rank_summary(ranks[ab], units, nominal_ranks)
    # sensitivity of (i) the vector of ranks, (ii) COINr's mean absolute rank shift from nominal
    shift = np.abs(ranks - nominal_ranks.to_numpy()[None, :]).mean(axis=1)
    fAB = {f: ranks[(2 + i) * n:(3 + i) * n] for i, f in enumerate(cols)}
    s_rank = sensitivity_indices(ranks[:n], ranks[n:2 * n], fAB, bootstrap=bootstrap, seed=seed)
    s_rank.insert(0, "output", "ranks")
    s_shift = sensitivity_indices(shift[:n], shift[n:2 * n], {f: shift[(2 + i) * n:(3 + i) * n] for i, f in enumerate(cols)},
                                  bootstrap=bootstrap, seed=seed)
    s_shift.insert(0, "output", "mean_rank_shift")
    sens = pd.concat([s_rank, s_shift], ignore_index=True)
    if not construction:
        sens = sens[~sens["factor"].isin(CONSTRUCTION)].reset_index(drop=True)
    return RankUncertainty(
        ranks=pd.DataFrame(ranks[ab], columns=units), scores=pd.DataFrame(scores[ab], columns=units),
        pillar_ranks={p: pd.DataFrame(v[ab], columns=units) for p, v in pranks.items()},
        rank_table=rank_table, sensitivity=sens,
        choices={"imputation": list(imputations), "treatment": list(treatments), "normalisation": list(normalisations),
                 "aggregation": list(aggregations), "weight_spread": weight_spread,
                 "error_groups": {g: sorted({names[j] for j in c[1]}) for g, c in cells.items()}},
        draws=draws, seed=seed, nominal_ranks=nominal_ranks, blocks=blocks)


def uncertainty_sources(matrix: pd.DataFrame, nominal: IndexSpec | None = None, *, errors: pd.DataFrame,
                        error_groups: Mapping[str, Sequence[str]] | None = None, draws: int = DEFAULT_DRAWS,
                        seed: int = 2020, **kwargs) -> tuple[pd.DataFrame, dict[str, RankUncertainty]]:
    """How much of the rank intervals' width each source of uncertainty explains.

    Three Monte Carlos with the same seed: construction choices only, data error only (choices at
    their nominal values), and both. For each: the mean width of the 5-95 % rank intervals over
    units and its share of the width with both sources; and, from the run with both, each factor's
    first-order and total sensitivity index on the ranks. The widths do not add up (sources
    interact and widths are not variances): the indices give the variance decomposition, the widths
    what a reader sees.

    Returns
    -------
    (table, runs)
        ``table``: ``source`` (``construction``, ``data``, ``both``), ``mean_interval_width``,
        ``share_of_width``, ``median_interval_width``; ``runs``: the three :class:`RankUncertainty`.
    """
    runs = {
        "construction": rank_uncertainty(matrix, nominal, draws=draws, seed=seed, **kwargs),
        "data": rank_uncertainty(matrix, nominal, draws=draws, seed=seed, errors=errors, error_groups=error_groups,
                                 construction=False, **kwargs),
        "both": rank_uncertainty(matrix, nominal, draws=draws, seed=seed, errors=errors, error_groups=error_groups,
                                 **kwargs),
    }
    width = {k: (r.rank_table["rank_p95"] - r.rank_table["rank_p05"]) for k, r in runs.items()}
    both = width["both"].mean()
    table = pd.DataFrame([{"source": k, "mean_interval_width": v.mean(), "share_of_width": v.mean() / both,
                           "median_interval_width": v.median()} for k, v in width.items()])
    return table, runs
