"""The R ``did`` vignette with its covariate, reproduced with the default call at printed precision.

``reference/did/README.md``: the "Getting Started" vignette simulates a panel with ``set.seed(1814)``
and ``build_sim_dataset``, and estimates ``att_gt(..., xformla = ~X)`` with R's default doubly
robust estimator. The panel is rebuilt here with a port of R's default random number generator
(Mersenne-Twister, inversion normals, ``sample(prob=)``), checked against the printed ``head(dta)``
and ``nrow(dta)``; then ``staggered_did`` with **no options but the covariate** must print what R
printed: every ATT(g,t) and aggregate to 4 decimals, the pre-test p-value to 5. Standard errors are
R's bootstrap ones and are checked to 10 % (their bootstrap noise is a few per cent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from evaluation import impact


class RRandom:
    """R's default generator after ``set.seed(seed)``: Mersenne-Twister, "Inversion" normals.

    ``set.seed`` scrambles the seed 50 times with ``seed = 69069 seed + 1`` and fills the 625 words
    of the state the same way; the first word is ``mti`` (set to 624, so that the first draw
    regenerates the block); ``unif_rand`` is the 32-bit output times 2^-32; ``norm_rand`` takes two
    uniforms ``u = floor(2^27 u1) + u2`` and returns ``qnorm(u / 2^27)``. numpy's MT19937 has the
    same recurrence and tempering, so it is given R's state.
    """

    def __init__(self, seed: int):
        s = np.uint32(seed)
        key = np.empty(625, dtype=np.uint32)
        with np.errstate(over="ignore"):
            for _ in range(50):
                s = np.uint32(69069) * s + np.uint32(1)
            for j in range(625):
                s = np.uint32(69069) * s + np.uint32(1)
                key[j] = s
        self.bits = np.random.MT19937()
        self.bits.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}

    def unif(self, n: int) -> np.ndarray:
        u = self.bits.random_raw(n).astype(np.float64) * 2.3283064365386963e-10
        return np.where(u <= 0.0, 0.5 * 2.328306437080797e-10, u)  # R's fixup: never exactly 0

    def norm(self, n: int) -> np.ndarray:
        u = self.unif(2 * n).reshape(n, 2)
        big = 134217728.0  # 2^27
        return ndtri((np.floor(big * u[:, 0]) + u[:, 1]) / big)

    def sample_prob(self, p: np.ndarray) -> int:
        """``sample(seq_along(p) - 1, size = 1, prob = p)``: R's ProbSampleNoReplace (descending sort)."""
        p = p / p.sum()
        order = np.argsort(-p, kind="stable")
        mass = np.cumsum(p[order])
        return int(order[np.searchsorted(mass[:-1], self.unif(1)[0], side="left")])


def build_sim_dataset(seed: int = 1814, n: int = 5000, periods: int = 4) -> pd.DataFrame:
    """R ``did``'s ``reset.sim()`` + ``sp$te <- 0; sp$te.e <- 1:4`` + ``build_sim_dataset(sp)``."""
    r = RRandom(seed)
    T = periods
    theta = beta = np.arange(1, T + 1, dtype=float)  # thet = bett = theu = betu = 1:T
    te_e, te = np.arange(1, T + 1, dtype=float), 0.0
    X = r.norm(n)
    gam = np.arange(0, T + 1) / (2 * T)
    e = np.exp(np.outer(X, gam))
    pr = e / e.sum(axis=1, keepdims=True)
    G = np.array([r.sample_prob(pr[i]) for i in range(n)])
    Gt, Xt = G[G > 0], X[G > 0]
    nt = len(Gt)
    Ct = G[:nt] + r.norm(nt)  # rnorm(nt, mean = G): R recycles the first nt entries of G
    Y0 = np.column_stack([theta[t] + Ct + Xt * beta[t] + r.norm(nt) for t in range(T)])
    Y1 = np.column_stack([theta[t] + Ct + Xt * beta[t] + (Gt <= t + 1) * te_e[np.maximum(t + 1 - Gt + 1, 1) - 1] + te
                          + r.norm(nt) for t in range(T)])
    Yt = np.where(Gt[:, None] <= np.arange(1, T + 1), Y1, Y0)
    nu = int((G == 0).sum())
    Xu = X[G == 0]
    Cu = r.norm(nu)
    Yu = np.column_stack([theta[t] + Cu + r.norm(nu) + Xu * beta[t] for t in range(T)])
    g = np.r_[Gt, np.zeros(nu, int)]
    x = np.r_[Xt, Xu]
    y = np.vstack([Yt, Yu])
    ids = np.arange(1, len(g) + 1)
    long = pd.DataFrame({"G": np.repeat(g, T), "X": np.repeat(x, T), "id": np.repeat(ids, T),
                         "period": np.tile(np.arange(1, T + 1), len(g)), "Y": y.ravel()})
    return long[long["G"] != 1].reset_index(drop=True)


