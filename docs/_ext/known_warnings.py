"""Known docstring warnings of the package, held back so that ``-W`` judges everything else.

The documentation build runs with warnings as errors. A docstring in ``src/evaluation`` that
docutils or numpydoc cannot parse cleanly is the package's to fix, not the site's; until it is fixed
it is listed in ``KNOWN_DOCSTRING_WARNINGS`` (``conf.py``) as ``(object, message start)``, where
``object`` is the dotted name in the warning's location (``docstring of evaluation.x.y``).

Rules, so that the list can only shrink:

* only warnings whose location is a docstring of ``evaluation.*`` can be held back, and only when
  they match an entry; every other warning goes through and fails the build;
* a held-back warning is still printed (stderr, ``known docstring warning (held back ...)``);
* an entry that no longer matches anything is reported at the end of a build that read the whole API
  reference (printed, not a failure) so that it can be deleted from ``conf.py``;
* ``DOCS_STRICT=1 make docs`` holds nothing back.
"""

from __future__ import annotations

import logging
import os
import re
import sys

from sphinx.util import logging as sphinx_logging

_LOCATION = re.compile(r"docstring of (evaluation(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


class KnownWarnings(logging.Filter):
    """Drops (and records) warnings that match an entry of the known list."""

    def __init__(self, known):
        super().__init__()
        self.known = [(obj, msg) for obj, msg in known]
        self.seen: dict[tuple[str, str], int] = dict.fromkeys(self.known, 0)
        self.held: list[str] = []

    def match(self, record) -> tuple[str, str] | None:
        """The entry of the known list that ``record`` matches, or ``None``."""
        if record.levelno < logging.WARNING:
            return None
        location = getattr(record, "location", "") or ""
        if not isinstance(location, str):
            location = str(sphinx_logging.get_node_location(location) or "") if hasattr(location, "source") else str(location)
        text = record.getMessage()
        m = _LOCATION.search(location) or _LOCATION.search(text)
        if not m:
            return None
        obj = m.group(1)
        body = text.split("WARNING:")[-1].strip()
        for entry in self.known:
            kobj, kmsg = entry
            if obj == kobj and (body.startswith(kmsg) or kmsg in text):
                return entry
        return None

    def filter(self, record) -> bool:
        """``False`` (hold back) for a known warning, ``True`` for everything else."""
        entry = self.match(record)
        if entry is None:
            return True
        self.seen[entry] += 1
        line = f"{record.location}: {record.getMessage().splitlines()[0]}"
        if line not in self.held:
            self.held.append(line)
        return False


def _install(app, config) -> None:
    known = () if os.environ.get("DOCS_STRICT") == "1" else tuple(config.known_docstring_warnings)
    filt = KnownWarnings(known)
    app._known_warnings = filt
    for handler in logging.getLogger(sphinx_logging.NAMESPACE).handlers:
        if isinstance(handler, sphinx_logging.WarningStreamHandler):
            # before Sphinx's own filters (the one that counts a warning, and fails the build with -W)
            handler.filters.insert(0, filt)


def _reading(app, env, docnames) -> None:
    # whether this build reads every page of the API reference (else "no longer seen" means nothing)
    api = [d for d in env.found_docs if d.startswith("api/")]
    app._known_warnings_full = bool(api) and set(api) <= set(docnames)


def _report(app, exception) -> None:
    # printed, not logged: shown even with -q, and never counted as a warning
    filt = getattr(app, "_known_warnings", None)
    if filt is None:
        return
    for line in filt.held:
        print(f"known docstring warning (held back, see docs/conf.py): {line}", file=sys.stderr)
    stale = [e for e, n in filt.seen.items() if n == 0] if getattr(app, "_known_warnings_full", False) else []
    for obj, msg in stale:
        print(f"known docstring warning no longer seen (delete it from docs/conf.py): {obj}: {msg}", file=sys.stderr)


def setup(app):
    """Sphinx extension: the ``known_docstring_warnings`` setting and its filter."""
    app.add_config_value("known_docstring_warnings", [], "env")
    app.connect("config-inited", _install)
    app.connect("env-before-read-docs", _reading)
    app.connect("build-finished", _report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
