"""Hotline: were requests handled within their own deadlines, and which units, places and problems stand out?

The content is :func:`evaluation.hotline.review_section` (notebook 07's analyses for one year): the
smart-community cycle, on-time shares against each request's own deadline, repeats, rankings raw
and standardised for the request mix with rank intervals, hot spots (negative binomial,
Benjamini-Hochberg), a targeted problem (``--targeted CATEGORY START``) and dispatch events. This
module writes it in the review's language (unit, compound and category names instead of codes),
protects its unit tables like every other table, and keeps the full tables for the workbook.
"""

from __future__ import annotations

import pandas as pd

from evaluation import disclosure
from evaluation.dataset.values import chinese_label
from evaluation.report.context import NotAssessable, Review
from evaluation.report.model import Section
from evaluation.report.text import fmt_estimate

#: rank-interval draws of the review's rankings (notebook 07 uses more; the classes are stable)
DRAWS = 500
ENDS = 5
#: why-messages the hotline module words itself; any other reason is not shown (it may be English)
KNOWN_WHY = ("hl_why_no_caller_key", "hl_why_no_events")


def hotline_section(rv: Review):
    """The hotline analyses of the review year (once per review)."""
    from evaluation.hotline import review_section  # noqa: PLC0415 - loaded only when this section runs (--sections)

    return rv.cached("hotline", lambda: review_section(rv.ds, rv.year, level=rv.level, targeted=rv.options.targeted,
                                                       draws=DRAWS))


def _compound_name(rv: Review, cid) -> str:
    comp = rv.ds["compounds"] if "compounds" in rv.ds else None
    col = "name_zh" if rv.lang == "zh" else "name_en"
    if comp is not None and col in comp.columns:
        hit = comp.loc[comp["compound_id"].astype(str).eq(str(cid)), col]
        if len(hit) and isinstance(hit.iloc[0], str):
            return hit.iloc[0]
    return str(cid)


def _words(rv: Review, key: str, params: dict) -> str:
    """A sentence of the hotline module with its codes replaced by the names a reader knows."""
    p = dict(params)
    for unit in ("min_unit", "max_unit"):
        if unit in p:
            p[unit] = rv.unit_name(p[unit])
    if "top" in p:
        p["top"] = _compound_name(rv, p["top"])
    if "level" in p:
        p["level"] = rv.msg(str(p["level"]))
    if "category" in p:
        p["category"] = chinese_label("category", p["category"]) if rv.lang == "zh" else str(p["category"]).replace("_", " ")
    if key == "hl_na" and "why" in p and p["why"] not in [rv.msg(k) for k in KNOWN_WHY]:
        p["why"] = rv.msg("rv_hl_why_failed")
    if key == "hl_na" and "what" in p:
        p["what"] = str(p["what"])
    return rv.msg(key, **p)


#: full-table columns of the hotline module -> the review's column keys (and their number-format units)
COLUMNS = {"households": ("rv_col_households", "count"), "n": ("rv_col_n", "count"),
           "expected": ("rv_col_expected", "score"), "value": ("rv_col_value", "indicator"),
           "ci_low": ("rv_col_ci_low", "indicator"), "ci_high": ("rv_col_ci_high", "indicator"),
           "rank": ("rv_col_rank_raw", "rank"), "rank_low": ("rv_col_rank_raw_low", "rank"),
           "rank_high": ("rv_col_rank_raw_high", "rank"), "oe_ratio": ("rv_col_ratio", "score"),
           "oe_low": ("rv_col_ratio_low", "score"), "oe_high": ("rv_col_ratio_high", "score"),
           "standardised": ("rv_col_standardised", "indicator"), "rank_std": ("rv_col_rank_std", "rank"),
           "rank_std_low": ("rv_col_rank_std_low", "rank"), "rank_std_high": ("rv_col_rank_std_high", "rank"),
           "months_clearly_better": ("rv_col_months_better", "count"),
           "months_clearly_worse": ("rv_col_months_worse", "count"), "q_value": ("rv_col_q_value", "p")}


def _class_word(rv: Review, c) -> str:
    key = {"clearly_better": "hl_clearly_better", "clearly_worse": "hl_clearly_worse"}.get(str(c), "hl_indistinguishable")
    return rv.msg(key)


