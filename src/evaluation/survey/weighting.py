"""Raking survey weights to registry margins, with trimming and a report of the weights.

Raking (iterative proportional fitting; Deming & Stephan 1940) adjusts the design weights so
that the weighted sample reproduces known population margins (e.g. adults by street and by
sex x age group from the ``population`` table). It is delegated to ``svy``'s ``rake``, whose
variance afterwards is the calibration (residual) linearisation of R's ``rake()``/
``postStratify()``: the tests reproduce R's ``dclus1_poststrat`` and ``dclus1_raked`` rows of
``reference/survey/reference.csv``. Trimming alternates capping the weights at
``trim_upper`` x median weight with re-raking, until both hold (svy ``TrimConfig``).

The report gives the weight distribution before and after, the Kish (1965) design effect due
to unequal weights ``deff_w = n * sum(w^2) / sum(w)^2`` and the effective sample size
``n / deff_w``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd

from evaluation.errors import DataError, MissingInputError
from evaluation.results import IndicatorResult, Summary, new_axes
from evaluation.survey.design import SurveyData


def effective_sample_size(weights) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum(w^2)`` (Kish 1965, eq. 11.7.6)."""
    w = np.asarray(weights, dtype="float64")
    return float(w.sum() ** 2 / np.sum(w**2))


def weight_summary(weights, label: str = "") -> dict[str, float]:
    """Distribution of the weights: n, sum, min, quartiles, max, max/median, CV, Kish deff, n_eff."""
    w = np.asarray(weights, dtype="float64")
    n_eff = effective_sample_size(w)
    q = np.quantile(w, [0.25, 0.5, 0.75])
    return {
        "weights": label,
        "n": int(len(w)),
        "sum": float(w.sum()),
        "min": float(w.min()),
        "q25": float(q[0]),
        "median": float(q[1]),
        "q75": float(q[2]),
        "max": float(w.max()),
        "max_to_median": float(w.max() / q[1]),
        "cv": float(w.std(ddof=0) / w.mean()),
        "deff_weighting": float(len(w) / n_eff),
        "effective_n": n_eff,
    }


class WeightingResult(IndicatorResult):
    """Raked (and possibly trimmed) weights.

    Attributes
    ----------
    survey
        The survey with the new weights in the design-weight column (estimate from it).
    weights_before, weights_after
        Design and adjusted weights, aligned with the survey rows.
    table
        Weight distribution before and after (:func:`weight_summary` rows).
    margins
        Each margin level: population target, weighted total before and after.
    """

    def __init__(self, survey: SurveyData, weights_before: np.ndarray, weights_after: np.ndarray, table: pd.DataFrame,
                 margins: pd.DataFrame, title: str = "Raked survey weights", method: str = "",
                 notes: list[str] | None = None):
        super().__init__(table=table, title=title, method=method, notes=list(notes or []))
        self.survey, self.weights_before, self.weights_after, self.margins = survey, weights_before, weights_after, margins

    def summary(self) -> Summary:
        """Method, the weight distribution before and after, and the effective sample size."""
        return Summary(self.title, [f"Method: {self.method}"], self.notes, self.table.round(4))

    def _repr_html_(self) -> str:
        return (f"<h4>{html.escape(self.title)}</h4><p><b>Method:</b> {html.escape(self.method)}</p>"
                + self.table.to_html(index=False, float_format=lambda x: f"{x:.4g}"))

    def plot(self, *, ax=None):
        """Histogram of the weights before and after adjustment; returns the Axes."""
        ax = new_axes(ax, (6, 3.5))
        bins = np.histogram_bin_edges(np.concatenate([self.weights_before, self.weights_after]), bins=30)
        ax.hist(self.weights_before, bins=bins, alpha=0.5, label="design")
        ax.hist(self.weights_after, bins=bins, alpha=0.5, label="adjusted")
        ax.set_xlabel("weight (persons represented)")
        ax.set_ylabel("respondents")
        ax.legend()
        return ax


