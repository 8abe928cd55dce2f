"""The checks of validation: cells, keys, references, time and plausibility, each vectorised.

Every check adds problems to a :class:`Problems` collector, one row per offending cell with the
row number a user sees in the file (header and title rows counted), the column, the raw value and
a plain-words problem. :mod:`evaluation.dataset.validate` runs them and groups the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evaluation.dataset import schema
from evaluation.dataset.cells import type_table

PROBLEM_COLUMNS = ("table", "row", "column", "value", "problem", "severity")
#: a survey weight more than this many times the median of its stratum is taken for a typing error
EXTREME_WEIGHT = 50.0

#: Date columns that may legitimately lie after the cut-off (a posting's planned end): warning.
FUTURE_ALLOWED = {("postings", "end")}


class Problems:
    """Collects problems as small frames (vectorised) and joins them once."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, table, rows, column, values, problem, severity="error") -> None:
        """One problem on each of ``rows`` (file rows; ``None`` for the whole table or column)."""
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
        """Every problem, one row each (:data:`PROBLEM_COLUMNS`), in the order a person fixes them."""
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


def _check_cells(t: _Table, ts: schema.TableSchema, bad: dict[str, np.ndarray], out: Problems) -> None:
    for f in ts.fields:
        if f.name not in t.raw.columns:
            continue
        raw, typed = t.raw[f.name], t.typed[f.name]
        b = bad.get(f.name)
        if b is not None:
            kind = {"integer": "a whole number", "year": "a year", "number": "a number",
                    "boolean": "true/false (是/否)", "date": "a date (YYYY-MM-DD)",
                    "datetime": "a date-time (YYYY-MM-DD HH:MM[:SS][+08:00])"}[f.type]
            problem = t.typed.attrs.get("column_problems", {}).get(f.name)
            out.add(t.name, t.rows[b], f.name, raw[b], f"not {kind}" + (f": {problem}" if problem else ""))
        if f.type == "number":
            inf = np.isinf(typed.to_numpy(dtype="float64", na_value=np.nan))
            if inf.any():
                out.add(t.name, t.rows[inf], f.name, raw[inf], "not a finite number")
        missing = typed.isna().to_numpy() & (~b if b is not None else True)
        if f.required and missing.any():
            out.add(t.name, t.rows[missing], f.name, None, "required value is missing")
        if f.enum is not None:
            vals = typed.astype("str")
            wrong = (typed.notna() & ~vals.isin(f.enum)).to_numpy()
            if wrong.any():
                allowed = ", ".join(f.enum)
                out.add(t.name, t.rows[wrong], f.name, raw[wrong], f"not one of the allowed values: {allowed} (nor a spelling of "
                        "them that the value aliases know; add yours to value_aliases.yaml in the folder)")
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


def _duplicates(t: _Table, cols: list[str], out: Problems, what: str) -> None:
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


def _check_structure(t: _Table, ts: schema.TableSchema, items: list[str], out: Problems) -> None:
    for f in ts.fields:
        if f.required and f.name not in t.raw.columns:
            out.add(t.name, None, f.name, None, "required column is missing")
    known = set(ts.columns) | (set(items) if ts.open_columns else set())
    for col in t.raw.columns:
        if col not in known:
            hint = "not in the survey codebook" if ts.open_columns else "not a column of this table"
            out.add(t.name, None, str(col), None, f"unknown column ({hint}); it is kept but not checked", "warning")


def _check_table(raw: pd.DataFrame, table: str, tz: str, items: list[str], out: Problems,
                 date_order: str | None = None, value_aliases=None) -> _Table:
    ts = schema.table_schema(table)
    typed, bad = type_table(raw, table, tz, items if ts.open_columns else None, date_order, value_aliases)
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


def _check_foreign_keys(tables: dict[str, _Table], out: Problems) -> None:
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


def _before(t: _Table, later: str, earlier: str, out: Problems, severity="error", other: _Table | None = None,
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


def _check_requests(t: _Table, out: Problems) -> None:
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


def _check_cutoff(tables: dict[str, _Table], cutoff: pd.Timestamp, out: Problems, *, given: bool = False,
                  extraction: pd.Timestamp | None = None) -> None:
    """Dates after the cut-off.

    After the data's own cut-off (its extraction, declared in datapackage.json) a date is an error:
    it cannot have happened yet. A cut-off *given* by the user (``--cutoff``, a reporting date such
    as 31 December) may be earlier than the extraction: what happened between the two has not
    happened yet at the given cut-off, and the computations censor it there, so it is a warning;
    only dates after the extraction (when it is declared) are errors.
    """
    hard = extraction if given else cutoff  # after it: an error (None: a given cut-off, no declared one)
    for name, t in tables.items():
        for f in schema.table_schema(name).fields:
            if f.type not in ("date", "datetime") or f.name not in t.typed:
                continue
            s = t.typed[f.name]
            wrong = _after(s, hard, f.type)
            if wrong.any():
                sev = "warning" if (name, f.name) in FUTURE_ALLOWED else "error"
                out.add(name, t.rows[wrong], f.name, t.show(f.name, wrong),
                        f"after the data cut-off {hard.strftime('%Y-%m-%d %H:%M %z')}", sev)
            later = _after(s, cutoff, f.type) & ~wrong if given else wrong & False
            if later.any():
                out.add(name, t.rows[later], f.name, t.show(f.name, later),
                        f"after the cut-off {cutoff.strftime('%Y-%m-%d %H:%M %z')} given with --cutoff: not yet "
                        "happened at it, and the computations treat it so", "warning")


def _after(values: pd.Series, moment: pd.Timestamp | None, kind: str) -> np.ndarray:
    """Where ``values`` (dates or times) lie after ``moment`` (none when ``moment`` is None)."""
    if moment is None:
        return np.zeros(len(values), dtype=bool)
    limit = moment if kind == "datetime" else moment.tz_localize(None).normalize()
    return (values > limit).fillna(False).to_numpy(dtype=bool)


def _lookup(t: _Table, key: str, ref: _Table | None, ref_key: str, value: str) -> pd.Series | None:
    if ref is None or key not in t.typed or ref_key not in ref.typed or value not in ref.typed:
        return None
    m = ref.typed[[ref_key, value]].dropna(subset=[ref_key]).drop_duplicates(ref_key).set_index(ref_key)[value]
    # reindex keeps the dtype (a date), also when the referenced table is empty (map would give float)
    return pd.Series(m.reindex(t.typed[key].to_numpy()).to_numpy(), index=t.typed.index, name=value)


def _check_rules(tables: dict[str, _Table], out: Problems) -> None:
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


def _check_survey(sv: _Table, cb: _Table | None, out: Problems) -> None:
    d = sv.typed
    if "weight" in d:
        wrong = (d["weight"] <= 0).fillna(False).to_numpy(dtype=bool)
        out.add("survey", sv.rows[wrong], "weight", sv.show("weight", wrong), "weight must be greater than 0")
        by = [c for c in ("wave", "stratum") if c in d]
        w = d["weight"].astype("float64")
        med = w.groupby([d[c] for c in by], dropna=False).transform("median") if by else pd.Series(w.median(), index=w.index)
        wrong = (w > EXTREME_WEIGHT * med).fillna(False).to_numpy(dtype=bool)
        msg = [f"weight {x:g} is more than {EXTREME_WEIGHT:g} times the median weight ({m:g}) of its stratum: a typing error?"
               for x, m in zip(w[wrong], med[wrong])]
        out.add("survey", sv.rows[wrong], "weight", sv.show("weight", wrong), msg)
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
