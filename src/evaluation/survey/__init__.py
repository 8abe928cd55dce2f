"""The resident survey: design-based estimates, weighting, calibration, replicates, regression, scales, small areas.

===================  ===========================================================================
``design``           :class:`SurveyData`: means, totals, proportions, ratios and quantiles, by any
                     columns or in a domain, with design effects and effective sample sizes, Taylor-
                     linearised through ``svy`` (checked against R ``survey``)
``calibration``      linear (GREG), raking and logit calibration to population totals, bounds and
                     trimming, registry margins of a dataset (R ``calibrate``)
``replicates``       JK1, JKn, BRR, Fay and bootstrap replicate weights with R's first-stage FPC, and
                     published replicate weights (R ``as.svrepdesign``, ``svrepdesign``)
``regression``       design-based linear and logistic regression (R ``svyglm``) and the
                     proportional-odds model for Likert items (R ``svyolr``)
``outcomes``         the survey of a dataset: waves, pooled waves, the outcome indicators, the truth
``weighting``        raking and post-stratification to population margins, with trimming
``scales``           codebooks, reverse coding, Cronbach's alpha, scale indices
``small_area``       Fay-Herriot estimates for communities with few respondents
===================  ===========================================================================
"""

from evaluation.survey.calibration import (
                                      CALFUNS,
                                      CalibrationResult,
                                      calibrate,
                                      calibrate_to_registry,
                                      registry_totals,
)
from evaluation.survey.design import (
                                      EXTRA_COLUMNS,
                                      MAX_CV,
                                      MIN_RESPONDENTS,
                                      SurveyData,
                                      SurveyDesign,
                                      SurveyEstimate,
                                      reliability_flags,
                                      wave_difference,
)
from evaluation.survey.outcomes import (
                                      OUTCOME_INDICATORS,
                                      community_covariates,
                                      compare_with_truth,
                                      district_label,
                                      pooled_waves,
                                      survey_indicators,
                                      survey_wave,
                                      truth_comparison,
                                      uses_calibration,
)
from evaluation.survey.regression import RegressionResult, svyglm, svyolr
from evaluation.survey.replicates import (
                                      REPLICATE_TYPES,
                                      ReplicateSurvey,
                                      as_replicate,
                                      from_replicate_weights,
)
from evaluation.survey.scales import Codebook, cronbach_alpha, reverse_code, scale_index, scale_report
from evaluation.survey.small_area import FayHerriotResult, fay_herriot
from evaluation.survey.weighting import WeightingResult, rake, rake_to_population

__all__ = [
    "CALFUNS", "CalibrationResult", "Codebook", "EXTRA_COLUMNS", "FayHerriotResult", "MAX_CV", "MIN_RESPONDENTS",
    "OUTCOME_INDICATORS", "REPLICATE_TYPES", "RegressionResult", "ReplicateSurvey", "SurveyData", "SurveyDesign",
    "SurveyEstimate", "WeightingResult", "as_replicate", "calibrate", "calibrate_to_registry", "community_covariates",
    "compare_with_truth", "cronbach_alpha", "district_label", "fay_herriot", "from_replicate_weights", "pooled_waves",
    "rake", "rake_to_population", "registry_totals", "reliability_flags", "reverse_code", "scale_index",
    "scale_report", "survey_indicators", "survey_wave", "uses_calibration", "svyglm", "svyolr", "truth_comparison", "wave_difference",
]
