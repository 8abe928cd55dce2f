"""Variance-based sensitivity analysis: Saltelli's design, first-order and total indices.

For a model ``Y = f(X_1, ..., X_k)`` of independent input factors, the first-order index
``S_i = V[E(Y | X_i)] / V(Y)`` is the share of the output variance that factor ``i`` explains
alone, and the total index ``S_Ti = E[V(Y | X_~i)] / V(Y)`` the share it is involved in,
interactions included (Saltelli et al. 2008, *Global Sensitivity Analysis: The Primer*).

Design (Saltelli 2002; Saltelli et al. 2010, *Comput. Phys. Commun.* 181, 259-270): two
independent ``N x D`` matrices ``A`` and ``B`` of uniform draws on ``[0, 1)``, and for each factor
``i`` the matrix ``AB_i``, which is ``A`` with the columns of factor ``i`` taken from ``B``; the
model runs ``N (k + 2)`` times. A factor may span several columns (a *group*, e.g. all pillar
weights together), and then its indices are the group's. Discrete choices are factors too: a
uniform draw picks one of ``m`` options with equal probability (:func:`choose`).

Estimators (Saltelli et al. 2010, table 2):

* first order, Saltelli (2010): ``S_i = mean(f(B) (f(AB_i) - f(A))) / V``
* total, Jansen (1999): ``S_Ti = mean((f(A) - f(AB_i))^2) / (2 V)``

with ``V`` the variance of ``f(A)`` and ``f(B)`` pooled. For a vector output (e.g. the rank of
every community) the indices are given per output and, aggregated, as the *generalised* indices
of Gamboa, Janon, Klein & Lagnoux (2014): numerators and variances summed over outputs, i.e. the
share of the total variance of all ranks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import OptionError


@dataclass
class SaltelliDesign:
    """The sample matrices of a Saltelli design.

    Attributes
    ----------
    A, B
        ``N x D`` uniform draws.
    factors
        Factor name -> the columns (of ``D``) it spans.
    """

    A: np.ndarray
    B: np.ndarray
    factors: dict[str, list[int]]

    @property
    def n(self) -> int:
        """The base sample size ``N``."""
        return self.A.shape[0]

    def AB(self, factor: str) -> np.ndarray:
        """``A`` with the columns of ``factor`` taken from ``B``."""
        m = self.A.copy()
        cols = self.factors[factor]
        m[:, cols] = self.B[:, cols]
        return m

    def stacked(self) -> tuple[np.ndarray, list[str]]:
        """All ``N (k + 2)`` rows to run: ``A``, ``B``, then ``AB_i`` in factor order, with a label per block."""
        blocks = [self.A, self.B] + [self.AB(f) for f in self.factors]
        return np.vstack(blocks), ["A", "B"] + list(self.factors)


def saltelli_design(n: int, factors: Mapping[str, int], seed: int | np.random.Generator | None = 0) -> SaltelliDesign:
    """Draw a Saltelli design with ``n`` base rows; ``factors`` maps name -> number of columns."""
    if n < 2:
        raise OptionError(f"a Saltelli design needs at least 2 base draws, got {n}")
    rng = np.random.default_rng(seed)
    cols, start = {}, 0
    for name, width in factors.items():
        cols[name] = list(range(start, start + int(width)))
        start += int(width)
    return SaltelliDesign(A=rng.random((n, start)), B=rng.random((n, start)), factors=cols)


def choose(u: np.ndarray, options: Sequence) -> np.ndarray:
    """Map uniform draws on ``[0, 1)`` to indices of ``options``, each with probability ``1/m``."""
    m = len(options)
    return np.minimum((np.asarray(u) * m).astype(int), m - 1)


def _estimate(fA: np.ndarray, fB: np.ndarray, fAB: Sequence[np.ndarray]):
    """Numerators and pooled variance, per output column."""
    var = np.var(np.vstack([fA, fB]), axis=0, ddof=0)
    first = np.array([np.mean(fB * (f - fA), axis=0) for f in fAB])
    total = np.array([0.5 * np.mean((fA - f) ** 2, axis=0) for f in fAB])
    return first, total, var


def sensitivity_indices(fA, fB, fAB: Mapping[str, np.ndarray] | Sequence[np.ndarray], names: Sequence[str] | None = None,
                        bootstrap: int = 0, seed: int | None = 0, level: float = 0.90) -> pd.DataFrame:
    """First-order (Saltelli 2010) and total (Jansen 1999) sensitivity indices.

    Parameters
    ----------
    fA, fB
        Model outputs on ``A`` and ``B``: shape ``(N,)`` or ``(N, m)`` for ``m`` outputs.
    fAB
        Outputs on ``AB_i``, per factor (a mapping name -> array, or a sequence with ``names``).
    bootstrap
        Number of bootstrap resamples of the ``N`` base rows for percentile intervals (0: none).

    Returns
    -------
    DataFrame
        One row per factor: ``first_order``, ``total`` (for vector outputs: the generalised
        indices, variance-weighted over outputs) and, with ``bootstrap``, ``first_order_low/high``
        and ``total_low/high`` at ``level``.
    """
    if isinstance(fAB, Mapping):
        names, fAB = list(fAB), list(fAB.values())
    names = list(names) if names is not None else [f"X{i + 1}" for i in range(len(fAB))]
    fA = np.asarray(fA, dtype=float)
    fB = np.asarray(fB, dtype=float)
    fAB = [np.asarray(f, dtype=float) for f in fAB]
    if fA.ndim == 1:
        fA, fB, fAB = fA[:, None], fB[:, None], [f[:, None] for f in fAB]

    def point(idx):
        a, b, ab = fA[idx], fB[idx], [f[idx] for f in fAB]
        first, total, var = _estimate(a, b, ab)
        vsum = var.sum()
        if vsum == 0:
            return np.zeros(len(ab)), np.zeros(len(ab))
        return first.sum(axis=1) / vsum, total.sum(axis=1) / vsum

    n = fA.shape[0]
    s1, st = point(np.arange(n))
    out = pd.DataFrame({"factor": names, "first_order": s1, "total": st})
    if bootstrap:
        rng = np.random.default_rng(seed)
        draws = [point(rng.integers(0, n, n)) for _ in range(bootstrap)]
        b1 = np.array([d[0] for d in draws])
        bt = np.array([d[1] for d in draws])
        lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
        out["first_order_low"], out["first_order_high"] = np.percentile(b1, lo, axis=0), np.percentile(b1, hi, axis=0)
        out["total_low"], out["total_high"] = np.percentile(bt, lo, axis=0), np.percentile(bt, hi, axis=0)
    return out


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """The Ishigami function on ``[-pi, pi]^3`` (Ishigami & Homma 1990), a standard test case.

    ``x`` holds uniform draws on ``[0, 1)`` in its 3 columns, rescaled here. Analytical indices
    for ``a = 7, b = 0.1``: S = (0.3139, 0.4424, 0), S_T = (0.5576, 0.4424, 0.2437).
    """
    z = -np.pi + 2 * np.pi * np.asarray(x)
    return np.sin(z[:, 0]) + a * np.sin(z[:, 1]) ** 2 + b * z[:, 2] ** 4 * np.sin(z[:, 0])
