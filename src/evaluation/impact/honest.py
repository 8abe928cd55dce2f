r"""Honest DiD (Rambachan and Roth 2023): how wrong may parallel trends be before the conclusion goes?

:func:`honest_sensitivity` gives robust confidence intervals for the effect at one event time when
post-adoption violations of parallel trends are bounded:

* ``relative_magnitude`` (:math:`\Delta^{RM}(\bar M)`): a post-adoption change in the trend
  difference is at most ``Mbar`` times the largest change between consecutive pre-adoption periods;
  ``Mbar = 1`` allows violations as large as the worst seen before adoption;
* ``smoothness`` (:math:`\Delta^{SD}(M)`): the trend difference may bend by at most ``M`` (outcome
  units per period per period); ``M = 0`` allows a linear trend continued from before adoption.

The intervals are those of ``moderndid.honest_did`` (a port of R ``HonestDiD``; conditional
least-favourable hybrid for relative magnitudes, FLCI for smoothness), computed on an event study
built for the question:

1. **A universal base period.** Honest DiD reads the event study as ``beta = tau + delta`` with the
   coefficient at ``e = -1`` normalised to zero. Callaway-Sant'Anna's default "varying" base
   period makes each pre-adoption estimate a one-period change, not a deviation from ``e = -1``
   (R ``HonestDiD``'s README asks for ``base_period = "universal"``); the fit is repeated with it.
   Post-adoption estimates are the same under both base periods.
2. **The event times the question needs.** Post-adoption event times after ``event_time`` are left
   out: under both restrictions a later violation can always be chosen to fit any earlier one, so
   they do not change the identified set of the effect at ``event_time``; they only add nuisance
   dimensions to every linear program. Pre-adoption event times are kept from ``-pre_periods``
   (default all): the restriction is relative to them, so choosing fewer is a substantive choice,
   stated in the result.

Where the time went, and the fix (profile of the relative-magnitudes call on the bundled district,
mean resolution hours, event time 1, ``Mbar`` = 0.5, 1, 1.5, 2, in ``benchmarks/honest_did.py``):
with 9 pre-adoption and 10 post-adoption event times, every ``Mbar`` runs the conditional test for
14 sign/period cases, and each case solves 1,000 Monte Carlo linear programs for the
least-favourable critical value plus a few hundred for the test inversion, each through
``scipy.optimize.linprog``, whose per-call set-up (option checks, model building) costs more than
solving the small LP: 18,000 LP calls and about 40 s per ``Mbar``. Here the Monte Carlo LPs, which
share their constraint matrix and differ only in the right-hand side, are solved by one HiGHS model
that is warm-started from the previous draw (the same draws, the same seed: the same critical value
to solver tolerance, checked in ``tests/test_impact_robustness.py``), and steps 1-2 shrink the
programs to a handful of moments and one nuisance parameter, whose few dual vertices are
enumerated once so that all 1,000 draws are one matrix product. Measured (``benchmarks/honest_did.py``,
``benchmarks/results/honest_did.txt``, on a shared 2-core machine): 136.5 s before, 113.7 s for
moderndid's own loop on the universal-base event study, 4.0 s after (2.1 s with the nearest four
pre-adoption periods), with intervals identical to moderndid's.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import MissingInputError, OptionError
from evaluation.results import IndicatorResult, new_axes

SENSITIVITY_TYPES = {"relative_magnitude": "Mbar", "smoothness": "M"}
#: Mbar values of the relative-magnitudes analysis (R HonestDiD's vignette uses 0.5 to 2)
DEFAULT_MBAR = (0.5, 1.0, 1.5, 2.0)


# ----------------------------------------------------------------------------- the fast LP solver
#: above this many candidate supports the vertices are not enumerated and HiGHS solves each draw
MAX_SUPPORTS = 20_000


def _dual_vertices(sd: np.ndarray, x_t: np.ndarray) -> np.ndarray | None:
    """Vertices of ``{g >= 0, sd'g = 1, x_t'g = 0}``, one per row, or ``None`` when there are too many.

    A vertex of this polytope has at most ``k + 1`` non-zero entries (``k`` columns of ``x_t``), so
    every support of size ``1 .. k + 1`` is tried: the entries solving the equalities on it, kept
    when they are non-negative and solve them exactly.
    """
    import itertools  # noqa: PLC0415 - small standard module

    from scipy.special import comb  # noqa: PLC0415 - deferred with the rest of honest DiD

    m, k = x_t.shape
    if sum(comb(m, j, exact=True) for j in range(1, k + 2)) > MAX_SUPPORTS:
        return None
    W = np.column_stack([sd, x_t])  # rows: moments; g'W = e1
    e1 = np.r_[1.0, np.zeros(k)]
    found = []
    for size in range(1, k + 2):
        for support in itertools.combinations(range(m), size):
            Ws = W[list(support)].T  # (k+1) x size
            g, *_ = np.linalg.lstsq(Ws, e1, rcond=None)
            if np.all(g >= -1e-12) and np.allclose(Ws @ g, e1, rtol=0, atol=1e-10):
                v = np.zeros(m)
                v[list(support)] = np.maximum(g, 0.0)
                found.append(v)
    return np.array(found) if found else np.empty((0, m))


def _min_max_etas(sd: np.ndarray, x_t: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``min_{eta, d} eta`` s.t. ``sd_i eta + x_i' d >= xi_i``, for each row ``xi`` of ``draws``.

    The linear program of the least-favourable critical value (Andrews, Roth and Pakes 2023,
    eq. 14). By duality it equals ``max_g g'xi`` over the polytope ``{g >= 0, sd'g = 1, x'g = 0}``,
    whose maximum is at a vertex: when the vertices are few (:func:`_dual_vertices`, the usual case:
    a handful of moments and one or two nuisance parameters) every draw is the maximum of a
    matrix product; otherwise one HiGHS model solves the draws in turn, its row bounds changed and
    its basis kept between them (dual simplex, warm start). NaN where there is no optimum (an
    empty polytope: the program is unbounded), as moderndid's solver then fails and skips the draw.
    """
    V = _dual_vertices(sd, x_t)
    if V is not None:
        if not len(V):
            return np.full(len(draws), np.nan)
        return (draws @ V.T).max(axis=1)
    import highspy  # noqa: PLC0415 - deferred: the LP solver loads only for honest DiD

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    m, k = x_t.shape
    inf = highspy.kHighsInf
    cols = np.arange(k + 1, dtype=np.int32)
    h.addVars(k + 1, np.full(k + 1, -inf), np.full(k + 1, inf))
    h.changeColsCost(k + 1, cols, np.r_[1.0, np.zeros(k)])
    A = -np.column_stack([sd, x_t])
    for i in range(m):
        h.addRow(-inf, 0.0, k + 1, cols, A[i])
    rows = np.arange(m, dtype=np.int32)
    lower = np.full(m, -inf)
    out = np.full(len(draws), np.nan)
    optimal = highspy.HighsModelStatus.kOptimal
    for j, xi in enumerate(draws):
        h.changeRowsBounds(m, rows, lower, -xi)
        h.run()
        if h.getModelStatus() == optimal:
            out[j] = h.getInfo().objective_function_value
    return out


