"""Design-based regression: linear and logistic models (R ``svyglm``) and proportional odds (R ``svyolr``).

:func:`svyglm` fits a generalised linear model by survey-weighted (pseudo-) maximum likelihood and
takes its standard errors from the design: the sandwich of the linearised estimating equations
over strata, clusters and finite-population corrections (Binder 1983), after the calibration
residual sweep on a calibrated survey, or from refits with every replicate weight on a
:class:`~evaluation.survey.replicates.ReplicateSurvey`. The fit and the variance are ``svy``'s
(``Sample.glm.fit``, checked against R in ``tests/test_survey_regression.py``); the model matrix is
built here as R's ``model.matrix`` builds it (treatment-coded factors named ``stypeH``, every
level of the first factor without an intercept), because ``svy`` drops a reference level even
without an intercept. Intervals and p-values use Student's t on R's residual degrees of freedom,
``degf(design) + 1 - (number of coefficients)``.

:func:`svyolr` fits the proportional-odds (cumulative logit, or probit) model of an ordered item,
``P(Y <= k) = F(zeta_k - x'beta)`` with R's signs (``MASS::polr``, R ``svyolr``): ``svy`` has no
ordinal model, so the weighted likelihood is ``statsmodels``' ``OrderedModel`` (its fit is the
starting point) refined by Newton steps on the analytic score; the standard errors are the
design-based sandwich ``A^-1 V A^-1``, with ``V`` the design variance of the total of the score
contributions, computed by ``svy`` as the variance of a total of influence values (so it includes
strata, clusters, FPCs and calibration), or from refits on replicate designs (R
``svyolr.svyrep.design``). Intervals and p-values are normal, as R's ``confint`` for ``svyolr``.

Missing values in the response or a covariate leave the respondent out as a domain (R's
``na.action`` on a design: the PSUs and strata stay), and ``domain={column: value}`` restricts the
fit to a subpopulation with correct standard errors (R ``subset(design, ...)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy import special, stats

from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.results import IndicatorResult, Summary, indicator_frame, new_axes
from evaluation.survey.design import SurveyData, _svy

#: Extra columns of a regression's tidy table.
REGRESSION_COLUMNS = ("statistic", "variable", "se", "t", "p", "df")
FAMILIES = {"gaussian": "identity", "binomial": "logit", "poisson": "log"}


@dataclass
class RegressionResult(IndicatorResult):
    """A design-based regression: coefficients with standard errors, t, p and 95 % intervals.

    Attributes
    ----------
    coefficients
        One row per term (index): ``coef``, ``se``, ``t`` (coef / se), ``p`` (two-sided), ``ci_low``,
        ``ci_high`` and ``kind`` (``coefficient`` or, for :func:`svyolr`, ``threshold``).
    response, family, link
        The modelled column and the model.
    n
        Respondents in the fit (answered and in the domain).
    df
        Degrees of freedom of the t intervals (``inf``: normal intervals).
    dispersion
        R's printed dispersion (design-weighted variance of the Pearson residuals); ``nan`` for
        the ordinal model.
    cov
        Design-based covariance of the coefficients (``svyglm`` only).
    """

    coefficients: pd.DataFrame = field(default_factory=pd.DataFrame)
    response: str = ""
    family: str = ""
    link: str = ""
    n: int = 0
    df: float = float("nan")
    dispersion: float = float("nan")
    cov: pd.DataFrame | None = None

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """``(1 - alpha)`` intervals of the coefficients (t on ``df``, or normal), labelled by term."""
        q = stats.norm.ppf(1 - alpha / 2) if not np.isfinite(self.df) else stats.t.ppf(1 - alpha / 2, self.df)
        c = self.coefficients
        return pd.DataFrame({"lower": c["coef"] - q * c["se"], "upper": c["coef"] + q * c["se"]}, index=c.index)

    def coefficient_table(self) -> pd.DataFrame:
        """The printed coefficient table (strings), in statsmodels' layout."""
        c = self.coefficients
        stat = "t" if np.isfinite(self.df) else "z"
        return pd.DataFrame({
            "": c.index,
            "coef": [f"{v:.4f}" for v in c["coef"]],
            "std err": [f"{v:.4f}" for v in c["se"]],
            stat: [f"{v:.3f}" for v in c["t"]],
            f"P>|{stat}|": [f"{v:.3g}" for v in c["p"]],
            "[0.025": [f"{v:.4f}" for v in c["ci_low"]],
            "0.975]": [f"{v:.4f}" for v in c["ci_high"]],
        })

    def summary(self) -> Summary:
        """Method, size, degrees of freedom and the coefficient table (coef, std err, t, p, 95 % CI)."""
        lines = [f"Method: {self.method}",
                 f"Response: {self.response}; family: {self.family}, link: {self.link}",
                 f"Respondents: {self.n}; degrees of freedom: " + (f"{self.df:g}" if np.isfinite(self.df) else "normal")]
        if np.isfinite(self.dispersion):
            lines.append(f"Dispersion (R svyglm): {self.dispersion:.6g}")
        return Summary(self.title, lines, self.notes, self.coefficient_table())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def plot(self, *, ax=None, terms: Sequence[str] | None = None, **kw):
        """Coefficients with their 95 % intervals (intercept and thresholds left out); returns the Axes."""
        c = self.coefficients
        if terms is None:
            c = c[(c["kind"] == "coefficient") & (c.index != "(Intercept)")]
        else:
            c = c.loc[list(terms)]
        ax = new_axes(ax, (6.0, 0.4 * len(c) + 1.2))
        y = np.arange(len(c))
        ax.errorbar(c["coef"], y, xerr=[c["coef"] - c["ci_low"], c["ci_high"] - c["coef"]], fmt="o", capsize=3, **kw)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, c.index.tolist())
        ax.invert_yaxis()
        ax.set_xlabel(f"coefficient ({self.link} scale), 95 % interval")
        return ax


