"""Why the two-way fixed-effects estimate differs: the Goodman-Bacon (2021) decomposition.

On a balanced panel with staggered adoption and no covariates, the TWFE coefficient of the
"adopted" dummy is a weighted average of every 2x2 difference-in-differences between two timing
groups (Goodman-Bacon 2021, *Journal of Econometrics* 225(2), 254-277, Theorem 1):

* ``treated vs never``: a cohort against the never-adopters, over all periods;
* ``earlier vs later``: an earlier cohort against a later one, before the later one adopts
  (a clean comparison);
* ``later vs earlier``: a later cohort against an earlier one *after* the earlier one adopted: the
  "forbidden" comparison, whose controls are already treated; when effects grow over time it
  subtracts part of the effect.

Weights (Theorem 1) grow with the groups' sizes ``n`` and with the variance of treatment in the
2x2 sample (largest when the cohort is treated for half of the window): with ``Dk`` the share of
periods in which cohort ``k`` is treated and ``n_kl = n_k / (n_k + n_l)``,

* ``s_kU  ~ (n_k + n_U)^2 n_kU (1 - n_kU) Dk (1 - Dk)``
* ``s_kl^k ~ ((n_k + n_l)(1 - Dl))^2 n_kl (1 - n_kl) (Dk - Dl)/(1 - Dl) (1 - Dk)/(1 - Dl)``
* ``s_kl^l ~ ((n_k + n_l) Dk)^2 n_kl (1 - n_kl) Dl/Dk (Dk - Dl)/Dk``

normalised to sum to one (as R ``bacondecomp`` does). The weighted sum of the 2x2 estimates
reproduces the TWFE coefficient of :func:`evaluation.impact.twfe.twfe` exactly; the test checks it.
No maintained Python package has the decomposition and moderndid's ``didbacon`` is an empty
placeholder, so it is written here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import DataError
from evaluation.results import IndicatorResult, new_axes

KINDS = {"treated_vs_never": "treated vs never adopting",
         "earlier_vs_later": "earlier vs later adopters (before the later adopt)",
         "later_vs_earlier": "later vs earlier adopters (already treated controls)"}


@dataclass
class BaconDecomposition(IndicatorResult):
    """The 2x2 comparisons of a TWFE estimate.

    ``.table``: one row per comparison: ``kind`` (:data:`KINDS`), ``treated`` and ``control``
    (cohort period codes; 0 = never adopting), ``estimate`` (the 2x2 DiD), ``weight`` (sums to 1).
    ``twfe``: the weighted sum (the TWFE coefficient).
    """

    twfe: float = float("nan")

    def by_kind(self) -> pd.DataFrame:
        """Per kind of comparison: total weight and weight-averaged estimate."""
        t = self.table
        g = t.assign(wx=t["weight"] * t["estimate"]).groupby("kind", sort=False)
        out = pd.DataFrame({"weight": g["weight"].sum(), "estimate": g["wx"].sum() / g["weight"].sum(),
                            "comparisons": g.size()})
        out.insert(0, "description", [KINDS[k] for k in out.index])
        return out.reset_index()

    @property
    def forbidden_weight(self) -> float:
        """Share of the TWFE that rests on already-treated controls."""
        return float(self.table.loc[self.table["kind"].eq("later_vs_earlier"), "weight"].sum())

    def summary_lines(self) -> list[str]:
        """Method, the TWFE and each kind's weight and average estimate."""
        lines = [f"Method: {self.method}", f"TWFE = weighted sum of the 2x2 estimates: {self.twfe:.4g}"]
        for r in self.by_kind().itertuples():
            lines.append(f"{r.description}: weight {r.weight:.3f}, average estimate {r.estimate:.4g} "
                         f"({r.comparisons} comparisons)")
        return lines

    def plot(self, *, ax=None):
        """Each 2x2 estimate against its weight, by kind, with the TWFE as a line; returns the Axes."""
        ax = new_axes(ax)
        for (kind, grp), marker in zip(self.table.groupby("kind", sort=False), "osD"):
            ax.scatter(grp["weight"], grp["estimate"], marker=marker, label=KINDS[kind], alpha=0.7)
        ax.axhline(self.twfe, color="tab:red", ls=":", label="TWFE")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("weight in the TWFE")
        ax.set_ylabel("2x2 DiD estimate")
        ax.legend(fontsize=8)
        return ax


