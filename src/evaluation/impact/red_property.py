"""Did red property work? The staggered DiD of red-property adoption on a dataset's outcomes.

Request outcomes come from the compound x period panel of the dataset's request log
(:func:`evaluation.impact.panels.request_panel`, the same flagged log as the ``svc.*`` indicators);
survey items from the repeated cross-sections of the resident survey
(:func:`evaluation.impact.panels.survey_panel`).
"""

from __future__ import annotations

from evaluation.dataset.units import UnitTree
from evaluation.errors import OptionError
from evaluation.impact import panels
from evaluation.impact.did import DEFAULT_SEED, ImpactResult, staggered_did
from evaluation.periods import period_label
from evaluation.requests.log import dataset_log

_OUTCOME_WORDS = {
    "requests": "the number of requests",
    "resolution_rate": "the share of requests resolved",
    "mean_resolution_hours": "the mean resolution time (hours)",
    "median_resolution_hours": "the median resolution time (hours)",
    "satisfaction_rate": "the satisfaction rate",
}


def red_property_impact(
    ds,
    outcome: str,
    *,
    period: str = "quarter",
    est_method: str = "reg",
    control_group: str = "nevertreated",
    covariates: list[str] | None = None,
    cluster: str | None = None,
    followup_days: float = 90.0,
    fieldwork: str = "10-15",
    biters: int = 999,
    seed: int = DEFAULT_SEED,
    milestone: str = "red_property",
    anticipation: int = 0,
    survey_weights: bool = False,
) -> ImpactResult:
    """Effect of red-property adoption on a request outcome or a survey item of a dataset.

    Parameters
    ----------
    ds
        A :class:`evaluation.dataset.Dataset` (``load_dataset(path)``).
    outcome
        A request outcome (:data:`evaluation.panels.REQUEST_OUTCOMES`: compound x ``period``
        panel) or a survey item (compound groups across waves, repeated cross-sections,
        standard errors clustered by compound through the multiplier bootstrap).
    period
        ``"quarter"`` (default) or ``"month"`` for request outcomes.
    covariates
        Time-invariant compound covariates (columns of ``compounds``, e.g. ``households``) for
        conditional parallel trends; categorical ones must be dummy-coded by the caller.
    cluster
        ``"community_id"`` to cluster by community (multiplier bootstrap) instead of by compound.
    followup_days, fieldwork
        See :func:`evaluation.panels.request_panel` and :func:`evaluation.panels.survey_panel`.
    anticipation
        Periods before adoption in which the outcome may already react (the base period moves
        back by that many periods).
    survey_weights
        Weight survey respondents by the ``weight`` column (default: unweighted, since the
        compound groups, not the district population, are compared).
    """
    adoption = panels.adoption_dates(ds["compound_milestones"], milestone)
    ms = ds["compound_milestones"]
    notes = []
    if "ended" in ms.columns and ms.loc[ms["milestone"] == milestone, "ended"].notna().any():
        notes.append(f"{int(ms.loc[ms['milestone'] == milestone, 'ended'].notna().sum())} {milestone} arrangements "
                     "ended; adoption is treated as permanent (intention to treat)")
    district = UnitTree.from_tables(ds["units"]).district_label if "units" in ds else "all"
    words = {"policy_words": milestone.replace("_", " "), "unit_word": "compound",
             "outcome_words": _OUTCOME_WORDS.get(outcome, f"the mean of {outcome}")}
    prefix = f"imp.{milestone}.{outcome}"
    comp = ds["compounds"] if "compounds" in ds else None
    if outcome in panels.REQUEST_OUTCOMES:
        panel = panels.request_panel(dataset_log(ds), adoption, period=period, followup_days=followup_days,
                                     compounds=comp)
        if covariates:
            panel = panel.merge(comp[["compound_id", *covariates]], on="compound_id", how="left")
        res = staggered_did(panel, outcome, unit="compound_id", time="period", first_treated="first_treated",
                            est_method=est_method, control_group=control_group, covariates=covariates,
                            cluster=cluster, biters=biters, seed=seed, label=lambda c: period_label(c, period),
                            anticipation=anticipation,
                            indicator_prefix=prefix, unit_id=district, words={**words, "period_word": period})
        if outcome in panels.CENSORING_SENSITIVE:
            res.notes.append(f"requests still open at the cut-off count as unresolved; periods ending less than "
                             f"{followup_days:g} days before the cut-off are left out for this outcome")
        res.notes.append(f"the adoption {period} mixes requests raised before and after the adoption date, so "
                         "the estimate at event time 0 understates the full effect")
        if outcome.endswith("resolution_hours"):
            res.notes.append("resolution hours are calendar hours from creation to resolution, averaged over the "
                             "compound-period's resolved requests")
    else:
        if "survey" not in ds or outcome not in ds["survey"].columns:
            choices = ", ".join(list(panels.REQUEST_OUTCOMES) + ["a survey item"])
            raise OptionError(f"unknown outcome {outcome!r}: choose one of {choices}")
        sv = panels.survey_panel(ds["survey"], adoption, outcome, fieldwork=fieldwork)
        if covariates:
            sv = sv.merge(comp[["compound_id", *covariates]], on="compound_id", how="left")
        res = staggered_did(sv, outcome, unit="row_id", time="wave", first_treated="first_treated", panel=False,
                            est_method=est_method, control_group=control_group, covariates=covariates,
                            cluster=cluster or "compound_id", biters=biters, seed=seed, label=str,
                            anticipation=anticipation, weights="weight" if survey_weights else None,
                            indicator_prefix=prefix, unit_id=district, words={**words, "period_word": "wave"},
                            twfe_unit="compound_id")
        res.notes.append(f"survey waves are repeated cross-sections; a compound counts as treated in a wave when it "
                         f"adopted by the fieldwork date ({fieldwork}); respondents are "
                         + ("weighted by their design weight" if survey_weights else "unweighted"))
    res.params["level"] = "district"
    res.notes = notes + res.notes
    return res
