"""Data treatment and normalisation for composite indicators (OECD/JRC Handbook, steps 3-5).

Everything here works on a wide matrix: a ``DataFrame`` of units (rows) by indicators
(columns), raw values in the indicators' own units, with a direction per indicator
(``"higher"`` or ``"lower"`` is better, from the catalogue). Every normalisation applies the
direction, so that on every normalised scale **higher is better**.

Methods and their references
----------------------------
* Missing data and imputation: OECD/JRC (2008) *Handbook on Constructing Composite Indicators*,
  section 1.3 (unconditional mean / median substitution, group mean). ``"none"`` leaves gaps,
  which the aggregation then skips (weights re-normalised over the indicators a unit has).
* Outliers: the COINr rule (Becker et al. 2022, ``Treat()``, ``check_SkewKurt()``): an indicator
  is treated when ``|skewness| >= 2`` **and** ``kurtosis >= 3.5``; treatment winsorises one point
  at a time (the most extreme on the skewed side is set to the next value) up to 5 points, until the
  rule passes. Skewness and kurtosis are COINr's ``skew()`` / ``kurt()``, which are e1071's
  ``type = 2`` estimators: the adjusted Fisher-Pearson skewness G1 and the bias-corrected *excess*
  kurtosis G2 (as Excel's SKEW and KURT, pandas ``Series.skew()`` / ``Series.kurt()``). A normal
  sample has kurtosis near 0 on this definition, so 3.5 means clearly heavy tails. When 5 points
  are not enough, COINr's second treatment is applied to the *original* values (``Treat()``'s
  ``f2``, ``combine_treat = FALSE``): treatment ``"winsorise"`` uses COINr's log transform
  ``log_CT_plus``, ``log(x - min + a)`` for a right skew and ``-log(max + a - x)`` for a left one,
  ``a = 0.01 (max - min)``; treatment ``"winsorise_boxcox"`` uses COINr's ``boxcox`` on the values
  shifted to start at 1 (``x - min + 1``), with the Box-Cox exponent estimated by maximum likelihood
  (``scipy.stats.boxcox``; COINr asks the user for it). Both transforms are increasing, so the
  direction of the indicator is kept; the report says which transform was used.
* Normalisations (Handbook section 5; COINr ``n_minx``, ``n_zscore``, ``n_rank``, ``n_dist2targ``,
  ``n_goalposts``), all on 0-100-like scales, higher is better:

  - ``minmax``: ``100 (x - min) / (max - min)`` (reversed for lower-is-better).
  - ``zscore``: ``100 + 10 (x - mean) / sd`` (sample sd, ``ddof=1``; COINr ``m_sd = c(100, 10)``),
    kept positive so that the geometric mean is defined.
  - ``rank``: percentile rank ``100 r / n`` where ``r`` is the ascending rank among the ``n``
    units with a value (ties share their mean rank); the worst unit gets ``100 / n``.
  - ``distance_to_target``: share of the target reached, ``100 x / target`` (``100 target / x``
    when lower is better), capped at 100 (the SDG Index convention: beating the target earns
    nothing more). Indicators without a target use the best observed value as the reference
    (Handbook's "distance to the leader").
  - ``goalposts``: ``100 (x - worst) / (best - worst)`` clipped to ``[0, 100]`` with fixed
    goalposts: by default ``best`` is the catalogue target, else the natural best (1 for a share,
    0 for a lower-is-better share), else the observed best; ``worst`` is the natural worst of a
    share (0, or 1 when lower is better), else the observed worst.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evaluation.errors import DataError, MissingInputError, OptionError

NORMALISATIONS = ("minmax", "zscore", "rank", "distance_to_target", "goalposts")
IMPUTATIONS = ("none", "mean", "group_mean", "median")
TREATMENTS = ("winsorise", "none", "winsorise_boxcox")

#: COINr defaults (``Treat()``: ``winmax = 5``, ``skew_thresh = 2``, ``kurt_thresh = 3.5``)
SKEW_THRESHOLD = 2.0
KURTOSIS_THRESHOLD = 3.5
WINSORISE_MAX_POINTS = 5


def _check(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise OptionError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")


# ----------------------------------------------------------------------------- missing data
def missing_report(matrix: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing values per indicator and per unit.

    Returns ``(by_indicator, by_unit)``: each with ``n_missing``, ``n`` and ``share_missing``
    (missing values over cells), sorted with the most incomplete first.
    """
    miss = matrix.isna()
    by_ind = pd.DataFrame({"n_missing": miss.sum(axis=0), "n": len(matrix)})
    by_ind["share_missing"] = by_ind["n_missing"] / by_ind["n"].where(by_ind["n"] > 0)
    by_unit = pd.DataFrame({"n_missing": miss.sum(axis=1), "n": matrix.shape[1]})
    by_unit["share_missing"] = by_unit["n_missing"] / by_unit["n"].where(by_unit["n"] > 0)
    by_ind.index.name, by_unit.index.name = "indicator", "unit_id"
    return (by_ind.sort_values("share_missing", ascending=False, kind="stable"),
            by_unit.sort_values("share_missing", ascending=False, kind="stable"))


