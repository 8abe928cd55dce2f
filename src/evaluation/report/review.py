"""``evaluation review``: one command from a district's data to the bilingual annual review.

The review is a parameterised notebook (package resource ``report/annual_review.ipynb``)
executed with papermill on the running interpreter's kernel, then rendered by nbconvert to one
self-contained HTML file without code cells, titled with the district and the year. Beside it go
an XLSX workbook with every full table (README and data-dictionary sheets first), the figures as
PNG and SVG, and, with ``pdf=True``, an A4 PDF printed by headless Chromium::

    <out>/annual-review-<year>-<lang>.html
    <out>/annual-review-<year>-<lang>.xlsx
    <out>/annual-review-<year>-<lang>.pdf            (with --pdf)
    <out>/figures/annual-review-<year>-<lang>-<figure>.png|.svg

What the sections compute lives in :mod:`evaluation.report.sections` (testable without a kernel);
this module runs the notebook with one progress line per section, renders, scans every output
for personal identifiers (:mod:`evaluation.dataset.privacy`) and moves the files into place only
when everything succeeded: all work happens in a staging folder inside ``<out>``, so a failed run
leaves no half-written report behind, and staging folders that a killed run left are removed by
the next run.

The run time stamp appears in the HTML only; the workbook holds no time, so two runs on the same
inputs give the same workbook bytes.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from evaluation import catalog, style
from evaluation.dataset.privacy import check_pii_option, read_salt, scan_paths
from evaluation.errors import EvaluationError
from evaluation.io import STALE_AFTER
from evaluation.report.model import PAGE_ORDER
from evaluation.report.text import t

TEMPLATE = "annual_review.ipynb"
ENGINE_NAME = "evaluation-review"
KERNEL_NAME = "python3"


class ReviewError(EvaluationError):
    """The review could not be written; the message says why in one sentence."""


@dataclass
class ReviewOutputs:
    """The files a review wrote, and how long it took."""

    html: Path
    xlsx: Path
    figures: list[Path]
    seconds: float
    pdf: Path | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def template_path() -> Path:
    """The review notebook template shipped with the package."""
    return Path(str(files("evaluation.report") / TEMPLATE))


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
        title = t(f"rv_{name}", lang) if f"rv_{name}" in catalog.MESSAGES else name
        print(f"[{i}/{n}] {title} ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)

    return show


def _check_inputs(data_dir: Path, lang: str) -> None:
    if not data_dir.is_dir():
        raise ReviewError(f"{data_dir}: no such dataset folder; give the folder with the district's tables "
                          f"(e.g. data/zhangwan-synthetic)")
    if lang == "zh" and style.cjk_font() is None:
        raise style.FontMissingError(style.INSTALL_HINT)


def _render_html(nb, path: Path, title: str, lang: str) -> None:
    """Render the executed notebook to a self-contained HTML file without code, prompts or streams."""
    from nbconvert import HTMLExporter  # noqa: PLC0415 - deferred: nbconvert loads only when a review is rendered

    nb = _reorder_for_reading(nb)
    nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    exporter.enable_mathjax = False  # no formulas; and no script from a CDN (the report works offline)
    exporter.language_code = "zh-CN" if lang == "zh" else "en"
    body, _ = exporter.from_notebook_node(nb)
    path.write_text(_strip_external_scripts(body), encoding="utf-8")


def _reorder_for_reading(nb):
    """Put the first screen (computed last, from the other sections) right after the title; drop streams."""
    nb = copy.deepcopy(nb)
    cells = nb.cells
    first = [c for c in cells if c.metadata.get("review_section") == "summary"]
    rest = [c for c in cells if c.metadata.get("review_section") != "summary"]
    title_at = next((i for i, c in enumerate(rest) if c.metadata.get("review_section") == "load"), 0)
    nb.cells = rest[:title_at + 1] + first + rest[title_at + 1:]
    for c in nb.cells:
        if c.cell_type == "code":
            # warnings and progress text are for the log, not the reader
            c.outputs = [o for o in c.outputs if o.get("output_type") != "stream"]
    return nb


def _strip_external_scripts(html_text: str) -> str:
    """Drop every script that fetches from the network: a report handed in must open offline."""
    html_text = re.sub(r'<script[^>]+src="https?://[^"]+"[^>]*>\s*</script>', "", html_text)
    return re.sub(r"<script\b[^>]*>(?:(?!</script>).)*?https?://(?:(?!</script>).)*</script>", "", html_text,
                  flags=re.S)


def chromium() -> str | None:
    """The headless Chromium (or Chrome) on this machine, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: Path, pdf_path: Path, timeout: int = 120) -> Path:
    """Print the HTML review to an A4 PDF with headless Chromium (the review's print style sheet applies)."""
    browser = chromium()
    if browser is None:
        raise ReviewError("--pdf needs Chromium or Chrome (install chromium, e.g. `apt-get install chromium`, "
                          "or `make sysdeps`); the HTML review was not written either")
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           "--run-all-compositor-stages-before-draw", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
    with tempfile.TemporaryDirectory(prefix="review-chromium-") as profile:
        done = subprocess.run([*cmd, f"--user-data-dir={profile}"], capture_output=True, text=True, timeout=timeout,
                              check=False)
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise ReviewError(f"Chromium could not print the PDF (exit {done.returncode}); no report was written")
    return pdf_path


