"""A governance-effectiveness index that states its own uncertainty.

Built the way the OECD/JRC *Handbook on Constructing Composite Indicators* (2008) and the JRC's
COINr package (Becker et al. 2022) build composite indicators, with rank intervals in every output:

1. **Framework** from the catalogue: the indicators available for the year, grouped by pillar
   (organisation, service, democracy, participation, support, outcome), each with its direction
   so that after normalisation higher is always better (:func:`community_indicator_matrix`).
2. **Data treatment** (:mod:`evaluation.index.normalise`): missing-data report, imputation, COINr's
   outlier rule and winsorisation; pillar coherence (Cronbach's alpha, first principal component).
3. **Normalisation, weighting, aggregation** (:mod:`evaluation.index.normalise`,
   :mod:`evaluation.index.aggregation`), on two levels: indicators -> pillars -> index.
4. **Uncertainty and sensitivity** (:func:`rank_uncertainty`): a Monte Carlo over the choices
   (imputation, outlier treatment, normalisation, pillar weights perturbed around their nominal
   values, aggregation) on a Saltelli design (:mod:`evaluation.index.sensitivity`). Each community gets
   its nominal rank, median rank and 5-95 % rank interval; each choice gets its first-order and
   total sensitivity index on the ranks.

The uncertainty is about the *method* (what the ranking would be under other defensible
construction choices) and, by default, the *data*: indicators with a sampling interval (the
survey outcomes, the request-based service indicators) are drawn from their sampling
distributions in every run, each source one more factor of the sensitivity analysis. It does not
include measurement error of the registries (complete counts, without a sampling distribution).

>>> from evaluation.dataset import load_dataset                       # doctest: +SKIP
>>> gi = governance_index(load_dataset("data/zhangwan-synthetic"), 2020)  # doctest: +SKIP
>>> gi.scorecard().head()                                               # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation import catalog
from evaluation.index.aggregation import pillar_statistics
from evaluation.index.compute import IndexScores, IndexSpec, _ranks, compute_index
from evaluation.index.matrix import INDEX_ID, IndicatorMatrix, community_indicator_matrix, label
from evaluation.index.normalise import missing_report
from evaluation.index.uncertainty import DEFAULT_DRAWS, RankUncertainty, rank_uncertainty
from evaluation.indicators import labelled
from evaluation.results import IndicatorResult, indicator_frame, new_axes
from evaluation.style import PALETTE


# ============================================================================= the result
@dataclass
class GovernanceIndex(IndicatorResult):
    """The governance-effectiveness index of a year with its data treatment and uncertainty.

    ``.table`` is the tidy indicator table (``index.governance`` and ``index.pillar.<pillar>`` per
    community, value = nominal score, with ``rank``, ``rank_median``, ``rank_p05``, ``rank_p95``);
    :meth:`scorecard` the per-community table; :meth:`plot` the rank intervals;
    :meth:`plot_profile` the pillar profiles.
    """

    matrix: IndicatorMatrix | None = None
    nominal: IndexScores | None = None
    uncertainty: RankUncertainty | None = None

    # ---------------------------------------------------------------- data treatment
    def missing(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Missing values per indicator and per unit (:func:`evaluation.normalise.missing_report`)."""
        return missing_report(self.matrix.values)

    def pillar_statistics(self) -> pd.DataFrame:
        """Cronbach's alpha and first-component share per pillar (nominal normalisation)."""
        st = pillar_statistics(self.nominal.normalised, self.nominal.pillars)
        st.insert(1, "name", st["pillar"].map(lambda p: catalog.message(p, "en")))
        return st

    def correlations(self) -> pd.DataFrame:
        """Pearson correlations of the normalised indicators, the pillar scores and the index."""
        frame = pd.concat([self.nominal.normalised, self.nominal.pillar_scores.add_prefix("index.pillar."),
                           self.nominal.index], axis=1)
        return frame.corr()

    # ---------------------------------------------------------------- outputs
    def _name(self, unit: str, lang: str) -> str:
        return str(self.matrix.names.loc[unit, "name_en" if lang == "en" else "name_zh"])

    def _short_name(self, unit: str, lang: str) -> str:
        name = self._name(unit, lang)
        for cut in (" (synthetic)", " Community", "社区", "（合成）", "(合成)"):
            name = name.replace(cut, "")
        return f"{name} ({unit})"

    def scorecard(self, lang: str = "en") -> pd.DataFrame:
        """One row per community, best median rank first: names, index, rank interval, pillar scores."""
        rt = self.uncertainty.rank_table
        sc = pd.DataFrame({"unit_id": rt.index, "name": [self._name(u, lang) for u in rt.index],
                           "street": self.matrix.groups.reindex(rt.index).to_numpy(),
                           "index": self.nominal.index.reindex(rt.index).to_numpy()})
        for c in ("nominal_rank", "median_rank", "rank_p05", "rank_p95", "share_top5"):
            sc[c] = rt[c].to_numpy()
        for p in self.nominal.pillars:
            sc[p] = self.nominal.pillar_scores.loc[rt.index, p].to_numpy()
        sc = sc.sort_values(["median_rank", "nominal_rank"], kind="stable").reset_index(drop=True)
        if lang == "zh":
            heads = {"unit_id": "单位编码", "name": "名称", "street": "街道", "index": "指数",
                     "nominal_rank": "名义排名", "median_rank": "排名中位数", "rank_p05": "排名5%分位",
                     "rank_p95": "排名95%分位", "share_top5": "进入前五的比例"}
            heads.update({p: catalog.message(p, "zh") for p in self.nominal.pillars})
            sc = sc.rename(columns=heads)
        return sc

    def top_overlap(self, k: int = 5) -> list[str]:
        """Communities whose 5-95 % rank interval reaches the top ``k`` (``rank_p05 <= k``)."""
        rt = self.uncertainty.rank_table
        return list(rt.index[rt["rank_p05"] <= k])

    def plot(self, *, ax=None, lang: str = "en"):
        """Rank intervals: communities ordered by median rank, 5-95 % bars, nominal rank as a dot."""
        rt = self.uncertainty.rank_table.sort_values(["median_rank", "nominal_rank"], kind="stable")
        n = len(rt)
        ax = new_axes(ax, (7.5, max(4.0, 0.22 * n + 1.2)))
        y = np.arange(n)
        ax.hlines(y, rt["rank_p05"], rt["rank_p95"], color=PALETTE[0], lw=3, alpha=0.55,
                  label="5-95 % rank interval" if lang == "en" else "排名5-95%区间")
        ax.plot(rt["median_rank"], y, "|", color=PALETTE[0], ms=10, mew=2, label="median rank" if lang == "en" else "排名中位数")
        ax.plot(rt["nominal_rank"], y, "o", color=PALETTE[3], ms=4, label="nominal rank" if lang == "en" else "名义排名")
        ax.set_yticks(y, [self._short_name(u, lang) for u in rt.index], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0.5, n + 0.5)
        ax.set_xlabel("rank (1 = best)" if lang == "en" else "排名（1 = 最好）")
        ax.set_title(f"{label(INDEX_ID, lang)} {self.matrix.year or ''}: rank intervals".strip()
                     if lang == "en" else f"{self.matrix.year or ''}年{label(INDEX_ID, lang)}：排名区间")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(axis="y", alpha=0)
        return ax

    def plot_profile(self, units: Sequence[str] | None = None, lang: str = "en", ncols: int = 6):
        """Pillar profiles as small multiples; returns the figure.

        One panel per community (ordered by median rank), one bar per pillar (nominal pillar score),
        the district median as a grey tick.
        """
        import matplotlib.pyplot as plt  # noqa: PLC0415 - deferred: matplotlib loads only when a result is drawn

        rt = self.uncertainty.rank_table.sort_values(["median_rank", "nominal_rank"], kind="stable")
        units = list(units) if units is not None else list(rt.index)
        ps = self.nominal.pillar_scores
        pillars = list(ps.columns)
        nrows = int(np.ceil(len(units) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(1.45 * ncols + 0.6, 1.3 * nrows + 0.8), sharex=True, sharey=True,
                                 squeeze=False)
        lo, hi = np.nanmin(ps.to_numpy()), np.nanmax(ps.to_numpy())
        med = ps.median()
        x = np.arange(len(pillars))
        colours = [PALETTE[i % len(PALETTE)] for i in range(len(pillars))]
        for ax, u in zip(axes.ravel(), units):
            ax.bar(x, ps.loc[u].to_numpy(), color=colours, width=0.8)
            ax.hlines(med.to_numpy(), x - 0.4, x + 0.4, color="#555555", lw=1)
            r = rt.loc[u]
            ax.set_title(f"{self._short_name(u, lang)}\n{r['median_rank']:.0f} [{r['rank_p05']:.0f}-{r['rank_p95']:.0f}]",
                         fontsize=7, fontweight="normal")
            ax.grid(False)
            ax.tick_params(labelsize=6)
            ax.set_xticks([])
        for ax in axes.ravel()[len(units):]:
            ax.set_visible(False)
        axes[0, 0].set_ylim(min(0, lo), hi * 1.05)
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours]
        fig.legend(handles, [catalog.message(p, lang) for p in pillars], loc="lower right", ncols=len(pillars),
                   fontsize=8, bbox_to_anchor=(1.0, -0.005))
        fig.suptitle("Pillar profiles (nominal scores, grey: district median; title: median rank [5-95 % interval])" if lang == "en"
                     else "各维度得分（标题：排名中位数[5-95%区间]）", fontsize=10)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        return fig

    def summary_lines(self) -> list[str]:
        """Method, size, Monte Carlo and the sensitivity of the ranks to each factor."""
        u = self.uncertainty
        fw = self.nominal.pillars
        s = u.sensitivity[u.sensitivity["output"].eq("ranks")]
        k = len(u.sensitivity["factor"].unique())
        return [f"Method: {self.method}",
                f"Communities: {len(self.matrix.values)}; indicators: {self.matrix.values.shape[1]} in {len(fw)} pillars "
                f"({', '.join(f'{p} {len(v)}' for p, v in fw.items())})",
                f"Monte Carlo: {u.draws} base draws x {k + 2} = {(k + 2) * u.draws} runs, seed {u.seed}; "
                f"rank intervals over {2 * u.draws} independent runs",
                f"Communities whose 5-95 % rank interval reaches the top 5: {len(self.top_overlap(5))}",
                "Sensitivity of the ranks (first order / total): "
                + "; ".join(f"{r.factor} {r.first_order:.2f} / {r.total:.2f}" for r in s.itertuples())]

    def _repr_html_(self) -> str:
        head = f"<h4>{html.escape(self.title)}</h4><pre>{html.escape(self.summary())}</pre>"
        return head + self.scorecard().head(50).to_html(index=False, float_format=lambda x: f"{x:.3g}")


