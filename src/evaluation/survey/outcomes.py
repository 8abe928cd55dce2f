"""The resident survey of a dataset: its waves, its outcome indicators, and the planted truth.

:func:`survey_wave` turns the ``survey`` table of one wave into a design
(:class:`~evaluation.survey.design.SurveyData`) with the satisfaction index; :func:`survey_indicators`
gives the outcome indicators (:data:`OUTCOME_INDICATORS`) at any level. On synthetic data the
finite-population truth is known, and :func:`compare_with_truth` and :func:`truth_comparison` set the
estimates beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from evaluation.dataset.units import UnitTree
from evaluation.errors import MissingInputError, OptionError
from evaluation.survey.design import SurveyData, SurveyDesign, SurveyEstimate
from evaluation.survey.scales import Codebook, scale_index

#: Survey outcome indicators: id -> (statistic, item or construct). ``out.resident_satisfaction``
#: is the design-based mean of the satisfaction index (mean of the reverse-coded items of the
#: codebook construct ``satisfaction``, 1-5 scale); the share top-two-box of ``sat_overall`` is
#: available as ``SurveyData.proportion`` on :func:`evaluation.scales.top_two_box`.
OUTCOME_INDICATORS = {
    "out.resident_satisfaction": ("index", "satisfaction"),
    "out.trust_party_org": ("mean", "trust_party_org"),
    "out.perceived_improvement": ("mean", "perceived_improvement"),
}

LEVEL_COLUMNS = {"district": None, "street": "stratum", "community": "community_id", "compound": "compound_id"}


def survey_wave(ds, wave: int, *, with_index: bool = True, calibrate: bool = False) -> SurveyData:
    """The survey of one wave of a dataset (``load_dataset``), with its design and the satisfaction index.

    Adds ``satisfaction_index`` (see :data:`OUTCOME_INDICATORS`), ``compound_type`` (from
    ``compounds``), ``red_property`` (1 where the respondent's compound had adopted red property
    by the fieldwork date, from ``compound_milestones``) and ``adults_in_household`` (see
    :func:`adults_in_household`) as columns where their tables are there. The respondent id is a
    design column only (second-stage unit) and never reaches an output.

    With ``calibrate=True`` the weights are calibrated to the registry (adults by street x sex x
    age group, and households by street where the household sizes are known;
    :func:`~evaluation.survey.calibration.calibrate_to_registry`) where the dataset has the
    ``population`` table with rows of the wave, and the design weights are kept otherwise
    (``SurveyData.adjustment`` says which).
    """
    tables = ds.tables if hasattr(ds, "tables") else ds
    if "survey" not in tables:
        raise MissingInputError("the dataset has no survey table")
    s = tables["survey"]
    s = s[pd.to_numeric(s["wave"]) == int(wave)]
    if s.empty:
        waves = sorted(pd.to_numeric(tables["survey"]["wave"]).dropna().unique().tolist())
        raise MissingInputError(f"table survey: no respondents in wave {wave}; waves present: {waves}")
    s = s.copy()
    if with_index and "survey_codebook" in tables:
        s["satisfaction_index"] = scale_index(s, Codebook(tables["survey_codebook"]), "satisfaction")
    if "compounds" in tables and "compound_id" in s:
        ctype = tables["compounds"].set_index("compound_id")["compound_type"]
        s["compound_type"] = s["compound_id"].map(ctype)
    if "compound_milestones" in tables and "compound_id" in s:
        s["red_property"] = s["compound_id"].isin(red_property_compounds(tables, wave)).astype("float64")
    has_two_stages = "fpc2" in s and s["fpc2"].notna().all()
    design = SurveyDesign.zhangwan() if has_two_stages else SurveyDesign()
    if has_two_stages and "adults_in_household" not in s:
        adults = adults_in_household(s, design)
        if adults is not None:
            s["adults_in_household"] = adults
    sd = SurveyData(s.reset_index(drop=True), design, period=str(wave))
    has_margins = "population" in tables and "units" in tables and \
        pd.to_numeric(tables["population"]["year"], errors="coerce").eq(int(wave)).any()
    if calibrate and has_margins:
        from evaluation.survey.calibration import calibrate_to_registry  # noqa: PLC0415 - calibration builds on this module

        by = "street" if "adults_in_household" in sd.data.columns and "compounds" in tables else None
        return calibrate_to_registry(tables, sd, wave, households_by=by).survey
    return sd


def red_property_compounds(tables, year: int, fieldwork_month_day: str = "10-15") -> set[str]:
    """Compounds whose red-property milestone (``compound_milestones``) falls on or before the fieldwork date."""
    ms = tables["compound_milestones"]
    cutoff = pd.Timestamp(f"{int(year)}-{fieldwork_month_day}")
    red = ms[(ms["milestone"] == "red_property") & (pd.to_datetime(ms["date"]) <= cutoff)]
    if "ended" in red:
        ended = pd.to_datetime(red["ended"], errors="coerce")
        red = red[ended.isna() | (ended > cutoff)]
    return set(red["compound_id"].astype("str"))


def adults_in_household(data: pd.DataFrame, design: SurveyDesign) -> pd.Series | None:
    """The adults of each respondent's household, recovered from the design weight; ``None`` if not exact.

    The resident-survey weight is ``(N_h / n_h) (M_i / m_i) A`` (compounds in the street over those
    sampled, households in the compound over those sampled, adults in the household: one adult is
    interviewed per household), so ``A = weight n_h m_i / (N_h M_i)``. Returned only when every
    value is a whole number (within 1e-6): a survey whose weights were adjusted, or drawn another
    way, needs its own household-size column.
    """
    n_h = data.groupby(design.stratum)[design.psu].transform("nunique")
    m_i = data.groupby(design.psu)[design.psu].transform("size")
    a = pd.to_numeric(data[design.weight]) * n_h * m_i / (pd.to_numeric(data[design.fpc]) * pd.to_numeric(data[design.fpc2]))
    whole = a.round()
    if a.isna().any() or (whole < 1).any() or ((a - whole).abs() > 1e-6).any():
        return None
    return whole.astype("float64")


def district_label(tables) -> str:
    """The district's unit id (the ``unit_id`` of district-level rows), ``"all"`` without one district."""
    if "units" not in tables:
        return "all"
    return UnitTree.from_tables(tables["units"]).district_label


