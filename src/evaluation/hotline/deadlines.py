"""Each request's own deadline: the on-time share from Kaplan-Meier on working time, with censoring.

A 12345 hotline sets each request a deadline by its kind: respond (签收, sign for it) within a
working day, resolve an ordinary matter within 5 working days and a major or complex one within 15
(practice varies; the district's own rules replace these). The deadlines live in a
:class:`DeadlineTable`: by affair class (三事分办: major 大事, minor 小事, private 私事, and
``unclassified`` for requests without one) and, overriding the class, by category. The default
table is the catalogue's (``svc.on_time_share`` ``deadlines``), in working days of the official
Chinese calendar (:class:`evaluation.calendar.WorkCalendar`) with 24 working hours a working day,
as every working-time duration of the package (:mod:`evaluation.requests.durations`).

The on-time share is the Kaplan-Meier probability of being resolved (responded to) by one's own
deadline. Requests still open at the cut-off are right-censored there, never dropped and never
counted late or on time before their deadline has passed.

Resolution (``svc.on_time_share``)
    Requests differ in their deadline, and censoring (time from creation to the cut-off) is
    independent of the resolution time only *within* a deadline group, so the estimate is
    stratified: within each unit, period and deadline group ``k`` (``n_k`` requests, deadline
    ``D_k``) the Kaplan-Meier curve of working-time resolution comes from the life table of the one
    grouped pass of :mod:`evaluation.requests` (same quality policy as every ``svc.*``), and the
    unit's share not resolved in time is ``S = sum_k w_k S_k(D_k)`` with ``w_k = n_k / n``. Its
    variance is ``sum_k w_k^2 S_k(D_k)^2 G_k(D_k)`` (groups are disjoint; ``G`` is Greenwood's sum,
    the variance of ``log S_k``) and the interval is log-transformed as the package's
    Kaplan-Meier intervals are (R's default): ``S exp(+- z sqrt(var) / S)``. The on-time share is
    ``1 - S``. A pooled curve of time over deadline would not do: time / deadline and
    censoring / deadline both depend on the deadline, so censoring would not be independent.
Response (``svc.on_time_response_share``)
    One deadline for every request: working hours from creation to the first response, censored
    at the cut-off for requests without one, Kaplan-Meier (:func:`evaluation.survival.kaplan_meier`),
    ``1 - S(D)`` with its log-transformed pointwise interval.

References: Kaplan and Meier (1958); Greenwood (1926); stratified (direct-adjusted) survival, e.g.
Klein and Moeschberger (2003), *Survival Analysis*, section 4.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from evaluation import catalog
from evaluation.calendar import WorkCalendar
from evaluation.dataset.schema import AFFAIR_CLASSES
from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.hotline.common import as_log, period_labels, unit_column, unit_labels, z_value
from evaluation.requests import QualityPolicy
from evaluation.requests.definitions import MIN_REQUESTS
from evaluation.requests.durations import NS_PER_DAY, working_clock
from evaluation.requests.grouped import life_table
from evaluation.results import IndicatorResult, indicator_frame, new_axes
from evaluation.survival import kaplan_meier, kaplan_meier_from_life_table

#: working hours of a working day (every hour of a working day counts, as in evaluation.requests.durations)
HOURS_PER_WORKING_DAY = 24.0


@dataclass(frozen=True)
class DeadlineTable:
    """Deadlines in working days: to respond, and to resolve by affair class and by category.

    Attributes
    ----------
    response_days
        Working days to the first response (签收).
    resolution_days
        Working days to resolve, by affair class (``major``, ``minor``, ``private``) and
        ``unclassified`` (requests without an affair class).
    resolution_by_category
        Working days to resolve requests of a category, whatever their affair class (e.g. urgent
        safety matters).
    source
        Where the deadlines come from.
    """

    response_days: float
    resolution_days: Mapping[str, float]
    resolution_by_category: Mapping[str, float] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        missing = [k for k in (*AFFAIR_CLASSES, "unclassified") if k not in self.resolution_days]
        if missing:
            raise OptionError(f"the deadline table needs a resolution deadline for {', '.join(missing)} "
                              "(working days by affair class; 'unclassified' for requests without one)")
        unknown = [k for k in self.resolution_days if k not in (*AFFAIR_CLASSES, "unclassified")]
        if unknown:
            raise OptionError(f"unknown affair class(es) {', '.join(unknown)} in the deadline table; use "
                              f"{', '.join(AFFAIR_CLASSES)} or unclassified")
        for what, v in [("response", self.response_days), *self.resolution_days.items(),
                        *self.resolution_by_category.items()]:
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise OptionError(f"deadline {what!r} must be a positive number of working days, not {v!r}")

    @classmethod
    def default(cls) -> DeadlineTable:
        """The catalogue's table (``svc.on_time_share`` ``deadlines``): common 12345 practice."""
        return cls.from_mapping(catalog.get("svc.on_time_share").extra["deadlines"])

    @classmethod
    def from_mapping(cls, m: Mapping) -> DeadlineTable:
        """A table from a mapping in the layout of the catalogue entry.

        Keys: ``response``, ``resolution`` (by class), optionally ``resolution_by_category`` and
        ``source``.
        """
        if (not isinstance(m, Mapping) or not isinstance(m.get("resolution"), Mapping)
                or not isinstance(m.get("resolution_by_category") or {}, Mapping)):
            raise OptionError("a deadline table needs 'resolution' (working days by affair class) and optionally "
                              "'response', 'resolution_by_category' and 'source'")
        return cls(response_days=float(m.get("response", 1)),
                   resolution_days={str(k): float(v) for k, v in dict(m["resolution"]).items()},
                   resolution_by_category={str(k): float(v) for k, v in dict(m.get("resolution_by_category") or {}).items()},
                   source=str(m.get("source", "")))

    @classmethod
    def read(cls, path: str | Path) -> DeadlineTable:
        """A table from a YAML or JSON file in the layout of :meth:`from_mapping`."""
        p = Path(path)
        if not p.is_file():
            raise MissingInputError(f"{p}: no such deadline file")
        text = p.read_text(encoding="utf-8-sig")
        try:
            m = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise DataError(f"not a deadline table ({exc})", file=str(p)) from None
        try:
            return cls.from_mapping(m)
        except OptionError as exc:
            raise DataError(str(exc), file=str(p)) from None

    def with_changes(self, **kw) -> DeadlineTable:
        """A copy with some fields replaced (``resolution_by_category={"parking_traffic": 3}``)."""
        return dataclasses.replace(self, **kw)

    def resolution_deadline(self, affair_class: pd.Series, category: pd.Series) -> np.ndarray:
        """Working days to resolve each request.

        Its category's deadline where the table names it, else its affair class's, else the
        unclassified one.
        """
        cls_days = affair_class.astype("object").map(dict(self.resolution_days))
        cls_days = cls_days.where(cls_days.notna(), self.resolution_days["unclassified"])
        cat_days = category.astype("object").map(dict(self.resolution_by_category))
        return cat_days.where(cat_days.notna(), cls_days).to_numpy(dtype=float)

    def frame(self) -> pd.DataFrame:
        """The table as rows: ``deadline`` (response, resolution), ``applies_to``, ``working_days``."""
        rows = [{"deadline": "response", "applies_to": "every request", "working_days": self.response_days}]
        rows += [{"deadline": "resolution", "applies_to": f"affair class {k}", "working_days": v}
                 for k, v in self.resolution_days.items()]
        rows += [{"deadline": "resolution", "applies_to": f"category {k} (whatever its class)", "working_days": v}
                 for k, v in self.resolution_by_category.items()]
        return pd.DataFrame(rows)


