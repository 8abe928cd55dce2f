"""Repeat requests: a request that follows an earlier one with the same key within a window.

A resident who calls again about a matter that was not dealt with makes a *repeat* (重复诉求).
Which requests are the same matter is a rule (:class:`RepeatRule`): the same pseudonymous caller
(``requests.caller_key``, a salted hash made by the loader) within 7 days by default, or the same
building and category (a neighbour's complaint about the same problem counts too), or any columns.
A request is a repeat when the previous request with the same key was created at most
``window_days`` before it; the first request of a key is not. Requests without a complete key
cannot be matched: they are left out of the denominator and counted (never taken as "not a
repeat").

The repeat rate is repeats / requests with a key, by unit and creation period. Repeats come in
chains of one key, so requests are not independent trials: the interval is the ratio estimator's
with the key as cluster (the linearised, cluster-robust variance ``C / (C - 1) sum_c (y_c - r n_c)^2
/ n^2`` over the ``C`` keys of the cell; Cochran 1977, *Sampling Techniques*, section 6.4), on the
logit scale. It is written out here because statsmodels would fit one model per unit and period;
a test checks it against statsmodels' cluster-robust OLS of the indicator on a constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import MissingInputError, OptionError
from evaluation.hotline.common import as_log, period_labels, unit_column, unit_labels, z_value
from evaluation.requests import QualityPolicy
from evaluation.requests.definitions import MIN_REQUESTS
from evaluation.results import IndicatorResult, indicator_frame, new_axes


@dataclass(frozen=True)
class RepeatRule:
    """Which requests are the same matter: equal ``match`` columns, at most ``window_days`` apart.

    ``RepeatRule()`` is the same caller within 7 days; ``RepeatRule.building_category()`` the same
    building and category within 7 days.
    """

    match: tuple[str, ...] = ("caller_key",)
    window_days: float = 7.0

    def __post_init__(self):
        if not self.match:
            raise OptionError("a repeat rule needs at least one column to match on")
        if not self.window_days > 0:
            raise OptionError(f"the repeat window must be a positive number of days, not {self.window_days}")

    @classmethod
    def building_category(cls, window_days: float = 7.0) -> RepeatRule:
        """The same building and category within ``window_days``."""
        return cls(("building_id", "category"), window_days)

    @property
    def text(self) -> str:
        """The rule in words."""
        return f"same {' and '.join(self.match)} within {self.window_days:g} days"


class Repeats(IndicatorResult):
    """Repeat rates by unit and period (``svc.repeat_rate``) and which requests are repeats.

    Attributes
    ----------
    repeat
        Per request of the log (its index): ``True`` a repeat, ``False`` not, missing when the
        request has no complete key or is left out by the quality policy.
    rule
        The :class:`RepeatRule`.
    """

    repeat: pd.Series | None = None
    rule: RepeatRule | None = None

    def plot(self, *, ax=None, lang: str = "en"):
        """Repeat rate with its interval by period, one line per unit."""
        t = self.table
        ax = new_axes(ax, (8.0, 4.0))
        for unit, g in t.groupby("unit_id", sort=True):
            g = g.sort_values("period")
            x = np.arange(len(g))
            ax.plot(x, 100 * g["value"], marker="o", ms=3, label=str(unit))
            ax.fill_between(x, 100 * g["ci_low"], 100 * g["ci_high"], alpha=0.15)
            ax.set_xticks(x, g["period"].tolist(), rotation=45 if len(g) > 6 else 0)
        ax.set_ylabel("repeat requests (%)" if lang == "en" else "重复诉求率（%）")
        ax.set_title(self.rule.text if self.rule else "")
        ax.legend(fontsize="small")
        return ax


def flag_repeats(source, rule: RepeatRule | None = None, policy: QualityPolicy | None = None) -> pd.Series:
    """Which requests of the log are repeats under ``rule`` (see :class:`Repeats.repeat`)."""
    log = as_log(source)
    rule = rule or RepeatRule()
    d = log.data
    missing = [c for c in rule.match if c not in log.columns or not log.recorded(c)]
    if missing:
        raise MissingInputError(f"{log.source}: the log records no {', '.join(missing)}, which the repeat rule "
                                f"({rule.text}) matches on" + ("; without caller keys, RepeatRule.building_category() "
                                                               "matches the same building and category"
                                                               if "caller_key" in missing else ""),
                                table="requests", column=missing[0])
    policy = policy or QualityPolicy()
    bits = d["quality_flags"].to_numpy(dtype=np.int64)
    keep = ((bits & policy.mask("exclude")) == 0) & d["created_at"].notna().to_numpy()
    keyed = keep & d[list(rule.match)].notna().all(axis=1).to_numpy()
    idx = np.flatnonzero(keyed)
    key = _key_codes(d, rule.match, idx)
    t = d["created_at"].to_numpy(dtype="datetime64[ns]").view("i8")[idx] if not isinstance(
        d["created_at"].dtype, pd.DatetimeTZDtype) else d["created_at"].dt.as_unit("ns").array.asi8[idx]
    order = np.lexsort((t, key))
    k, tt = key[order], t[order]
    window = int(rule.window_days * 86400 * 1e9)
    rep = np.zeros(len(idx), dtype=bool)
    rep[1:] = (k[1:] == k[:-1]) & (tt[1:] - tt[:-1] <= window)
    out = pd.Series(pd.array(np.full(len(d), pd.NA), dtype="boolean"), index=d.index)
    values = np.empty(len(idx), dtype=bool)
    values[order] = rep
    out.iloc[idx] = values
    return out


def _key_codes(d: pd.DataFrame, cols: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """One integer code per distinct combination of ``cols`` among ``rows``."""
    codes = np.zeros(len(rows), dtype=np.int64)
    for c in cols:
        k, uniq = pd.factorize(d[c].iloc[rows])
        codes = codes * (len(uniq) + 1) + k
    return pd.factorize(codes)[0]


def repeat_rates(source, level: str | None = "street", period: str = "year", *, rule: RepeatRule | None = None,
                 alpha: float = 0.05, policy: QualityPolicy | None = None,
                 min_requests: int = MIN_REQUESTS) -> Repeats:
    """The repeat rate by unit and creation period (``svc.repeat_rate``; method: module docstring).

    Parameters
    ----------
    source
        A request log or a dataset.
    level
        ``"street"``, ``"community"``, ``"district"``, or ``None`` for the whole log.
    period
        ``"month"``, ``"quarter"`` or ``"year"`` of creation.
    rule
        Which requests are the same matter (default: the same caller within 7 days).
    alpha
        1 - the confidence level.
    policy
        What each data-quality flag does (requests left out of everything are not matched).
    min_requests
        Rows resting on fewer requests are flagged ``few_requests``.

    Returns
    -------
    Repeats
    """
    log = as_log(source)
    rule = rule or RepeatRule()
    col = unit_column(log, level) if level is not None else None
    lvl = level or "all"
    rep = flag_repeats(log, rule, policy)
    d = log.data
    has = rep.notna().to_numpy()
    labels = period_labels(d["created_at"], log.timezone, period)
    frame = pd.DataFrame({
        "unit_id": unit_labels(d, col).to_numpy()[has] if col else "all",
        "period": labels[has],
        "key": _key_codes(d, rule.match, np.flatnonzero(has)),
        "y": rep[has].astype(bool).to_numpy(dtype=float),
    })
    unkeyed = pd.DataFrame({"unit_id": unit_labels(d, col).to_numpy()[~has] if col else "all",
                            "period": labels[~has]})
    unkeyed = unkeyed.groupby(["unit_id", "period"]).size().rename("without_key")
    rows = _cluster_ratio(frame, ["unit_id", "period"], "key", "y", alpha)
    rows = rows.join(unkeyed, on=["unit_id", "period"]).fillna({"without_key": 0})
    flags = np.where(rows["n"] < min_requests, "few_requests", "")
    table = indicator_frame(pd.DataFrame({
        "indicator": "svc.repeat_rate", "level": lvl, "unit_id": rows["unit_id"], "period": rows["period"],
        "value": rows["rate"], "ci_low": rows["ci_low"], "ci_high": rows["ci_high"], "numerator": rows["repeats"],
        "denominator": rows["n"], "n": rows["n"],
        "method": f"repeats ({rule.text}) / requests with a key; logit interval, cluster-robust by key",
        "flags": flags, "without_key": rows["without_key"], "keys": rows["clusters"]}), extra=["without_key", "keys"])
    res = Repeats(table=table, title=f"Repeat requests by {lvl} and {period} ({rule.text})",
                  method="ratio estimator with the key as cluster (linearised variance), logit-transformed interval",
                  notes=[f"rule: {rule.text}; the first request of a key is not a repeat",
                         f"{int((~has).sum()):,} requests without a complete key (or left out by the quality policy) "
                         "are not counted in the denominator"])
    res.repeat, res.rule = rep, rule
    return res


def _cluster_ratio(frame: pd.DataFrame, cells: list[str], cluster: str, y: str, alpha: float) -> pd.DataFrame:
    """Per cell: the mean of ``y`` with its cluster-robust standard error and logit interval."""
    per_cluster = frame.groupby([*cells, cluster], sort=True)[y].agg(["sum", "size"]).reset_index()
    g = per_cluster.groupby(cells, sort=True)
    tot = g.agg(repeats=("sum", "sum"), n=("size", "sum"), clusters=("size", "size")).reset_index()
    r = tot["repeats"] / tot["n"]
    per_cluster = per_cluster.merge(tot.assign(r=r)[[*cells, "r"]], on=cells)
    per_cluster["dev2"] = (per_cluster["sum"] - per_cluster["r"] * per_cluster["size"]) ** 2
    ss = per_cluster.groupby(cells, sort=True)["dev2"].sum().to_numpy()
    C = tot["clusters"].to_numpy(dtype=float)
    n = tot["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(C > 1, C / (C - 1) * ss / n**2, np.nan)
        se = np.sqrt(var)
        rv = r.to_numpy()
        logit = np.log(rv / (1 - rv))
        se_logit = se / (rv * (1 - rv))
        z = z_value(alpha)
        low = 1 / (1 + np.exp(-(logit - z * se_logit)))
        high = 1 / (1 + np.exp(-(logit + z * se_logit)))
    edge = (rv <= 0) | (rv >= 1)
    tot["rate"] = rv
    tot["se"] = se
    tot["ci_low"] = np.where(edge, np.nan, low)
    tot["ci_high"] = np.where(edge, np.nan, high)
    return tot


__all__ = ["RepeatRule", "Repeats", "flag_repeats", "repeat_rates"]