#: the survey weights a dataset's estimates use (``ds.survey_weights``; ``evaluation review --weights``)
SURVEY_WEIGHTS = ("auto", "calibrated", "design")


def uses_calibration(ds) -> bool:
    """Whether the survey estimates of ``ds`` use weights calibrated to the registry.

    ``ds.survey_weights`` decides: ``"calibrated"``, ``"design"`` (the design weights as drawn)
    or ``"auto"`` (the default): calibrated when the dataset has a ``population`` table to
    calibrate to, as notebook 04 does. The indicator tables, ``evaluation indicators`` and the
    annual review all ask this function, so they show the same survey numbers.
    """
    weights = getattr(ds, "survey_weights", "auto")
    if weights not in SURVEY_WEIGHTS:
        raise OptionError(f"survey weights must be one of {', '.join(SURVEY_WEIGHTS)}, not {weights!r}")
    return weights == "calibrated" or (weights == "auto" and "population" in ds)


def survey_indicators(ds, wave: int, level: str = "district", *, calibrate: bool = False) -> SurveyEstimate:
    """The survey outcome indicators (:data:`OUTCOME_INDICATORS`) of one wave at one level.

    Returns the tidy table with design-based 95 % intervals, respondents ``n`` and the
    ``few_respondents``/``high_cv`` flags. For communities, put the Fay-Herriot estimates
    (:func:`evaluation.small_area.fay_herriot`) beside these. ``calibrate=True``: weights
    calibrated to the registry (:func:`survey_wave`), kept per dataset and wave (``ds.memo``).
    """
    if level not in LEVEL_COLUMNS:
        raise OptionError(f"level {level!r} unknown; use one of {', '.join(LEVEL_COLUMNS)}")
    tables = ds.tables if hasattr(ds, "tables") else ds
    if calibrate and hasattr(ds, "memo"):
        sd = ds.memo(("survey-calibrated", int(wave)), lambda: survey_wave(ds, wave, calibrate=True))
    else:
        sd = survey_wave(ds, wave, calibrate=calibrate)
    by = LEVEL_COLUMNS[level]
    parts = []
    for ind, (_, item) in OUTCOME_INDICATORS.items():
        col = "satisfaction_index" if item == "satisfaction" else item
        parts.append(sd.mean(col, by=by, indicator=ind, unit_id=district_label(tables), level=level))
    table = pd.concat([p.table for p in parts], ignore_index=True)
    notes = parts[0].notes + ["out.resident_satisfaction: mean of the satisfaction index (1-5)."]
    if sd.adjustment:
        notes.append(f"Estimates with {sd.adjustment}.")
    return SurveyEstimate(table=table, title=f"Resident-survey outcomes, {level}, {wave}", method=parts[0].method,
                          notes=notes)




