"""Checking a dataset against the data model, reporting every problem at once.

``evaluation validate DIR`` (and :func:`validate_dataset`) reads every table of a dataset
folder and reports, one row per offending cell, ``table, row, column, value, problem,
severity``. ``row`` is the row number a user sees in the file (header row counted, so the first
data row of a CSV is row 2; Parquet rows count from 1); it is empty for problems of a whole
table or column. Checks:

* structure: missing required tables and columns; unknown columns (warning; survey items
  listed in the codebook are expected);
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

Input files are only read, never written.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation import schema
from evaluation.dataset import _parse_cutoff, likert_items, table_files, type_table
from evaluation.loaders import LoadError, PersonalDataError, read_table

PROBLEM_COLUMNS = ("table", "row", "column", "value", "problem", "severity")

#: Date columns that may legitimately lie after the cut-off (a posting's planned end): warning.
FUTURE_ALLOWED = {("postings", "end")}

#: At most this many problems are printed by the command line (all are written with --out).
PRINT_LIMIT = 500


# --------------------------------------------------------------------------- the report


@dataclass
class ValidationReport:
    """Every problem found in a dataset (or one table).

    Attributes
    ----------
    problems
        One row per offending cell (or table/column): ``table, row, column, value, problem,
        severity`` with severity ``error`` or ``warning``.
    path
        What was validated.
    """

    problems: pd.DataFrame
    path: str = ""

    @property
    def errors(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == "error"].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == "warning"].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not (self.problems["severity"] == "error").any()

    def first_error(self) -> str:
        e = self.errors
        return "none" if e.empty else _sentence(e.iloc[0])

    def summary(self) -> str:
        """Counts of errors and warnings by table and problem kind."""
        head = f"Validation of {self.path}: {len(self.errors):,} errors, {len(self.warnings):,} warnings"
        if self.problems.empty:
            return head + "; no problems found."
        kind = self.problems["problem"].str.replace(r"[\"'].*$", "", regex=True).str.strip()
        counts = (
            self.problems.assign(kind=kind)
            .groupby(["severity", "table", "column"], dropna=False, sort=True)
            .size()
            .rename("n")
            .reset_index()
        )
        return head + "\n" + counts.to_string(index=False)

    def _repr_html_(self) -> str:
        status = "no errors" if self.ok else f"{len(self.errors):,} errors"
        head = f"<p><b>Validation of {html.escape(self.path)}</b>: {status}, {len(self.warnings):,} warnings</p>"
        return head + self.problems.head(200).to_html(index=False, na_rep="")

    def __repr__(self) -> str:
        return f"<ValidationReport {self.path}: {len(self.errors)} errors, {len(self.warnings)} warnings>"


def _sentence(p: pd.Series) -> str:
    where = f"{p['table']}" + (f" row {int(p['row'])}" if pd.notna(p["row"]) else "")
    col = f" column {p['column']}" if isinstance(p["column"], str) and p["column"] else ""
    return f"{where}{col}: {p['problem']}"


class _Problems:
    """Collects problems as small frames (vectorised) and joins them once."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, table, rows, column, values, problem, severity="error") -> None:
        rows = np.atleast_1d(np.asarray(rows, dtype="float64")) if rows is not None else np.array([np.nan])
        n = len(rows)
        if n == 0:
            return
        vals = values if values is not None else [None] * n
        vals = pd.Series(vals, dtype="object").reset_index(drop=True)
        vals = vals.where(vals.notna(), None).map(lambda v: None if v is None else str(v))
        prob = problem if isinstance(problem, (pd.Series, np.ndarray, list)) else [problem] * n
        self.parts.append(pd.DataFrame({
            "table": table,
            "row": pd.array(rows, dtype="Float64").astype("Int64"),
            "column": column,
            "value": vals.astype("str"),
            "problem": pd.Series(list(prob) if not isinstance(prob, pd.Series) else prob.tolist(), dtype="str"),
            "severity": severity,
        }))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({
                "table": pd.Series(dtype="str"), "row": pd.Series(dtype="Int64"),
                "column": pd.Series(dtype="str"), "value": pd.Series(dtype="str"),
                "problem": pd.Series(dtype="str"), "severity": pd.Series(dtype="str"),
            })
        out = pd.concat(self.parts, ignore_index=True)
        for c in ("table", "column", "value", "problem", "severity"):
            out[c] = out[c].astype("str")
        # in the order a person fixes them: package, then tables in dependency order, by row
        rank = {name: i for i, name in enumerate(("datapackage",) + schema.TABLE_ORDER)}
        key = out["table"].map(rank).fillna(len(rank)).astype("int64")
        out = out.assign(_t=key, _r=out["row"].fillna(0)).sort_values(["_t", "_r"], kind="stable")
        return out[list(PROBLEM_COLUMNS)].reset_index(drop=True)