def fast_least_favorable_cv(x_t=None, sigma=None, hybrid_kappa=0.05, sims=1000, rows_for_arp=None, seed=0):
    """``moderndid``'s least-favourable critical value, with its Monte Carlo LPs warm-started.

    Same signature, same random draws and the same quantile as
    :func:`moderndid.didhonest.compute_least_favorable_cv`; only the solver of the ``sims`` linear
    programs differs (:func:`_min_max_etas` instead of one ``scipy.optimize.linprog`` call each).
    """
    if x_t is None:  # no nuisance parameters: no LP, moderndid's own code
        return _ORIGINAL_CV[0](None, sigma, hybrid_kappa, sims, rows_for_arp, seed)
    rng = np.random.default_rng(seed)
    if rows_for_arp is not None:
        x_t = x_t[rows_for_arp]
        sigma = sigma[np.ix_(rows_for_arp, rows_for_arp)]
    x_t = x_t.reshape(-1, 1) if x_t.ndim == 1 else x_t
    sd = np.sqrt(np.diag(sigma))
    draws = rng.multivariate_normal(mean=np.zeros(sigma.shape[0]), cov=sigma, size=sims)
    eta = _min_max_etas(sd, x_t, draws)
    eta = eta[np.isfinite(eta)]
    if not len(eta):
        raise RuntimeError("Failed to compute any valid eta values")
    return float(np.quantile(eta, 1 - hybrid_kappa))


