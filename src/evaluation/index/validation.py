"""Does the index track something it does not contain? The Handbook's step 9 (links to other variables).

An index of how communities are governed should go with what residents experience. To test that
without circularity the outcome is *held out*: the index is rebuilt without the held-out pillar (by
default ``outcome``: the survey's satisfaction, trust and perceived improvement) and its scores are
correlated with each held-out indicator over the communities that have it. Reported per held-out
indicator:

* ``spearman``: Spearman's rank correlation of the nominal index (without the pillar) with it;
* ``ci_low``, ``ci_high``: its 95 % interval from a bootstrap of communities (percentile, seeded);
* ``mc_p05``, ``mc_p95``: the 5-95 % range of the correlation over the Monte Carlo runs of the
  construction choices (and data error), i.e. how much the link depends on how the index is built;
* ``share_positive``: the share of those runs in which the correlation is positive.

A strong, robust correlation is evidence of (convergent) validity; a weak one says the index and the
outcome measure different things, which is not by itself an error (OECD/JRC Handbook 2008, step 9).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from evaluation.errors import DataError
from evaluation.index.compute import IndexSpec, compute_index
from evaluation.index.matrix import IndicatorMatrix, framework_of
from evaluation.index.uncertainty import DEFAULT_DRAWS, rank_uncertainty
from evaluation.results import IndicatorResult, indicator_frame, new_axes


class IndexValidation(IndicatorResult):
    """Correlations of the index without the held-out pillar with the held-out indicators (module docstring)."""

    def plot(self, *, ax=None):
        """Spearman correlation per held-out indicator: bootstrap 95 % interval and Monte Carlo 5-95 % range."""
        t = self.table
        ax = new_axes(ax, (6.5, 0.5 * len(t) + 1.2))
        y = np.arange(len(t))
        ax.hlines(y + 0.12, t["mc_p05"], t["mc_p95"], lw=4, alpha=0.5, label="construction and data (5-95 %)")
        ax.errorbar(t["value"], y - 0.12, xerr=[t["value"] - t["ci_low"], t["ci_high"] - t["value"]], fmt="o",
                    capsize=3, color="black", label="nominal, bootstrap 95 %")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, t["held_out"].tolist(), fontsize=8)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("Spearman correlation with the index built without them")
        ax.legend(fontsize=8)
        return ax


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = ~(np.isnan(a) | np.isnan(b))
    return float(scipy.stats.spearmanr(a[ok], b[ok]).statistic) if ok.sum() > 2 else float("nan")


def index_validation(matrix: IndicatorMatrix, *, held_out: Sequence[str] | str = "outcome", nominal: IndexSpec | None = None,
                     draws: int = DEFAULT_DRAWS, seed: int = 2020, boot: int = 2000, data_error: bool = True,
                     targets: pd.DataFrame | None = None) -> IndexValidation:
    """Validate the index against held-out indicators (module docstring).

    Parameters
    ----------
    matrix
        The index's :class:`~evaluation.index.IndicatorMatrix`.
    held_out
        A pillar name (its indicators are held out) or a list of indicator ids.
    draws, seed, data_error
        The Monte Carlo of :func:`~evaluation.index.rank_uncertainty` on the index without them.
    boot
        Bootstrap resamples of communities for the interval of the nominal correlation.
    """
    nominal = nominal or IndexSpec()
    fw = framework_of(matrix.values.columns)
    cols = list(fw.get(held_out, [])) if isinstance(held_out, str) else list(held_out)
    if not cols:
        raise DataError(f"nothing to hold out: {held_out!r} is not a pillar or list of indicators of the index")
    keep = [c for c in matrix.values.columns if c not in cols]
    if len(framework_of(keep)) < 1:
        raise DataError("holding those out leaves no indicator in the index")
    x = matrix.values[keep]
    year = matrix.year
    base = compute_index(x, nominal, groups=matrix.groups, targets=targets, year=year)
    errors = matrix.errors[keep] if (data_error and matrix.errors is not None) else None
    groups = {g: [c for c in v if c in keep] for g, v in matrix.error_groups().items()} if errors is not None else None
    unc = rank_uncertainty(x, nominal, draws=draws, seed=seed, groups=matrix.groups, targets=targets, year=year,
                           bootstrap=0, errors=errors, error_groups={g: v for g, v in (groups or {}).items() if v} or None)
    scores = unc.scores.to_numpy()
    rng = np.random.default_rng(seed)
    n = len(x)
    rows = []
    for c in cols:
        y = matrix.values[c].to_numpy(dtype=float)
        r = _spearman(base.index.to_numpy(), y)
        bs = [_spearman(base.index.to_numpy()[i], y[i]) for i in (rng.integers(0, n, n) for _ in range(boot))]
        mc = np.array([_spearman(s, y) for s in scores])
        rows.append({"indicator": "index.validation.spearman", "held_out": c, "value": r,
                     "ci_low": float(np.nanpercentile(bs, 2.5)), "ci_high": float(np.nanpercentile(bs, 97.5)),
                     "mc_p05": float(np.nanpercentile(mc, 5)), "mc_p95": float(np.nanpercentile(mc, 95)),
                     "share_positive": float(np.nanmean(mc > 0)), "n": int((~np.isnan(y)).sum())})
    t = pd.DataFrame(rows)
    t["level"], t["unit_id"], t["period"] = "district", "all", str(year or "")
    t["method"] = (f"Spearman correlation of the index without {held_out if isinstance(held_out, str) else 'them'} "
                   f"with each held-out indicator; bootstrap of communities ({boot}); Monte Carlo of {2 * draws} runs")
    return IndexValidation(table=indicator_frame(t, extra=["held_out", "mc_p05", "mc_p95", "share_positive"]),
                           title=f"Validation against held-out {held_out if isinstance(held_out, str) else 'indicators'}",
                           method=t["method"].iloc[0])
