"""Two other heterogeneity-robust staggered estimators, beside Callaway-Sant'Anna.

* :func:`sun_abraham`: the interaction-weighted event study of Sun and Abraham (2021, *Journal of
  Econometrics* 225(2), 175-199): a two-way fixed-effects regression with one dummy per adoption
  cohort and relative period (the period before adoption left out), never-adopters as the control
  cohort, the cohort-specific coefficients averaged with each cohort's share among the units
  observed at that relative period. On a balanced panel without covariates its coefficients are
  Callaway-Sant'Anna's ATT(g,t) with a universal base period (``tests/test_impact_robustness.py``
  checks that equality to 1e-10); its standard errors are cluster-robust (CR1, by unit) from the
  regression, the weights treated as known (as R ``fixest::sunab`` does).
* :func:`imputation`: the imputation estimator of Borusyak, Jaravel and Spiess (2024, *Review of
  Economic Studies* 91(6), 3253-3285): unit and period effects fitted on the untreated
  observations only (never-adopters and adopters before adoption), each treated observation's
  untreated outcome imputed from them, and the differences averaged (over all treated
  observations, or by event time). Standard errors: the conservative clustered estimator of their
  Theorem 3, with the treated observations' residuals taken around the mean effect of their
  cohort and period.

Neither estimator is in ``moderndid`` 0.2 (its ``didimpute`` module is an empty placeholder) and
the packages that have them (R ``fixest``, ``didimputation``; Python ``pyfixest``) are not
dependencies, so both are written here, in closed form on the panel: a regression and a
projection. Both need a balanced panel (the Callaway-Sant'Anna estimation sample is one) and no
covariates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.stats

from evaluation.errors import DataError, OptionError
from evaluation.impact.twfe import _two_way_demean
from evaluation.results import IndicatorResult, new_axes


@dataclass
class EventStudyEstimate(IndicatorResult):
    """An event study and its overall effect from one estimator.

    ``.table``: one row per event time (``event_time``, ``att``, ``se``, ``ci_low``, ``ci_high``,
    ``n_units``: adopters the estimate rests on). ``overall``: ``att``, ``se``, ``ci_low``,
    ``ci_high`` of the average effect over all treated unit-periods (the weighting of
    Callaway-Sant'Anna's simple aggregate). ``cells``: the cohort x relative-period estimates.
    """

    estimator: str = ""
    overall: dict = field(default_factory=dict)
    cells: pd.DataFrame | None = None

    def summary_lines(self) -> list[str]:
        """Method and the overall effect."""
        o = self.overall
        return [f"Method: {self.method}",
                f"Overall effect: {o['att']:.4g} (95 % {o['ci_low']:.4g} to {o['ci_high']:.4g}; SE {o['se']:.3g})"]

    def plot(self, *, ax=None, **kw):
        """Event-study estimates with pointwise 95 % intervals; returns the Axes."""
        t = self.table
        ax = new_axes(ax)
        ax.errorbar(t["event_time"], t["att"], yerr=[t["att"] - t["ci_low"], t["ci_high"] - t["att"]], fmt="o",
                    capsize=3, label=kw.pop("label", self.estimator), **kw)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("periods since adoption")
        return ax


def _design(data: pd.DataFrame, outcome: str, unit: str, time: str, first_treated: str,
            extra: tuple[str, ...] = ()) -> pd.DataFrame:
    cols = list(dict.fromkeys([unit, time, first_treated, outcome, *extra]))
    d = data[cols].dropna(subset=[outcome]).copy()
    counts = d.groupby(unit)[time].nunique()
    if counts.nunique() != 1 or counts.iloc[0] != d[time].nunique() or d.duplicated([unit, time]).any():
        raise DataError("the estimator needs a balanced panel: one row per unit and period, none missing")
    d["_g"] = d[first_treated].astype("int64")
    d["_t"] = d[time].astype("int64")
    if (d["_g"].gt(0) & d["_g"].le(d["_t"].min())).any():
        raise DataError("units treated from the first period on (always treated) must be left out first")
    d["_a"] = pd.factorize(d[unit])[0]
    d["_b"] = pd.factorize(d["_t"])[0]
    return d.reset_index(drop=True)


def _cr1(X: np.ndarray, u: np.ndarray, clusters: np.ndarray, k_extra: int) -> np.ndarray:
    """CR1 cluster-robust covariance of the OLS coefficients of ``X`` (already demeaned).

    ``k_extra`` absorbed dummies are counted in the small-sample factor ``G/(G-1) (N-1)/(N-K)``.
    """
    bread = np.linalg.pinv(X.T @ X)
    G = int(clusters.max()) + 1
    scores = np.zeros((G, X.shape[1]))
    np.add.at(scores, clusters, X * u[:, None])
    N, K = X.shape[0], X.shape[1] + k_extra
    return bread @ (scores.T @ scores) @ bread * G / (G - 1) * (N - 1) / (N - K)


def _overall(att: float, se: float, alpha: float) -> dict:
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    return {"att": float(att), "se": float(se), "ci_low": float(att - z * se), "ci_high": float(att + z * se)}


def sun_abraham(data: pd.DataFrame, outcome: str, *, unit: str, time: str, first_treated: str,
                alpha: float = 0.05) -> EventStudyEstimate:
    """Sun-Abraham interaction-weighted event study (module docstring) of a balanced panel.

    ``first_treated`` is 0 for never-adopters, who are the control cohort; there must be some.
    """
    d = _design(data, outcome, unit, time, first_treated)
    if not d["_g"].eq(0).any():
        raise OptionError("Sun-Abraham needs never-adopting units as the control cohort")
    treated = d["_g"] > 0
    rel = np.where(treated, d["_t"] - d["_g"], 0)
    cells = sorted({(int(g), int(r)) for g, r in zip(d.loc[treated, "_g"], rel[treated]) if r != -1})
    col = {c: j for j, c in enumerate(cells)}
    X = np.zeros((len(d), len(cells)))
    for i in np.flatnonzero(treated.to_numpy()):
        c = (int(d["_g"].iat[i]), int(rel[i]))
        if c in col:
            X[i, col[c]] = 1.0
    a, b = d["_a"].to_numpy(), d["_b"].to_numpy()
    Xd = np.column_stack([_two_way_demean(X[:, j], a, b) for j in range(X.shape[1])])
    yd = _two_way_demean(d[outcome].to_numpy(dtype=float), a, b)
    beta, *_ = np.linalg.lstsq(Xd, yd, rcond=None)
    u = yd - Xd @ beta
    V = _cr1(Xd, u, a, k_extra=(a.max() + 1) + (b.max() + 1) - 1)
    size = d.loc[treated].groupby("_g")[unit].nunique()
    cell = pd.DataFrame(cells, columns=["cohort", "event_time"])
    cell["att"], cell["se"] = beta, np.sqrt(np.diag(V))
    cell["n_units"] = cell["cohort"].map(size).to_numpy()
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    rows = []
    for e, grp in cell.groupby("event_time"):
        w = np.zeros(len(cells))
        w[grp.index] = grp["n_units"] / grp["n_units"].sum()
        est, se = float(w @ beta), float(np.sqrt(w @ V @ w))
        rows.append({"event_time": int(e), "att": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se,
                     "n_units": int(grp["n_units"].sum())})
    post = cell["event_time"].ge(0).to_numpy()
    w = np.where(post, cell["n_units"], 0.0)
    w = w / w.sum()
    return EventStudyEstimate(
        table=pd.DataFrame(rows), title="Sun-Abraham interaction-weighted event study",
        method=("Sun and Abraham (2021): TWFE with cohort x relative-period dummies (e = -1 left out), never-adopters "
                "as control cohort, cohort-share weights; CR1 SE by unit"),
        estimator="sun_abraham", overall=_overall(w @ beta, np.sqrt(w @ V @ w), alpha), cells=cell)


def imputation(data: pd.DataFrame, outcome: str, *, unit: str, time: str, first_treated: str,
               alpha: float = 0.05, cluster: str | None = None) -> EventStudyEstimate:
    """Borusyak-Jaravel-Spiess imputation estimator (module docstring) of a balanced panel.

    Returns the overall effect (all treated unit-periods equally weighted) and the effect by event
    time ``e >= 0``, with the conservative clustered standard errors of their Theorem 3.
    """
    d = _design(data, outcome, unit, time, first_treated, extra=(cluster,) if cluster else ())
    d["_c"] = pd.factorize(d[cluster])[0] if cluster else d["_a"]
    treated = (d["_g"].gt(0) & d["_t"].ge(d["_g"])).to_numpy()
    if treated.all() or not treated.any():
        raise DataError("the imputation estimator needs treated and untreated observations")
    a, b = d["_a"].to_numpy(), d["_b"].to_numpy()
    n_a, n_b = a.max() + 1, b.max() + 1
    if set(b[treated]) - set(b[~treated]):
        raise DataError("some period has no untreated observation to impute from (no comparison units)")
    # dummies of units and periods (the first period's left out)
    Z = np.zeros((len(d), n_a + n_b - 1))
    Z[np.arange(len(d)), a] = 1.0
    later = b > 0
    Z[np.flatnonzero(later), n_a + b[later] - 1] = 1.0
    y = d[outcome].to_numpy(dtype=float)
    Z0, Z1 = Z[~treated], Z[treated]
    coef, *_ = np.linalg.lstsq(Z0, y[~treated], rcond=None)
    tau = y[treated] - Z1 @ coef
    resid0 = y[~treated] - Z0 @ coef
    rel = (d["_t"] - d["_g"]).to_numpy()[treated]
    horizons = np.unique(rel)
    # weights on the treated observations of each estimand: overall, then each event time
    W1 = np.column_stack([np.full(len(tau), 1.0 / len(tau))] + [(rel == h) / (rel == h).sum() for h in horizons])
    # implied weights on the untreated observations: -Z0 (Z0'Z0)^-1 Z1' w1 (the imputation is linear in y0)
    V0 = -Z0 @ np.linalg.lstsq(Z0.T @ Z0, Z1.T @ W1, rcond=None)[0]
    cellkey = pd.factorize(pd.Series(list(zip(d["_g"].to_numpy()[treated], d["_t"].to_numpy()[treated]))))[0]
    c0, c1 = d["_c"].to_numpy()[~treated], d["_c"].to_numpy()[treated]
    n_c = int(d["_c"].max()) + 1
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    est, ses = [], []
    for j in range(W1.shape[1]):
        w1, v0 = W1[:, j], V0[:, j]
        # treated residuals around the weighted mean effect of each cohort x period cell (BJS, Theorem 3)
        wsum = np.bincount(cellkey, w1)
        bar = np.divide(np.bincount(cellkey, w1 * tau), wsum, out=np.zeros_like(wsum), where=wsum > 0)
        e1 = tau - bar[cellkey]
        s = np.bincount(c0, v0 * resid0, minlength=n_c) + np.bincount(c1, w1 * e1, minlength=n_c)
        est.append(float(w1 @ tau))
        ses.append(float(np.sqrt(np.sum(s**2))))
    rows = [{"event_time": int(h), "att": est[k + 1], "se": ses[k + 1], "ci_low": est[k + 1] - z * ses[k + 1],
             "ci_high": est[k + 1] + z * ses[k + 1],
             "n_units": int(d.loc[treated].loc[rel == h, unit].nunique())} for k, h in enumerate(horizons)]
    return EventStudyEstimate(
        table=pd.DataFrame(rows), title="Imputation estimator (Borusyak, Jaravel and Spiess)",
        method=("Borusyak, Jaravel and Spiess (2024): unit and period effects from untreated observations, imputed "
                "untreated outcomes, conservative clustered SE (Theorem 3)"),
        estimator="imputation", overall=_overall(est[0], ses[0], alpha))
