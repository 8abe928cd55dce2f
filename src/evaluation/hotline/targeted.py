"""Targeted problems (每月一题): did the campaign against a named category work?

A district that makes one category its problem of the month (每月一题) wants to know whether that
category's requests fell after the campaign began, given the season. The baseline is the same
calendar month of the previous (complete) years: for month ``m`` of the target year the rate ratio
is

    ``ratio_m = (O_m / T_m) / (B_m / S_m)``

with ``O_m`` the category's requests in the month, ``B_m`` those of the same calendar month of the
baseline years, and ``T_m``, ``S_m`` the exposures: the requests of every *other* category in the
same months (default; it absorbs whatever moves all requests alike, such as the 2020 epidemic
surge or a new channel) or one per month (``offset="none"``, a plain seasonal comparison). This is
the maximum-likelihood estimate of a log-linear model with a calendar-month effect and one effect
per target month (a test checks it against statsmodels' GLM); its variance is ``phi (1 / O_m + 1 /
B_m)`` with the quasi-Poisson dispersion ``phi = max(1, Pearson chi2 / df)`` of the baseline years'
model (Farrington et al. 1996, J. R. Stat. Soc. A 159, 547-563, who floor it at 1 too), the interval
Wald on the log scale. A month is *unusual* when its two-sided p-value, adjusted over the months of
the target year by Benjamini-Hochberg, is below ``fdr``.

The campaign effect is one rate ratio for every month from the campaign's on, from the quasi-Poisson
GLM (statsmodels) of all months of the baseline and target years with a calendar-month effect, a
``post`` indicator and a ``pre`` indicator for the target year's months before the campaign (which
should be near 1: a placebo). A ratio of 0.7 means 30 % fewer requests of the category than its
seasonal baseline, relative to the other categories.

Only complete months count (a month that ends after the cut-off is left out).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.rates import confint_poisson_2indep

from evaluation.dataset.values import chinese_label
from evaluation.errors import MissingInputError, OptionError
from evaluation.hotline.common import as_log, unit_column, z_value
from evaluation.periods import label_code, period_end
from evaluation.requests import QualityPolicy
from evaluation.requests.grouped import grouped_tables
from evaluation.results import IndicatorResult, Summary, indicator_frame, new_axes
from evaluation.style import PALETTE

OFFSETS = ("other_categories", "none")
EXTRA = ("month", "baseline_count", "exposure", "baseline_exposure", "expected", "p_value", "q_value", "unusual",
         "after_campaign")


class TargetedProblem(IndicatorResult):
    """Monthly rate ratios of the targeted category against its seasonal baseline, and the campaign effect.

    Attributes
    ----------
    table
        One row per month of the target year (``svc.targeted_volume_ratio``): ``value`` the rate
        ratio with its interval, ``numerator`` the requests, ``expected`` the baseline's expectation,
        ``p_value``, ``q_value``, ``unusual`` (``"lower"``, ``"higher"`` or ``""``), ``after_campaign``.
    effect
        The campaign effect (``after the campaign``) and the placebo (``before the campaign``):
        ``ratio``, ``ci_low``, ``ci_high``, ``p_value``, ``months``.
    monthly
        Every complete month of the baseline and target years: ``year``, ``month``, ``count``,
        ``exposure``.
    """

    effect: pd.DataFrame | None = None
    monthly: pd.DataFrame | None = None
    category: str = ""
    campaign_start: pd.Timestamp | None = None
    year: int = 0
    dispersion: float = 1.0

    def summary(self) -> Summary:
        """Method, size, the baseline's dispersion, and the campaign effect as the table."""
        lines = self.summary_lines()
        lines.append(f"Quasi-Poisson dispersion of the baseline: {self.dispersion:.3g}")
        return Summary(self.title, lines, self.notes, self.effect)

    def plot(self, *, ax=None, lang: str = "en"):
        """The category's requests per 1,000 other requests by month: baseline years, target year, unusual months."""
        ax = new_axes(ax, (8.0, 4.0))
        m = self.monthly
        for yr, g in m[m["year"] != self.year].groupby("year"):
            ax.plot(g["month"], 1000 * g["count"] / g["exposure"], color="0.6", lw=1, marker=".",
                    label=(f"baseline {yr}" if lang == "en" else f"基线 {yr}"))
        t = self.table.sort_values("month")
        rate = 1000 * t["numerator"] / t["exposure"]
        ax.plot(t["month"], 1000 * t["expected"] / t["exposure"], color=PALETTE[0], ls="--",
                label="seasonal baseline" if lang == "en" else "季节基线")
        ax.plot(t["month"], rate, color=PALETTE[3], marker="o", lw=2, label=str(self.year))
        odd = t["unusual"].ne("").to_numpy()
        ax.scatter(t["month"][odd], rate[odd], s=120, facecolors="none", edgecolors="black",
                   label="unusual (BH)" if lang == "en" else "异常月份（BH）")
        if self.campaign_start is not None and self.campaign_start.year == self.year:
            ax.axvline(self.campaign_start.month - 0.5, color="0.3", lw=0.8, ls=":")
        ax.set_xticks(range(1, 13))
        ax.set_xlabel("month" if lang == "en" else "月份")
        ax.set_ylabel(f"{self.category.replace('_', ' ')} per 1,000 other requests" if lang == "en"
                      else f"{chinese_label('category', self.category)}（每千件其他诉求）")
        ax.legend(fontsize="small")
        return ax


