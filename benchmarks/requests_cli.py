"""Benchmark of what a user runs: ``evaluation requests FILE --out OUT``, end to end, from a file.

Not a timed test: it prints times, ratios, peak memory and stage times. In one run, for each size
(1, 5, 10 and 20 M requests by default) and each file format (Parquet, CSV), three child
processes run interleaved, ``--repeats`` times each, and the medians are compared:

``cli``
    ``evaluation requests FILE --by community_id --period month --out OUT --timings``: the whole
    indicator table (counts, resolution and response, Kaplan-Meier medians with CIs, SLA shares,
    backlog, ratings, quality flags) by community x month.
``statsmodels``
    What a careful analyst writes by hand: read the four columns the job needs with pandas, drop
    repeated request ids, censor open requests at the latest stamp, then for each community x
    month a ``statsmodels.duration.survfunc.SurvfuncRight``: the median, its log CI and the
    share resolved within 24 h. Far less than the package's table, so this is a lower bound of
    the hand-written work.
``floor``
    The ingestion floor with Polars, the engine the package's id check uses: read the columns
    the job needs, check that request ids are unique, build the community x month group codes
    and the durations. No estimate at all: nothing that reads the file can be faster.

Each child's peak resident memory comes from ``os.wait4``. Start-up (interpreter and imports,
no data) is timed apart for ``cli`` and ``statsmodels``, so that "time beyond start-up" can be
compared as the issue asks. The CLI's own stage times (``--timings``) are printed beside.

The logs are the bundled Zhangwan log replicated to N rows, with string request ids as real logs
have them, stamps jittered by up to an hour (so durations are not all tied), and 0.1 % of ids
repeated (so the duplicate check has something to find). They are written under ``--workdir``
(default: a temporary folder, removed afterwards) and never committed.

Usage::

    python benchmarks/requests_cli.py --quick             # 1 M rows, Parquet only (about a minute)
    python benchmarks/requests_cli.py                     # 1, 5, 10, 20 M rows, Parquet and CSV
    python benchmarks/requests_cli.py --rows 10 --formats parquet --repeats 5
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run  # noqa: E402 - the benchmarks folder is put on the path first

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "zhangwan-synthetic" / "requests.parquet"
#: the CLI, as installed with the package
CLI = [sys.executable, "-m", "evaluation.cli"]

STATSMODELS = r'''
import sys, numpy as np, pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight
path, out = sys.argv[1], sys.argv[2]
cols = ["request_id", "community_id", "created_at", "resolved_at"]
if path.endswith(".csv"):
    df = pd.read_csv(path, usecols=cols, dtype={"request_id": "str", "community_id": "str"})
    for c in ("created_at", "resolved_at"):
        df[c] = pd.to_datetime(df[c], format="ISO8601", utc=True).dt.tz_convert("Asia/Shanghai")
else:
    df = pd.read_parquet(path, columns=cols)
df = df.drop_duplicates("request_id")
cutoff = max(df["created_at"].max(), df["resolved_at"].max())
end = df["resolved_at"].fillna(cutoff)
hours = (end - df["created_at"]).dt.total_seconds().to_numpy() / 3600
event = df["resolved_at"].notna().to_numpy().astype(float)
month = df["created_at"].dt.strftime("%Y-%m")
rows = []
for (community, m), idx in df.groupby([df["community_id"], month], sort=True).indices.items():
    t, e = hours[idx], event[idx]
    ok = t > 0
    t, e = t[ok], e[ok]
    if len(t) < 2 or e.sum() == 0:
        continue
    sf = SurvfuncRight(t, e)
    lo, hi = sf.quantile_ci(0.5, method="log")
    within = sf.surv_times <= 24
    share = 1 - (sf.surv_prob[within][-1] if within.any() else 1.0)
    rows.append((community, m, len(t), sf.quantile(0.5), lo, hi, share))
pd.DataFrame(rows, columns=["community_id", "month", "n", "median_h", "lo", "hi", "within_24h"]).to_csv(out, index=False)
'''

FLOOR = r'''
import sys, polars as pl
path = sys.argv[1]
cols = ["request_id", "community_id", "created_at", "resolved_at", "closed_at", "status"]
if path.endswith(".csv"):
    df = pl.read_csv(path, columns=cols, try_parse_dates=True)
else:
    df = pl.read_parquet(path, columns=cols)
unique = df["request_id"].n_unique() == df.height
local = df["created_at"].dt.convert_time_zone("Asia/Shanghai")
group = df.select(pl.col("community_id").cast(pl.Categorical).to_physical() * 10_000
                  + local.dt.year() * 100 + local.dt.month())
hours = (df["resolved_at"] - df["created_at"]).dt.total_seconds() / 3600
print(unique, group.height, hours.null_count())
'''

STARTUP = {
    "cli": [*CLI, "requests", "--help"],
    "statsmodels": [sys.executable, "-c", "import pandas, statsmodels.duration.survfunc"],
}


def make_log(n: int, seed: int = 2020):
    """The bundled log replicated to ``n`` rows: string ids (0.1 % repeated), stamps jittered."""
    import numpy as np  # noqa: PLC0415 - only in the child that writes the logs (the parent stays small)
    import pandas as pd  # noqa: PLC0415

    src = pd.read_parquet(BUNDLED)
    rng = np.random.default_rng(seed)
    idx = np.tile(np.arange(len(src)), -(-n // len(src)))[:n]
    df = src.iloc[idx].reset_index(drop=True)
    shift = pd.to_timedelta(rng.integers(0, 3600, n), unit="s")
    stretch = pd.to_timedelta(rng.integers(0, 60, n), unit="s")
    for c in ("created_at", "first_response_at", "resolved_at", "closed_at"):
        df[c] = df[c] + shift + (stretch if c != "created_at" else pd.Timedelta(0))
    ids = np.char.add("ZW", np.arange(n).astype("U11"))
    repeat = rng.random(n) < 0.001
    ids[repeat] = ids[rng.integers(0, n, int(repeat.sum()))]
    df["request_id"] = pd.array(ids, dtype="str")
    return df


def write_log(m: float, formats: list[str], folder: Path) -> None:
    """Write the log of ``m`` million rows in each of ``formats`` (in a child process)."""
    df = make_log(int(m * 1_000_000))
    for fmt in formats:
        path = folder / f"log_{m:g}M.{fmt}"
        t0 = time.perf_counter()
        if fmt == "parquet":
            df.to_parquet(path, index=False)
        else:  # stamps as an export writes them: ISO 8601 to the second, with the offset
            import pyarrow as pa  # noqa: PLC0415 - only in the child that writes the logs
            import pyarrow.compute as pc  # noqa: PLC0415
            import pyarrow.csv as pacsv  # noqa: PLC0415

            table = pa.Table.from_pandas(df, preserve_index=False)
            for i, field in enumerate(table.schema):
                if pa.types.is_timestamp(field.type):
                    whole = table.column(i).cast(pa.timestamp("s", tz=field.type.tz))  # %S of ns shows fractions
                    text = pc.strftime(whole, format="%Y-%m-%dT%H:%M:%S%z")
                    table = table.set_column(i, field.name, text)
            pacsv.write_csv(table, path)
        print(f"  wrote {path.name} ({path.stat().st_size / 2**20:,.0f} MiB, {time.perf_counter() - t0:.0f} s)",
              flush=True)


def write_logs(folder: Path, sizes: list[float], formats: list[str]) -> dict[tuple[float, str], Path]:
    """The logs to time, written by child processes where missing.

    The parent never holds a log: Linux carries a parent's peak memory into the peak that
    ``wait4`` reports for a child it starts, so the parent must stay small.
    """
    paths = {}
    for m in sizes:
        missing = [f for f in formats if not (folder / f"log_{m:g}M.{f}").exists()]
        if missing:
            subprocess.run([sys.executable, __file__, "--_write", f"{m:g}", "--formats", ",".join(missing),
                            "--workdir", str(folder)], check=True)
        paths.update({(m, f): folder / f"log_{m:g}M.{f}" for f in formats})
    return paths


def stages(stderr: str) -> dict[str, float]:
    line = next((x for x in stderr.splitlines() if x.startswith("timings:")), "")
    return {k.strip(): float(v) for k, v in re.findall(r"([a-zA-Z\- ]+?) ([0-9.]+) s", line.removeprefix("timings:"))}


def compare_tables(ours: Path, theirs: Path) -> None:
    """Print how the medians (hours) of the two tables agree, on the groups both have (in a child)."""
    import pandas as pd  # noqa: PLC0415 - only in the child that compares

    a = pd.read_csv(ours)
    b = pd.read_csv(theirs)
    a = a[(a["indicator"] == "svc.median_resolution_hours") & (a["level"] == "community")]
    a = pd.DataFrame({"community_id": a["unit_id"], "month": a["period"], "value": a["value"]})
    m = a.merge(b, on=["community_id", "month"]).dropna(subset=["value", "median_h"])
    if m.empty:
        print("no common groups")
        return
    d = (m["value"] - m["median_h"]).abs()
    print(f"medians equal to 1e-6 h in {int((d < 1e-6).sum()):,} of {len(m):,} groups (max difference "
          f"{d.max():.3g} h; the loop censors at the latest created/resolved stamp, the package at the "
          "latest stamp of any kind)")


def agreement(ours: Path, theirs: Path) -> str:
    done = subprocess.run([sys.executable, __file__, "--_compare", str(ours), str(theirs)], check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1,5,10,20", help="sizes in millions of rows, comma-separated (default 1,5,10,20)")
    ap.add_argument("--formats", default="parquet,csv", help="parquet, csv or both (default both)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds per size (default 3)")
    ap.add_argument("--workdir", default=None, help="where the logs are written (default: a temporary folder)")
    ap.add_argument("--quick", action="store_true", help="1 M rows, Parquet, 2 rounds")
    ap.add_argument("--_write", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_compare", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._write:
        return write_log(float(args._write), args.formats.split(","), Path(args.workdir))
    if args._compare:
        return compare_tables(Path(args._compare[0]), Path(args._compare[1]))
    if args.quick:
        args.rows, args.formats, args.repeats = "1", "parquet", 2
    sizes = [float(x) for x in args.rows.split(",")]
    formats = [f.strip() for f in args.formats.split(",")]
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="requests-cli-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scripts = {"statsmodels": work / "statsmodels_loop.py", "floor": work / "floor.py"}
    scripts["statsmodels"].write_text(STATSMODELS, encoding="utf-8")
    scripts["floor"].write_text(FLOOR, encoding="utf-8")
    print(f"governance-evaluation requests, end to end; {os.cpu_count()} cores; logs in {work}")
    try:
        paths = write_logs(work, sizes, formats)
        start = {k: statistics.median(run(cmd)[0] for _ in range(3)) for k, cmd in STARTUP.items()}
        print(f"start-up (median of 3): cli --help {start['cli']:.2f} s; python + pandas + statsmodels "
              f"{start['statsmodels']:.2f} s")
        results = {}
        for (m, fmt), path in paths.items():
            out = {"cli": work / "cli.csv", "statsmodels": work / "sm.csv"}
            cmds = {
                "cli": [*CLI, "requests", str(path), "--by", "community_id", "--period", "month",
                        "--out", str(out["cli"]), "--timings"],
                "statsmodels": [sys.executable, str(scripts["statsmodels"]), str(path), str(out["statsmodels"])],
                "floor": [sys.executable, str(scripts["floor"]), str(path)],
            }
            runs = {k: [] for k in cmds}
            for _ in range(args.repeats):
                for k, cmd in cmds.items():
                    runs[k].append(run(cmd))
            med = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
            rss = {k: max(r[1] for r in v) for k, v in runs.items()}
            st = {name: statistics.median(stages(r[2]).get(name, 0.0) for r in runs["cli"])
                  for name in stages(runs["cli"][0][2])}
            kernel = st.get("grouped pass", 0.0) + st.get("Kaplan-Meier", 0.0)
            beyond = (med["statsmodels"] - start["statsmodels"]) / max(med["cli"] - start["cli"], 1e-9)
            results[(m, fmt)] = med["cli"]
            print(f"\n{m:g} M rows, {fmt} ({path.stat().st_size / 2**20:,.0f} MiB), median of {args.repeats}:")
            for k in cmds:
                print(f"  {k:<12} {med[k]:7.2f} s   peak RSS {rss[k]:7,.0f} MB")
            print(f"  cli / (floor + kernel {kernel:.2f} s)       {med['cli'] / (med['floor'] + kernel):.2f}x  (target <= 1.3)")
            print(f"  statsmodels / cli, beyond start-up      {beyond:.2f}x  (target >= 2)")
            print("  cli stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in st.items()))
            print(f"  agreement: {agreement(out['cli'], out['statsmodels'])}")
        for fmt in formats:
            if (10.0, fmt) in results and (20.0, fmt) in results:
                print(f"\ngrowth {fmt}: 20 M / 10 M = {results[(20.0, fmt)] / results[(10.0, fmt)]:.2f}x (target <= 2.2)")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
