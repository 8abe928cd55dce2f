"""The resident survey: design-based estimates, weighting, scales and small areas.

===================  ===========================================================================
``design``           :class:`SurveyData`: means, totals, proportions, ratios and quantiles with
                     Taylor-linearised SEs through ``svy`` (checked against R ``survey``)
``outcomes``         the survey of a dataset: waves, the outcome indicators, the planted truth
``weighting``        raking to population margins, with trimming
``scales``           codebooks, reverse coding, Cronbach's alpha, scale indices
``small_area``       Fay-Herriot estimates for communities with few respondents
===================  ===========================================================================
"""

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
                                      survey_indicators,
                                      survey_wave,
                                      truth_comparison,
)
from evaluation.survey.scales import Codebook, cronbach_alpha, reverse_code, scale_index, scale_report
from evaluation.survey.small_area import FayHerriotResult, fay_herriot
from evaluation.survey.weighting import WeightingResult, rake, rake_to_population

__all__ = [
    "Codebook", "EXTRA_COLUMNS", "FayHerriotResult", "MAX_CV", "MIN_RESPONDENTS", "OUTCOME_INDICATORS", "SurveyData",
    "SurveyDesign", "SurveyEstimate", "WeightingResult", "community_covariates", "compare_with_truth",
    "cronbach_alpha", "district_label", "fay_herriot", "rake", "rake_to_population", "reliability_flags",
    "reverse_code", "scale_index", "scale_report", "survey_indicators", "survey_wave", "truth_comparison",
    "wave_difference",
]
