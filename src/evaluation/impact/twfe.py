"""Two-way fixed effects and the raw comparison: the naive estimates shown beside the DiD.

Under staggered adoption with effects that change over time a two-way fixed-effects regression
compares late with early adopters and is biased (Goodman-Bacon 2021; de Chaisemartin and
D'Haultfoeuille 2020): it is reported only to show the difference to Callaway and Sant'Anna.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from evaluation.errors import DataError


def _two_way_demean(v: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float = 1e-13, max_iter: int = 10_000) -> np.ndarray:
    """Residual of ``v`` on dummies of ``a`` and ``b`` (integer codes) by alternating projections.

    One sweep is exact on a balanced panel; an unbalanced one converges geometrically (the
    method of alternating projections behind ``reghdfe`` and ``fixest``).
    """
    out = v - v.mean()
    na, nb = np.bincount(a), np.bincount(b)
    for _ in range(max_iter):
        prev = out
        out = out - (np.bincount(a, out) / na)[a]
        out = out - (np.bincount(b, out) / nb)[b]
        if np.max(np.abs(out - prev)) <= tol * (1 + np.max(np.abs(out))):
            break
    return out


def twfe(data: pd.DataFrame, outcome: str, unit: str, time: str, first_treated: str,
         cluster: str | None = None, alpha: float = 0.05) -> dict[str, Any]:
    """Naive TWFE: OLS of ``outcome`` on the treated-and-post dummy with unit and period dummies.

    ``D_it = 1`` when unit ``i`` has adopted by period ``t`` (``first_treated > 0`` and
    ``time >= first_treated``). The coefficient comes from the within (Frisch-Waugh-Lovell)
    regression after sweeping out both sets of dummies; the standard error is cluster-robust CR1 by
    ``cluster`` (default the unit) with the small-sample factor ``G/(G-1) * (N-1)/(N-K)``, ``K``
    counting the dummies, i.e. what statsmodels ``OLS(...).fit(cov_type="cluster")`` gives on the
    full dummy regression (``tests/test_impact.py`` checks that equality).
    """
    cols = list(dict.fromkeys([outcome, unit, time, first_treated] + ([cluster] if cluster else [])))
    d = data[cols].dropna(subset=[outcome])
    D = ((d[first_treated] > 0) & (d[time] >= d[first_treated])).to_numpy(dtype=float)
    a, b = pd.factorize(d[unit])[0], pd.factorize(d[time])[0]
    y = _two_way_demean(d[outcome].to_numpy(dtype=float), a, b)
    x = _two_way_demean(D, a, b)
    sxx = float(x @ x)
    if sxx <= 1e-12 * max(len(x), 1):
        raise DataError("the treatment dummy has no variation left after unit and period effects")
    beta = float(x @ y) / sxx
    u = y - beta * x
    groups = pd.factorize(d[cluster or unit])[0]
    G, N = int(groups.max() + 1), len(d)
    K = 1 + (a.max() + 1) + (b.max() + 1) - 1  # treated + unit dummies + period dummies (one absorbed)
    meat = float(np.sum(np.bincount(groups, x * u) ** 2))
    se = float(np.sqrt(meat / sxx**2 * G / (G - 1) * (N - 1) / (N - K)))
    # statsmodels uses the normal distribution for cluster-robust intervals by default; so do we
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    return {"att": beta, "se": se, "ci_low": beta - z * se, "ci_high": beta + z * se, "n": int(N),
            "clusters": G, "cluster": cluster or unit}


def naive_difference(data: pd.DataFrame, outcome: str, unit: str, time: str, first_treated: str,
                     cluster: str | None = None, alpha: float = 0.05) -> dict[str, Any]:
    """Raw comparison: adopters after adoption minus never-adopters over the same periods.

    The difference between the mean ``outcome`` of adopters' unit-periods from their adoption on
    (``first_treated > 0`` and ``time >= first_treated``) and that of never-adopters'
    (``first_treated == 0``) unit-periods in the periods where some adopter is treated. It mixes the
    effect with every pre-existing difference between the groups (selection) and is shown only to
    be contrasted with the difference-in-differences. The standard error is that of the OLS slope of
    ``outcome`` on the adopter dummy in that sample, cluster-robust (CR1) by ``cluster`` (default
    ``unit``), as statsmodels ``OLS(...).fit(cov_type="cluster")``.

    Returns
    -------
    dict
        ``att`` (the difference), ``se``, ``ci_low``, ``ci_high``, ``mean_adopters``,
        ``mean_never``, ``n_adopter_obs``, ``n_never_obs``, ``clusters``.
    """
    cols = list(dict.fromkeys([outcome, unit, time, first_treated] + ([cluster] if cluster else [])))
    d = data[cols].dropna(subset=[outcome])
    treated = (d[first_treated] > 0) & (d[time] >= d[first_treated])
    never = d[first_treated] == 0
    never &= d[time].isin(set(d.loc[treated, time]))
    d = d[treated | never]
    if not treated.any() or not never.any():
        raise DataError("the raw comparison needs adopters after adoption and never-adopters in the same periods")
    x = treated[d.index].to_numpy(dtype=float)
    y = d[outcome].to_numpy(dtype=float)
    m1, m0 = float(y[x == 1].mean()), float(y[x == 0].mean())
    beta = m1 - m0
    xc = x - x.mean()
    u = y - (m0 + beta * x)
    groups = pd.factorize(d[cluster or unit])[0]
    G, N, K = int(groups.max() + 1), len(d), 2
    sxx = float(xc @ xc)
    meat = float(np.sum(np.bincount(groups, xc * u) ** 2))
    se = float(np.sqrt(meat / sxx**2 * G / (G - 1) * (N - 1) / (N - K)))
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    return {"att": beta, "se": se, "ci_low": beta - z * se, "ci_high": beta + z * se, "mean_adopters": m1,
            "mean_never": m0, "n_adopter_obs": int((x == 1).sum()), "n_never_obs": int((x == 0).sum()), "clusters": G}
