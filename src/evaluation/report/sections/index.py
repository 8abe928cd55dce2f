"""Index: which communities stand out on the composite governance index, and which cannot be told apart?

:func:`evaluation.index.governance_index` (OECD/JRC construction, Monte Carlo over the
construction choices and the data's sampling error) gives each community a 5-95 % rank interval.
A community is *clearly above the median* when its whole interval lies above the median rank,
*clearly below* when it lies below, and otherwise cannot be told apart from the median. No score
is published for a community whose inputs were suppressed for disclosure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.report.context import NotAssessable, Review
from evaluation.report.model import Section

#: Monte Carlo of the review's index (``evaluation index --draws N`` for more precise intervals)
DRAWS, BOOTSTRAP, SEED = 100, 50, 20201225
ENDS = 5


def index_result(rv: Review):
    """The composite index of the review year (kept for the review: one Monte Carlo)."""
    from evaluation.index import governance_index  # noqa: PLC0415 - loaded only when this section runs (--sections)

    return rv.cached("index", lambda: governance_index(rv.ds, rv.year, draws=DRAWS, seed=SEED, bootstrap=BOOTSTRAP))


def bands(rt: pd.DataFrame) -> pd.Series:
    """``above`` / ``below`` / ``unclear`` for each community of a rank table (1 = best)."""
    mid = (len(rt) + 1) / 2
    return pd.Series(np.where(rt["rank_p95"] < mid, "above", np.where(rt["rank_p05"] > mid, "below", "unclear")),
                     index=rt.index)


def build(rv: Review, sec: Section) -> None:
    """Fill ``sec`` with which communities stand out on the index, with rank intervals; no score on suppressed inputs."""
    for table in ("compounds", "requests", "survey"):
        if table not in rv.ds:
            raise NotAssessable("rv_no_table", table=rv.table_name(table))
    res = index_result(rv)
    rt = res.uncertainty.rank_table.sort_values(["median_rank", "nominal_rank"], kind="stable")
    # the inputs by community are protected like every published table: a community with a
    # suppressed input gets no published score (its score would reveal the input)
    by = rv.indicators(rv.year, "community")
    by = by[by["level"].eq("community") & by["indicator"].str.startswith(("svc.", "out."))]
    rv.protect(by)
    hidden = rv.hidden_units(str(rv.year)) & set(rt.index.astype(str))
    band = bands(rt)
    shown = rt[~rt.index.astype(str).isin(hidden)]
    sec.question = rv.msg("rv_q_index", year=rv.year)
    counts = band[shown.index].value_counts()
    sec.answer.append(rv.msg("rv_a_index", n=len(rt), above=int(counts.get("above", 0)),
                             below=int(counts.get("below", 0)), unclear=int(counts.get("unclear", 0))))
    if hidden:
        sec.answer.append(rv.msg("rv_a_index_hidden", n=len(hidden), k=rv.k))
    sec.facts.update(bands=band, hidden=hidden, n=len(rt))
    pillars = list(res.nominal.pillars)

    def row(u):
        r = rt.loc[u]
        return {"rv_col_unit_code": str(u), "rv_col_unit": rv.unit_name(u), "rv_col_index": res.nominal.index.get(u),
                "rv_col_rank": r["nominal_rank"], "rv_col_median_rank": r["median_rank"],
                "rv_col_rank_low": r["rank_p05"], "rv_col_rank_high": r["rank_p95"],
                "rv_col_band": rv.msg(f"rv_band_{band[u]}"),
                **{f"pillar:{p}": res.nominal.pillar_scores.loc[u, p] for p in pillars},
                "suppressed": "secondary" if str(u) in hidden else ""}

    full = pd.DataFrame([row(u) for u in rt.index])
    full = full.rename(columns={f"pillar:{p}": p for p in pillars})
    rv.publish(sec, "index_all", rv.msg("rv_tab_index_all", year=rv.year), full, page=False,
               units={"rv_col_index": "score", "rv_col_rank": "rank", "rv_col_median_rank": "rank",
                      "rv_col_rank_low": "rank", "rv_col_rank_high": "rank", **{p: "score" for p in pillars}})
    ends = pd.concat([shown.head(ENDS), shown.tail(ENDS)]) if len(shown) > 2 * ENDS else shown
    ends = ends[~ends.index.duplicated()]
    page = pd.DataFrame({
        "rv_col_unit": [rv.unit_name(u) for u in ends.index],
        "rv_col_rank": [f"{int(r['nominal_rank'])}" for _, r in ends.iterrows()],
        "rv_col_rank_interval": [rv.msg("rv_rank_interval", low=int(r["rank_p05"]), high=int(r["rank_p95"]))
                                 for _, r in ends.iterrows()],
        "rv_col_band": [rv.msg(f"rv_band_{band[u]}") for u in ends.index],
    })
    note = rv.msg("rv_n_ends_high_low", ends=ENDS, level=rv.msg("community"), n=len(shown)) if len(shown) > 2 * ENDS else ""
    rv.publish(sec, "index", rv.msg("rv_tab_index", year=rv.year), page, sheet=False, note=note)
    _figure(rv, sec, shown, band)
    sec.caveats.append(rv.msg("rv_c_index", draws=DRAWS))


def _figure(rv: Review, sec: Section, rt: pd.DataFrame, band: pd.Series) -> None:
    colours = {"above": "#009E73", "below": "#D55E00", "unclear": "#0072B2"}
    n = len(rt)
    fig, ax = plt.subplots(figsize=(6.4, max(3.5, 0.19 * n + 1.5)))
    y = np.arange(n)
    c = [colours[band[u]] for u in rt.index]
    ax.hlines(y, rt["rank_p05"], rt["rank_p95"], color=c, lw=3, alpha=0.6)
    ax.plot(rt["nominal_rank"], y, "o", color="black", ms=3)
    ax.axvline((len(band) + 1) / 2, color="0.5", ls="--", lw=1)
    ax.set_yticks(y, [rv.unit_name(u) for u in rt.index], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(rv.msg("rv_axis_rank"))
    ax.set_title(rv.msg("rv_fig_index", year=rv.year))
    handles = [plt.Line2D([], [], color=colours[b], lw=3, label=rv.msg(f"rv_band_{b}")) for b in ("above", "unclear",
                                                                                                   "below")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    rv.savefig(sec, fig, "index", rv.msg("rv_fig_index", year=rv.year))
