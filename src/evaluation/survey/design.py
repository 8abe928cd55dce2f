"""Design-based estimates from the resident survey.

Estimation for stratified multi-stage designs with weights and finite-population corrections
(means, proportions, totals, ratios, quantiles, domain estimates, design effects) is delegated
to ``svy`` (the maintained successor of ``samplics``; its Taylor linearisation reproduces R's
``survey`` package, which the tests check against the California API references in
``reference/survey/``). This module turns a pandas survey table into an ``svy`` design, calls it,
and returns the package's tidy indicator table (:mod:`evaluation.results`) with the standard
error, coefficient of variation, design effect and degrees of freedom kept as extra columns.

What ``svy`` does not offer is written here and documented where it is: the difference between
two independent waves (:func:`wave_difference`) and the reliability flags.

Reliability flags (documented thresholds)
-----------------------------------------
``few_respondents``
    fewer than :data:`MIN_RESPONDENTS` (30) respondents behind the estimate: the minimum sample
    size of the NCHS Data Presentation Standards for Proportions (Parker et al. 2017, Vital
    Health Stat 2(175)).
``high_cv``
    coefficient of variation (standard error / estimate) above :data:`MAX_CV` (0.30): NCHS
    presentation standard for means and totals ("relative standard error above 30 %:
    statistically unreliable"); for proportions the CV of the rarer share is used, so that
    0.02 and 0.98 are judged alike.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy import stats

from evaluation.errors import DataError, MissingInputError, OptionError
from evaluation.results import IndicatorResult, add_flag, indicator_frame, new_axes

#: Minimum respondents for a reportable estimate (NCHS standard for proportions, 2017).
MIN_RESPONDENTS = 30
#: Maximum coefficient of variation for a reliable estimate (NCHS: RSE above 30 % unreliable).
MAX_CV = 0.30

#: Extra columns kept after the standard indicator columns.
EXTRA_COLUMNS = ("statistic", "variable", "se", "cv", "deff", "effective_n", "df")

#: Tidy ``level`` names for the grouping columns of the survey table.
LEVEL_NAMES = {
    "stratum": "street",
    "street_id": "street",
    "community_id": "community",
    "compound_id": "compound",
    "compound_type": "compound_type",
    "sex": "sex",
    "age_group": "age_group",
}


@dataclass(frozen=True)
class SurveyDesign:
    """Names of the design columns of a survey table.

    Parameters
    ----------
    stratum, psu, weight
        Stratum, primary sampling unit and design-weight columns (``None`` for no strata or a
        one-stage element sample).
    fpc
        Population count of PSUs in the stratum (a count, not a fraction); ``None``: with
        replacement at the first stage.
    ssu, fpc2
        Second-stage unit and its population count within the PSU; give both for a two-stage
        design (R: ``svydesign(id = ~psu + ssu, fpc = ~fpc + fpc2)``).
    """

    stratum: str | None = "stratum"
    psu: str | None = "psu"
    weight: str = "weight"
    fpc: str | None = "fpc"
    ssu: str | None = None
    fpc2: str | None = None

    @classmethod
    def zhangwan(cls) -> SurveyDesign:
        """The resident-survey design: streets as strata, compounds by SRS, households by SRS."""
        return cls(stratum="stratum", psu="psu", weight="weight", fpc="fpc", ssu="respondent_id", fpc2="fpc2")

    def columns(self) -> list[str]:
        """The design columns that are set (stratum, PSU, weight, FPCs, SSU)."""
        return [c for c in (self.stratum, self.psu, self.weight, self.fpc, self.ssu, self.fpc2) if c]


def _svy():
    import svy  # noqa: PLC0415 - heavy import, only when estimating

    return svy


def _to_polars(df: pd.DataFrame):

    out = {}
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.BooleanDtype) or pd.api.types.is_bool_dtype(s.dtype):
            out[col] = pl.Series(col, s.astype("float64").to_numpy(na_value=np.nan)).fill_nan(None)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            out[col] = pl.Series(col, s.astype("float64").to_numpy(na_value=np.nan)).fill_nan(None)
        else:
            out[col] = pl.Series(col, [None if pd.isna(v) else str(v) for v in s], dtype=pl.String)
    return pl.DataFrame(out)


@dataclass
class SurveyEstimate(IndicatorResult):
    """Design-based estimates in the tidy indicator table.

    Extra columns: ``statistic`` (mean, proportion, total, ratio, quantile, difference),
    ``variable``, ``se`` (Taylor-linearised or replicate standard error), ``cv`` (se / estimate),
    ``deff`` (design effect: the design variance over the variance of simple random sampling
    without replacement of the same number of respondents, R ``deff=TRUE``; defined where the
    weights sum to more than the respondents, i.e. estimate a population count), ``effective_n``
    (Kish's effective sample size of the estimate, ``n / deff``: the respondents of a simple
    random sample that would give the same variance) and ``df`` (design degrees of freedom: PSUs
    minus strata in the domain, or the rank of the replicate weights minus one, used for the
    t interval).
    """

    def plot(self, *, ax=None, truth: dict[str, float] | None = None):
        """Dot-and-whisker plot of the estimates with their 95 % intervals (and true values)."""
        t = self.table
        ax = new_axes(ax, (6, 0.35 * len(t) + 1.2))
        y = np.arange(len(t))
        ax.errorbar(t["value"], y, xerr=[t["value"] - t["ci_low"], t["ci_high"] - t["value"]], fmt="o", capsize=3,
                    label="estimate, 95 % CI")
        if truth:
            ax.plot([truth.get(u, np.nan) for u in t["unit_id"]], y, "x", color="crimson", label="true value")
        ax.set_yticks(y, [f"{u} ({p})" if len(t["period"].unique()) > 1 else str(u) for u, p in zip(t["unit_id"], t["period"])])
        ax.invert_yaxis()
        ax.set_xlabel(f"{t['statistic'].iloc[0] if len(t) else ''} of {t['variable'].iloc[0] if len(t) else ''}")
        ax.legend(loc="best", fontsize="small")
        return ax

    def _repr_html_(self) -> str:
        return super()._repr_html_() + (
            f"<p><small>Flags: few_respondents (n &lt; {MIN_RESPONDENTS}), high_cv (CV &gt; {MAX_CV:.2f}).</small></p>"
        )


class SurveyData:
    """A survey table with its design; estimation methods return :class:`SurveyEstimate`.

    Parameters
    ----------
    data
        One row per respondent (pandas). Never modified.
    design
        Design column names (:class:`SurveyDesign`).
    period
        Label for the ``period`` column of the results (e.g. the wave, ``"2020"``).
    name
        Table name for error messages.

    Examples
    --------
    >>> sd = SurveyData(survey_2020, SurveyDesign.zhangwan(), period="2020")  # doctest: +SKIP
    >>> sd.mean("sat_overall", by="stratum").table  # doctest: +SKIP
    """

    def __init__(self, data: pd.DataFrame, design: SurveyDesign | None = None, *, period: str = "",
                 name: str = "survey") -> None:
        self.design = design or SurveyDesign()
        self.name = name
        self.period = str(period)
        missing = [c for c in self.design.columns() if c not in data.columns]
        if missing:
            raise MissingInputError(f"table {name}: design column(s) {', '.join(missing)} missing")
        w = pd.to_numeric(data[self.design.weight], errors="coerce")
        bad = data.index[~(w > 0)]
        if len(bad):
            raise DataError(
                f"table {name} row {bad[0]}: column {self.design.weight} must be a positive number, "
                f"got {data.loc[bad[0], self.design.weight]!r}"
            )
        self.data = data.copy()
        self._sample_cache = None
        #: how the weights were adjusted (set by raking and calibration; part of every method note)
        self.adjustment = ""

    # -- the svy design --------------------------------------------------------------------------
    def _sample(self, extra: pd.DataFrame | None = None):
        """The ``svy`` Sample; ``extra`` columns (aligned with the rows) are added to it."""
        if self._sample_cache is None:
            self._sample_cache = self._new_sample()
        if extra is None:
            return self._sample_cache
        # Added to the existing Sample (not rebuilt) so that a calibration record (raking) survives.
        cols = _to_polars(extra.reset_index(drop=True))
        return self._sample_cache.wrangling.mutate({c: cols[c] for c in cols.columns})

    def _new_sample(self):
        return _svy().Sample(_to_polars(self.data), self._svy_design())

    def _svy_design(self, **changes):
        """The ``svy`` Design of this survey (strata, PSUs, SSUs, FPCs, weight), with ``changes``."""
        svy = _svy()
        d = self.design
        pop = svy.PopSize(psu=d.fpc, ssu=d.fpc2) if (d.fpc and d.ssu and d.fpc2) else d.fpc
        kw = {"stratum": d.stratum, "psu": d.psu, "ssu": d.ssu if d.fpc2 else None, "wgt": d.weight, "pop_size": pop}
        return svy.Design(**{**kw, **changes})

    def with_weights(self, weights: np.ndarray | pd.Series, name: str | None = None, *, _sample=None) -> SurveyData:
        """A copy of this survey with the weight column replaced (e.g. after raking).

        Standard errors from the copy treat the new weights as design weights; use
        :func:`~evaluation.survey.weighting.rake` or :func:`~evaluation.survey.calibration.calibrate`
        for calibrated weights, whose variance accounts for the calibration.
        """
        # not validated again: calibrated (GREG) weights may be zero or negative, and are still weights
        out = copy.copy(self)
        out.data = self.data.copy()
        out.data[self.design.weight] = np.asarray(weights, dtype="float64")
        out.name = name or self.name
        out._sample_cache = _sample
        return out

    def with_data(self, data: pd.DataFrame) -> SurveyData:
        """A copy of this survey (design, weights) whose table is ``data``: the same rows in the same order.

        For added columns (e.g. a cell column to calibrate to); the design columns must be unchanged.
        """
        if len(data) != len(self.data):
            raise OptionError(f"table {self.name}: {len(data)} rows given for a survey of {len(self.data)} rows")
        return SurveyData(data, self.design, period=self.period, name=self.name)

    def _check_column(self, col: str) -> None:
        if col not in self.data.columns:
            raise MissingInputError(f"table {self.name}: column {col} not found")

    def _where_answered(self, *cols: str, domain: Mapping[str, Any] | None = None):

        # Item non-response is a domain (R: na.rm = TRUE), not a subset: the design keeps every PSU.
        expr = None
        for c in cols:
            e = pl.col(c).is_not_null()
            expr = e if expr is None else expr & e
        for col, value in (domain or {}).items():
            self._check_column(col)
            num = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
            if pd.api.types.is_numeric_dtype(self.data[col].dtype) and not pd.isna(num):
                e = pl.col(col) == float(num)
            else:
                e = pl.col(col) == str(value)
            expr = e if expr is None else expr & e
        return expr

    # -- the variance method (replicate designs override these) ------------------------------
    def _estimate(self, statistic: str, sample, *args, **kw) -> pd.DataFrame:
        """Run ``sample.estimation.<statistic>`` with this design's variance method; a pandas table."""
        fn = getattr(sample.estimation, statistic)
        if statistic != "quantile":  # svy reports no design effect for quantiles
            try:
                return fn(*args, deff=self._deff_ref(), **kw).to_polars().to_pandas()
            except _svy().errors.MethodError as exc:
                if "DEFF_NOT_COMPUTABLE" not in str(exc):  # e.g. a domain whose weights do not exceed its n
                    raise
        return fn(*args, **kw).to_polars().to_pandas()

    def _variance_note(self) -> str:
        d = self.design
        design_note = (
            f"strata={d.stratum or 'none'}, PSU={d.psu or 'element'}"
            + (f", SSU={d.ssu}" if d.fpc2 else "")
            + (f", fpc={d.fpc}" + (f"+{d.fpc2}" if d.fpc2 else "") if d.fpc else ", with replacement")
        )
        return f"Taylor linearisation (svy; {design_note})"



    # -- estimators ------------------------------------------------------------------------------
    def mean(self, y: str, by: str | Sequence[str] | None = None, *, domain: Mapping[str, Any] | None = None,
             indicator: str | None = None, unit_id: str = "all", level: str | None = None) -> SurveyEstimate:
        """Weighted mean (Hajek ratio estimator) with its design-based standard error.

        Parameters
        ----------
        y
            The column to average.
        by
            Domain column, or several (their cells, labelled ``a|b``). Domain estimates are
            subpopulation estimates over the full design (R ``svyby(~y, ~by, design, svymean)``),
            not estimates from a subset of the data.
        domain
            ``{column: value}``: estimate in that subpopulation only (R ``subset(design, col ==
            value)``); rows outside it keep their PSUs and strata, so the standard error is the
            domain one, not the one of a subset treated as a sample.
        indicator, unit_id, level
            Labels of the tidy table.
        """
        self._check_column(y)
        est = self._estimate("mean", self._sample(), y, by=by, where=self._where_answered(y, domain=domain))
        return self._result(est, "mean", y, by, indicator, unit_id, level)

    def total(self, y: str, by: str | Sequence[str] | None = None, *, category: Any = None,
              domain: Mapping[str, Any] | None = None, indicator: str | None = None, unit_id: str = "all",
              level: str | None = None) -> SurveyEstimate:
        """Estimated population total (Horvitz-Thompson) of ``y``, or of ``y == category``.

        ``by`` and ``domain`` as in :meth:`mean`.
        """
        self._check_column(y)
        if category is not None:
            ind = _category_indicator(self.data[y], category)
            col = f"{y}={category}"
            sample = self._sample(pd.DataFrame({col: ind}, index=self.data.index))
            est = self._estimate("total", sample, col, by=by, where=self._where_answered(col, domain=domain))
            return self._result(est, "total", col, by, indicator, unit_id, level)
        est = self._estimate("total", self._sample(), y, by=by, where=self._where_answered(y, domain=domain))
        return self._result(est, "total", y, by, indicator, unit_id, level)

    def proportion(self, y: str, category: Any = 1, by: str | Sequence[str] | None = None, *, ci: str = "logit",
                   domain: Mapping[str, Any] | None = None, indicator: str | None = None, unit_id: str = "all",
                   level: str | None = None) -> SurveyEstimate:
        """Share of respondents (weighted) with ``y == category``.

        Parameters
        ----------
        ci
            ``"logit"`` (Wald interval on the logit scale, R ``svyciprop(method="logit")``, Stata
            ``svy: prop``), ``"korn-graubard"`` (Clopper-Pearson with the design effective
            sample size, degrees-of-freedom adjusted and truncated at ``n``: Korn & Graubard 1998
            as in the NCHS standards, Parker et al. 2017; better near 0 and 1 and in small
            domains) or ``"beta"`` (the same without truncation, R ``svyciprop(method="beta")``).
        """
        self._check_column(y)
        methods = {"logit": "logit", "korn-graubard": "korn-graubard", "beta": "beta"}
        if ci not in methods:
            raise OptionError(f"proportion interval {ci!r} unknown; use 'logit', 'korn-graubard' or 'beta'")
        ind = _category_indicator(self.data[y], category)
        col = f"{y}={category}"
        sample = self._sample(pd.DataFrame({col: ind}, index=self.data.index))
        est = self._estimate("prop", sample, col, by=by, where=self._where_answered(col, domain=domain),
                             ci_method=methods[ci])
        res = self._result(est, "proportion", col, by, indicator, unit_id, level, prop_level=1.0)
        res.method += {"logit": "; logit interval", "korn-graubard": "; Korn-Graubard interval (NCHS)",
                       "beta": "; Korn-Graubard interval (R svyciprop beta)"}[ci]
        res.table["method"] = res.method
        return res

    def ratio(self, y: str, x: str, by: str | Sequence[str] | None = None, *, domain: Mapping[str, Any] | None = None,
              indicator: str | None = None, unit_id: str = "all", level: str | None = None) -> SurveyEstimate:
        """Ratio of two estimated totals, ``Y / X``, with its design-based standard error.

        ``by`` and ``domain`` as in :meth:`mean`.
        """
        self._check_column(y)
        self._check_column(x)
        est = self._estimate("ratio", self._sample(), y, x, by=by, where=self._where_answered(y, x, domain=domain))
        return self._result(est, "ratio", f"{y}/{x}", by, indicator, unit_id, level)

    def quantile(self, y: str, q: float = 0.5, by: str | Sequence[str] | None = None, *,
                 domain: Mapping[str, Any] | None = None, indicator: str | None = None, unit_id: str = "all",
                 level: str | None = None) -> SurveyEstimate:
        """Weighted quantile with a Woodruff (1952) interval, as R ``svyquantile`` (survey 4.x) computes it.

        The estimate is the smallest ``y`` with weighted CDF ``F(y) >= q`` (R ``qrule="math"``,
        Hyndman-Fan type 1). The interval inverts the same CDF at ``F(q_hat) +- t_df * SE``, where
        ``SE`` is the design-based standard error of the mean of ``y <= q_hat`` (R's
        ``woodruffCI``, ``interval.type="mean"``: centred at ``F(q_hat)``, not at ``q``); ``se`` is
        the half-width divided by ``t_df``. Checked by hand in ``tests/test_survey.py``. On items
        with a few categories (1-5 answers) the interval is a pair of categories and says little.
        """
        self._check_column(y)
        est = self._estimate("quantile", self._sample(), y, p=q, by=by, where=self._where_answered(y, domain=domain))
        return self._result(est, f"quantile_{q:g}", y, by, indicator, unit_id, level)

    # -- helpers ---------------------------------------------------------------------------------
    def _deff_ref(self) -> str | None:
        # Kish's deff needs N from the weights: only meaningful with population-scale weights.
        w = pd.to_numeric(self.data[self.design.weight])
        return "wor" if w.sum() > len(w) else None

    def _result(self, t: pd.DataFrame, statistic: str, variable: str, by, indicator: str | None, unit_id: str,
                level: str | None, prop_level: float | None = None) -> SurveyEstimate:
        if prop_level is not None:
            # svy returns one row per level of the 0/1 indicator; keep the share of ones.
            lev_col = variable
            t = t[pd.to_numeric(t[lev_col], errors="coerce") == prop_level].drop(columns=[lev_col])
        t = t.reset_index(drop=True)
        by_cols = [by] if isinstance(by, str) else list(by or [])
        if by_cols:
            units = t[by_cols].astype("str").agg("|".join, axis=1)
            lvl = level or " x ".join(LEVEL_NAMES.get(b, b) for b in by_cols)
        else:
            units = pd.Series([unit_id] * len(t))
            lvl = level or "all"
        method = f"design-based {statistic}, {self._variance_note()}, t interval on design df"
        if self.adjustment:
            method = f"design-based {statistic} with {self.adjustment}, {self._variance_note()}, t interval on design df"
        cv = t["se"] / t["est"].abs()
        if prop_level is not None:
            cv = t["se"] / np.minimum(t["est"], 1 - t["est"])
        deff = t["deff"].astype("float64") if "deff" in t else pd.Series(np.nan, index=t.index)
        table = pd.DataFrame({
            "indicator": indicator or f"survey.{statistic}.{variable}",
            "level": lvl,
            "unit_id": units,
            "period": self.period,
            "value": t["est"],
            "ci_low": t["lci"],
            "ci_high": t["uci"],
            "n": t["n"],
            "method": method,
            "flags": "",
            "statistic": statistic,
            "variable": variable,
            "se": t["se"],
            "cv": cv,
            "deff": deff,
            "effective_n": t["n"] / deff,
            "df": t["df"].astype("float64"),
        })
        table["flags"] = reliability_flags(table)
        table = indicator_frame(table, extra=EXTRA_COLUMNS)
        notes = [f"Flags: few_respondents (n < {MIN_RESPONDENTS}), high_cv (CV > {MAX_CV:.2f}); NCHS standards."]
        title = f"Survey {statistic} of {variable}" + (f" by {' x '.join(by_cols)}" if by_cols else "") + (f", {self.period}" if self.period else "")
        return SurveyEstimate(table=table, title=title, method=method, notes=notes)


