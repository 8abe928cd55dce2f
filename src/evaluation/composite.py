"""A governance-effectiveness index that states its own uncertainty.

Built the way the OECD/JRC *Handbook on Constructing Composite Indicators* (2008) and the JRC's
COINr package (Becker et al. 2022) build composite indicators, with rank intervals in every output:

1. **Framework** from the catalogue: the indicators available for the year, grouped by pillar
   (organisation, service, democracy, participation, support, outcome), each with its direction
   so that after normalisation higher is always better (:func:`community_indicator_matrix`).
2. **Data treatment** (:mod:`evaluation.normalise`): missing-data report, imputation, COINr's
   outlier rule and winsorisation; pillar coherence (Cronbach's alpha, first principal component).
3. **Normalisation, weighting, aggregation** (:mod:`evaluation.normalise`,
   :mod:`evaluation.aggregation`), on two levels: indicators -> pillars -> index.
4. **Uncertainty and sensitivity** (:func:`rank_uncertainty`): a Monte Carlo over the choices
   (imputation, outlier treatment, normalisation, pillar weights perturbed around their nominal
   values, aggregation) on a Saltelli design (:mod:`evaluation.sensitivity`). Each community gets
   its nominal rank, median rank and 5-95 % rank interval; each choice gets its first-order and
   total sensitivity index on the ranks.

The uncertainty is about the *method*: what the ranking would be under other defensible
construction choices. It does not include the sampling error of the survey indicators or the
measurement error of the registry.

>>> from evaluation.dataset import load_dataset                       # doctest: +SKIP
>>> gi = governance_index(load_dataset("data/zhangwan-synthetic"), 2020)  # doctest: +SKIP
>>> gi.scorecard().head()                                               # doctest: +SKIP
"""

from __future__ import annotations

import html
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from evaluation import catalog
from evaluation.aggregation import (AGGREGATIONS, WEIGHTINGS, Weights, aggregate_batch, equal_weights,
                                    explicit_weights, pca_pillar, pca_within, pillar_statistics)
from evaluation.normalise import (IMPUTATIONS, NORMALISATIONS, TREATMENTS, impute, missing_report, normalise,
                                  treat_outliers)
from evaluation.results import IndicatorResult, indicator_frame
from evaluation.sensitivity import choose, saltelli_design, sensitivity_indices

#: pillars of the index, in catalogue order (impact estimates are not performance indicators)
INDEX_PILLARS = ("organisation", "service", "democracy", "participation", "support", "outcome")
INDEX_ID = "index.governance"
LABELS = {INDEX_ID: ("Governance-effectiveness index", "治理效能指数")}
for _p in INDEX_PILLARS:
    LABELS[f"index.pillar.{_p}"] = (f"{catalog.message(_p, 'en')} pillar score", f"{catalog.message(_p, 'zh')}维度得分")
#: indicators with more missing units than this share are left out of the framework
MAX_SHARE_MISSING = 0.5
DEFAULT_DRAWS = 500
WEIGHT_SPREAD = 0.25  # pillar weights perturbed by up to +-25 % (the COINr vignette's default)


def label(iid: str, lang: str = "en") -> str:
    """Bilingual label of an index id, or of a catalogued indicator."""
    if iid in LABELS:
        return LABELS[iid][0 if lang == "en" else 1]
    return catalog.label(iid, lang)


# ============================================================================= framework and input
@dataclass
class IndicatorMatrix:
    """The input of the index: units x indicators with what was left out and why.

    Attributes
    ----------
    values
        Raw indicator values, one row per community, one column per indicator of the framework.
    groups
        Community -> street (for group-mean imputation).
    names
        Community -> (English name, Chinese name).
    dropped
        Indicators available but left out: ``indicator``, ``reason``.
    notes
        Providers skipped and similar.
    """

    values: pd.DataFrame
    groups: pd.Series
    names: pd.DataFrame
    dropped: pd.DataFrame
    year: int | None = None
    notes: list[str] = field(default_factory=list)

    def framework(self) -> dict[str, list[str]]:
        """Pillar -> indicators, in catalogue order."""
        return framework_of(self.values.columns)


