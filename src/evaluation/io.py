"""Writing tables: atomic, format chosen by extension, deterministic bytes.

Every output of the package goes through :func:`write_table` (or :func:`atomic_path`), which
writes to a temporary file in the destination folder and renames it into place, so a failed
run never leaves a half-written file behind and never touches an input.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from evaluation.errors import DataError, OptionError

OUTPUT_FORMATS = (".csv", ".parquet", ".xlsx")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


#: a temporary file older than this (seconds) belongs to a run that was killed
STALE_AFTER = 6 * 3600


def remove_stale_parts(target: Path, now: float | None = None) -> list[Path]:
    """Remove the temporary ``.{name}.*.part`` files that a killed run left beside ``target``."""
    now = time.time() if now is None else now
    removed = []
    for p in target.parent.glob(f".{target.name}.*.part"):
        try:
            if now - p.stat().st_mtime > STALE_AFTER:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


def output_path(path: str | os.PathLike[str]) -> Path:
    """Check a command's ``--out`` before any work is done: a supported extension is required."""
    out = Path(path)
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise OptionError(f"{out}: --out must end in .csv, .parquet or .xlsx")
    return out


def _format_of(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in OUTPUT_FORMATS:
        raise DataError(
            f"{path}: cannot write {ext or 'a file without extension'}; use one of {', '.join(OUTPUT_FORMATS)}"
        )
    return ext


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Render datetimes as ISO 8601 with offset, so CSV bytes do not depend on the pandas version."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d{2})(\d{2})$", r"\1:\2", regex=True)
        elif pd.api.types.is_datetime64_dtype(s):
            if (s.dropna().dt.normalize() == s.dropna()).all():
                out[col] = s.dt.strftime("%Y-%m-%d")
            else:
                out[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], sheet_name: str = "data") -> Path:
    r"""Write ``df`` to CSV (UTF-8), Parquet or XLSX by extension, atomically.

    CSV files are written without index, with ``\n`` line endings and ISO 8601 times, so the same
    table always gives the same bytes.
    """
    target = Path(path)
    fmt = _format_of(target)
    with atomic_path(target) as tmp:
        if fmt == ".csv":
            _csv_ready(df).to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
        elif fmt == ".parquet":
            df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
        else:
            write_workbook({sheet_name: df}, tmp)
    return target


#: text that a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``, ``-1``, ``@SUM``)
FORMULA_START = ("=", "+", "-", "@")
#: the fixed time stamp of every workbook part, so that the same tables give the same bytes
FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def _width(value) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # CJK characters take two columns


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | os.PathLike[str], *,
                   formats: Mapping[str, Mapping[str, object]] | None = None) -> Path:
    """Write several tables to one XLSX workbook (one sheet each), atomically, with the same bytes every time.

    Every sheet gets a bold, frozen header row and column widths that fit its text (Chinese
    characters counted double, at most 60). Text that starts with ``=``, ``+``, ``-`` or ``@`` is
    written as text, never as a formula (a unit named ``=HYPERLINK(...)`` stays a name).
    ``formats`` gives Excel number formats by sheet and column: one format for the column
    (``"0.0%"``), or a list with one per row (a column whose rows have different units).
    Times are written without their zone; the workbook's properties and the zip entries carry a
    fixed time stamp.
    """
    from openpyxl import Workbook  # noqa: PLC0415 - deferred: openpyxl loads only when a workbook is written
    from openpyxl.styles import Font  # noqa: PLC0415 - deferred with Workbook above

    target = Path(path)
    formats = formats or {}
    wb = Workbook()
    wb.remove(wb.active)
    fixed = _dt.datetime(*FIXED_TIME)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "governance-evaluation"
    bold = Font(bold=True)
    for name, df in sheets.items():
        ws = wb.create_sheet(str(name)[:31])
        frame = df.reset_index(drop=True)
        cols = [str(c) for c in frame.columns]
        widths = [_width(c) for c in cols]
        ws.append(cols)
        for cell in ws[1]:
            cell.font = bold
        sheet_formats = formats.get(name, {})
        for i, row in enumerate(frame.itertuples(index=False, name=None)):
            values = []
            for v in row:
                if isinstance(v, pd.Timestamp):
                    v = v.tz_localize(None).to_pydatetime() if v.tzinfo is not None else v.to_pydatetime()
                elif v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
                    v = None
                elif hasattr(v, "item") and not isinstance(v, str):
                    v = v.item()
                values.append(v)
            ws.append(values)
            for j, v in enumerate(values):
                cell = ws.cell(row=i + 2, column=j + 1)
                if isinstance(v, str) and v.startswith(FORMULA_START):
                    cell.value = v
                    cell.data_type = "s"  # text, not a formula
                fmt = sheet_formats.get(cols[j])
                if isinstance(fmt, (list, tuple)):
                    fmt = fmt[i] if i < len(fmt) else None
                if fmt and isinstance(v, (int, float)) and not isinstance(v, bool):
                    cell.number_format = fmt
                widths[j] = max(widths[j], _width(v) if not isinstance(v, float) else 10)
        for j, w in enumerate(widths):
            ws.column_dimensions[ws.cell(row=1, column=j + 1).column_letter].width = min(60, w + 2)
        ws.freeze_panes = "A2"
    if not wb.worksheets:
        wb.create_sheet("empty")
    with atomic_path(target) as tmp:
        wb.save(tmp)
        _fix_zip_times(tmp)
    return target


def _fix_zip_times(path: Path) -> None:
    """Rewrite the zip entries of ``path`` with :data:`FIXED_TIME` (openpyxl stamps them with the clock)."""
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" to the clock when it saves
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            z.writestr(fixed, data)