_ORIGINAL_CV: list = []  # moderndid's compute_least_favorable_cv, kept while fast_lp() swaps it


@contextlib.contextmanager
def fast_lp():
    """Within the block, moderndid's relative-magnitudes code uses :func:`fast_least_favorable_cv`.

    The modules that imported ``compute_least_favorable_cv`` by name get the fast one and the
    original back on exit (also on error). Not thread-safe: one sensitivity analysis at a time.
    """
    from moderndid.didhonest import arp_nuisance  # noqa: PLC0415 - deferred: optional extra
    from moderndid.didhonest.delta.rm import rm, rmb, rmm  # noqa: PLC0415 - deferred: optional extra

    modules = [m for m in (arp_nuisance, rm, rmb, rmm) if hasattr(m, "compute_least_favorable_cv")]
    saved = [m.compute_least_favorable_cv for m in modules]
    _ORIGINAL_CV[:] = [arp_nuisance.compute_least_favorable_cv]
    try:
        for m in modules:
            m.compute_least_favorable_cv = fast_least_favorable_cv
        yield
    finally:
        for m, f in zip(modules, saved):
            m.compute_least_favorable_cv = f


# ----------------------------------------------------------------------------- the event study
def universal_event_study(result, *, pre_periods: int | None = None, max_event: int | None = None):
    """The event study of ``result`` refitted with a universal base period.

    Event times ``-pre_periods - 1 .. max_event`` (:func:`moderndid.aggte` ``min_e``/``max_e``):
    ``pre_periods`` estimated pre-adoption coefficients besides the reference ``e = -1``, which is 0.
    """
    import moderndid as md  # noqa: PLC0415 - deferred: moderndid loads only when estimating

    if not result.fit:
        raise MissingInputError("this result keeps no estimation sample to refit (fit it with staggered_did)")
    mp = result.raw
    if result.options.base_period != "universal":
        kwargs = dict(result.fit["kwargs"], base_period="universal", boot=False, cband=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mp = md.att_gt(result.fit["data"], **kwargs)
    lo = -np.inf if pre_periods is None else -int(pre_periods) - 1  # the reference e = -1 is not counted
    hi = np.inf if max_event is None else int(max_event)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return md.aggte(mp, type="dynamic", min_e=lo, max_e=hi, na_rm=True, boot=False, cband=False)


# ----------------------------------------------------------------------------- the result
@dataclass
class HonestResult(IndicatorResult):
    """Robust intervals for one event-study effect under bounded violations of parallel trends.

    ``.table``: ``restriction``, ``bound`` (``Mbar`` or ``M``; 0 for the original interval),
    ``ci_low``, ``ci_high``, ``method``; the first row is the parallel-trends interval of the
    universal-base event study. ``breakdown`` is the smallest bound whose interval includes 0
    (NaN when none does: the conclusion survives every bound tried).
    """

    sensitivity_type: str = "relative_magnitude"
    event_time: int = 0
    event_times: tuple[int, ...] = ()
    seconds: float = float("nan")

    @property
    def breakdown(self) -> float:
        """Smallest bound whose interval includes 0 (NaN: none does)."""
        robust = self.table.iloc[1:]
        covers = (robust["ci_low"] <= 0) & (robust["ci_high"] >= 0)
        return float(robust.loc[covers, "bound"].min()) if covers.any() else float("nan")

    def summary_lines(self) -> list[str]:
        """Method, event times and breakdown bound."""
        b = self.breakdown
        return [f"Method: {self.method}", f"Event times used: {self.event_times[0]} to {self.event_times[-1]}",
                "Breakdown bound: " + (f"{b:g}" if np.isfinite(b) else "none of the bounds tried includes 0")]

    def plot(self, *, ax=None):
        """Robust intervals by bound, the original one first; returns the Axes."""
        t = self.table
        ax = new_axes(ax, (6.0, 3.5))
        x = np.arange(len(t))
        ax.vlines(x, t["ci_low"], t["ci_high"], lw=3, color=["grey"] + ["tab:blue"] * (len(t) - 1))
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, ["original"] + [f"{b:g}" for b in t["bound"].iloc[1:]])
        ax.set_xlabel(SENSITIVITY_TYPES[self.sensitivity_type])
        ax.set_ylabel(f"effect at event time {self.event_time}")
        ax.set_title(self.title)
        return ax