def clean_stale(out: Path, now: float | None = None) -> list[Path]:
    """Remove the staging folders that a killed run left in ``out`` (older than :data:`evaluation.io.STALE_AFTER`)."""
    now = time.time() if now is None else now
    removed = []
    for p in out.glob(".annual-review-*"):
        try:
            if now - p.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


def run_review(data_dir: str | os.PathLike, year: int, lang: str = "en", level: str = "community",
               out: str | os.PathLike = "reports", *, k: int = 5, draws: int = 199, progress: bool = True,
               run_time: str | None = None, timeout: int = 600, cutoff: str | None = None,
               control_group: str = "nevertreated", weights: str = "auto", sections=None, force: bool = False,
               targeted: tuple[str, str] | None = None, pdf: bool = False, pii: str = "refuse", salt_file: str | os.PathLike | None = None,
               timezone: str | None = None, date_order: str | None = None,
               value_aliases: str | os.PathLike | None = None) -> ReviewOutputs:
    """Write the annual review of ``year`` in ``lang`` to ``out`` (see the module docstring).

    Raises
    ------
    ReviewError
        With one sentence naming what is missing (a table, a font, the year), why the data were
        refused, or which section failed.
    """
    # jsonschema (under nbformat) builds an IRI parser for 1.2 s when rfc3987-syntax is installed;
    # notebooks hold no IRIs to check, so that optional import is skipped (ImportError, as if absent)
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat  # noqa: PLC0415 - deferred: nbformat (and jsonschema) load only when a review runs
    import papermill as pm  # noqa: PLC0415 - deferred: as nbformat

    # the review runs in a kernel: this process loads only what checks the options and renders
    from evaluation.report.context import ReviewOptions  # noqa: PLC0415 - deferred: the domain stack loads in the kernel
    from evaluation.report.session import page_title  # noqa: PLC0415 - deferred: as above

    started = time.monotonic()
    data_dir = Path(data_dir).resolve()
    out = Path(out)
    # the options are checked here, before a kernel starts, so that a typo costs no time
    ReviewOptions(year=year, lang=lang, level=level, k=k, draws=draws, cutoff=cutoff, control_group=control_group,
                  weights=weights, sections=tuple(sections) if sections else None, force=force,
                  targeted=None if targeted is None else tuple(targeted))

    check_pii_option(pii, read_salt(salt_file))  # a missing salt is an error before the kernel starts
    if pdf and chromium() is None:
        raise ReviewError("--pdf needs Chromium or Chrome (install chromium, e.g. `make sysdeps`); nothing was written")
    _check_inputs(data_dir, lang)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    stem = f"annual-review-{int(year)}-{lang}"
    # absolute: the kernel runs with the staging folder as its working directory
    staging = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=out)).resolve()
    try:
        _register_engine(_print_progress(lang) if progress else None)
        executed = staging / f"{stem}.ipynb"
        params = {"data_dir": str(data_dir), "year": int(year), "lang": lang, "level": level,
                  "out_dir": str(staging), "k": int(k), "draws": int(draws),
                  "workbook": str(staging / f"{stem}.xlsx"), "cutoff": cutoff, "control_group": control_group,
                  "weights": weights, "sections": list(sections) if sections else None, "force": bool(force),
                  "targeted": None if targeted is None else [str(x) for x in targeted],
                  "pii": pii, "salt_file": None if salt_file is None else str(Path(salt_file).resolve()),
                  "timezone": timezone, "date_order": date_order,
                  "value_aliases": None if value_aliases is None else str(Path(value_aliases).resolve()),
                  "run_time": run_time if run_time is not None else _dt.datetime.now().astimezone().isoformat(
                      timespec="seconds")}
        try:
            pm.execute_notebook(str(template_path()), str(executed), parameters=params, kernel_name=KERNEL_NAME,
                                engine_name=ENGINE_NAME, progress_bar=False, cwd=str(staging),
                                execution_timeout=timeout, report_mode=True)
        except pm.PapermillExecutionError as exc:
            raise ReviewError(_failure(executed, exc)) from None
        nb = nbformat.read(executed, as_version=4)
        html_path = staging / f"{stem}.html"
        _render_html(nb, html_path, page_title(str(data_dir), int(year), lang), lang)
        executed.unlink()
        findings = scan_paths([staging])
        if findings:
            raise ReviewError(f"the review would publish personal identifiers ({', '.join(map(str, findings[:3]))}); "
                              f"remove them from the source tables; no report was written")
        log = staging / f"{stem}.log.json"
        logged = json.loads(log.read_text(encoding="utf-8")) if log.is_file() else {}
        failures, notes = logged.get("failures", []), logged.get("notes", [])
        if log.is_file():
            log.unlink()
        if pdf:
            print_pdf(html_path, staging / f"{stem}.pdf")
        figures = _move_into_place(staging, out, stem, pdf)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReviewOutputs(out / f"{stem}.html", out / f"{stem}.xlsx", figures, time.monotonic() - started,
                         out / f"{stem}.pdf" if pdf else None, failures, notes)