def bacon_decomposition(data: pd.DataFrame, outcome: str, *, unit: str, time: str,
                        first_treated: str) -> BaconDecomposition:
    """Goodman-Bacon decomposition of the TWFE estimate of a balanced panel (module docstring).

    ``first_treated`` is the adoption period (0 = never within the data); units treated in every
    period (always treated) must be left out first, as the Callaway-Sant'Anna sample does.
    """
    d = data[[unit, time, first_treated, outcome]].dropna(subset=[outcome])
    periods = np.sort(d[time].unique())
    T = len(periods)
    if d.groupby(unit)[time].nunique().ne(T).any() or d.duplicated([unit, time]).any():
        raise DataError("the decomposition needs a balanced panel: one row per unit and period, none missing")
    g = d.groupby(unit)[first_treated].first()
    if (g.gt(0) & g.le(periods[0])).any():
        raise DataError("units treated from the first period on (always treated) must be left out first")
    g = g.where(g <= periods[-1], 0)  # adopting after the data end: never adopting within them
    wide = d.pivot(index=unit, columns=time, values=outcome)[periods]
    groups = sorted(set(g))
    mean = {k: wide[g == k].mean().to_numpy() for k in groups}
    n = {k: float((g == k).mean()) for k in groups}
    share = {k: float((periods >= k).mean()) if k > 0 else 0.0 for k in groups}

    def did(k, c, post, pre):
        return (mean[k][post].mean() - mean[k][pre].mean()) - (mean[c][post].mean() - mean[c][pre].mean())

    rows = []
    cohorts = [k for k in groups if k > 0]
    for k in cohorts:
        if 0 in groups:
            nk = n[k] / (n[k] + n[0])
            post = periods >= k
            rows.append({"kind": "treated_vs_never", "treated": k, "control": 0, "estimate": did(k, 0, post, ~post),
                         "weight": (n[k] + n[0]) ** 2 * nk * (1 - nk) * share[k] * (1 - share[k])})
        for m in cohorts:
            if m <= k:
                continue
            Dk, Dm = share[k], share[m]  # k adopts earlier: Dk > Dm
            nkm = n[k] / (n[k] + n[m])
            before = periods < m
            post, pre = (periods >= k) & before, periods < k
            rows.append({"kind": "earlier_vs_later", "treated": k, "control": m, "estimate": did(k, m, post, pre),
                         "weight": ((n[k] + n[m]) * (1 - Dm)) ** 2 * nkm * (1 - nkm) * (Dk - Dm) / (1 - Dm)
                         * (1 - Dk) / (1 - Dm)})
            after = periods >= k
            post, pre = periods >= m, after & (periods < m)
            rows.append({"kind": "later_vs_earlier", "treated": m, "control": k, "estimate": did(m, k, post, pre),
                         "weight": ((n[k] + n[m]) * Dk) ** 2 * nkm * (1 - nkm) * Dm / Dk * (Dk - Dm) / Dk})
    if not rows:
        raise DataError("no adopting cohort: nothing to decompose")
    t = pd.DataFrame(rows)
    t["weight"] = t["weight"] / t["weight"].sum()
    t = t[t["weight"] > 0].reset_index(drop=True)
    return BaconDecomposition(
        table=t, title="Goodman-Bacon decomposition of the TWFE estimate",
        method="Goodman-Bacon (2021), Theorem 1: TWFE as a weighted average of all 2x2 DiD between timing groups",
        twfe=float((t["weight"] * t["estimate"]).sum()))