class OnTime(IndicatorResult):
    """On-time shares by unit and period, with the Kaplan-Meier estimate of each deadline group.

    Attributes
    ----------
    table
        The tidy indicator table (``svc.on_time_share`` or ``svc.on_time_response_share``).
    groups
        One row per unit, period and deadline group: ``deadline_days``, ``n``, ``events``,
        ``surv_at_deadline``, ``greenwood``, ``beyond_follow_up``.
    deadlines
        The :class:`DeadlineTable` used.
    """

    groups: pd.DataFrame | None = None
    deadlines: DeadlineTable | None = None
    what: str = "resolution"

    def plot(self, *, ax=None, period: str | None = None, lang: str = "en"):
        """On-time share with its interval for each unit of ``period`` (default: the last full period)."""
        t = self.table
        periods = sorted(t["period"].unique())
        period = period or (periods[-2] if len(periods) > 1 else periods[-1])
        t = t[t["period"].eq(period)].sort_values("value")
        ax = new_axes(ax, (6.5, 0.3 * len(t) + 1.4))
        y = np.arange(len(t))
        v, lo, hi = (100 * t[c].to_numpy(dtype=float) for c in ("value", "ci_low", "ci_high"))
        ax.errorbar(v, y, xerr=[np.nan_to_num(v - lo), np.nan_to_num(hi - v)], fmt="o", capsize=3)
        ax.set_yticks(y, t["unit_id"].tolist())
        ax.set_xlabel(f"{catalog.label(str(t['indicator'].iloc[0]), lang)} (%)" if len(t) else "%")
        ax.set_title(str(period))
        return ax