def _sheet(rv: Review, frame: pd.DataFrame, indicator: str | None, compounds: bool = False) -> tuple[pd.DataFrame, dict]:
    """A hotline table in the review's columns (codes and names side by side) with its number formats."""
    out = {}
    if "indicator" in frame.columns or indicator is not None:
        ind = frame["indicator"] if "indicator" in frame.columns else pd.Series(indicator, index=frame.index)
        out["rv_col_code"] = ind.astype(str)
        out["rv_col_indicator"] = ind.map(rv.label)
    if "period" in frame.columns:
        out["rv_col_period"] = frame["period"].astype(str)
    if "unit_id" in frame.columns:
        out["rv_col_unit_code"] = frame["unit_id"].astype(str)
        out["rv_col_unit"] = frame["unit_id"].map(lambda u: _compound_name(rv, u) if compounds else rv.unit_name(u))
    units = {}
    for col, (key, unit) in COLUMNS.items():
        if col in frame.columns:
            out[key] = frame[col]
            units[key] = unit
    for col, key in (("class", "rv_col_class_raw"), ("class_std", "rv_col_class_std")):
        if col in frame.columns:
            out[key] = frame[col].map(lambda c: _class_word(rv, c))
    if "unusual" in frame.columns:
        out["rv_col_unusual"] = frame["unusual"].astype(str)
    if "flags" in frame.columns:
        out["rv_col_flag"] = frame["flags"].fillna("").astype(str)
    if "suppressed" in frame.columns:
        out["suppressed"] = frame["suppressed"]
    return pd.DataFrame(out, index=frame.index), units


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the hotline analyses: answers, compact tables, charts; the full tables to the workbook."""
    if "requests" not in rv.ds:
        raise NotAssessable("rv_no_table", table=rv.table_name("requests"))
    hs = hotline_section(rv)
    y = str(rv.year)
    sec.question = _words(rv, *hs.question)
    sec.answer.extend(_words(rv, k, kw) for k, kw in hs.answer)
    sec.caveats.extend(_words(rv, k, kw) for k, kw in hs.caveats)
    sec.paragraphs.extend(_words(rv, k, kw) for k, kw in hs.not_assessed)
    if not rv.options.targeted:
        sec.caveats.append(rv.msg("rv_hl_no_targeted"))
    tables = {t.key: t for t in hs.tables}
    protected: dict[str, pd.DataFrame] = {}
    for key in ("hotline_cycle", "hotline_on_time", "hotline_repeats", "hotline_dispatch"):
        if key in tables:
            f = tables[key].frame.assign(period=y)
            protected[key] = rv.protect(f)

    # on-time shares by street (a compact table)
    if "hotline_on_time" in protected:
        streets = protected["hotline_on_time"]
        streets = streets[streets["unit_id"].ne("district")]
        wide = []
        for uid, g in streets.groupby("unit_id", sort=True):
            row = {"rv_col_unit": rv.unit_name(uid)}
            for iid, col in (("svc.on_time_share", "rv_col_on_time"),
                             ("svc.on_time_response_share", "rv_col_on_time_response")):
                r = g[g["indicator"].eq(iid)]
                row[col] = ("–" if r.empty else disclosure.MARK if r["suppressed"].iloc[0] else
                            fmt_estimate(iid, r["value"].iloc[0], r["ci_low"].iloc[0], r["ci_high"].iloc[0], rv.lang))
            wide.append(row)
        rv.publish(sec, "hotline_on_time_page", _words(rv, *tables["hotline_on_time"].title), pd.DataFrame(wide),
                   sheet=False)

    # ranks: the units at both ends of the standardised ranking
    rk = tables.get("hotline_ranks")
    if rk is not None:
        lg = rv.protect(rk.frame.assign(indicator="svc.three_rate_score", period=y))
        protected["hotline_ranks"] = lg
        shown = lg[lg["suppressed"].eq("")].sort_values(["rank_std", "unit_id"], kind="stable")
        ends = pd.concat([shown.head(ENDS), shown.tail(ENDS)]) if len(shown) > 2 * ENDS else shown
        page = pd.DataFrame({
            "rv_col_unit": ends["unit_id"].map(rv.unit_name),
            "rv_col_rank_std": [f"{v:.0f}" for v in ends["rank_std"]],
            "rv_col_rank_interval95": [rv.msg("rv_rank_interval", low=f"{a:.0f}", high=f"{b:.0f}")
                                     for a, b in zip(ends["rank_std_low"], ends["rank_std_high"])],
            "rv_col_class_std": ends["class_std"].map(lambda c: _class_word(rv, c)),
            "rv_col_class_raw": ends["class"].map(lambda c: _class_word(rv, c)),
        })
        note = (rv.msg("rv_hl_n_ends", ends=ENDS, level=rv.msg(rv.level), n=len(shown)) if len(shown) > 2 * ENDS
                else "")
        rv.publish(sec, "hotline_ranks_page", _words(rv, *rk.title), page, sheet=False, note=note)

    # hot spots: compounds are not units of the hierarchy; each rests on its own count of requests
    hot = tables.get("hotline_hot_spots")
    if hot is not None:
        h = hot.frame.sort_values("value", ascending=False, kind="stable").reset_index(drop=True)
        h = h.assign(suppressed=h["n"].lt(rv.k).map({True: "primary", False: ""}))
        protected["hotline_hot_spots"] = h
        shown = h[h["suppressed"].eq("")]
        if len(shown):
            rv.publish(sec, "hotline_hot_page", _words(rv, *hot.title), pd.DataFrame({
                "rv_col_compound": shown["unit_id"].map(lambda c: _compound_name(rv, c)),
                "rv_col_requests": shown["n"].map(lambda v: f"{int(v):,}"),
                "rv_col_expected": shown["expected"].map(lambda v: f"{float(v):,.0f}"),
                "rv_col_ratio": [fmt_estimate("svc.request_excess_ratio", v, a, b, rv.lang)
                                 for v, a, b in zip(shown["value"], shown["ci_low"], shown["ci_high"])]}),
                       sheet=False)

    # the targeted problem: district months (no units)
    tg = tables.get("hotline_targeted")
    if tg is not None:
        protected["hotline_targeted"] = tg.frame

    # every full table to the workbook
    for t in hs.tables:
        frame = protected.get(t.key, t.frame)
        hot_spots = t.key == "hotline_hot_spots"
        sheet, units = _sheet(rv, frame, "svc.request_excess_ratio" if hot_spots else None, compounds=hot_spots)
        rv.publish(sec, t.key, _words(rv, *t.title), sheet, page=False, units=units)

    names = {**rv.unit_names}
    if "compounds" in rv.ds:
        comp = rv.ds["compounds"]
        col = "name_zh" if rv.lang == "zh" else "name_en"
        if col in comp.columns:
            names.update({str(c): str(n) for c, n in zip(comp["compound_id"], comp[col]) if isinstance(n, str)})
    for name in hs.figures:
        title = _words(rv, *hs.figures[name][0])
        fig = hs.figure(name, rv.lang, names=names, title=title)
        rv.savefig(sec, fig, f"hotline-{name.replace('_', '-')}", title)
    sec.facts.update(hs.facts)
