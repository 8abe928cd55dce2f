"""Unit x period panels for the policy-impact estimators (:mod:`evaluation.impact`).

A staggered difference-in-differences needs, for every unit, an outcome in every period and the
period in which the unit was first treated. This module builds them from the registries:

* :func:`adoption_dates`: the first date a compound reached a milestone (``red_property`` by
  default) in ``compound_milestones``.
* :func:`request_panel`: compound x month or compound x quarter outcomes of the request log
  (volume, resolution rate, mean and median resolution hours, satisfaction rate).
* :func:`survey_panel`: respondent rows of the resident survey with the first wave in which the
  respondent's compound was treated (repeated cross-sections: a survey wave samples new people).

Periods are coded as consecutive integers (``year * 4 + quarter - 1`` or ``year * 12 + month - 1``)
because the estimator needs ordered, equally spaced time codes; :func:`period_label` turns a code
back into ``"2020Q3"`` or ``"2020-07"``. The first-treated period of a never-treated unit is 0,
the convention of Callaway and Sant'Anna's ``did`` package.

Censoring (DESIGN.md section 4: open requests are never dropped, never treated as resolved).
Resolution hours are known only for requests resolved by the data cut-off, and a period close to
the cut-off has seen only its fast requests resolved. Outcomes that depend on how long requests
take (resolution rate, mean and median resolution hours, satisfaction rate, which is recorded at
closure) are therefore set to missing for every period that ended less than ``followup_days``
(default 90) before the cut-off; the volume of requests is kept for every period. Within a kept
period, a request still open at the cut-off counts as unresolved in the resolution rate and is
left out of the mean and median hours (which are means over resolved requests). With 90 days of
follow-up after the end of the period, the part of the resolution-time distribution that can be
cut off is negligible in the bundled district (99.9 % of requests resolve within 47 days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.errors import MissingInputError, OptionError
from evaluation.periods import label_code, period_code, period_end, period_label
from evaluation.requests.definitions import RATING_SCORE, satisfaction_text
from evaluation.requests.grouped import MISSING_LABEL, grouped_tables
from evaluation.requests.log import RequestLog
from evaluation.requests.quality import QualityPolicy

#: outcomes of :func:`request_panel`, with what each value means
REQUEST_OUTCOMES = {
    "requests": "requests created in the compound-period (volume)",
    "resolution_rate": "share of the period's requests resolved by the cut-off",
    "mean_resolution_hours": "mean hours from creation to resolution over the period's resolved requests",
    "median_resolution_hours": "median hours from creation to resolution over the period's resolved requests",
    "satisfaction_rate": satisfaction_text(),
}
#: outcomes whose value depends on follow-up time and is masked near the cut-off
CENSORING_SENSITIVE = ("resolution_rate", "mean_resolution_hours", "median_resolution_hours", "satisfaction_rate")
PERIODS = ("month", "quarter")


def adoption_dates(milestones: pd.DataFrame, milestone: str = "red_property") -> pd.Series:
    """First date each compound reached ``milestone``, indexed by ``compound_id``.

    Compounds that never reached it are absent. The ``ended`` column is ignored on purpose:
    the estimators treat adoption as an absorbing state (an intention-to-treat reading), which
    :func:`evaluation.impact.red_property_impact` states in its notes when any arrangement ended.
    """
    missing = {"compound_id", "milestone", "date"} - set(milestones.columns)
    if missing:
        raise MissingInputError(f"table compound_milestones lacks column(s) {', '.join(sorted(missing))}")
    rows = milestones[milestones["milestone"] == milestone]
    dates = pd.to_datetime(rows["date"])
    return dates.groupby(rows["compound_id"]).min().rename(f"{milestone}_date").sort_index()


def request_panel(
    log: RequestLog,
    adoption: pd.Series,
    *,
    period: str = "quarter",
    followup_days: float = 90.0,
    compounds: pd.DataFrame | None = None,
    policy: QualityPolicy | None = None,
) -> pd.DataFrame:
    """Compound x period outcomes of a flagged request log, with the first treated period.

    The panel comes from the same reduction of the same flagged log as the ``svc.*`` indicators
    (:func:`evaluation.requests.grouped.grouped_tables` by ``compound_id``, with the same quality
    ``policy``): a repeated request id, a close before the creation or a stamp after the cut-off is
    treated here exactly as it is there.

    Parameters
    ----------
    log
        A request log (:func:`evaluation.requests.dataset_log` of a dataset, or
        :func:`evaluation.requests.load_requests`). Requests without a ``compound_id`` (raised at
        community level) are left out: they belong to no compound.
    adoption
        Adoption date by ``compound_id`` (:func:`adoption_dates`).
    period
        ``"quarter"`` (default) or ``"month"``.
    followup_days
        Censoring rule of the module docstring: duration-dependent outcomes are missing for
        periods that ended less than this many days before the cut-off.
    compounds
        Optional ``compounds`` table; when given, every compound appears (periods without
        requests have volume 0) and ``community_id`` is attached for clustering.
    policy
        What each quality flag does (default :class:`~evaluation.requests.QualityPolicy`).

    Returns
    -------
    pandas.DataFrame
        One row per compound and period from the first to the last period with a request:
        ``compound_id``, ``period`` (integer code), ``period_label``, ``adopted_on``,
        ``first_treated`` (code of the adoption period, 0 if not adopted), the columns of
        :data:`REQUEST_OUTCOMES`, ``resolved`` and ``rated`` (counts).
    """
    if period not in PERIODS:
        raise OptionError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    if "compound_id" not in log.data.columns:
        raise MissingInputError("the request log has no compound_id column", table="requests", column="compound_id")
    tables = grouped_tables(log, ["compound_id"], period, policy=policy)
    c = tables.counts
    c = c[c["compound_id"].ne(MISSING_LABEL)]
    hours_per_bin = log.resolution_seconds / 3600.0
    events = _event_moments(tables.life, hours_per_bin)
    cells = pd.DataFrame({
        "compound_id": c["compound_id"].to_numpy(dtype=object),
        "period": np.array([label_code(p, period) for p in c["period"]], dtype="int64"),
        "requests": c["n"].to_numpy(),
        "resolved": c["resolved"].to_numpy(),
        "rated": c["rated"].to_numpy(),
        "score": sum(RATING_SCORE[k] * c[k].to_numpy(dtype=float) for k in RATING_SCORE),
        "_cell": c["_cell"].to_numpy(),
    }).merge(events, on="_cell", how="left").drop(columns="_cell")
    with np.errstate(invalid="ignore", divide="ignore"):
        cells["satisfaction_rate"] = np.where(cells["rated"] > 0, cells["score"] / cells["rated"], np.nan)
    cells = cells[cells["requests"] > 0].set_index(["compound_id", "period"])
    codes = cells.index.get_level_values("period")
    ids = sorted(set(cells.index.get_level_values("compound_id"))
                 | (set(compounds["compound_id"].astype("str").unique().tolist()) if compounds is not None else set()))
    periods = np.arange(codes.min(), codes.max() + 1) if len(codes) else np.array([], dtype=int)
    full = pd.MultiIndex.from_product([ids, periods], names=["compound_id", "period"])
    panel = cells.reindex(full).reset_index()
    for col in ("requests", "resolved", "rated"):
        panel[col] = panel[col].fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        panel["resolution_rate"] = np.where(panel["requests"] > 0, panel["resolved"] / panel["requests"], np.nan)
    # censoring rule: periods without enough follow-up lose their duration-dependent outcomes
    local_cut = log.cutoff.tz_convert(log.timezone).tz_localize(None)
    short = np.array([period_end(p, period) + pd.Timedelta(days=followup_days) > local_cut for p in panel["period"]])
    panel.loc[short, list(CENSORING_SENSITIVE)] = np.nan
    panel["followup_complete"] = ~short
    panel["period_label"] = [period_label(p, period) for p in panel["period"]]
    adopted = pd.to_datetime(panel["compound_id"].map(adoption))
    panel["adopted_on"] = adopted
    first = np.where(adopted.notna(), period_code(adopted.fillna(pd.Timestamp("2000-01-01")), period), 0)
    panel["first_treated"] = first.astype("int64")
    if compounds is not None and "community_id" in compounds.columns:
        panel["community_id"] = panel["compound_id"].map(compounds.set_index("compound_id")["community_id"])
    cols = ["compound_id", "period", "period_label", "adopted_on", "first_treated", *REQUEST_OUTCOMES,
            "resolved", "rated", "followup_complete"]
    if "community_id" in panel.columns:
        cols.insert(1, "community_id")
    return panel[cols]


def _event_moments(life: pd.DataFrame, hours_per_bin: float) -> pd.DataFrame:
    """Per life-table cell (``_cell``): the mean and the median duration (hours) of its events.

    The median is the usual one (the mean of the two middle durations when their number is even),
    over the requests resolved by the cut-off that are in the duration estimates.
    """
    ev = life[life["events"] > 0]
    cell = ev["_cell"].to_numpy()
    b = ev["bin"].to_numpy(dtype=float) * hours_per_bin
    w = ev["events"].to_numpy(dtype=float)
    if not len(cell):
        return pd.DataFrame({"_cell": cell, "mean_resolution_hours": b, "median_resolution_hours": b})
    start = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    total = np.add.reduceat(w, start)
    mean = np.add.reduceat(w * b, start) / total
    cum = np.cumsum(w)
    before = np.r_[0.0, cum[start[1:] - 1]]  # events of the earlier cells
    # k-th event of a cell (1-based) lies at the first row whose running count reaches before + k
    lo_k, hi_k = np.floor((total + 1) / 2), np.ceil((total + 1) / 2)
    lo = b[np.searchsorted(cum, before + lo_k, side="left")]
    hi = b[np.searchsorted(cum, before + hi_k, side="left")]
    return pd.DataFrame({"_cell": cell[start], "mean_resolution_hours": mean, "median_resolution_hours": (lo + hi) / 2})


def survey_panel(
    survey: pd.DataFrame,
    adoption: pd.Series,
    item: str,
    *,
    fieldwork: str = "10-15",
) -> pd.DataFrame:
    """Respondent rows of the survey with the first wave in which their compound was treated.

    A survey wave samples new respondents, so the data are repeated cross-sections of
    compounds, not a panel of people: the estimator compares compound groups' mean ``item``
    across waves (Callaway and Sant'Anna 2021, section 4.1, repeated cross-sections).

    Parameters
    ----------
    survey
        Typed ``survey`` table (``respondent_id``, ``wave``, ``compound_id``, ``weight``, ``item``).
    adoption
        Adoption date by ``compound_id`` (:func:`adoption_dates`).
    item
        Survey item (column) used as outcome.
    fieldwork
        Month-day of the fieldwork in each wave year (``"10-15"`` in the bundled district): a
        compound counts as treated in wave ``w`` when it adopted on or before that date.

    Returns
    -------
    pandas.DataFrame
        ``row_id`` (integer), ``respondent_id``, ``compound_id``, ``community_id``, ``wave``,
        ``weight``, ``first_treated`` (first treated wave, 0 if not adopted by the last
        fieldwork date), ``adopted_on`` and the item as float; respondents without an answer to
        the item or without a compound are left out.
    """
    need = {"wave", "compound_id", item} - set(survey.columns)
    if need:
        raise MissingInputError(f"table survey lacks column(s) {', '.join(sorted(need))}")
    # the waves of the whole survey, so that a wave where nobody answered the item still counts
    waves = np.sort(survey["wave"].dropna().astype("int64").unique())
    s = survey[survey["compound_id"].notna() & survey[item].notna()]
    adopted = pd.to_datetime(s["compound_id"].map(adoption))
    first = np.zeros(len(s), dtype="int64")
    # assign from the last wave backwards so the earliest qualifying wave wins
    for w in waves[::-1]:
        field = pd.Timestamp(f"{int(w)}-{fieldwork}")
        first = np.where(adopted.notna().to_numpy() & (adopted <= field).to_numpy(), int(w), first)
    out = pd.DataFrame({
        "row_id": np.arange(1, len(s) + 1),
        "respondent_id": s["respondent_id"].to_numpy() if "respondent_id" in s else np.arange(len(s)),
        "compound_id": s["compound_id"].to_numpy(),
        "community_id": s["community_id"].to_numpy() if "community_id" in s else None,
        "wave": s["wave"].astype("int64").to_numpy(),
        "weight": s["weight"].astype(float).to_numpy() if "weight" in s else 1.0,
        "first_treated": first,
        "adopted_on": adopted.to_numpy(),
        item: s[item].astype(float).to_numpy(),
    })
    return out


def adoption_status(compounds: pd.DataFrame, adoption: pd.Series, first_period: int, last_period: int,
                    period: str = "quarter") -> pd.DataFrame:
    """Each compound's place in a staggered design over the periods ``first_period..last_period``.

    ``status`` is ``"always treated"`` when the compound adopted in or before the first period (it
    has no pre-adoption period and cannot enter a difference-in-differences), ``"cohort"`` when it
    adopted within ``first_period + 1 .. last_period``, and ``"not adopting"`` otherwise (never, or
    after the last period: a comparison unit). ``cohort`` holds the adoption period label
    (:func:`period_label`) of every adopter, also of the always treated.

    Returns
    -------
    pandas.DataFrame
        The ``compounds`` rows with ``adopted_on``, ``first_treated`` (period code, 0 if not adopted),
        ``cohort`` (label or missing) and ``status``.
    """
    if "compound_id" not in compounds.columns:
        raise MissingInputError("table compounds lacks column compound_id")
    out = compounds.copy()
    adopted = pd.to_datetime(out["compound_id"].map(adoption))
    out["adopted_on"] = adopted
    first = np.where(adopted.notna(), period_code(adopted.fillna(pd.Timestamp("2000-01-01")), period), 0)
    out["first_treated"] = first.astype("int64")
    out["cohort"] = pd.array([period_label(c, period) if c > 0 else None for c in first], dtype="str")
    status = np.where((first > 0) & (first <= first_period), "always treated",
                      np.where((first > first_period) & (first <= last_period), "cohort", "not adopting"))
    out["status"] = pd.array(status, dtype="str")
    return out


#: milestones that red property rests on: when one of them ends, the arrangement has ended too
RESTS_ON = {"red_property": ("owners_committee", "party_led_owners_committee")}


def end_dates(milestones: pd.DataFrame, milestone: str = "red_property",
              rests_on: tuple[str, ...] | None = None) -> pd.Series:
    """Date each compound's ``milestone`` stopped being in force, indexed by ``compound_id``.

    The earliest ``ended`` date of the milestone itself or of a milestone it rests on
    (:data:`RESTS_ON`: red property needs its owners committee, so a dissolved committee ends it).
    Compounds whose arrangement never ended are absent.
    """
    rests_on = RESTS_ON.get(milestone, ()) if rests_on is None else rests_on
    if "ended" not in milestones.columns:
        return pd.Series(dtype="datetime64[ns]", name=f"{milestone}_ended")
    rows = milestones[milestones["milestone"].isin([milestone, *rests_on]) & milestones["ended"].notna()]
    ends = pd.to_datetime(rows["ended"]).groupby(rows["compound_id"]).min()
    started = adoption_dates(milestones, milestone)
    ends = ends[ends.index.isin(started.index)]
    ends = ends[ends.to_numpy() > started.reindex(ends.index).to_numpy()]
    return ends.rename(f"{milestone}_ended").sort_index()


def in_force(panel: pd.DataFrame, ends: pd.Series, period: str = "quarter") -> pd.Series:
    """1 in the compound-periods where the policy is in force: adopted by then, not yet ended.

    A period counts as treated from the adoption period (``first_treated``) up to the period
    before the one in which the arrangement ended. The switching treatment of
    :func:`evaluation.impact.robustness.switching_did` (de Chaisemartin and D'Haultfoeuille).
    """
    end_code = panel["compound_id"].map(pd.Series(period_code(pd.to_datetime(ends), period), index=ends.index)
                                        if len(ends) else pd.Series(dtype="int64"))
    started = (panel["first_treated"] > 0) & (panel["period"] >= panel["first_treated"])
    stopped = end_code.notna() & (panel["period"] >= end_code.fillna(0))
    return (started & ~stopped).astype("int64").rename("in_force")