def framework_of(indicators: Sequence[str]) -> dict[str, list[str]]:
    """Group indicator ids by catalogue pillar (catalogue order of pillars; input order within)."""
    by = {p: [] for p in INDEX_PILLARS}
    for i in indicators:
        p = catalog.get(i).pillar
        if p not in by:
            raise ValueError(f"indicator {i!r} is in pillar {p!r}, which is not a pillar of the index")
        by[p].append(i)
    return {p: ids for p, ids in by.items() if ids}


def catalogue_attributes(indicators: Sequence[str], targets: pd.DataFrame | None = None, year: int | None = None):
    """Directions, targets and units of ``indicators`` from the catalogue (targets table overrides)."""
    from evaluation.scorecard import resolve_targets

    directions = {i: catalog.get(i).direction for i in indicators}
    units = {i: catalog.get(i).unit for i in indicators}
    t = resolve_targets(indicators, year, targets).set_index("indicator")["target"]
    return directions, {i: (float(v) if pd.notna(v) else None) for i, v in t.items()}, units


def framework_table(indicators: Sequence[str], targets: pd.DataFrame | None = None, year: int | None = None) -> pd.DataFrame:
    """The framework as a table: pillar, indicator, bilingual names, direction, unit and target."""
    directions, tgt, units = catalogue_attributes(list(indicators), targets, year)
    rows = [{"pillar": catalog.get(i).pillar, "indicator": i, "name_en": catalog.label(i, "en"),
             "name_zh": catalog.label(i, "zh"), "better_when": directions[i], "unit": units[i], "target": tgt[i]}
            for i in indicators]
    return pd.DataFrame(rows)


#: indicators that are reported but do not belong in a comparison of units, with the reason
NOT_FOR_COMPARISON = {
    "svc.median_resolution_hours_closed_only": "biased by construction (resolved requests only); reported only to show the bias",
    "svc.resolution_hours_p25": "a quartile of the distribution whose median is included",
    "svc.resolution_hours_p75": "a quartile of the distribution whose median is included",
    "svc.backlog": "a count that grows with the unit's size; not comparable between units",
}


def select_indicators(wide: pd.DataFrame, max_share_missing: float = MAX_SHARE_MISSING) -> tuple[list[str], pd.DataFrame]:
    """Which columns of ``wide`` enter the index, and why the others do not.

    Left out: ids not in the catalogue or outside the index's pillars; indicators with no
    direction (``svc.requests_per_1000``: more requests is neither better nor worse); breakdowns
    of an indicator that is itself present (``dem.meeting_cadence_compliance.three_party`` beside
    ``dem.meeting_cadence_compliance``: counting both would double-weight it); indicators with the
    same value for every unit (they cannot tell units apart and break min-max); and indicators
    missing for more than ``max_share_missing`` of units; and the indicators of
    :data:`NOT_FOR_COMPARISON` (biased comparisons, quartiles beside their median, raw counts).
    """
    keep, dropped = [], []
    present = set(wide.columns)
    for col in wide.columns:
        try:
            e = catalog.get(col)
        except KeyError:
            dropped.append((col, "not in the catalogue"))
            continue
        parent = ".".join(col.split(".")[:2])
        x = wide[col]
        if col in NOT_FOR_COMPARISON:
            dropped.append((col, NOT_FOR_COMPARISON[col]))
        elif e.pillar not in INDEX_PILLARS:
            dropped.append((col, f"pillar {e.pillar} is not part of the index"))
        elif e.direction not in ("higher", "lower"):
            dropped.append((col, "no direction (neither higher nor lower is better)"))
        elif parent != col and parent in present:
            dropped.append((col, f"breakdown of {parent}, which is included"))
        elif x.isna().mean() > max_share_missing:
            dropped.append((col, f"missing for {x.isna().sum()} of {len(x)} units"))
        elif x.nunique(dropna=True) < 2:
            dropped.append((col, "the same value for every unit"))
        else:
            keep.append(col)
    return keep, pd.DataFrame(dropped, columns=["indicator", "reason"])


