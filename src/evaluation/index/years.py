"""The index over several years: scores that compare across years, rank changes with their intervals.

A panel index has to be normalised over all its years at once (COINr's panel data treatment:
one set of min, max, mean and standard deviation for the pooled unit-years), otherwise a
community's score in each year says only where it stands among that year's communities and
nothing about change. :func:`governance_index_years` therefore stacks the units x indicators
matrices of the years (the indicators present in every year), runs the Monte Carlo of
:func:`evaluation.index.uncertainty.rank_uncertainty` once on the stack (each construction choice
and each data-error draw applied to all years in the same run) and ranks within each year. The
rank change of a community between two years in each run is the difference of its two ranks under
the *same* choices: its 5-95 % interval is the uncertainty of the change, which is narrower than
the difference of the two years' intervals when the choices move both years alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluation.errors import DataError
from evaluation.index.compute import IndexSpec, compute_index
from evaluation.index.matrix import IndicatorMatrix, community_indicator_matrix, framework_of
from evaluation.index.uncertainty import DEFAULT_DRAWS, RankUncertainty, rank_uncertainty
from evaluation.results import IndicatorResult, indicator_frame, new_axes


@dataclass
class MultiYearIndex(IndicatorResult):
    """The index of several years with rank changes.

    ``.table``: tidy rows ``index.governance`` per community and year (value = nominal score on the
    pooled scale, with ``rank``, ``rank_p05``, ``rank_p95``) and ``index.governance.rank_change``
    per community and pair of consecutive years (value = nominal change, negative = better, with
    ``change_p05``, ``change_p95``, ``share_improved``).
    """

    years: tuple[int, ...] = ()
    scores: pd.DataFrame | None = None
    changes: pd.DataFrame | None = None
    uncertainty: RankUncertainty | None = None
    indicators: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """Method, years, and how many rank changes are told apart from no change."""
        c = self.changes
        sure = c[(c["change_p95"] < 0) | (c["change_p05"] > 0)]
        return [f"Method: {self.method}", f"Years: {', '.join(map(str, self.years))}; indicators in every year: "
                f"{len(self.indicators)}", f"Rank changes whose 5-95 % interval excludes 0: {len(sure)} of {len(c)}"]

    def plot(self, *, ax=None, first: int | None = None, last: int | None = None):
        """Rank change between two years (default: first and last) with its 5-95 % interval; returns the Axes."""
        a, b = first or self.years[0], last or self.years[-1]
        r = self.uncertainty.ranks.to_numpy()
        units = self.scores.index.get_level_values("unit_id").unique()
        cols = {y: [self.uncertainty.ranks.columns.get_loc((u, y)) for u in units] for y in (a, b)}
        d = r[:, cols[b]] - r[:, cols[a]]
        q = np.percentile(d, [5, 50, 95], axis=0)
        nom = (self.scores.xs(b, level="year")["rank"] - self.scores.xs(a, level="year")["rank"]).reindex(units)
        order = np.argsort(q[1], kind="stable")
        ax = new_axes(ax, (7.0, 0.22 * len(units) + 1.4))
        y = np.arange(len(units))
        ax.hlines(y, q[0][order], q[2][order], lw=3, alpha=0.55, label="5-95 % interval of the change")
        ax.plot(nom.to_numpy()[order], y, "o", ms=4, color="tab:red", label="nominal change")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [str(u) for u in np.asarray(units)[order]], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"rank change {a} to {b} (negative = moved up)")
        ax.legend(fontsize=8)
        return ax


def stack_years(matrices: Mapping[int, IndicatorMatrix]) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.Series, np.ndarray]:
    """Stack the years' matrices on the indicators and units present in all of them.

    Returns ``(values, errors, groups, blocks)`` indexed by ``(unit_id, year)``.
    """
    years = sorted(matrices)
    common = [c for c in matrices[years[0]].values.columns if all(c in matrices[y].values.columns for y in years)]
    units = [u for u in matrices[years[0]].values.index if all(u in matrices[y].values.index for y in years)]
    if not common or not units:
        raise DataError(f"no indicator or no community is present in every year {years[0]}-{years[-1]}")
    common = [i for ids in framework_of(common).values() for i in ids]
    idx = pd.MultiIndex.from_product([units, years], names=["unit_id", "year"])
    values = pd.concat({y: matrices[y].values.loc[units, common] for y in years}, names=["year"]).swaplevel()
    values = values.reindex(idx)
    errs = [matrices[y].errors for y in years]
    errors = None
    if all(e is not None for e in errs):
        errors = pd.concat({y: matrices[y].errors.reindex(index=units, columns=common) for y in years},
                           names=["year"]).swaplevel().reindex(idx)
    groups = pd.Series([matrices[years[0]].groups[u] for u, _ in idx], index=idx)
    return values, errors, groups, np.array([y for _, y in idx])


def governance_index_years(ds, years: Sequence[int], *, draws: int = DEFAULT_DRAWS, seed: int = 2020,
                           nominal: IndexSpec | None = None, data_error: bool = True, bootstrap: int = 100,
                           tables: Mapping[int, pd.DataFrame] | None = None) -> MultiYearIndex:
    """The index of ``years`` on a pooled scale, with ranks, rank changes and their intervals (module docstring).

    ``tables``: year -> the tidy community-level indicator table, to reuse indicators computed already.
    """
    nominal = nominal or IndexSpec()
    years = tuple(sorted(int(y) for y in years))
    if len(years) < 2:
        raise DataError("a multi-year index needs at least two years")
    mats = {y: community_indicator_matrix(ds, y, table=(tables or {}).get(y)) for y in years}
    values, errors, groups, blocks = stack_years(mats)
    group_key = groups.copy()
    targets = ds["targets"] if "targets" in ds else None
    unc = rank_uncertainty(values, nominal, draws=draws, seed=seed, groups=group_key, targets=targets,
                           year=years[-1], bootstrap=bootstrap, errors=errors if data_error else None,
                           error_groups=_groups_of(mats[years[-1]], values.columns) if data_error else None,
                           blocks=blocks)
    base = compute_index(values, nominal, groups=group_key, targets=targets, year=years[-1])
    scores = pd.DataFrame({"score": base.index, "rank": unc.nominal_ranks,
                           "rank_median": unc.rank_table["median_rank"].to_numpy(),
                           "rank_p05": unc.rank_table["rank_p05"].to_numpy(),
                           "rank_p95": unc.rank_table["rank_p95"].to_numpy()}, index=values.index)
    r = unc.ranks
    rows = []
    units = values.index.get_level_values("unit_id").unique()
    for a, b in zip(years[:-1], years[1:]):
        for u in units:
            d = r[(u, b)].to_numpy() - r[(u, a)].to_numpy()
            rows.append({"unit_id": u, "from_year": a, "to_year": b,
                         "change": scores.loc[(u, b), "rank"] - scores.loc[(u, a), "rank"],
                         "change_median": float(np.median(d)), "change_p05": float(np.percentile(d, 5)),
                         "change_p95": float(np.percentile(d, 95)), "share_improved": float((d < 0).mean()),
                         "score_change": scores.loc[(u, b), "score"] - scores.loc[(u, a), "score"]})
    changes = pd.DataFrame(rows)
    method = (f"OECD/JRC composite on the pooled years {years[0]}-{years[-1]} ({nominal.normalisation} over all "
              f"unit-years), ranked within each year; Monte Carlo of {2 * draws} runs applying each draw to all years"
              + (" with the sampling error of the indicators" if data_error and errors is not None else ""))
    tidy = [{"indicator": "index.governance", "level": "community", "unit_id": u, "period": str(y), "value": s.score,
             "rank": s.rank, "rank_p05": s.rank_p05, "rank_p95": s.rank_p95, "method": method}
            for (u, y), s in scores.iterrows()]
    tidy += [{"indicator": "index.governance.rank_change", "level": "community", "unit_id": c.unit_id,
              "period": f"{c.from_year}/{c.to_year}", "value": c.change, "change_p05": c.change_p05,
              "change_p95": c.change_p95, "share_improved": c.share_improved, "method": method}
             for c in changes.itertuples()]
    return MultiYearIndex(
        table=indicator_frame(tidy, extra=["rank", "rank_p05", "rank_p95", "change_p05", "change_p95", "share_improved"]),
        title=f"Governance-effectiveness index {years[0]}-{years[-1]}: scores and rank changes", method=method,
        years=years, scores=scores, changes=changes, uncertainty=unc, indicators=list(values.columns))


def _groups_of(matrix: IndicatorMatrix, columns) -> dict[str, list[str]]:
    return {g: [c for c in cols if c in columns] for g, cols in matrix.error_groups().items()
            if any(c in columns for c in cols)}
