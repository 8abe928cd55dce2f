"""``evaluation requests``: request-handling indicators from a request log, file to table."""

from __future__ import annotations

import sys
import time

from evaluation.cli.options import add_command, add_out_option, check_out

MAPPING_HELP = """\
A mapping (--format mapping --mapping FILE.yaml) describes any other city's export:

  columns:                  # standard column -> column of the export (request_id and created_at required)
    request_id: case_id
    created_at: opened
    resolved_at: closed
    status: state
    category: type
  time_format: "%m/%d/%Y %H:%M"   # strptime format; omit for ISO 8601
  timezone: America/Chicago      # zone of stamps without an offset
  status_values:                 # standard status -> values of the export
    closed: [Closed, Resolved]
    open: [Open, New]

Built-in formats: native (the requests table of the data model, or a dataset folder), nyc311
(NYC Open Data CSV export or Socrata JSON), boston311, open311 (GeoReport v2 JSON); an example
mapping for Chicago 311 ships as `evaluation requests --format mapping --mapping chicago311`.
"""


def register(sub) -> None:
    p = add_command(sub, "requests", "request-handling indicators from a request log",
                    "Kaplan-Meier times to resolution (open requests censored at the cut-off), the three rates, "
                    "SLA shares, reopen rate and backlog, by any grouping and period, from a request log.\n\n"
                    + MAPPING_HELP, run)
    p.add_argument("file", help="request log: a CSV, XLSX, Parquet or JSON file, a dataset folder, or (with "
                                "--engine dask) a folder or glob of Parquet parts")
    p.add_argument("--format", default="native", choices=["native", "nyc311", "open311", "boston311", "mapping"],
                   help="layout of the log")
    p.add_argument("--mapping", default=None, metavar="YAML",
                   help="column and time mapping for --format mapping (a file, or the name of a built-in one)")
    p.add_argument("--by", nargs="*", default=[], metavar="COL", help="grouping columns (default: none, the whole log)")
    p.add_argument("--period", default="month", choices=["month", "quarter", "year"], help="period of creation")
    p.add_argument("--sla-hours", type=float, nargs="*", default=None, metavar="H",
                   help="service levels for the share resolved within H hours (default: 24 72 168)")
    p.add_argument("--response-sla-hours", type=float, default=None, metavar="H",
                   help="count a response only within H hours of creation (default: any response by the cut-off)")
    p.add_argument("--time", default="calendar", choices=["calendar", "working"],
                   help="durations in calendar time, or in working time (24 h per working day)")
    p.add_argument("--ci-method", default="log", choices=["log", "loglog"],
                   help="pointwise interval behind the quantile and SLA intervals (log: R's default)")
    p.add_argument("--resolution", default=None, metavar="DURATION",
                   help="resolution of the durations, e.g. 1s or 1min (default: that of the stamps)")
    p.add_argument("--cutoff", default=None, metavar="ISO",
                   help="data cut-off, ISO 8601 (local time of the log unless an offset is given); a stamp after it "
                        "has not happened yet (default: declared, else the latest stamp)")
    p.add_argument("--timezone", default=None, metavar="ZONE",
                   help="IANA zone of stamps without an offset (default: that of the format: Asia/Shanghai for "
                        "native, America/New_York for NYC and Boston; Open311 and mappings need one when "
                        "their stamps have no offset)")
    p.add_argument("--engine", default="pandas", choices=["pandas", "dask"], help="engine of the grouped pass")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --engine dask: a distributed scheduler address, or local-cluster")
    p.add_argument("--timings", action="store_true", help="print the seconds each stage took (to stderr)")
    p.add_argument("--pii", default="refuse", choices=["refuse", "hash"],
                   help="what to do with a column that looks like personal identifiers")
    p.add_argument("--salt-file", default=None, metavar="FILE", help="the secret salt for --pii hash")
    p.add_argument("--date-order", default=None, choices=["YMD", "DMY", "MDY"],
                   help="with a dataset folder: order of day and month in dates written like 05/01/2020 "
                        "(default: the dates decide, and a column where they cannot is refused)")
    p.add_argument("--value-aliases", default=None, metavar="YAML",
                   help="with a dataset folder: the district's own spellings of enumerated values")
    p.add_argument("--force", action="store_true",
                   help="with a dataset folder: compute even though validation found errors (every output row "
                        "is then flagged; personal data are refused even then)")
    add_out_option(p)


def run(args) -> int:
    # deferred: pandas, the request pipeline and numba load only when this command runs
    from evaluation.cli.options import salt_of
    from evaluation.errors import OptionError
    from evaluation.io import write_table
    from evaluation.requests import DEFAULT_SLA_HOURS, Engine, RequestSettings, load_requests, request_indicators

    out = check_out(args.out, [args.file])
    for h in args.sla_hours or ():
        if not h > 0:
            raise OptionError(f"--sla-hours must be positive numbers of hours, not {h:g}")
    if args.response_sla_hours is not None and not args.response_sla_hours > 0:
        raise OptionError(f"--response-sla-hours must be a positive number of hours, not {args.response_sla_hours:g}")
    from pathlib import Path

    from evaluation.cli.options import forced, open_dataset

    if Path(args.file).is_dir() and args.format == "native":  # a dataset folder is validated first
        open_dataset(args, ["requests", "units"], folder=args.file)
    log = load_requests(args.file, format=args.format, mapping=args.mapping, engine=args.engine, cutoff=args.cutoff,
                        timezone=args.timezone, pii=args.pii, salt=salt_of(args), keep=args.by)
    sla = tuple(args.sla_hours) if args.sla_hours else DEFAULT_SLA_HOURS
    settings = RequestSettings(time=args.time, ci_method=args.ci_method, response_sla_hours=args.response_sla_hours,
                               resolution_seconds=_resolution(args.resolution))
    res = request_indicators(log, by=args.by, period=args.period, sla_hours=sla, settings=settings,
                             engine=Engine(args.engine, scheduler=args.scheduler))
    t0 = time.perf_counter()
    write_table(forced(args, res.table) if Path(args.file).is_dir() else res.table, out)
    written = time.perf_counter() - t0
    for note in log.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.timings:
        stages = {**log.timings, **(res.timings or {}), "write": written}
        print("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()), file=sys.stderr)
    flagged = res.quality[res.quality["requests"] > 0]
    print(f"{len(log):,} requests; cut-off {log.cutoff} ({log.cutoff_source}); {len(res.table):,} indicator rows "
          f"-> {out}", file=sys.stderr)
    for _, row in flagged.iterrows():
        print(f"  {row['flag']}: {row['requests']} ({row['action']})", file=sys.stderr)
    return 0


def _resolution(text: str | None) -> int | None:
    """``--resolution`` in whole seconds (``None``: the stamps' own)."""
    if text is None:
        return None
    import pandas as pd  # deferred with the rest of the command

    from evaluation.errors import OptionError

    try:
        seconds = pd.Timedelta(text).total_seconds()
    except ValueError:
        raise OptionError(f"--resolution {text!r} is not a duration such as 1s or 1min") from None
    if seconds < 1 or seconds != int(seconds):
        raise OptionError(f"--resolution {text!r}: use a whole number of seconds (1s or more)")
    return int(seconds)