def _tidy(matrix: IndicatorMatrix, nominal: IndexScores, unc: RankUncertainty, year) -> pd.DataFrame:
    rt = unc.rank_table
    period = str(year) if year is not None else ""
    rows = []
    n_ind = matrix.values.notna().sum(axis=1)
    spec = nominal.spec
    method = (f"OECD/JRC composite: imputation {spec.imputation}, {spec.treatment} outliers, {spec.normalisation}, "
              f"{spec.weighting} weights, {spec.aggregation}; rank interval 5-95 % over {2 * unc.draws} Monte Carlo runs")
    for u in rt.index:
        miss = matrix.values.loc[u].isna()
        flags = f"missing_indicators:{int(miss.sum())}" if miss.any() else ""
        rows.append({"indicator": INDEX_ID, "unit_id": u, "value": nominal.index[u], "n": n_ind[u], "flags": flags,
                     "rank": rt.loc[u, "nominal_rank"], "rank_median": rt.loc[u, "median_rank"],
                     "rank_p05": rt.loc[u, "rank_p05"], "rank_p95": rt.loc[u, "rank_p95"], "method": method})
    for p, ids in nominal.pillars.items():
        pr = unc.pillar_ranks[p].to_numpy()
        q = np.percentile(pr, [5, 50, 95], axis=0)
        nom = _ranks(nominal.pillar_scores[p].to_numpy())
        for j, u in enumerate(unc.pillar_ranks[p].columns):
            miss = matrix.values.loc[u, ids].isna()
            rows.append({"indicator": f"index.pillar.{p}", "unit_id": u, "value": nominal.pillar_scores.loc[u, p],
                         "n": int((~miss).sum()), "flags": f"missing_indicators:{int(miss.sum())}" if miss.any() else "",
                         "rank": nom[j], "rank_median": q[1][j], "rank_p05": q[0][j], "rank_p95": q[2][j],
                         "method": method})
    t = pd.DataFrame(rows)
    t["level"], t["period"] = "community", period
    return indicator_frame(t, extra=["rank", "rank_median", "rank_p05", "rank_p95"])


