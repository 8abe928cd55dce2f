"""Rank intervals and sensitivity indices: how far the ranking depends on the construction choices.

Step 7 of the OECD/JRC Handbook (2008) and COINr's ``get_sensitivity``: a Monte Carlo over the
choices (imputation, outlier treatment, normalisation, pillar weights perturbed around their
nominal values, aggregation) on a Saltelli design (:mod:`evaluation.index.sensitivity`). Each unit
gets its nominal rank, median rank and 5-95 % rank interval; each choice its first-order and total
sensitivity index on the ranks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.index.aggregation import AGGREGATIONS, aggregate_batch, pca_within
from evaluation.index.compute import IndexSpec, _ranks, compute_index
from evaluation.index.matrix import catalogue_attributes, framework_of
from evaluation.index.normalise import IMPUTATIONS, NORMALISATIONS, TREATMENTS, impute, normalise, treat_outliers
from evaluation.index.sensitivity import choose, saltelli_design, sensitivity_indices

DEFAULT_DRAWS = 500


WEIGHT_SPREAD = 0.25  # pillar weights perturbed by up to +-25 % (the COINr vignette's default)


# ============================================================================= uncertainty
@dataclass
class RankUncertainty:
    """Monte Carlo over the construction choices: rank intervals and sensitivity indices.

    Attributes
    ----------
    ranks
        Runs x units: the index rank in each of the ``2 N`` independent runs (the ``A`` and ``B``
        rows of the design).
    pillar_ranks
        Pillar -> runs x units ranks of the pillar scores (weights do not change them).
    rank_table
        Per unit: ``nominal_rank``, ``median_rank``, ``rank_p05``, ``rank_p95``, ``share_top5``.
    sensitivity
        Per choice: first-order and total indices of the ranks (generalised over units) and of
        COINr's scalar output, the mean absolute rank shift from the nominal ranking.
    choices
        The options sampled for each discrete choice, and the weight spread.
    """

    ranks: pd.DataFrame
    pillar_ranks: dict[str, pd.DataFrame]
    rank_table: pd.DataFrame
    sensitivity: pd.DataFrame
    choices: dict
    draws: int
    seed: int

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


def _rank_summary(ranks: np.ndarray, units, nominal: pd.Series) -> pd.DataFrame:
    q = np.percentile(ranks, [5, 50, 95], axis=0)
    return pd.DataFrame({"nominal_rank": nominal.reindex(units).to_numpy(), "median_rank": q[1], "rank_p05": q[0],
                         "rank_p95": q[2], "share_top5": (ranks <= 5).mean(axis=0)}, index=pd.Index(units, name="unit_id"))


def rank_uncertainty(matrix: pd.DataFrame, nominal: IndexSpec = IndexSpec(), *, draws: int = DEFAULT_DRAWS,
                     seed: int = 2020, groups: pd.Series | None = None, weights_table: pd.DataFrame | None = None,
                     targets: pd.DataFrame | None = None, year: int | None = None,
                     imputations: Sequence[str] = IMPUTATIONS, treatments: Sequence[str] = TREATMENTS,
                     normalisations: Sequence[str] = NORMALISATIONS, aggregations: Sequence[str] = AGGREGATIONS,
                     weight_spread: float = WEIGHT_SPREAD, bootstrap: int = 200) -> RankUncertainty:
    """Monte Carlo uncertainty and sensitivity analysis of the ranking (Handbook section 7; Saisana,
    Saltelli & Tarantola 2005).

    Five uncertain inputs, sampled independently and uniformly: imputation, outlier treatment,
    normalisation, aggregation (each a discrete choice among its options), and the pillar weights
    (a group factor: each pillar weight is its nominal value times a uniform factor on
    ``[1 - spread, 1 + spread]``, then re-normalised). The within-pillar weights are the nominal
    scheme's (``nominal.weighting``). ``draws`` is the base sample ``N`` of the Saltelli design;
    the model runs ``N (k + 2) = 7 N`` times.

    Rank intervals use the ``2 N`` independent runs; sensitivity indices use all runs
    (:func:`evaluation.sensitivity.sensitivity_indices`, with bootstrap intervals).
    """
    groups_needed = "group_mean" in imputations or nominal.imputation == "group_mean"
    if groups_needed and groups is None:
        imputations = [m for m in imputations if m != "group_mean"]
    pillars = framework_of(matrix.columns)
    attrs = catalogue_attributes(list(matrix.columns), targets, year)
    base = compute_index(matrix, nominal, groups=groups, weights_table=weights_table, pillars=pillars, attributes=attrs)
    nominal_pw = base.weights.pillar[list(pillars)].to_numpy()
    factors = {"imputation": 1, "treatment": 1, "normalisation": 1, "aggregation": 1, "weights": len(pillars)}
    design = saltelli_design(draws, factors, seed)
    X, blocks = design.stacked()
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
    positions = {p: np.array([matrix.columns.get_loc(i) for i in ids]) for p, ids in pillars.items()}
    treated, normalised = {}, {}  # cached: 8 treated and 40 normalised matrices serve all runs
    for k, (ii, ti, ni, ai) in enumerate(keys):
        if (ii, ti) not in treated:
            treated[ii, ti] = treat_outliers(impute(matrix, imputations[ii], groups), treatments[ti])[0]
        if (ii, ti, ni) not in normalised:
            normalised[ii, ti, ni] = normalise(treated[ii, ti], normalisations[ni], directions, tgt, unit_of)
        norm = normalised[ii, ti, ni]
        within = (pca_within(norm, pillars) if nominal.weighting == "pca" else base.weights.within)[list(matrix.columns)]
        x, wv = norm.to_numpy(dtype=float), within.to_numpy(dtype=float)
        agg = aggregations[ai]
        ps = np.column_stack([aggregate_batch(x[:, positions[p]], wv[positions[p]][None, :], agg)[0] for p in pillars])
        rows = np.flatnonzero(inverse == k)
        # pillar weights of the nominal scheme, perturbed; within-pillar weights nominal
        scores[rows] = aggregate_batch(ps, w[rows], agg)
        for j, p in enumerate(pillars):
            pranks[p][rows] = _ranks(ps[:, j])
    ranks = _ranks(scores)
    n = design.n
    ab = slice(0, 2 * n)
    units = list(matrix.index)
    rank_table = _rank_summary(ranks[ab], units, base.rank)
    # sensitivity of (i) the vector of ranks, (ii) COINr's mean absolute rank shift from nominal
    shift = np.abs(ranks - base.rank.to_numpy()[None, :]).mean(axis=1)
    fA, fB = ranks[:n], ranks[n:2 * n]
    fAB = {f: ranks[(2 + i) * n:(3 + i) * n] for i, f in enumerate(cols)}
    s_rank = sensitivity_indices(fA, fB, fAB, bootstrap=bootstrap, seed=seed)
    s_rank.insert(0, "output", "ranks")
    s_shift = sensitivity_indices(shift[:n], shift[n:2 * n], {f: shift[(2 + i) * n:(3 + i) * n] for i, f in enumerate(cols)},
                                  bootstrap=bootstrap, seed=seed)
    s_shift.insert(0, "output", "mean_rank_shift")
    return RankUncertainty(
        ranks=pd.DataFrame(ranks[ab], columns=units),
        pillar_ranks={p: pd.DataFrame(v[ab], columns=units) for p, v in pranks.items()},
        rank_table=rank_table, sensitivity=pd.concat([s_rank, s_shift], ignore_index=True),
        choices={"imputation": list(imputations), "treatment": list(treatments), "normalisation": list(normalisations),
                 "aggregation": list(aggregations), "weight_spread": weight_spread},
        draws=draws, seed=seed)