# -- the model matrix ---------------------------------------------------------------------------
def _levels(values: pd.Series) -> list[str]:
    v = values.dropna()
    if pd.api.types.is_numeric_dtype(v.dtype):
        return [_label(x) for x in sorted(v.unique())]
    return sorted(v.astype("str").unique())


def _label(value) -> str:
    return str(int(value)) if isinstance(value, float) and float(value).is_integer() else str(value)


def model_matrix(data: pd.DataFrame, x: Sequence[str], *, categorical: Sequence[str] | Mapping[str, Any] | None = None,
                 full_first_factor: bool = False, name: str = "survey") -> tuple[pd.DataFrame, np.ndarray]:
    """The covariate columns of R's ``model.matrix`` (without the intercept) and the rows that have them all.

    Parameters
    ----------
    data
        The survey table.
    x
        Covariates: numeric columns enter as they are; text columns, and those named in
        ``categorical``, as treatment-coded dummies named ``<column><level>`` (levels sorted,
        the first the reference).
    categorical
        Columns to treat as factors; a mapping ``{column: reference level}`` also sets the
        reference.
    full_first_factor
        Code every level of the first factor (a model without intercept, as R).
    name
        Table name for error messages.

    Returns
    -------
    X, answered
        The columns (missing where a covariate is missing) and the rows with every covariate.
    """
    refs = dict(categorical) if isinstance(categorical, Mapping) else {c: None for c in (categorical or ())}
    cols: dict[str, np.ndarray] = {}
    answered = np.ones(len(data), dtype=bool)
    first = True
    for term in x:
        if term not in data.columns:
            raise MissingInputError(f"table {name}: covariate {term} not found", table=name, column=term)
        v = data[term]
        answered &= v.notna().to_numpy()
        if term in refs or not pd.api.types.is_numeric_dtype(v.dtype):
            levels = _levels(v)
            ref = refs.get(term)
            if ref is not None:
                if _label(ref) not in levels:
                    raise OptionError(f"reference level {ref!r} of {term} not among its levels {levels}")
                levels = [_label(ref)] + [lev for lev in levels if lev != _label(ref)]
            text = v.map(lambda z: None if pd.isna(z) else _label(z)).to_numpy()
            for lev in (levels if (full_first_factor and first) else levels[1:]):
                cols[f"{term}{lev}"] = np.where(pd.isna(v), np.nan, (text == lev).astype("float64"))
            first = False
        else:
            cols[term] = pd.to_numeric(v).to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(cols, index=data.index), answered


