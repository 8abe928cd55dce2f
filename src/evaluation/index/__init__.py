"""The governance-effectiveness index, with rank intervals and sensitivity indices.

Built as the OECD/JRC *Handbook on Constructing Composite Indicators* (2008) and COINr build
composite indicators:

===================  ===========================================================================
``matrix``           framework and input: communities x indicators from the catalogue
``normalise``        missing data, imputation, outliers (COINr's rule), normalisation
``aggregation``      weights (equal, explicit, PCA) and aggregation (arithmetic, geometric, Copeland)
``weights``          entropy (熵权法) and AHP weights, with the AHP consistency ratio
``compute``          one index computation of an :class:`IndexSpec`
``sensitivity``      Saltelli designs and Sobol/Jansen indices
``uncertainty``      rank intervals over the construction choices and the data error
``result``           :func:`governance_index`: the whole pipeline, as a results object
``years``            :func:`governance_index_years`: several years, rank changes and their intervals
``validation``       :func:`index_validation`: the index against a held-out outcome
===================  ===========================================================================
"""

from evaluation.index.compute import IndexScores, IndexSpec, compute_index
from evaluation.index.matrix import (
                                     INDEX_ID,
                                     INDEX_PILLARS,
                                     IndicatorMatrix,
                                     community_indicator_matrix,
                                     framework_of,
                                     framework_table,
                                     label,
                                     select_indicators,
)
from evaluation.index.result import GovernanceIndex, governance_index, index_sheets
from evaluation.index.uncertainty import DEFAULT_DRAWS, RankUncertainty, rank_uncertainty, uncertainty_sources
from evaluation.index.validation import IndexValidation, index_validation
from evaluation.index.weights import AHPWeights, ahp, ahp_weights, entropy_weights
from evaluation.index.years import MultiYearIndex, governance_index_years

__all__ = [
    "AHPWeights", "DEFAULT_DRAWS", "GovernanceIndex", "INDEX_ID", "INDEX_PILLARS", "IndexScores", "IndexSpec",
    "IndexValidation", "IndicatorMatrix", "MultiYearIndex", "RankUncertainty", "ahp", "ahp_weights",
    "community_indicator_matrix", "compute_index", "entropy_weights", "framework_of", "framework_table",
    "governance_index", "governance_index_years", "index_sheets", "index_validation", "label", "rank_uncertainty",
    "select_indicators", "uncertainty_sources",
]
