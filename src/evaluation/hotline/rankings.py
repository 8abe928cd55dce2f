"""Fair rankings: each unit's rank with its interval, raw and standardised for its mix of requests.

Chinese 12345 assessments publish monthly red-and-black lists (红黑榜) of streets and communities on
the three rates (三率: response, resolution, satisfaction) and the three-rate score. A bare rank does
not say whether last place is really last, nor that one street receives the hard requests. Here,
for every unit and period:

Rank with an interval
    The unit's rate is a propensity of its process (each request one trial,
    :mod:`evaluation.hotline.common`). Draws from its posterior under Jeffreys' prior, Beta(x + 1/2,
    n - x + 1/2) for the response and resolution rates and Dirichlet(counts + 1/2) over satisfied,
    basically satisfied and dissatisfied for the satisfaction rate (scored as
    :data:`evaluation.requests.RATING_SCORE`), are ranked in every draw; the 95 % rank interval is
    the 2.5 and 97.5 % quantiles of a unit's ranks (Goldstein and Spiegelhalter 1996, J. R. Stat.
    Soc. A 159, 385-443; Marshall and Spiegelhalter 1998, BMJ 316, 1701-1705). The three-rate score
    combines the three rates' draws with its weights (the rates' draws are independent: the
    covariance of a unit's three rates is not modelled).
Indirect standardisation
    The unit's expected rate given its mix is ``e = sum_s n_s p_s / n``, ``n_s`` its requests of
    stratum ``s`` (category x channel by default) and ``p_s`` the rate of stratum ``s`` over every
    unit of the level in the same period (the reference). The observed / expected ratio ``o / e``
    (1: as good as the district would be with this unit's mix) has the interval of ``o`` divided by
    ``e`` (``e`` taken as known, as for a standardised mortality ratio; Breslow and Day 1987,
    *Statistical Methods in Cancer Research II*, chapter 2); the standardised rate is
    ``(o / e) x`` the district's rate, and it is ranked as the raw rate is.
Told apart or not
    With ``k`` units ranked, a unit whose whole rank interval lies above the median rank
    ``(k + 1) / 2`` is *clearly better*, one whose interval lies below it *clearly worse*, any other
    *cannot be told apart from the median*.

Every count comes from the one grouped pass of :mod:`evaluation.requests` (same quality policy and
the same definitions as the ``svc.*`` indicators: the observed rates equal
:func:`evaluation.requests.request_indicators`'s, a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evaluation import catalog
from evaluation.errors import OptionError
from evaluation.hotline.common import as_log, jeffreys_interval, unit_column
from evaluation.periods import label_code
from evaluation.requests import DEFAULT_WEIGHTS, RATING_SCORE, QualityPolicy
from evaluation.requests.definitions import MIN_REQUESTS
from evaluation.requests.grouped import grouped_tables
from evaluation.results import IndicatorResult, indicator_frame, new_axes
from evaluation.style import PALETTE

#: the indicators ranked by default: the three rates and the three-rate score
RANKED = ("svc.response_rate", "svc.resolution_rate", "svc.satisfaction_rate", "svc.three_rate_score")
#: strata of the indirect standardisation by default
STANDARDISE_BY = ("category", "channel")
#: classes of a unit's rank interval against the median rank
CLASSES = ("clearly_better", "indistinguishable", "clearly_worse")
#: the rates behind the score, in the order of the three-rate weights
_RATES = ("svc.response_rate", "svc.resolution_rate", "svc.satisfaction_rate")
#: the columns the tidy table carries beyond the standard ones
EXTRA = ("expected", "oe_ratio", "oe_low", "oe_high", "standardised", "rank", "rank_low", "rank_high", "class",
         "rank_std", "rank_std_low", "rank_std_high", "class_std", "units_ranked")


class Rankings(IndicatorResult):
    """Ranks with intervals, raw and standardised, by unit and period (see the module docstring).

    ``.table`` extra columns: ``expected`` (the rate expected given the unit's mix), ``oe_ratio``
    (observed / expected) with ``oe_low`` / ``oe_high``, ``standardised`` (the ratio times the
    district's rate), ``rank`` / ``rank_low`` / ``rank_high`` / ``class`` of the raw rate and the same
    with ``_std`` for the standardised rate, ``units_ranked``.
    """

    level: str = "community"
    draws: int = 0

    def league(self, indicator: str = "svc.three_rate_score", period: str | None = None,
               standardised: bool = True) -> pd.DataFrame:
        """One period's red-and-black list (红黑榜): units best first with value, rank interval and class."""
        t = self._one(indicator, period)
        key = "rank_std" if standardised else "rank"
        cols = ["unit_id", "n", "value", "ci_low", "ci_high", "rank", "rank_low", "rank_high", "class"]
        if standardised:
            cols += ["expected", "oe_ratio", "oe_low", "oe_high", "standardised", "rank_std", "rank_std_low",
                     "rank_std_high", "class_std"]
        return t.sort_values([key, "unit_id"], kind="stable")[cols].reset_index(drop=True)

    def disagreements(self, indicator: str | None = None) -> pd.DataFrame:
        """Rows where the raw and the standardised rate put a unit in different classes."""
        t = self.table[self.table["class"].notna() & self.table["class_std"].notna()]
        if indicator is not None:
            t = t[t["indicator"].eq(indicator)]
        return t[t["class"] != t["class_std"]].reset_index(drop=True)

    def class_counts(self) -> pd.DataFrame:
        """Per indicator: rows ranked, rows in each class raw and standardised, and disagreements."""
        t = self.table[self.table["class"].notna()]
        out = []
        for iid, g in t.groupby("indicator", sort=False):
            row = {"indicator": iid, "rows": len(g)}
            for c in CLASSES:
                row[f"{c}_raw"] = int((g["class"] == c).sum())
                row[f"{c}_std"] = int((g["class_std"] == c).sum())
            row["disagreements"] = int((g["class"] != g["class_std"]).sum())
            out.append(row)
        return pd.DataFrame(out)

    def summary_lines(self) -> list[str]:
        """The base lines, and per indicator the classes raw and standardised."""
        lines = super().summary_lines()
        cc = self.class_counts()
        for r in cc.itertuples(index=False):
            lines.append(f"{r.indicator}: {r.rows} unit-periods; raw clearly better / worse {r.clearly_better_raw} / "
                         f"{r.clearly_worse_raw}, standardised {r.clearly_better_std} / {r.clearly_worse_std}; "
                         f"classes differ in {r.disagreements}")
        return lines

    def _one(self, indicator: str, period: str | None) -> pd.DataFrame:
        t = self.table[self.table["indicator"].eq(indicator)]
        if t.empty:
            raise OptionError(f"{indicator!r} is not ranked here; ranked: {', '.join(self.table['indicator'].unique())}")
        if period is None:
            periods = sorted(t["period"].unique())
            period = periods[-1]
        t = t[t["period"].eq(period)]
        if t.empty:
            raise OptionError(f"no ranking for period {period!r}")
        return t

    def plot(self, *, ax=None, indicator: str = "svc.three_rate_score", period: str | None = None, lang: str = "en",
             names: Mapping[str, str] | None = None):
        """Rank intervals of one period: raw (grey) and standardised (coloured by class), best at the top.

        ``names`` maps unit ids to the names shown on the axis (the ids by default).
        """
        t = self._one(indicator, period).sort_values(["rank_std", "unit_id"], kind="stable").reset_index(drop=True)
        ax = new_axes(ax, (7.0, 0.28 * len(t) + 1.6))
        y = np.arange(len(t))
        colour = {"clearly_better": PALETTE[2], "indistinguishable": PALETTE[0], "clearly_worse": PALETTE[3]}
        ax.hlines(y - 0.17, t["rank_low"], t["rank_high"], color="0.65", lw=2.2,
                  label="raw rate" if lang == "en" else "原始值")
        ax.plot(t["rank"], y - 0.17, "o", color="0.45", ms=3)
        for c in CLASSES:
            m = (t["class_std"] == c).to_numpy()
            if m.any():
                ax.hlines(y[m] + 0.17, t.loc[m, "rank_std_low"], t.loc[m, "rank_std_high"], color=colour[c], lw=2.2,
                          label=_class_label(c, lang) + (" (standardised)" if lang == "en" else "（标准化）"))
                ax.plot(t.loc[m, "rank_std"], y[m] + 0.17, "o", color=colour[c], ms=3)
        k = int(t["units_ranked"].max())
        ax.axvline((k + 1) / 2, color="0.3", lw=0.8, ls=":")
        ax.set_yticks(y, [(names or {}).get(u, u) for u in t["unit_id"]], fontsize=8 if len(t) > 20 else 9)
        ax.invert_yaxis()
        ax.set_xlabel("rank (1 = best), 95 % interval" if lang == "en" else "排名（1 = 最好），95%区间")
        ax.set_title(f"{catalog.label(indicator, lang)}, {t['period'].iloc[0]}")
        ax.legend(fontsize="small", loc="lower right")
        return ax


def _class_label(c: str, lang: str) -> str:
    en = {"clearly_better": "clearly better", "indistinguishable": "cannot be told apart from the median",
          "clearly_worse": "clearly worse"}
    zh = {"clearly_better": "明显较好", "indistinguishable": "与中位数无法区分", "clearly_worse": "明显较差"}
    return (zh if lang == "zh" else en)[c]


def monthly_rankings(source, level: str = "community", period: str = "month", *,
                     indicators: Sequence[str] = RANKED, standardise_by: Sequence[str] = STANDARDISE_BY,
                     weights: tuple[float, float, float] = DEFAULT_WEIGHTS, draws: int = 1000, seed: int = 2020,
                     alpha: float = 0.05, policy: QualityPolicy | None = None, periods: Sequence[str] | None = None,
                     min_requests: int = MIN_REQUESTS) -> Rankings:
    """Rank every unit of ``level`` in every period on the three rates and the score, raw and standardised.

    Parameters
    ----------
    source
        A request log or a dataset (the log must have the ``level`` column: a dataset's has
        ``street_id`` and ``community_id``).
    level
        ``"street"`` or ``"community"`` (``"district"`` has one unit: nothing to rank).
    period
        ``"month"`` (the red-and-black lists), ``"quarter"`` or ``"year"`` of creation.
    indicators
        Any of :data:`RANKED`.
    standardise_by
        Columns whose mix the indirect standardisation adjusts for (default category x channel).
    weights
        Weights of response, resolution and satisfaction in the score (Beijing's practice by default).
    draws
        Posterior draws behind the rank intervals (and the satisfaction and score intervals).
    seed
        Seed of the draws; each indicator and period has its own stream, so a period's ranks do not
        depend on which other periods are ranked.
    alpha
        1 - the confidence level of every interval.
    policy
        What each data-quality flag does.
    periods
        Only these periods (labels such as ``"2021-07"``); default every period of the log.
    min_requests
        Rows resting on fewer requests are flagged ``few_requests``.

    Returns
    -------
    Rankings
    """
    unknown = [i for i in indicators if i not in RANKED]
    if unknown:
        raise OptionError(f"cannot rank {', '.join(unknown)}; choose from {', '.join(RANKED)}")
    if level not in ("street", "community"):
        raise OptionError(f"level must be street or community (a district has nothing to rank), not {level!r}")
    w = tuple(float(x) for x in weights)
    if len(w) != 3 or abs(sum(w) - 1) > 1e-9:
        raise OptionError(f"three-rate weights must be three numbers summing to 1, not {w}")
    if int(draws) < 100:
        raise OptionError(f"rank intervals need at least 100 draws, not {draws}")
    log = as_log(source)
    col = unit_column(log, level)
    strata = [s for s in standardise_by]
    for s in strata:
        if s not in log.columns:
            raise OptionError(f"cannot standardise by {s!r}: the log has no such column")
    counts = grouped_tables(log, [col, *strata], period, policy=policy).counts
    counts = counts[counts["n"] > 0].copy()
    counts["period"] = counts["period"].astype("str")
    if periods is not None:
        counts = counts[counts["period"].isin(list(periods))].copy()
    counts["unit_id"] = counts[col].astype("str")
    # the stratum label, vectorised (a row-wise join costs seconds on a month x community x category table)
    counts["stratum"] = (counts[strata[0]].astype("str").str.cat([counts[s].astype("str") for s in strata[1:]],
                                                                sep=" | ") if strata else "all")
    counts["score"] = sum(RATING_SCORE[k] * counts[k].to_numpy(dtype=float) for k in RATING_SCORE)
    recorded = {"svc.response_rate": log.recorded("first_response_at"), "svc.resolution_rate": True,
                "svc.satisfaction_rate": log.recorded("rating")}
    rows = []
    z = (alpha / 2, 1 - alpha / 2)
    for per, c in counts.groupby("period", sort=True):
        units = np.array(sorted(c["unit_id"].unique()))
        cells = _period_cells(c, units)
        rng_code = label_code(per, period)
        parts = {}
        for j, iid in enumerate(_RATES):
            parts[iid] = _rate_part(iid, cells, units, draws, np.random.default_rng([seed, rng_code, j]), z)
            if not recorded[iid]:
                parts[iid] = None
        if "svc.three_rate_score" in indicators:
            parts["svc.three_rate_score"] = _score_part(parts, w, z) if all(parts[i] is not None for i in _RATES) else None
        for iid in indicators:
            part = parts.get(iid)
            n_req = cells["n"].sum(axis=1)
            if part is None:
                rows.append(pd.DataFrame({"indicator": iid, "level": level, "unit_id": units, "period": per,
                                          "value": np.nan, "n": n_req, "method": "not recorded in this log",
                                          "flags": "not_recorded"}))
                continue
            rows.append(_rank_rows(iid, level, per, units, part, n_req, min_requests, alpha))
    table = indicator_frame(pd.concat(rows, ignore_index=True), extra=EXTRA) if rows else indicator_frame([], extra=EXTRA)
    res = Rankings(
        table=table, title=f"Rankings by {level} and {period}, raw and standardised for {' x '.join(strata) or 'nothing'}",
        method=(f"posterior draws under Jeffreys' prior ({draws} draws, seed {seed}), ranked in every draw; "
                f"{100 * (1 - alpha):g} % rank intervals; indirect standardisation for {' x '.join(strata)} against the "
                "district's rates of the period; classes against the median rank"),
        notes=[f"cut-off {log.cutoff} ({log.cutoff_source})",
               "a rate's interval is for the propensity of the unit's process (each request one trial); the count "
               "itself is complete",
               "the three-rate score's draws combine independent draws of its three rates (their covariance within "
               "a unit is not modelled)",
               "resolution rates of the last periods are low for every unit alike: their requests have had little time"])
    res.level, res.draws = level, int(draws)
    return res


def _period_cells(c: pd.DataFrame, units: np.ndarray) -> dict[str, np.ndarray]:
    """Unit x stratum arrays of one period's counts."""
    strata = np.array(sorted(c["stratum"].unique()))
    ui = np.searchsorted(units, c["unit_id"].to_numpy())
    si = np.searchsorted(strata, c["stratum"].to_numpy())
    out = {}
    for name in ("n", "responded", "resolved", "rated", "score", "satisfied", "basically_satisfied", "dissatisfied"):
        a = np.zeros((len(units), len(strata)))
        np.add.at(a, (ui, si), c[name].to_numpy(dtype=float))
        out[name] = a
    return out


_NUM_DEN = {"svc.response_rate": ("responded", "n"), "svc.resolution_rate": ("resolved", "n"),
            "svc.satisfaction_rate": ("score", "rated")}


def _rate_part(iid: str, cells: dict, units: np.ndarray, draws: int, rng: np.random.Generator, q) -> dict:
    """Observed, expected, interval and posterior draws of one rate for every unit of a period."""
    num, den = (cells[k] for k in _NUM_DEN[iid])
    ref = num.sum(axis=0) / np.where(den.sum(axis=0) > 0, den.sum(axis=0), np.nan)  # stratum rates of the district
    n_obs, N = num.sum(axis=1), den.sum(axis=1)
    E = np.nansum(den * ref[None, :], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        obs, exp = n_obs / N, E / N
    district = n_obs.sum() / N.sum() if N.sum() > 0 else np.nan
    if iid == "svc.satisfaction_rate":
        a = np.stack([cells[k].sum(axis=1) for k in ("satisfied", "basically_satisfied", "dissatisfied")], axis=1) + 0.5
        g = rng.gamma(a[None, :, :], 1.0, size=(draws, *a.shape))
        p = g / g.sum(axis=2, keepdims=True)
        d = RATING_SCORE["satisfied"] * p[:, :, 0] + RATING_SCORE["basically_satisfied"] * p[:, :, 1]
        low, high = np.quantile(d, q, axis=0)
    else:
        d = rng.beta(n_obs + 0.5, np.maximum(N - n_obs, 0) + 0.5, size=(draws, len(n_obs)))
        low, high = jeffreys_interval(n_obs, N, 2 * q[0])
    empty = N <= 0
    d[:, empty] = np.nan
    return {"obs": obs, "exp": exp, "num": n_obs, "den": N, "low": np.where(empty, np.nan, low),
            "high": np.where(empty, np.nan, high), "draws": d, "district": district}


def _score_part(parts: dict, w: tuple, q) -> dict:
    """The three-rate score from its rates' parts (draws combined with the weights)."""
    r = [parts[i] for i in _RATES]
    obs = sum(wk * p["obs"] for wk, p in zip(w, r))
    exp = sum(wk * p["exp"] for wk, p in zip(w, r))
    d = sum(wk * p["draws"] for wk, p in zip(w, r))
    low, high = np.quantile(d, q, axis=0)
    return {"obs": obs, "exp": exp, "num": np.full(len(obs), np.nan), "den": np.full(len(obs), np.nan),
            "low": low, "high": high, "draws": d, "district": sum(wk * p["district"] for wk, p in zip(w, r))}


def _rank_rows(iid, level, per, units, part, n_req, min_requests, alpha) -> pd.DataFrame:
    """Tidy rows of one indicator and period: value, interval, expected, ratio, ranks and classes."""
    higher = catalog.get(iid).direction != "lower"
    obs, exp, d = part["obs"], part["exp"], part["draws"]
    ok = np.isfinite(obs)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = obs / exp
        std_draws = d / exp[None, :]
    q = (alpha / 2, 1 - alpha / 2)
    raw = _ranks(d, obs, ok, higher, q)
    std = _ranks(std_draws, ratio, ok, higher, q)
    with np.errstate(invalid="ignore", divide="ignore"):
        if iid in ("svc.response_rate", "svc.resolution_rate"):
            oe_low, oe_high = part["low"] / exp, part["high"] / exp
        else:
            oe_low, oe_high = np.quantile(std_draws, q, axis=0)
    flags = np.where(~ok, "zero_denominator", np.where(n_req < min_requests, "few_requests", ""))
    method = ("Jeffreys interval; rank interval from posterior draws" if iid in ("svc.response_rate", "svc.resolution_rate")
              else "interval and ranks from posterior draws (Dirichlet / Jeffreys)")
    return pd.DataFrame({
        "indicator": iid, "level": level, "unit_id": units, "period": per, "value": obs, "ci_low": part["low"],
        "ci_high": part["high"], "numerator": part["num"], "denominator": part["den"], "n": n_req, "method": method,
        "flags": flags, "expected": exp, "oe_ratio": ratio, "oe_low": oe_low, "oe_high": oe_high,
        "standardised": ratio * part["district"], "rank": raw[0], "rank_low": raw[1], "rank_high": raw[2],
        "class": raw[3], "rank_std": std[0], "rank_std_low": std[1], "rank_std_high": std[2], "class_std": std[3],
        "units_ranked": int(ok.sum())})


def _ranks(draws: np.ndarray, nominal: np.ndarray, ok: np.ndarray, higher: bool, q):
    """Nominal rank, rank interval and class of each unit (1 = best) among the units with a value."""
    k = int(ok.sum())
    out_rank = np.full(len(nominal), np.nan)
    lo, hi = out_rank.copy(), out_rank.copy()
    cls = np.full(len(nominal), None, dtype=object)
    if k == 0:
        return out_rank, lo, hi, cls
    sign = -1.0 if higher else 1.0
    out_rank[ok] = stats.rankdata(sign * nominal[ok], method="min")
    r = stats.rankdata(sign * draws[:, ok], axis=1, method="average")
    lo[ok], hi[ok] = np.quantile(r, q, axis=0, method="inverted_cdf")
    mid = (k + 1) / 2
    cls[ok] = np.where(hi[ok] < mid, "clearly_better", np.where(lo[ok] > mid, "clearly_worse", "indistinguishable"))
    return out_rank, lo, hi, cls


__all__ = ["CLASSES", "RANKED", "STANDARDISE_BY", "Rankings", "monthly_rankings"]