def _design_df(survey: SurveyData) -> float:
    """R's ``degf``: PSUs minus strata, or the replicate design's degrees of freedom."""
    if hasattr(survey, "replicate_weights"):
        return float(survey.df)
    d, data = survey.design, survey.data
    psus = data[d.psu].astype("str") if d.psu else pd.Series(np.arange(len(data)).astype("str"), index=data.index)
    strata = data[d.stratum].astype("str") if d.stratum else pd.Series("", index=data.index)
    return float((strata + "|" + psus).nunique() - strata.nunique())


def _where(survey: SurveyData, ok: str, domain):

    expr = pl.col(ok) == 1.0
    dom = survey._where_answered(domain=domain)
    return expr if dom is None else expr & dom


def _domain_mask(survey: SurveyData, domain) -> np.ndarray:
    mask = np.ones(len(survey.data), dtype=bool)
    for col, value in (domain or {}).items():
        survey._check_column(col)
        v = survey.data[col]
        num = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.api.types.is_numeric_dtype(v.dtype) and not pd.isna(num):
            mask &= (pd.to_numeric(v) == float(num)).to_numpy()
        else:
            mask &= (v.astype("str") == str(value)).to_numpy()
    return mask


def _result(survey, coefs: pd.DataFrame, *, response, family, link, n, df, dispersion, cov, method, title,
            indicator, notes) -> RegressionResult:
    table = pd.DataFrame({
        "indicator": indicator or f"survey.regression.{response}",
        "level": "term",
        "unit_id": coefs.index.astype("str"),
        "period": survey.period,
        "value": coefs["coef"].to_numpy(),
        "ci_low": coefs["ci_low"].to_numpy(),
        "ci_high": coefs["ci_high"].to_numpy(),
        "n": n,
        "method": method,
        "flags": "",
        "statistic": coefs["kind"].to_numpy(),
        "variable": coefs.index.astype("str"),
        "se": coefs["se"].to_numpy(),
        "t": coefs["t"].to_numpy(),
        "p": coefs["p"].to_numpy(),
        "df": df,
    })
    return RegressionResult(table=indicator_frame(table, extra=REGRESSION_COLUMNS), title=title, method=method,
                            notes=notes, coefficients=coefs, response=response, family=family, link=link, n=int(n),
                            df=float(df), dispersion=dispersion, cov=cov)


