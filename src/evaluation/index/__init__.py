"""The governance-effectiveness index, with rank intervals and sensitivity indices.

Built as the OECD/JRC *Handbook on Constructing Composite Indicators* (2008) and COINr build
composite indicators:

===================  ===========================================================================
``matrix``           framework and input: communities x indicators from the catalogue
``normalise``        missing data, imputation, outliers (COINr's rule), normalisation
``aggregation``      weights (equal, explicit, PCA) and aggregation (arithmetic, geometric, Copeland)
``compute``          one index computation of an :class:`IndexSpec`
``sensitivity``      Saltelli designs and Sobol/Jansen indices
``uncertainty``      rank intervals over the construction choices
``result``           :func:`governance_index`: the whole pipeline, as a results object
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
from evaluation.index.uncertainty import DEFAULT_DRAWS, RankUncertainty, rank_uncertainty

__all__ = [
    "DEFAULT_DRAWS", "GovernanceIndex", "INDEX_ID", "INDEX_PILLARS", "IndexScores", "IndexSpec", "IndicatorMatrix",
    "RankUncertainty", "community_indicator_matrix", "compute_index", "framework_of", "framework_table",
    "governance_index", "index_sheets", "label", "rank_uncertainty", "select_indicators",
]
