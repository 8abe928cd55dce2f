"""``evaluation review``: the annual review, the main job."""

from __future__ import annotations

from pathlib import Path

from evaluation.cli.options import add_command, add_data_options


def register(sub) -> None:
    p = add_command(sub, "review", "the annual review (the main job)",
                    "Write the annual review of a year: a self-contained HTML report (findings first), an XLSX "
                    "workbook of every table and the figures, in English or Chinese.", run)
    p.add_argument("dir", nargs="?", default="data/zhangwan-synthetic", help="dataset folder")
    p.add_argument("--year", type=int, required=True, help="the year reviewed")
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="language of the review")
    p.add_argument("--level", default="community", choices=["street", "community"],
                   help="level of the breakdown tables")
    p.add_argument("--out", default="reports/", metavar="DIR", help="output folder")
    add_data_options(p)


def run(args) -> int:
    # deferred: papermill, nbconvert and the domain subpackages load only when this command runs
    from evaluation.report import run_review

    res = run_review(args.dir, args.year, args.lang, args.level, args.out)
    print(f"wrote {res.html} and {res.xlsx} (tables), {len(res.figures)} figure files in "
          f"{Path(args.out) / 'figures'} ({res.seconds:.0f} s)")
    return 0