# -- svyglm ----------------------------------------------------------------------------------
def svyglm(survey: SurveyData, y: str, x: Sequence[str] = (), *, family: str = "gaussian", event: Any = None,
           categorical: Sequence[str] | Mapping[str, Any] | None = None, intercept: bool = True,
           domain: Mapping[str, Any] | None = None, indicator: str | None = None) -> RegressionResult:
    """Design-based generalised linear model of ``y`` on ``x`` (R ``svyglm``).

    Parameters
    ----------
    survey
        The survey (Taylor, calibrated or replicate design).
    y
        The response column; for ``family="binomial"`` 0/1, or any column with ``event`` (R
        ``I(y == event)``).
    x, categorical, intercept
        Covariates (:func:`model_matrix`) and whether the model has an intercept.
    family
        ``"gaussian"`` (linear regression), ``"binomial"`` (logistic; R's ``quasibinomial`` gives
        the same coefficients and standard errors) or ``"poisson"``; canonical links.
    domain
        ``{column: value}``: fit in that subpopulation (R ``subset(design, ...)``).
    indicator
        Indicator id of the tidy table (default ``survey.regression.<y>``).

    Returns
    -------
    RegressionResult
        Coefficients, design-based standard errors, t (on ``degf + 1 - p`` df), p, 95 % intervals.
    """
    if family not in FAMILIES:
        raise OptionError(f"family {family!r} unknown; use one of {', '.join(FAMILIES)}")
    survey._check_column(y)
    X, answered = model_matrix(survey.data, x, categorical=categorical, full_first_factor=not intercept,
                               name=survey.name)
    if X.shape[1] == 0 and not intercept:
        raise OptionError("a model needs an intercept or at least one covariate")
    resp = survey.data[y]
    if event is not None:
        yv = np.where(resp.isna(), np.nan, (resp.astype("str") == str(event)).astype("float64"))
    else:
        yv = pd.to_numeric(resp, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = resp.notna().to_numpy() & np.isnan(yv)
        if bad.any():
            row = survey.data.index[bad][0]
            raise DataError("the response must be a number (or give event=)", table=survey.name, row=row, column=y,
                            value=resp.loc[row])
    if family == "binomial" and not set(np.unique(yv[~np.isnan(yv)])) <= {0.0, 1.0}:
        raise DataError("a logistic model needs a 0/1 response; give event= for the level that counts", table=survey.name,
                        column=y)
    answered &= ~np.isnan(yv)
    names = [f"__x{j}" for j in range(X.shape[1])]
    extra = pd.DataFrame({"__y": np.nan_to_num(yv), "__ok": answered.astype("float64")}, index=survey.data.index)
    for j, col in enumerate(X.columns):
        extra[names[j]] = np.nan_to_num(X[col].to_numpy())
    sample = survey._sample(extra)
    replicate = hasattr(survey, "replicate_weights")
    try:
        fit = sample.glm.fit(y="__y", x=names, intercept=intercept, family=family, where=_where(survey, "__ok", domain),
                             method="replication" if replicate else None).fitted
    except _svy().errors.SvyError as exc:
        raise DataError(f"the model cannot be fitted: {str(exc).strip().splitlines()[0].lstrip('❌ ').strip()}",
                        table=survey.name) from exc
    label = dict(zip(names, X.columns))
    label["_intercept_"] = "(Intercept)"
    terms = [label.get(c.term, c.term) for c in fit.coefs]
    coef = np.array([c.est for c in fit.coefs])
    se = np.array([c.se for c in fit.coefs])
    # R: df.residual = degf(design) + 1 - number of coefficients
    df = max(1.0, _design_df(survey) + 1 - len(coef))
    tq = stats.t.ppf(0.975, df)
    tval = coef / se
    coefs = pd.DataFrame({"coef": coef, "se": se, "t": tval, "p": 2 * stats.t.sf(np.abs(tval), df),
                          "ci_low": coef - tq * se, "ci_high": coef + tq * se, "kind": "coefficient"},
                         index=pd.Index(terms, name="term"))
    in_fit = answered & _domain_mask(survey, domain)
    design = np.column_stack([np.ones(len(X))] * intercept + [X[c].to_numpy() for c in X.columns])
    eta = np.nan_to_num(design) @ coef
    mu = special.expit(eta) if family == "binomial" else (np.exp(eta) if family == "poisson" else eta)
    var = {"gaussian": np.ones_like(mu), "binomial": mu * (1 - mu), "poisson": mu}[family]
    pearson = (np.nan_to_num(yv) - mu) / np.sqrt(var)
    w = pd.to_numeric(survey.data[survey.design.weight]).to_numpy(dtype="float64")[in_fit]
    r = pearson[in_fit]
    dispersion = float(np.sum(w * (r - np.sum(w * r) / w.sum()) ** 2) / w.sum() * len(r) / (len(r) - 1))
    cov = pd.DataFrame(np.asarray(fit.cov_matrix), index=terms, columns=terms) if fit.cov_matrix is not None else None
    kind = {"gaussian": "linear", "binomial": "logistic", "poisson": "Poisson"}[family]
    method = (f"design-based {kind} regression (svyglm; svy), {survey._variance_note()}, t on degf + 1 - p = {df:g} df")
    notes = [] if not replicate or not survey.mse else ["Replicate variance about the replicates' mean (mse ignored)."]
    title = f"Design-based {kind} regression of {y}" + (f" = {event}" if event is not None else "") + (
        f" in {', '.join(f'{k} = {v}' for k, v in domain.items())}" if domain else "")
    return _result(survey, coefs, response=y if event is None else f"{y} = {event}", family=family,
                   link=FAMILIES[family], n=int(fit.stats.n), df=df, dispersion=dispersion, cov=cov, method=method,
                   title=title, indicator=indicator, notes=notes)


# -- svyolr ----------------------------------------------------------------------------------
def _cdf_pdf(link: str):
    if link == "logit":
        return (lambda z: 1 / (1 + np.exp(-z))), (lambda z: np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))) ** 2)
    return stats.norm.cdf, stats.norm.pdf


