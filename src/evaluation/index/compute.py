"""One index computation: normalise, weight and aggregate indicators -> pillars -> index.

Steps 4-6 of the OECD/JRC Handbook (2008) as one function of an :class:`IndexSpec` (imputation,
outlier treatment, normalisation, weighting, aggregation), so that the Monte Carlo of
:mod:`evaluation.index.uncertainty` can run it under thousands of other defensible choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from evaluation.errors import MissingInputError, OptionError
from evaluation.index.aggregation import (
    AGGREGATIONS,
    WEIGHTINGS,
    Weights,
    aggregate_batch,
    equal_weights,
    explicit_weights,
    pca_pillar,
    pca_within,
)
from evaluation.index.matrix import INDEX_ID, catalogue_attributes, framework_of
from evaluation.index.normalise import IMPUTATIONS, NORMALISATIONS, TREATMENTS, impute, normalise, treat_outliers
from evaluation.index.weights import AHPWeights, ahp_weights, entropy_weights


# ============================================================================= one index
@dataclass(frozen=True)
class IndexSpec:
    """One set of construction choices (the nominal one by default)."""

    imputation: str = "none"
    treatment: str = "winsorise"
    normalisation: str = "minmax"
    weighting: str = "equal"
    aggregation: str = "arithmetic"

    def __post_init__(self):
        for name, value, allowed in (("imputation", self.imputation, IMPUTATIONS),
                                     ("treatment", self.treatment, TREATMENTS),
                                     ("normalisation", self.normalisation, NORMALISATIONS),
                                     ("weighting", self.weighting, WEIGHTINGS),
                                     ("aggregation", self.aggregation, AGGREGATIONS)):
            if value not in allowed:
                raise OptionError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")


@dataclass
class IndexScores:
    """The index under one :class:`IndexSpec`: every intermediate table, for inspection."""

    spec: IndexSpec
    treated: pd.DataFrame
    treatment_report: pd.DataFrame
    normalised: pd.DataFrame
    pillar_scores: pd.DataFrame
    index: pd.Series
    rank: pd.Series
    weights: Weights
    pillars: dict[str, list[str]]
    ahp: AHPWeights | None = None

    def effective_weights(self) -> pd.DataFrame:
        """Nominal weight of each indicator and pillar in the index, beside its *effective* importance.

        ``nominal_weight``: within-pillar weight x pillar weight (pillars: the pillar weight).
        ``correlation``: Pearson correlation with the index over units; ``importance_share``: its
        square as a share of the sum over indicators (or pillars), the linear first-order
        importance of Paruolo, Saisana & Saltelli (2013) that COINr reports: nominal weights are not
        the influence a component actually has when components differ in spread and correlation.
        """
        pillar_of = {i: p for p, ids in self.pillars.items() for i in ids}
        overall = self.weights.overall(pillar_of)
        rows = []
        for kind, frame, nominal in (("indicator", self.normalised, overall),
                                     ("pillar", self.pillar_scores, self.weights.pillar)):
            r = frame.corrwith(self.index)
            share = r**2 / (r**2).sum()
            for c in frame.columns:
                rows.append({"level": kind, "id": c, "pillar": pillar_of.get(c, c), "nominal_weight": nominal[c],
                             "correlation": r[c], "importance_share": share[c]})
        return pd.DataFrame(rows)


def _pillar_level(normalised: pd.DataFrame, pillars, within: pd.Series, aggregation: str) -> pd.DataFrame:
    cols = {p: aggregate_batch(normalised[ids].to_numpy(dtype=float), within[ids].to_numpy()[None, :], aggregation)[0]
            for p, ids in pillars.items()}
    return pd.DataFrame(cols, index=normalised.index)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = best (highest score); ties share the mean rank; rows are runs."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    return rankdata(-s, axis=-1, method="average")


def compute_index(matrix: pd.DataFrame, spec: IndexSpec = IndexSpec(), *, groups: pd.Series | None = None,
                  weights_table: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                  year: int | None = None, pillars: Mapping[str, list[str]] | None = None,
                  attributes=None, pairwise: pd.DataFrame | None = None) -> IndexScores:
    """The index under one set of choices.

    Impute -> treat outliers -> normalise -> weight -> aggregate indicators into pillar scores ->
    aggregate pillar scores into the index.

    Parameters
    ----------
    matrix
        Units x indicators, raw values (catalogue ids as columns).
    spec
        The choices; ``weighting="explicit"`` needs ``weights_table`` (columns ``id, weight``),
        ``weighting="ahp"`` a ``pairwise`` comparison matrix of the pillars.
    groups
        Unit -> group, for group-mean imputation.
    targets
        A dataset's ``targets`` table (overrides catalogue targets for ``year``).
    pillars
        Pillar -> indicators; default from the catalogue.
    pairwise
        AHP pairwise-comparison matrix over the pillars (rows and columns labelled by pillar).

    Returns
    -------
    IndexScores
        Scores on the scale of the normalisation (0-100 for min-max, goalposts, distance to target
        and rank; mean 100, sd 10 for z-scores; wins minus losses for Copeland).
    """
    pillars = dict(pillars) if pillars is not None else framework_of(matrix.columns)
    directions, tgt, units = attributes or catalogue_attributes(list(matrix.columns), targets, year)
    imputed = impute(matrix, spec.imputation, groups)
    treated, report = treat_outliers(imputed, spec.treatment)
    normalised = normalise(treated, spec.normalisation, directions, tgt, units)
    if spec.weighting == "explicit":
        if weights_table is None:
            raise MissingInputError("explicit weighting needs a weights table (columns id, weight)")
        weights = explicit_weights(pillars, weights_table)
    elif spec.weighting == "pca":
        within = pca_within(normalised, pillars)
        ps = _pillar_level(normalised, pillars, within, spec.aggregation)
        weights = Weights(within, pca_pillar(ps), "pca")
    elif spec.weighting == "entropy":
        # entropy is computed on min-max normalised values whatever the normalisation (the 0-100 scale cancels)
        mm = normalise(treated, "minmax", directions, tgt, units)
        weights = entropy_weights(mm, pillars, _pillar_level(mm, pillars, equal_weights(pillars).within, "arithmetic"))
    elif spec.weighting == "ahp":
        if pairwise is None:
            raise MissingInputError("AHP weighting needs a pairwise-comparison matrix of the pillars")
        weights, ahp_result = ahp_weights(pillars, pairwise)
    else:
        weights = equal_weights(pillars)
    ps = _pillar_level(normalised, pillars, weights.within, spec.aggregation)
    index = aggregate_batch(ps.to_numpy(), weights.pillar[list(ps.columns)].to_numpy()[None, :], spec.aggregation)[0]
    index = pd.Series(index, index=matrix.index, name=INDEX_ID)
    rank = pd.Series(_ranks(index.to_numpy()), index=matrix.index, name="rank")
    return IndexScores(spec, treated, report, normalised, ps, index, rank, weights, pillars,
                       ahp_result if spec.weighting == "ahp" else None)