def on_time(source, level: str | None = "street", period: str = "year", *, deadlines: DeadlineTable | None = None,
            what: str = "resolution", alpha: float = 0.05, policy: QualityPolicy | None = None,
            calendar: WorkCalendar | None = None, min_requests: int = MIN_REQUESTS) -> OnTime:
    """The share of requests resolved (or responded to) by their own deadline, by unit and period.

    ``what="resolution"`` or ``"response"``; the method is in the module docstring.

    Parameters
    ----------
    source
        A request log or a dataset.
    level
        ``"street"``, ``"community"``, ``"district"``, or ``None`` for the whole log.
    period
        ``"month"``, ``"quarter"`` or ``"year"`` of creation.
    deadlines
        The :class:`DeadlineTable` (default :meth:`DeadlineTable.default`).
    what
        ``"resolution"`` or ``"response"``.
    alpha
        1 - the confidence level.
    policy
        What each data-quality flag does; requests left out of the durations are left out here.
    calendar
        The working-day calendar of the response durations (default: the log's, official Chinese
        working days for native logs); resolution durations use the grouped pass's, the same.
    min_requests
        Rows resting on fewer requests are flagged ``few_requests``.

    Returns
    -------
    OnTime
    """
    if what not in ("resolution", "response"):
        raise OptionError(f"what must be 'resolution' or 'response', not {what!r}")
    log = as_log(source)
    if log.is_dask:
        raise OptionError("on-time shares need the request log in memory (engine pandas)")
    deadlines = deadlines or DeadlineTable.default()
    policy = policy or QualityPolicy()
    col = unit_column(log, level) if level is not None else None
    lvl = level or "all"
    z = z_value(alpha)
    if what == "resolution":
        groups = _resolution_groups(log, col, period, deadlines, policy)
    else:
        groups = _response_groups(log, col, period, deadlines, policy, calendar)
    # combine the deadline groups of each unit and period: S = sum w_k S_k, var = sum w_k^2 S_k^2 G_k
    g = groups.assign(w_s=groups["n"] * groups["surv_at_deadline"],
                      v=groups["n"] ** 2 * groups["surv_at_deadline"] ** 2 * groups["greenwood"],
                      beyond=groups["beyond_follow_up"].astype(int))
    agg = g.groupby(["unit_id", "period"], sort=True).agg(n=("n", "sum"), w_s=("w_s", "sum"), v=("v", "sum"),
                                                          beyond=("beyond", "sum"), events=("events", "sum"))
    agg = agg.reset_index()
    n = agg["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = agg["w_s"].to_numpy() / n
        se = np.sqrt(agg["v"].to_numpy()) / n
        factor = np.exp(z * se / s)
        s_low, s_high = s / factor, np.minimum(s * factor, 1.0)
    s_low = np.where(se == 0, s, s_low)
    s_high = np.where(se == 0, s, s_high)
    beyond = agg["beyond"].to_numpy() > 0
    value = np.where(beyond, np.nan, 1 - s)
    flags = np.where(beyond, "beyond_follow_up", np.where(n < min_requests, "few_requests", ""))
    iid = "svc.on_time_share" if what == "resolution" else "svc.on_time_response_share"
    method = ("1 - sum_k w_k S_k(D_k): Kaplan-Meier in working time per deadline group (stratified), Greenwood "
              "variance, log-transformed interval; open requests censored at the cut-off"
              if what == "resolution" else
              f"1 - S({deadlines.response_days:g} working days): Kaplan-Meier of working time to the first response, "
              "log-transformed pointwise interval; requests without a response censored at the cut-off")
    table = indicator_frame(pd.DataFrame({
        "indicator": iid, "level": lvl, "unit_id": agg["unit_id"], "period": agg["period"], "value": value,
        "ci_low": np.where(beyond, np.nan, 1 - s_high), "ci_high": np.where(beyond, np.nan, 1 - s_low),
        "numerator": np.nan, "denominator": np.nan, "n": n, "method": method, "flags": flags}))
    res = OnTime(table=table, title=f"{catalog.label(iid)} by {lvl} and {period}", method=method,
                 notes=[f"cut-off {log.cutoff} ({log.cutoff_source}); requests still open then are censored",
                        f"deadlines in working days ({HOURS_PER_WORKING_DAY:g} working hours each): "
                        + ("; ".join(f"{r.applies_to} {r.working_days:g}" for r in deadlines.frame().itertuples())),
                        f"deadline source: {deadlines.source}" if deadlines.source else "deadline source: given"])
    res.groups, res.deadlines, res.what = groups, deadlines, what
    return res


def _resolution_groups(log, col, period, deadlines: DeadlineTable, policy) -> pd.DataFrame:
    """Kaplan-Meier at the deadline of every unit x period x deadline group (working time)."""
    d = log.data
    days = deadlines.resolution_deadline(d["affair_class"], d["category"])
    labels = pd.Series(pd.Categorical(np.char.mod("%g", days)), index=d.index)
    with_deadline = dataclasses.replace(log, data=d.assign(deadline_days=labels))
    by = ([col] if col else []) + ["deadline_days"]
    lt = life_table(with_deadline, by, period, time="working", policy=policy)
    keys = by + ["period"]
    km = kaplan_meier_from_life_table(lt, keys, "hours", "events", "censored")
    grp = km.groups.copy()
    limit = grp["deadline_days"].astype(float).to_numpy() * HOURS_PER_WORKING_DAY
    surv, gw, beyond = _at_own_time(km, limit)
    return pd.DataFrame({"unit_id": unit_labels(grp, col).to_numpy(), "period": grp["period"].astype("str").to_numpy(),
                         "deadline_days": grp["deadline_days"].astype(float).to_numpy(), "n": km.n_obs,
                         "events": km.n_events, "surv_at_deadline": surv, "greenwood": gw,
                         "beyond_follow_up": beyond})


def _at_own_time(km, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``S(t_g)`` and Greenwood's sum at a time of its own for each group ``g`` of ``km``.

    The value at the last event time at or before ``t_g`` (1 and 0 before the first event), as
    :func:`evaluation.survival.km_survival_at` reads a curve (a test checks they agree); beyond the
    group's follow-up (``t_g`` after its last observation and the curve not at 0) it is not
    identified.
    """
    G = km.n_groups
    surv, gw = np.ones(G), np.zeros(G)
    for g in range(G):
        s, e = int(km.starts[g]), int(km.ends[g])
        k = int(np.searchsorted(km.time[s:e], t[g], side="right"))
        if k:
            surv[g], gw[g] = km.surv[s + k - 1], km.greenwood[s + k - 1]
    gw = np.where(surv == 0, 0.0, gw)  # once every request had the event, S = 0 exactly
    beyond = ~(km.max_time >= t) & ~(surv == 0.0)
    return surv, gw, beyond


def _response_groups(log, col, period, deadlines: DeadlineTable, policy, calendar) -> pd.DataFrame:
    """Kaplan-Meier of working time to the first response at the response deadline, per unit and period."""
    d = log.data
    if not log.recorded("first_response_at"):
        raise MissingInputError(f"{log.source}: the log records no first_response_at; the on-time response share "
                                "cannot be assessed", table="requests", column="first_response_at")
    bits = d["quality_flags"].to_numpy(dtype=np.int64)
    keep = (bits & (policy.mask("exclude") | policy.mask("exclude_durations"))) == 0
    tz = log.timezone
    created = d["created_at"].dt.tz_convert(tz).dt.tz_localize(None)
    resp = d["first_response_at"].dt.tz_convert(tz).dt.tz_localize(None)
    cut = log.cutoff.tz_convert(tz).tz_localize(None)
    keep &= created.notna().to_numpy()
    responded = (resp.notna() & (resp <= cut)).to_numpy()
    c_ns = created.dt.as_unit("ns").array.asi8
    end_ns = np.where(responded, resp.dt.as_unit("ns").array.asi8, cut.as_unit("ns").value)
    if calendar is None:
        years = range(int(created[keep].dt.year.min()) if keep.any() else cut.year, cut.year + 1)
        calendar = WorkCalendar.china(years) if log.calendar == "china" else WorkCalendar.weekdays()
    valid = np.where(keep, c_ns, end_ns)
    first_day = int(min(valid.min(), end_ns.min()) // NS_PER_DAY) - 1 if len(valid) else 0
    last_day = int(max(valid.max(), end_ns.max()) // NS_PER_DAY) + 1 if len(valid) else 0
    clock = working_clock(calendar, first_day, last_day)
    hours = (clock.seconds_at(end_ns) - clock.seconds_at(np.where(keep, c_ns, end_ns))) / 3600.0
    hours = np.maximum(hours, 0.0)  # a response stamped before the creation counts as immediate
    frame = pd.DataFrame({"unit": unit_labels(d[keep], col).to_numpy() if col else "all",
                          "period": period_labels(d["created_at"][keep], tz, period),
                          "hours": hours[keep], "event": responded[keep]})
    limit = deadlines.response_days * HOURS_PER_WORKING_DAY
    km = kaplan_meier(frame, "hours", "event", by=["unit", "period"], probs=(0.5,)).curves
    surv, gw, beyond = _at_own_time(km, np.full(km.n_groups, limit))
    return pd.DataFrame({"unit_id": km.groups["unit"].astype("str").to_numpy(),
                         "period": km.groups["period"].astype("str").to_numpy(), "deadline_days": deadlines.response_days,
                         "n": km.n_obs, "events": km.n_events, "surv_at_deadline": surv, "greenwood": gw,
                         "beyond_follow_up": beyond})


__all__ = ["HOURS_PER_WORKING_DAY", "DeadlineTable", "OnTime", "on_time"]
