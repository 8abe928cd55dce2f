"""The first screen: district, year and cut-off; a band of headline figures; three charts; the key findings.

Written last, from the other sections' numbers (``section.facts``), and shown first. Each
headline figure carries its interval or its target and a change marker that follows the honest
change calls of :mod:`evaluation.report.changes`; a figure the data cannot give says "not
assessed" instead of a number.
"""

from __future__ import annotations

from evaluation import catalog
from evaluation.report.context import Review
from evaluation.report.model import PAGE_ORDER, Section, Tile
from evaluation.report.sections.targets import district_states, target_text
from evaluation.report.text import fmt_interval, fmt_value

#: the district indicators of the headline band, in order (each shown when the data give it)
HEADLINE = ("svc.resolution_rate", "svc.median_resolution_hours", "svc.satisfaction_rate", "par.red_property_coverage",
            "out.resident_satisfaction")
#: the sections whose charts make the first screen, and the chart of each
CHARTS = (("targets", "targets"), ("requests", "requests-by-street"), ("organisation", "red-property"))
MAX_FINDINGS = 7


def _tile(rv: Review, row) -> Tile:
    iid = row["indicator"]
    label = rv.label(iid)
    if row["state"] == "not_assessed":
        return Tile(label, rv.msg("rv_state_not_assessed"), row["reason"], "not_assessed", state="not_assessed")
    value = fmt_value(iid, row["value"], rv.lang)
    tgt = target_text(rv, row)
    ci = fmt_interval(iid, row["ci_low"], row["ci_high"], rv.lang)
    parts = [rv.msg("rv_ci95_short", ci=ci)] if ci else []
    if tgt:
        parts.append(rv.msg("rv_target_is", target=tgt))
    change = row["call"]
    text = "" if change == "not_compared" else rv.msg(
        "rv_change_since", change=fmt_value(iid, row["change"], rv.lang, change=True), prev=rv.year - 1)
    return Tile(label, value, "; ".join(parts) if rv.lang == "en" else "；".join(parts), change, text, row["state"],
                change_word=rv.call_word(iid, change) if change != "not_compared" else "")


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with the headline tiles, the three charts, the key findings and the contents (from the other sections)."""
    done = {k: rv.section(k) for k in PAGE_ORDER if k not in ("methods", "provenance") and rv.wanted(k)}
    st = district_states(rv)
    by_id = {r["indicator"]: r for r in st.to_dict("records")}
    tiles = []
    tg = done.get("targets")
    if tg is not None and tg.available:
        f = tg.facts
        tiles.append(Tile(rv.msg("rv_tile_targets"), rv.msg("rv_tile_targets_value", met=f["met"], n=f["judged"]),
                          rv.msg("rv_tile_targets_detail", not_met=f["not_met"], na=f["not_assessed"])))
    for iid in HEADLINE:
        if iid in by_id:
            tiles.append(_tile(rv, by_id[iid]))
    imp = done.get("impact")
    if imp is not None and imp.available and "mean_resolution_hours" in imp.facts.get("effects", {}):
        e = imp.facts["effects"]["mean_resolution_hours"]
        tiles.append(Tile(rv.msg("rv_tile_effect"), fmt_value(None, e["att"], rv.lang, change=True, unit="hours"),
                          rv.msg("rv_ci95_short", ci=fmt_interval(None, e["ci_low"], e["ci_high"], rv.lang, True, "hours")),
                          "better" if e["distinct"] and e["att"] < 0 else ("worse" if e["distinct"] else "no_clear_change"),
                          rv.msg("rv_tile_effect_clear" if e["distinct"] else "rv_tile_effect_unclear"),
                          change_word=rv.msg("rv_call_better" if e["distinct"] and e["att"] < 0 else
                                             "rv_call_worse" if e["distinct"] else "rv_call_no_clear_change")))
    req = done.get("requests")
    if req is not None and req.available and "open_at_cutoff" in req.facts and getattr(rv.ds, "cutoff", None) is not None:
        tiles.append(Tile(rv.msg("rv_tile_open"), f"{req.facts['open_at_cutoff']:,}",
                          rv.msg("rv_tile_open_detail", cutoff=f"{rv.ds.cutoff:%Y-%m-%d}")))
    sec.facts["tiles"] = tiles[:8]
    # the three charts: targets by pillar, resolution time by street, red-property roll-out
    for key, name in CHARTS:
        s = done.get(key)
        if s is None or not s.available:
            continue
        fig = next((f for f in s.figures if f.path.stem.endswith(name)), None)
        if fig is not None:
            sec.figures.append(fig)
    # key findings: the answers of the sections, in page order
    findings = []
    for key in ("targets", "requests", "organisation", "survey", "impact", "index"):
        s = done.get(key)
        if s is not None and s.available and s.answer:
            findings.append(s.answer[0])
            if key in ("requests", "survey", "impact") and len(s.answer) > 1:
                findings.append(s.answer[1])
    na = done.get("not_assessed")
    n_na = int(st["state"].eq("not_assessed").sum())
    skipped = [s.title for s in done.values() if not s.available]
    last = ([rv.msg("rv_finding_not_assessed", n=n_na)] if n_na else []) + \
        ([rv.msg("rv_finding_not_computed", sections=len(skipped))] if skipped else [])
    sec.answer = findings[:MAX_FINDINGS - len(last)] + last
    sec.facts["toc"] = [(k, rv.msg(f"rv_{k}")) for k in PAGE_ORDER if rv.wanted(k) or k in ("not_assessed", "methods",
                                                                                               "provenance")]
    sec.facts["not_assessed_anchor"] = None if na is None else na.anchor
    cutoff = getattr(rv.ds, "cutoff", None)
    sec.facts["meta"] = rv.msg("rv_meta", district=rv.district_name, year=rv.year,
                               cutoff=rv.msg("rv_no_cutoff") if cutoff is None else f"{cutoff:%Y-%m-%d %H:%M}")
    sec.facts["catalog_size"] = len(catalog.ids())
