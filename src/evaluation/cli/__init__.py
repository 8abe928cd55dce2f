"""The ``evaluation`` command line (DESIGN.md section 6): the command layer, and nothing else.

Each sub-command is a module of this package with ``register(subparsers)`` (its options, every
one with a help text and its default) and ``run(args) -> int`` (what it does: load, validate,
compute through the domain subpackages, write). The parser is built from those modules without
importing pandas or any domain module, so ``evaluation --help`` starts at once; a command imports
what it needs when it runs.

Errors: a problem the user can fix (:class:`~evaluation.errors.EvaluationError`) is printed as
one sentence on stderr and exits with 1. Anything else is a bug: ``internal error: ...`` and exit 3;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from evaluation.cli import (
    impact_cmd,
    index_cmd,
    indicators_cmd,
    init_cmd,
    requests_cmd,
    review_cmd,
    survey_cmd,
    synth_cmd,
    validate_cmd,
)
from evaluation.errors import EXIT_INTERNAL, EXIT_USER, EvaluationError

#: the sub-commands, in the order ``--help`` lists them
COMMANDS = (synth_cmd, init_cmd, validate_cmd, indicators_cmd, requests_cmd, survey_cmd, index_cmd, impact_cmd,
            review_cmd)
COMMANDS += (__import__("evaluation.cli.hotline_cmd", fromlist=["run"]),)  # hotline analytics (evaluation.hotline)
#: exit code when no command is given
EXIT_NO_COMMAND = 2


def build_parser() -> argparse.ArgumentParser:
    """The ``evaluation`` parser with every sub-command."""
    p = argparse.ArgumentParser(
        prog="evaluation",
        description="Governance-effectiveness indicators from registry, request and survey data.",
        epilog="Run `evaluation COMMAND --help` for the options of a command.",
    )
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    p.add_argument("--version", action="store_true", help="print the package version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from evaluation import __version__  # the package metadata, read only when asked for

        print(__version__)
        return 0
    if not args.command:
        parser.print_help()
        return EXIT_NO_COMMAND
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; no output was written.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `evaluation validate DIR | head`: the reader left, which is fine
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open until exit
        except OSError:
            pass
        return 0
    except EvaluationError as exc:
        if args.debug:
            raise
        print(f"evaluation {args.command}: {exc}", file=sys.stderr)
        return EXIT_USER
    except Exception as exc:  # a bug: say so, and how to see it
        if args.debug:
            raise
        print(f"evaluation {args.command}: internal error: {type(exc).__name__}: {exc}; please report it; "
              "--debug shows the traceback", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