def community_indicator_matrix(ds: Mapping[str, pd.DataFrame], year: int, providers=None,
                               unit_type: str = "community", table: pd.DataFrame | None = None,
                               max_share_missing: float = MAX_SHARE_MISSING) -> IndicatorMatrix:
    """The wide units x indicators matrix of the index for ``year``, built from the tidy tables.

    Runs :func:`evaluation.indicators.collect_indicators` at community level (registry, service
    and survey providers; a provider that is missing from this version or whose tables the
    dataset lacks is skipped with a note), keeps the units of ``unit_type`` (urban communities:
    villages are governed differently and lack most urban indicators) and selects the indicators
    with :func:`select_indicators`. Pass ``table`` (a tidy indicator table) to skip the providers.
    """
    from evaluation.indicators import collect_indicators

    units = ds["units"]
    notes = []
    if table is None:
        result = collect_indicators(ds, year, "community", providers=providers)
        table, notes = result.table, list(result.notes)
    if table is None or len(table) == 0:
        raise ValueError(f"no community-level indicator could be computed for {year}: the registries "
                         "(compounds, compound_milestones, ...), requests and survey tables are all missing or empty")
    ids = units.loc[units["unit_type"].eq(unit_type), "unit_id"].astype(str)
    if ids.empty:
        raise ValueError(f"units table: no unit of type {unit_type!r}")
    t = table[table["unit_id"].isin(set(ids))]
    wide = t.pivot_table(index="unit_id", columns="indicator", values="value", aggfunc="first", dropna=False)
    wide = wide.reindex(index=list(ids))
    wide.columns = wide.columns.astype(str)
    keep, dropped = select_indicators(wide, max_share_missing)
    fw = framework_of(keep)
    order = [i for ids_ in fw.values() for i in ids_]
    values = wide[order].astype("float64")
    values.index.name = "unit_id"
    u = units.set_index(units["unit_id"].astype(str))
    empty = values.isna().all(axis=1)
    if empty.any():
        notes.append(f"left out {int(empty.sum())} unit(s) with no indicator value: {', '.join(values.index[empty])}")
        values = values[~empty]
    return IndicatorMatrix(values=values, groups=u.loc[values.index, "parent_id"].astype(str),
                           names=u.loc[values.index, ["name_en", "name_zh"]], dropped=dropped, year=year, notes=notes)


