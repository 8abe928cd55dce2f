"""The sections of the annual review: each computes its tables, figures and sentences.

:class:`Review` holds the dataset and the parameters of one review (year, language, level of
detail, disclosure threshold) and computes each section on demand (:meth:`Review.section`),
once. A section that needs a table the dataset lacks, a module this version does not have yet, or
that fails, becomes a *not available* note naming what is missing and how to fix it, so one
section never kills the review; the core section (the scorecard) raises instead, because a review
without it is no review.

Every table a section publishes goes through :meth:`Review.publish`, which applies disclosure
control (:func:`evaluation.disclosure.suppress_small_cells`) to rows that rest on respondents or
requests; every published table also goes to the review's workbook. All words come from the
catalogue and the message table (``messages.yaml``), in the review's language.

The review notebook (``templates/annual_review.ipynb``) only calls :meth:`Review.show` per
section; :mod:`evaluation.report` executes it with papermill and renders it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, Image, display
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from evaluation import __version__, catalog, disclosure, style
from evaluation.errors import OptionError
from evaluation.impact import red_property_impact
from evaluation.index import governance_index
from evaluation.indicators import collect_indicators
from evaluation.io import write_workbook
from evaluation.registry import registry_indicators
from evaluation.requests import Engine, dataset_log, request_indicators
from evaluation.scorecard import build_scorecard
from evaluation.style import PALETTE
from evaluation.survey import survey_indicators, wave_difference

#: sections in the order the report shows them
SECTIONS = ("summary", "scorecard", "requests", "organisation", "survey", "index", "impact", "quality", "provenance")
#: sections without which the review is refused (their failure is an error, not a note)
CORE_SECTIONS = ("scorecard",)
#: tables every review needs (checked before anything runs)
REQUIRED_TABLES = ("units", "compounds")


class MissingTable(LookupError):
    """A section needs a table that the dataset does not have."""

    def __init__(self, table: str, section: str):
        self.table, self.section = table, section
        super().__init__(f"the dataset has no {table} table, which the {section} section needs; add {table}.csv "
                         f"(or .xlsx/.parquet; templates in data/templates/) to the data folder and run again")


class ModuleMissing(LookupError):
    """A section needs a module that this version of the package does not have yet."""

    def __init__(self, module: str):
        self.module = module
        super().__init__(f"evaluation.{module} is not available")


def t(key: str, lang: str, **kw) -> str:
    """A message of ``messages.yaml`` in ``lang`` with its ``{placeholders}`` filled in."""
    text = catalog.message(key, lang)
    return text.format(**kw) if kw else text


def bilingual(key: str) -> str:
    """``english / 中文`` header for the workbook."""
    en, zh = catalog.message(key, "en"), catalog.message(key, "zh")
    return en if en == zh else f"{en} / {zh}"


def fmt_value(indicator: str | None, value, lang: str = "en", change: bool = False) -> str:
    """A value as a reader wants it: shares in per cent, scores with 2 decimals, counts with separators.

    With ``change=True`` the value is a difference: signed, shares in percentage points.
    """
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    unit = "other"
    if indicator:
        try:
            unit = catalog.get(indicator).unit
        except KeyError:
            pass
    v = float(value)
    if change:
        if unit == "share":
            return f"{100 * v:+.1f} pp" if lang == "en" else f"{100 * v:+.1f}个百分点"
        return f"{v:+,.2f}" if unit == "score" else f"{v:+,.1f}"
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "score":
        return f"{v:.2f}"
    if unit in ("count", "yuan"):
        return f"{v:,.0f}"
    if unit in ("hours", "per_1000", "per_10k", "per_100hh", "hours_per_capita"):
        return f"{v:,.1f}"
    return f"{v:.4g}"


@dataclass
class PublishedTable:
    """A table of the review as published (after disclosure control)."""

    key: str
    title: str
    frame: pd.DataFrame  # columns are message keys
    value_cols: tuple[str, ...] = ()
    n_primary: int = 0
    n_secondary: int = 0


@dataclass
class Section:
    """One section: heading, paragraphs, tables, figures; or a note why it is not available."""

    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[PublishedTable] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    available: bool = True
    reason: str = ""
    facts: dict = field(default_factory=dict)  # numbers the executive summary is written from


#: longer tables show their first rows in the HTML; the workbook has every row
MAX_HTML_ROWS = 120
VALUE_COLS = ("value", "ci_low", "ci_high", "target", "previous_value", "change")


class Review:
    """One annual review: a dataset, a year, a language, a level of detail.

    Parameters
    ----------
    ds
        A :class:`evaluation.dataset.Dataset`.
    year
        The year reviewed (registry stocks as of 31 December, flows and the survey wave of the year).
    lang
        ``"en"`` or ``"zh"``.
    level
        ``"street"`` or ``"community"``: the level of the breakdown tables.
    out_dir
        Folder for the figures (``figures/``) and the workbook.
    k
        Disclosure threshold: cells resting on fewer than ``k`` respondents or requests are suppressed.
    draws
        Bootstrap draws for the simultaneous bands of the impact estimates (kept small in the review).
    """

    def __init__(self, ds, year: int, lang: str = "en", level: str = "community", out_dir: str | Path = ".",
                 k: int = disclosure.DEFAULT_K, draws: int = 199):
        if lang not in catalog.LANGS:
            raise OptionError(f"unknown language {lang!r}; use en or zh")
        if level not in ("street", "community"):
            raise OptionError(f"level must be street or community, not {level!r}")
        self.ds, self.year, self.lang, self.level, self.k, self.draws = ds, int(year), lang, level, int(k), int(draws)
        self.out_dir = Path(out_dir)
        self.fig_dir = self.out_dir / "figures"
        style.use(lang)  # raises FontMissingError with what to install when zh has no CJK font
        self._cache: dict[str, Section] = {}
        self._data: dict[str, object] = {}
        units = ds["units"]
        self.district_id = str(units.loc[units["unit_type"].eq("district"), "unit_id"].iloc[0])
        name_col = "name_zh" if lang == "zh" else "name_en"
        self.unit_names = dict(zip(units["unit_id"].astype(str), units[name_col].astype(str)))
        self.district_name = self.unit_names[self.district_id]

    # ------------------------------------------------------------------ helpers
    def msg(self, key: str, **kw) -> str:
        return t(key, self.lang, **kw)

    def label(self, indicator: str) -> str:
        return catalog.label(indicator, self.lang)

    def need(self, table: str, section: str) -> pd.DataFrame:
        if table not in self.ds:
            raise MissingTable(table, section)
        return self.ds[table]

    def cached(self, key: str, compute: Callable[[], object]):
        if key not in self._data:
            self._data[key] = compute()
        return self._data[key]

    def publish(self, section: Section, key: str, title: str, frame: pd.DataFrame, *, count_col: str | None,
                groups=None, total=None, people: bool = True) -> PublishedTable:
        """Add a table to ``section`` after disclosure control.

        ``count_col`` names the column with the respondents or requests each row rests on (rows with
        a missing count are registry rows and are not suppressed); a table with no such rows must say
        ``people=False`` explicitly, so that no table is published unchecked.
        """
        if count_col is None and people:
            raise RuntimeError(f"table {key}: name its count column, or state people=False")
        value_cols = tuple(c for c in frame.columns if c in VALUE_COLS or c in ("n", "numerator", "denominator", "se"))
        n1 = n2 = 0
        if count_col is not None:
            sup = disclosure.suppress_small_cells(frame, count_col, k=self.k, value_cols=list(value_cols),
                                                  groups=groups, total=total)
            frame, n1, n2 = sup.table, sup.n_primary, sup.n_secondary
            if count_col not in value_cols and count_col != "n":
                frame = frame.drop(columns=count_col)
        pt = PublishedTable(key, title, frame.reset_index(drop=True), value_cols, n1, n2)
        section.tables.append(pt)
        return pt

    def savefig(self, section: Section, fig, name: str) -> Path:
        """Save ``fig`` as PNG and SVG (deterministic metadata) under ``figures/``."""
        style.source_note(fig, self.msg("rv_source_note"))
        self.fig_dir.mkdir(parents=True, exist_ok=True)
        stem = self.fig_dir / f"annual-review-{self.year}-{self.lang}-{name}"
        fig.savefig(stem.with_suffix(".png"), metadata={"Software": None})
        fig.savefig(stem.with_suffix(".svg"), metadata={"Date": None})
        plt.close(fig)
        section.figures.append(stem.with_suffix(".png"))
        return stem.with_suffix(".png")

    # ------------------------------------------------------------------ sections
    def section(self, key: str) -> Section:
        """The computed section ``key`` (cached); a *not available* section if it cannot be computed."""
        if key in self._cache:
            return self._cache[key]
        title = self.msg(f"rv_{key}")
        sec = Section(key, title)
        try:
            getattr(self, f"_section_{key}")(sec)
        except MissingTable as exc:
            if key in CORE_SECTIONS:
                raise
            sec = Section(key, title, available=False,
                          reason=self.msg("rv_not_available", why=self.msg("rv_missing_table", table=exc.table)))
        except ModuleMissing as exc:
            sec = Section(key, title, available=False,
                          reason=self.msg("rv_not_available", why=self.msg("rv_module_missing", module=exc.module)))
        except Exception as exc:  # a failed section is a note, not the end of the review
            if key in CORE_SECTIONS:
                raise
            sec = Section(key, title, available=False, reason=self.msg(
                "rv_not_available", why=self.msg("rv_section_failed", error=f"{type(exc).__name__}: {exc}")))
        self._cache[key] = sec
        return sec

    # -- data shared by sections
    def indicators(self, year: int, level: str) -> pd.DataFrame:
        return self.cached(f"ind-{year}-{level}", lambda: collect_indicators(self.ds, year, level).table)

    def request_table(self, by: tuple[str, ...]):
        def compute():
            return request_indicators(dataset_log(self.ds), by=list(by), period="year",
                                      engine=Engine(progress=False))

        return self.cached(f"req-{by}", compute)

    def survey_est(self, year: int, level: str):
        return self.cached(f"sv-{year}-{level}", lambda: survey_indicators(self.ds, year, level))

    def _unit_name(self, s: pd.Series) -> pd.Series:
        return s.astype(str).map(lambda u: self.unit_names.get(u, u))

    # -- scorecard
    def _section_scorecard(self, sec: Section) -> None:
        self.need("units", "scorecard")
        cur = self.indicators(self.year, "district")
        prev = self.indicators(self.year - 1, "district")
        targets = self.ds["targets"] if "targets" in self.ds else None
        sc = build_scorecard(cur, prev, targets, self.year, self.lang)
        tb = sc.table.merge(cur[["indicator", "unit_id", "n"]], on=["indicator", "unit_id"], how="left")
        people = tb["indicator"].map(lambda i: catalog.get(i).pillar in ("outcome", "service")
                                     if _known(i) else False)
        tb["people_n"] = tb["n"].astype("float64").where(people)
        tb["status"] = tb["status"].map(lambda s: self.msg(s))
        tb["trend"] = tb["trend"].map(lambda s: "" if pd.isna(s) else self.msg(s))
        tb["pillar"] = tb["pillar"].map(lambda p: self.msg(p) if isinstance(p, str) else "")
        frame = tb[["indicator", "name", "pillar", "period", "value", "target", "comparator", "status",
                    "previous_value", "change", "trend", "people_n"]]
        self.publish(sec, "scorecard", self.msg("rv_tab_scorecard", year=self.year), frame, count_col="people_n")
        sec.facts["scorecard"] = sc.table
        self._fig_scorecard(sec, sc.table)
        # breakdown by street or community
        by = self.indicators(self.year, self.level)
        by = by[by["level"].eq(self.level)]
        if len(by):
            b = by[["indicator", "unit_id", "period", "value", "ci_low", "ci_high", "n"]].copy()
            b.insert(1, "name", b["indicator"].map(self.label))
            b.insert(3, "unit_name", self._unit_name(b["unit_id"]))
            people = b["indicator"].map(lambda i: catalog.get(i).pillar in ("outcome", "service") if _known(i) else False)
            b["people_n"] = b["n"].astype("float64").where(people)
            self.publish(sec, "by_unit", self.msg("rv_tab_by_unit", level=self.msg(self.level), year=self.year), b,
                         count_col="people_n")
        sec.paragraphs.append(self.msg("rv_sum_registry_note"))

    def _fig_scorecard(self, sec: Section, sc: pd.DataFrame) -> None:

        shares = sc[sc["indicator"].map(lambda i: _known(i) and catalog.get(i).unit == "share")
                    & sc["value"].notna()].reset_index(drop=True)
        if shares.empty:
            return
        fig, ax = plt.subplots(figsize=(8, 0.32 * len(shares) + 1.4))
        y = np.arange(len(shares))
        colours = shares["status"].map({"met": PALETTE[2], "not_met": PALETTE[3]}).fillna(PALETTE[0])
        ax.barh(y, 100 * shares["value"], color=colours)
        has_t = shares["target"].notna()
        ax.plot(100 * shares.loc[has_t, "target"], y[has_t.to_numpy()], "|", color="black", markersize=14,
                label=self.msg("rv_target_line"))
        ax.set_yticks(y, shares["name"])
        ax.invert_yaxis()
        ax.set_xlim(0, 105)
        ax.set_xlabel("%")
        ax.set_title(self.msg("rv_fig_scorecard", year=self.year))

        handles = [Patch(color=PALETTE[2], label=self.msg("met")), Patch(color=PALETTE[3], label=self.msg("not_met")),
                   Patch(color=PALETTE[0], label=self.msg("no_target")),
                   Line2D([], [], marker="|", linestyle="", color="black", markersize=12, label=self.msg("rv_target_line"))]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08 - 1.0 / (len(shares) + 4)), ncol=4)
        self.savefig(sec, fig, "scorecard")

    # -- requests
    def _section_requests(self, sec: Section) -> None:
        self.need("requests", "requests")
        keep = ["svc.requests", "svc.response_rate", "svc.resolution_rate", "svc.satisfaction_rate",
                "svc.three_rate_score", "svc.reopen_rate", "svc.median_resolution_hours", "svc.resolved_within_sla",
                "svc.backlog"]
        dist = self.request_table(()).table
        periods = {str(self.year - 1), str(self.year)}
        d = dist[dist["indicator"].isin(keep) & dist["period"].isin(periods)].copy()
        d["indicator"] = np.where(d["sla_hours"].notna(),
                                  d["indicator"] + ".h" + d["sla_hours"].fillna(0).astype(int).astype(str), d["indicator"])
        d["name"] = [self.label(i.rsplit(".h", 1)[0]) + (f" ({i.rsplit('.h', 1)[1]} h)" if ".h" in i else "")
                     for i in d["indicator"]]
        frame = d[["indicator", "name", "period", "value", "ci_low", "ci_high", "n"]]
        self.publish(sec, "requests", self.msg("rv_tab_requests", prev=self.year - 1, year=self.year), frame,
                     count_col="n")
        sec.facts["requests"] = d
        # by unit, with the district as the total row (secondary suppression of counts)
        col = "community_id" if self.level == "community" else "street_id"
        by = self.request_table((col,)).table
        unit_keep = ["svc.requests", "svc.resolution_rate", "svc.satisfaction_rate", "svc.median_resolution_hours"]
        u = by[by["indicator"].isin(unit_keep) & by["period"].eq(str(self.year))].copy()
        u["unit_id"] = u[col].astype(str)
        tot = dist[dist["indicator"].isin(unit_keep) & dist["period"].eq(str(self.year))].copy()
        tot["unit_id"] = self.district_id
        u = pd.concat([u, tot], ignore_index=True)
        u["name"] = u["indicator"].map(self.label)
        u["unit_name"] = self._unit_name(u["unit_id"])
        frame = u[["indicator", "name", "unit_id", "unit_name", "value", "ci_low", "ci_high", "n"]]
        pt = self.publish(sec, "requests_by_unit", self.msg("rv_tab_requests_unit", level=self.msg(self.level),
                                                            year=self.year), frame, count_col="n",
                          groups=["indicator"], total={"unit_id": self.district_id})
        sec.paragraphs.append(self.msg("rv_requests_text", cutoff=str(self.ds.cutoff)[:16]))
        self._fig_requests(sec, pt.frame)

    def _fig_requests(self, sec: Section, frame: pd.DataFrame) -> None:

        m = frame[frame["indicator"].eq("svc.median_resolution_hours") & ~frame["unit_id"].eq(self.district_id)]
        m = m[m["value"].map(lambda v: not isinstance(v, str))].copy()
        if m.empty:
            return
        m = m.sort_values("value").reset_index(drop=True)
        v, lo, hi = (m[c].astype(float).to_numpy() for c in ("value", "ci_low", "ci_high"))
        fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.16 * len(m) + 1.2)))
        y = np.arange(len(m))
        ax.errorbar(v, y, xerr=[v - lo, hi - v], fmt="o", markersize=3, capsize=2)
        ax.set_yticks(y, m["unit_name"] if len(m) <= 40 else m["unit_id"], fontsize=7 if len(m) > 20 else 9)
        ax.set_xlabel(self.label("svc.median_resolution_hours"))
        ax.set_title(self.msg("rv_fig_requests", level=self.msg(self.level), year=self.year))
        self.savefig(sec, fig, "requests")

    # -- organisation and red property
    def _section_organisation(self, sec: Section) -> None:
        self.need("compound_milestones", "organisation")
        years = [y for y in (self.year - 2, self.year - 1, self.year)]
        rows = []
        for y in years:
            tb = self.indicators(y, "district") if y >= self.year - 1 else self.cached(
                f"reg-{y}", lambda y=y: registry_indicators(self.ds, y, "district").table)
            tb = tb[tb["indicator"].str.startswith(("org.", "par."))]
            rows.append(tb.assign(year=y))
        allr = pd.concat(rows, ignore_index=True)
        wide = allr.pivot_table(index="indicator", columns="year", values="value", aggfunc="first", sort=False)
        wide = wide.reindex(columns=years)
        wide.columns = [str(c) for c in wide.columns]
        wide = wide.reset_index()
        wide.insert(1, "name", wide["indicator"].map(self.label))
        self.publish(sec, "organisation", self.msg("rv_tab_org", first=years[0], year=self.year), wide,
                     count_col=None, people=False)
        # red property by street over the years
        st = []
        for y in years:
            r = self.cached(f"reg-street-{y}", lambda y=y: registry_indicators(self.ds, y, "street").table)
            r = r[r["indicator"].eq("par.red_property_coverage") & r["level"].eq("street")]
            st.append(r.assign(year=y))
        st = pd.concat(st, ignore_index=True)
        red = st.pivot_table(index="unit_id", columns="year", values="value", aggfunc="first").reindex(columns=years)
        red.columns = [str(c) for c in red.columns]
        red = red.reset_index()
        red.insert(1, "unit_name", self._unit_name(red["unit_id"]))
        self.publish(sec, "red_property", self.msg("rv_tab_red_street"), red, count_col=None, people=False)
        sec.paragraphs.append(self.msg("rv_org_text"))
        self._fig_red(sec, red, years)

    def _fig_red(self, sec: Section, red: pd.DataFrame, years) -> None:

        fig, ax = plt.subplots(figsize=(7.5, 3.8))
        for _, r in red.iterrows():
            ax.plot([str(y) for y in years], [100 * r[str(y)] for y in years], marker="o", label=r["unit_name"])
        ax.set_ylabel(self.msg("rv_red_property_share") + " (%)")
        ax.set_ylim(0, 105)
        ax.set_title(self.msg("rv_fig_red"))
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
        self.savefig(sec, fig, "red-property")

    # -- survey
    def _section_survey(self, sec: Section) -> None:
        sv = self.need("survey", "survey")
        waves = set(pd.to_numeric(sv["wave"], errors="coerce").dropna().astype(int))
        if self.year not in waves:
            sec.available = False
            sec.reason = self.msg("rv_not_available", why=self.msg("rv_no_wave", year=self.year))
            return
        cur = self.survey_est(self.year, "district").table
        frames = [cur]
        change = None
        if self.year - 1 in waves:
            prev_est = self.survey_est(self.year - 1, "district")
            frames.append(prev_est.table)
            cur_est = self.survey_est(self.year, "district")
            diffs = []
            for iid in cur["indicator"]:
                a = type(cur_est)(table=cur_est.table[cur_est.table["indicator"].eq(iid)].reset_index(drop=True))
                b = type(prev_est)(table=prev_est.table[prev_est.table["indicator"].eq(iid)].reset_index(drop=True))
                diffs.append(wave_difference(a, b, indicator=iid).table)
            change = pd.concat(diffs, ignore_index=True)
        both = pd.concat(frames, ignore_index=True)
        both.insert(1, "name", both["indicator"].map(self.label))
        self.publish(sec, "survey", self.msg("rv_tab_survey", prev=self.year - 1, year=self.year),
                     both[["indicator", "name", "period", "value", "ci_low", "ci_high", "n", "flags"]], count_col="n")
        if change is not None:
            change.insert(1, "name", change["indicator"].map(self.label))
            self.publish(sec, "survey_change", self.msg("rv_tab_survey_change", prev=self.year - 1),
                         change[["indicator", "name", "period", "value", "ci_low", "ci_high", "n"]], count_col="n")
            sec.facts["survey_change"] = change
        lv = self.survey_est(self.year, self.level).table
        lv = lv[lv["level"].eq(self.level)].copy()
        lv.insert(1, "name", lv["indicator"].map(self.label))
        lv.insert(3, "unit_name", self._unit_name(lv["unit_id"]))
        self.publish(sec, "survey_by_unit", self.msg("rv_tab_survey_unit", level=self.msg(self.level), year=self.year),
                     lv[["indicator", "name", "unit_id", "unit_name", "value", "ci_low", "ci_high", "n", "flags"]],
                     count_col="n")
        sec.paragraphs.append(self.msg("rv_survey_text"))
        st = self.survey_est(self.year, "street").table
        self._fig_survey(sec, st[st["level"].eq("street")])

    def _fig_survey(self, sec: Section, st: pd.DataFrame) -> None:

        st = st[st["n"].astype("float64") >= self.k]
        if st.empty:
            return
        inds = list(pd.unique(st["indicator"]))
        units = sorted(pd.unique(st["unit_id"]))
        fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(units) + 1.5))
        h = 0.8 / len(inds)
        for j, iid in enumerate(inds):
            s = st[st["indicator"].eq(iid)].set_index("unit_id").reindex(units)
            y = np.arange(len(units)) + (j - (len(inds) - 1) / 2) * h
            ax.errorbar(s["value"], y, xerr=[s["value"] - s["ci_low"], s["ci_high"] - s["value"]], fmt="o",
                        markersize=4, capsize=2, label=self.label(iid))
        ax.set_yticks(np.arange(len(units)), [self.unit_names.get(u, u) for u in units])
        ax.invert_yaxis()
        ax.set_title(self.msg("rv_fig_survey", year=self.year))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(inds), fontsize=8)
        self.savefig(sec, fig, "survey")

    # -- composite index
    def _section_index(self, sec: Section) -> None:
        self.need("compounds", "index")  # the registry pillars rest on it
        # few draws keep the review fast; `evaluation index --draws N` gives more precise rank intervals
        res = self.cached("index", lambda: governance_index(self.ds, self.year, draws=100, seed=20201225, bootstrap=50))
        tb = res.scorecard(self.lang).copy()
        self.publish(sec, "index", self.msg("rv_index"), tb, count_col=None, people=False)

        fig, ax = plt.subplots(figsize=(7.5, 8.5))
        res.plot(ax=ax, lang=self.lang)
        self.savefig(sec, fig, "index_rank_intervals")

    # -- impact
    IMPACT_OUTCOMES = ("mean_resolution_hours", "sat_overall")

    def _section_impact(self, sec: Section) -> None:
        self.need("compound_milestones", "impact")
        rows, results = [], {}
        for outcome in self.IMPACT_OUTCOMES:
            if outcome == "sat_overall" and ("survey" not in self.ds or outcome not in self.ds["survey"].columns):
                continue
            if outcome != "sat_overall" and "requests" not in self.ds:
                continue
            res = self.cached(f"imp-{outcome}", lambda o=outcome: red_property_impact(self.ds, o, biters=self.draws))
            results[outcome] = res
            tb = res.table
            for suffix, key in (("simple", "rv_simple"), ("dynamic.post", "rv_dynamic_post"), ("twfe", "rv_twfe")):
                r = tb[tb["indicator"].str.endswith("." + suffix)]
                if len(r):
                    r = r.iloc[0]
                    rows.append({"indicator": r["indicator"], "outcome": self.msg(f"rv_{outcome}"),
                                 "aggregation": self.msg(key), "value": r["value"], "ci_low": r["ci_low"],
                                 "ci_high": r["ci_high"], "se": r["se"], "n": r["n"]})
            p = res.pretest.get("event_p")
            if p is not None and not pd.isna(p):
                rows.append({"indicator": f"{res.indicator_prefix}.pretest_p", "outcome": self.msg(f"rv_{outcome}"),
                             "aggregation": self.msg("rv_pretest_p"), "value": float(p), "n": tb["n"].iloc[0]})
        if not rows:
            raise MissingTable("requests", "impact")
        frame = pd.DataFrame(rows, columns=["indicator", "outcome", "aggregation", "value", "ci_low", "ci_high",
                                            "se", "n"])
        # n here counts compounds (the units of the comparison), not people
        self.publish(sec, "impact", self.msg("rv_tab_impact"), frame, count_col=None, people=False)
        sec.facts["impact"] = frame
        sec.paragraphs.append(self.msg("rv_impact_text"))
        if "mean_resolution_hours" in results:
            self._event_study(sec, results["mean_resolution_hours"], "mean_resolution_hours")

    def _event_study(self, sec: Section, res, outcome: str) -> None:

        dyn = res.aggregates.get("dynamic")
        if dyn is None or dyn.empty:
            return
        d = dyn.sort_values("key")
        frame = pd.DataFrame({"event_time": d["key"].astype(int).to_numpy(), "value": d["att"].to_numpy(),
                              "ci_low": d["ci_low"].to_numpy(), "ci_high": d["ci_high"].to_numpy(),
                              "band_low": d["band_low"].to_numpy(), "band_high": d["band_high"].to_numpy()})
        name = self.msg(f"rv_{outcome}")
        self.publish(sec, "event_study", self.msg("rv_tab_event", outcome=name), frame, count_col=None, people=False)
        fig, ax = plt.subplots()
        ax.fill_between(frame["event_time"], frame["band_low"], frame["band_high"], alpha=0.25, step=None)
        ax.plot(frame["event_time"], frame["value"], "o-")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(-0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel(self.msg("rv_event_time"))
        ax.set_ylabel(name)
        ax.set_title(self.msg("rv_fig_event", outcome=name))
        self.savefig(sec, fig, "event-study")

    # -- data quality and methods
    def _section_quality(self, sec: Section) -> None:
        if "requests" in self.ds:
            q = self.request_table(()).quality.copy()
            q = q.rename(columns={"requests": "rv_requests_n"}) if "requests" in q.columns else q
            cols = [c for c in q.columns]
            q = q[cols]
            q.columns = [{"flag": "rv_flag", "meaning": "rv_meaning", "action": "rv_action"}.get(c, c) for c in q.columns]
            count = next((c for c in q.columns if c in ("rv_requests_n", "n", "count")), None)
            # the counts here are data-quality tallies over the whole log: small ones reveal nobody
            self.publish(sec, "quality", self.msg("rv_tab_quality"), q, count_col=None, people=False)
            del count
        sec.paragraphs.append(self.msg("rv_methods"))
        sup1 = sum(tb.n_primary for s in self._cache.values() for tb in s.tables)
        sup2 = sum(tb.n_secondary for s in self._cache.values() for tb in s.tables)
        sec.paragraphs.append(self.msg("rv_disclosure_note", k=self.k, mark=disclosure.MARK, primary=sup1,
                                       secondary=sup2))

    # -- provenance
    def _section_provenance(self, sec: Section) -> None:

        sums = self.ds.checksums()
        files = pd.DataFrame({"rv_file": list(sums), "rv_sha256": list(sums.values())})
        self.publish(sec, "checksums", self.msg("rv_tab_checksums"), files, count_col=None, people=False)
        params = pd.DataFrame({"rv_parameter": ["data", "year", "lang", "level", "k", "draws", "rv_package_version"],
                               "value": [Path(self.ds.path).name, str(self.year), self.lang, self.level, str(self.k),
                                         str(self.draws), __version__]})
        params["rv_parameter"] = params["rv_parameter"].map(lambda s: self.msg(s) if s.startswith("rv_") else s)
        self.publish(sec, "parameters", self.msg("rv_tab_params"), params, count_col=None, people=False)

    # -- executive summary (written last, from the other sections' numbers)
    def _section_summary(self, sec: Section) -> None:
        prev = self.year - 1
        sc_sec = self.section("scorecard")
        sc = sc_sec.facts.get("scorecard")
        if sc is not None:
            with_t = sc[sc["status"].isin(["met", "not_met"])]
            sec.paragraphs.append(self.msg("rv_sum_counts", n=len(with_t), met=int(with_t["status"].eq("met").sum()),
                                           not_met=int(with_t["status"].eq("not_met").sum()),
                                           no_target=int(sc["status"].eq("no_target").sum())))
            sep = "、" if self.lang == "zh" else "; "
            reg = sc[~sc["pillar"].isin(["outcome"])]

            def items(frame, with_values=True):
                if frame.empty:
                    return self.msg("rv_sum_none")
                return sep.join(f"{r.name} ({fmt_value(r.indicator, r.previous_value)} → {fmt_value(r.indicator, r.value)})"
                                if with_values else f"{r.name} ({fmt_value(r.indicator, r.value)}, "
                                f"{self.msg('target')} {r.comparator} {fmt_value(r.indicator, r.target)})"
                                for r in frame.itertuples())

            sec.paragraphs.append(self.msg("rv_sum_improved", prev=prev, items=items(reg[reg["trend"].eq("better")])))
            sec.paragraphs.append(self.msg("rv_sum_worse", prev=prev, items=items(reg[reg["trend"].eq("worse")])))
            sec.paragraphs.append(self.msg("rv_sum_missed", items=items(sc[sc["status"].eq("not_met")], False)))
        sv = self.section("survey")
        ch = sv.facts.get("survey_change")
        if ch is not None:
            sep = "、" if self.lang == "zh" else "; "
            sig = (ch["ci_low"] > 0) | (ch["ci_high"] < 0)

            def fmt_change(frame):
                if frame.empty:
                    return self.msg("rv_sum_none")
                return sep.join(f"{self.label(r.indicator)} ({r.value:+.2f}, 95% CI {r.ci_low:+.2f} – {r.ci_high:+.2f})"
                                for r in frame.itertuples())

            sec.paragraphs.append(self.msg("rv_sum_survey_change", prev=prev, items=fmt_change(ch[sig])))
            sec.paragraphs.append(self.msg("rv_sum_cannot_tell", items=fmt_change(ch[~sig])))
        imp = self.section("impact").facts.get("impact")
        if imp is not None:
            key = self.msg("rv_simple")
            for r in imp[imp["aggregation"].eq(key)].itertuples():
                distinct = (r.ci_low > 0) or (r.ci_high < 0)
                sec.paragraphs.append(self.msg(
                    "rv_sum_impact", outcome=r.outcome, value=f"{r.value:+.2f}", low=f"{r.ci_low:+.2f}",
                    high=f"{r.ci_high:+.2f}", verdict=self.msg("rv_distinguishable" if distinct else "rv_not_distinguishable")))
        for key in SECTIONS[1:]:
            s = self.section(key)
            if not s.available:
                sec.paragraphs.append(f"{s.title}: {s.reason}")

    # ------------------------------------------------------------------ output
    def all_tables(self) -> list[PublishedTable]:
        """Every published table, in report order (sections computed on demand)."""
        return [tb for key in SECTIONS for tb in self.section(key).tables]

    def workbook_sheets(self) -> dict[str, pd.DataFrame]:
        """One sheet per published table, headers in both languages, plus a contents sheet."""
        sheets: dict[str, pd.DataFrame] = {}
        contents = []
        for i, tb in enumerate(self.all_tables(), start=1):
            name = f"{i:02d} {tb.key}"[:31]
            frame = tb.frame.copy()
            frame.columns = [_bilingual_col(c) for c in frame.columns]
            sheets[name] = frame
            contents.append({"sheet": name, "title": tb.title})
        toc = pd.DataFrame(contents)
        toc.columns = ["sheet / 工作表", "title / 标题"]
        return {"00 contents": toc, **sheets}

    def write_workbook(self, path: str | Path) -> Path:
        return write_workbook(self.workbook_sheets(), path)

    def html_of(self, key: str) -> str:
        """HTML of one section (heading, paragraphs, tables, figures embedded as data URIs are added by show)."""
        sec = self.section(key)
        parts = [f"<h2>{html.escape(sec.title)}</h2>"]
        if not sec.available:
            parts.append(f'<p class="not-available"><b>{html.escape(sec.reason)}</b></p>')
            return "\n".join(parts)
        parts += [f"<p>{html.escape(p)}</p>" for p in sec.paragraphs]
        for tb in sec.tables:
            parts.append(f"<h3>{html.escape(tb.title)}</h3>")
            parts.append(self._table_html(tb))
        return "\n".join(parts)

    def _table_html(self, tb: PublishedTable) -> str:
        f = tb.frame.copy()
        ind = f["indicator"] if "indicator" in f.columns else None
        for c in f.columns:
            if c in VALUE_COLS or (c.isdigit() and ind is not None):
                f[c] = [fmt_value(i, v, self.lang, change=(c == "change" or tb.key == "survey_change"))
                        for i, v in zip(ind if ind is not None else [None] * len(f), f[c])]
            elif c in ("n", "se") or pd.api.types.is_float_dtype(f[c]):
                f[c] = [v if isinstance(v, str) else ("–" if pd.isna(v) else (f"{v:,.0f}" if c == "n" else f"{v:.4g}"))
                        for v in f[c]]
        if "name" in f.columns and "indicator" in f.columns:
            f = f.drop(columns="indicator")
        note = ""
        if len(f) > MAX_HTML_ROWS:
            note = f"<p><small>{html.escape(self.msg('rv_more_rows', shown=MAX_HTML_ROWS, rows=len(f)))}</small></p>"
            f = f.head(MAX_HTML_ROWS)
        f.columns = [self.msg(c) if not c.isdigit() else c for c in f.columns]
        return f.to_html(index=False, na_rep="–", escape=True, classes="review-table", border=0) + note

    def show(self, key: str) -> None:
        """Display one section in the notebook (headings and tables as HTML, figures as PNG)."""
        display(HTML(self.html_of(key)))
        for png in self.section(key).figures:
            display(Image(filename=str(png)))


def _known(iid: str) -> bool:
    try:
        catalog.get(iid)
        return True
    except KeyError:
        return False


def _bilingual_col(col: str) -> str:
    if col.isdigit():
        return col
    if col in catalog.MESSAGES:
        return bilingual(col)
    return col
