"""Replicate-weight designs: jackknife (JK1, JKn), BRR and Fay, bootstrap, and published replicate weights.

A replicate design carries, beside the full-sample weights ``w``, ``R`` columns of replicate
weights ``w_r``; an estimate ``theta`` is recomputed with every ``w_r`` and its variance is

    v = sum_r c_r (theta_r - theta_bar)^2

with ``theta_bar`` the mean of the replicate estimates (R's default ``mse = FALSE``) or the
full-sample estimate (``mse = True``), and ``c_r`` the coefficients of the method (R's ``scale *
rscales``). ``svy`` computes every estimate from the replicates (``method="replication"``), including
regression (:mod:`evaluation.survey.regression`); this module builds the weights and the
coefficients as R's ``as.svrepdesign`` does:

=============  ===========================================================================
``JK1``        delete one PSU of an unstratified design; ``c = (1 - f) (n - 1) / n`` with the
               first-stage sampling fraction ``f = n / N`` (replicates by ``svy``; the FPC factor,
               which ``svy``'s jackknife lacks, is applied here)
``JKn``        delete one PSU within its stratum; ``c_r = (1 - f_h) (n_h - 1) / n_h``; strata
               sampled completely (``n_h = N_h``) get no replicate (R ``survey.drop.replicates``);
               a stratum with one PSU otherwise is an error (R ``survey.lonely.psu = "fail"``)
``BRR``        balanced half-samples from a Hadamard matrix (``svy``); two PSUs per stratum, strata
               with an even number of PSUs are split into pairs; ``c = 1 / R``; no FPC (R drops it)
``Fay``        BRR with the half-samples weighted ``2 - rho`` and ``rho``; ``c = 1 / (R (1 - rho)^2)``
``bootstrap``  Canty & Davison (1999), as R's ``bootweights``: in each stratum ``n_h`` PSUs drawn
               with replacement (with an FPC, without replacement from ``N_h`` copies of the
               sample cycled, the "BWO" bootstrap); ``c = n_bar / ((n_bar - 1)(R - 1))`` with
               ``n_bar`` the harmonic mean of the PSUs per stratum. Written here: ``svy``'s
               bootstrap is the Rao-Wu rescaling bootstrap (R's ``subbootstrap``), without FPC.
=============  ===========================================================================

Finite-population corrections after the first stage are dropped, as in R. The design degrees
of freedom are R's ``degf``: the rank of the replicate weights minus one. Published replicate
weights (statistical offices release them instead of strata and PSUs) enter through
:func:`from_replicate_weights`, with R ``svrepdesign``'s defaults for the coefficients.

The tests reproduce R's ``as.svrepdesign(dclus1)`` (JK1 with FPC), its post-stratified and raked
versions, the JKn of a stratified element sample with a certainty stratum, and
``svrepdesign(..., type = "JK1", scale = (1 - 15/757) * 14/15)`` on the same weights given by hand
(``data/reference/survey/replicates.csv``); BRR, Fay and the bootstrap against their exact or
expected variances for totals.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl

from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.survey.design import SurveyData, SurveyDesign, _svy, _to_polars

#: Replicate methods of :func:`as_replicate` (R ``as.svrepdesign(type=)``).
REPLICATE_TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap")
#: Methods of published replicate weights (:func:`from_replicate_weights`, R ``svrepdesign(type=)``).
SUPPLIED_TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap", "SDR", "other")
#: Prefix of the replicate columns in the ``svy`` sample.
REP_PREFIX = "__rep"


def degrees_of_freedom(replicate_weights: np.ndarray) -> float:
    """R's ``degf`` of a replicate design: the rank of the replicate weights (tolerance 1e-5) minus one."""
    s = np.linalg.svd(np.asarray(replicate_weights, dtype="float64"), compute_uv=False)
    return float(np.sum(s > 1e-5 * s[0]) - 1) if len(s) else 0.0


