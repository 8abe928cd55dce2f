"""The annual review's hotline section: its question, answer, tables, figures and caveats.

:func:`review_section` computes everything the section shows for a year and returns it as a
:class:`HotlineSection`: sentences as message keys with their values (already formatted, so the
review writes them as they are), tidy tables of units with their ``n`` (for the review's disclosure
control before they are published), figure functions, and the facts the first screen can quote.
The review (:mod:`evaluation.report`) renders it; nothing here writes a file.

The words are message keys (``hl_*``) of the catalogue's ``review.yaml``, in both languages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.errors import EvaluationError, OptionError
from evaluation.hotline.cycle import cycle_indicators
from evaluation.hotline.deadlines import on_time
from evaluation.hotline.dispatch import dispatch_measures
from evaluation.hotline.hotspots import hot_spots
from evaluation.hotline.rankings import monthly_rankings
from evaluation.hotline.repeats import RepeatRule, repeat_rates
from evaluation.hotline.targeted import targeted_problem
from evaluation.requests import dataset_log


#: the proposed texts of the section's message keys, to move to the catalogue's message tables
#: (``catalog/review.yaml``); until then :func:`message` falls back on them
def message(key: str, lang: str = "en", **kw) -> str:
    """The message ``key`` of the catalogue's tables (``review.yaml``) in ``lang``, placeholders filled."""
    text = catalog.message(key, lang)
    return text.format(**kw) if kw else text