def ordinal_scores(theta: np.ndarray, X: np.ndarray, codes: np.ndarray, k: int, link: str = "logit") -> np.ndarray:
    """Score contributions ``d log P(Y_i = y_i) / d theta`` of the proportional-odds model, one row per respondent.

    ``theta = (beta, zeta)`` with ``P(Y <= j) = F(zeta_j - x'beta)``, ``j = 0 .. k - 2`` (R's
    ``polr`` parameters); ``codes`` are the response categories ``0 .. k - 1``.
    """
    cdf, pdf = _cdf_pdf(link)
    p = X.shape[1]
    beta, zeta = theta[:p], theta[p:]
    eta = X @ beta
    cuts = np.concatenate([[-np.inf], zeta, [np.inf]])
    upper, lower = cuts[codes + 1] - eta, cuts[codes] - eta
    f_up = np.where(np.isfinite(upper), pdf(np.where(np.isfinite(upper), upper, 0.0)), 0.0)
    f_lo = np.where(np.isfinite(lower), pdf(np.where(np.isfinite(lower), lower, 0.0)), 0.0)
    prob = cdf(upper) - cdf(lower)
    scores = np.zeros((len(codes), p + k - 1))
    scores[:, :p] = -X * ((f_up - f_lo) / prob)[:, None]
    rows = np.arange(len(codes))
    up_ok, lo_ok = codes < k - 1, codes > 0
    scores[rows[up_ok], p + codes[up_ok]] += f_up[up_ok] / prob[up_ok]
    scores[rows[lo_ok], p + codes[lo_ok] - 1] -= f_lo[lo_ok] / prob[lo_ok]
    return scores