def impute_column(x: np.ndarray, method: str, group_codes: np.ndarray | None = None) -> np.ndarray:
    """Fill one indicator's missing values (see :func:`impute`); ``group_codes``: integer group of each unit."""
    x = np.array(x, dtype=float)
    gap = np.isnan(x)
    if method == "none" or not gap.any() or gap.all():
        return x
    if method == "mean":
        x[gap] = np.nanmean(x)
    elif method == "median":
        x[gap] = np.nanmedian(x)
    else:
        have = ~gap
        n = np.bincount(group_codes[have], minlength=group_codes.max() + 1)
        s = np.bincount(group_codes[have], x[have], minlength=group_codes.max() + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            fill = np.where(n[group_codes] > 0, s[group_codes] / n[group_codes], np.nanmean(x))
        x[gap] = fill[gap]
    return x


def impute(matrix: pd.DataFrame, method: str = "none", groups: pd.Series | None = None) -> pd.DataFrame:
    """Fill missing values of each indicator (column); the input is not modified.

    ``none`` leaves them; ``mean`` / ``median`` use the indicator's mean / median over units;
    ``group_mean`` the mean over units of the same group (``groups``: unit -> group, e.g. the
    street), falling back to the overall mean where the whole group lacks the value.
    """
    _check("imputation", method, IMPUTATIONS)
    out = matrix.astype("float64").copy()
    if method == "none":
        return out
    if method == "mean":
        return out.fillna(out.mean())
    if method == "median":
        return out.fillna(out.median())
    if groups is None:
        raise MissingInputError("group_mean imputation needs groups (unit -> group, e.g. the street of each community)")
    g = groups.reindex(out.index)
    if g.isna().any():
        raise DataError(f"group_mean imputation: no group for unit(s) {', '.join(map(str, out.index[g.isna()]))}")
    filled = out.fillna(out.groupby(g.to_numpy()).transform("mean"))
    return filled.fillna(out.mean())


# ----------------------------------------------------------------------------- outliers
def skewness(x) -> float:
    """Sample skewness as COINr ``skew()`` / e1071 ``type = 2`` (adjusted Fisher-Pearson G1); NaN-skipping."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n < 3:
        return float("nan")
    d = x - x.mean()
    m2 = np.sum(d**2)
    if m2 == 0:
        return 0.0
    g = np.sqrt(n) * np.sum(d**3) / m2**1.5
    return float(g * np.sqrt(n * (n - 1)) / (n - 2))


def kurtosis(x) -> float:
    """Sample excess kurtosis as COINr ``kurt()`` / e1071 ``type = 2`` (bias-corrected G2); NaN-skipping."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n < 4:
        return float("nan")
    d = x - x.mean()
    m2 = np.sum(d**2)
    if m2 == 0:
        return 0.0
    r = n * np.sum(d**4) / m2**2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def is_outlying(x, skew_threshold: float = SKEW_THRESHOLD, kurtosis_threshold: float = KURTOSIS_THRESHOLD) -> bool:
    """COINr's rule: the indicator fails (needs treatment) when ``|skew| >= 2`` and ``kurtosis >= 3.5``."""
    s, k = skewness(x), kurtosis(x)
    if np.isnan(s) or np.isnan(k):
        return False
    return bool(abs(s) >= skew_threshold and k >= kurtosis_threshold)


def winsorise(x: pd.Series, max_points: int = WINSORISE_MAX_POINTS) -> tuple[pd.Series, int, bool]:
    """Winsorise one indicator as COINr does; returns ``(treated, points_changed, still_outlying)``.

    While the rule of :func:`is_outlying` fails and fewer than ``max_points`` points have been
    changed: on the side of the skew (top if skew > 0), the most extreme value(s) are set to the
    next value inward. Ties at the extreme are changed together and each counts as a point.
    """
    y = x.astype("float64").copy()
    changed = 0
    while is_outlying(y) and changed < max_points:
        vals = y.dropna()
        top = skewness(vals) > 0
        extreme = vals.max() if top else vals.min()
        rest = vals[vals != extreme]
        if rest.empty:
            break
        nxt = rest.max() if top else rest.min()
        at = y.eq(extreme)
        y[at] = nxt
        changed += int(at.sum())
    return y, changed, is_outlying(y)


def log_ct(x: np.ndarray) -> np.ndarray:
    """COINr ``log_CT_plus``: ``log(x - min + a)`` (right skew) or ``-log(max + a - x)`` (left), ``a = 0.01 range``."""
    x = np.asarray(x, dtype=float)
    lo, hi = np.nanmin(x), np.nanmax(x)
    a = 0.01 * (hi - lo)
    return np.log(x - lo + a) if skewness(x) > 0 else -np.log(hi + a - x)


def boxcox(x: np.ndarray) -> np.ndarray:
    """COINr ``boxcox(makepos = TRUE)``: Box-Cox of ``x - min + 1``, exponent by maximum likelihood."""
    import scipy.stats  # noqa: PLC0415 - deferred: only for this treatment

    x = np.asarray(x, dtype=float)
    shifted = x - np.nanmin(x) + 1.0
    ok = ~np.isnan(shifted)
    out = np.full_like(shifted, np.nan)
    out[ok] = scipy.stats.boxcox(shifted[ok])[0]
    return out


def treat_column(x, method: str = "winsorise") -> tuple[np.ndarray, dict]:
    """COINr's treatment of one indicator; returns the values and a report (see :func:`treat_outliers`)."""
    _check("treatment", method, TREATMENTS)
    y = np.asarray(x, dtype=float)
    row = {"skew": skewness(y), "kurtosis": kurtosis(y), "outlying": is_outlying(y), "points_winsorised": 0,
           "transform": ""}
    if method != "none" and row["outlying"]:
        w, row["points_winsorised"], still = winsorise(pd.Series(y))
        y_out = w.to_numpy(dtype=float)
        if still:  # COINr: the second treatment on the original values
            y_out = log_ct(y) if method == "winsorise" else boxcox(y)
            row["points_winsorised"] = 0
            row["transform"] = "log_CT" if method == "winsorise" else "boxcox"
        y = y_out
    row["skew_after"], row["kurtosis_after"] = skewness(y), kurtosis(y)
    row["still_outlying"] = is_outlying(y)
    return y, row


def treat_outliers(matrix: pd.DataFrame, method: str = "winsorise") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply COINr's outlier treatment to every indicator; returns ``(treated, report)``.

    ``report`` has one row per indicator: ``skew``, ``kurtosis`` (before), ``outlying`` (the rule
    failed), ``points_winsorised``, ``transform`` (``log_CT`` or ``boxcox`` when winsorising 5 points
    was not enough), ``skew_after``, ``kurtosis_after`` and ``still_outlying``.
    """
    _check("treatment", method, TREATMENTS)
    out = matrix.astype("float64").copy()
    rows = []
    for col in out.columns:
        out[col], row = treat_column(out[col].to_numpy(), method)
        rows.append({"indicator": col, **row})
    return out, pd.DataFrame(rows, columns=["indicator", "skew", "kurtosis", "outlying", "points_winsorised", "transform",
                                            "skew_after", "kurtosis_after", "still_outlying"])


# ----------------------------------------------------------------------------- normalisation
def _sign(direction: str) -> float:
    if direction not in ("higher", "lower"):
        raise DataError(f"direction {direction!r} cannot be normalised; use 'higher' or 'lower'")
    return 1.0 if direction == "higher" else -1.0


def _minmax(x: np.ndarray, direction: str) -> np.ndarray:
    lo, hi = np.nanmin(x), np.nanmax(x)
    if hi == lo:
        return np.where(np.isnan(x), np.nan, 50.0)  # no spread: everyone in the middle
    z = 100.0 * (x - lo) / (hi - lo)
    return z if direction == "higher" else 100.0 - z


def _zscore(x: np.ndarray, direction: str) -> np.ndarray:
    sd = np.nanstd(x, ddof=1)
    if not sd > 0:
        return np.where(np.isnan(x), np.nan, 100.0)
    return 100.0 + 10.0 * _sign(direction) * (x - np.nanmean(x)) / sd


def _rank(x: np.ndarray, direction: str) -> np.ndarray:
    s = pd.Series(_sign(direction) * x)
    n = s.notna().sum()
    return (100.0 * s.rank(method="average") / n).to_numpy()


def _distance_to_target(x: np.ndarray, direction: str, target: float | None) -> np.ndarray:
    if target is None or not np.isfinite(target) or target == 0:
        target = np.nanmax(x) if direction == "higher" else np.nanmin(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = x / target if direction == "higher" else np.where(x > 0, target / x, np.inf)
    share = np.where(np.isnan(x), np.nan, share)
    return 100.0 * np.minimum(share, 1.0)


def default_goalposts(x: np.ndarray, direction: str, unit: str | None, target: float | None) -> tuple[float, float]:
    """``(worst, best)`` goalposts: see the module docstring."""
    higher = direction == "higher"
    if unit == "share":
        worst = 0.0 if higher else 1.0
        natural_best = 1.0 if higher else 0.0
    else:
        worst = float(np.nanmin(x) if higher else np.nanmax(x))
        natural_best = float(np.nanmax(x) if higher else np.nanmin(x))
    best = float(target) if target is not None and np.isfinite(target) else natural_best
    return worst, best


def _goalposts(x: np.ndarray, worst: float, best: float) -> np.ndarray:
    if best == worst:
        return np.where(np.isnan(x), np.nan, 100.0)
    return np.clip(100.0 * (x - worst) / (best - worst), 0.0, 100.0)


def normalise_column(x: np.ndarray, method: str, direction: str, target: float | None = None,
                     unit: str | None = None, goalposts: tuple[float, float] | None = None) -> np.ndarray:
    """Normalise one indicator's values (see :func:`normalise`)."""
    x = np.asarray(x, dtype=float)
    _sign(direction)
    if np.isnan(x).all():
        return x
    if method == "minmax":
        return _minmax(x, direction)
    if method == "zscore":
        return _zscore(x, direction)
    if method == "rank":
        return _rank(x, direction)
    if method == "distance_to_target":
        return _distance_to_target(x, direction, target)
    worst, best = goalposts or default_goalposts(x, direction, unit, target)
    return _goalposts(x, worst, best)


def normalise(matrix: pd.DataFrame, method: str, directions: Mapping[str, str],
              targets: Mapping[str, float | None] | None = None, units: Mapping[str, str] | None = None,
              goalposts: Mapping[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Normalise every indicator (column) so that higher is better; see the module docstring.

    Parameters
    ----------
    matrix
        Units x indicators, raw values.
    method
        One of :data:`NORMALISATIONS`.
    directions
        Indicator -> ``"higher"`` / ``"lower"``.
    targets
        Indicator -> target value (``distance_to_target``, ``goalposts``); missing means none.
    units
        Indicator -> catalogue unit (``"share"`` sets natural goalposts).
    goalposts
        Indicator -> ``(worst, best)``, overriding :func:`default_goalposts`.
    """
    _check("normalisation", method, NORMALISATIONS)
    targets, units, goalposts = targets or {}, units or {}, goalposts or {}
    out = {col: normalise_column(matrix[col].to_numpy(dtype=float), method, directions[col], targets.get(col),
                                 units.get(col), goalposts.get(col)) for col in matrix.columns}
    return pd.DataFrame(out, index=matrix.index, columns=matrix.columns)