def rake(survey: SurveyData, margins: Mapping[str, Mapping[object, float]], *, trim_upper: float | None = None,
         max_iter: int = 100, tol: float = 1e-6) -> WeightingResult:
    """Rake the design weights of ``survey`` to population ``margins``.

    Parameters
    ----------
    survey
        The survey (never modified).
    margins
        ``{column: {level: population total}}``; one margin is post-stratification (R
        ``postStratify``), several are raking (R ``rake``). A cross-classified margin (street x
        sex x age group) is a column holding the combined cell label (:func:`add_cell_column`).
        All margins must share one grand total.
    trim_upper
        Cap on the weights as a multiple of the median weight (e.g. 5); trimming and re-raking
        alternate until both hold. ``None``: no trimming.

    Returns
    -------
    WeightingResult
        ``.survey`` estimates with calibration-adjusted standard errors.
    """
    from svy.weighting.types import Threshold, TrimConfig  # noqa: PLC0415 - only when weights are trimmed

    data = survey.data
    for col, levels in margins.items():
        if col not in data.columns:
            raise MissingInputError(f"table {survey.name}: margin column {col} not found")
        seen = set(data[col].dropna().astype("str"))
        wanted = {str(k) for k in levels}
        if seen - wanted:
            raise DataError(f"table {survey.name} column {col}: levels {sorted(seen - wanted)} have no population total")
        if data[col].isna().any():
            row = data.index[data[col].isna()][0]
            raise DataError(f"table {survey.name} row {row}: column {col} is missing; raking needs every respondent's cell")
        empty = wanted - seen
        if empty:
            raise MissingInputError(f"table {survey.name} column {col}: no respondents in levels {sorted(empty)}; collapse cells")
    controls = {col: {str(k): float(v) for k, v in levels.items()} for col, levels in margins.items()}
    trimming = TrimConfig(upper=Threshold("median", float(trim_upper)), max_iter=50) if trim_upper else None
    sample = survey._sample()
    if len(controls) == 1:
        (col, ctl), = controls.items()
        out = sample.weighting.poststratify(controls=ctl, cells=col, wgt_name="__adj_wgt", trimming=trimming)
    else:
        out = sample.weighting.rake(controls=controls, wgt_name="__adj_wgt", tol=tol, max_iter=max_iter,
                                    trimming=trimming)
    adjusted = out.data["__adj_wgt"].to_numpy()
    before = pd.to_numeric(data[survey.design.weight]).to_numpy(dtype="float64")
    new_survey = survey.with_weights(adjusted, _sample=out)
    new_survey.adjustment = ("weights post-stratified" if len(controls) == 1 else "weights raked") + f" to {', '.join(controls)}"
    rows = []
    for col, levels in controls.items():
        cell = data[col].astype("str").to_numpy()
        for lev, target in levels.items():
            m = cell == lev
            rows.append({"margin": col, "level": lev, "population": target, "weighted_before": before[m].sum(),
                         "weighted_after": adjusted[m].sum()})
    kind = "post-stratification" if len(controls) == 1 else "raking (iterative proportional fitting)"
    method = (f"{kind} of design weights to {', '.join(controls)} (svy; variance by calibration residuals as in R "
              f"survey)" + (f"; weights trimmed at {trim_upper:g} x median and re-raked" if trim_upper else ""))
    table = pd.DataFrame([weight_summary(before, "design"), weight_summary(adjusted, "adjusted")])
    return WeightingResult(new_survey, before, adjusted, table, pd.DataFrame(rows), method=method,
                           notes=[f"Effective sample size {table['effective_n'].iloc[1]:.0f} of {len(adjusted)} respondents."])


def add_cell_column(data: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """Copy of ``data`` with a column ``name`` joining ``columns`` with ``|`` (a cross-classified cell)."""
    out = data.copy()
    out[name] = data[columns].astype("str").agg("|".join, axis=1)
    return out


def population_margins(population: pd.DataFrame, year: int, unit_map: Mapping[str, str] | None = None,
                       columns: tuple[str, ...] = ("sex", "age_group")) -> dict[str, float]:
    """Population totals per cell from the ``population`` table (adults by unit, year, sex, age group).

    Parameters
    ----------
    population
        The ``population`` table.
    year
        Year of the margins (the survey wave).
    unit_map
        Maps the table's ``unit_id`` (community) to the unit the cell uses (e.g. its street); the
        cell label then starts with the mapped unit. ``None``: cells without a unit.
    columns
        Demographic columns of the cell.

    Returns
    -------
    dict
        ``{cell label: persons}`` with labels as :func:`add_cell_column` builds them.
    """
    p = population[population["year"].astype("int64") == int(year)]
    if p.empty:
        raise MissingInputError(f"table population: no rows for year {year}")
    keys = [p[c].astype("str") for c in columns]
    if unit_map is not None:
        unit = p["unit_id"].astype("str").map(unit_map)
        if unit.isna().any():
            row = p.index[unit.isna()][0]
            raise MissingInputError(f"table population row {row}: unit_id {p.loc[row, 'unit_id']} has no parent unit")
        keys = [unit, *keys]
    label = keys[0]
    for k in keys[1:]:
        label = label + "|" + k
    return {str(k): float(v) for k, v in p["persons"].astype("float64").groupby(label.to_numpy()).sum().items()}


def rake_to_population(survey: SurveyData, population: pd.DataFrame, units: pd.DataFrame, year: int, *,
                       unit_column: str = "stratum", columns: tuple[str, ...] = ("sex", "age_group"),
                       trim_upper: float | None = None) -> WeightingResult:
    """Post-stratify a survey to the registry's adults by street x sex x age group.

    The cells are the survey's ``unit_column`` (the street, which is the stratum of the
    resident-survey design) crossed with ``columns``; their population totals come from the
    ``population`` table of ``year`` (:func:`population_margins`, communities mapped to their
    street through ``units.parent_id``). With one cross-classified margin raking is
    post-stratification (R ``postStratify``); every cell needs respondents.

    Returns
    -------
    WeightingResult
        As :func:`rake`; ``.margins`` lists every cell with its population and weighted totals.
    """
    parent = units.dropna(subset=["parent_id"]).set_index("unit_id")["parent_id"].astype("str").to_dict()
    margins = population_margins(population, year, parent, columns)
    data = add_cell_column(survey.data, [unit_column, *columns], "__cell")
    cell_survey = SurveyData(data, survey.design, period=survey.period, name=survey.name)
    res = rake(cell_survey, {"__cell": margins}, trim_upper=trim_upper)
    res.margins["margin"] = " x ".join([unit_column, *columns])
    res.method = res.method.replace("__cell", " x ".join(["street" if unit_column == "stratum" else unit_column,
                                                          *columns]))
    res.title = f"Survey weights post-stratified to the adult population, {year}"
    res.survey.adjustment = "weights post-stratified to " + " x ".join(["street" if unit_column == "stratum" else unit_column,
                                                                       *columns])
    return res
