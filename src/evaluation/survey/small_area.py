"""Area-level small-area estimates: the Fay-Herriot (1979) model.

Many communities have few respondents; their direct (design-based) estimates are noisy. The
Fay-Herriot model combines each direct estimate ``y_i`` (sampling variance ``D_i``, taken as
known: the squared design-based standard error) with a regression on registry covariates
``x_i`` (e.g. red-property coverage, staffing):

    y_i = x_i' beta + u_i + e_i,   u_i ~ N(0, A),   e_i ~ N(0, D_i).

The EBLUP is ``gamma_i y_i + (1 - gamma_i) x_i' beta_hat`` with ``gamma_i = A / (A + D_i)``:
areas with precise direct estimates keep them, noisy ones borrow strength from the regression.
``A`` is estimated by REML (default) or by the Prasad-Rao (1990) moment estimator, truncated at
zero. The MSE is the second-order approximation ``g1 + g2 + 2 g3`` (Prasad & Rao 1990; Datta &
Lahiri 2000 for REML; Rao & Molina 2015, *Small Area Estimation*, 2nd ed., sections 6.1-6.2).
Written here on numpy/scipy (``svy-sae`` would need JAX); checked against planted truth and the
closed-form limits in ``tests/test_small_area.py``.

Sampling variances ``D_i`` of areas with one or two sampled clusters are not usable as
"known": the linearised variance of a domain inside a single PSU has no between-PSU term.
:func:`smooth_direct_variances` replaces them by a generalised variance function
``sigma2_between / clusters + sigma2_within / respondents`` with components pooled over the
sample (:func:`cluster_variance_components`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.results import IndicatorResult, indicator_frame, new_axes


def _gls(y, X, V):
    Vi = 1.0 / V
    XtViX = X.T @ (X * Vi[:, None])
    cov_beta = np.linalg.inv(XtViX)
    beta = cov_beta @ (X.T @ (Vi * y))
    return beta, cov_beta


def _neg_restricted_loglik(A, y, X, D):
    V = A + D
    Vi = 1.0 / V
    XtViX = X.T @ (X * Vi[:, None])
    beta = np.linalg.solve(XtViX, X.T @ (Vi * y))
    r = y - X @ beta
    _, logdet = np.linalg.slogdet(XtViX)
    return 0.5 * (np.sum(np.log(V)) + logdet + np.sum(r**2 * Vi))


def estimate_area_variance(y, X, D, method: str = "reml") -> float:
    """Estimate the area-effect variance ``A`` (truncated at 0).

    ``"reml"``: maximiser of the restricted likelihood on ``[0, upper]``; ``"pr"``: Prasad-Rao
    moment estimator ``(sum r_i^2 - sum D_i (1 - h_ii)) / (m - p)`` from OLS residuals.
    """
    y, X, D = np.asarray(y, float), np.asarray(X, float), np.asarray(D, float)
    m, p = X.shape
    if method == "pr":
        H = X @ np.linalg.pinv(X.T @ X) @ X.T
        r = y - H @ y
        return float(max(0.0, (np.sum(r**2) - np.sum(D * (1 - np.diag(H)))) / (m - p)))
    if method != "reml":
        raise OptionError(f"Fay-Herriot variance method {method!r} unknown; use 'reml' or 'pr'")
    upper = max(10 * np.var(y, ddof=1), 10 * D.max(), 1e-8)
    res = optimize.minimize_scalar(_neg_restricted_loglik, bounds=(0.0, upper), args=(y, X, D), method="bounded",
                                   options={"xatol": 1e-10 * upper})
    A = float(res.x)
    # The bounded search never lands exactly on 0; compare with the boundary.
    if _neg_restricted_loglik(0.0, y, X, D) <= res.fun:
        A = 0.0
    return A


@dataclass
class FayHerriotResult(IndicatorResult):
    """Fay-Herriot EBLUPs beside the direct estimates.

    ``table`` holds the tidy indicator columns (``value`` = EBLUP, interval = EBLUP +- 1.96 RMSE)
    plus ``direct``, ``direct_se``, ``eblup_rmse``, ``gamma`` (weight on the direct estimate),
    ``synthetic`` (``x' beta``). ``sigma2_u`` is the estimated area variance, ``beta`` the
    regression coefficients.
    """

    sigma2_u: float = np.nan
    beta: pd.Series | None = None

    def plot(self, *, ax=None, truth: dict[str, float] | None = None):
        """Direct estimates and EBLUPs with their 95 % intervals, areas sorted by direct SE.

        ``truth`` (unit -> true value, synthetic data only) adds the true values as crosses.
        """
        t = self.table.sort_values("direct_se", na_position="last").reset_index(drop=True)
        ax = new_axes(ax, (6.5, 0.3 * len(t) + 1.5))
        y = np.arange(len(t))
        ax.errorbar(t["direct"], y - 0.15, xerr=1.96 * t["direct_se"], fmt="o", ms=4, capsize=2,
                    label="direct ± 1.96 SE (as the model uses it)")
        ax.errorbar(t["value"], y + 0.15, xerr=1.96 * t["eblup_rmse"], fmt="s", ms=4, capsize=2, label="Fay-Herriot EBLUP")
        if truth:
            ax.plot([truth.get(str(u), np.nan) for u in t["unit_id"]], y, "x", color="crimson", ms=6, label="true value")
        ax.set_yticks(y, t["unit_id"])
        ax.invert_yaxis()
        ax.legend(fontsize="small")
        return ax


def fay_herriot(direct: pd.DataFrame, covariates: pd.DataFrame, *, estimate: str = "value", se: str = "se",
                unit: str = "unit_id", method: str = "reml", sigma2_u: float | None = None,
                indicator: str | None = None, period: str = "", level: str = "community") -> FayHerriotResult:
    """Fit the Fay-Herriot model and return EBLUPs with Prasad-Rao MSE beside the direct estimates.

    Parameters
    ----------
    direct
        One row per area with the direct estimate (``estimate``) and its design-based standard
        error (``se``), e.g. ``SurveyData.mean(..., by="community_id").table``. Extra columns
        ``n`` and ``flags`` are carried over.
    covariates
        One row per area (``unit`` column) with numeric covariates; an intercept is added. Areas
        here without a usable direct estimate get the regression-synthetic estimate.
    method
        ``"reml"`` or ``"pr"`` (Prasad-Rao moments).
    sigma2_u
        Fix the area variance instead of estimating it (then ``g3 = 0``).
    """
    cov = covariates.set_index(unit)
    xcols = [c for c in cov.columns if pd.api.types.is_numeric_dtype(cov[c])]
    d = direct.set_index(direct[unit].astype("str"))
    areas = pd.Index(cov.index.astype("str")).union(d.index)
    X_all = cov.reindex(areas)[xcols].astype("float64")
    if X_all.isna().any().any():
        bad = X_all.index[X_all.isna().any(axis=1)][0]
        raise MissingInputError(f"covariates: area {bad} has missing covariates")
    X_all.insert(0, "intercept", 1.0)
    y_all = pd.to_numeric(d[estimate].reindex(areas), errors="coerce")
    se_all = pd.to_numeric(d[se].reindex(areas), errors="coerce")
    fit = y_all.notna() & (se_all > 0)
    y, D, X = y_all[fit].to_numpy(), (se_all[fit] ** 2).to_numpy(), X_all[fit].to_numpy()
    m, p = X.shape
    if m <= p + 1:
        raise DataError(f"Fay-Herriot needs more areas with direct estimates ({m}) than covariates + 2 ({p + 1})")
    A = float(sigma2_u) if sigma2_u is not None else estimate_area_variance(y, X, D, method)
    beta, cov_beta = _gls(y, X, A + D)
    if sigma2_u is not None:
        var_A = 0.0
    elif method == "reml":
        var_A = 2.0 / np.sum(1.0 / (A + D) ** 2)  # inverse Fisher information (Datta & Lahiri 2000)
    else:
        var_A = 2.0 / m**2 * np.sum((A + D) ** 2)  # Prasad & Rao (1990)
    Xa = X_all.to_numpy()
    synthetic = Xa @ beta
    Da = (se_all**2).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma = np.where(fit, A / (A + Da), 0.0)
        g1 = gamma * Da
        g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", Xa, cov_beta, Xa)
        g3 = np.where(fit, Da**2 / (A + Da) ** 3 * var_A, 0.0)
        g1 = np.where(fit, g1, A)  # out-of-sample area: MSE of x'beta_hat + u is A + g2
        g2 = np.where(fit, g2, np.einsum("ij,jk,ik->i", Xa, cov_beta, Xa))
    eblup = np.where(fit, gamma * y_all.fillna(0).to_numpy() + (1 - gamma) * synthetic, synthetic)
    rmse = np.sqrt(g1 + g2 + 2 * g3)
    z = stats.norm.ppf(0.975)
    n = d["n"].reindex(areas) if "n" in d else np.nan
    flags = d["flags"].reindex(areas).fillna("") if "flags" in d else ""
    flags = pd.Series(flags, index=areas).astype("str")
    flags[~fit.to_numpy()] = [f"{f};no_direct_estimate" if f else "no_direct_estimate" for f in flags[~fit.to_numpy()]]
    name = "REML" if method == "reml" else "Prasad-Rao moments"
    meth = (f"Fay-Herriot EBLUP (area variance by {name if sigma2_u is None else 'fixed value'}; "
            f"MSE g1+g2+2g3, Prasad-Rao 1990); 95 % interval EBLUP +- 1.96 RMSE")
    table = pd.DataFrame({
        "indicator": indicator or (str(d["indicator"].iloc[0]) if "indicator" in d and len(d) else "survey.fay_herriot"),
        "level": level, "unit_id": areas, "period": period or (str(d["period"].iloc[0]) if "period" in d and len(d) else ""),
        "value": eblup, "ci_low": eblup - z * rmse, "ci_high": eblup + z * rmse, "n": n, "method": meth,
        "flags": flags.to_numpy(), "direct": y_all.to_numpy(), "direct_se": se_all.to_numpy(), "eblup_rmse": rmse,
        "gamma": gamma, "synthetic": synthetic,
    })
    table = indicator_frame(table, extra=("direct", "direct_se", "eblup_rmse", "gamma", "synthetic"))
    notes = [f"Estimated area variance sigma2_u = {A:.4g} from {m} areas with direct estimates."]
    if A == 0:
        notes.append("sigma2_u truncated at 0: every EBLUP equals the regression-synthetic estimate.")
    return FayHerriotResult(table=table, title="Small-area estimates (Fay-Herriot)", method=meth, notes=notes,
                            sigma2_u=A, beta=pd.Series(beta, index=X_all.columns))


def cluster_variance_components(y, cluster, area=None) -> tuple[float, float]:
    """Within- and between-cluster variance of ``y`` by one-way ANOVA (method of moments).

    ``within`` is the pooled within-cluster variance ``sum_c sum_j (y - ybar_c)^2 / (n - C)``;
    ``between`` is ``(MSB - within) / m0`` with ``MSB`` the between-cluster mean square and
    ``m0 = (n - sum n_c^2 / n) / (C - 1)`` the effective cluster size (Searle, Casella & McCulloch
    1992, section 3.6), truncated at 0. With ``area`` (clusters nested in areas) the clusters vary
    around their area's mean: ``MSB = sum n_c (ybar_c - ybar_a)^2 / (C - A)`` and
    ``m0 = (n - sum_a sum_c n_c^2 / n_a) / (C - A)``, the variance of clusters *within* an area,
    which is what the sampling variance of an area mean needs. Unweighted: meant for smoothing
    sampling variances, not as a population estimate.
    """
    s = pd.DataFrame({"y": np.asarray(y, dtype="float64"), "c": np.asarray(cluster),
                      "a": np.asarray(area) if area is not None else 0}).dropna()
    g = s.groupby("c")["y"]
    n, C = len(s), s["c"].nunique()
    A = s["a"].nunique()
    if C - A < 1 or n <= C:
        raise DataError("variance components need more clusters than areas and more respondents than clusters")
    within = float(((s["y"] - g.transform("mean")) ** 2).sum() / (n - C))
    cl = s.groupby("c").agg(n_c=("y", "size"), mean_c=("y", "mean"), a=("a", "first"))
    area_mean = s.groupby("a")["y"].mean()
    area_n = s.groupby("a").size()
    msb = float(np.sum(cl["n_c"] * (cl["mean_c"] - cl["a"].map(area_mean)) ** 2) / (C - A))
    m0 = (n - np.sum(cl["n_c"] ** 2 / cl["a"].map(area_n))) / (C - A)
    return within, max(0.0, (msb - within) / m0)


def smoothed_sampling_variance(respondents, clusters, within: float, between: float) -> np.ndarray:
    """Sampling variance of an area mean from ``clusters`` sampled clusters and ``respondents`` people.

    ``D = between / k + within / n`` (two-stage sampling of clusters, then people, without
    finite-population corrections; Cochran 1977, eq. 10.8 for equal cluster sizes). A generalised
    variance function for Fay-Herriot models: unlike the direct linearised variance of a domain
    with one sampled cluster, whose between-cluster term is zero, it counts the cluster effect.
    """
    k = np.asarray(clusters, dtype="float64")
    n = np.asarray(respondents, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((k > 0) & (n > 0), between / k + within / n, np.nan)


def smooth_direct_variances(direct: pd.DataFrame, data: pd.DataFrame, y: str, *, area: str, cluster: str,
                            unit: str = "unit_id") -> pd.DataFrame:
    """Copy of a table of direct area estimates with smoothed standard errors for Fay-Herriot.

    Adds ``clusters`` (sampled clusters in the area), ``respondents`` (answers to ``y``) and
    ``smoothed_se`` = sqrt(:func:`smoothed_sampling_variance`) with the variance components of
    ``y`` pooled over the whole sample, clusters nested in areas (:func:`cluster_variance_components`). Use
    ``fay_herriot(..., se="smoothed_se")`` when areas have one or two sampled clusters: their
    linearised variances miss (one cluster) or barely estimate (two) the between-cluster term.
    """
    answered = data[data[y].notna()]
    within, between = cluster_variance_components(pd.to_numeric(answered[y]).astype("float64"), answered[cluster],
                                                  answered[area].astype("str"))
    key = direct[unit].astype("str")
    k = answered.groupby(answered[area].astype("str"))[cluster].nunique()
    n = answered.groupby(answered[area].astype("str")).size()
    out = direct.copy()
    out["clusters"] = key.map(k).fillna(0).astype("int64").to_numpy()
    out["respondents"] = key.map(n).fillna(0).astype("int64").to_numpy()
    out["smoothed_se"] = np.sqrt(smoothed_sampling_variance(out["respondents"], out["clusters"], within, between))
    return out
