"""How much could the pre-trend test have seen? Roth (2022), "Pretest with caution".

A pre-trend test that does not reject is only reassuring if it could have detected the violations
of parallel trends one worries about. Following Roth (2022, *AER: Insights* 4(3), 305-322) and his
R package ``pretrends``, the test here is the one readers apply to an event-study plot: it
rejects when **any** pre-adoption coefficient is individually significant (``|beta_j / se_j| >
1.96``; "no individually significant", NIS). For a hypothesised violation ``delta`` (by default
a linear trend ``slope * (e - reference)``) it gives:

* ``power``: the probability that the test rejects if the trend were ``delta``;
* ``bayes_factor``: P(passing | delta) / P(passing | parallel trends); small values mean that a
  passed test is evidence against ``delta``;
* ``likelihood_ratio``: density of the observed pre-adoption coefficients under ``delta`` over
  that under parallel trends;
* ``mean_after_pretest``: the expected event-study coefficients if ``delta`` were true *and* one
  only looked at data that passed the test (the bias that pre-testing leaves in the estimates);

and :func:`slope_for_power` the slope of a linear trend that the test detects with a given power
(R ``pretrends::slope_for_power``): the smallest trend it could reasonably have seen.

Rectangle probabilities of the multivariate normal come from :func:`scipy.stats.multivariate_normal`
(Genz's quasi-Monte Carlo, seeded); the truncated mean is the formula of Tallis (1961) as given by
Manjunath and Wilhelm (2021), which R ``tmvtnorm::mtmvnorm`` also uses. Reproduces the package's
He and Wang (2017) example (``tests/test_impact_pretrends.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.stats

from evaluation.errors import DataError, MissingInputError
from evaluation.results import IndicatorResult, new_axes

T_THRESHOLD = 1.96  # the pre-test's critical t value (R pretrends' default)
#: absolute and relative error of the quasi-Monte Carlo box probabilities: tight in few dimensions,
#: 1e-4 (power to about four decimals) beyond, where each probability costs a hundred times more
_MVN_TOL = {"few": 1e-6, "many": 1e-4}
_FEW = 4


def _box_probability(mean: np.ndarray, cov: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """P(lower <= X <= upper) for X ~ N(mean, cov) (Genz QMC, fixed seed; exact in 1 dimension)."""
    if len(mean) == 1:
        s = float(np.sqrt(cov[0, 0]))
        return float(scipy.stats.norm.cdf(upper[0], mean[0], s) - scipy.stats.norm.cdf(lower[0], mean[0], s))
    tol = _MVN_TOL["few" if len(mean) <= _FEW else "many"]
    return float(scipy.stats.multivariate_normal.cdf(upper, mean=mean, cov=cov, abseps=tol, releps=tol,
                                                     lower_limit=lower, rng=np.random.default_rng(0)))


def rejection_probability(delta_pre, sigma_pre, threshold: float = T_THRESHOLD) -> float:
    """Probability that some pre-adoption coefficient is significant when their mean is ``delta_pre``."""
    d = np.atleast_1d(np.asarray(delta_pre, dtype=float))
    S = np.atleast_2d(np.asarray(sigma_pre, dtype=float))
    ub = threshold * np.sqrt(np.diag(S))
    return 1.0 - _box_probability(d, S, -ub, ub)


def truncated_mean(mean, cov, lower, upper) -> np.ndarray:
    """Mean of N(mean, cov) truncated to the box ``[lower, upper]`` (Tallis 1961; Manjunath and Wilhelm 2021).

    ``E[X] = mean + cov F / P`` with ``P`` the box probability and ``F_k = f_k(a_k) - f_k(b_k)``,
    ``f_k(x)`` the density of ``X_k`` at ``x`` times the probability that the other coordinates fall
    in their box given ``X_k = x``.
    """
    mu = np.asarray(mean, dtype=float)
    S = np.asarray(cov, dtype=float)
    a, b = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    n = len(mu)
    P = _box_probability(mu, S, a, b)
    F = np.zeros(n)
    for k in range(n):
        sk = S[k, k]
        others = [j for j in range(n) if j != k]
        for bound, sign in ((a[k], 1.0), (b[k], -1.0)):
            dens = scipy.stats.norm.pdf(bound, mu[k], np.sqrt(sk))
            if others:
                cm = mu[others] + S[others, k] / sk * (bound - mu[k])
                cS = S[np.ix_(others, others)] - np.outer(S[others, k], S[k, others]) / sk
                dens *= _box_probability(cm, cS, a[others], b[others])
            F[k] += sign * dens
    return mu + S @ F / P


@dataclass
class PretrendPower(IndicatorResult):
    """Power of the pre-trend test against a hypothesised violation of parallel trends.

    Attributes
    ----------
    event_times
        Event time of each coefficient (the reference period, 0 by construction, not included).
    beta, sigma
        Event-study coefficients and their covariance.
    delta
        The hypothesised violation at each event time.
    power, bayes_factor, likelihood_ratio
        See the module docstring.
    slopes
        Target power -> slope of a linear trend detected with that power.
    """

    event_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sigma: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    delta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reference: int = -1
    power: float = float("nan")
    bayes_factor: float = float("nan")
    likelihood_ratio: float = float("nan")
    slopes: dict = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """Method, power, Bayes factor, likelihood ratio and the detectable slopes."""
        lines = [f"Method: {self.method}", f"Power against the hypothesised trend: {self.power:.3f}; Bayes factor "
                 f"{self.bayes_factor:.3g}; likelihood ratio {self.likelihood_ratio:.3g}"]
        lines += [f"Linear trend detected with {p:.0%} power: {s:.4g} per period" for p, s in self.slopes.items()]
        return lines

    def plot(self, *, ax=None):
        """Event-study coefficients (95 % intervals), the hypothesised trend and the expected coefficients.

        The expected coefficients are those after passing the pre-test. Returns the Axes.
        """
        t = self.table
        ax = new_axes(ax, (7.0, 4.0))
        ax.errorbar(t["event_time"], t["beta"], yerr=T_THRESHOLD * t["se"], fmt="o", color="black", capsize=3,
                    label="estimate (95 %)")
        ax.plot(t["event_time"], t["delta"], "s-", color="tab:red", label="hypothesised trend")
        ax.plot(t["event_time"], t["mean_after_pretest"], "^--", color="tab:blue", label="expected after passing the pre-test")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("event time")
        ax.legend(fontsize=8)
        return ax


def slope_for_power(sigma, event_times, target_power: float = 0.8, reference: int = -1,
                    threshold: float = T_THRESHOLD) -> float:
    """Slope of a linear trend ``slope * (e - reference)`` that the pre-test detects with ``target_power``.

    R ``pretrends::slope_for_power``: the root in the slope of the NIS rejection probability minus
    the target (the probability rises with the slope's size). A magnitude: always positive.
    """
    e = np.asarray(event_times, dtype=float)
    pre = e < reference
    if not pre.any():
        raise MissingInputError("no pre-adoption coefficient before the reference period")
    S = np.asarray(sigma, dtype=float)[np.ix_(pre, pre)]
    steps = e[pre] - reference
    if not 0.05 < target_power < 1:
        raise DataError(f"target power must be between the test's size (0.05) and 1, not {target_power}")

    def gap(s):
        return rejection_probability(s * steps, S, threshold) - target_power

    hi = 8 * float(np.sqrt(np.diag(S)).max())
    while gap(hi) < 0:
        hi *= 2
    return float(scipy.optimize.brentq(gap, 0.0, hi, xtol=1e-10))


def pretrend_power(beta, sigma, event_times, *, delta=None, slope=None, reference: int = -1,
                   target_powers=(0.5, 0.8), threshold: float = T_THRESHOLD) -> PretrendPower:
    """Power of the NIS pre-test against ``delta`` (or a linear trend of ``slope``), as R ``pretrends()``.

    Parameters
    ----------
    beta, sigma
        Event-study coefficients (reference period excluded) and their covariance.
    event_times
        Event time of each coefficient.
    delta, slope
        The hypothesised violation at each event time, or the slope of a linear one (default: the
        slope the test detects with 50 % power).
    reference
        The omitted event time (0 by construction).
    target_powers
        Powers for which :func:`slope_for_power` is reported.
    """
    b = np.asarray(beta, dtype=float)
    S = np.asarray(sigma, dtype=float)
    e = np.asarray(event_times, dtype=float)
    if S.shape != (len(b), len(b)) or len(e) != len(b):
        raise DataError("beta, sigma and event_times must have matching sizes")
    slopes = {p: slope_for_power(S, e, p, reference, threshold) for p in target_powers}
    if delta is None:
        slope = slopes.get(0.5, slope_for_power(S, e, 0.5, reference, threshold)) if slope is None else slope
        delta = slope * (e - reference)
    d = np.asarray(delta, dtype=float)
    pre = e < reference
    Sp = S[np.ix_(pre, pre)]
    power = rejection_probability(d[pre], Sp, threshold)
    size = rejection_probability(np.zeros(pre.sum()), Sp, threshold)
    lik = scipy.stats.multivariate_normal(d[pre], Sp).pdf(b[pre]) / scipy.stats.multivariate_normal(
        np.zeros(pre.sum()), Sp).pdf(b[pre])
    ub = threshold * np.sqrt(np.diag(Sp))
    m_pre = truncated_mean(d[pre], Sp, -ub, ub)
    post = ~pre
    m_post = d[post] + S[np.ix_(post, pre)] @ np.linalg.solve(Sp, m_pre - d[pre])
    mean_after = np.empty(len(b))
    mean_after[pre], mean_after[post] = m_pre, m_post
    table = pd.DataFrame({"event_time": e.astype(int), "beta": b, "se": np.sqrt(np.diag(S)), "delta": d,
                          "mean_after_pretest": mean_after})
    ref = pd.DataFrame({"event_time": [reference], "beta": [0.0], "se": [0.0], "delta": [0.0],
                        "mean_after_pretest": [0.0]})
    table = pd.concat([table, ref], ignore_index=True).sort_values("event_time", kind="stable").reset_index(drop=True)
    return PretrendPower(
        table=table, title="Power of the pre-trend test (Roth 2022)",
        method=(f"Roth (2022): P(some pre-adoption coefficient has |t| > {threshold:g}) under the hypothesised "
                "trend; multivariate normal with the event study's covariance"),
        event_times=e, beta=b, sigma=S, delta=d, reference=reference, power=power,
        bayes_factor=float((1 - power) / (1 - size)), likelihood_ratio=float(lik), slopes=slopes)