def _category_indicator(values: pd.Series, category: Any) -> pd.Series:
    """1.0 where ``values == category``, 0.0 elsewhere, missing where unanswered.

    Numeric columns are compared as numbers (a ``Float64`` item holds ``1.0``, which must match
    ``category=1``); text columns as text.
    """
    missing = values.isna().to_numpy()
    num = pd.to_numeric(pd.Series([category]), errors="coerce").iloc[0]
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.isna(num):
        hit = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy(na_value=np.nan) == float(num)
    else:
        hit = (values.astype("str") == str(category)).to_numpy()
    return pd.Series(np.where(missing, np.nan, hit.astype("float64")), index=values.index)


def reliability_flags(table: pd.DataFrame, min_respondents: int = MIN_RESPONDENTS, max_cv: float = MAX_CV) -> pd.Series:
    """``few_respondents`` where ``n < min_respondents``, ``high_cv`` where ``cv > max_cv`` (see module doc)."""
    flags = table["flags"].fillna("").astype("str") if "flags" in table else pd.Series("", index=table.index)
    flags = add_flag(flags, pd.to_numeric(table["n"], errors="coerce") < min_respondents, "few_respondents")
    flags = add_flag(flags, pd.to_numeric(table["cv"], errors="coerce") > max_cv, "high_cv")
    return flags


