"""What a dataset can assess: which catalogue indicators its tables support, and which tables a command needs.

Every catalogue entry names what it cannot be computed without (``needs``: tables, and columns as
``table.column``). :func:`assessability` holds a dataset against those needs: an indicator can be
assessed when every table it needs is there and not empty and every column it needs has at least one
value; otherwise it is *not assessed*, with the reason (the table is missing, the table is empty, the
column was not recorded). Nothing that was not recorded is ever scored: the review reports these
indicators as not assessed, never as 0 % or "missed the target".

Commands validate only the tables they use (:func:`tables_for`): ``evaluation requests`` does not
stop because the funding table has a problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from evaluation import catalog
from evaluation.errors import EvaluationError, OptionError

#: assessability reasons (message keys of messages.yaml)
REASONS = ("table_missing", "table_empty", "column_not_recorded", "value_not_recorded", "failed_validation")
#: words of a reason that messages.yaml does not have yet
_REASON_FALLBACK = {"value_not_recorded": {"en": "no {what} is recorded", "zh": "未记录{what}"}}

#: tables each command reads beyond what its indicators need
_COMMAND_TABLES = {
    "indicators": ("units", "compounds", "targets"),
    "index": ("units", "compounds", "targets"),
    "impact": ("units", "compounds", "compound_milestones", "requests", "survey"),
    "review": ("units", "compounds", "targets", "population"),
}


def needed_tables(indicators: Iterable[str]) -> list[str]:
    """The tables the indicators need, in catalogue order of first need."""
    out: dict[str, None] = {}
    for iid in indicators:
        for n in catalog.get(iid).needs:
            out.setdefault(n.partition(".")[0])
    return list(out)


def tables_for(command: str) -> list[str]:
    """The tables a command reads and validates (its indicators' needs and its own)."""
    if command not in _COMMAND_TABLES:
        raise OptionError(f"unknown command {command!r}")
    ids = catalog.ids()
    return list(dict.fromkeys(list(_COMMAND_TABLES[command]) + needed_tables(ids)))


def _has_values(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def missing_need(ds: Mapping[str, pd.DataFrame], need: str) -> tuple[str, str] | None:
    """Why ``need`` is not met by ``ds`` (reason, what), or ``None``.

    A need is a table (``meetings``), a column with at least one value (``meetings.issues_raised``),
    or a value the column must hold at least once (``meetings.meeting_type=big_committee_joint``: a
    meeting type that no row records is not recorded, and a rule about it is not assessed rather
    than scored 0).
    """
    table, _, rest = need.partition(".")
    column, _, value = rest.partition("=")
    if table not in ds:
        return "table_missing", table
    frame = ds[table]
    if len(frame) == 0:
        return "table_empty", table
    if column and not _has_values(frame, column):
        return "column_not_recorded", f"{table}.{column}"
    if value and not frame[column].astype("str").eq(value).any():
        return "value_not_recorded", f"{table}.{column} = {value}"
    return None


def assessability(ds: Mapping[str, pd.DataFrame], indicators: Iterable[str] | None = None,
                  invalid_tables: Iterable[str] = ()) -> pd.DataFrame:
    """For every catalogue indicator: can the dataset assess it, and if not, why.

    Parameters
    ----------
    ds
        A dataset (tables are read as the needs are checked).
    indicators
        Ids to check (default: every catalogued indicator).
    invalid_tables
        Tables that failed validation: their indicators are not assessed (``failed_validation``).

    Returns
    -------
    pandas.DataFrame
        ``indicator``, ``name_en``, ``name_zh``, ``pillar``, ``assessable`` (bool), ``reason`` (one
        of :data:`REASONS`, empty when assessable) and ``detail`` (the table or column concerned).
    """
    invalid = set(invalid_tables)
    rows = []
    for iid in indicators if indicators is not None else catalog.ids():
        e = catalog.get(iid)
        reason, detail = "", ""
        for need in e.needs:
            table = need.partition(".")[0]
            if table in invalid:
                miss = ("failed_validation", table)
            else:
                try:
                    miss = missing_need(ds, need)
                except EvaluationError:  # a file that cannot be read (personal data, encoding): validation says why
                    miss = ("failed_validation", table)
            if miss is not None:
                reason, detail = miss
                break
        rows.append({"indicator": iid, "name_en": e.name_en, "name_zh": e.name_zh, "pillar": e.pillar,
                     "assessable": reason == "", "reason": reason, "detail": detail})
    return pd.DataFrame(rows)


def unrecorded(ds: Mapping[str, pd.DataFrame], indicators: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Indicators whose needs name a value that no row of the dataset records: id -> (reason, what).

    Only the value needs (``table.column=value``) are checked: the providers already leave out an
    indicator whose table or column is missing. A meeting type or milestone that the dataset never
    records is not recorded, and an indicator counting it is not assessed rather than scored 0.
    """
    out = {}
    for iid in indicators:
        try:
            needs = catalog.get(iid).needs
        except KeyError:
            continue
        for need in needs:
            if "=" not in need:
                continue
            miss = missing_need(ds, need)
            if miss is not None:
                out[iid] = miss
                break
    return out


def reason_text(reason: str, detail: str, lang: str = "en") -> str:
    """One phrase saying why an indicator is not assessed ("the duty_roster table is missing")."""
    if not reason:
        return ""
    key = f"not_assessed_{reason}"
    text = catalog.message(key, lang)
    if text == key:
        text = _REASON_FALLBACK.get(reason, {}).get(lang, key)
    return text.format(what=detail)


def assessable_report(ds: Mapping[str, pd.DataFrame], report=None, lang: str = "en") -> str:
    """Plain text: what the dataset can and cannot assess, by pillar, with the reasons."""
    invalid = set(report.errors["table"]) if report is not None and len(report.errors) else set()
    a = assessability(ds, invalid_tables=invalid)
    head = (f"What this dataset can assess: {int(a['assessable'].sum())} of {len(a)} indicators of the catalogue"
            if lang == "en" else f"本数据可评估的指标：目录{len(a)}项中的{int(a['assessable'].sum())}项")
    lines = [head]
    for pillar in catalog.PILLARS:
        part = a[a["pillar"].eq(pillar)]
        if part.empty:
            continue
        lines.append(f"  {catalog.message(pillar, lang)}: {int(part['assessable'].sum())}/{len(part)}")
        for r in part[~part["assessable"]].itertuples(index=False):
            name = r.name_en if lang == "en" else r.name_zh
            lines.append(f"    - {name} ({r.indicator}): {reason_text(r.reason, r.detail, lang)}")
    return "\n".join(lines)


#: dated records that show a year is covered by the data (registry start dates such as a compound's
#: completion or a committee's founding are not: they say nothing about the year's activity)
YEAR_COLUMNS = (("requests", "created_at"), ("duty_roster", "date"), ("meetings", "date"),
                ("compound_milestones", "date"), ("staffing", "year"), ("funding", "year"),
                ("volunteer_hours", "year"), ("survey", "wave"))


def data_years(ds: Mapping[str, pd.DataFrame]) -> tuple[int, int] | None:
    """The first and last year of the dataset's dated activity (:data:`YEAR_COLUMNS`); ``None`` without any."""
    lo, hi = None, None
    for table, column in YEAR_COLUMNS:
        if table not in ds or column not in ds[table].columns:
            continue
        s = ds[table][column].dropna()
        if not len(s):
            continue
        years = s.dt.year if pd.api.types.is_datetime64_any_dtype(s) else pd.to_numeric(s, errors="coerce").dropna()
        if len(years):
            lo = int(years.min()) if lo is None else min(lo, int(years.min()))
            hi = int(years.max()) if hi is None else max(hi, int(years.max()))
    return None if lo is None else (lo, hi)


def check_year(ds, year: int) -> None:
    """Refuse a year outside the data (before every record, or after the cut-off)."""
    cutoff = getattr(ds, "cutoff", None)
    if cutoff is not None and year > cutoff.year:
        raise OptionError(f"--year {year} is after the data cut-off ({cutoff.date()}); choose {cutoff.year} or earlier")
    span = data_years(ds)
    if span is not None and not span[0] <= year <= span[1]:
        raise OptionError(f"--year {year} is outside the years the data cover ({span[0]}-{span[1]})")