class ReplicateSurvey(SurveyData):
    """A survey with replicate weights; every estimator of :class:`SurveyData` uses the replicates.

    Parameters
    ----------
    data, design
        The survey table and its design columns (the weight column holds the full-sample weights;
        strata and PSUs, if any, are kept for reference only).
    replicate_weights
        Respondents x replicates: the analysis weights of every replicate (full-sample weight times
        the replicate factor).
    coefficients
        ``c_r`` of the variance formula (module docstring), one per replicate.
    type
        Method label (``"JK1"``, ``"JKn"``, ``"BRR"``, ``"Fay"``, ``"bootstrap"``, ...).
    mse
        Centre the squared deviations on the full-sample estimate instead of the replicates' mean.
    df
        Design degrees of freedom; ``None``: R's ``degf`` (:func:`degrees_of_freedom`).
    notes
        What a reader should know about the replicates (e.g. a dropped FPC).
    period, name
        As :class:`SurveyData`.
    """

    def __init__(self, data: pd.DataFrame, design: SurveyDesign, replicate_weights: np.ndarray,
                 coefficients: Sequence[float], *, type: str, mse: bool = False, df: float | None = None,
                 notes: Sequence[str] = (), period: str = "", name: str = "survey") -> None:
        super().__init__(data, design, period=period, name=name)
        reps = np.asarray(replicate_weights, dtype="float64")
        coefficients = np.asarray(coefficients, dtype="float64").reshape(-1)
        if reps.ndim != 2 or reps.shape[0] != len(data) or reps.shape[1] != len(coefficients) or reps.shape[1] < 2:
            raise OptionError(f"table {name}: replicate weights must be {len(data)} rows x R >= 2 replicates with one "
                              f"coefficient each, got {reps.shape} and {len(coefficients)} coefficients")
        self.replicate_weights, self.coefficients = reps, coefficients
        self.type, self.mse = str(type), bool(mse)
        self.df = degrees_of_freedom(reps) if df is None else float(df)
        self.replicate_notes = list(notes)

    @property
    def n_replicates(self) -> int:
        """The number of replicates ``R``."""
        return self.replicate_weights.shape[1]

    # -- the svy sample with replicate weights -------------------------------------------------
    def _new_sample(self):

        svy = _svy()
        frame = _to_polars(self.data.reset_index(drop=True)).with_columns(
            [pl.Series(f"{REP_PREFIX}{r + 1}", self.replicate_weights[:, r]) for r in range(self.n_replicates)])
        variant = {"BRR": svy.BrrWgts, "Fay": svy.BrrWgts, "bootstrap": svy.BootstrapWgts}.get(self.type, svy.JackknifeWgts)
        # the coefficients are given (svy's scale replaces the method default), so the variant is a label
        rep = variant(prefix=REP_PREFIX, n_reps=self.n_replicates, scale=tuple(self.coefficients), df=self.df)
        return svy.Sample(frame, svy.Design(wgt=self.design.weight, rep_wgts=rep))

    def _estimate(self, statistic: str, sample, *args, **kw) -> pd.DataFrame:
        deff_ref = self._deff_ref() if statistic != "quantile" else None
        t = getattr(sample.estimation, statistic)(*args, method="replication",
                                                   variance_center="estimate" if self.mse else "rep_mean",
                                                   **kw).to_polars().to_pandas()
        if deff_ref is not None:
            # svy gives no design effect with replicates. The SRS-without-replacement variance does not
            # depend on the design: it is the variance of a weights-only design over its deff.
            srs = _svy().Sample(sample.data, _svy().Design(wgt=sample.design.wgt))
            s = getattr(srs.estimation, statistic)(*args, deff=deff_ref, **kw).to_polars().to_pandas()
            keys = [c for c in t.columns if c in s.columns and c not in ("est", "se", "lci", "uci", "cv", "df", "n")]
            srs_var = (s[keys] if keys else s[[]]).assign(__v=(s["se"] ** 2 / s["deff"]).to_numpy())
            srs_var = t[keys].merge(srs_var, on=keys, how="left")["__v"] if keys else srs_var["__v"]
            t["deff"] = t["se"].to_numpy() ** 2 / srs_var.to_numpy(dtype="float64")
        return t

    def _variance_note(self) -> str:
        centre = "the full-sample estimate (mse)" if self.mse else "the mean of the replicate estimates"
        return f"{self.type} replicate weights ({self.n_replicates} replicates; squared deviations about {centre}; svy)"

    # -- copies -------------------------------------------------------------------------------
    def _copy(self, data: pd.DataFrame, weights: np.ndarray, reps: np.ndarray) -> ReplicateSurvey:
        # not validated again: calibrated (GREG) weights may be zero or negative
        out = copy.copy(self)
        out.data = data.copy()
        out.data[self.design.weight] = np.asarray(weights, dtype="float64")
        out.replicate_weights = np.asarray(reps, dtype="float64")
        out._sample_cache = None
        return out

    def with_data(self, data: pd.DataFrame) -> ReplicateSurvey:
        """A copy whose table is ``data`` (the same rows in the same order), replicates kept."""
        if len(data) != len(self.data):
            raise OptionError(f"table {self.name}: {len(data)} rows given for a survey of {len(self.data)} rows")
        return self._copy(data, pd.to_numeric(data[self.design.weight]).to_numpy(), self.replicate_weights)

    def with_calibrated_weights(self, weights: np.ndarray, replicate_weights: np.ndarray) -> ReplicateSurvey:
        """A copy with new full-sample and replicate weights (e.g. each calibrated), same coefficients."""
        return self._copy(self.data, weights, replicate_weights)

    def with_weights(self, weights, name: str | None = None, *, _sample=None) -> ReplicateSurvey:
        """A copy with new full-sample weights; with ``_sample`` (a raked ``svy`` sample), its replicates too."""
        reps = self.replicate_weights
        if _sample is not None and _sample.design.rep_wgts is not None:
            cols = _sample.design.rep_wgts.columns_from_data(_sample.data.columns)
            reps = _sample.data.select(cols).to_numpy()
        out = self._copy(self.data, np.asarray(weights, dtype="float64"), reps)
        out.name = name or self.name
        out._sample_cache = _sample
        return out


