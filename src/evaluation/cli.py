"""The ``evaluation`` command line (DESIGN.md section 6).

Sub-commands are declared here; each is carried out by a ``run_cli(args)`` function in the
module that computes it, imported only when the sub-command runs so that start-up stays fast.
Errors reach the user as one sentence on stderr naming file, table, row and column, with a
non-zero exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: sub-command -> module whose ``run_cli(args) -> int`` carries it out
HANDLERS = {
    "synth": "evaluation.synth",
    "validate": "evaluation.validate",
    "indicators": "evaluation.indicators",
    "requests": "evaluation.requests",
    "survey": "evaluation.survey",
    "index": "evaluation.composite",
    "impact": "evaluation.impact",
    "review": "evaluation.report",
}

EXIT_ERROR = 1
EXIT_NOT_AVAILABLE = 2


class UserError(Exception):
    """An error caused by the input or the arguments, reported as one sentence (no traceback)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluation",
        description="Governance-effectiveness indicators from registry, request and survey data.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("--version", action="store_true", help="print the package version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("synth", help="generate the synthetic district")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--seed", type=int, default=None, help="random seed (default: the bundled one)")
    s.add_argument("--years", default="2019-2021", help="first-last year, e.g. 2019-2021")
    s.add_argument("--requests-per-year", type=int, default=None, help="about this many requests a year")

    s = sub.add_parser("validate", help="check a dataset folder and report every problem")
    s.add_argument("dir", help="dataset folder (with datapackage.json) or a single table file")
    s.add_argument("--table", default=None, help="table name when DIR is a single file")
    s.add_argument("--out", default=None, help="also write the problems to this file")

    s = sub.add_parser("indicators", help="registry (and other) indicators for a year")
    s.add_argument("dir")
    s.add_argument("--year", type=int, required=True)
    s.add_argument("--level", default="district", choices=["district", "street", "community", "compound"])
    s.add_argument("--out", required=True)

    s = sub.add_parser("requests", help="request-handling indicators from a request log")
    s.add_argument("file", help="request log (native table, NYC 311 CSV, Open311 JSON) or dataset folder")
    s.add_argument("--format", default="native", choices=["native", "nyc311", "open311", "boston311", "mapping"])
    s.add_argument("--mapping", default=None, help="YAML column/time mapping for --format mapping")
    s.add_argument("--by", nargs="*", default=[], help="grouping columns")
    # the same default as request_indicators(period="month")
    s.add_argument("--period", default="month", choices=["month", "quarter", "year"])
    s.add_argument("--sla-hours", type=float, nargs="*", default=None)
    s.add_argument("--engine", default="pandas", choices=["pandas", "dask"])
    s.add_argument("--time", default="calendar", choices=["calendar", "working"],
                   help="measure durations in calendar time or in working time (24 h per working day)")
    s.add_argument("--ci-method", default="log", choices=["log", "loglog"],
                   help="pointwise interval behind the Kaplan-Meier quantile and SLA intervals")
    s.add_argument("--response-sla-hours", type=float, default=None,
                   help="count a response only within this many hours of creation (default: any response by the cut-off)")
    s.add_argument("--cutoff", default=None,
                   help="data cut-off, ISO 8601 (local time of the log unless an offset is given); default: declared or latest stamp")
    s.add_argument("--out", required=True)

    s = sub.add_parser("survey", help="design-based survey estimates")
    s.add_argument("dir")
    s.add_argument("--wave", type=int, required=True)
    s.add_argument("--item", required=True)
    s.add_argument("--by", default=None)
    s.add_argument("--out", required=True)

    s = sub.add_parser("index", help="composite governance index with rank intervals")
    s.add_argument("dir")
    s.add_argument("--year", type=int, required=True)
    s.add_argument("--draws", type=int, default=1000)
    s.add_argument("--out", required=True)

    s = sub.add_parser("impact", help="staggered difference-in-differences of red property")
    s.add_argument("dir")
    s.add_argument("--outcome", required=True)
    s.add_argument("--period", default="quarter", choices=["month", "quarter"])
    s.add_argument("--control-group", default="nevertreated", choices=["nevertreated", "notyettreated"])
    s.add_argument("--est-method", default="reg", choices=["reg", "dr", "ipw"])
    s.add_argument("--cluster", default=None, help="cluster variable (default: the compound)")
    s.add_argument("--out", required=True)

    s = sub.add_parser("review", help="the annual review (the main job)")
    s.add_argument("dir", nargs="?", default="data/zhangwan-synthetic")
    s.add_argument("--year", type=int, required=True)
    s.add_argument("--lang", default="en", choices=["en", "zh"])
    s.add_argument("--level", default="community", choices=["street", "community"])
    s.add_argument("--out", default="reports/")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from evaluation import __version__

        print(__version__)
        return 0
    if not args.command:
        parser.print_help()
        return EXIT_NOT_AVAILABLE
    module_name = HANDLERS[args.command]
    try:
        module = importlib.import_module(module_name)
        run = getattr(module, "run_cli")
    except (ImportError, AttributeError):
        if args.debug:
            raise
        print(f"evaluation {args.command}: not yet available in this version.", file=sys.stderr)
        return EXIT_NOT_AVAILABLE
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; no output was written.", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear sentence, not a traceback
        if args.debug:
            raise
        print(f"evaluation {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
