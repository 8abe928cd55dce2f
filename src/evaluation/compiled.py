"""Compiled loops: the one numba configuration of the package, with a cache that always works.

The request pass and the grouped Kaplan-Meier bookkeeping are compiled with numba
(:mod:`evaluation.requests.kernels`, :mod:`evaluation.survival.kernels`). :data:`jit` is the
decorator they share: compiled code is cached on disk (``cache=True``), loops release the GIL
(``nogil``) so that threads run them on every core, and division follows numpy (``inf``/``nan``,
no exception).

numba caches next to the package's source files. When that folder cannot be written (a system-wide
install, a read-only container), the cache moves to the user's cache folder
(``$XDG_CACHE_HOME/governance-evaluation/numba`` or ``~/.cache/...``) instead of failing with
numba's own message; ``NUMBA_CACHE_DIR``, when set, is respected. This module must be imported
before numba, which it imports: the kernels modules do so.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _writable(folder: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".numba-probe-"):
            return True
    except OSError:
        return False


def cache_folder() -> Path | None:
    """Where numba caches: ``None`` (beside the sources) when that folder is writable, else a user folder."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    here = Path(__file__).parent
    if _writable(here / "requests") and _writable(here / "survival"):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "governance-evaluation" / "numba"


_folder = cache_folder()
if _folder is not None and not os.environ.get("NUMBA_CACHE_DIR"):
    _folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(_folder)

from numba import njit  # noqa: E402 - after NUMBA_CACHE_DIR is settled

#: the decorator of every compiled loop (see the module docstring)
jit = njit(cache=True, nogil=True, error_model="numpy")


def on_threads(fn, arguments: list[tuple]) -> list:
    """``fn(*a)`` for each tuple of ``arguments``, on a thread each when there are several.

    The compiled loops release the GIL (``nogil``), as does numpy's sort, so the threads run on
    every core; each call must write to its own part of any shared output.
    """
    if len(arguments) == 1:
        return [fn(*arguments[0])]
    with ThreadPoolExecutor(len(arguments)) as pool:
        return list(pool.map(lambda a: fn(*a), arguments))
