"""Service indicators (``svc.*``) of one calendar year per unit, for the indicator table.

:func:`service_indicators` is what ``evaluation indicators`` runs (through
:func:`evaluation.indicators.collect_indicators`): every request of the dataset is attached to the
unit at the requested level through the unit hierarchy (community -> street -> district; villages
-> townships, which sit at the street level; compounds through ``requests.compound_id``), and
:func:`evaluation.requests.request_indicators` is run once with that unit as the group and
``period="year"``. Only the rows of the requested year are kept.

What each number means is defined in :mod:`evaluation.requests`; in short:

- counts and rates are registry counts over the complete log (no sampling interval);
- ``svc.requests_per_1000`` is requests created in the year per 1,000 residents, with the
  population of a street or the district summed over its communities and villages
  (``units.population``; the unit's own population when none of them has one); no population is
  known for compounds, so the rate is not given at compound level;
- ``svc.median_resolution_hours`` (and the quartiles) are Kaplan-Meier quantiles with
  Brookmeyer-Crowley intervals, open requests censored at the dataset's cut-off;
- ``svc.resolved_within_sla`` is given for one SLA (``sla_hours``, 72 h by default) so that the
  tidy table has one row per indicator, unit and period; the method column names the SLA;
- ``svc.backlog`` is the stock of open requests at the end of the year (at the cut-off when the
  cut-off falls in the year).

Units of the level without any request in the year get ``svc.requests`` = 0 (and a rate of 0
per 1,000) flagged ``no_requests``; the other indicators are undefined for them and left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from evaluation.dataset.units import LEVELS, UnitTree
from evaluation.errors import OptionError
from evaluation.requests.definitions import DEFAULT_PROVIDER_SLA_HOURS, MIN_REQUESTS
from evaluation.requests.indicators import RequestSettings, request_indicators
from evaluation.requests.log import dataset_log
from evaluation.results import IndicatorResult, indicator_frame

_GROUP_COLUMN = "_unit_at_level"  # the grouping column added to a copy of the log


def service_indicators(
    ds: Mapping[str, pd.DataFrame],
    year: int,
    level: str = "district",
    sla_hours: float = DEFAULT_PROVIDER_SLA_HOURS,
    time: str = "calendar",
    ci_method: str = "log",
    min_requests: int = MIN_REQUESTS,
) -> IndicatorResult | None:
    """``svc.*`` indicators of calendar ``year`` for every unit at ``level``.

    Parameters
    ----------
    ds
        A dataset (``load_dataset``) or a mapping of tables with ``requests`` and ``units``
        (``compounds`` too for ``level="compound"``); its ``cutoff`` and ``timezone`` attributes
        are used when present.
    year
        Calendar year of creation (period ``"YYYY"``).
    level
        ``district``, ``street`` (streets and townships), ``community`` (communities and villages)
        or ``compound``.

    Returns
    -------
    IndicatorResult or None
        Tidy table with ``level`` = ``level`` and ``unit_id`` = the unit's id; ``None`` when the
        dataset has no requests table, no units table or no request created in ``year``.
    """
    if level not in LEVELS:
        raise OptionError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if "requests" not in ds or "units" not in ds or len(ds["requests"]) == 0:
        return None
    if level == "compound" and ("compounds" not in ds or "compound_id" not in ds["requests"].columns):
        return None
    created = ds["requests"]["created_at"]
    if pd.api.types.is_datetime64_any_dtype(created) and not created.dt.year.eq(int(year)).any():
        return None  # nothing created in the year: no service row (checked before the grouped pass)
    units = ds["units"]
    tree = UnitTree.from_dataset(ds)
    period = str(int(year))
    key = ("service_indicators", level, float(sla_hours), time, ci_method, int(min_requests))
    res = _memo(ds, key, lambda: _by_unit_and_year(ds, tree, level, sla_hours, time, ci_method, min_requests))
    base_col = "compound_id" if level == "compound" else "community_id"
    t = res.table
    t = t[t["period"].eq(period)].copy()
    created = t[t["indicator"].eq("svc.requests")]
    if created.empty or created["value"].sum() == 0:
        return None
    notes = list(res.notes)
    unknown = t["unit_id"].eq("(missing)") | t["unit_id"].isna()
    n_unknown = int(created.loc[created["unit_id"].eq("(missing)"), "value"].sum())
    if n_unknown:
        notes.append(f"{n_unknown} requests of {period} have no known {level} ({base_col} missing or not a unit): "
                     f"left out at this level")
    t = t[~unknown.to_numpy()]
    t = t[t["indicator"].ne("svc.requests_per_1000")]
    t["level"] = level
    pop = tree.population(units, level)
    counts = t[t["indicator"].eq("svc.requests")]
    missing_units = [u for u in tree.units(level) if u not in set(counts["unit_id"])]
    zero = pd.DataFrame({"indicator": "svc.requests", "level": level, "unit_id": missing_units, "period": period,
                         "value": 0.0, "numerator": 0.0, "n": 0, "method": "registry count", "flags": "no_requests"})
    counts = pd.concat([counts, zero], ignore_index=True) if missing_units else counts
    rows = [t, zero] if missing_units else [t]
    if level != "compound" and len(pop):
        popv = counts["unit_id"].map(pop).to_numpy(dtype=float)
        nreq = counts["numerator"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(popv > 0, nreq / popv * 1000, np.nan)
        fl = counts["flags"].where(~np.isnan(popv), "no_population")
        rows.append(counts.assign(indicator="svc.requests_per_1000", value=rate, denominator=popv, flags=fl,
                                  method="requests created in the year per 1,000 residents (units.population, summed over "
                                         "communities and villages)"))
    table = indicator_frame(pd.concat(rows, ignore_index=True))
    order = {i: k for k, i in enumerate(pd.unique(table["indicator"]))}
    table = table.sort_values(["indicator", "unit_id"], key=lambda s: s.map(order) if s.name == "indicator" else s,
                              kind="stable").reset_index(drop=True)
    return IndicatorResult(table=table, title=f"Service indicators {period}, level {level}", method=res.method, notes=notes)


def _memo(ds, key, compute):
    """``ds.memo(key, compute)`` on a :class:`~evaluation.dataset.Dataset`, ``compute()`` on a plain mapping."""
    memo = getattr(ds, "memo", None)
    return memo(key, compute) if memo is not None else compute()


def _by_unit_and_year(ds, tree: UnitTree, level: str, sla_hours: float, time: str, ci_method: str,
                      min_requests: int):
    """The request indicators of every year by unit at ``level`` (one grouped pass, kept on the dataset)."""
    log = dataset_log(ds)
    req = log.data
    lin = tree.lineage
    base_col = "compound_id" if level == "compound" else "community_id"
    base = req[base_col].astype("str").where(req[base_col].notna(), None).to_numpy(dtype=object)
    known = lin[lin["level"].eq(level) | lin["level"].isin(LEVELS[: LEVELS.index(level)])]
    anc = pd.Series(known[level]).reindex(base).to_numpy(dtype=object)
    if level == "district" and tree.district_id is not None:
        anc = np.full(len(base), tree.district_id, dtype=object)  # every request is in the one district
    # the log keeps one row per input row in order, so the unit column lines up; a copy of the log
    # (the kept one is shared)
    unit_log = replace(log, data=req.assign(**{_GROUP_COLUMN: pd.Categorical(anc)}))
    settings = RequestSettings(time=time, ci_method=ci_method, min_requests=min_requests)
    return request_indicators(unit_log, by=[_GROUP_COLUMN], period="year", sla_hours=(float(sla_hours),),
                              settings=settings)
