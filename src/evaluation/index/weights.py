"""Entropy (熵权法) and AHP weights, the two schemes Chinese indicator systems use most.

* **Entropy weights** (Shannon 1948, as used for indicator systems since Zeleny 1982): an
  indicator whose normalised values are spread unevenly over units carries more information and
  gets more weight. With ``x_ij >= 0`` the normalised value of unit ``i`` on indicator ``j``,
  ``p_ij = x_ij / sum_i x_ij``, the entropy ``e_j = -sum_i p_ij ln p_ij / ln n`` (``0 ln 0 = 0``)
  lies in ``[0, 1]``, the divergence is ``d_j = 1 - e_j`` and ``w_j = d_j / sum_j d_j``. Computed
  on min-max normalised values (0-100; the scale cancels), over the units that have a value.
  Within each pillar on its indicators, and across pillars on the pillar scores.
* **AHP weights** (Saaty 1980, *The Analytic Hierarchy Process*): from a reciprocal
  pairwise-comparison matrix ``A`` (``a_ij`` = how much more important ``i`` is than ``j`` on
  Saaty's 1-9 scale, ``a_ji = 1 / a_ij``), the weights are the principal right eigenvector,
  normalised to sum to 1; the consistency index ``CI = (lambda_max - n) / (n - 1)`` and the
  consistency ratio ``CR = CI / RI(n)`` with Saaty's random index ``RI``; ``CR < 0.10`` is the
  conventional threshold for a usable matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import DataError
from evaluation.index.aggregation import Weights, equal_weights

#: Saaty's random consistency index by matrix size (Saaty 1980, table 1.3; n = 1..15)
RANDOM_INDEX = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59)
CR_THRESHOLD = 0.10


def entropy_weight(values: pd.DataFrame) -> pd.Series:
    """Entropy weights of the columns of ``values`` (non-negative, e.g. min-max normalised)."""
    x = values.to_numpy(dtype=float)
    if np.nanmin(x) < 0:
        raise DataError("entropy weights need non-negative (normalised) values")
    d = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        col = x[~np.isnan(x[:, j]), j]
        n = len(col)
        if n < 2 or col.sum() == 0:
            continue
        p = col / col.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            e = -np.nansum(np.where(p > 0, p * np.log(p), 0.0)) / np.log(n)
        d[j] = 1.0 - e
    if d.sum() <= 0:
        return pd.Series(1.0 / x.shape[1], index=values.columns)
    return pd.Series(d / d.sum(), index=values.columns)


def entropy_weights(normalised: pd.DataFrame, pillars: Mapping[str, list[str]], pillar_scores: pd.DataFrame) -> Weights:
    """Entropy weights within each pillar (its indicators) and across pillars (the pillar scores)."""
    within = pd.concat([entropy_weight(normalised[ids]) for ids in pillars.values()])
    return Weights(within, entropy_weight(pillar_scores[list(pillars)]), "entropy")


@dataclass
class AHPWeights:
    """Weights of a pairwise-comparison matrix, with its consistency.

    Attributes
    ----------
    weights
        Principal eigenvector, sums to 1.
    lambda_max
        Principal eigenvalue (``n`` for a perfectly consistent matrix).
    ci, cr
        Consistency index and ratio (``cr`` NaN for ``n <= 2``, where every matrix is consistent).
    consistent
        ``cr < 0.10`` (or ``n <= 2``).
    """

    weights: pd.Series
    lambda_max: float
    ci: float
    cr: float
    consistent: bool


def ahp(pairwise: pd.DataFrame) -> AHPWeights:
    """AHP weights and consistency ratio of a reciprocal pairwise-comparison matrix (module docstring)."""
    a = pairwise.to_numpy(dtype=float)
    n = a.shape[0]
    if a.shape != (n, n) or list(pairwise.index) != list(pairwise.columns):
        raise DataError("the pairwise-comparison matrix must be square with the same labels on rows and columns")
    if not np.all(a > 0) or not np.allclose(a * a.T, 1.0, rtol=1e-6):
        raise DataError("the pairwise-comparison matrix must be positive and reciprocal (a_ji = 1 / a_ij)")
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    w = np.abs(vecs[:, k].real)
    w = w / w.sum()
    lam = float(vals[k].real)
    ci = (lam - n) / (n - 1) if n > 1 else 0.0
    ri = RANDOM_INDEX[n - 1] if n <= len(RANDOM_INDEX) else RANDOM_INDEX[-1]
    cr = ci / ri if ri > 0 else float("nan")
    return AHPWeights(pd.Series(w, index=pairwise.index), lam, ci, cr, bool(n <= 2 or cr < CR_THRESHOLD))


def ahp_weights(pillars: Mapping[str, list[str]], pairwise: pd.DataFrame) -> tuple[Weights, AHPWeights]:
    """Pillar weights from an AHP matrix over the pillars; equal weights within each pillar."""
    unknown = set(pairwise.index) ^ set(pillars)
    if unknown:
        raise DataError(f"the AHP matrix must compare exactly the pillars {', '.join(pillars)}; "
                        f"it differs in {', '.join(sorted(map(str, unknown)))}")
    res = ahp(pairwise.loc[list(pillars), list(pillars)])
    return Weights(equal_weights(pillars).within, res.weights, "ahp"), res