@pytest.fixture(scope="module")
def dta() -> pd.DataFrame:
    return build_sim_dataset()


@pytest.fixture(scope="module")
def ref(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "did" / "did_basics_reference.csv")


@pytest.fixture(scope="module")
def fit(dta):
    # the vignette's call: att_gt(yname="Y", tname="period", idname="id", gname="G", xformla=~X, data=dta)
    return impact.staggered_did(dta, "Y", unit="id", time="period", first_treated="G",
                                options=impact.DidOptions(covariates=("X",), biters=199))


def test_the_simulated_panel_is_the_vignettes(dta, reference_dir):
    """nrow(dta) = 15916 and head(dta) as printed (X to 3 decimals, Y to 2 significant places)."""
    assert len(dta) == 15916
    head = pd.read_csv(reference_dir / "did" / "did_basics_head.csv")
    got = dta.head(6)
    np.testing.assert_array_equal(got["G"], head["G"])
    np.testing.assert_array_equal(got["id"], head["id"])
    np.testing.assert_array_equal(got["period"], head["period"])
    np.testing.assert_allclose(got["X"].round(3), head["X"], atol=1e-12)
    np.testing.assert_allclose(got["Y"].round(2), head["Y"], atol=1e-12)


def test_default_is_doubly_robust(fit):
    assert impact.DidOptions().est_method == "dr" and fit.params["est_method"] == "dr"
    assert "doubly robust" in fit.method


def test_att_gt_and_pretest_at_printed_precision(fit, ref):
    r = ref[ref["object"] == "att_gt"].astype({"group": int, "time": int})
    got = fit.att_gt.merge(r, on=["group", "time"], validate="1:1")
    assert len(got) == 9
    np.testing.assert_array_equal(got["att"].round(4), got["estimate"])
    assert np.all(np.abs(got["se"] / got["std_error_bootstrap"] - 1) < 0.10)
    assert round(fit.pretest["wald_p"], 5) == pytest.approx(ref.loc[ref["object"] == "pretest_p", "estimate"].item(),
                                                            abs=1e-12)


@pytest.mark.parametrize("agg,key", [("dynamic", "event_time"), ("group", "group"), ("calendar", "time")])
def test_aggregations_at_printed_precision(fit, ref, agg, key):
    ov = fit.overall.set_index("aggregation")
    printed = ref.loc[ref["object"] == f"{agg}_overall"].iloc[0]
    decimals = 3 if agg == "group" else 4  # R prints the group overall as 1.488
    assert round(ov.loc[agg, "att"], decimals) == pytest.approx(printed["estimate"], abs=1e-12)
    assert abs(ov.loc[agg, "se"] / printed["std_error_bootstrap"] - 1) < 0.10
    rows = ref[ref["object"] == agg]
    mine = fit.aggregates[agg].set_index("key")
    assert len(mine) == len(rows)
    for _, r in rows.iterrows():
        assert round(mine.loc[int(r[key]), "att"], 4) == pytest.approx(r["estimate"], abs=1e-12)
        assert abs(mine.loc[int(r[key]), "se"] / r["std_error_bootstrap"] - 1) < 0.10


def test_simple_aggregate_at_printed_precision(fit, ref):
    s = fit.overall.set_index("aggregation").loc["simple"]
    printed = ref.loc[ref["object"] == "simple"].iloc[0]
    assert round(s["att"], 4) == pytest.approx(printed["estimate"], abs=1e-12)
    assert abs(s["se"] / printed["std_error_bootstrap"] - 1) < 0.10


def test_outcome_regression_is_not_rs_default(dta, ref):
    """The old default (outcome regression) misses R's printed simple ATT: the default matters."""
    reg = impact.staggered_did(dta, "Y", unit="id", time="period", first_treated="G",
                               options=impact.DidOptions(covariates=("X",), est_method="reg", aggregations=("simple",),
                                                         with_twfe=False, biters=9))
    printed = ref.loc[ref["object"] == "simple", "estimate"].item()
    assert round(reg.overall.iloc[0]["att"], 4) != printed
