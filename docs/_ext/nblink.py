"""The notebooks of ``notebooks/`` as pages, read in place at build time.

Each page of ``docs/notebooks/`` is a one-line ``.nblink`` file, ``{"path": "notebooks/NAME.ipynb"}``
(relative to the repository root). myst-nb reads it through :func:`read_nblink` (registered in
``nb_custom_formats``), which returns the notebook itself with its stored outputs: nothing is
copied into ``docs/`` and nothing is executed (``nb_execution_mode = "off"``). The notebook file is
recorded as a dependency of its page, so an incremental build picks up a re-executed notebook, and
each page gets a download link to its ``.ipynb``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = ".nblink"


def target(text: str) -> Path:
    """The notebook file an ``.nblink`` text points to (a path relative to the repository root)."""
    rel = json.loads(text)["path"]
    path = (ROOT / rel).resolve()
    if ROOT not in path.parents:
        raise ValueError(f"{rel}: a notebook page must point inside the repository")
    return path


def read_nblink(text: str) -> nbformat.NotebookNode:
    """myst-nb reader: the notebook an ``.nblink`` points to, outputs as stored, plus a download line."""
    path = target(text)
    nb = nbformat.read(path, as_version=4)
    rel = Path("..", "..", path.relative_to(ROOT)).as_posix()
    note = nbformat.v4.new_markdown_cell(
        f"```{{note}}\nRendered from the outputs stored in `{path.relative_to(ROOT).as_posix()}` "
        f"(not re-executed for this page). {{download}}`Download the notebook <{rel}>`, "
        "or run it yourself: see [](../guide/run.md).\n```"
    )
    note.metadata["tags"] = ["docs-added"]
    cells = list(nb.cells)
    # after the notebook's title cell, so that the page title stays the notebook's own
    at = 1 if cells and cells[0].cell_type == "markdown" else 0
    nb.cells = cells[:at] + [note] + cells[at:]
    return nb


def _note_dependency(app, docname: str, source: list[str]) -> None:
    path = Path(app.env.doc2path(docname))
    if path.suffix == SUFFIX:
        app.env.note_dependency(str(target(path.read_text(encoding="utf-8"))))


def setup(app):
    """Sphinx extension: record each notebook as a dependency of its page."""
    app.connect("source-read", _note_dependency)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