def _fit_ordinal(X, codes, k, w, link, start=None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ML: statsmodels OrderedModel for the start, Newton steps on the analytic score; theta and -Hessian."""
    from statsmodels.tools.numdiff import approx_fprime  # noqa: PLC0415 - only for the ordinal model's check

    w = w / w.mean()
    if start is None:
        from statsmodels.miscmodels.ordinal_model import OrderedModel  # noqa: PLC0415 - only for svyolr's start values

        class _Weighted(OrderedModel):
            def loglike(self, params):
                return float(np.sum(w * self.loglikeobs(params)))

        model = _Weighted(codes, X, distr="logit" if link == "logit" else "probit")
        res = model.fit(method="bfgs", disp=False, maxiter=2000)
        start = np.concatenate([res.params[:X.shape[1]], model.transform_threshold_params(res.params)[1:-1]])
    theta = np.asarray(start, dtype="float64")

    def total_score(t):
        return w @ ordinal_scores(t, X, codes, k, link)

    for _ in range(50):
        info = -approx_fprime(theta, total_score, centered=True)
        step = np.linalg.solve(info, total_score(theta))
        theta = theta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta, -approx_fprime(theta, total_score, centered=True)


def svyolr(survey: SurveyData, y: str, x: Sequence[str], *, categorical: Sequence[str] | Mapping[str, Any] | None = None,
           levels: Sequence[Any] | None = None, link: str = "logit", domain: Mapping[str, Any] | None = None,
           indicator: str | None = None) -> RegressionResult:
    """Design-based proportional-odds model of an ordered item (R ``svyolr``), e.g. a 1-5 Likert answer.

    Parameters
    ----------
    survey
        The survey (Taylor, calibrated or replicate design).
    y
        The ordered response: numbers in numeric order, or any values in the order ``levels``.
    x, categorical
        Covariates (:func:`model_matrix`; no intercept: the thresholds take its place).
    levels
        The response categories from lowest to highest (default: the sorted values).
    link
        ``"logit"`` (proportional odds) or ``"probit"``.
    domain
        ``{column: value}``: fit in that subpopulation.
    indicator
        Indicator id of the tidy table.

    Returns
    -------
    RegressionResult
        The slopes ``beta`` (log cumulative odds ratios of answering *higher*: ``P(Y <= k)`` falls
        as ``x'beta`` rises) and the thresholds ``zeta`` (``kind == "threshold"``, named
        ``low|high``), with design-based standard errors and normal 95 % intervals.
    """
    if link not in ("logit", "probit"):
        raise OptionError(f"link {link!r} unknown; use 'logit' or 'probit'")
    survey._check_column(y)
    X, answered = model_matrix(survey.data, x, categorical=categorical, name=survey.name)
    resp = survey.data[y]
    order = [_label(v) for v in levels] if levels is not None else _levels(resp)
    text = resp.map(lambda z: None if pd.isna(z) else _label(z))
    unknown = resp.notna().to_numpy() & ~text.isin(order).to_numpy()
    if unknown.any():
        row = survey.data.index[unknown][0]
        raise DataError(f"answer not among the levels {order}", table=survey.name, row=row, column=y, value=resp.loc[row])
    if len(order) < 3:
        raise OptionError(f"an ordinal model needs three or more levels; {y} has {order} (use svyglm(family='binomial'))")
    codes_all = text.map({lev: i for i, lev in enumerate(order)}).to_numpy(dtype="float64", na_value=np.nan)
    in_fit = answered & ~np.isnan(codes_all) & _domain_mask(survey, domain)
    Xf = X.to_numpy(dtype="float64")[in_fit]
    codes = codes_all[in_fit].astype(int)
    k = len(order)
    w_all = pd.to_numeric(survey.data[survey.design.weight]).to_numpy(dtype="float64")
    theta, info = _fit_ordinal(Xf, codes, k, w_all[in_fit], link)
    names = list(X.columns) + [f"{order[j]}|{order[j + 1]}" for j in range(k - 1)]
    scale = w_all[in_fit].mean()  # the fit normalises the weights to mean 1
    infl = np.zeros((len(w_all), len(theta)))
    infl[in_fit] = ordinal_scores(theta, Xf, codes, k, link) @ np.linalg.inv(info) / scale
    if hasattr(survey, "replicate_weights"):
        reps = survey.replicate_weights[in_fit]
        thetas = np.array([_fit_ordinal(Xf, codes, k, reps[:, r], link, start=theta)[0] for r in range(reps.shape[1])])
        centre = theta if survey.mse else thetas.mean(axis=0)
        se = np.sqrt(np.sum(survey.coefficients[:, None] * (thetas - centre) ** 2, axis=0))
    else:
        cols = {f"__infl{j}": infl[:, j] for j in range(len(theta))}
        sample = survey._sample(pd.DataFrame(cols, index=survey.data.index))
        where = survey._where_answered(domain=domain)
        se = np.array([float(survey._estimate("total", sample, c, where=where)["se"].iloc[0]) for c in cols])
    z = theta / se
    q = stats.norm.ppf(0.975)
    coefs = pd.DataFrame({"coef": theta, "se": se, "t": z, "p": 2 * stats.norm.sf(np.abs(z)), "ci_low": theta - q * se,
                          "ci_high": theta + q * se, "kind": ["coefficient"] * X.shape[1] + ["threshold"] * (k - 1)},
                         index=pd.Index(names, name="term"))
    kind = "proportional-odds (cumulative logit)" if link == "logit" else "cumulative probit"
    method = (f"design-based {kind} model (svyolr; weighted ML, statsmodels OrderedModel + Newton), sandwich variance "
              f"from {survey._variance_note()}, normal intervals")
    title = f"Design-based {kind} model of {y}" + (
        f" in {', '.join(f'{a} = {b}' for a, b in domain.items())}" if domain else "")
    return _result(survey, coefs, response=y, family="ordinal", link=link, n=int(in_fit.sum()), df=float("inf"),
                   dispersion=float("nan"), cov=None, method=method, title=title, indicator=indicator,
                   notes=[f"P({y} <= k) = F(zeta_k - x'beta): a positive coefficient shifts answers up."])