def compare_with_truth(table: pd.DataFrame, truth: Mapping[str, float]) -> pd.DataFrame:
    """Copy of a tidy estimate table with the true value per unit, the error and interval coverage.

    Only possible on synthetic data, where the finite-population values are known
    (``truth.json``). Adds ``true_value`` (``truth[unit_id]``, missing where unknown),
    ``error`` (``value - true_value``) and ``covered`` (``ci_low <= true_value <= ci_high``;
    missing where the truth or an interval limit is missing).
    """
    out = table.copy()
    true = out["unit_id"].astype("str").map({str(k): float(v) for k, v in truth.items()}).astype("float64")
    out["true_value"] = true
    out["error"] = out["value"].astype("float64") - true
    known = true.notna() & out["ci_low"].notna() & out["ci_high"].notna()
    covered = (out["ci_low"] <= true) & (true <= out["ci_high"])
    out["covered"] = pd.array(np.where(known, covered, pd.NA), dtype="boolean")
    return out


def truth_comparison(surveys: Mapping[int, SurveyData], items: Sequence[str],
                     truth: Mapping[str, Mapping[str, Mapping[str, float]]], *, by: str | None = "stratum",
                     unit_id: str = "all") -> pd.DataFrame:
    """Design-based means of ``items`` in every wave beside the planted truth.

    Parameters
    ----------
    surveys
        Wave -> survey of that wave (:func:`survey_wave`).
    items
        Columns to estimate (means).
    truth
        ``truth[item][wave][unit_id]``: the finite-population means (``truth.json`` ->
        ``survey.population_means``).
    by, unit_id
        Domain column (``None`` for the whole survey, labelled ``unit_id``).

    Returns
    -------
    pandas.DataFrame
        One row per wave, item and unit: the tidy columns of :meth:`SurveyData.mean` plus
        ``item``, ``wave`` and those of :func:`compare_with_truth`.
    """
    parts = []
    for wave, sd in surveys.items():
        for item in items:
            t = sd.mean(item, by=by, unit_id=unit_id).table
            t = compare_with_truth(t, truth[item][str(wave)])
            parts.append(t.assign(item=item, wave=int(wave)))
    return pd.concat(parts, ignore_index=True)


def community_covariates(tables, year: int, fieldwork_month_day: str = "10-15") -> pd.DataFrame:
    """Registry covariates per community for small-area models of one survey wave.

    ``red_property_share``: households in compounds with red property (milestone
    ``red_property``) adopted before the fieldwork date of the wave, over all households of the
    community's compounds (table ``compounds``, ``compound_milestones``); ``staff_fill``: hired
    community workers over the quota (table ``staffing``, same year). Communities without
    compounds get share 0.
    """
    comps = tables["compounds"]
    hh = pd.to_numeric(comps["households"]).astype("float64")
    has_red = comps["compound_id"].astype("str").isin(red_property_compounds(tables, year, fieldwork_month_day)).astype("float64")
    share = (hh * has_red).groupby(comps["community_id"]).sum() / hh.groupby(comps["community_id"]).sum()
    st = tables["staffing"]
    st = st[pd.to_numeric(st["year"]) == int(year)]
    if st.empty:
        raise MissingInputError(f"table staffing: no rows for year {year}")
    fill = (pd.to_numeric(st["hired"]).astype("float64") / pd.to_numeric(st["quota"]).astype("float64")).to_numpy()
    out = pd.DataFrame({"unit_id": st["community_id"].astype("str").to_numpy(), "staff_fill": fill})
    out["red_property_share"] = out["unit_id"].map(share).fillna(0.0).astype("float64")
    return out[["unit_id", "red_property_share", "staff_fill"]].reset_index(drop=True)