def fmt(indicator: str | None, value, unit: str | None = None) -> str:
    """A number as the section writes it: shares in per cent (1 decimal), hours (1 decimal), ratios (2)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return "–"
    unit = unit or (catalog.get(indicator).unit if indicator else "other")
    v = float(value)
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "hours":
        return f"{v:,.1f}"
    if unit == "count":
        return f"{v:,.0f}"
    return f"{v:.2f}"


@dataclass
class SectionTable:
    """A table of the section: ``frame`` is tidy by unit with ``n`` (requests) for disclosure control."""

    key: str
    title: tuple[str, dict]
    frame: pd.DataFrame
    count_column: str | None = "n"


@dataclass
class HotlineSection:
    """What the hotline section of the annual review shows (see the module docstring)."""

    year: int
    level: str
    question: tuple[str, dict] = ("hl_question", {})
    answer: list[tuple[str, dict]] = field(default_factory=list)
    caveats: list[tuple[str, dict]] = field(default_factory=list)
    tables: list[SectionTable] = field(default_factory=list)
    figures: dict[str, tuple[tuple[str, dict], Callable]] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    not_assessed: list[tuple[str, dict]] = field(default_factory=list)

    def text(self, lang: str = "en") -> dict[str, list[str]]:
        """The sentences in ``lang``: ``question``, ``answer``, ``caveats``, ``not_assessed``."""
        return {"question": [message(self.question[0], lang, **self.question[1])],
                "answer": [message(k, lang, **kw) for k, kw in self.answer],
                "caveats": [message(k, lang, **kw) for k, kw in self.caveats],
                "not_assessed": [message(k, lang, **kw) for k, kw in self.not_assessed]}

    def figure(self, name: str, lang: str = "en", names: dict[str, str] | None = None, title: str | None = None):
        """Draw figure ``name`` (``ranks``, ``hot_spots``, ``targeted``) in ``lang``; returns the matplotlib Figure.

        ``names`` maps unit and compound ids to the names shown on the axes (the ids by default);
        ``title`` replaces the figure's own title (the review writes it with names instead of codes).
        """
        if name not in self.figures:
            raise OptionError(f"no figure {name!r}; figures: {', '.join(self.figures)}")
        key, draw = self.figures[name]
        return draw(lang, title if title is not None else message(key[0], lang, **key[1]), names or {})


def review_section(ds, year: int, *, level: str = "community", targeted: tuple[str, str] | None = None,
                   draws: int = 1000, seed: int = 2020, fdr: float = 0.05) -> HotlineSection:
    """The hotline section of the annual review of ``year``.

    Parameters
    ----------
    ds
        The dataset (its request log, ``compounds``, ``units`` and, when there, ``events``).
    year
        The year reviewed.
    level
        ``"community"`` or ``"street"``: the units ranked.
    targeted
        ``(category, campaign start)`` of a targeted problem (每月一题), or ``None``.
    draws, seed
        Posterior draws of the rank intervals and their seed.
    fdr
        The false-discovery rate of the hot spots.

    Returns
    -------
    HotlineSection
    """
    y = str(int(year))
    log = dataset_log(ds)
    sec = HotlineSection(year=int(year), level=level)
    sec.question = ("hl_question", {"year": y})

    # the smart-community cycle and the on-time shares, district and streets
    cyc = pd.concat([cycle_indicators(log, None, "year").table.assign(unit_id="district"),
                     cycle_indicators(log, "street", "year").table], ignore_index=True)
    cyc = cyc[cyc["period"].eq(y)]
    sec.results["cycle"] = cyc
    d = cyc[cyc["unit_id"].eq("district")].set_index("indicator")["value"]
    sec.answer.append(("hl_a_cycle", {"year": y, "rated": fmt("svc.rated_share", d.get("svc.rated_share")),
                                      "graded": fmt("svc.graded_share", d.get("svc.graded_share")),
                                      "proactive": fmt("svc.proactive_share", d.get("svc.proactive_share")),
                                      "live": fmt("svc.channels_live_share", d.get("svc.channels_live_share"))}))
    sec.tables.append(SectionTable("hotline_cycle", ("hl_tab_cycle", {"year": y}),
                                   cyc[["indicator", "unit_id", "value", "ci_low", "ci_high", "n", "flags"]]))
    ot = []
    for what in ("resolution", "response"):
        try:
            ot.append(pd.concat([on_time(log, None, "year", what=what).table.assign(unit_id="district"),
                                 on_time(log, "street", "year", what=what).table], ignore_index=True))
        except EvaluationError as exc:
            sec.not_assessed.append(("hl_na", {"what": catalog.label(f"svc.on_time{'' if what == 'resolution' else '_response'}_share"),
                                               "why": str(exc)}))
    if ot:
        ot = pd.concat(ot, ignore_index=True)
        ot = ot[ot["period"].eq(y)]
        sec.results["on_time"] = ot
        res = ot[ot["indicator"].eq("svc.on_time_share")]
        dist = res[res["unit_id"].eq("district")]
        streets = res[res["unit_id"].ne("district")].sort_values("value")
        if len(dist) and len(streets):
            r = dist.iloc[0]
            sec.answer.append(("hl_a_on_time", {
                "share": fmt("svc.on_time_share", r["value"]), "low": fmt("svc.on_time_share", r["ci_low"]),
                "high": fmt("svc.on_time_share", r["ci_high"]), "min_unit": streets.iloc[0]["unit_id"],
                "min_share": fmt("svc.on_time_share", streets.iloc[0]["value"]), "max_unit": streets.iloc[-1]["unit_id"],
                "max_share": fmt("svc.on_time_share", streets.iloc[-1]["value"])}))
        sec.tables.append(SectionTable("hotline_on_time", ("hl_tab_on_time", {"year": y}),
                                       ot[["indicator", "unit_id", "value", "ci_low", "ci_high", "n", "flags"]]))

    # repeats
    if log.recorded("caller_key"):
        rule = RepeatRule()
        rp = pd.concat([repeat_rates(log, None, "year", rule=rule).table.assign(unit_id="district"),
                        repeat_rates(log, "street", "year", rule=rule).table], ignore_index=True)
        rp = rp[rp["period"].eq(y)]
        sec.results["repeats"] = rp
        r = rp[rp["unit_id"].eq("district")]
        if len(r):
            r = r.iloc[0]
            sec.answer.append(("hl_a_repeats", {"rate": fmt("svc.repeat_rate", r["value"]),
                                                "low": fmt("svc.repeat_rate", r["ci_low"]),
                                                "high": fmt("svc.repeat_rate", r["ci_high"]),
                                                "days": f"{rule.window_days:g}"}))
        sec.tables.append(SectionTable("hotline_repeats", ("hl_tab_repeats", {"year": y}),
                                       rp[["indicator", "unit_id", "value", "ci_low", "ci_high", "n", "flags"]]))
    else:
        sec.not_assessed.append(("hl_na", {"what": catalog.label("svc.repeat_rate"),
                                           "why": message("hl_why_no_caller_key")}))

    # rankings: the year, standardised for category and channel, and the months of the year
    ranks_y = monthly_rankings(log, level, "year", periods=[y], draws=draws, seed=seed)
    months = [f"{y}-{m:02d}" for m in range(1, 13)]
    ranks_m = monthly_rankings(log, level, "month", periods=months, draws=draws, seed=seed,
                               indicators=("svc.three_rate_score",))
    sec.results.update(ranks_year=ranks_y, ranks_month=ranks_m)
    league = ranks_y.league("svc.three_rate_score", y)
    mt = ranks_m.table
    league["months_clearly_better"] = league["unit_id"].map(mt[mt["class_std"].eq("clearly_better")].groupby("unit_id").size()).fillna(0)
    league["months_clearly_worse"] = league["unit_id"].map(mt[mt["class_std"].eq("clearly_worse")].groupby("unit_id").size()).fillna(0)
    counts = league["class_std"].value_counts()
    sec.answer.append(("hl_a_ranks", {"year": y, "level": level, "better": int(counts.get("clearly_better", 0)),
                                      "worse": int(counts.get("clearly_worse", 0)),
                                      "same": int(counts.get("indistinguishable", 0)),
                                      "differ": int((league["class"] != league["class_std"]).sum()),
                                      "units": len(league)}))
    sec.tables.append(SectionTable("hotline_ranks", ("hl_tab_ranks", {"year": y, "level": level}), league))
    sec.figures["ranks"] = (("hl_fig_ranks", {"year": y, "level": level}),
                            lambda lang, title, names: _draw(lambda ax: ranks_y.plot(ax=ax, indicator="svc.three_rate_score",
                                                                                      period=y, lang=lang, names=names),
                                                             title,
                                                      (7.5, 0.28 * len(league) + 1.8)))

    # hot spots of the year
    try:
        hs = hot_spots(ds, period=y, fdr=fdr, log=log)
        hot = hs.hot()
        sec.results["hot_spots"] = hs
        if len(hot):
            top = hot.sort_values("value", ascending=False).iloc[0]
            sec.answer.append(("hl_a_hot", {"hot": len(hot), "fdr": f"{fdr:g}", "top": top["unit_id"],
                                            "ratio": fmt(None, top["value"], "score")}))
        else:
            sec.answer.append(("hl_a_hot_none", {"fdr": f"{fdr:g}"}))
        sec.tables.append(SectionTable("hotline_hot_spots", ("hl_tab_hot", {"year": y}),
                                       hot[["unit_id", "households", "n", "expected", "value", "ci_low", "ci_high",
                                            "q_value"]]))
        sec.figures["hot_spots"] = (("hl_fig_hot", {"year": y}),
                                    lambda lang, title, names: _draw(lambda ax: hs.plot(ax=ax, lang=lang, names=names), title,
                                                                     (7.5, 7.0)))
    except EvaluationError as exc:
        sec.not_assessed.append(("hl_na", {"what": catalog.label("svc.request_excess_ratio"), "why": str(exc)}))

    # the targeted problem
    if targeted is not None:
        category, start = targeted
        tp = targeted_problem(log, category, start, year=int(year))
        sec.results["targeted"] = tp
        if tp.effect is not None and len(tp.effect):
            e = tp.effect.set_index("effect").loc["after the campaign"]
            sec.answer.append(("hl_a_targeted", {"category": category, "start": str(pd.Timestamp(start).date()),
                                                 "ratio": fmt(None, e["ratio"], "score"),
                                                 "low": fmt(None, e["ci_low"], "score"),
                                                 "high": fmt(None, e["ci_high"], "score"),
                                                 "unusual": int(tp.table["unusual"].ne("").sum())}))
        sec.tables.append(SectionTable("hotline_targeted", ("hl_tab_targeted", {"category": category, "year": y}),
                                       tp.table[["period", "numerator", "expected", "value", "ci_low", "ci_high",
                                                 "q_value", "unusual"]].rename(columns={"numerator": "n"})))
        sec.figures["targeted"] = (("hl_fig_targeted", {"category": category, "year": y}),
                                   lambda lang, title, names: _draw(lambda ax: tp.plot(ax=ax, lang=lang), title, (8.0, 4.2)))

    # dispatch events
    if "events" in ds:
        dm = dispatch_measures(ds, level="street", period="year")
        dd = dispatch_measures(ds, level=None, period="year").table.assign(unit_id="district")
        t = pd.concat([dd, dm.table], ignore_index=True)
        t = t[t["period"].eq(y)]
        sec.results["dispatch"] = t
        dist = t[t["unit_id"].eq("district")].set_index("indicator")
        if len(dist):
            sec.answer.append(("hl_a_dispatch", {
                "send_back": fmt("svc.send_back_rate", dist["value"].get("svc.send_back_rate")),
                "reassigned": fmt("svc.reassignment_rate", dist["value"].get("svc.reassignment_rate")),
                "hours": fmt("svc.whistle_report_hours", dist["value"].get("svc.whistle_report_hours"))}))
        sec.tables.append(SectionTable("hotline_dispatch", ("hl_tab_dispatch", {"year": y}),
                                       t[["indicator", "unit_id", "value", "ci_low", "ci_high", "n", "flags"]]))
    else:
        sec.not_assessed.append(("hl_na", {"what": catalog.label("svc.send_back_rate"), "why": message("hl_why_no_events")}))

    sec.caveats.append(("hl_c_intervals", {"draws": draws}))
    sec.caveats.append(("hl_c_proactive", {}))
    sec.facts.update(year=int(year), cycle=d.to_dict(), classes=counts.to_dict(),
                     hot_spots=int(len(sec.results["hot_spots"].hot())) if "hot_spots" in sec.results else None)
    return sec


def _draw(plot: Callable, title: str, size: tuple[float, float]):
    """A figure of ``size`` with ``plot(ax)`` drawn on it and ``title`` above it."""
    fig, ax = plt.subplots(figsize=size)
    plot(ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


#: every message key the section uses (the test checks each has a proposed text in both languages)
KEYS = ("hl_question", "hl_a_cycle", "hl_a_on_time", "hl_a_repeats", "hl_a_ranks", "hl_a_hot", "hl_a_hot_none",
        "hl_a_targeted", "hl_a_dispatch", "hl_na", "hl_why_no_caller_key", "hl_why_no_events", "hl_c_intervals",
        "hl_c_proactive", "hl_tab_cycle", "hl_tab_on_time", "hl_tab_repeats", "hl_tab_ranks", "hl_tab_hot",
        "hl_tab_targeted", "hl_tab_dispatch", "hl_fig_ranks", "hl_fig_hot", "hl_fig_targeted", "hl_clearly_better",
        "hl_clearly_worse", "hl_indistinguishable", "rv_hotline")

__all__ = ["KEYS", "HotlineSection", "SectionTable", "fmt", "message", "review_section"]
