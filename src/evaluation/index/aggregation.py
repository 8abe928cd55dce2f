"""Weighting, aggregation and the statistical coherence of pillars (OECD/JRC Handbook, steps 4, 6, 7).

All functions work on normalised matrices (units x indicators, higher is better, scales as in
:mod:`evaluation.index.normalise`). Missing values are skipped: a unit's score is the aggregate of
the values it has, with the weights re-normalised over them (COINr's ``na.rm = TRUE``).

Aggregation (Handbook section 6; COINr ``a_amean``, ``a_gmean``, ``a_copeland``)
--------------------------------------------------------------------------------
* ``arithmetic``: ``sum(w x) / sum(w)``. Fully compensatory: a deficit in one indicator is
  offset by a surplus in another at the rate of the weights.
* ``geometric``: ``exp(sum(w log x) / sum(w))``, partly compensatory (rewards balanced
  profiles). The log needs positive values: values below 1 (on the 0-100 scales) are set to 1
  first, so that one zero does not wipe out a unit's score.
* ``copeland``: non-compensatory multi-criteria ranking (Handbook section 6.1.3; Munda & Nardo
  2009). For each pair of units the weighted share of indicators on which ``a`` beats ``b``
  (ties count half, over the indicators both have) gives ``e_ab``; ``a`` wins the pair when
  ``e_ab > 1/2``; the Copeland score is wins minus losses (from ``-(n-1)`` to ``n-1``). Only the
  order of values within an indicator matters, so the score does not depend on the normalisation.

Weighting (Handbook section 6.1)
--------------------------------
* ``equal``: equal weights within each pillar and equal pillar weights.
* ``explicit``: weights from a table (``id, weight``; an id is an indicator or a pillar).
* ``pca``: within each pillar, weights proportional to the squared loadings of the first
  principal component of the indicators' correlation matrix (Nicoletti, Scarpetta & Boylaud
  2000, as in the Handbook's worked example, simplified to one component per pillar); pillar
  weights likewise from the pillar scores. Squared loadings of the first component sum to 1.
* ``entropy`` and ``ahp``: the entropy weights and the AHP pillar weights of
  :mod:`evaluation.index.weights`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.survey.scales import cronbach_alpha

AGGREGATIONS = ("arithmetic", "geometric", "copeland")
WEIGHTINGS = ("equal", "explicit", "pca", "entropy", "ahp")
#: values below this floor are raised to it before the geometric mean (0-100 scales)
GEOMETRIC_FLOOR = 1.0
_TIE = 1e-12


def aggregate_batch(values: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """Aggregate ``values`` (units x columns) under each row of ``weights`` (runs x columns).

    Returns a runs x units array. NaN values are skipped with weights re-normalised; a unit with
    no value at all gets NaN.
    """
    if method not in AGGREGATIONS:
        raise OptionError(f"unknown aggregation {method!r}; use one of {', '.join(AGGREGATIONS)}")
    x = np.asarray(values, dtype=float)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    have = ~np.isnan(x)
    den = have.astype(float) @ w.T  # units x runs
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "arithmetic":
            out = (np.where(have, x, 0.0) @ w.T) / den
        elif method == "geometric":
            logs = np.log(np.maximum(np.where(have, x, GEOMETRIC_FLOOR), GEOMETRIC_FLOOR))
            out = np.exp((logs @ w.T) / den)
        else:
            both = have[:, None, :] & have[None, :, :]  # a x b x column
            diff = x[:, None, :] - x[None, :, :]
            beats = np.where(both, (diff > _TIE) + 0.5 * (np.abs(diff) <= _TIE), 0.0)
            e = (beats @ w.T) / (both.astype(float) @ w.T)  # a x b x runs
            score = np.nansum(np.sign(np.where(np.abs(e - 0.5) <= _TIE, 0.0, e - 0.5)), axis=1)
            out = np.where(have.any(axis=1)[:, None], score, np.nan)
    out = np.where(den > 0, out, np.nan)
    return out.T


def aggregate(values: pd.DataFrame, weights: pd.Series | Mapping[str, float], method: str = "arithmetic") -> pd.Series:
    """Aggregate the columns of ``values`` with ``weights`` (by column name) into one score per unit."""
    w = pd.Series(weights, dtype="float64").reindex(values.columns)
    if w.isna().any():
        raise DataError(f"no weight for column(s) {', '.join(map(str, w.index[w.isna()]))}")
    return pd.Series(aggregate_batch(values.to_numpy(dtype=float), w.to_numpy()[None, :], method)[0],
                     index=values.index)


# ----------------------------------------------------------------------------- weights
@dataclass
class Weights:
    """Nominal weights: ``within`` (indicator, sums to 1 in each pillar) and ``pillar`` (sums to 1)."""

    within: pd.Series
    pillar: pd.Series
    scheme: str = "equal"

    def overall(self, pillar_of: Mapping[str, str]) -> pd.Series:
        """Weight of each indicator in the index: within-pillar weight x pillar weight."""
        return pd.Series({i: w * self.pillar[pillar_of[i]] for i, w in self.within.items()}, name="weight")


def _normalised(s: pd.Series) -> pd.Series:
    total = s.sum()
    return s / total if total > 0 else pd.Series(1.0 / len(s), index=s.index)


def equal_weights(pillars: Mapping[str, list[str]]) -> Weights:
    """Equal weights within each pillar and across pillars."""
    within = pd.Series({i: 1.0 / len(ids) for ids in pillars.values() for i in ids}, dtype="float64")
    return Weights(within, pd.Series({p: 1.0 / len(pillars) for p in pillars}, dtype="float64"), "equal")


def explicit_weights(pillars: Mapping[str, list[str]], table: pd.DataFrame, where: str = "weights table") -> Weights:
    """Weights from a table with columns ``id`` and ``weight`` (indicator ids and/or pillar names).

    Ids not in the table keep equal weights; weights are re-normalised within each pillar and
    across pillars. A negative weight or an unknown id is an error naming the row.
    """
    missing = {"id", "weight"} - set(table.columns)
    if missing:
        raise MissingInputError(f"{where}: missing column(s) {', '.join(sorted(missing))} (expected id, weight)")
    base = equal_weights(pillars)
    within, pillar = base.within.copy(), base.pillar.copy()
    indicators = set(within.index)
    for row, (iid, w) in enumerate(zip(table["id"].astype(str), pd.to_numeric(table["weight"], errors="coerce")), 2):
        if not np.isfinite(w) or w < 0:
            raise DataError(f"{where} row {row}: weight of {iid!r} must be a non-negative number")
        if iid in indicators:
            within[iid] = w
        elif iid in pillar.index:
            pillar[iid] = w
        else:
            raise DataError(f"{where} row {row}: {iid!r} is neither an indicator of the index nor a pillar")
    given = set(table["id"].astype(str))
    for ids in pillars.values():
        if any(i in given for i in ids):
            # indicators of a pillar not listed keep the pillar's equal share before re-normalising
            within[ids] = _normalised(within[ids])
    return Weights(within, _normalised(pillar), "explicit")


def first_component(values: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Loadings and variance share of the first principal component of the correlation matrix of ``values``.

    Loadings have unit length, signed so that they sum positive; missing values are replaced by
    column means.
    """
    x = values.to_numpy(dtype=float)
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    k = x.shape[1]
    if k == 1:
        return np.ones(1), 1.0
    sd = x.std(axis=0, ddof=1)
    ok = sd > 0
    z = np.zeros_like(x)
    z[:, ok] = (x[:, ok] - x[:, ok].mean(axis=0)) / sd[ok]
    corr = np.corrcoef(z, rowvar=False) if ok.all() else np.cov(z, rowvar=False, ddof=1)
    vals, vecs = np.linalg.eigh(corr)
    load = vecs[:, -1]
    load = load if load.sum() >= 0 else -load
    return load, float(vals[-1] / np.trace(corr)) if np.trace(corr) > 0 else float("nan")


