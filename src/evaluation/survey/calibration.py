"""Calibration of survey weights to known population totals: GREG, raking and logit, with trimming.

Calibration (Deville & Särndal 1992) replaces the design weights ``d_i`` by ``w_i = g_i d_i`` so
that the weighted sample reproduces known population totals ``T`` of auxiliary variables ``x``
(``sum_i w_i x_i = T``) while staying close to ``d`` in a distance chosen by ``calfun``:

``"linear"``
    GREG: ``g_i = 1 + x_i' lambda`` (chi-square distance); may give negative weights.
``"raking"``
    ``g_i = exp(x_i' lambda)`` (multiplicative; with categorical margins only, the same weights as
    iterative proportional fitting, :func:`~evaluation.survey.weighting.rake`).
``"logit"``
    ``g_i`` between the ``bounds`` ``(L, U)`` through a logistic function (Deville & Särndal's
    case 6); needs finite bounds with ``L < 1 < U``.

``bounds=(L, U)`` bounds ``g`` for ``"linear"`` (truncated linear) and ``"raking"`` too; ``trim=(lo,
hi)`` trims ``g`` afterwards and spreads the trimmed weight over the other respondents (R's
``trim=``; the totals then hold only approximately).

The auxiliary variables are given as totals: ``{column: {level: total}}`` for a categorical margin
and ``{column: total}`` for a continuous one; the intercept (population size) comes from the
categorical margins or ``population_size``. The model matrix is built as R's ``model.matrix``
builds it (intercept, treatment-coded levels, the continuous columns), so ``calibrate(design,
~stype + api99, c(6194, 755, 1018, 3914069))`` is ``calibrate(survey, {"stype": {"E": 4421, "H":
755, "M": 1018}, "api99": 3914069})``.

Variance. The calibrated estimator's variance is that of the g-weighted residuals of the
calibration regression (Särndal, Swensson & Wretman 1992, sec. 6.6; R ``svyrecvar`` on a
``calibrate`` design: residuals of the linearised values regressed on ``x`` with the design
weights, times ``g``). ``svy`` computes it when its design carries a calibration record
(``WgtAdjustment(kind="calibration")`` with the columns of ``x``): linear calibration without
bounds or trimming is ``svy``'s own ``calibrate_matrix``; for raking, logit, bounds and trimming,
which ``svy`` does not offer (its ``calibrate`` refuses ``bounds``), the g-weights are computed
here by R's Newton algorithm (``grake``) and the same record is attached, so every estimator of
:class:`~evaluation.survey.design.SurveyData` (means, totals, proportions, ratios, domains,
regression) has calibration-adjusted standard errors. On a replicate design
(:class:`~evaluation.survey.replicates.ReplicateSurvey`) every replicate is calibrated the same way
(R ``calibrate.svyrep.design``) and the variance comes from the calibrated replicates.

The tests reproduce R ``calibrate()`` on the ``api`` data (``data/reference/survey/
calibration.csv``, with the R calls) and the g-weights of Kalton & Flores-Cervantes (2003) as R's
``tests/kalton.R`` prints them. Not offered: R's ``variance=`` (heteroskedastic distance), whose
calibration variance ``svy`` does not implement, and calibration within clusters (``stage=``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import polars as pl

from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.survey.design import SurveyData, _svy, _to_polars
from evaluation.survey.weighting import WeightingResult, add_cell_column, population_margins, weight_summary

#: Calibration distances (R ``calfun``).
CALFUNS = ("linear", "raking", "logit")
#: Column of the calibrated weights in the ``svy`` sample.
CAL_WEIGHT = "__cal_wgt"


class CalibrationResult(WeightingResult):
    """Calibrated weights (a :class:`~evaluation.survey.weighting.WeightingResult`) and their g-weights.

    Attributes
    ----------
    survey
        The calibrated survey: estimate from it (standard errors account for the calibration).
    g
        ``weights_after / weights_before`` per respondent.
    columns
        Names of the auxiliary variables (the columns of R's model matrix).
    margins
        Each margin level or continuous total: ``population`` (the target), ``weighted_before``
        and ``weighted_after`` (the design- and calibration-weighted sample totals).
    """

    def __init__(self, *args, g: np.ndarray, columns: list[str], **kw):
        super().__init__(*args, **kw)
        self.g, self.columns = g, columns


def calibration_matrix(data: pd.DataFrame, totals: Mapping[str, object], *, population_size: float | None = None,
                       name: str = "survey") -> tuple[np.ndarray, list[str], np.ndarray]:
    """The auxiliary matrix ``X``, its column names and the population totals, as R's ``model.matrix``.

    Parameters
    ----------
    data
        The survey table.
    totals
        ``{column: {level: total}}`` (categorical margin: every level present in the data needs a
        total; all margins must sum to the same population size) or ``{column: total}``
        (continuous). A cross-classified margin is a column holding the combined cell
        (:func:`~evaluation.survey.weighting.add_cell_column`).
    population_size
        The intercept's total when no categorical margin gives it; ``None`` with only continuous
        totals: no intercept (R ``~x - 1``).
    name
        Table name for error messages.

    Returns
    -------
    X, columns, targets
        ``X`` (respondents x auxiliary variables): the intercept, treatment-coded levels (first
        level in sorted order left out) and the continuous columns; ``targets`` their totals.
    """
    n = len(data)
    grand = None if population_size is None else float(population_size)
    categorical = {c: v for c, v in totals.items() if isinstance(v, Mapping)}
    for col in totals:
        if col not in data.columns:
            raise MissingInputError(f"table {name}: calibration column {col} not found", table=name, column=col)
    cols, names, targets = [], [], []
    for col, levels in categorical.items():
        values = data[col]
        if values.isna().any():
            row = data.index[values.isna()][0]
            raise DataError("is missing; calibration needs every respondent's cell", table=name, row=row, column=col)
        wanted = {str(k): float(v) for k, v in levels.items()}
        seen = set(values.astype("str"))
        if seen - set(wanted):
            raise DataError(f"levels {sorted(seen - set(wanted))} have no population total", table=name, column=col)
        empty = sorted(k for k in set(wanted) - seen if wanted[k] != 0)
        if empty:
            raise MissingInputError(f"table {name} column {col}: no respondents in levels {empty} whose population "
                                    "total is not zero; collapse cells", table=name, column=col)
        size = sum(wanted.values())
        if grand is None:
            grand = size
        elif abs(size - grand) > 1e-6 * max(1.0, abs(grand)):
            raise DataError(f"margin totals {size:,.6g} but the population size is {grand:,.6g}; every margin must "
                            "count the same population", table=name, column=col)
    if grand is not None:
        cols.append(np.ones(n))
        names.append("(Intercept)")
        targets.append(grand)
    for col, levels in categorical.items():
        wanted = {str(k): float(v) for k, v in levels.items()}
        values = data[col].astype("str").to_numpy()
        for lev in sorted(wanted)[1:]:
            if wanted[lev] == 0 and not (values == lev).any():
                continue  # R drops columns where sample and population are both zero
            cols.append((values == lev).astype("float64"))
            names.append(f"{col}{lev}")
            targets.append(wanted[lev])
    for col, total in totals.items():
        if col in categorical:
            continue
        x = pd.to_numeric(data[col], errors="coerce")
        if x.isna().any():
            row = data.index[x.isna()][0]
            raise DataError("must be a number for calibration", table=name, row=row, column=col,
                            value=data.loc[row, col])
        cols.append(x.to_numpy(dtype="float64"))
        names.append(col)
        targets.append(float(total))
    if not cols:
        raise OptionError("calibration needs at least one population total")
    return np.column_stack(cols), names, np.asarray(targets, dtype="float64")


def _distance(calfun: str, lower: float, upper: float):
    """R's ``cal.linear``, ``cal.raking``, ``cal.logit``: ``F(u) = g - 1`` and its derivative."""
    inside = lambda u: ((u < upper - 1) & (u > lower - 1)).astype("float64")  # noqa: E731
    if calfun == "linear":
        return (lambda u: np.clip(u + 1, lower, upper) - 1), inside
    if calfun == "raking":
        return (lambda u: np.clip(np.exp(u), lower, upper) - 1), (lambda u: np.where(inside(u) > 0, np.exp(u), 0.0))
    a = (upper - lower) / ((upper - 1) * (1 - lower))

    def f(u):
        e = np.exp(a * u)
        return (lower * (upper - 1) + upper * (1 - lower) * e) / (upper - 1 + (1 - lower) * e) - 1

    def df(u):
        e = np.exp(a * u)
        den = upper - 1 + (1 - lower) * e
        return upper * (1 - lower) * e * a / den - (lower * (upper - 1) + upper * (1 - lower) * e) * (1 - lower) * e * a / den**2

    return f, df


def generalised_raking(X: np.ndarray, d: np.ndarray, targets: np.ndarray, calfun: str = "linear",
                       bounds: tuple[float, float] | None = None, *, max_iter: int = 50,
                       epsilon: float = 1e-7) -> tuple[np.ndarray, float, int]:
    """The g-weights of a calibration: Newton's method on the calibration equations, as R's ``grake``.

    Parameters
    ----------
    X
        Auxiliary matrix (respondents x variables).
    d
        Design weights.
    targets
        Population totals of the columns of ``X``.
    calfun, bounds
        Distance (:data:`CALFUNS`) and bounds ``(L, U)`` on ``g`` (``None``: unbounded).
    max_iter, epsilon
        At most ``max_iter`` Newton steps, until every ``|T - X'w| / (1 + |T|) < epsilon``.

    Returns
    -------
    g, misfit, iterations
        The g-weights, the largest relative misfit reached and the Newton steps taken.
    """
    lower, upper = (-np.inf, np.inf) if bounds is None else (float(bounds[0]), float(bounds[1]))
    f, df = _distance(calfun, lower, upper)
    w = np.asarray(d, dtype="float64")
    sample_total = X.T @ w
    scale = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = targets / sample_total
    # R pre-scales weights that are far below the totals (e.g. all ones); bounds then apply after the scaling
    if np.all(np.isfinite(ratios)) and ratios.min() > 20:
        scale = float(ratios.mean())
        w, sample_total = w * scale, sample_total * scale
    eta = np.zeros(X.shape[1])
    xeta = X @ eta
    deriv = df(xeta)
    it = 1
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            info = (X * (w * deriv)[:, None]).T @ X
            misfit = targets - sample_total - X.T @ (w * f(xeta))
            step = np.linalg.pinv(info, rcond=256 * np.finfo(float).eps) @ misfit
            eta = eta + step
            xeta = X @ eta
            g, deriv = 1 + f(xeta), df(xeta)
            while it < max_iter and not (np.isfinite(g).all() and np.isfinite(deriv).all()):
                it += 1  # step halving, as R
                step = step / 2
                eta = eta - step
                xeta = X @ eta
                g, deriv = 1 + f(xeta), df(xeta)
            misfit = targets - sample_total - X.T @ (w * f(xeta))
            worst = float(np.max(np.abs(misfit) / (1 + np.abs(targets))))
            if worst < epsilon:
                break
            it += 1
            if it > max_iter:
                break
    return g * scale, worst, it


def trim_g(g: np.ndarray, d: np.ndarray, trim: tuple[float, float]) -> np.ndarray:
    """R's ``calibrate(trim=)``: cap ``g`` to ``[lo, hi]`` and add the trimmed weight evenly to the other ``g``.

    The trimmed amount ``sum (g - g_trimmed) d`` is spread as one constant added to the g-weights
    of the respondents inside the bounds, weighted by their design weights; one pass, so a
    respondent can end slightly outside after the spreading (as in R).
    """
    lo, hi = trim
    new = np.clip(g, lo, hi)
    outside = (g < lo) | (g > hi)
    if outside.any():
        new[~outside] += np.sum((g - new) * d) / np.sum(d[~outside])
    return new


def _check_options(calfun: str, bounds, trim) -> None:
    if calfun not in CALFUNS:
        raise OptionError(f"calibration function {calfun!r} unknown; use one of {', '.join(CALFUNS)}")
    for label, pair in (("bounds", bounds), ("trim", trim)):
        if pair is not None and not (len(pair) == 2 and float(pair[0]) < 1 < float(pair[1])):
            raise OptionError(f"calibration {label} must be a pair (lower, upper) with lower < 1 < upper, got {pair!r}")
    if calfun == "logit" and (bounds is None or not np.all(np.isfinite(bounds))):
        raise OptionError("logit calibration needs finite bounds, e.g. bounds=(0.5, 2.2)")


def calibrate(survey: SurveyData, totals: Mapping[str, object], *, population_size: float | None = None,
              calfun: str = "linear", bounds: tuple[float, float] | None = None,
              trim: tuple[float, float] | None = None, max_iter: int = 50, epsilon: float = 1e-7) -> CalibrationResult:
    """Calibrate the weights of ``survey`` to population ``totals`` (R ``calibrate``).

    Parameters
    ----------
    survey
        A :class:`~evaluation.survey.design.SurveyData` (Taylor variance) or
        :class:`~evaluation.survey.replicates.ReplicateSurvey` (replicates calibrated too). Never
        modified.
    totals, population_size
        The population totals (:func:`calibration_matrix`).
    calfun
        ``"linear"`` (GREG), ``"raking"`` or ``"logit"`` (see the module docstring).
    bounds
        ``(L, U)``: every g-weight between ``L`` and ``U`` (truncated linear, bounded raking, logit).
    trim
        ``(lo, hi)``: trim the g-weights afterwards (:func:`trim_g`).
    max_iter, epsilon
        Newton iterations and the convergence tolerance (R's ``maxit``, ``epsilon``).

    Returns
    -------
    CalibrationResult
        ``.survey`` estimates with standard errors from the calibration residuals (or the
        calibrated replicates); ``.margins`` shows every total before and after.

    Raises
    ------
    DataError
        A total cannot be met within the bounds (the Newton iterations do not converge).

    Notes
    -----
    Calibrating a survey that is already raked or calibrated starts from its current weights, and
    the variance accounts for the last calibration only (``svy`` keeps one calibration record; R
    keeps every one): calibrate once, to all the margins.
    """
    from evaluation.survey.replicates import ReplicateSurvey  # noqa: PLC0415 - replicates build on this module's layer

    _check_options(calfun, bounds, trim)
    data = survey.data
    X, columns, targets = calibration_matrix(data, totals, population_size=population_size, name=survey.name)
    d = pd.to_numeric(data[survey.design.weight]).to_numpy(dtype="float64")

    def solve(weights: np.ndarray, what: str) -> np.ndarray:
        g, worst, it = generalised_raking(X, weights, targets, calfun, bounds, max_iter=max_iter, epsilon=epsilon)
        if not (worst < epsilon and np.isfinite(g).all()):
            raise DataError(f"calibration of the {what} did not converge in {it - 1} iterations (largest relative misfit "
                            f"{worst:.2g})", table=survey.name,
                            hint="widen the bounds, drop or collapse margins, or check that the totals are consistent")
        return trim_g(g, weights, trim) if trim is not None else g

    if isinstance(survey, ReplicateSurvey):
        g = solve(d, "full-sample weights")
        reps = survey.replicate_weights
        g_reps = np.column_stack([solve(reps[:, r], f"replicate {r + 1}") for r in range(reps.shape[1])])
        new_survey = survey.with_calibrated_weights(d * g, reps * g_reps)
        variance = "variance from the replicates, each calibrated the same way (R calibrate on a svrepdesign)"
    else:
        svy = _svy()
        pl_data = _to_polars(data.reset_index(drop=True))
        if calfun == "linear" and bounds is None and trim is None:
            try:
                sample = svy.Sample(pl_data, survey._svy_design()).weighting.calibrate_matrix(
                    aux_vars=X, controls=list(targets), wgt_name=CAL_WEIGHT)
            except svy.errors.SvyError as exc:
                raise DataError(f"linear calibration failed: {str(exc).splitlines()[0]}", table=survey.name) from exc
            g = sample.data[CAL_WEIGHT].to_numpy() / d
        else:
            g = solve(d, "weights")

            aux = [f"__cal_aux_{j}" for j in range(X.shape[1])]
            pl_data = pl_data.with_columns([pl.Series(CAL_WEIGHT, d * g)] + [pl.Series(a, X[:, j]) for j, a in enumerate(aux)])
            record = svy.WgtAdjustment(kind="calibration", prev_wgt=survey.design.weight, new_wgt=CAL_WEIGHT, aux=tuple(aux))
            sample = svy.Sample(pl_data, survey._svy_design(wgt=CAL_WEIGHT, wgt_adjustment=record))
        new_survey = survey.with_weights(d * g, _sample=sample)
        variance = "variance from the g-weighted residuals of the calibration model (svy; R calibrate)"
    return _calibration_result(survey, new_survey, d, g, X, columns, targets, totals, calfun, bounds, trim, variance)


def _calibration_result(survey, new_survey, d, g, X, columns, targets, totals, calfun, bounds, trim,
                        variance) -> CalibrationResult:
    after = d * g
    rows = []
    for col, spec in totals.items():
        if isinstance(spec, Mapping):
            cell = survey.data[col].astype("str").to_numpy()
            for lev, target in spec.items():
                m = cell == str(lev)
                rows.append({"margin": col, "level": str(lev), "population": float(target),
                             "weighted_before": d[m].sum(), "weighted_after": after[m].sum()})
        else:
            x = pd.to_numeric(survey.data[col]).to_numpy(dtype="float64")
            rows.append({"margin": col, "level": "", "population": float(spec), "weighted_before": float(x @ d),
                         "weighted_after": float(x @ after)})
    kind = {"linear": "linear (GREG)", "raking": "raking", "logit": "logit"}[calfun]
    method = (f"{kind} calibration of the design weights to {', '.join(totals)} (Deville & Särndal 1992)"
              + (f", g bounded to [{bounds[0]:g}, {bounds[1]:g}]" if bounds is not None else "")
              + (f", g trimmed to [{trim[0]:g}, {trim[1]:g}]" if trim is not None else "") + f"; {variance}")
    table = pd.DataFrame([weight_summary(d, "design"), weight_summary(after, "calibrated")])
    notes = [f"g-weights from {g.min():.3f} to {g.max():.3f}; effective sample size "
             f"{table['effective_n'].iloc[1]:.0f} of {len(g)} respondents."]
    if (after <= 0).any():
        notes.append(f"{int((after <= 0).sum())} calibrated weights are zero or negative; bound them (bounds=, "
                     "calfun='logit').")
    worst = float(np.max(np.abs(X.T @ after - targets) / np.maximum(1.0, np.abs(targets))))
    if worst > 1e-6:
        notes.append(f"Totals met to a relative {worst:.1e} (trimming moves them).")
    new_survey.adjustment = f"weights calibrated ({kind}) to {len(columns)} population totals"
    return CalibrationResult(new_survey, d, after, table, pd.DataFrame(rows), title="Calibrated survey weights",
                             method=method, notes=notes, g=g, columns=columns)


def registry_totals(tables, year: int, survey: SurveyData, *, unit_column: str = "stratum",
                    columns: tuple[str, ...] = ("sex", "age_group"),
                    households_by: str | None = "street") -> tuple[SurveyData, dict[str, object]]:
    """Registry margins of a dataset as calibration totals, and the survey with the columns they need.

    Parameters
    ----------
    tables
        The dataset (``load_dataset``) or its tables: ``population`` (adults by community, year,
        sex and age group), ``units`` (community -> street), and for the households margin
        ``compounds`` (households, community and type of every compound).
    year
        Year of the ``population`` rows (the survey wave).
    survey
        The survey of that wave; it needs ``unit_column`` (the street), ``columns``, and for the
        households margin ``adults_in_household`` (and the ``households_by`` column unless it is
        ``"street"``).
    unit_column, columns
        The adults margin is ``unit_column x columns`` (one categorical margin of cells, e.g. 24
        street x sex x age group cells).
    households_by
        ``"street"`` (the street of the compound's community, matched to ``unit_column``), another
        ``compounds`` column present in the survey (e.g. ``"compound_type"``), or ``None``: the
        households of each level as continuous totals, a respondent counting ``1 /
        adults_in_household`` households of its level.

    Returns
    -------
    survey, totals
        A copy of the survey with the cell column ``__adults_cell`` and one column
        ``households_<level>`` per level, and the totals for :func:`calibrate`.
    """
    units = tables["units"]
    parent = units.dropna(subset=["parent_id"]).set_index("unit_id")["parent_id"].astype("str").to_dict()
    cells = population_margins(tables["population"], year, parent, columns)
    data = add_cell_column(survey.data, [unit_column, *columns], "__adults_cell")
    totals: dict[str, object] = {"__adults_cell": cells}
    if households_by is not None:
        respondent_col = unit_column if households_by == "street" else households_by
        for col in (respondent_col, "adults_in_household"):
            if col not in data.columns:
                raise MissingInputError(f"table {survey.name}: column {col} needed for the households margin not found",
                                        table=survey.name, column=col)
        comp = tables["compounds"]
        if households_by == "street":
            level = comp["community_id"].astype("str").map(parent)
        elif households_by in comp.columns:
            level = comp[households_by].astype("str")
        else:
            raise MissingInputError(f"table compounds: no column {households_by} to count households by",
                                    table="compounds", column=households_by)
        households = pd.to_numeric(comp["households"]).astype("float64").groupby(level).sum()
        share = 1.0 / pd.to_numeric(data["adults_in_household"]).astype("float64")
        for lev, total in households.items():
            col = f"households_{lev}"
            data[col] = np.where(data[respondent_col].astype("str") == lev, share, 0.0)
            totals[col] = float(total)
    return survey.with_data(data), totals


def calibrate_to_registry(tables, survey: SurveyData, year: int, *, households_by: str | None = "street",
                          calfun: str = "linear", bounds: tuple[float, float] | None = None,
                          trim: tuple[float, float] | None = None) -> CalibrationResult:
    """Calibrate a survey wave to the dataset's registry: adults by street x sex x age group, and households.

    The two registry tables count the same frame (the adults and households of the district's
    compounds); the totals are :func:`registry_totals` (households by street by default).
    Linear (GREG) calibration by default, as statistical offices use it; the g-weights are
    reported (bound them with ``bounds`` or ``calfun="logit"`` when some are far from 1).

    Returns
    -------
    CalibrationResult
        As :func:`calibrate`; ``.survey`` keeps the added columns.
    """
    with_cols, totals = registry_totals(tables, year, survey, households_by=households_by)
    res = calibrate(with_cols, totals, calfun=calfun, bounds=bounds, trim=trim)
    adults = "adults by street x sex x age group (population table)"
    households = f"households by {households_by} (compounds table)" if households_by else ""
    res.margins["margin"] = res.margins["margin"].replace({"__adults_cell": "adults by street x sex x age group"})
    names = ", ".join(c for c in totals if c.startswith("households_"))
    res.method = res.method.replace("__adults_cell", adults)
    if households_by:
        res.method = res.method.replace(names, households)
    res.survey.adjustment = (f"weights calibrated ({calfun}) to the registry: {adults.split(' (')[0]}"
                             + (f", {households.split(' (')[0]}" if households else ""))
    res.title = f"Survey weights calibrated to the registry, {year}: {adults.split(' (')[0]}" + (
        f", {households.split(' (')[0]}" if households else "")
    return res