def wave_difference(later: SurveyEstimate, earlier: SurveyEstimate, *, indicator: str | None = None) -> SurveyEstimate:
    """Change between two independent survey waves, per unit: ``later - earlier``.

    The waves are independent samples, so the covariance of the two estimates is zero and
    ``se = sqrt(se_later**2 + se_earlier**2)``. The 95 % interval uses Student's t with the
    Welch-Satterthwaite degrees of freedom of the two design df (Satterthwaite 1946). ``svy``
    estimates within one sample only, hence this small function.

    Rows are matched on ``indicator``-free keys (``level``, ``unit_id``); units present in
    only one wave are dropped.
    """
    keys = ["level", "unit_id"]
    a = later.table.set_index(keys)
    b = earlier.table.set_index(keys)
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    diff = a["value"] - b["value"]
    var_a, var_b = a["se"] ** 2, b["se"] ** 2
    se = np.sqrt(var_a + var_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (var_a + var_b) ** 2 / (var_a**2 / a["df"] + var_b**2 / b["df"])
    tcrit = stats.t.ppf(0.975, df.fillna(np.inf))
    table = pd.DataFrame({
        "indicator": indicator or a["indicator"].str.replace("survey.", "survey.change.", n=1),
        "level": [k[0] for k in common],
        "unit_id": [k[1] for k in common],
        "period": [f"{pa}-{pb}" for pa, pb in zip(b["period"], a["period"])],
        "value": diff.to_numpy(),
        "ci_low": (diff - tcrit * se).to_numpy(),
        "ci_high": (diff + tcrit * se).to_numpy(),
        "n": (a["n"].astype("float64") + b["n"].astype("float64")).to_numpy(),
        "method": "difference of independent waves, se = sqrt(se1^2 + se2^2), Welch-Satterthwaite df",
        "flags": [";".join(sorted(set(filter(None, (fa + ";" + fb).split(";"))))) for fa, fb in zip(a["flags"], b["flags"])],
        "statistic": "difference",
        "variable": a["variable"].to_numpy(),
        "se": se.to_numpy(),
        "cv": np.nan,
        "deff": np.nan,
        "effective_n": np.nan,
        "df": df.to_numpy(),
    })
    table = indicator_frame(table, extra=EXTRA_COLUMNS)
    return SurveyEstimate(table=table, title=f"Change {earlier.table['period'].iloc[0] if len(b) else ''} to "
                          f"{later.table['period'].iloc[0] if len(a) else ''}", method=str(table["method"].iloc[0]) if len(table) else "")