# -- building replicates from a design --------------------------------------------------------
def _units(survey: SurveyData) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Stratum and PSU labels of every row (element designs: each row its PSU) and the first-stage N_h."""
    d, data = survey.design, survey.data
    n = len(data)
    strata = data[d.stratum].astype("str").to_numpy() if d.stratum else np.full(n, "")
    psu = data[d.psu].astype("str").to_numpy() if d.psu else np.arange(n).astype("str")
    psu = np.char.add(np.char.add(strata.astype(str), "|"), psu.astype(str))  # PSUs nested in strata
    N = pd.to_numeric(data[d.fpc]).to_numpy(dtype="float64") if d.fpc else None
    return strata, psu, N


def _stratum_sizes(strata, psu, N, name) -> pd.DataFrame:
    """PSUs sampled ``n`` and in the population ``N`` per stratum; lonely PSUs outside certainty strata fail."""
    t = pd.DataFrame({"stratum": strata, "psu": psu, "N": np.nan if N is None else N})
    sizes = t.groupby("stratum").agg(n=("psu", "nunique"), N=("N", "first"), N_values=("N", "nunique"))
    if (sizes["N_values"] > 1).any():
        bad = sizes.index[sizes["N_values"] > 1][0]
        raise DataError(f"stratum {bad} has more than one first-stage population count", table=name)
    if N is not None and (sizes["N"] < sizes["n"]).any():
        bad = sizes.index[sizes["N"] < sizes["n"]][0]
        raise DataError(f"stratum {bad}: population count {sizes.loc[bad, 'N']:g} is below the {sizes.loc[bad, 'n']} "
                        "PSUs sampled", table=name)
    lonely = sizes[(sizes["n"] == 1) & ~(sizes["N"] == 1)]
    if len(lonely):
        raise DataError(f"stratum {lonely.index[0]} has only one PSU; replicates need two or more in every stratum "
                        "that is not sampled completely (R: survey.lonely.psu = 'fail')", table=name,
                        hint="collapse it with a similar stratum")
    return sizes


def _jackknife(survey: SurveyData, type: str, strata, psu, N, notes) -> tuple[np.ndarray, np.ndarray]:

    svy = _svy()
    sizes = _stratum_sizes(strata, psu, N, survey.name)
    w = pd.to_numeric(survey.data[survey.design.weight]).to_numpy(dtype="float64")
    frame = pl.DataFrame({"__stratum": strata, "__psu": psu, "__w": w})
    singleton = svy.Singleton("skip") if (sizes["n"] == 1).any() else None  # certainty strata only (checked)
    sample = svy.Sample(frame, svy.Design(stratum="__stratum", psu="__psu", wgt="__w", singleton=singleton))
    out = sample.weighting.create_jk_wgts(rep_prefix="__jk")
    cols = out.design.rep_wgts.columns_from_data(out.data.columns)
    reps = out.data.select(cols).to_numpy()
    coefs = []
    for r in range(reps.shape[1]):
        deleted = (reps[:, r] == 0) & (w > 0)
        h = strata[deleted][0]
        n_h, N_h = sizes.loc[h, "n"], sizes.loc[h, "N"]
        fpc = 1.0 - n_h / N_h if N is not None else 1.0
        coefs.append((n_h - 1) / n_h * fpc if n_h > 1 else 0.0)
    coefs = np.asarray(coefs)
    if N is not None:
        notes.append("first-stage finite-population correction (1 - n_h/N_h) in the coefficients, as R "
                     "as.svrepdesign")
        if (coefs == 0).any():
            notes.append(f"{int((coefs == 0).sum())} replicates of completely sampled strata dropped")
    keep = coefs > 0
    return reps[:, keep], coefs[keep]


def _brr(survey: SurveyData, type: str, fay_rho: float, strata, psu, N, notes) -> tuple[np.ndarray, np.ndarray]:

    svy = _svy()
    per_stratum = pd.Series(psu).groupby(strata).nunique()
    odd = per_stratum[per_stratum % 2 == 1]
    if len(odd):
        raise DataError(f"{type} needs an even number of PSUs in every stratum (they are paired into half-samples); "
                        f"{len(odd)} of {len(per_stratum)} strata have an odd number, e.g. {odd.index[0]} with {odd.iloc[0]}",
                        table=survey.name, hint="use JKn or the bootstrap")
    w = pd.to_numeric(survey.data[survey.design.weight]).to_numpy(dtype="float64")
    frame = pl.DataFrame({"__stratum": strata, "__psu": psu, "__w": w})
    sample = svy.Sample(frame, svy.Design(stratum="__stratum", psu="__psu", wgt="__w"))
    out = sample.weighting.create_brr_wgts(rep_prefix="__brr", fay_coef=fay_rho)
    cols = out.design.rep_wgts.columns_from_data(out.data.columns)
    reps = out.data.select(cols).to_numpy()
    if N is not None:
        notes.append("finite-population correction dropped (BRR and Fay have none; as R as.svrepdesign)")
    return reps, np.full(reps.shape[1], 1.0 / (reps.shape[1] * (1.0 - fay_rho) ** 2))


def bootstrap_factors(strata, psu, N, replicates: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Canty-Davison bootstrap factors per row (R ``bootweights``) and R's ``scale``.

    Parameters
    ----------
    strata, psu
        Labels per row (PSUs nested in strata).
    N
        First-stage population counts per row, or ``None``.
    replicates
        Number of replicates ``R``.
    rng
        Random generator.

    Returns
    -------
    factors, scale
        Rows x replicates: how often each row's PSU was drawn; ``n_bar / ((n_bar - 1)(R - 1))``.
    """
    codes, uniq = pd.factorize(pd.Series(psu))
    counts = np.zeros((len(uniq), replicates))
    psu_stratum = pd.Series(strata).groupby(codes).first()
    psu_N = pd.Series(N).groupby(codes).first() if N is not None else None
    for h in pd.unique(psu_stratum):
        members = np.flatnonzero(psu_stratum.to_numpy() == h)
        n = len(members)
        if psu_N is None:
            counts[members] = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).T
        else:
            # n draws without replacement from N_h copies of the sample's PSUs, cycled (R: rep(upsu, length = N))
            copies = np.bincount(np.arange(int(psu_N.iloc[members[0]])) % n, minlength=n)
            counts[members] = rng.multivariate_hypergeometric(copies, n, size=replicates).T
    per_stratum = psu_stratum.value_counts()
    n_bar = 1.0 / np.mean(1.0 / per_stratum.to_numpy())
    return counts[codes], n_bar / ((n_bar - 1.0) * (replicates - 1.0))


