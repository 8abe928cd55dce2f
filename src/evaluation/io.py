"""Writing tables: atomic, format chosen by extension, deterministic bytes.

Every output of the package goes through :func:`write_table` (or :func:`atomic_path`), which
writes to a temporary file in the destination folder and renames it into place, so a failed
run never leaves a half-written file behind and never touches an input.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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
    """Write ``df`` to CSV (UTF-8), Parquet or XLSX by extension, atomically.

    CSV files are written without index, with ``\\n`` line endings and ISO 8601 times, so the same
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


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Write several tables to one XLSX workbook (one sheet each), atomically."""
    target = Path(path)
    with atomic_path(target) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            for name, df in sheets.items():
                frame = df.copy()
                for col in frame.columns:
                    if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                        frame[col] = frame[col].dt.tz_localize(None)
                frame.to_excel(xw, sheet_name=str(name)[:31], index=False)
    return target
