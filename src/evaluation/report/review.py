"""``evaluation review``: one command from a district's data to the bilingual annual review.

The review is a parameterised notebook (package resource ``report/annual_review.ipynb``)
executed with papermill (parameters: data folder, year, language, level) on the running
interpreter's kernel, then rendered by nbconvert to one self-contained HTML file without code
cells. Beside it go an XLSX workbook with every table of the report (headers in English and
Chinese) and the figures as PNG and SVG::

    <out>/annual-review-<year>-<lang>.html
    <out>/annual-review-<year>-<lang>.xlsx
    <out>/figures/annual-review-<year>-<lang>-<figure>.png|.svg

What the sections compute lives in :mod:`evaluation.report.sections` (testable without a kernel);
this module checks the inputs, runs the notebook with one progress line per section, renders,
scans every output for personal identifiers (:mod:`evaluation.disclosure`) and moves the files
into place only when everything succeeded: all work happens in a temporary folder inside
``<out>``, so a failed run leaves no half-written report behind.

The run time stamp appears in the HTML only; the workbook holds no time, so two runs on the same
inputs give workbooks with the same cells.
"""

from __future__ import annotations

import copy
import datetime as _dt
import html
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import nbformat
from IPython.display import HTML, display

from evaluation import catalog, disclosure, style
from evaluation.dataset.load import load_dataset, table_files
from evaluation.dataset.privacy import scan_paths
from evaluation.report.sections import REQUIRED_TABLES, SECTIONS, Review, t

TEMPLATE = "annual_review.ipynb"
ENGINE_NAME = "evaluation-review"
KERNEL_NAME = "python3"


class ReviewError(RuntimeError):
    """The review could not be written; the message says what is missing and how to fix it."""


@dataclass
class ReviewOutputs:
    """Paths the review wrote and how long it took."""

    html: Path
    xlsx: Path
    figures: list[Path]
    seconds: float


def template_path() -> Path:
    """The review notebook shipped with the package."""
    return Path(str(files("evaluation.report") / TEMPLATE))


# --------------------------------------------------------------------------- in the kernel


def start_review(data_dir: str, year: int, lang: str = "en", level: str = "community", out_dir: str = ".",
                 k: int = disclosure.DEFAULT_K, draws: int = 199, run_time: str = "") -> Review:
    """Load the dataset, show the title block and return the :class:`Review` (called by the notebook)."""
    ds = load_dataset(data_dir)
    review = Review(ds, year, lang, level, out_dir, k=k, draws=draws)
    check_year(ds, year)
    parts = [f"<h1>{_esc(t('rv_title', lang, year=year, district=review.district_name))}</h1>",
             f"<p>{_esc(t('rv_subtitle', lang, level=catalog.message(level, lang)))}</p>"]
    if "synthetic" in str(ds.meta.get("description", "") + ds.meta.get("title", "")).lower() or \
            "synthetic" in Path(data_dir).name.lower():
        parts.append(f"<p><i>{_esc(t('rv_synthetic', lang))}</i></p>")
    if run_time:
        parts.append(f'<p class="run-time"><small>{_esc(t("rv_run_time", lang, time=run_time))}</small></p>')
    display(HTML("\n".join(parts)))
    return review


def check_year(ds, year: int) -> None:
    """Refuse a year the data do not cover (after the cut-off, or before every register)."""
    if ds.cutoff is not None and year > ds.cutoff.year:
        raise ReviewError(f"year {year} is after the data cut-off ({ds.cutoff.date()}); choose {ds.cutoff.year} or earlier")
    created = ds["compound_milestones"]["date"] if "compound_milestones" in ds else None
    if created is not None and len(created.dropna()) and year < created.dropna().min().year:
        raise ReviewError(f"year {year} is before the first record of the data ({created.dropna().min().date()})")


def _esc(s: str) -> str:

    return html.escape(s)


# --------------------------------------------------------------------------- in the caller


def _register_engine(progress) -> None:
    """A papermill engine that reports each section's cell as it starts (one line per section)."""
    from papermill.engines import NBClientEngine, papermill_engines  # noqa: PLC0415 - deferred: papermill loads only when a review runs

    class ReviewEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            start = nb_man.cell_start
            sections = [c.metadata.get("review_section") for c in nb_man.nb.cells]
            total = sum(1 for s in sections if s)

            def cell_start(cell, cell_index=None, **kw):
                name = cell.metadata.get("review_section")
                if name and progress:
                    done = sum(1 for s in sections[:cell_index] if s)
                    progress(done + 1, total, name)
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(ENGINE_NAME, ReviewEngine)