#: errors raised before any section runs whose message is the user's answer (not a crash)
_USER_ERRORS = ("ValidationFailed", "OptionError", "MissingInputError", "DataError", "LoadError", "PersonalDataError",
                "FontMissingError")


def _failure(executed: Path, exc) -> str:
    """One sentence for a review that stopped: the data's problem as it is, or which part failed."""
    if exc.ename in _USER_ERRORS:
        return f"{exc.evalue}; no report was written"
    section = "setup"
    try:
        import nbformat  # noqa: PLC0415 - deferred: nbformat loads only when a review runs

        nb = nbformat.read(executed, as_version=4)
        for c in nb.cells:
            if c.cell_type == "code" and c.get("execution_count") == exc.exec_count:
                section = c.metadata.get("review_section", "setup")
    except (OSError, ValueError):  # the notebook may not have been written at all
        pass
    return (f"the review stopped in its {section} step ({exc.ename}: {exc.evalue}); no report was written; "
            "please report this with `evaluation review --debug`")


def _move_into_place(staging: Path, out: Path, stem: str, pdf: bool) -> list[Path]:
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
    if pdf:
        os.replace(staging / f"{stem}.pdf", out / f"{stem}.pdf")
    os.replace(staging / f"{stem}.html", out / f"{stem}.html")  # last: its presence means the review is complete
    return moved


__all__ = ["PAGE_ORDER", "ReviewError", "ReviewOutputs", "clean_stale", "print_pdf", "run_review", "template_path"]
