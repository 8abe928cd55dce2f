"""Sphinx configuration of the documentation site (``make docs``).

Sphinx + myst-nb, built offline from the repository: the notebooks of ``notebooks/`` rendered from
their stored outputs (never executed here), the API reference from the numpydoc docstrings, and
pages generated at build time from the package's own data (``_ext/generate.py``). Why Sphinx +
myst-nb rather than Jupyter Book: see ``about.md``.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(DOCS / "_ext"), str(ROOT / "src")]

# -- project -------------------------------------------------------------------------------------

_meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
project = "governance-evaluation"
author = "governance-evaluation developers"
copyright = "2026, governance-evaluation developers (MIT licence)"
release = version = _meta["version"]
language = "en"
root_doc = "index"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "numpydoc",
    "generate",
    "nblink",
    "known_warnings",
    "reexports",
]

exclude_patterns = ["_build", "_generated", "_data", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".nblink": "myst-nb", ".rst": "restructuredtext"}
templates_path = ["_templates"]
nitpicky = False

# -- MyST and the notebooks -----------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline", "attrs_block"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the stored outputs are the record: never execute at build time
nb_custom_formats = {".nblink": "nblink.read_nblink"}
nb_merge_streams = True
nb_output_stderr = "show"

# -- API reference ---------------------------------------------------------------------------------

autodoc_default_options = {"members": True, "member-order": "bysource", "no-value": True}
autodoc_typehints = "none"  # the numpydoc sections say what each parameter is
autodoc_mock_imports: list[str] = []
numpydoc_show_class_members = False  # autodoc :members: lists them; no autosummary stubs
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Docstrings of the package that do not parse cleanly: the package's to fix (reported, not fixed
# here). Each entry is (object, start of the message); see _ext/known_warnings.py. Delete an entry
# when its docstring is fixed; ``DOCS_STRICT=1 make docs`` shows them all.
known_docstring_warnings: list[tuple[str, str]] = []

# -- HTML ------------------------------------------------------------------------------------------

html_theme = "sphinx_book_theme"
html_title = f"governance-evaluation {version}"
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_context = {"default_mode": "auto"}  # light or dark as the reader's system says (the theme needs it set)
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
    "search_bar_text": "Search the book…",
}
