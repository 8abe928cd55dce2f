"""Hot spots: compounds or buildings with more requests than expected, with the false-discovery rate controlled.

The expected number of requests of a place (compound or building) over a period comes from a
negative-binomial regression of every place's count on its type and street, with its households as
exposure (``log mu = log households + x'b``; NB2, variance ``mu + alpha mu^2``; statsmodels
``NegativeBinomial``), or a Poisson one (``family="poisson"``, which ignores that places differ
beyond their covariates and so finds far too many). With ``by="category"`` the cells are place x
category with the category's effect by place type, so that "more than expected given the category
mix" means a place with an excess in one kind of matter.

Each place's one-sided p-value is the probability of its count or more under the fitted model,
``P(Y >= y | mu, alpha)``; the Benjamini-Hochberg procedure (statsmodels ``multipletests``,
``fdr_bh``) keeps the false-discovery rate at ``fdr``. Places flagged in a first fit are left out
of a second one (their excess would inflate the expected counts and the dispersion), as outbreak
detection reweights outbreaks out of its baseline (Farrington et al. 1996, J. R. Stat. Soc. A 159,
547-563); the second fit's expected counts and p-values are reported.

The observed / expected ratio of a place estimates its request intensity relative to an average
place of its households, type and street. Its interval is Wald on the log scale with the Poisson
variation of the count and the uncertainty of the expected count (``1 / y + x' V x``, ``V`` the
covariance of the coefficients); with a count of 0 the upper limit is the exact Poisson one.

Requests without a place (raised at community level) are left out and counted; places without
households cannot have an expected count and are left out, named.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evaluation import catalog
from evaluation.errors import MissingInputError, OptionError
from evaluation.hotline.common import as_log, z_value
from evaluation.requests import QualityPolicy
from evaluation.requests.grouped import MISSING_LABEL, grouped_tables
from evaluation.results import IndicatorResult, indicator_frame, new_axes
from evaluation.style import PALETTE

#: covariates of the expected count by default (columns of the places table)
COVARIATES = ("compound_type", "street_id")
FAMILIES = ("negbin", "poisson")
EXTRA = ("households", "expected", "p_value", "q_value", "hot", "category", "compound_id", "first_pass_hot")


class HotSpots(IndicatorResult):
    """Observed / expected requests of every place, p-values, BH q-values and the hot spots.

    Attributes
    ----------
    table
        The tidy indicator table (``svc.request_excess_ratio``), one row per place (or place x
        category), with ``households``, ``expected``, ``p_value``, ``q_value``, ``hot``.
    alpha
        The fitted negative-binomial dispersion (0 for Poisson).
    fit
        The statsmodels results of the final fit.
    """

    alpha: float = 0.0
    fit: object = None
    fdr: float = 0.05
    place: str = "compound"

    def hot(self) -> pd.DataFrame:
        """The hot spots, most significant first (the ranked list)."""
        t = self.table[self.table["hot"].astype(bool)]
        return t.sort_values(["q_value", "value"], ascending=[True, False], kind="stable").reset_index(drop=True)

    def ranked(self, top: int = 20) -> pd.DataFrame:
        """The ``top`` places by observed / expected ratio among those with a q-value below 0.5."""
        t = self.table.sort_values(["q_value", "value"], ascending=[True, False], kind="stable")
        return t.head(top).reset_index(drop=True)

    def plot(self, *, ax=None, top: int = 25, lang: str = "en", names: Mapping[str, str] | None = None):
        """Observed / expected with its interval for the ``top`` places by q-value; hot spots in red.

        ``names`` maps place ids to the names shown on the axis (the ids by default).
        """
        t = self.ranked(top).iloc[::-1].reset_index(drop=True)
        ax = new_axes(ax, (7.0, 0.26 * len(t) + 1.4))
        y = np.arange(len(t))
        v, lo, hi = (t[c].to_numpy(dtype=float) for c in ("value", "ci_low", "ci_high"))
        hot = t["hot"].astype(bool).to_numpy()
        for mask, colour, label in ((hot, PALETTE[3], "hot spot (BH)" if lang == "en" else "热点（BH）"),
                                    (~hot, PALETTE[0], "not flagged" if lang == "en" else "未标记")):
            if mask.any():
                ax.errorbar(v[mask], y[mask], xerr=[v[mask] - lo[mask], hi[mask] - v[mask]], fmt="o", ms=4,
                            capsize=2, color=colour, label=label)
        ax.axvline(1.0, color="0.4", lw=0.8, ls=":")
        shown = t["unit_id"].map(lambda u: (names or {}).get(u, u))
        labels = shown if "category" not in t or t["category"].isna().all() else shown + " · " + t["category"]
        ax.set_yticks(y, labels.tolist(), fontsize=8)
        ax.set_xlabel(catalog.label("svc.request_excess_ratio", lang))
        ax.legend(fontsize="small", loc="lower right")
        return ax

    def map(self, coordinates: pd.DataFrame, *, ax=None, lang: str = "en"):
        """Places on their coordinates, sized by requests and coloured by observed / expected.

        ``coordinates``: ``place_id``, ``latitude``, ``longitude``; hot spots are ringed.

        Coordinates are optional in the data model: a log or a places table that has them can pass
        them here (the mean coordinates of a place's requests will do).
        """
        need = {"place_id", "latitude", "longitude"} - set(coordinates.columns)
        if need:
            raise MissingInputError(f"coordinates need the columns {', '.join(sorted(need))}")
        t = self.table.merge(coordinates, left_on="unit_id", right_on="place_id", how="inner")
        if t.empty:
            raise MissingInputError("no place of the table has coordinates")
        ax = new_axes(ax, (6.5, 6.0))
        sc = ax.scatter(t["longitude"], t["latitude"], s=8 + 60 * t["numerator"] / t["numerator"].max(),
                        c=t["value"], cmap="RdYlBu_r", vmin=0, vmax=max(2.0, float(t["value"].max())))
        hot = t["hot"].astype(bool)
        ax.scatter(t.loc[hot, "longitude"], t.loc[hot, "latitude"], s=160, facecolors="none", edgecolors="black",
                   label="hot spot" if lang == "en" else "热点")
        ax.figure.colorbar(sc, ax=ax, label=catalog.label("svc.request_excess_ratio", lang))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.legend(fontsize="small")
        return ax


def places_table(ds, place: str = "compound") -> pd.DataFrame:
    """Compounds (or buildings) with ``place_id``, ``households``, ``compound_type`` and ``street_id``."""
    if place not in ("compound", "building"):
        raise OptionError(f"place must be compound or building, not {place!r}")
    for t in ("compounds", "units") + (("buildings",) if place == "building" else ()):
        if t not in ds:
            raise MissingInputError(f"hot spots need the {t} table (households and the unit tree)", table=t)
    comp = ds["compounds"].copy()
    parent = ds["units"].set_index(ds["units"]["unit_id"].astype("str"))["parent_id"]
    comp["street_id"] = comp["community_id"].astype("str").map(parent)
    if place == "compound":
        return comp.rename(columns={"compound_id": "place_id"}).assign(compound_id=comp["compound_id"])
    b = ds["buildings"].merge(comp[["compound_id", "community_id", "compound_type", "street_id"]], on="compound_id",
                              how="left")
    return b.rename(columns={"building_id": "place_id"})


def hot_spots(source, *, place: str = "compound", period: str | None = None, by: str | None = None,
              covariates: tuple[str, ...] = COVARIATES, family: str = "negbin", fdr: float = 0.05,
              alpha: float = 0.05, refit: bool = True, log=None, policy: QualityPolicy | None = None) -> HotSpots:
    """Places with more requests than expected given households, type and street (module docstring).

    Parameters
    ----------
    source
        A dataset (its ``compounds``, ``units`` and, for buildings, ``buildings`` tables give the
        households and covariates).
    place
        ``"compound"`` or ``"building"``.
    period
        A year (``"2021"``) or ``None`` for the whole log.
    by
        ``None`` (one cell per place) or ``"category"`` (place x category cells).
    covariates
        Columns of the places table in the model of the expected count.
    family
        ``"negbin"`` (default) or ``"poisson"``.
    fdr
        The false-discovery rate of the Benjamini-Hochberg procedure.
    alpha
        1 - the confidence level of the ratios' intervals.
    refit
        Leave the places flagged in a first fit out of a second one.
    log
        The request log (default: the dataset's).
    policy
        What each data-quality flag does.

    Returns
    -------
    HotSpots
    """
    if family not in FAMILIES:
        raise OptionError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    if by not in (None, "category"):
        raise OptionError(f"by must be None or 'category', not {by!r}")
    if not 0 < fdr < 1:
        raise OptionError(f"the false-discovery rate must be between 0 and 1, not {fdr}")
    places = places_table(source, place)
    bad_cov = [c for c in covariates if c not in places.columns]
    if bad_cov:
        raise OptionError(f"covariate(s) {', '.join(bad_cov)} are not columns of the {place} table")
    log = as_log(log if log is not None else source)
    key = f"{place}_id"
    if key not in log.columns or not log.recorded(key):
        raise MissingInputError(f"{log.source}: the log records no {key}; hot spots of {place}s cannot be found",
                                table="requests", column=key)
    counts = grouped_tables(log, [key] + ([by] if by else []), "year", policy=policy).counts
    if period is not None:
        counts = counts[counts["period"].astype("str").eq(str(period))]
        if counts.empty:
            raise OptionError(f"no request was created in {period}")
    counts = counts.assign(place_id=counts[key].astype("str"))
    without = int(counts.loc[counts["place_id"].eq(MISSING_LABEL), "n"].sum())
    counts = counts[counts["place_id"].ne(MISSING_LABEL)]
    cells = counts.groupby(["place_id"] + ([by] if by else []), observed=True)["n"].sum()
    hh = pd.to_numeric(places["households"], errors="coerce").astype(float)
    no_hh = places.loc[~(hh > 0), "place_id"].astype("str").tolist()
    pl = places[hh > 0].copy()
    pl["place_id"] = pl["place_id"].astype("str")
    if by:
        cats = sorted(counts[by].astype("str").unique())
        grid = pd.MultiIndex.from_product([pl["place_id"], cats], names=["place_id", by])
        y = cells.rename(index=str).reindex(grid, fill_value=0)
        data = pl.set_index("place_id").loc[grid.get_level_values(0)].reset_index()
        data[by] = grid.get_level_values(1)
    else:
        y = cells.rename(index=str).reindex(pl["place_id"], fill_value=0)
        data = pl.reset_index(drop=True)
    data["y"] = y.to_numpy(dtype=float)
    X = _design(data, covariates, by)
    names = list(X.columns)
    X = X.to_numpy()
    exposure = data["households"].astype(float).to_numpy()
    first = _fit(data["y"].to_numpy(), X, exposure, family, names)
    p1 = _p_values(data["y"].to_numpy(), first[1], first[2], family)
    hot1 = multipletests(p1, alpha=fdr, method="fdr_bh")[0]
    fit, mu, a, V = first
    if refit and hot1.any() and (~hot1).sum() > X.shape[1] + 2:
        fit, _, a, V = _fit(data["y"].to_numpy()[~hot1], X[~hot1], exposure[~hot1], family, names)
        mu = _predict(fit, X, exposure, family)
    p = _p_values(data["y"].to_numpy(), mu, a, family)
    hot, q = multipletests(p, alpha=fdr, method="fdr_bh")[:2]
    obs = data["y"].to_numpy()
    z = z_value(alpha)
    var_log_e = np.einsum("ij,jk,ik->i", X, V, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = obs / mu
        se = np.sqrt(1.0 / obs + var_log_e)
        low = np.where(obs > 0, ratio * np.exp(-z * se), 0.0)
        high = np.where(obs > 0, ratio * np.exp(z * se), stats.chi2.ppf(1 - alpha / 2, 2) / 2 / mu)
    level = "compound" if place == "compound" else "building"
    method = (f"observed / expected requests; expected from a {'negative-binomial (NB2)' if family == 'negbin' else 'Poisson'} "
              f"model on {' + '.join(covariates) or 'a constant'}{' x ' + by if by else ''} with households as exposure"
              f"{', refitted without the first pass hot spots' if refit else ''}; one-sided p-values, "
              f"Benjamini-Hochberg at FDR {fdr:g}")
    table = indicator_frame(pd.DataFrame({
        "indicator": "svc.request_excess_ratio", "level": level, "unit_id": data["place_id"],
        "period": str(period) if period is not None else "all", "value": ratio, "ci_low": low, "ci_high": high,
        "numerator": obs, "denominator": mu, "n": obs, "method": method,
        "flags": np.where(hot, "hot_spot", ""), "households": exposure, "expected": mu, "p_value": p, "q_value": q,
        "hot": hot, "category": data[by].astype("str") if by else None,
        "compound_id": data["compound_id"].astype("str") if "compound_id" in data else None,
        "first_pass_hot": hot1}), extra=EXTRA)
    notes = [f"{without:,} requests without a {place} (raised at community level) are left out",
             f"negative-binomial dispersion alpha = {a:.4g}" if family == "negbin" else
             "Poisson: places differing beyond their covariates make false hot spots"]
    if no_hh:
        notes.append(f"{len(no_hh)} {place}s without households are left out: {', '.join(no_hh[:10])}"
                     + (" ..." if len(no_hh) > 10 else ""))
    res = HotSpots(table=table, title=f"Hot spots: {place}s with more requests than expected"
                   + (f", {period}" if period is not None else ""), method=method, notes=notes)
    res.alpha, res.fit, res.fdr, res.place = float(a), fit, float(fdr), place
    return res


def _design(data: pd.DataFrame, covariates, by) -> pd.DataFrame:
    """Constant, covariate dummies and, with ``by``, the category's effect by place type."""
    parts = [pd.get_dummies(data[list(covariates)].astype("str"), drop_first=True)] if covariates else []
    if by:
        parts.append(pd.get_dummies(data[by].astype("str"), prefix=by, drop_first=True))
        if "compound_type" in covariates:
            inter = data[by].astype("str") + ":" + data["compound_type"].astype("str")
            parts.append(pd.get_dummies(inter, drop_first=True))
    X = pd.concat(parts, axis=1).astype(float) if parts else pd.DataFrame(index=data.index)
    X.insert(0, "const", 1.0)
    X = X.loc[:, X.std(ddof=0).gt(0).to_numpy() | (X.columns == "const")]
    # drop columns that are linear combinations of earlier ones (interactions of empty cells)
    keep, rank = [], 0
    for j in range(X.shape[1]):
        r = np.linalg.matrix_rank(X.iloc[:, keep + [j]].to_numpy())
        if r > rank:
            keep.append(j)
            rank = r
    return X.iloc[:, keep]


def _fit(y, X, exposure, family, names=None):
    """The model's fit, fitted means, dispersion and covariance of the coefficients (without alpha)."""
    X = pd.DataFrame(X, columns=names) if names is not None else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "poisson":
            res = sm.GLM(y, X, family=sm.families.Poisson(), exposure=exposure).fit()
            return res, np.asarray(res.mu), 0.0, np.asarray(res.cov_params())
        res = sm.NegativeBinomial(y, X, exposure=exposure, loglike_method="nb2").fit(disp=0, maxiter=200)
    k = X.shape[1]
    a = float(np.asarray(res.params)[-1])
    return res, _predict(res, np.asarray(X), exposure, family), a, np.asarray(res.cov_params())[:k, :k]


def _predict(fit, X, exposure, family) -> np.ndarray:
    beta = np.asarray(fit.params)[: X.shape[1]]
    return exposure * np.exp(X @ beta)


def _p_values(y, mu, a, family) -> np.ndarray:
    """``P(Y >= y)`` under the fitted Poisson or NB2 distribution."""
    y = np.asarray(y, dtype=float)
    if family == "poisson" or a <= 1e-10:
        return stats.poisson.sf(y - 1, mu)
    size = 1.0 / a
    return stats.nbinom.sf(y - 1, size, size / (size + mu))


__all__ = ["COVARIATES", "FAMILIES", "HotSpots", "hot_spots", "places_table"]
