"""Request-handling indicators (``svc.*``) from any request log, with censoring done right.

Pipeline
--------
1. :func:`load_requests` reads a log (native table, NYC 311, Open311, Boston 311, or a user
   mapping), keeps one row per request with the standard columns, the source's own columns and a
   ``quality_flags`` bit mask (:data:`evaluation.adapters.FLAG_BITS`), and fixes the cut-off.
2. :func:`request_indicators` makes **one grouped pass** over the log (pandas in chunks, or Dask
   partitions) that reduces it to small partial tables: counts per group and period, resolutions
   per period (for the backlog) and a *life table* (group, duration bin, events, censored).
   The pass is a compiled loop (:mod:`evaluation.requests.kernels`) run on every core, each thread taking
   whole groups, so each thread's sorted life-table keys follow the previous thread's.
3. Kaplan-Meier medians, quartiles and SLA shares with intervals come from the life table
   (:mod:`evaluation.survival`); rates and counts from the counts table.

Definitions (group = the ``by`` columns x creation period)
----------------------------------------------------------
- ``svc.requests``: requests created in the period (after the exclusions of the quality policy).
- ``svc.requests_per_1000``: requests / population x 1,000 when the group is a unit
  (``community_id``, or ``street_id``/``district_id`` derived from ``units``); per period, not
  annualised; missing otherwise.
- ``svc.response_rate``: requests with ``first_response_at`` no later than the cut-off and, when
  ``response_sla_hours`` is given, within that many hours of creation / requests.
- ``svc.resolution_rate``: requests with ``resolved_at`` present and no later than the cut-off /
  requests.
- ``svc.satisfaction_rate``: (satisfied + 0.9 x basically satisfied) / rated requests, where rated
  means satisfied, basically satisfied or dissatisfied (``not_reached`` is excluded from the
  denominator), the scoring of one documented Beijing practice.
- ``svc.three_rate_score``: weighted sum of the three rates (0-1 scale), default weights
  0.10 / 0.50 / 0.40 for response / resolution / satisfaction, the weighting of Beijing's
  接诉即办 assessment as given in the issue brief; practice varies between cities and years, so
  the weights are a parameter.
- ``svc.reopen_rate``: requests reopened at least once / requests.
- ``svc.backlog``: requests of the group created up to the period end and not resolved by then
  (resolved after the cut-off counts as unresolved), one row per period up to the cut-off.
- ``svc.median_resolution_hours`` (and ``svc.resolution_hours_p25`` / ``_p75``): Kaplan-Meier
  quantiles of time to resolution, requests still open at the cut-off right-censored at the
  cut-off; Brookmeyer-Crowley interval (``ci_method`` "log", R's default, or "loglog").
- ``svc.resolved_within_sla``: ``1 - S(t)`` at ``t = sla_hours`` (column ``sla_hours``) with the
  pointwise interval; missing when ``t`` is beyond the group's follow-up.
- ``svc.median_resolution_hours_closed_only``: median over resolved requests only, shown only to
  display the downward bias of ignoring open requests.

Durations are measured at the resolution of the source stamps (``resolution_seconds``: 1 when
the stamps carry seconds, 60 when they are whole minutes; or given), so the estimates are the exact
Kaplan-Meier estimates of the durations the log records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluation.dataset.units import UnitTree
from evaluation.errors import DataError, OptionError
from evaluation.requests.definitions import (
    DEFAULT_SLA_HOURS,
    DEFAULT_WEIGHTS,
    MIN_REQUESTS,
    RATING_SCORE,
    UNIT_LEVELS,
    satisfaction_text,
)
from evaluation.requests.grouped import DEFAULT_CHUNK_ROWS, GroupedTables, _check_by, _grouped_pass, _make_spec
from evaluation.requests.log import RequestLog, Stopwatch
from evaluation.requests.quality import FLAG_BITS, FLAG_MEANING, QualityPolicy, _quality_from_counts
from evaluation.results import IndicatorResult, indicator_frame, new_axes
from evaluation.survival import CI_METHODS, KaplanMeier, kaplan_meier_from_life_table, km_summaries


class RequestIndicators(IndicatorResult):
    """Indicator table plus what is needed to draw the Kaplan-Meier curves and the quality summary.

    Attributes
    ----------
    table
        The tidy indicator table (extra columns: the ``by`` columns and ``sla_hours``).
    life
        The life table (``by`` columns, period, ``bin``, ``hours``, events, censored).
    quality
        The quality summary: requests per flag and what the estimates did with them.
    """

    life: pd.DataFrame | None = None
    quality: pd.DataFrame | None = None
    by: list[str] | None = None
    resolution_seconds: int = 60
    #: seconds each stage took (grouped pass, Kaplan-Meier, indicator table)
    timings: dict | None = None

    def open_at_cutoff(self) -> pd.DataFrame:
        """Requests still open at the data cut-off (right-censored there), by group and period.

        The count the annual review publishes and notebook 02 prints: the censored requests of
        the life table (requests kept out of the durations by the quality policy are not in it).
        Columns: the ``by`` columns, ``period``, ``open_at_cutoff``, ``requests`` (in the
        Kaplan-Meier) and ``share``.
        """
        keys = (self.by or []) + ["period"]
        g = self.life.groupby(keys, observed=True, sort=True)[["events", "censored"]].sum().reset_index()
        g["requests"] = g["events"] + g["censored"]
        g = g.rename(columns={"censored": "open_at_cutoff"}).drop(columns="events")
        g["share"] = g["open_at_cutoff"] / g["requests"].where(g["requests"] > 0)
        return g

    def curves(self) -> KaplanMeier:
        """Kaplan-Meier estimates of every group and period of the life table (time in bins)."""
        return kaplan_meier_from_life_table(self.life, (self.by or []) + ["period"], "bin", "events", "censored")

    def plot(self, *, ax=None, groups: int = 8):
        """Kaplan-Meier curves of time to resolution (hours) for up to ``groups`` groups; returns the Axes."""
        ax = new_axes(ax)
        keys = (self.by or []) + ["period"]
        km = self.curves()
        for g in range(min(groups, km.n_groups)):
            s, e = km.starts[g], km.ends[g]
            hours = np.r_[0, km.time[s:e] * self.resolution_seconds / 3600.0]
            label = " | ".join(map(str, km.groups[keys].iloc[g].tolist()))
            ax.step(hours, np.r_[1.0, km.surv[s:e]], where="post", label=label)
        ax.set_xlabel("hours since the request was created")
        ax.set_ylabel("share not yet resolved, S(t)")
        ax.set_title("Time to resolution (Kaplan-Meier, open requests censored at the cut-off)")
        ax.legend(fontsize="small")
        return ax


def _population(log: RequestLog, by: list[str]) -> pd.Series | None:
    """Population by the unit in ``by`` (community_id, or street/district summed over communities)."""
    if len(by) != 1 or by[0] not in UNIT_LEVELS or by[0] == "compound_id" or log.units is None \
            or "population" not in log.units.columns:  # compounds have households, not a population
        return None
    return UnitTree.from_tables(log.units).population(log.units, UNIT_LEVELS[by[0]])


@dataclass(frozen=True)
class RequestSettings:
    """How the request indicators are computed; the defaults are the package's documented choices.

    Attributes
    ----------
    time
        ``"calendar"`` (elapsed time) or ``"working"`` (24 h per working day: the official Chinese
        calendar for native logs, Monday to Friday otherwise; or ``calendar``).
    ci_method
        Pointwise interval behind the quantile and SLA intervals: ``"log"`` (R's default) or ``"loglog"``.
    alpha
        1 - the confidence level of every interval.
    response_sla_hours
        Count a response only within this many hours of creation (``None``: any response by the cut-off).
    weights
        Weights of response, resolution and satisfaction in ``svc.three_rate_score``.
    resolution_seconds
        Resolution of the durations (``None``: that of the stamps, :attr:`RequestLog.resolution_seconds`).
    policy
        What each data-quality flag does (:class:`~evaluation.requests.quality.QualityPolicy`).
    calendar
        A :class:`~evaluation.calendar.WorkCalendar` for ``time="working"`` (``None``: by format).
    min_requests
        Rows resting on fewer requests are flagged ``few_requests``.
    """

    time: str = "calendar"
    ci_method: str = "log"
    alpha: float = 0.05
    response_sla_hours: float | None = None
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS
    resolution_seconds: int | None = None
    policy: QualityPolicy = field(default_factory=QualityPolicy)
    calendar: object = None
    min_requests: int = MIN_REQUESTS

    def __post_init__(self):
        if self.ci_method not in CI_METHODS:
            raise OptionError(f"ci_method must be one of {', '.join(CI_METHODS)}, not {self.ci_method!r}")
        if self.time not in ("calendar", "working"):
            raise OptionError(f"time must be 'calendar' or 'working', not {self.time!r}")
        w = tuple(float(x) for x in self.weights)
        if len(w) != 3 or abs(sum(w) - 1) > 1e-9:
            raise OptionError(f"three-rate weights must be three numbers summing to 1, not {w}")
        if self.response_sla_hours is not None and not self.response_sla_hours > 0:
            raise OptionError(f"the response SLA must be a positive number of hours, not {self.response_sla_hours:g}")
        if self.resolution_seconds is not None and int(self.resolution_seconds) < 1:
            raise OptionError(f"the resolution must be at least 1 second, not {self.resolution_seconds}")
        if not 0 < self.alpha < 1:
            raise OptionError(f"alpha must be between 0 and 1, not {self.alpha}")


@dataclass(frozen=True)
class Engine:
    """Where the grouped pass runs.

    Attributes
    ----------
    name
        ``"pandas"`` (in memory, on every core) or ``"dask"`` (part by part).
    chunk_rows
        Rows reduced at once by the pandas engine (and the size of Dask partitions of an in-memory log).
    progress
        Show a progress bar (``None``: when the log is large and stderr is a terminal).
    npartitions
        Partitions of an in-memory log given to the Dask engine.
    scheduler
        A ``distributed`` scheduler address, or ``"local-cluster"`` (Dask only).
    """

    name: str = "pandas"
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    progress: bool | None = None
    npartitions: int | None = None
    scheduler: str | None = None

    def __post_init__(self):
        if self.name not in ("pandas", "dask"):
            raise OptionError(f"engine must be 'pandas' or 'dask', not {self.name!r}")
        if self.scheduler is not None and self.name != "dask":
            raise OptionError("a scheduler needs the Dask engine (--engine dask)")


def request_indicators(
    log: RequestLog,
    by: Sequence[str] | str = (),
    period: str = "month",
    sla_hours: Sequence[float] = DEFAULT_SLA_HOURS,
    *,
    settings: RequestSettings | None = None,
    engine: Engine | str = "pandas",
) -> RequestIndicators:
    """``svc.*`` indicators for every group (``by`` columns x creation period) of a request log.

    See the module docstring for each definition.

    Parameters
    ----------
    log
        A request log (:func:`~evaluation.requests.load_requests`).
    by
        Grouping columns (standard, or the source's own such as ``"Agency"``); none: the whole log.
        A column that looks like personal identifiers is refused.
    period
        ``"month"``, ``"quarter"`` or ``"year"`` of creation.
    sla_hours
        Service levels of ``svc.resolved_within_sla`` (hours).
    settings
        How the indicators are computed (:class:`RequestSettings`).
    engine
        Where the grouped pass runs (:class:`Engine`, or its name).

    Returns
    -------
    RequestIndicators
        ``.table`` (tidy; extra columns: the ``by`` columns and ``sla_hours``), ``.life`` (the
        life table), ``.quality`` (the quality summary), ``.plot()`` (Kaplan-Meier curves).

    Raises
    ------
    DataError
        When the quality checks leave no request to estimate from, or no resolution time at all
        although requests are closed.
    """
    if period not in ("month", "quarter", "year"):
        raise OptionError(f"period must be month, quarter or year, not {period!r}")
    settings = settings or RequestSettings()
    engine = engine if isinstance(engine, Engine) else Engine(engine)
    time, ci_method, alpha = settings.time, settings.ci_method, settings.alpha
    response_sla_hours, weights, min_requests = settings.response_sla_hours, settings.weights, settings.min_requests
    policy, calendar, resolution_seconds = settings.policy, settings.calendar, settings.resolution_seconds
    by = _check_by(log, by)
    resolution_seconds = log.resolution_seconds if resolution_seconds is None else int(resolution_seconds)
    sla_hours = tuple(float(h) for h in (sla_hours or ()))
    if any(not h > 0 for h in sla_hours):
        raise OptionError(f"service levels must be positive numbers of hours, not {sla_hours}")
    clock = Stopwatch()
    spec = _make_spec(log, by, period, time, resolution_seconds, response_sla_hours, policy, calendar)
    parts = _grouped_pass(log, spec, engine.name, engine.chunk_rows, engine.progress, engine.npartitions,
                          engine.scheduler)
    counts = parts.counts
    clock.lap("grouped pass")
    _check_estimable(counts, log)
    excluded = counts.attrs.get("excluded", {})
    level = " x ".join(UNIT_LEVELS.get(b, b) for b in by) if by else "all"
    base = {"level": level, "unit_id": _unit_labels(counts, by).to_numpy(dtype=object),
            "period": counts["period"].to_numpy(dtype=object)}
    for b in by:
        base[b] = counts[b].to_numpy(dtype=object)
    n = counts["n"].to_numpy(float)
    few = np.where(n < min_requests, "few_requests", "").astype(object)
    qual = _quality_flag_text(counts).to_numpy(dtype=object)
    rates = _Blocks(base, len(n), qual)
    add = rates.add

    with np.errstate(divide="ignore", invalid="ignore"):
        add("svc.requests", n, n, np.nan, n, "registry count", few)
        pop = _population(log, by)
        if pop is not None:
            popv = counts[by[0]].map(pop).to_numpy(dtype=float)
            add("svc.requests_per_1000", n / popv * 1000, n, popv, n, "registry count per 1,000 residents (units.population); per period, not annualised",
                np.where(np.isnan(popv), "no_population", few))
        resp_def = "any response by the cut-off" if response_sla_hours is None else f"response within {response_sla_hours:g} h"
        responded = counts["responded"].to_numpy(float)
        resolved = counts["resolved"].to_numpy(float)
        rated = counts["rated"].to_numpy(float)
        sat_num = sum(score * counts[name].to_numpy(float) for name, score in RATING_SCORE.items())
        response_rate, resolution_rate, satisfaction_rate = responded / n, resolved / n, sat_num / rated
        if not log.recorded("first_response_at"):
            response_rate = np.full(len(n), np.nan)
            responded = response_rate
        add("svc.response_rate", response_rate, responded, n, n, f"share of requests with {resp_def}",
            few if log.recorded("first_response_at") else "not_recorded")
        add("svc.resolution_rate", resolution_rate, resolved, n, n, "share of requests resolved by the cut-off", few)
        sat_flags = np.where(rated == 0, "no_ratings", np.where(rated < min_requests, "few_ratings", ""))
        add("svc.satisfaction_rate", satisfaction_rate, sat_num, rated, rated,
            satisfaction_text(), sat_flags)
        w = tuple(float(x) for x in weights)
        score = w[0] * response_rate + w[1] * resolution_rate + w[2] * satisfaction_rate
        add("svc.three_rate_score", score, np.nan, np.nan, n,
            f"weighted sum of response, resolution and satisfaction rates, weights {w[0]:g}/{w[1]:g}/{w[2]:g} (Beijing 接诉即办 practice; configurable)",
            few)
        reop = counts["reopened_any"].to_numpy(float) if log.recorded("reopened") else np.full(len(n), np.nan)
        add("svc.reopen_rate", reop / n, reop, n, n, "share of requests reopened at least once", few)
    km_blocks = _Blocks(base, len(n), qual)
    life = _km_rows(parts.life, by, counts, km_blocks, spec, sla_hours, ci_method, alpha, time, min_requests)
    clock.lap("Kaplan-Meier")
    table = pd.concat([rates.frame(), _backlog_rows(parts, counts, by, level, spec), km_blocks.frame()], ignore_index=True)
    table = indicator_frame(table, extra=by + ["sla_hours"])
    quality = _quality_from_counts(parts.counts, excluded, policy)
    notes = [
        f"cut-off {log.cutoff} ({log.cutoff_source}); requests still open then are right-censored at it",
        f"durations in {time} time" + (f" ({spec.clock.name}, 24 h per working day)" if spec.clock is not None else ""),
        f"{int(excluded.get('excluded', 0))} requests excluded from all indicators by the quality policy (see .quality)",
    ]
    for _, q in quality[quality["requests"] > 0].iterrows():
        notes.append(f"{q['flag']}: {q['requests']} requests ({q['meaning']}); {q['action']}")
    res = RequestIndicators(
        table=table,
        title=f"Request handling by {level} and {period}",
        method=(
            f"Kaplan-Meier (Greenwood variance) on {resolution_seconds}-second duration bins; quantile intervals by "
            f"Brookmeyer-Crowley inversion of the {ci_method} pointwise interval ({CI_METHODS[ci_method]}); rates are "
            "registry counts over the complete log (no sampling interval)"
        ),
        notes=notes,
    )
    res.life = life.drop(columns="_cell").assign(hours=life["bin"] * (resolution_seconds / 3600.0))
    res.quality = quality
    res.by = by
    res.resolution_seconds = resolution_seconds
    clock.lap("indicator table")
    res.timings = clock.laps
    return res


def _unit_labels(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    """Group label: the ``by`` values joined with `` | `` ("all" without ``by``)."""
    if not by:
        return pd.Series("all", index=frame.index, dtype="str")
    out = frame[by[0]].astype("str")
    for b in by[1:]:
        out = out + " | " + frame[b].astype("str")
    return out


def _join_flags(a, b) -> np.ndarray:
    """Element-wise ``a;b`` of two sequences of flag strings (either may be empty)."""
    return np.array([f"{x};{y}" if x and y else x + y for x, y in zip(a, b)], dtype=object)


class _Blocks:
    """Indicator rows of every group, a block per indicator, made into one frame at the end.

    ``base`` holds the columns shared by every block (level, unit, period, ``by`` columns);
    a block's flags are joined with the groups' data-quality flags ``qual``. Building columns
    with numpy and the frame once keeps pandas' per-column overhead out of the loop.
    """

    def __init__(self, base: dict, n: int, qual: np.ndarray):
        self.base, self.n, self.qual = base, n, qual
        self.blocks: list[dict] = []

    def add(self, indicator, value, num, den, nn, method, flags="", quality: bool = True, **extra):
        flags = np.broadcast_to(np.asarray(flags, dtype=object), (self.n,))
        self.blocks.append({"indicator": indicator, "value": value, "numerator": num, "denominator": den, "n": nn,
                            "method": method, "flags": _join_flags(flags, self.qual) if quality else flags, **extra})

    def frame(self) -> pd.DataFrame:
        names = list(self.base) + list(dict.fromkeys(k for b in self.blocks for k in b))
        out = {}
        for name in names:
            values = [self.base[name] if name in self.base else b.get(name, np.nan) for b in self.blocks]
            text = any(isinstance(v, str) or getattr(v, "dtype", None) == np.dtype(object) for v in values)
            parts = [np.broadcast_to(np.asarray(v, dtype=object if text else float), (self.n,)) for v in values]
            column = np.concatenate(parts) if parts else np.zeros(0, dtype=object if text else float)
            out[name] = pd.array(column, dtype="str") if text else column
        return pd.DataFrame(out)


def _quality_flag_text(counts: pd.DataFrame) -> pd.Series:
    """Per group: ``;``-joined names of data-quality flags present among its requests."""
    out = pd.Series("", index=counts.index, dtype="str")
    for name in FLAG_BITS:
        col = f"flag_{name}"
        if name in ("resolved_after_cutoff",) or col not in counts:
            continue
        hit = counts[col].to_numpy() > 0
        if hit.any():
            out = out.where(~hit, np.where(out == "", f"quality:{name}", out + f";quality:{name}"))
    return out


def _backlog_rows(parts: GroupedTables, counts: pd.DataFrame, by, level, spec) -> pd.DataFrame:
    """Open requests at each period end: cumulative created minus cumulative resolved."""
    labels = list(spec.labels)
    n_periods = len(labels)
    pidx = {p: i for i, p in enumerate(labels)}
    lab_c = _unit_labels(counts, by)
    lab_r = _unit_labels(parts.resolutions, by)
    uniq_labels, first = np.unique(np.asarray(lab_c, dtype=object), return_index=True)
    groups = counts[by].iloc[first].reset_index(drop=True) if by else pd.DataFrame(index=range(1))
    created = np.zeros((len(groups), n_periods))
    resolved = np.zeros((len(groups), n_periods))
    for frame, lab, arr, col in ((counts, lab_c, created, "n"), (parts.resolutions, lab_r, resolved, "resolved")):
        gi = np.searchsorted(uniq_labels, np.asarray(lab, dtype=object)) if by else np.zeros(len(frame), np.int64)
        pi = frame["period"].map(pidx).to_numpy(dtype=np.int64)
        np.add.at(arr, (gi, pi), frame[col].to_numpy(float))
    backlog = np.cumsum(created, axis=1) - np.cumsum(resolved, axis=1)
    started = np.cumsum(created, axis=1) > 0
    gi, pi = np.nonzero(started)
    out = groups.iloc[gi].reset_index(drop=True) if by else pd.DataFrame(index=range(len(gi)))
    out["level"] = level
    out["unit_id"] = _unit_labels(out, by) if by else "all"
    out["period"] = np.asarray(labels, dtype=object)[pi]
    out["indicator"] = "svc.backlog"
    out["value"] = backlog[gi, pi]
    out["numerator"] = backlog[gi, pi]
    out["n"] = np.cumsum(created, axis=1)[gi, pi]
    out["method"] = "count of requests created by the period end and not resolved by then (or by the cut-off)"
    out["flags"] = np.where(pi == n_periods - 1, "period_end_after_cutoff:backlog_at_cutoff", "")
    return out


def _positions(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in ``sorted_keys`` (every value is one of them).

    A look-up table when the keys are small integers, else a binary search.
    """
    if len(sorted_keys) and 0 <= sorted_keys[0] and sorted_keys[-1] < 50_000_000:
        lut = np.zeros(int(sorted_keys[-1]) + 1, dtype=np.int64)
        lut[sorted_keys] = np.arange(len(sorted_keys))
        return lut[values]
    return np.searchsorted(sorted_keys, values).astype(np.int64)


def _km_rows(life, by, counts, blocks: _Blocks, spec, sla_hours, ci_method, alpha, time, min_requests):
    """Kaplan-Meier indicators of every group into ``blocks``; returns the life table."""
    keys = by + ["period"]
    res_h = spec.resolution_seconds / 3600.0
    # groups in the order of `counts` (same keys, sorted the same way)
    gid = _positions(counts["_cell"].to_numpy(), life["_cell"].to_numpy())
    uniq = counts[keys].reset_index(drop=True)
    bins = life["bin"].to_numpy()
    ev_counts = life["events"].to_numpy()
    # the life table is sorted by group cell then bin (see _normalise)
    sla_bins = [h / res_h for h in sla_hours]
    km = km_summaries(gid, bins, ev_counts, life["censored"].to_numpy(), uniq, (0.25, 0.5, 0.75), sla_bins,
                      method=ci_method, alpha=alpha, presorted=True)
    q = km.quantiles
    n_km = km.n_obs
    events = km.n_events
    few = np.where(n_km < min_requests, "few_requests", "")
    what = f"time to resolution in {time} hours"
    meth_q = f"Kaplan-Meier quantile, Brookmeyer-Crowley {ci_method} CI ({CI_METHODS[ci_method]}); open requests censored at the cut-off"
    for p, ind in ((0.5, "svc.median_resolution_hours"), (0.25, "svc.resolution_hours_p25"), (0.75, "svc.resolution_hours_p75")):
        qq = q[q["prob"] == p]
        value = qq["estimate"].to_numpy() * res_h
        low, high = qq["ci_low"].to_numpy() * res_h, qq["ci_high"].to_numpy() * res_h
        fl = np.where(np.isnan(value), "not_reached_in_follow_up",
                      np.where(np.isnan(high) & ~np.isnan(low), "ci_open_upper", ""))
        blocks.add(ind, value, events, n_km, n_km, f"{meth_q}; {what}", _join_flags(fl, few), ci_low=low, ci_high=high)
    if sla_hours:
        s = km.survival
        n_groups = len(km.groups)
        # bins are floors: "within t hours" means bin <= t in bins; S is evaluated at that bin
        for j, h in enumerate(sla_hours):
            ss = s.iloc[j * n_groups : (j + 1) * n_groups]
            fl = np.where(ss["beyond_follow_up"].to_numpy(), "beyond_follow_up", "")
            blocks.add("svc.resolved_within_sla", 1 - ss["surv"].to_numpy(), np.nan, n_km, n_km,
                       f"1 - Kaplan-Meier S({h:g} h), {ci_method} pointwise CI ({CI_METHODS[ci_method]}); {what}",
                       _join_flags(fl, few), ci_low=1 - ss["ci_high"].to_numpy(), ci_high=1 - ss["ci_low"].to_numpy(),
                       sla_hours=h)
    # closed-only median, only to show the bias of dropping open requests (lower median)
    med = km.median_events_only
    blocks.add("svc.median_resolution_hours_closed_only", med * res_h, np.nan, np.nan, events,
               "median over resolved requests only (ignores open requests: biased downwards; shown for comparison only)",
               "biased_closed_only", quality=False)
    return life


def _check_estimable(counts: pd.DataFrame, log: RequestLog) -> None:
    """Refuse a log whose defects leave nothing to estimate (never an empty or absurd table)."""
    excluded = counts.attrs.get("excluded", {})
    total = int(counts["n"].sum())
    if total == 0:
        reasons = sorted(((int(v), k[5:]) for k, v in excluded.items() if k.startswith("flag_") and v), reverse=True)
        why = "; ".join(f"{FLAG_MEANING[name]}: {n:,}" for n, name in reasons[:3]) or "the log is empty"
        raise DataError(f"no request is left to estimate from after the quality checks ({why})", file=log.source)
    closed_no_date = int(counts.get("flag_closed_without_date", pd.Series([0])).sum())
    if int(counts["resolved"].sum()) == 0 and closed_no_date > 0:
        raise DataError(f"{closed_no_date:,} requests are resolved or closed but none has a resolution time: the time "
                        "to resolution cannot be estimated; check the column that holds the close time (for "
                        "Open311, updated_datetime)", file=log.source)