def as_replicate(survey: SurveyData, type: str = "auto", *, fay_rho: float | None = None, replicates: int = 50,
                 mse: bool = False, seed: int | None = None) -> ReplicateSurvey:
    """Replicate weights for a survey design, as R's ``as.svrepdesign``.

    Parameters
    ----------
    survey
        A design-based survey (not yet calibrated: calibrate the replicate design instead, as R
        requires).
    type
        ``"auto"`` (JKn when stratified, else JK1) or one of :data:`REPLICATE_TYPES`.
    fay_rho
        Fay's coefficient (``0 < rho < 1``), for ``type="Fay"`` only.
    replicates, seed
        Number of bootstrap replicates (R's default 50) and the random seed.
    mse
        Variance about the full-sample estimate (R ``mse = TRUE``) instead of the replicates' mean.

    Returns
    -------
    ReplicateSurvey
        Estimators of :class:`SurveyData` on it use the replicates.
    """
    if isinstance(survey, ReplicateSurvey):
        raise OptionError(f"table {survey.name} already has replicate weights ({survey.type})")
    cached = survey._sample_cache
    if cached is not None and cached.design.wgt_adjustment is not None:
        raise OptionError("post-stratify, rake or calibrate the design after adding replicate weights (as R requires): "
                          "as_replicate(design) first, then calibrate the replicate design")
    if type not in ("auto", *REPLICATE_TYPES):
        raise OptionError(f"replicate type {type!r} unknown; use auto or one of {', '.join(REPLICATE_TYPES)}")
    stratified = survey.design.stratum is not None and survey.data[survey.design.stratum].nunique() > 1
    if type == "auto":
        type = "JKn" if stratified else "JK1"
    if type == "JK1" and stratified:
        raise OptionError("JK1 is for unstratified designs; use JKn for a stratified one")
    if type in ("JKn", "BRR", "Fay") and not stratified:
        raise OptionError(f"{type} needs strata; use JK1 or bootstrap for an unstratified design")
    if type == "Fay" and (fay_rho is None or not 0 < fay_rho < 1):
        raise OptionError(f"Fay's method needs fay_rho between 0 and 1 (e.g. 0.5), got {fay_rho!r}")
    if type != "Fay" and fay_rho is not None:
        raise OptionError(f"fay_rho is for type='Fay' only, not {type}")
    strata, psu, N = _units(survey)
    notes = []
    if survey.design.fpc2:
        notes.append("finite-population corrections after the first stage dropped (as R as.svrepdesign)")
    if type in ("JK1", "JKn"):
        reps, coefs = _jackknife(survey, type, strata, psu, N, notes)
    elif type in ("BRR", "Fay"):
        reps, coefs = _brr(survey, type, fay_rho or 0.0, strata, psu, N, notes)
    else:
        if replicates < 2:
            raise OptionError(f"the bootstrap needs at least 2 replicates, got {replicates}")
        _stratum_sizes(strata, psu, N, survey.name)
        factors, scale = bootstrap_factors(strata, psu, N, replicates, np.random.default_rng(seed))
        w = pd.to_numeric(survey.data[survey.design.weight]).to_numpy(dtype="float64")
        reps, coefs = w[:, None] * factors, np.full(replicates, scale)
        notes.append(f"Canty-Davison bootstrap, {replicates} replicates, seed {seed}"
                     + (" (without replacement from the cycled sample: first-stage FPC)" if N is not None else ""))
    label = f"Fay (rho = {fay_rho:g})" if type == "Fay" else type
    return ReplicateSurvey(survey.data, survey.design, reps, coefs, type=label, mse=mse, notes=notes,
                           period=survey.period, name=survey.name)