# --------------------------------------------------------------------------- one table


@dataclass
class _Table:
    name: str
    raw: pd.DataFrame
    typed: pd.DataFrame
    rows: np.ndarray  # file row number of each data row

    def show(self, col: str, mask) -> pd.Series:
        """Raw cell text of ``col`` where ``mask``, for the report."""
        return self.raw[col][np.asarray(mask)] if col in self.raw else self.typed[col][np.asarray(mask)]


def _fmt(values: pd.Series) -> pd.Series:
    """Times and numbers as a person reads them (no 'T', no '+08:00', no '.0')."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        naive = values.dt.tz_localize(None) if isinstance(values.dtype, pd.DatetimeTZDtype) else values
        t = naive.dt.strftime("%Y-%m-%d %H:%M")
        return t.str.replace(" 00:00", "", regex=False)
    return values.astype("str")


def _check_cells(t: _Table, ts: schema.TableSchema, bad: dict[str, np.ndarray], out: _Problems) -> None:
    for f in ts.fields:
        if f.name not in t.raw.columns:
            continue
        raw, typed = t.raw[f.name], t.typed[f.name]
        b = bad.get(f.name)
        if b is not None:
            kind = {"integer": "a whole number", "year": "a year", "number": "a number",
                    "boolean": "true/false (是/否)", "date": "a date (YYYY-MM-DD)",
                    "datetime": "a date-time (YYYY-MM-DD HH:MM[:SS][+08:00])"}[f.type]
            out.add(t.name, t.rows[b], f.name, raw[b], f"not {kind}")
        missing = typed.isna().to_numpy() & (~b if b is not None else True)
        if f.required and missing.any():
            out.add(t.name, t.rows[missing], f.name, None, "required value is missing")
        if f.enum is not None:
            vals = typed.astype("str")
            wrong = (typed.notna() & ~vals.isin(f.enum)).to_numpy()
            if wrong.any():
                allowed = ", ".join(f.enum)
                out.add(t.name, t.rows[wrong], f.name, raw[wrong], f"not one of the allowed values: {allowed}")
        if f.minimum is not None or f.maximum is not None:
            num = typed.astype("float64") if f.type in ("integer", "number", "year") else None
            if num is not None:
                if f.minimum is not None:
                    low = (num < f.minimum).fillna(False).to_numpy()
                    if low.any():
                        out.add(t.name, t.rows[low], f.name, raw[low], f"below the minimum {f.minimum:g}")
                if f.maximum is not None:
                    high = (num > f.maximum).fillna(False).to_numpy()
                    if high.any():
                        out.add(t.name, t.rows[high], f.name, raw[high], f"above the maximum {f.maximum:g}")
    for col, b in bad.items():  # survey items of the codebook: numbers on its scale
        if col not in ts.columns:
            out.add(t.name, t.rows[b], col, t.raw[col][b], "not a number (a survey item of the codebook)")


def _duplicates(t: _Table, cols: list[str], out: _Problems, what: str) -> None:
    if not all(c in t.typed.columns for c in cols):
        return
    keys = t.typed[cols]
    complete = keys.notna().all(axis=1).to_numpy()
    dup = keys.duplicated(keep="first").to_numpy() & complete
    if not dup.any():
        return
    first_pos = keys.reset_index(drop=True).groupby(cols, sort=False, dropna=True).ngroup()
    first_row = pd.Series(t.rows).groupby(first_pos.to_numpy()).transform("first").to_numpy(dtype="int64")
    label = "+".join(cols)
    shown = keys[dup].astype("str").agg(" / ".join, axis=1) if len(cols) > 1 else t.show(cols[0], dup)
    msg = pd.Series(first_row[dup]).map(lambda r: f"duplicate {what}: same as row {r}")
    out.add(t.name, t.rows[dup], label, shown, msg)


def _check_structure(t: _Table, ts: schema.TableSchema, items: list[str], out: _Problems) -> None:
    for f in ts.fields:
        if f.required and f.name not in t.raw.columns:
            out.add(t.name, None, f.name, None, "required column is missing")
    known = set(ts.columns) | (set(items) if ts.open_columns else set())
    for col in t.raw.columns:
        if col not in known:
            hint = "not in the survey codebook" if ts.open_columns else "not a column of this table"
            out.add(t.name, None, str(col), None, f"unknown column ({hint}); it is kept but not checked", "warning")


def _check_table(raw: pd.DataFrame, table: str, tz: str, items: list[str], out: _Problems) -> _Table:
    ts = schema.table_schema(table)
    typed, bad = type_table(raw, table, tz, items if ts.open_columns else None)
    rows = np.asarray(raw.attrs.get("row_numbers", range(1, len(raw) + 1)), dtype="int64")
    t = _Table(table, raw, typed, rows)
    _check_structure(t, ts, items, out)
    _check_cells(t, ts, bad, out)
    unique_cols = [f.name for f in ts.fields if f.unique]
    for c in unique_cols:
        _duplicates(t, [c], out, f"{c}")
    pk = list(ts.primary_key)
    if pk and not (len(pk) == 1 and pk[0] in unique_cols):
        _duplicates(t, pk, out, "primary key " + "+".join(pk))
    return t


# --------------------------------------------------------------------------- across tables


def _check_foreign_keys(tables: dict[str, _Table], out: _Problems) -> None:
    for name, t in tables.items():
        for fk in schema.table_schema(name).foreign_keys:
            ref = tables.get(fk.reference_table)
            if ref is None or not all(c in t.typed for c in fk.fields):
                continue
            if not all(c in ref.typed for c in fk.reference_fields):
                continue
            key_m = _keys(t.typed, fk.fields)
            key_r = _keys(ref.typed, fk.reference_fields)
            present = key_m.notna().to_numpy()
            if not present.any():
                continue
            exists = _isin(key_m, key_r)
            col = "+".join(fk.fields)
            refcols = "+".join(fk.reference_fields)
            missing = present & ~exists
            if missing.any():
                shown = key_m[missing]
                out.add(name, t.rows[missing], col, shown,
                        [f"{v!r} is not a {refcols} in {fk.reference_table}" for v in shown])
            if fk.reference_filter is None or fk.reference_filter[0] not in ref.typed:
                continue
            fcol, allowed = fk.reference_filter
            kind = ref.typed[fcol]
            ok_keys = key_r[kind.isin(allowed).to_numpy()]
            wrong = present & exists & ~_isin(key_m, ok_keys)
            if wrong.any():
                lookup = dict(zip(key_r, kind))
                shown = key_m[wrong]
                msg = [f"{v!r} is a {lookup.get(v)} in {fk.reference_table}, not a {' or '.join(allowed)}"
                       for v in shown]
                out.add(name, t.rows[wrong], col, shown, msg)


def _isin(values: pd.Series, reference: pd.Series) -> np.ndarray:
    """``values.isin(reference)`` for text keys through Arrow (pandas' isin is ~10x slower here)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    v = pa.array(values.astype("str").array)
    r = pa.array(reference.dropna().astype("str").array)
    return np.asarray(pc.fill_null(pc.is_in(v, value_set=r), False), dtype=bool)


def _keys(frame: pd.DataFrame, cols) -> pd.Series:
    """One text key per row (columns joined by ``|``), missing if any part is missing."""
    if len(cols) == 1:
        return frame[cols[0]].astype("str").reset_index(drop=True)
    parts = frame[list(cols)]
    joined = parts.astype("str").agg("|".join, axis=1)
    return joined.where(parts.notna().all(axis=1), None).reset_index(drop=True)


def _before(t: _Table, later: str, earlier: str, out: _Problems, severity="error", other: _Table | None = None,
            earlier_values: pd.Series | None = None, what: str | None = None) -> None:
    """Report rows of ``t`` where ``later`` is before ``earlier`` (both present)."""
    if later not in t.typed:
        return
    a = t.typed[later]
    b = earlier_values if earlier_values is not None else (t.typed[earlier] if earlier in t.typed else None)
    if b is None:
        return
    wrong = (a < b).fillna(False).to_numpy(dtype=bool)
    if not wrong.any():
        return
    la, lb = _fmt(a[wrong]), _fmt(b[wrong])
    desc = what or earlier
    msg = [f"{later} {x} is before {desc} {y}" for x, y in zip(la, lb)]
    out.add(t.name, t.rows[wrong], later, t.show(later, wrong), msg, severity)


def _check_requests(t: _Table, out: _Problems) -> None:
    d = t.typed
    for col in ("first_response_at", "resolved_at", "closed_at"):
        _before(t, col, "created_at", out)
    _before(t, "closed_at", "resolved_at", out, severity="warning")
    if "status" not in d:
        return
    status = d["status"]
    for st, col in (("resolved", "resolved_at"), ("closed", "closed_at")):
        if col in d:
            wrong = ((status == st) & d[col].isna()).fillna(False).to_numpy(dtype=bool)
            out.add(t.name, t.rows[wrong], col, None, f"status is {st} but {col} is empty")
    if "closed_at" in d:
        wrong = ((status == "open") & d["closed_at"].notna()).fillna(False).to_numpy(dtype=bool)
        out.add(t.name, t.rows[wrong], "closed_at", t.show("closed_at", wrong),
                "status is open but closed_at is filled", "warning")


def _check_cutoff(tables: dict[str, _Table], cutoff: pd.Timestamp, out: _Problems) -> None:
    cut_date = cutoff.tz_localize(None).normalize()
    shown_cut = cutoff.strftime("%Y-%m-%d %H:%M %z")
    for name, t in tables.items():
        for f in schema.table_schema(name).fields:
            if f.type not in ("date", "datetime") or f.name not in t.typed:
                continue
            s = t.typed[f.name]
            late = (s > (cutoff if f.type == "datetime" else cut_date)).fillna(False).to_numpy(dtype=bool)
            if late.any():
                sev = "warning" if (name, f.name) in FUTURE_ALLOWED else "error"
                out.add(name, t.rows[late], f.name, t.show(f.name, late),
                        f"after the data cut-off {shown_cut}", sev)


def _lookup(t: _Table, key: str, ref: _Table | None, ref_key: str, value: str) -> pd.Series | None:
    if ref is None or key not in t.typed or ref_key not in ref.typed or value not in ref.typed:
        return None
    m = ref.typed[[ref_key, value]].dropna(subset=[ref_key]).drop_duplicates(ref_key).set_index(ref_key)[value]
    return t.typed[key].map(m)


def _check_rules(tables: dict[str, _Table], out: _Problems) -> None:
    if "requests" in tables:
        _check_requests(tables["requests"], out)
    ms = tables.get("compound_milestones")
    if ms is not None:
        built = _lookup(ms, "compound_id", tables.get("compounds"), "compound_id", "built")
        if built is not None:
            _before(ms, "date", "built", out, earlier_values=built, what="the compound's built date")
        _before(ms, "ended", "date", out)
    po = tables.get("party_orgs")
    if po is not None:
        _before(po, "dissolved", "established", out)
    pst = tables.get("postings")
    if pst is not None:
        _before(pst, "end", "start", out)
    mt = tables.get("meetings")
    if mt is not None and {"issues_raised", "issues_resolved"} <= set(mt.typed):
        wrong = (mt.typed["issues_resolved"] > mt.typed["issues_raised"]).fillna(False).to_numpy(dtype=bool)
        msg = [f"more issues resolved ({a}) than raised ({b})"
               for a, b in zip(mt.typed["issues_resolved"][wrong], mt.typed["issues_raised"][wrong])]
        out.add("meetings", mt.rows[wrong], "issues_resolved", mt.show("issues_resolved", wrong), msg)
    sf = tables.get("staffing")
    if sf is not None and {"hired", "quota"} <= set(sf.typed):
        wrong = (sf.typed["hired"] > sf.typed["quota"]).fillna(False).to_numpy(dtype=bool)
        msg = [f"hired ({a}) exceeds the quota ({b})" for a, b in zip(sf.typed["hired"][wrong], sf.typed["quota"][wrong])]
        out.add("staffing", sf.rows[wrong], "hired", sf.show("hired", wrong), msg, "warning")
    sv = tables.get("survey")
    if sv is not None:
        _check_survey(sv, tables.get("survey_codebook"), out)


def _check_survey(sv: _Table, cb: _Table | None, out: _Problems) -> None:
    d = sv.typed
    if "weight" in d:
        wrong = (d["weight"] <= 0).fillna(False).to_numpy(dtype=bool)
        out.add("survey", sv.rows[wrong], "weight", sv.show("weight", wrong), "weight must be greater than 0")
    if {"fpc", "stratum", "psu"} <= set(d):
        by = ["wave", "stratum"] if "wave" in d else ["stratum"]
        sampled = d.groupby(by, dropna=False, sort=False)["psu"].transform("nunique")
        wrong = (d["fpc"] < sampled).fillna(False).to_numpy(dtype=bool)
        msg = [f"fpc {f:g} is smaller than the {n} PSUs sampled in stratum {s}"
               for f, n, s in zip(d["fpc"][wrong], sampled[wrong], d["stratum"][wrong])]
        out.add("survey", sv.rows[wrong], "fpc", sv.show("fpc", wrong), msg)
    if cb is None or not {"item", "scale_min", "scale_max"} <= set(cb.typed):
        return
    for item, lo, hi in cb.typed[["item", "scale_min", "scale_max"]].itertuples(index=False):
        if not isinstance(item, str):
            continue
        if item not in d:
            out.add("survey", None, item, None, "item listed in the codebook has no column in survey", "warning")
            continue
        x = d[item].astype("float64")
        wrong = (((x < lo) if pd.notna(lo) else False) | ((x > hi) if pd.notna(hi) else False))
        wrong = pd.Series(wrong, index=d.index).fillna(False).to_numpy(dtype=bool)
        out.add("survey", sv.rows[wrong], item, sv.show(item, wrong), f"outside the codebook scale {lo}-{hi}")


# --------------------------------------------------------------------------- entry points


def _read(path: Path, table: str, out: _Problems) -> pd.DataFrame | None:
    try:
        return read_table(path, table=table)
    except PersonalDataError as exc:
        out.add(table, None, exc.column, None, str(exc))
    except (LoadError, OSError) as exc:
        out.add(table, None, None, None, str(exc))
    return None


def validate_dataset(path) -> ValidationReport:
    """Validate every table of a dataset folder and the references between them.

    Parameters
    ----------
    path
        Dataset folder (``datapackage.json`` with ``cutoff`` and ``timezone``, or files named
        after tables).

    Returns
    -------
    ValidationReport
        Every problem found; nothing is written and no input is modified.
    """
    root = Path(path)
    out = _Problems()
    try:
        files, meta = table_files(root)
    except (ValueError, FileNotFoundError) as exc:
        out.add("datapackage", None, None, None, str(exc))
        return ValidationReport(out.frame(), str(root))
    tz = str(meta.get("timezone") or schema.DEFAULT_TZ)
    try:
        cutoff = _parse_cutoff(meta.get("cutoff"), tz, "datapackage.json")
    except ValueError as exc:
        out.add("datapackage", None, "cutoff", str(meta.get("cutoff")), str(exc))
        cutoff = None
    if cutoff is None:
        out.add("datapackage", None, "cutoff", None,
                "no data cut-off given: dates after the extraction time cannot be checked", "warning")
    for name, ts in schema.TABLES.items():
        if ts.required_table and name not in files:
            out.add(name, None, None, None, "required table is missing", "error")
    for name in files:
        if name not in schema.TABLES:
            out.add(name, None, None, None, "unknown table; it is ignored", "warning")
    raws: dict[str, pd.DataFrame] = {}
    for name in schema.TABLE_ORDER:
        if name in files:
            if not files[name].is_file():
                out.add(name, None, None, None, f"{files[name].name}: file named in datapackage.json is missing")
                continue
            raw = _read(files[name], name, out)
            if raw is not None:
                raws[name] = raw
    items = likert_items(raws.get("survey_codebook"))
    tables = {name: _check_table(raw, name, tz, items, out) for name, raw in raws.items()}
    _check_foreign_keys(tables, out)
    _check_rules(tables, out)
    if cutoff is not None:
        _check_cutoff(tables, cutoff, out)
    return ValidationReport(out.frame(), str(root))


def validate_table(data, table: str, timezone: str = schema.DEFAULT_TZ, cutoff=None) -> ValidationReport:
    """Validate one table on its own (no references to other tables except itself).

    Parameters
    ----------
    data
        A raw DataFrame (canonical column names, e.g. from :func:`read_table`) or a file path.
        A DataFrame without ``attrs["row_numbers"]`` has its rows numbered from 1.
    table
        Table name of :data:`evaluation.schema.TABLES`.
    timezone, cutoff
        Dataset timezone; optional cut-off (ISO 8601 or Timestamp) for the future-date check.
    """
    out = _Problems()
    label = str(data) if not isinstance(data, pd.DataFrame) else data.attrs.get("source", table)
    if isinstance(data, pd.DataFrame):
        raw = data
    else:
        raw = _read(Path(data), table, out)
        if raw is None:
            return ValidationReport(out.frame(), label)
    t = _check_table(raw, table, timezone, [], out)
    tables = {table: t}
    _check_foreign_keys(tables, out)
    _check_rules(tables, out)
    cut = _parse_cutoff(cutoff, timezone, "cutoff") if cutoff is not None else None
    if cut is not None:
        _check_cutoff(tables, cut, out)
    return ValidationReport(out.frame(), label)


def _guess_table(path: Path) -> str:
    stem = path.stem
    if stem in schema.TABLES:
        return stem
    by_title = {t.title_zh: t.name for t in schema.TABLES.values()}
    if stem in by_title:
        return by_title[stem]
    raise ValueError(f"{path.name}: cannot tell which table this file holds; give --table (one of {', '.join(schema.TABLES)})")


def run_cli(args) -> int:
    """``evaluation validate DIR [--table T] [--out FILE]``: print every problem; 1 on errors."""
    target = Path(args.dir)
    if not target.exists():
        raise FileNotFoundError(f"{target}: no such file or folder")
    if target.is_dir():
        report = validate_dataset(target)
    else:
        report = validate_table(target, args.table or _guess_table(target))
    problems = report.problems
    if getattr(args, "out", None):
        from evaluation.io import write_table

        write_table(problems, args.out)
    if not problems.empty:
        shown = problems.head(PRINT_LIMIT).astype(object).where(problems.head(PRINT_LIMIT).notna(), "")
        print(shown.to_string(index=False))
        if len(problems) > PRINT_LIMIT:
            print(f"... and {len(problems) - PRINT_LIMIT:,} more problems; write them all with --out FILE")
    status = "OK" if report.ok else "FAILED"
    print(f"{status}: {len(report.errors):,} errors, {len(report.warnings):,} warnings in {target}",
          file=sys.stdout)
    return 0 if report.ok else 1