# ============================================================================= one index
@dataclass(frozen=True)
class IndexSpec:
    """One set of construction choices (the nominal one by default)."""

    imputation: str = "none"
    treatment: str = "winsorise"
    normalisation: str = "minmax"
    weighting: str = "equal"
    aggregation: str = "arithmetic"

    def __post_init__(self):
        for name, value, allowed in (("imputation", self.imputation, IMPUTATIONS),
                                     ("treatment", self.treatment, TREATMENTS),
                                     ("normalisation", self.normalisation, NORMALISATIONS),
                                     ("weighting", self.weighting, WEIGHTINGS),
                                     ("aggregation", self.aggregation, AGGREGATIONS)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")


@dataclass
class IndexScores:
    """The index under one :class:`IndexSpec`: every intermediate table, for inspection."""

    spec: IndexSpec
    treated: pd.DataFrame
    treatment_report: pd.DataFrame
    normalised: pd.DataFrame
    pillar_scores: pd.DataFrame
    index: pd.Series
    rank: pd.Series
    weights: Weights
    pillars: dict[str, list[str]]

    def effective_weights(self) -> pd.DataFrame:
        """Nominal weight of each indicator and pillar in the index, beside its *effective* importance.

        ``nominal_weight``: within-pillar weight x pillar weight (pillars: the pillar weight).
        ``correlation``: Pearson correlation with the index over units; ``importance_share``: its
        square as a share of the sum over indicators (or pillars), the linear first-order
        importance of Paruolo, Saisana & Saltelli (2013) that COINr reports: nominal weights are not
        the influence a component actually has when components differ in spread and correlation.
        """
        pillar_of = {i: p for p, ids in self.pillars.items() for i in ids}
        overall = self.weights.overall(pillar_of)
        rows = []
        for kind, frame, nominal in (("indicator", self.normalised, overall),
                                     ("pillar", self.pillar_scores, self.weights.pillar)):
            r = frame.corrwith(self.index)
            share = r**2 / (r**2).sum()
            for c in frame.columns:
                rows.append({"level": kind, "id": c, "pillar": pillar_of.get(c, c), "nominal_weight": nominal[c],
                             "correlation": r[c], "importance_share": share[c]})
        return pd.DataFrame(rows)


def _pillar_level(normalised: pd.DataFrame, pillars, within: pd.Series, aggregation: str) -> pd.DataFrame:
    cols = {p: aggregate_batch(normalised[ids].to_numpy(dtype=float), within[ids].to_numpy()[None, :], aggregation)[0]
            for p, ids in pillars.items()}
    return pd.DataFrame(cols, index=normalised.index)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = best (highest score); ties share the mean rank; rows are runs."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    return rankdata(-s, axis=-1, method="average")


def compute_index(matrix: pd.DataFrame, spec: IndexSpec = IndexSpec(), *, groups: pd.Series | None = None,
                  weights_table: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                  year: int | None = None, pillars: Mapping[str, list[str]] | None = None,
                  attributes=None) -> IndexScores:
    """The index under one set of choices: impute -> treat outliers -> normalise -> weight -> aggregate
    indicators into pillar scores -> aggregate pillar scores into the index.

    Parameters
    ----------
    matrix
        Units x indicators, raw values (catalogue ids as columns).
    spec
        The choices; ``weighting="explicit"`` needs ``weights_table`` (columns ``id, weight``).
    groups
        Unit -> group, for group-mean imputation.
    targets
        A dataset's ``targets`` table (overrides catalogue targets for ``year``).
    pillars
        Pillar -> indicators; default from the catalogue.

    Returns
    -------
    IndexScores
        Scores on the scale of the normalisation (0-100 for min-max, goalposts, distance to target
        and rank; mean 100, sd 10 for z-scores; wins minus losses for Copeland).
    """
    pillars = dict(pillars) if pillars is not None else framework_of(matrix.columns)
    directions, tgt, units = attributes or catalogue_attributes(list(matrix.columns), targets, year)
    imputed = impute(matrix, spec.imputation, groups)
    treated, report = treat_outliers(imputed, spec.treatment)
    normalised = normalise(treated, spec.normalisation, directions, tgt, units)
    if spec.weighting == "explicit":
        if weights_table is None:
            raise ValueError("explicit weighting needs a weights table (columns id, weight)")
        weights = explicit_weights(pillars, weights_table)
    elif spec.weighting == "pca":
        within = pca_within(normalised, pillars)
        ps = _pillar_level(normalised, pillars, within, spec.aggregation)
        weights = Weights(within, pca_pillar(ps), "pca")
    else:
        weights = equal_weights(pillars)
    ps = _pillar_level(normalised, pillars, weights.within, spec.aggregation)
    index = aggregate_batch(ps.to_numpy(), weights.pillar[list(ps.columns)].to_numpy()[None, :], spec.aggregation)[0]
    index = pd.Series(index, index=matrix.index, name=INDEX_ID)
    rank = pd.Series(_ranks(index.to_numpy()), index=matrix.index, name="rank")
    return IndexScores(spec, treated, report, normalised, ps, index, rank, weights, pillars)


# ============================================================================= uncertainty
@dataclass
class RankUncertainty:
    """Monte Carlo over the construction choices: rank intervals and sensitivity indices.

    Attributes
    ----------
    ranks
        Runs x units: the index rank in each of the ``2 N`` independent runs (the ``A`` and ``B``
        rows of the design).
    pillar_ranks
        Pillar -> runs x units ranks of the pillar scores (weights do not change them).
    rank_table
        Per unit: ``nominal_rank``, ``median_rank``, ``rank_p05``, ``rank_p95``, ``share_top5``.
    sensitivity
        Per choice: first-order and total indices of the ranks (generalised over units) and of
        COINr's scalar output, the mean absolute rank shift from the nominal ranking.
    choices
        The options sampled for each discrete choice, and the weight spread.
    """

    ranks: pd.DataFrame
    pillar_ranks: dict[str, pd.DataFrame]
    rank_table: pd.DataFrame
    sensitivity: pd.DataFrame
    choices: dict
    draws: int
    seed: int

    def pairwise(self) -> pd.DataFrame:
        """Share of runs in which the row unit ranks better (lower rank) than the column unit."""
        r = self.ranks.to_numpy()
        better = (r[:, :, None] < r[:, None, :]).mean(axis=0)
        return pd.DataFrame(better, index=self.ranks.columns, columns=self.ranks.columns)

    def distinguishable(self, level: float = 0.95) -> pd.DataFrame:
        """Pairs of units ordered the same way in at least ``level`` of runs (told apart) or not.

        Returns one row per pair (``a`` ranked better nominally): ``share_a_better`` and
        ``told_apart``.
        """
        pw = self.pairwise()
        nominal = self.rank_table["nominal_rank"]
        rows = []
        ids = list(nominal.sort_values(kind="stable").index)
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                s = pw.loc[a, b]
                rows.append({"a": a, "b": b, "share_a_better": s, "told_apart": bool(s >= level or s <= 1 - level)})
        return pd.DataFrame(rows)


def _rank_summary(ranks: np.ndarray, units, nominal: pd.Series) -> pd.DataFrame:
    q = np.percentile(ranks, [5, 50, 95], axis=0)
    return pd.DataFrame({"nominal_rank": nominal.reindex(units).to_numpy(), "median_rank": q[1], "rank_p05": q[0],
                         "rank_p95": q[2], "share_top5": (ranks <= 5).mean(axis=0)}, index=pd.Index(units, name="unit_id"))


def rank_uncertainty(matrix: pd.DataFrame, nominal: IndexSpec = IndexSpec(), *, draws: int = DEFAULT_DRAWS,
                     seed: int = 2020, groups: pd.Series | None = None, weights_table: pd.DataFrame | None = None,
                     targets: pd.DataFrame | None = None, year: int | None = None,
                     imputations: Sequence[str] = IMPUTATIONS, treatments: Sequence[str] = TREATMENTS,
                     normalisations: Sequence[str] = NORMALISATIONS, aggregations: Sequence[str] = AGGREGATIONS,
                     weight_spread: float = WEIGHT_SPREAD, bootstrap: int = 200) -> RankUncertainty:
    """Monte Carlo uncertainty and sensitivity analysis of the ranking (Handbook section 7; Saisana,
    Saltelli & Tarantola 2005).

    Five uncertain inputs, sampled independently and uniformly: imputation, outlier treatment,
    normalisation, aggregation (each a discrete choice among its options), and the pillar weights
    (a group factor: each pillar weight is its nominal value times a uniform factor on
    ``[1 - spread, 1 + spread]``, then re-normalised). The within-pillar weights are the nominal
    scheme's (``nominal.weighting``). ``draws`` is the base sample ``N`` of the Saltelli design;
    the model runs ``N (k + 2) = 7 N`` times.

    Rank intervals use the ``2 N`` independent runs; sensitivity indices use all runs
    (:func:`evaluation.sensitivity.sensitivity_indices`, with bootstrap intervals).
    """
    groups_needed = "group_mean" in imputations or nominal.imputation == "group_mean"
    if groups_needed and groups is None:
        imputations = [m for m in imputations if m != "group_mean"]
    pillars = framework_of(matrix.columns)
    attrs = catalogue_attributes(list(matrix.columns), targets, year)
    base = compute_index(matrix, nominal, groups=groups, weights_table=weights_table, pillars=pillars, attributes=attrs)
    nominal_pw = base.weights.pillar[list(pillars)].to_numpy()
    factors = {"imputation": 1, "treatment": 1, "normalisation": 1, "aggregation": 1, "weights": len(pillars)}
    design = saltelli_design(draws, factors, seed)
    X, blocks = design.stacked()
    cols = design.factors
    pick = {name: choose(X[:, cols[name][0]], opts) for name, opts in
            (("imputation", imputations), ("treatment", treatments), ("normalisation", normalisations),
             ("aggregation", aggregations))}
    w = nominal_pw[None, :] * (1 - weight_spread + 2 * weight_spread * X[:, cols["weights"]])
    w = w / w.sum(axis=1, keepdims=True)
    n_units = len(matrix)
    scores = np.full((len(X), n_units), np.nan)
    pranks = {p: np.full((len(X), n_units), np.nan) for p in pillars}
    combo = np.stack([pick["imputation"], pick["treatment"], pick["normalisation"], pick["aggregation"]], axis=1)
    keys, inverse = np.unique(combo, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    directions, tgt, unit_of = attrs
    positions = {p: np.array([matrix.columns.get_loc(i) for i in ids]) for p, ids in pillars.items()}
    treated, normalised = {}, {}  # cached: 8 treated and 40 normalised matrices serve all runs
    for k, (ii, ti, ni, ai) in enumerate(keys):
        if (ii, ti) not in treated:
            treated[ii, ti] = treat_outliers(impute(matrix, imputations[ii], groups), treatments[ti])[0]
        if (ii, ti, ni) not in normalised:
            normalised[ii, ti, ni] = normalise(treated[ii, ti], normalisations[ni], directions, tgt, unit_of)
        norm = normalised[ii, ti, ni]
        within = (pca_within(norm, pillars) if nominal.weighting == "pca" else base.weights.within)[list(matrix.columns)]
        x, wv = norm.to_numpy(dtype=float), within.to_numpy(dtype=float)
        agg = aggregations[ai]
        ps = np.column_stack([aggregate_batch(x[:, positions[p]], wv[positions[p]][None, :], agg)[0] for p in pillars])
        rows = np.flatnonzero(inverse == k)
        # pillar weights of the nominal scheme, perturbed; within-pillar weights nominal
        scores[rows] = aggregate_batch(ps, w[rows], agg)
        for j, p in enumerate(pillars):
            pranks[p][rows] = _ranks(ps[:, j])
    ranks = _ranks(scores)
    n = design.n
    ab = slice(0, 2 * n)
    units = list(matrix.index)
    rank_table = _rank_summary(ranks[ab], units, base.rank)
    # sensitivity of (i) the vector of ranks, (ii) COINr's mean absolute rank shift from nominal
    shift = np.abs(ranks - base.rank.to_numpy()[None, :]).mean(axis=1)
    fA, fB = ranks[:n], ranks[n:2 * n]
    fAB = {f: ranks[(2 + i) * n:(3 + i) * n] for i, f in enumerate(cols)}
    s_rank = sensitivity_indices(fA, fB, fAB, bootstrap=bootstrap, seed=seed)
    s_rank.insert(0, "output", "ranks")
    s_shift = sensitivity_indices(shift[:n], shift[n:2 * n], {f: shift[(2 + i) * n:(3 + i) * n] for i, f in enumerate(cols)},
                                  bootstrap=bootstrap, seed=seed)
    s_shift.insert(0, "output", "mean_rank_shift")
    return RankUncertainty(
        ranks=pd.DataFrame(ranks[ab], columns=units),
        pillar_ranks={p: pd.DataFrame(v[ab], columns=units) for p, v in pranks.items()},
        rank_table=rank_table, sensitivity=pd.concat([s_rank, s_shift], ignore_index=True),
        choices={"imputation": list(imputations), "treatment": list(treatments), "normalisation": list(normalisations),
                 "aggregation": list(aggregations), "weight_spread": weight_spread},
        draws=draws, seed=seed)


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

    def plot(self, ax=None, lang: str = "en"):
        """Rank intervals: communities ordered by median rank, 5-95 % bars, nominal rank as a dot."""
        import matplotlib.pyplot as plt

        from evaluation.style import PALETTE

        rt = self.uncertainty.rank_table.sort_values(["median_rank", "nominal_rank"], kind="stable")
        n = len(rt)
        if ax is None:
            _, ax = plt.subplots(figsize=(7.5, max(4.0, 0.22 * n + 1.2)))
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
        """Pillar profiles as small multiples: one panel per community (ordered by median rank),
        one bar per pillar (nominal pillar score), the district median as a grey tick."""
        import matplotlib.pyplot as plt

        from evaluation.style import PALETTE

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

    def summary(self) -> str:
        u = self.uncertainty
        fw = self.nominal.pillars
        lines = [self.title, "=" * len(self.title), f"Method: {self.method}",
                 f"Communities: {len(self.matrix.values)}; indicators: {self.matrix.values.shape[1]} in {len(fw)} pillars "
                 f"({', '.join(f'{p} {len(v)}' for p, v in fw.items())})",
                 f"Monte Carlo: {u.draws} base draws x 7 = {7 * u.draws} runs, seed {u.seed}; "
                 f"rank intervals over {2 * u.draws} independent runs",
                 f"Communities whose 5-95 % rank interval reaches the top 5: {len(self.top_overlap(5))}"]
        s = u.sensitivity[u.sensitivity["output"].eq("ranks")]
        lines.append("Sensitivity of the ranks (first order / total): "
                     + "; ".join(f"{r.factor} {r.first_order:.2f} / {r.total:.2f}" for r in s.itertuples()))
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

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
                     nominal: IndexSpec = IndexSpec(), providers=None, table: pd.DataFrame | None = None,
                     weights_table: pd.DataFrame | None = None, bootstrap: int = 200) -> GovernanceIndex:
    """The governance-effectiveness index of the communities for ``year`` with rank intervals.

    Builds the matrix (:func:`community_indicator_matrix`), the nominal index
    (:func:`compute_index`) and the Monte Carlo (:func:`rank_uncertainty`). Pass ``table`` (the
    tidy community-level indicator table of the year) to reuse indicators already computed.
    """
    matrix = community_indicator_matrix(ds, year, providers=providers, table=table)
    targets = ds["targets"] if "targets" in ds else None
    base = compute_index(matrix.values, nominal, groups=matrix.groups, weights_table=weights_table, targets=targets, year=year)
    unc = rank_uncertainty(matrix.values, nominal, draws=draws, seed=seed, groups=matrix.groups,
                           weights_table=weights_table, targets=targets, year=year, bootstrap=bootstrap)
    notes = list(matrix.notes)
    if len(matrix.dropped):
        notes.append(f"{len(matrix.dropped)} indicator(s) left out of the framework (see .matrix.dropped)")
    notes.append("Rank intervals show the uncertainty of the construction choices only, not the sampling error "
                 "of survey indicators.")
    s = nominal
    return GovernanceIndex(
        table=_tidy(matrix, base, unc, year), title=f"Governance-effectiveness index {year}, communities",
        method=(f"OECD/JRC Handbook (2008) / COINr: nominal {s.imputation} imputation, {s.treatment} outliers, "
                f"{s.normalisation} normalisation, {s.weighting} weights, {s.aggregation} aggregation; Monte Carlo over "
                "imputation, outlier treatment, normalisation, aggregation and pillar weights (+-25 %); Saltelli/Jansen "
                "sensitivity indices"),
        notes=notes, matrix=matrix, nominal=base, uncertainty=unc)


def index_sheets(gi: GovernanceIndex) -> dict[str, pd.DataFrame]:
    """Workbook sheets: tidy index table, scorecard (en, zh), sensitivity, data treatment, weights."""
    from evaluation.indicators import labelled

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


def run_cli(args) -> int:
    """``evaluation index DIR --year Y [--draws N] --out FILE``: CSV/Parquet get the tidy table (with
    rank intervals and bilingual names), XLSX a workbook with the scorecard, sensitivity and data treatment."""
    from evaluation.dataset import load_dataset
    from evaluation.io import write_table, write_workbook

    from evaluation.io import output_path

    out = output_path(args.out)
    folder = Path(args.dir)  # load_dataset names a missing folder
    draws = int(getattr(args, "draws", DEFAULT_DRAWS))
    if draws < 10:
        raise ValueError(f"--draws {draws}: use at least 10 base draws for rank intervals")
    ds = load_dataset(folder)
    if "units" not in ds:
        raise ValueError(f"{folder}: the dataset has no units table, which the index needs")
    gi = governance_index(ds, int(args.year), draws=draws)
    sheets = index_sheets(gi)
    if out.suffix.lower() == ".xlsx":
        write_workbook(sheets, out)
    else:
        write_table(sheets["index"], out)
    print(f"wrote the governance index of {len(gi.matrix.values)} communities ({args.year}, {draws} draws) to {out}")
    for note in gi.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
