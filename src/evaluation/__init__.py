"""governance-evaluation: governance-effectiveness indicators from registry, request and survey data.

The package turns the registries, request log and resident survey of a district into tidy
indicator tables with honest uncertainty. See ``README.md`` and the notebooks for the story,
``evaluation --help`` for the command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("governance-evaluation")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
