"""Constants re-exported by a subpackage keep the documentation of the module that defines them.

A subpackage lists its public names in ``__all__`` and imports them from its modules
(``evaluation.requests.FLAG_BITS`` is defined in ``evaluation.requests.quality``). autodoc looks for
the ``#:`` doc comment of a constant in the module it documents, the subpackage, where there is none.
This extension finds it in the defining module and adds the constant's value when it is short
(``conf.py`` sets ``no-value``: a mapping of twenty entries does not belong in a signature line).
"""

from __future__ import annotations

import sys
from functools import cache

from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docstrings import prepare_docstring
from sphinx.util.inspect import object_description

#: values longer than this many characters are not shown
MAX_VALUE = 160


@cache
def _attr_docs(module: str) -> dict[str, list[str]]:
    try:
        analyzer = ModuleAnalyzer.for_module(module)
        return {name: list(lines) for (ns, name), lines in analyzer.find_attr_docs().items() if ns == ""}
    except Exception:
        return {}


def _defining_doc(fullname: str, obj) -> list[str]:
    package, _, name = fullname.rpartition(".")
    for modname in sorted(m for m in list(sys.modules) if m.startswith(package + ".")):
        module = sys.modules.get(modname)
        if module is not None and getattr(module, name, None) is obj and name in _attr_docs(modname):
            return list(_attr_docs(modname)[name])
    return []


def _process(app, what, name, obj, options, lines) -> None:
    if what != "data":
        return
    own = _defining_doc(name, obj)
    inherited = prepare_docstring(type(obj).__doc__ or "")  # a tuple's doc is no doc of the constant
    if own:
        lines[:] = own
    elif [ln.strip() for ln in lines if ln.strip()] == [ln.strip() for ln in inherited if ln.strip()]:
        lines[:] = []
    try:
        value = object_description(obj)
    except Exception:
        return
    if len(value) <= MAX_VALUE and "\n" not in value:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append(f"Value: ``{value}``")


def setup(app):
    """Sphinx extension: doc comments and short values of re-exported constants."""
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