def pooled_waves(ds, waves: Sequence[int], *, calibrate: bool = False, households_by: str | None = "street") -> SurveyData:
    """Several independent survey waves as one survey, e.g. for a respondent-level regression across waves.

    Strata and PSUs are nested in the wave (columns ``wave_stratum``, ``wave_psu``): the waves are
    independent samples. With ``calibrate=True`` every wave is calibrated to its own registry year
    in one calibration with wave-specific margins (adults by wave x street x sex x age group,
    households by wave x street; :func:`~evaluation.survey.calibration.registry_totals`), so the
    variance accounts for all of them.

    Returns
    -------
    SurveyData
        One row per respondent of the waves, with the columns of :func:`survey_wave`.
    """
    from evaluation.survey.calibration import calibrate as calibrate_weights  # noqa: PLC0415 - calibration imports this module
    from evaluation.survey.calibration import registry_totals  # noqa: PLC0415 - as above

    tables = ds.tables if hasattr(ds, "tables") else ds
    parts, totals = [], {}
    for wave in waves:
        sd = survey_wave(ds, wave)
        data = sd.data.copy()
        if calibrate:
            by = households_by if "adults_in_household" in data.columns else None
            with_cols, wave_totals = registry_totals(tables, wave, sd, households_by=by)
            data = with_cols.data.copy()
            data["__adults_cell"] = f"{wave}|" + data["__adults_cell"].astype("str")
            totals.setdefault("__adults_cell", {}).update({f"{wave}|{k}": v for k, v in wave_totals["__adults_cell"].items()})
            for col, total in wave_totals.items():
                if col != "__adults_cell":
                    data = data.rename(columns={col: f"{col}_{wave}"})
                    totals[f"{col}_{wave}"] = total
        data["wave_stratum"] = f"{wave}|" + data[sd.design.stratum].astype("str")
        data["wave_psu"] = f"{wave}|" + data[sd.design.psu].astype("str")
        parts.append(data)
    data = pd.concat(parts, ignore_index=True)
    for col in totals:
        if col.startswith("households_"):
            data[col] = data[col].fillna(0.0)
    d = sd.design
    design = SurveyDesign(stratum="wave_stratum", psu="wave_psu", weight=d.weight, fpc=d.fpc, ssu=d.ssu, fpc2=d.fpc2)
    pooled = SurveyData(data, design, period="-".join(str(w) for w in (min(waves), max(waves))), name="survey")
    return calibrate_weights(pooled, totals).survey if calibrate else pooled


def community_small_area(ds, wave: int, indicator: str = "out.resident_satisfaction", *,
                         calibrate: bool | None = None):
    """Fay-Herriot small-area estimates of a survey outcome for every community, as notebook 04 makes them.

    The direct community means of the wave (:func:`survey_wave`, calibrated weights when
    :func:`uses_calibration` says so), their sampling variances smoothed over the sampled
    compounds (:func:`evaluation.survey.small_area.smooth_direct_variances`: communities with one
    or two sampled compounds have useless linearised variances), the registry covariates of
    :func:`community_covariates`, and :func:`evaluation.survey.small_area.fay_herriot` (REML,
    Prasad-Rao MSE). Communities without respondents get the regression-synthetic estimate.
    """
    from evaluation.survey.small_area import fay_herriot, smooth_direct_variances  # noqa: PLC0415 - scipy loads here

    if indicator not in OUTCOME_INDICATORS:
        raise OptionError(f"{indicator!r} is not a survey outcome; use one of {', '.join(OUTCOME_INDICATORS)}")
    calibrate = uses_calibration(ds) if calibrate is None else calibrate
    if calibrate and hasattr(ds, "memo"):
        sd = ds.memo(("survey-calibrated", int(wave)), lambda: survey_wave(ds, wave, calibrate=True))
    else:
        sd = survey_wave(ds, wave, calibrate=calibrate)
    kind, item = OUTCOME_INDICATORS[indicator]
    col = "satisfaction_index" if item == "satisfaction" else item
    tables = ds.tables if hasattr(ds, "tables") else ds
    direct = sd.mean(col, by="community_id", indicator=indicator, unit_id=district_label(tables), level="community")
    smoothed = smooth_direct_variances(direct.table, sd.data, col, area="community_id", cluster=sd.design.psu)
    return fay_herriot(smoothed, community_covariates(tables, wave), se="smoothed_se", indicator=indicator,
                       period=str(wave))