def targeted_problem(source, category: str, campaign_start=None, *, year: int | None = None,
                     baseline_years=None, level: str | None = None, unit_id: str | None = None,
                     offset: str = "other_categories", fdr: float = 0.05, alpha: float = 0.05,
                     policy: QualityPolicy | None = None) -> TargetedProblem:
    """The targeted category's monthly volume against its seasonal baseline, and the campaign effect.

    Parameters
    ----------
    source
        A request log or a dataset.
    category
        The targeted category (a value of ``requests.category``).
    campaign_start
        The day the campaign began (``None``: no campaign effect, only the months' ratios).
    year
        The target year (default: the campaign's, else the last complete year).
    baseline_years
        The baseline years (default: every complete year before ``year``).
    level, unit_id
        Only the requests of one unit (``level="street", unit_id="S04"``); default the whole log.
    offset
        ``"other_categories"`` (default) or ``"none"`` (see the module docstring).
    fdr
        The false-discovery rate over the target year's months for *unusual*.
    alpha
        1 - the confidence level.
    policy
        What each data-quality flag does.

    Returns
    -------
    TargetedProblem
    """
    if offset not in OFFSETS:
        raise OptionError(f"offset must be one of {', '.join(OFFSETS)}, not {offset!r}")
    log = as_log(source)
    by = ["category"]
    col = None
    if level is not None:
        col = unit_column(log, level)
        if unit_id is None:
            raise OptionError("with a level, name the unit (unit_id)")
        by.append(col)
    c = grouped_tables(log, by, "month", policy=policy).counts
    if col is not None:
        c = c[c[col].astype("str").eq(str(unit_id))]
        if c.empty:
            raise MissingInputError(f"no request of {level} {unit_id} in the log")
    cats = set(c["category"].astype("str"))
    if category not in cats:
        raise OptionError(f"category {category!r} is not in the log; its categories: {', '.join(sorted(cats))}")
    c = c.assign(period=c["period"].astype("str"), is_target=c["category"].astype("str").eq(category))
    monthly = c.groupby(["period", "is_target"])["n"].sum().unstack(fill_value=0).reindex(columns=[False, True],
                                                                                         fill_value=0)
    monthly.columns = ["other", "count"]
    monthly = monthly.reset_index()
    local_cut = log.cutoff.tz_convert(log.timezone).tz_localize(None)
    codes = np.array([label_code(p, "month") for p in monthly["period"]])
    complete = np.array([period_end(k, "month") <= local_cut for k in codes])
    monthly = monthly[complete].assign(year=codes[complete] // 12, month=codes[complete] % 12 + 1)
    full_years = sorted(y for y, g in monthly.groupby("year") if g["month"].nunique() == 12)
    start = pd.Timestamp(campaign_start) if campaign_start is not None else None
    if year is None:
        year = start.year if start is not None else (full_years[-1] if full_years else int(monthly["year"].max()))
    year = int(year)
    if baseline_years is None:
        baseline_years = [y for y in full_years if y < year]
    baseline_years = sorted(int(y) for y in baseline_years)
    if not baseline_years:
        raise MissingInputError(f"no complete year before {year} to give a seasonal baseline")
    if year in baseline_years:
        raise OptionError(f"the target year {year} cannot be a baseline year too")
    m = monthly[monthly["year"].isin([*baseline_years, year])].copy()
    m["exposure"] = m["other"].astype(float) if offset == "other_categories" else 1.0
    base = m[m["year"].isin(baseline_years)]
    target = m[m["year"].eq(year)].sort_values("month")
    if target.empty:
        raise MissingInputError(f"no complete month of {year} in the log")
    phi, phi_note = _baseline_dispersion(base)
    B = base.groupby("month")["count"].sum()
    S = base.groupby("month")["exposure"].sum()
    n_obs, T = target["count"].to_numpy(float), target["exposure"].to_numpy(float)
    Bm, Sm = B.reindex(target["month"]).to_numpy(float), S.reindex(target["month"]).to_numpy(float)
    z = z_value(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (n_obs / T) / (Bm / Sm)
        se = np.sqrt(phi * (1.0 / n_obs + 1.0 / Bm))
        low, high = ratio * np.exp(-z * se), ratio * np.exp(z * se)
        p = 2 * stats.norm.sf(np.abs(np.log(ratio)) / se)
        expected = T * Bm / Sm
    zero = (n_obs == 0) | (Bm == 0)
    for k in np.flatnonzero(zero):  # a month without requests: the score interval, which handles zeros
        low[k], high[k] = confint_poisson_2indep(n_obs[k], T[k], Bm[k], Sm[k], method="score", compare="ratio",
                                                 alpha=alpha)
        p[k] = np.nan
    ok = np.isfinite(p)
    q = np.full(len(p), np.nan)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    unusual = np.where(ok & (q < fdr), np.where(ratio < 1, "lower", "higher"), "")
    after = (np.array([pd.Timestamp(year=year, month=int(mm), day=1) for mm in target["month"]]) >= start.normalize()
             if start is not None else np.zeros(len(target), bool))
    if start is not None and start.day != 1:
        # the month the campaign began in counts as after it only from the month after
        after = np.array([pd.Timestamp(year=year, month=int(mm), day=1) > start for mm in target["month"]])
    scope = "the whole log" if col is None else f"{level} {unit_id}"
    method = (f"(requests / exposure) against the same calendar month of {', '.join(map(str, baseline_years))}; exposure: "
              + ("requests of the other categories" if offset == "other_categories" else "one per month")
              + f"; quasi-Poisson dispersion {phi:.3g}; Wald interval on the log scale; BH over the months")
    table = indicator_frame(pd.DataFrame({
        "indicator": "svc.targeted_volume_ratio", "level": level or "all", "unit_id": unit_id or "all",
        "period": target["period"].to_numpy(), "value": ratio, "ci_low": low, "ci_high": high, "numerator": n_obs,
        "denominator": expected, "n": n_obs, "method": method,
        "flags": np.where(zero, "zero_count", np.where(unusual != "", "unusual_" + unusual, "")),
        "month": target["month"].to_numpy(), "baseline_count": Bm, "exposure": T, "baseline_exposure": Sm,
        "expected": expected, "p_value": p, "q_value": q, "unusual": unusual, "after_campaign": after}), extra=EXTRA)
    effect = _campaign_effect(m, year, start, offset, alpha) if start is not None else None
    notes = [f"category {category}, {scope}; complete months only (cut-off {log.cutoff})", phi_note]
    if start is not None and (effect is None or effect.empty):
        notes.append("no month of the target year is after the campaign start: no campaign effect")
    res = TargetedProblem(table=table, title=f"Targeted problem {category}, {year}, against {baseline_years}",
                          method=method, notes=notes)
    res.effect, res.monthly, res.category, res.campaign_start, res.year, res.dispersion = (
        effect, m.reset_index(drop=True), category, start, year, phi)
    return res


def _baseline_dispersion(base: pd.DataFrame) -> tuple[float, str]:
    """Quasi-Poisson dispersion ``max(1, Pearson chi2 / df)`` of the baseline years' calendar-month model."""
    X = pd.get_dummies(base["month"].astype(int), prefix="m").astype(float)
    df = len(base) - X.shape[1]
    if df <= 0:
        return 1.0, "one baseline year: no dispersion can be estimated, Poisson variance assumed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(base["count"].to_numpy(float), X, family=sm.families.Poisson(),
                     exposure=base["exposure"].to_numpy(float)).fit()
    raw = float(fit.pearson_chi2 / fit.df_resid)
    return max(1.0, raw), f"baseline dispersion: Pearson chi2 / df = {raw:.3g} (floored at 1)"


def _campaign_effect(m: pd.DataFrame, year: int, start: pd.Timestamp, offset: str, alpha: float) -> pd.DataFrame:
    """Quasi-Poisson GLM: calendar month + after + before (the target year's months), exposure as offset."""
    first = pd.Timestamp(year=start.year, month=start.month, day=1)
    month_start = pd.to_datetime(dict(year=m["year"], month=m["month"], day=1))
    after = (m["year"].eq(year) & ((month_start > start) | ((month_start == first) & (start.day == 1)))).astype(float)
    before = (m["year"].eq(year) & after.eq(0)).astype(float)
    X = pd.get_dummies(m["month"].astype(int), prefix="m").astype(float)
    X["after the campaign"] = after.to_numpy()
    if before.sum() > 0:
        X["before the campaign"] = before.to_numpy()
    if after.sum() == 0:
        return pd.DataFrame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit0 = sm.GLM(m["count"].to_numpy(float), X, family=sm.families.Poisson(),
                      exposure=m["exposure"].to_numpy(float)).fit()
        phi = max(1.0, float(fit0.pearson_chi2 / fit0.df_resid)) if fit0.df_resid > 0 else 1.0
        fit = sm.GLM(m["count"].to_numpy(float), X, family=sm.families.Poisson(),
                     exposure=m["exposure"].to_numpy(float)).fit(scale=phi)
    ci = fit.conf_int(alpha)
    rows = []
    for name, months in (("after the campaign", int(after.sum())), ("before the campaign", int(before.sum()))):
        if name not in X.columns:
            continue
        rows.append({"effect": name, "ratio": float(np.exp(fit.params[name])), "ci_low": float(np.exp(ci.loc[name, 0])),
                     "ci_high": float(np.exp(ci.loc[name, 1])), "p_value": float(fit.pvalues[name]), "months": months,
                     "dispersion": phi})
    return pd.DataFrame(rows)


__all__ = ["OFFSETS", "TargetedProblem", "targeted_problem"]
