"""The review in progress: one dataset, one year, one language, and what its sections share.

:class:`Review` holds the validated dataset and the :class:`ReviewOptions`, computes each section
once (:meth:`Review.section`), and gives the sections what they share so that one concept has one
number everywhere: the indicator tables of a year and level (:func:`evaluation.indicators.collect_indicators`,
the same call as ``evaluation indicators``), the request indicators (:func:`evaluation.requests.request_indicators`
on :func:`evaluation.requests.dataset_log`, as notebook 02), the survey estimates with the weights
notebook 04 uses, what the data can assess (:func:`evaluation.assess.assessability`), and the
disclosure ledger (:meth:`Review.protect`), which suppresses a cell in every table it appears in.

A section that cannot be computed becomes one sentence in the report's language saying why; the
exception goes to the run's log (``Review.failures``), never to the page.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation import catalog, disclosure, style
from evaluation.assess import assessability
from evaluation.dataset import schema
from evaluation.dataset.units import UnitTree
from evaluation.dataset.values import chinese_label
from evaluation.errors import EvaluationError, MissingInputError, OptionError
from evaluation.indicators import collect_indicators
from evaluation.registry import registry_indicators
from evaluation.report.model import Figure, PublishedTable, Section
from evaluation.report.text import t
from evaluation.requests import Engine, dataset_log, request_indicators
from evaluation.survey import survey_indicators, uses_calibration
from evaluation.survey.outcomes import SURVEY_WEIGHTS

#: the comparison groups of the impact estimates (``--control-group``)
CONTROL_GROUPS = ("nevertreated", "notyettreated")


class NotAssessable(LookupError):
    """A section (or a part of one) cannot be computed for a reason a reader understands.

    ``key`` is a message of ``review.yaml`` and ``kw`` fills it in, so the reason is written in
    the report's language.
    """

    def __init__(self, key: str, **kw):
        self.key, self.kw = key, kw
        super().__init__(key)


@dataclass
class ReviewOptions:
    """What the user chose for one review (the command-line options of ``evaluation review``)."""

    year: int
    lang: str = "en"
    level: str = "community"
    k: int = disclosure.DEFAULT_K
    draws: int = 199
    cutoff: str | None = None
    control_group: str = "nevertreated"
    weights: str = "auto"
    sections: tuple[str, ...] | None = None
    force: bool = False
    #: ``(category, campaign start)`` of a targeted problem (每月一题) for the hotline section, or ``None``
    targeted: tuple[str, str] | None = None

    def __post_init__(self):
        if self.lang not in catalog.LANGS:
            raise OptionError(f"unknown language {self.lang!r}; use --lang en or --lang zh")
        if self.level not in ("street", "community"):
            raise OptionError(f"--level must be street or community, not {self.level!r}")
        if self.control_group not in CONTROL_GROUPS:
            raise OptionError(f"--control-group must be one of {', '.join(CONTROL_GROUPS)}, not {self.control_group!r}")
        if self.weights not in SURVEY_WEIGHTS:
            raise OptionError(f"--weights must be one of {', '.join(SURVEY_WEIGHTS)}, not {self.weights!r}")
        if self.k < 1:
            raise OptionError(f"--k must be at least 1, not {self.k}")
        self.year = int(self.year)
        if self.targeted is not None:
            if len(self.targeted) != 2:
                raise OptionError("--targeted takes a request category and the date its campaign began")
            category, start = (str(x) for x in self.targeted)
            try:
                pd.Timestamp(start)
            except ValueError:
                raise OptionError(f"--targeted: {start!r} is not a date (write it as 2021-05-01)") from None
            self.targeted = (category, start)


@dataclass
class Review:
    """One annual review in progress (see the module docstring).

    Parameters
    ----------
    ds
        A validated :class:`evaluation.dataset.Dataset`.
    options
        The :class:`ReviewOptions`.
    out_dir
        Folder of the figures (``figures/``) and the workbook.
    """

    ds: object
    options: ReviewOptions
    out_dir: Path = Path(".")
    failures: list[str] = field(default_factory=list)
    #: what loading said that a reader of the log should know (files a partial datapackage.json does not list)
    notes: list[str] = field(default_factory=list)
    #: validation errors the review was computed despite (``--force``); 0 for valid data
    validation_errors: int = 0

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.fig_dir = self.out_dir / "figures"
        self.lang, self.year, self.level, self.k = (self.options.lang, self.options.year, self.options.level,
                                                    self.options.k)
        style.use(self.lang)  # FontMissingError, saying what to install, when zh has no CJK font
        self.ds.survey_weights = self.options.weights  # every survey number of the review uses these weights
        self.tree = UnitTree.from_dataset(self.ds)
        units = self.ds["units"]
        self.district_id = self.tree.district_id
        name_col = "name_zh" if self.lang == "zh" else "name_en"
        names = units[name_col] if name_col in units.columns else units["unit_id"]
        self.unit_names = {str(u): (str(n) if not pd.isna(n) else str(u)) for u, n in zip(units["unit_id"], names)}
        self.district_name = self.unit_names.get(str(self.district_id), str(self.district_id))
        parent = units["parent_id"] if "parent_id" in units.columns else pd.Series(None, index=units.index)
        self.parent = {str(u): str(p) for u, p in zip(units["unit_id"], parent) if not pd.isna(p) and str(p)}
        self._sections: dict[str, Section] = {}
        self._data: dict[object, object] = {}
        self.ledger: dict[tuple[str, str, str], str] = {}
        self._workers: dict[str, tuple] = {}

    # ------------------------------------------------------------------ words
    def msg(self, key: str, **kw) -> str:
        """A message of the review in its language."""
        return t(key, self.lang, **kw)

    def label(self, indicator: str) -> str:
        """The catalogue name of ``indicator`` in the review's language."""
        return catalog.label(indicator, self.lang)

    def call_word(self, indicator: str | None, state: str) -> str:
        """The word for a change call: in Chinese it says which way the value moved (提高 / 下降 / 上升)."""
        try:
            direction = catalog.get(indicator).direction if indicator else "none"
        except KeyError:
            direction = "none"
        specific = f"rv_call_{state}_{direction}"
        return self.msg(specific) if specific in catalog.MESSAGES else self.msg(f"rv_call_{state}")

    def unit_name(self, unit_id) -> str:
        """A unit's name in the review's language (its id when the units table has no name)."""
        return self.unit_names.get(str(unit_id), str(unit_id))

    # ------------------------------------------------------------------ shared data
    def cached(self, key, compute):
        """``compute()`` once per review (and once per dataset for what the dataset keeps)."""
        if key not in self._data:
            self._data[key] = compute()
        return self._data[key]

    def indicators(self, year: int, level: str) -> pd.DataFrame:
        """Every indicator of ``year`` at ``level`` (the table ``evaluation indicators`` writes)."""
        return self.cached(("ind", year, level), lambda: collect_indicators(self.ds, year, level).table)

    def prefetch(self, name: str, compute, *args) -> None:
        """Start ``compute(ds, *args)`` in a worker process, for :meth:`fetch` to collect.

        The review's longest computation (the impact estimates and their robustness checks) runs
        beside the other sections on a second core. The worker is a fresh interpreter (``spawn``:
        a forked copy of a process whose Polars or BLAS thread pools are running can deadlock),
        which opens the same dataset folder with the same options; ``compute`` must be a function
        of a module. With ``EVALUATION_NO_WORKERS`` set, or on a one-core machine, nothing starts
        and :meth:`fetch` computes in place; the result is the same either way.
        """
        if os.environ.get("EVALUATION_NO_WORKERS") or (os.cpu_count() or 1) < 2 or not hasattr(self.ds, "path"):
            return
        fd, path = tempfile.mkstemp(prefix=f".{name}-", suffix=".pickle", dir=self.out_dir)
        os.close(fd)
        ds = self.ds
        cutoff = None if ds.cutoff is None else ds.cutoff.isoformat()
        opened = {"path": str(ds.path), "cutoff": cutoff, "timezone": ds.timezone, "pii": getattr(ds, "pii", "refuse"),
                  "salt": getattr(ds, "salt", None), "survey_weights": getattr(ds, "survey_weights", "auto")}
        proc = multiprocessing.get_context("spawn").Process(target=_work, args=(compute, opened, args, path),
                                                            daemon=True)
        proc.start()
        self._workers[name] = (proc, Path(path))

    def fetch(self, name: str, compute, *args):
        """The result of :meth:`prefetch` ``name`` (computed here when no worker ran or it failed)."""
        def collect():
            if name in self._workers:
                proc, path = self._workers.pop(name)
                proc.join()
                try:
                    got = pickle.loads(path.read_bytes()) if proc.exitcode == 0 and path.stat().st_size else {}
                finally:
                    path.unlink(missing_ok=True)
                if "result" in got:
                    return got["result"]
                why = got.get("error", f"exit {proc.exitcode}")
                self.failures.append(f"{name}: the worker process could not compute ({why}); computed in place")
            return compute(self.ds, *args)

        return self.cached(("fetch", name), collect)

    def registry(self, year: int, level: str) -> pd.DataFrame:
        """The registry indicators of ``year`` at ``level`` (complete counts, no survey or log needed)."""
        return self.cached(("reg", year, level), lambda: registry_indicators(self.ds, year, level).table)

    def requests(self, by: tuple[str, ...] = ()):
        """Request indicators by ``by`` and year, on the dataset's flagged log (as notebook 02)."""
        if "requests" not in self.ds:
            raise NotAssessable("rv_no_table", table=self.table_name("requests"))
        return self.cached(("req", by), lambda: request_indicators(dataset_log(self.ds), by=list(by), period="year",
                                                                   engine=Engine(progress=False)))

    @property
    def calibrated(self) -> bool:
        """Whether survey estimates use weights calibrated to the registry (notebook 04's choice)."""
        return uses_calibration(self.ds)

    def survey(self, wave: int, level: str):
        """Design-based survey estimates of ``wave`` at ``level``, with the review's weights."""
        return self.cached(("sv", wave, level), lambda: survey_indicators(self.ds, wave, level,
                                                                          calibrate=self.calibrated))

    def assessable(self) -> pd.DataFrame:
        """Every catalogue indicator: can these data assess it, and if not, why (:mod:`evaluation.assess`)."""
        return self.cached("assess", lambda: assessability(self.ds))

    def table_name(self, table: str) -> str:
        """A data table as the reader knows it: its file name (en), its Chinese title (zh)."""
        if self.lang == "zh":
            return schema.TABLES[table].title_zh if table in schema.TABLES else table
        files = getattr(self.ds, "files", {})
        return Path(files[table]).name if table in files else f"{table}.csv"

    def need_name(self, need: str) -> str:
        """``table`` or ``table.column`` as the reader knows it (the column's Chinese label in zh)."""
        if " in " in need:  # a value no row records: "big_committee_joint in meetings.meeting_type"
            value, _, where = need.partition(" in ")
            table, _, column = where.partition(".")
            if self.lang == "zh":
                return self.msg("rv_value_in", value=chinese_label(column, value), table=self.table_name(table))
            return self.msg("rv_value_in", value=value.replace("_", " "), table=self.table_name(table))
        table, _, column = need.partition(".")
        if not column:
            return self.table_name(table)
        if self.lang == "zh" and table in schema.TABLES and column in schema.TABLES[table].columns:
            field = next(f for f in schema.TABLES[table].fields if f.name == column)
            return f"{self.table_name(table)}的{field.label_zh}"
        return self.msg("rv_column_of", column=column, table=self.table_name(table))

    def reason(self, reason: str, detail: str) -> str:
        """Why an indicator is not assessed, in the review's language (:data:`evaluation.assess.REASONS`)."""
        return self.msg(f"rv_reason_{reason}", what=self.need_name(detail) if detail else "")

    # ------------------------------------------------------------------ disclosure
    def protect(self, tidy: pd.DataFrame, count_col: str = "n") -> pd.DataFrame:
        """Suppress the small cells of a tidy table of units, consistently across the review.

        Cells already suppressed in an earlier table stay suppressed; new primary and secondary
        suppressions (:func:`evaluation.disclosure.protect_hierarchy`: siblings under one parent
        form a line whose total is published) are added to the ledger, so that no table shows a
        cell another table hides. Returns the table with ``suppressed`` (primary / secondary / "").
        """
        tb = tidy.reset_index(drop=True).copy()
        if len(tb) == 0:
            tb["suppressed"] = pd.Series(dtype=object)
            return tb
        state = disclosure.protect_hierarchy(tb, self.parent, self.k, count_col=count_col).to_numpy(dtype=object)
        keys = list(zip(tb["indicator"].astype(str), tb["unit_id"].astype(str), tb["period"].astype(str)))
        for i, key in enumerate(keys):
            if not state[i] and key in self.ledger:
                state[i] = "secondary"
            elif state[i]:
                self.ledger.setdefault(key, state[i])
        tb["suppressed"] = state
        return tb

    def hidden_units(self, period: str | None = None) -> set[str]:
        """Units with any suppressed cell (in ``period``): no score resting on them is published."""
        return {u for (_, u, p), s in self.ledger.items() if s and (period is None or p == period)}

    # ------------------------------------------------------------------ evidence
    def publish(self, sec: Section, key: str, title: str, frame: pd.DataFrame, *, units: dict[str, str] | None = None,
                page: bool = True, sheet: bool = True, note: str = "") -> PublishedTable:
        """Add a table to ``sec``: cells marked ``suppressed`` show the disclosure mark in every number column."""
        frame = frame.reset_index(drop=True).copy()
        n1 = n2 = 0
        if "suppressed" in frame.columns:
            hide = frame["suppressed"].astype(str).ne("").to_numpy()
            n1 = int(frame["suppressed"].eq("primary").sum())
            n2 = int(frame["suppressed"].eq("secondary").sum())
            frame = frame.drop(columns="suppressed")
            if hide.any():
                for col in frame.columns:
                    if col in (units or {}) or pd.api.types.is_numeric_dtype(frame[col]):
                        values = frame[col].astype(object)
                        values[hide] = disclosure.MARK
                        frame[col] = values
        tb = PublishedTable(key, title, frame, dict(units or {}), page=page, sheet=sheet, note=note,
                            n_primary=n1, n_secondary=n2)
        sec.tables.append(tb)
        return tb

    def savefig(self, sec: Section, fig, name: str, alt: str, wide: bool = False) -> Figure:
        """Save ``fig`` as PNG and SVG (deterministic metadata) under ``figures/`` and add it to ``sec``."""
        style.source_note(fig, self.msg("rv_source_note") if self.synthetic else self.msg("rv_source_note_own",
                                                                                          district=self.district_name))
        self.fig_dir.mkdir(parents=True, exist_ok=True)
        stem = self.fig_dir / f"annual-review-{self.year}-{self.lang}-{name}"
        fig.savefig(stem.with_suffix(".png"), metadata={"Software": None})
        fig.savefig(stem.with_suffix(".svg"), metadata={"Date": None})
        plt.close(fig)
        f = Figure(stem.with_suffix(".png"), alt, wide)
        sec.figures.append(f)
        return f

    @property
    def synthetic(self) -> bool:
        """Whether the dataset says it is synthetic (the report then says so on its first screen)."""
        meta = getattr(self.ds, "meta", {}) or {}
        text = f"{meta.get('title', '')} {meta.get('description', '')} {Path(getattr(self.ds, 'path', '')).name}"
        return "synthetic" in text.lower()

    # ------------------------------------------------------------------ sections
    def wanted(self, key: str) -> bool:
        """Whether the user asked for section ``key`` (``--sections``; all by default)."""
        chosen = self.options.sections
        return chosen is None or key in chosen

    def section(self, key: str) -> Section:
        """The computed section ``key`` (once); a section that cannot be computed says why, in one sentence."""
        if key in self._sections:
            return self._sections[key]
        from evaluation.report.sections import BUILDERS  # noqa: PLC0415 - the sections import this module

        sec = Section(key, self.msg(f"rv_{key}"))
        try:
            BUILDERS[key](self, sec)
        except NotAssessable as exc:
            sec = Section(key, sec.title, available=False, reason=self.msg(exc.key, **exc.kw))
        except (MissingInputError, EvaluationError, KeyError, ValueError, LookupError, TypeError, ArithmeticError,
                RuntimeError) as exc:
            # the reader gets one sentence in the report's language; the traceback goes to the log
            self.failures.append(f"{key}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            print(f"review: the {key} section could not be computed: {type(exc).__name__}: {exc}", file=sys.stderr)
            sec = Section(key, sec.title, available=False, reason=self.msg("rv_section_failed"))
        finally:
            plt.close("all")
        self._sections[key] = sec
        return sec

    def computed(self) -> list[Section]:
        """The sections computed so far, in the order they were asked for."""
        return list(self._sections.values())


def _work(compute, opened: dict, args, path) -> None:
    """A worker of :meth:`Review.prefetch`: open the dataset, compute, leave the pickled result at ``path``."""
    sys.stdout = sys.stderr = open(os.devnull, "w")  # nothing the worker says belongs in the notebook
    warnings.simplefilter("ignore")
    from evaluation.dataset.load import load_dataset  # noqa: PLC0415 - a fresh interpreter

    ds = load_dataset(opened["path"], cutoff=opened["cutoff"], timezone=opened["timezone"], pii=opened["pii"],
                      salt=opened["salt"])
    ds.survey_weights = opened["survey_weights"]
    try:
        result = {"result": compute(ds, *args)}
    except Exception as exc:  # the parent computes in place and logs why the worker could not
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(path).write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


def finite(values) -> np.ndarray:
    """``values`` as floats, text (the disclosure mark) and missing values as NaN."""
    return pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()