def _print_progress(lang: str):
    t0 = time.monotonic()

    def show(i: int, n: int, name: str) -> None:
        title = t(f"rv_{name}", lang) if name in SECTIONS else name
        print(f"[{i}/{n}] {title} ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)

    return show


def _check_inputs(data_dir: Path, lang: str) -> None:
    if not data_dir.is_dir():
        raise ReviewError(f"{data_dir}: no such dataset folder; give the folder with datapackage.json "
                          f"(e.g. data/zhangwan-synthetic)")
    tables, _, _ = table_files(data_dir)
    for name in REQUIRED_TABLES:
        if name not in tables:
            raise ReviewError(f"{data_dir}: the dataset has no {name} table, which every review needs; add {name}.csv "
                              f"(template in data/templates/) and run again")
        if not tables[name].exists():
            raise ReviewError(f"{tables[name]}: the file of the {name} table is missing; restore it and run again")
    if lang == "zh":
        if style.cjk_font() is None:
            raise style.FontMissingError(style.INSTALL_HINT)


def _render_html(nb, path: Path) -> None:
    """Render the executed notebook to a self-contained HTML file without code, prompts or streams."""
    from nbconvert import HTMLExporter  # noqa: PLC0415 - deferred: nbconvert loads only when a review is rendered

    nb = _reorder_for_reading(nb)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    exporter.enable_mathjax = False  # no formulas; and no script from a CDN (the report works offline)
    body, _ = exporter.from_notebook_node(nb)
    body = _strip_external_scripts(body)
    path.write_text(body, encoding="utf-8")


def _reorder_for_reading(nb):
    """Put the executive summary (computed last, from the other sections) right after the title; drop streams."""
    nb = copy.deepcopy(nb)
    cells = nb.cells
    summary = [c for c in cells if c.metadata.get("review_section") == "summary"]
    rest = [c for c in cells if c.metadata.get("review_section") != "summary"]
    title_at = next((i for i, c in enumerate(rest) if c.metadata.get("review_section") == "load"), 0)
    nb.cells = rest[:title_at + 1] + summary + rest[title_at + 1:]
    for c in nb.cells:
        if c.cell_type == "code":
            # warnings and progress text are for the log, not the reader
            c.outputs = [o for o in c.outputs if o.get("output_type") != "stream"]
    return nb


def _strip_external_scripts(html_text: str) -> str:

    # the lab template loads require.js / mermaid from a CDN when a notebook needs them; the review
    # needs neither, and a report handed in must open offline: drop every script that fetches
    html_text = re.sub(r'<script[^>]+src="https?://[^"]+"[^>]*>\s*</script>', "", html_text)
    return re.sub(r"<script\b[^>]*>(?:(?!</script>).)*?https?://(?:(?!</script>).)*</script>", "", html_text,
                  flags=re.S)


def run_review(data_dir: str | os.PathLike, year: int, lang: str = "en", level: str = "community",
               out: str | os.PathLike = "reports", *, k: int = disclosure.DEFAULT_K, draws: int = 199,
               progress: bool = True, run_time: str | None = None, timeout: int = 600) -> ReviewOutputs:
    """Write the annual review of ``year`` in ``lang`` to ``out`` (see the module docstring).

    Raises
    ------
    ReviewError
        With one sentence naming what is missing (a table, a font, the year) or which section failed.
    """
    import papermill as pm  # noqa: PLC0415 - deferred: papermill loads only when a review runs

    started = time.monotonic()
    data_dir = Path(data_dir).resolve()
    out = Path(out)
    if lang not in catalog.LANGS:
        raise ReviewError(f"unknown language {lang!r}; use --lang en or --lang zh")
    _check_inputs(data_dir, lang)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"annual-review-{int(year)}-{lang}"
    # absolute: the kernel runs with the staging folder as its working directory
    staging = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=out)).resolve()
    try:
        _register_engine(_print_progress(lang) if progress else None)
        executed = staging / f"{stem}.ipynb"
        params = {"data_dir": str(data_dir), "year": int(year), "lang": lang, "level": level,
                  "out_dir": str(staging), "k": int(k), "draws": int(draws),
                  "workbook": str(staging / f"{stem}.xlsx"),
                  "run_time": run_time if run_time is not None else _dt.datetime.now().astimezone().isoformat(
                      timespec="seconds")}
        try:
            pm.execute_notebook(str(template_path()), str(executed), parameters=params, kernel_name=KERNEL_NAME,
                                engine_name=ENGINE_NAME, progress_bar=False, cwd=str(staging),
                                execution_timeout=timeout, report_mode=True)
        except pm.PapermillExecutionError as exc:
            section = _failed_section(executed, exc)
            raise ReviewError(f"the review stopped in the {section} section: {exc.ename}: {exc.evalue}; "
                              f"no report was written") from None
        nb = nbformat.read(executed, as_version=4)
        _render_html(nb, staging / f"{stem}.html")
        executed.unlink()
        findings = scan_paths([staging])
        if findings:
            raise ReviewError(f"the review would publish personal identifiers ({', '.join(map(str, findings[:3]))}); "
                              f"remove them from the source tables; no report was written")
        figures = _move_into_place(staging, out, stem)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReviewOutputs(out / f"{stem}.html", out / f"{stem}.xlsx", figures, time.monotonic() - started)


def _failed_section(executed: Path, exc) -> str:

    try:
        nb = nbformat.read(executed, as_version=4)
        idx = exc.exec_count
        for c in nb.cells:
            if c.cell_type == "code" and c.get("execution_count") == idx:
                return c.metadata.get("review_section", "setup")
    except Exception:  # the notebook may not have been written at all
        pass
    return "setup"


def _move_into_place(staging: Path, out: Path, stem: str) -> list[Path]:
    """Rename the finished files into ``out`` (each rename is atomic; all were complete before the first)."""
    fig_out = out / "figures"
    figs = sorted((staging / "figures").glob(f"{stem}-*")) if (staging / "figures").is_dir() else []
    if figs:
        fig_out.mkdir(parents=True, exist_ok=True)
        for old in fig_out.glob(f"{stem}-*"):
            old.unlink()  # figures of an earlier run that this one no longer makes
    moved = []
    for f in figs:
        os.replace(f, fig_out / f.name)
        moved.append(fig_out / f.name)
    os.replace(staging / f"{stem}.xlsx", out / f"{stem}.xlsx")
    os.replace(staging / f"{stem}.html", out / f"{stem}.html")  # last: its presence means the review is complete
    return moved