def honest_sensitivity(result, sensitivity_type: str = "relative_magnitude", *, event_time: int = 0,
                       bounds=None, pre_periods: int | None = None, alpha: float = 0.05, **kwargs) -> HonestResult:
    """Rambachan-Roth robust 95 % intervals for the effect ``event_time`` periods after adoption.

    Parameters
    ----------
    result
        An :class:`~evaluation.impact.ImpactResult` with an event study.
    sensitivity_type
        ``"relative_magnitude"`` or ``"smoothness"`` (see the module docstring).
    event_time
        The post-adoption event time whose effect is bounded.
    bounds
        ``Mbar`` values (default :data:`DEFAULT_MBAR`) or ``M`` values (default 0 and 0.5, 1, 2
        standard errors of the estimate), in outcome units per period per period.
    pre_periods
        How many pre-adoption coefficients besides the reference ``e = -1`` to use (the nearest
        ones; default all the data give). Relative magnitudes need at least 2.
    alpha
        1 - the coverage of the intervals.
    **kwargs
        Passed to :func:`moderndid.honest_did` (e.g. ``method``, ``grid_points``).
    """
    import time  # noqa: PLC0415 - small standard module, only to report the run time

    from moderndid import honest_did  # noqa: PLC0415 - deferred: the didhonest extra (cvxpy) loads only here

    if sensitivity_type not in SENSITIVITY_TYPES:
        raise OptionError(f"sensitivity_type must be one of {', '.join(SENSITIVITY_TYPES)}, not {sensitivity_type!r}")
    if "dynamic" not in result.aggregates:
        raise MissingInputError("this result has no event study (dynamic aggregation)")
    keys = set(result.aggregates["dynamic"]["key"].astype(int))
    if event_time < 0 or event_time not in keys:
        raise OptionError(f"event_time {event_time} is not a post-adoption event time of the event study "
                          f"({min(keys)} to {max(keys)})")
    t0 = time.perf_counter()
    # moderndid's relative-magnitudes path fails with a single post-adoption coefficient (its
    # no-nuisance branch returns a flat grid): keep one more when the effect at e = 0 is asked for
    es = universal_event_study(result, pre_periods=pre_periods, max_event=max(event_time, 1))
    et = tuple(int(e) for e in np.asarray(es.event_times))
    col = SENSITIVITY_TYPES[sensitivity_type]
    if sensitivity_type == "relative_magnitude":
        kwargs.setdefault("m_bar_vec", [float(b) for b in (bounds or DEFAULT_MBAR)])
    else:
        se = float(np.asarray(es.se_by_event)[list(et).index(event_time)])
        kwargs.setdefault("m_vec", [float(b) for b in (bounds or [0.0, 0.5 * se, se, 2 * se])])
    with warnings.catch_warnings(), fast_lp():
        warnings.simplefilter("ignore")
        hd = honest_did(es, event_time=event_time, sensitivity_type=sensitivity_type, alpha=alpha, **kwargs)
    robust = hd.robust_ci.to_pandas() if hasattr(hd.robust_ci, "to_pandas") else pd.DataFrame(hd.robust_ci)
    rows = [{"restriction": "parallel_trends", "bound": 0.0, "ci_low": float(hd.original_ci.lb),
             "ci_high": float(hd.original_ci.ub), "method": "original"}]
    rows += [{"restriction": sensitivity_type, "bound": float(r[col.lower() if col == "M" else col]),
              "ci_low": float(r["lb"]), "ci_high": float(r["ub"]), "method": str(r["method"])}
             for _, r in robust.iterrows()]
    what = ("post-adoption trend changes at most Mbar times the largest pre-adoption one" if col == "Mbar"
            else "trend difference bends by at most M per period per period")
    return HonestResult(
        table=pd.DataFrame(rows), title=f"Honest DiD: effect at event time {event_time} ({sensitivity_type})",
        method=(f"Rambachan and Roth (2023) robust {100 * (1 - alpha):g} % intervals ({what}); moderndid.honest_did "
                f"on the universal-base event study, event times {et[0]} to {et[-1]}"),
        sensitivity_type=sensitivity_type, event_time=int(event_time), event_times=et,
        seconds=time.perf_counter() - t0)