def from_replicate_weights(data: pd.DataFrame, weight: str, replicates: str | Sequence[str], type: str, *,
                           scale: float | None = None, rscales: float | Sequence[float] | None = None,
                           fay_rho: float | None = None, combined_weights: bool = True, mse: bool = False,
                           df: float | None = None, period: str = "", name: str = "survey") -> ReplicateSurvey:
    """A survey from published replicate weights, as R's ``svrepdesign``.

    Parameters
    ----------
    data
        One row per respondent, with the full-sample weight and the replicate weight columns.
    weight
        The full-sample weight column.
    replicates
        The replicate columns: a list of names, or a regular expression (R ``repweights = "wt[0-9]+"``).
    type
        One of :data:`SUPPLIED_TYPES`.
    scale, rscales
        R's overall and per-replicate factors, ``c_r = scale * rscales_r``. Defaults as R: BRR ``1 /
        R``; Fay ``1 / (R (1 - rho)^2)``; JK1 ``(R - 1) / R``; bootstrap ``1 / (R - 1)``; SDR ``4 /
        R``; JKn needs ``rscales`` (``(n_h - 1) / n_h`` of each replicate's stratum); ``other``
        needs ``scale``.
    fay_rho
        Fay's coefficient, for ``type="Fay"``.
    combined_weights
        The columns are analysis weights (``True``, R's default) or factors to multiply ``weight`` by.
    mse, df
        As :class:`ReplicateSurvey` (``df``: R's ``degf`` by default).
    period, name
        Labels.

    Returns
    -------
    ReplicateSurvey
        The replicate design.
    """
    if type not in SUPPLIED_TYPES:
        raise OptionError(f"replicate type {type!r} unknown; use one of {', '.join(SUPPLIED_TYPES)}")
    if isinstance(replicates, str):
        pattern = re.compile(replicates)
        cols = [c for c in data.columns if pattern.search(str(c)) and c != weight]
    else:
        cols = list(replicates)
        absent = [c for c in cols if c not in data.columns]
        if absent:
            raise MissingInputError(f"table {name}: replicate weight column(s) {', '.join(absent)} not found", table=name)
    if len(cols) < 2:
        raise MissingInputError(f"table {name}: {len(cols)} replicate weight column(s) match {replicates!r}; "
                                "two or more are needed", table=name)
    if weight not in data.columns:
        raise MissingInputError(f"table {name}: weight column {weight} not found", table=name, column=weight)
    reps = data[cols].apply(pd.to_numeric, errors="coerce")
    bad = reps.isna() | (reps < 0)
    if bad.to_numpy().any():
        col = reps.columns[bad.any()][0]
        row = reps.index[bad[col]][0]
        raise DataError("replicate weights must be non-negative numbers", table=name, row=row, column=col,
                        value=data.loc[row, col])
    R = len(cols)
    if type == "Fay" and (fay_rho is None or not 0 < fay_rho < 1):
        raise OptionError(f"Fay replicate weights need fay_rho between 0 and 1, got {fay_rho!r}")
    if type == "JKn" and rscales is None:
        raise OptionError("JKn replicate weights need rscales: (n_h - 1)/n_h of each replicate's stratum")
    if type == "other" and scale is None:
        raise OptionError("type 'other' needs scale (and rscales unless all are 1)")
    default = {"BRR": 1.0 / R, "Fay": 1.0 / (R * (1.0 - (fay_rho or 0.0)) ** 2), "JK1": (R - 1.0) / R,
               "bootstrap": 1.0 / (R - 1.0), "SDR": 4.0 / R, "JKn": 1.0, "other": 1.0}[type]
    coefs = (default if scale is None else float(scale)) * np.broadcast_to(
        np.asarray(1.0 if rscales is None else rscales, dtype="float64"), (R,))
    w = pd.to_numeric(data[weight], errors="coerce").to_numpy(dtype="float64")
    matrix = reps.to_numpy(dtype="float64")
    if not combined_weights:
        matrix = matrix * w[:, None]
    design = SurveyDesign(stratum=None, psu=None, weight=weight, fpc=None)
    label = f"Fay (rho = {fay_rho:g})" if type == "Fay" else type
    return ReplicateSurvey(data.drop(columns=cols), design, matrix, coefs, type=label, mse=mse, df=df,
                           notes=[f"published replicate weights ({R} columns)"], period=period, name=name)
