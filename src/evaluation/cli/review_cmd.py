"""``evaluation review``: the annual review, the main job."""

from __future__ import annotations

import sys
from pathlib import Path

from evaluation.cli.options import add_command, add_data_options

#: sections a user may choose with --sections (the first screen, what could not be assessed,
#: methods and provenance are always written); kept here so that --help needs no import
SECTION_CHOICES = ("targets", "requests", "hotline", "organisation", "survey", "index", "impact")  # = report.model.OPTIONAL


def register(sub) -> None:
    p = add_command(sub, "review", "the annual review (the main job)",
                    "Write the annual review of a year: a self-contained HTML report (findings first), an XLSX "
                    "workbook of every table with a README and a data dictionary, the figures, and with --pdf an A4 "
                    "PDF, in English or Chinese. The data are validated first; a review is never written from data "
                    "that failed validation unless --force is given, which the report then states.", run)
    p.add_argument("dir", nargs="?", default="data/zhangwan-synthetic",
                   help="dataset folder (default: the bundled district, data/zhangwan-synthetic)")
    p.add_argument("--year", type=int, required=True, help="the year reviewed")
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="language of the review (default: en)")
    p.add_argument("--level", default="community", choices=["street", "community"],
                   help="level of the breakdown tables (default: community)")
    p.add_argument("--out", default="reports/", metavar="DIR", help="output folder (default: reports/)")
    p.add_argument("--sections", nargs="+", default=None, choices=SECTION_CHOICES, metavar="SECTION",
                   help=f"only these sections ({', '.join(SECTION_CHOICES)}; default: all)")
    p.add_argument("--control-group", default="nevertreated", choices=["nevertreated", "notyettreated"],
                   help="comparison group of the red-property effect: compounds that never adopted it "
                        "(default, as R did) or those that had not yet adopted it")
    p.add_argument("--weights", default="auto", choices=["auto", "calibrated", "design"],
                   help="survey weights: calibrated to the registry's population margins, the design weights, "
                        "or auto (default: calibrated when the data have a population table, as notebook 04)")
    p.add_argument("--k", type=int, default=5, metavar="N",
                   help="smallest number of respondents or requests a published cell may rest on (default: 5)")
    p.add_argument("--draws", type=int, default=199, metavar="N",
                   help="bootstrap draws of the effect estimates' simultaneous bands (default: 199)")
    p.add_argument("--targeted", nargs=2, default=None, metavar=("CATEGORY", "START"),
                   help="a targeted problem (每月一题) for the hotline section: the request category and the date its "
                        "campaign began, e.g. --targeted noise 2021-05-01 (default: none)")
    p.add_argument("--pdf", action="store_true", help="also print an A4 PDF with headless Chromium")
    add_data_options(p)


def run(args) -> int:
    # deferred: papermill, nbconvert and the domain subpackages load only when this command runs
    from evaluation.report.review import run_review

    res = run_review(args.dir, args.year, args.lang, args.level, args.out, k=args.k, draws=args.draws,
                     cutoff=args.cutoff, control_group=args.control_group, weights=args.weights,
                     sections=args.sections, targeted=args.targeted, force=args.force, pdf=args.pdf, pii=args.pii,
                     salt_file=args.salt_file, timezone=args.timezone,
                     date_order=args.date_order, value_aliases=args.value_aliases)
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    for f in res.failures:
        print(f"review: {f.splitlines()[0]}", file=sys.stderr)
    pdf = f", {res.pdf}" if res.pdf else ""
    print(f"wrote {res.html}{pdf} and {res.xlsx} (tables), {len(res.figures)} figure files in "
          f"{Path(args.out) / 'figures'} ({res.seconds:.0f} s)")
    return 0
