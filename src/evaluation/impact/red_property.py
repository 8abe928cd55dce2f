"""Did red property work? The staggered DiD of red-property adoption on a dataset's outcomes.

Request outcomes come from the compound x period panel of the dataset's request log
(:func:`evaluation.impact.panels.request_panel`, the same flagged log as the ``svc.*`` indicators);
survey items from the repeated cross-sections of the resident survey
(:func:`evaluation.impact.panels.survey_panel`). :func:`impact_design` builds either, with the
columns and words the estimators need, so that :func:`red_property_impact` and the robustness
panel (:mod:`evaluation.impact.robustness`) estimate on the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from evaluation.dataset.units import UnitTree
from evaluation.errors import MissingInputError, OptionError
from evaluation.impact import panels
from evaluation.impact.did import staggered_did
from evaluation.impact.options import DidLabels, DidOptions
from evaluation.impact.result import ImpactResult
from evaluation.periods import period_label
from evaluation.requests.log import dataset_log

_OUTCOME_WORDS = {
    "requests": "the number of requests",
    "resolution_rate": "the share of requests resolved",
    "mean_resolution_hours": "the mean resolution time (hours)",
    "median_resolution_hours": "the median resolution time (hours)",
    "satisfaction_rate": "the satisfaction rate",
}


@dataclass
class ImpactDesign:
    """The data of one policy-impact question: rows, the columns that matter, labels and notes.

    Attributes
    ----------
    data
        Compound x period panel (request outcomes) or respondent rows (survey items), with
        ``street_id`` when the dataset's unit tree gives it.
    outcome, unit, time, first_treated
        Column names for :func:`evaluation.impact.staggered_did`.
    group
        ``"compound_id"`` for the survey's repeated cross-sections (``None`` for the panel).
    labels
        Ids and words of the results.
    options
        The options the design needs (``panel=False`` and compound clusters for the survey).
    notes
        What was decided about the data, in plain words.
    """

    data: pd.DataFrame
    outcome: str
    unit: str
    time: str
    first_treated: str
    group: str | None
    labels: DidLabels
    options: DidOptions
    notes: list[str] = field(default_factory=list)


def impact_design(ds, outcome: str, *, options: DidOptions | None = None, period: str = "quarter",
                  followup_days: float = 90.0, fieldwork: str = "10-15", milestone: str = "red_property",
                  survey_weights: bool = False) -> ImpactDesign:
    """The panel (or survey rows) of ``outcome`` with adoption of ``milestone``; see :func:`red_property_impact`."""
    options = options or DidOptions()
    adoption = panels.adoption_dates(ds["compound_milestones"], milestone)
    ms = ds["compound_milestones"]
    notes = []
    if "ended" in ms.columns and ms.loc[ms["milestone"] == milestone, "ended"].notna().any():
        notes.append(f"{int(ms.loc[ms['milestone'] == milestone, 'ended'].notna().sum())} {milestone} arrangements "
                     "ended; adoption is treated as permanent (intention to treat)")
    district = UnitTree.from_tables(ds["units"]).district_label if "units" in ds else "all"
    labels = DidLabels(indicator_prefix=f"imp.{milestone}.{outcome}", unit_id=district,
                       policy_words=milestone.replace("_", " "), unit_word="compound",
                       outcome_words=_OUTCOME_WORDS.get(outcome, f"the mean of {outcome}"))
    comp = ds["compounds"] if "compounds" in ds else None
    covariates = list(options.covariates)
    if covariates:
        if comp is None:
            raise MissingInputError("covariates are columns of the compounds table, which the dataset lacks",
                                    table="compounds")
        absent = [c for c in covariates if c not in comp.columns]
        if absent:
            raise OptionError(f"covariate(s) {', '.join(absent)} are not columns of the compounds table")
    if outcome in panels.REQUEST_OUTCOMES:
        data = panels.request_panel(dataset_log(ds), adoption, period=period, followup_days=followup_days,
                                    compounds=comp)
        labels = labels.replace(period_label=lambda c: period_label(c, period), period_word=period)
        unit, time, group = "compound_id", "period", None
        if outcome in panels.CENSORING_SENSITIVE:
            notes.append(f"requests still open at the cut-off count as unresolved; periods ending less than "
                         f"{followup_days:g} days before the cut-off are left out for this outcome")
        notes.append(f"the adoption {period} mixes requests raised before and after the adoption date, so "
                     "the estimate at event time 0 understates the full effect")
        if outcome.endswith("resolution_hours"):
            notes.append("resolution hours are calendar hours from creation to resolution, averaged over the "
                         "compound-period's resolved requests")
    else:
        if "survey" not in ds or outcome not in ds["survey"].columns:
            choices = ", ".join(list(panels.REQUEST_OUTCOMES) + ["a survey item"])
            raise OptionError(f"unknown outcome {outcome!r}: choose one of {choices}")
        data = panels.survey_panel(ds["survey"], adoption, outcome, fieldwork=fieldwork)
        labels = labels.replace(period_word="wave")
        unit, time, group = "row_id", "wave", "compound_id"
        options = options.replace(panel=False, cluster=options.cluster or "compound_id",
                                  weights="weight" if survey_weights else None)
        notes.append(f"survey waves are repeated cross-sections; a compound counts as treated in a wave when it "
                     f"adopted by the fieldwork date ({fieldwork}); respondents are "
                     + ("weighted by their design weight" if survey_weights else "unweighted"))
    if covariates:
        data = data.merge(comp[["compound_id", *covariates]], on="compound_id", how="left")
    if "units" in ds and "community_id" in data.columns:
        parent = ds["units"].set_index(ds["units"]["unit_id"].astype(str))["parent_id"]
        data["street_id"] = data["community_id"].astype(str).map(parent)
    return ImpactDesign(data=data, outcome=outcome, unit=unit, time=time, first_treated="first_treated",
                        group=group, labels=labels, options=options, notes=notes)


def red_property_impact(ds, outcome: str, *, options: DidOptions | None = None, period: str = "quarter",
                        followup_days: float = 90.0, fieldwork: str = "10-15", milestone: str = "red_property",
                        survey_weights: bool = False, **option_changes) -> ImpactResult:
    """Effect of red-property adoption on a request outcome or a survey item of a dataset.

    Parameters
    ----------
    ds
        A :class:`evaluation.dataset.Dataset` (``load_dataset(path)``).
    outcome
        A request outcome (:data:`evaluation.impact.panels.REQUEST_OUTCOMES`: compound x ``period``
        panel) or a survey item (compound groups across waves, repeated cross-sections,
        standard errors clustered by compound through the multiplier bootstrap).
    options
        Estimator settings (:class:`~evaluation.impact.DidOptions`, R ``did``'s defaults: doubly
        robust, never-treated controls). ``covariates`` are time-invariant columns of ``compounds``
        (e.g. ``households``); categorical ones must be dummy-coded by the caller. ``cluster``:
        ``"community_id"`` clusters by community (multiplier bootstrap) instead of by compound.
    period
        ``"quarter"`` (default) or ``"month"`` for request outcomes.
    followup_days, fieldwork
        See :func:`evaluation.impact.panels.request_panel` and :func:`evaluation.impact.panels.survey_panel`.
    milestone
        The milestone of ``compound_milestones`` whose first date is the adoption date.
    survey_weights
        Weight survey respondents by the ``weight`` column (default: unweighted, since the
        compound groups, not the district population, are compared).
    **option_changes
        Shorthand for fields of ``options`` (``biters=99`` is ``options=DidOptions(biters=99)``).
    """
    options = (options or DidOptions()).replace(**option_changes) if option_changes else (options or DidOptions())
    design = impact_design(ds, outcome, options=options, period=period, followup_days=followup_days,
                           fieldwork=fieldwork, milestone=milestone, survey_weights=survey_weights)
    res = staggered_did(design.data, outcome, unit=design.unit, time=design.time, first_treated=design.first_treated,
                        options=design.options, labels=design.labels, group=design.group)
    res.params["level"] = "district"
    res.notes = [n for n in design.notes if "ended" in n] + res.notes + [n for n in design.notes if "ended" not in n]
    res.design = design
    return res