def governance_index(ds: Mapping[str, pd.DataFrame], year: int, *, draws: int = DEFAULT_DRAWS, seed: int = 2020,
                     nominal: IndexSpec | None = None, providers=None, table: pd.DataFrame | None = None,
                     weights_table: pd.DataFrame | None = None, bootstrap: int = 200, data_error: bool = True,
                     pairwise: pd.DataFrame | None = None) -> GovernanceIndex:
    """The governance-effectiveness index of the communities for ``year`` with rank intervals.

    Builds the matrix (:func:`community_indicator_matrix`), the nominal index
    (:func:`compute_index`) and the Monte Carlo (:func:`rank_uncertainty`). Pass ``table`` (the
    tidy community-level indicator table of the year) to reuse indicators already computed.
    ``data_error``: draw the indicators that have a sampling interval from their sampling
    distributions in the Monte Carlo (one factor per source: survey, requests). ``pairwise``: the
    AHP comparison matrix of the pillars for ``nominal.weighting = "ahp"``.
    """
    nominal = nominal or IndexSpec()
    matrix = community_indicator_matrix(ds, year, providers=providers, table=table)
    targets = ds["targets"] if "targets" in ds else None
    base = compute_index(matrix.values, nominal, groups=matrix.groups, weights_table=weights_table, targets=targets,
                         year=year, pairwise=pairwise)
    errors = matrix.errors if data_error else None
    unc = rank_uncertainty(matrix.values, nominal, draws=draws, seed=seed, groups=matrix.groups,
                           weights_table=weights_table, targets=targets, year=year, bootstrap=bootstrap,
                           errors=errors, error_groups=matrix.error_groups() if data_error else None, pairwise=pairwise)
    notes = list(matrix.notes)
    if len(matrix.dropped):
        notes.append(f"{len(matrix.dropped)} indicator(s) left out of the framework (see .matrix.dropped)")
    sources = unc.choices["error_groups"]
    if sources:
        notes.append("Rank intervals cover the construction choices and the sampling error of "
                     + "; ".join(f"{g} ({len(c)} indicators)" for g, c in sources.items())
                     + "; not the measurement error of the registries.")
    else:
        notes.append("Rank intervals show the uncertainty of the construction choices only, not the sampling error "
                     "of survey indicators.")
    if base.ahp is not None and not base.ahp.consistent:
        notes.append(f"the AHP comparison matrix is inconsistent (consistency ratio {base.ahp.cr:.2f} >= 0.10)")
    s = nominal
    return GovernanceIndex(
        table=_tidy(matrix, base, unc, year), title=f"Governance-effectiveness index {year}, communities",
        method=(f"OECD/JRC Handbook (2008) / COINr: nominal {s.imputation} imputation, {s.treatment} outliers, "
                f"{s.normalisation} normalisation, {s.weighting} weights, {s.aggregation} aggregation; Monte Carlo over "
                "imputation, outlier treatment, normalisation, aggregation and pillar weights (+-25 %)"
                + (f" and the sampling error of {', '.join(sources)} indicators" if sources else "")
                + "; Saltelli/Jansen sensitivity indices"),
        notes=notes, matrix=matrix, nominal=base, uncertainty=unc)


def index_sheets(gi: GovernanceIndex) -> dict[str, pd.DataFrame]:
    """Workbook sheets: tidy index table, scorecard (en, zh), sensitivity, data treatment, weights."""
    miss_ind, _ = gi.missing()
    t = gi.table.copy()
    tl = labelled(t.drop(columns=["rank", "rank_median", "rank_p05", "rank_p95"]))
    tl["name_en"] = t["indicator"].map(lambda i: label(i, "en"))
    tl["name_zh"] = t["indicator"].map(lambda i: label(i, "zh"))
    tl["pillar"] = "index"
    for c in ("rank", "rank_median", "rank_p05", "rank_p95"):
        tl[c] = t[c]
    treat = gi.nominal.treatment_report.merge(miss_ind.reset_index(), on="indicator")
    return {"index": tl, "scorecard": gi.scorecard("en"), "评分卡": gi.scorecard("zh"),
            "sensitivity": gi.uncertainty.sensitivity, "data treatment": treat,
            "pillars": gi.pillar_statistics(), "weights": gi.nominal.effective_weights(),
            "left out": gi.matrix.dropped}
