"""Checking a dataset against the data model, reporting every problem at once.

``evaluation validate DIR`` (and :func:`validate`) reads every table of a dataset and reports,
one row per offending cell, ``table, row, column, value, problem, severity``; the report groups
them for reading (:meth:`ValidationReport.grouped`: one line per table, column and problem with the
count and the first file rows). ``row`` is the row number a user sees in the file (header row counted, so the first
data row of a CSV is row 2; Parquet rows count from 1); it is empty for problems of a whole
table or column. Checks:

* structure: the units table (every indicator needs it), required columns of the tables present;
  unknown columns (warning; survey items listed in the codebook are expected). Other tables are
  needed only by the indicators that use them: :mod:`evaluation.assess` says which indicators
  the data can assess;
* cells: type, required, enumeration, minimum/maximum;
* keys: unique columns and primary keys (every repeat after the first is reported);
  foreign keys, including the filter on the referenced rows (a compound's ``community_id``
  must be a unit of type ``community``);
* time: in ``requests``, first response, resolution and closure not before creation, status
  consistent with the time stamps; no date or time after the dataset's ``cutoff``; milestones
  not before the compound was built, ``ended`` not before ``date``, party organisations not
  dissolved before they were established;
* plausibility: issues resolved <= issues raised, hired <= quota (warning), survey weights > 0,
  ``fpc`` (PSUs in the stratum) >= PSUs sampled there, Likert answers within the codebook scale.

Commands validate the tables they use before computing (:func:`require_valid`) and refuse to
publish from data with errors unless the user passes ``--force``. Input files are only read,
never written.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.dataset import schema
from evaluation.dataset.checks import Problems, _check_cutoff, _check_foreign_keys, _check_rules, _check_table
from evaluation.dataset.load import Dataset, load_dataset, parse_cutoff, table_of_file
from evaluation.dataset.privacy import refusal
from evaluation.dataset.read import read_table
from evaluation.errors import EvaluationError, LoadError, OptionError, PersonalDataError, ValidationFailed
from evaluation.results import IndicatorResult, Summary, new_axes

#: tables without which no indicator can be computed
REQUIRED_TABLES = ("units",)
#: at most this many first rows are named on a grouped line
FIRST_ROWS = 5


# --------------------------------------------------------------------------- the report


def _kind(problem: str) -> str:
    """The problem without the values it names, so that the same problem on many rows groups.

    ``'C1' is a 社区 in units`` -> ``'…' is a … in units``.
    """
    s = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", problem)
    s = re.sub(r"(?<=is a )\S+(?= in )", "…", s)
    return re.sub(r"\d[\d,.:\- ]*\d|\d", "#", s)


class ValidationReport(IndicatorResult):
    """Every problem found in a dataset (or one table).

    Attributes
    ----------
    table, problems
        One row per offending cell (or table/column): ``table, row, column, value, problem,
        severity`` with severity ``error`` or ``warning``; ``row`` is the file row.
    path
        What was validated.
    """

    def __init__(self, problems: pd.DataFrame, path: str = "", reading: Iterable[str] = (),
                 personal: Iterable[str] = ()):
        super().__init__(table=problems, title=f"Validation of {path}",
                         method="every table against the data model (types, enumerations, keys, references, "
                                "time order, plausibility)")
        self.path = str(path)
        #: how each file was read (format, encoding, header row, rows), what was mapped, the date orders
        self.reading = list(reading)
        #: the personal-data refusals (``file, row, column: ...``); ``--force`` never overrides these
        self.personal = list(personal)

    @property
    def problems(self) -> pd.DataFrame:
        """The problems, one row per offending cell (the same frame as :attr:`table`)."""
        return self.table

    @property
    def errors(self) -> pd.DataFrame:
        """The problems of severity ``error``."""
        return self.problems[self.problems["severity"] == "error"].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        """The problems of severity ``warning``."""
        return self.problems[self.problems["severity"] == "warning"].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not (self.problems["severity"] == "error").any()

    def first_error(self) -> str:
        """The first error as a sentence (``none`` without errors)."""
        e = self.errors
        return "none" if e.empty else _sentence(e.iloc[0])

    def grouped(self) -> pd.DataFrame:
        """One row per severity, table, column and problem.

        Columns ``count``, ``first_rows`` (file rows), ``example`` (the first problem in full) and
        ``values`` (the first values).
        """
        p = self.problems
        cols = ["severity", "table", "column", "problem", "count", "first_rows", "example", "values"]
        if p.empty:
            return pd.DataFrame(columns=cols)
        g = p.assign(kind=p["problem"].map(_kind), column=p["column"].fillna(""), order=range(len(p)))
        rows = []
        for (sev, table, column, kind), part in g.groupby(["severity", "table", "column", "kind"], sort=False):
            r = part["row"].dropna().astype(int).tolist()
            shown = ", ".join(f"{x:,}" for x in r[:FIRST_ROWS]) + (", ..." if len(r) > FIRST_ROWS else "")
            vals = [v for v in dict.fromkeys(part["value"].dropna().astype(str)) if v][:3]
            same = part["problem"].nunique() == 1  # the same sentence on every row: shown in full
            rows.append({"severity": sev, "table": table, "column": column,
                         "problem": part["problem"].iloc[0] if same else kind, "count": len(part),
                         "first_rows": shown, "example": part["problem"].iloc[0], "values": ", ".join(vals),
                         "_o": part["order"].iloc[0]})
        out = pd.DataFrame(rows).sort_values(["_o"]).drop(columns="_o")
        return out.sort_values("severity", key=lambda s: s.map({"error": 0, "warning": 1}), kind="stable")[cols]

    def text(self, limit: int | None = None) -> str:
        """The grouped problems as lines a person can act on, errors first, then the count."""
        lines = []
        g = self.grouped()
        for k, r in enumerate(g.itertuples(index=False)):
            if limit is not None and k >= limit:
                lines.append(f"... and {len(g) - limit:,} more groups of problems; write them all with --out FILE")
                break
            where = r.table + (f", column {r.column}" if r.column else "")
            rows = (f" ({r.count:,} rows: {r.first_rows})" if r.first_rows and r.count > 1
                    else f" (row {r.first_rows})" if r.first_rows else "")
            text = r.example if r.count == 1 or r.problem == r.example else r.problem.replace("'…'", "…")
            if r.values and not all(v.strip() in text for v in r.values.split(", ")):
                text += f" (value{'s' if r.count > 1 else ''} {r.values}{', ...' if r.count > 3 else ''})"
            lines.append(f"{r.severity}: {where}{rows}: {text}")
        status = "OK" if self.ok else "FAILED"
        lines.append(f"{status}: {len(self.errors):,} errors, {len(self.warnings):,} warnings in {self.path}")
        return "\n".join(lines)

    def summary(self) -> Summary:
        """Counts of errors and warnings, then the grouped problems."""
        head = f"Validation of {self.path}: {len(self.errors):,} errors, {len(self.warnings):,} warnings"
        if self.problems.empty:
            return Summary(head + "; no problems found.")
        g = self.grouped()[["severity", "table", "column", "problem", "count", "first_rows"]]
        return Summary(head, table=g)

    def plot(self, *, ax=None):
        """Problems by table, errors and warnings stacked; returns the Axes."""
        counts = self.problems.groupby(["table", "severity"]).size().unstack(fill_value=0)
        ax = new_axes(ax, (6, 0.4 * max(len(counts), 1) + 1.2))
        left = np.zeros(len(counts))
        for sev, colour in (("error", "#D55E00"), ("warning", "#E69F00")):
            if sev in counts:
                ax.barh(counts.index, counts[sev], left=left, color=colour, label=sev)
                left = left + counts[sev].to_numpy()
        ax.set_xlabel("cells with a problem")
        ax.legend(fontsize="small")
        return ax

    def _repr_html_(self) -> str:
        status = "no errors" if self.ok else f"{len(self.errors):,} errors"
        head = f"<p><b>Validation of {html.escape(self.path)}</b>: {status}, {len(self.warnings):,} warnings</p>"
        return head + self.grouped().drop(columns="example").to_html(index=False, na_rep="")

    def __repr__(self) -> str:
        return f"<ValidationReport {self.path}: {len(self.errors)} errors, {len(self.warnings)} warnings>"


def _sentence(p: pd.Series) -> str:
    where = f"{p['table']}" + (f" row {int(p['row'])}" if pd.notna(p["row"]) else "")
    col = f" column {p['column']}" if isinstance(p["column"], str) and p["column"] else ""
    return f"{where}{col}: {p['problem']}"


# --------------------------------------------------------------------------- entry points


def _raw(ds: Dataset, name: str, out: Problems, personal: list[str]) -> pd.DataFrame | None:
    """The table to check; its personal columns (with ``pii="refuse"``) are reported and left out."""
    try:
        raw, found = ds.raw_for_checking(name)
    except PersonalDataError as exc:
        out.add(name, getattr(exc, "row", None), exc.column, None, str(exc))
        personal.append(str(exc))
        return None
    except (LoadError, OSError, EvaluationError) as exc:
        out.add(name, None, None, None, str(exc))
        return None
    source = raw.attrs.get("source", name)
    for f in found:
        err = refusal(f, source, name)
        out.add(name, f.row, f.column, None, f"{source}: {err.message}; {err.hint}")
        personal.append(str(err))
    if found:
        raw.attrs["personal_columns"] = [f.column for f in found]
    return raw


def _with_references(tables: Iterable[str]) -> list[str]:
    """``tables`` and every table they refer to by a foreign key (recursively), in dependency order."""
    todo, seen = list(tables), set()
    while todo:
        t = todo.pop()
        if t in seen or t not in schema.TABLES:
            continue
        seen.add(t)
        todo += [fk.reference_table for fk in schema.TABLES[t].foreign_keys]
        if t == "survey":
            todo.append("survey_codebook")
    return [t for t in schema.TABLE_ORDER if t in seen]


def validate(ds: Dataset, tables: Iterable[str] | None = None) -> ValidationReport:
    """Validate the tables of a dataset (all of them, or ``tables`` and those they refer to).

    Parameters
    ----------
    ds
        A dataset (:func:`~evaluation.dataset.load.load_dataset`); its tables are read (once) if
        they were not yet.
    tables
        Restrict the check to these tables (what a command needs) and the tables they reference.

    Returns
    -------
    ValidationReport
        Every problem found; nothing is written and no input is modified.
    """
    out = Problems()
    personal: list[str] = []
    names = _with_references(tables) if tables is not None else list(schema.TABLE_ORDER)
    if ds.cutoff is None:
        out.add("datapackage", None, "cutoff", None,
                "no data cut-off given: dates after the extraction time cannot be checked; declare it in "
                "datapackage.json (evaluation init) or give --cutoff", "warning")
    for w in ds.warnings:
        out.add("datapackage", None, None, None, w, "warning")
    for name, text in ds.conflicts.items():
        if name in names:
            out.add(name, None, None, None, text)
    for name, path in ds.missing_files.items():
        if name in names:
            out.add(name, None, None, None, f"{path.name}: the file named in datapackage.json is missing")
    for name in REQUIRED_TABLES:
        if name in names and name not in ds and name not in ds.missing_files and name not in ds.conflicts:
            out.add(name, None, None, None, f"the {name} table is missing; every indicator needs it (template: "
                                            f"data/templates/{name}.xlsx)", "error")
    if tables is None:
        for name in ds:
            if name not in schema.TABLES:
                out.add(name, None, None, None, "unknown table; it is ignored", "warning")
    checked = {}
    reading = []
    for name in names:
        if name not in ds:
            continue
        raw = _raw(ds, name, out, personal)
        if raw is None:
            continue
        items = []
        if name == "survey" and "survey_codebook" in ds:
            cb = _raw(ds, "survey_codebook", Problems(), [])
            items = [str(x).strip() for x in cb["item"].dropna()] if cb is not None and "item" in cb else []
        checked[name] = _check_table(raw, name, ds.timezone, items, out, ds.date_order, ds.value_aliases)
        if not raw.attrs.get("personal_columns"):
            ds.adopt(name, checked[name].typed)  # typed once: the computation reuses it
        reading.append(_reading(ds, name, checked[name].typed))
    _check_foreign_keys(checked, out)
    _check_rules(checked, out)
    if ds.cutoff is not None:
        given = ds.cutoff_source.startswith("given")
        extraction = None
        if given and ds.meta.get("cutoff"):
            extraction = parse_cutoff(ds.meta["cutoff"], ds.timezone, str(ds.path / "datapackage.json"))
        _check_cutoff(checked, ds.cutoff, out, given=given, extraction=extraction)
    return ValidationReport(out.frame(), str(ds.path), reading=reading, personal=personal)


def _reading(ds: Dataset, name: str, typed: pd.DataFrame) -> str:
    """How a table was read, with what typing mapped and the date order of each column that needed one."""
    line = f"{name}: {ds.reading(name) or 'given as a table'}"
    by_column: dict[str, list[str]] = {}
    for m in typed.attrs.get("value_mappings", ()):  # "requests.rating: 满意 → satisfied (233)"
        column, _, text = m.partition(": ")
        by_column.setdefault(column, []).append(text)
    extra = [f"{column}: {', '.join(texts)}" for column, texts in by_column.items()]
    extra += [f"{name}.{col}: {text}" for col, text in typed.attrs.get("date_orders", {}).items()]
    absent = [c for c in typed.attrs.get("absent_columns", ()) if not schema.table_schema(name).field(c).required]
    if absent:
        extra.append(f"optional columns not in the file (not recorded): {', '.join(absent)}")
    return "\n".join([line] + [f"    {e}" for e in extra])


def validate_dataset(path, **options) -> ValidationReport:
    """Validate every table of a dataset folder and the references between them.

    ``options`` are those of :func:`~evaluation.dataset.load.load_dataset` (``cutoff``,
    ``timezone``, ``pii``, ``salt``). A folder that cannot be opened gives a report with that problem.
    """
    try:
        ds = load_dataset(path, **options)
    except EvaluationError as exc:
        out = Problems()
        out.add("datapackage", None, None, None, str(exc))
        return ValidationReport(out.frame(), str(path))
    return validate(ds)


def validate_table(data, table: str, timezone: str = schema.DEFAULT_TZ, cutoff=None,
                   date_order: str | None = None) -> ValidationReport:
    """Validate one table on its own (no references to other tables except itself).

    Parameters
    ----------
    data
        A raw DataFrame (canonical column names, e.g. from :func:`read_table`) or a file path.
        A DataFrame without ``attrs["row_numbers"]`` has its rows numbered from 1.
    table
        Table name of :data:`evaluation.dataset.schema.TABLES`.
    timezone, cutoff
        Dataset timezone; optional cut-off (ISO 8601 or Timestamp) for the future-date check.
    """
    out = Problems()
    label = str(data) if not isinstance(data, pd.DataFrame) else data.attrs.get("source", table)
    if isinstance(data, pd.DataFrame):
        raw = data
    else:
        try:
            raw = read_table(Path(data), table=table)
        except PersonalDataError as exc:
            out.add(table, None, exc.column, None, str(exc))
            return ValidationReport(out.frame(), label)
        except (LoadError, OSError) as exc:
            out.add(table, None, None, None, str(exc))
            return ValidationReport(out.frame(), label)
    t = _check_table(raw, table, timezone, [], out, date_order)
    tables = {table: t}
    _check_foreign_keys(tables, out)
    _check_rules(tables, out)
    cut = parse_cutoff(cutoff, timezone, "cutoff") if cutoff is not None else None
    if cut is not None:
        _check_cutoff(tables, cut, out)
    return ValidationReport(out.frame(), label)


def require_valid(ds: Dataset, tables: Iterable[str], force: bool = False) -> ValidationReport:
    """Validate the ``tables`` a command needs; stop with the grouped problems unless ``force``.

    Raises
    ------
    ValidationFailed
        When there are errors and ``force`` is false; the message names how many, in which tables,
        the first of them, and how to see them all.
    """
    report = validate(ds, tables)
    if report.personal:  # personal data are never computed on, --force or not
        more = len(report.personal) - 1
        raise ValidationFailed(
            f"{report.personal[0]}" + (f" (and {more} more personal column{'s' if more > 1 else ''})" if more else "")
            + "; nothing was computed (--force does not override personal data)", report)
    if not report.ok and not force:
        e = report.errors
        where = ", ".join(dict.fromkeys(e["table"]))
        raise ValidationFailed(
            f"{ds.path}: the data failed validation ({len(e):,} errors in {where}; first: {report.first_error()}); "
            f"nothing was computed; run `evaluation validate {ds.path}` to see every problem with its file row, "
            "fix them, or pass --force to compute anyway", report)
    return report


def guess_table(path: Path) -> str:
    """The table a single file holds, from its name (``units.csv``, ``居民诉求.xlsx``)."""
    name = table_of_file(Path(path))
    if name is None:
        raise OptionError(f"{Path(path).name}: cannot tell which table this file holds; give --table "
                          f"(one of {', '.join(schema.TABLES)})")
    return name