def pca_within(normalised: pd.DataFrame, pillars: Mapping[str, list[str]]) -> pd.Series:
    """Within-pillar weights: squared first-component loadings of each pillar's indicators."""
    out = {}
    for ids in pillars.values():
        load, _ = first_component(normalised[ids])
        out.update(dict(zip(ids, load**2 / np.sum(load**2))))
    return pd.Series(out, dtype="float64")


def pca_pillar(pillar_scores: pd.DataFrame) -> pd.Series:
    """Pillar weights: squared first-component loadings of the pillar scores."""
    load, _ = first_component(pillar_scores)
    return pd.Series(load**2 / np.sum(load**2), index=pillar_scores.columns, dtype="float64")


# ----------------------------------------------------------------------------- coherence


def pillar_statistics(normalised: pd.DataFrame, pillars: Mapping[str, list[str]]) -> pd.DataFrame:
    """Per pillar: indicators, Cronbach's alpha, first-component share and mean correlation.

    Cronbach's alpha is on standardised indicators (complete units); the first principal
    component's share of variance and the mean correlation are between the pillar's indicators.

    Rules of thumb (Handbook; Nunnally 1978): alpha above about 0.7 and a first component that
    carries most of the variance suggest the indicators measure one thing; a low alpha is not an
    error for a pillar meant to combine distinct aspects, but it warns that the pillar score hides
    trade-offs.
    """
    rows = []
    for p, ids in pillars.items():
        v = normalised[ids]
        z = (v - v.mean()) / v.std(ddof=1).replace(0, np.nan)
        corr = v.corr().to_numpy()
        off = corr[~np.eye(len(ids), dtype=bool)]
        _, share = first_component(v)
        rows.append({"pillar": p, "n_indicators": len(ids), "units_complete": int(v.notna().all(axis=1).sum()),
                     "cronbach_alpha": cronbach_alpha(z.dropna(axis=1, how="all")) if len(ids) > 1 else np.nan,
                     "first_component_share": share if len(ids) > 1 else np.nan,
                     "mean_correlation": float(np.nanmean(off)) if len(off) else np.nan})
    return pd.DataFrame(rows)
