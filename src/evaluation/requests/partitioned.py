"""Logs too large for memory: a folder (or glob) of Parquet parts, reduced part by part with Dask.

A partitioned log stays on disk: each part (file) is read, flagged and reduced to the small
partial tables of :mod:`evaluation.requests.grouped` in its own task, and the partial tables are
summed. So that the Dask engine gives the same tables as the pandas engine on dirty data, two
things are done across parts, not within each:

* **the cut-off** comes from the Parquet column statistics (the largest stamp of any kind), so no
  part is read for it (the parts are read when the statistics are missing or implausible);
* **repeated request ids** are found across parts by hash partitioning: each part's ids are
  hashed once and the hashes written, by their top bits, to one of :data:`BUCKETS` bucket files
  in a scratch folder; each bucket is then checked on its own (a compiled open-addressing table,
  :func:`evaluation.requests.kernels.repeated_hashes`), the ids of the rows whose hash repeats are
  compared as strings, and every copy after the first (in part order, then row order) is flagged
  ``duplicate_id`` in its part. Memory stays near one bucket, whatever the size of the log.

``scheduler`` runs the tasks on a ``distributed`` cluster: an address (``tcp://host:8786``), or
``"local-cluster"`` for a cluster of this machine's cores. The parts (and the scratch folder,
beside the log by default) must then be readable by every worker.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from evaluation.dataset.load import parse_cutoff
from evaluation.errors import MissingInputError, OptionError
from evaluation.requests.formats import FORMAT_DEFAULTS, TIME_COLUMNS, adapt_native, refuse_unknown_values
from evaluation.requests.quality import FLAG_BITS, flag_requests, id_hashes
from evaluation.requests.readers import LABEL_COLUMNS, read_parquet

#: bucket files of the duplicate pass (more buckets: less memory per bucket, more files)
BUCKETS = 16


@dataclass
class Parts:
    """A partitioned native log: its Parquet files, in order, and what the pass needs of them."""

    files: list[Path]
    read_columns: list[str] | None = None
    #: per file, the rows (0-based, sorted) that repeat an earlier request id
    later_copies: dict[int, np.ndarray] | None = None

    @property
    def names(self) -> list[str]:
        """The column names of the log, from the Arrow schema of its first file (none without files)."""
        return list(pq.ParquetFile(self.files[0]).schema_arrow.names) if self.files else []

    def __len__(self) -> int:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)


def find_parts(path: str | os.PathLike) -> list[Path]:
    """The Parquet parts of a log: a file, a folder (recursively, in name order) or a glob."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if p.lower().endswith((".parquet", ".pq")))
    else:
        p = Path(path)
        if p.is_file():
            files = [p]
        elif p.is_dir():
            files = sorted(q for q in p.rglob("*") if q.suffix.lower() in (".parquet", ".pq") and q.is_file())
        else:
            raise MissingInputError(f"{p}: no such file or folder of Parquet parts")
    if not files:
        raise MissingInputError(f"{path}: no Parquet part (.parquet) found")
    return files


def cutoff_from_statistics(files: list[Path], tz: str) -> pd.Timestamp | None:
    """The latest stamp of any kind from the Parquet column statistics (``None`` when a part has none)."""
    best = None
    upper = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
    for f in files:
        meta = pq.ParquetFile(f).metadata
        names = [meta.schema.column(j).name for j in range(meta.num_columns)]
        for col in TIME_COLUMNS:
            if col not in names:
                continue
            j = names.index(col)
            for g in range(meta.num_row_groups):
                st = meta.row_group(g).column(j).statistics
                if st is None or not st.has_min_max:
                    return None
                m = pd.Timestamp(st.max)
                m = m.tz_localize(tz) if m.tzinfo is None else m
                if m > upper:
                    return None  # an implausible stamp: the parts must be read to leave it out
                best = m if best is None or m > best else best
    return best.tz_convert(tz) if best is not None else None


# --------------------------------------------------------------------------- repeated ids across parts


def _hash_part(k: int, path: Path, scratch: Path, buckets: int) -> int:
    """Write the hashes of part ``k``'s ids, with their row numbers, to the bucket files."""
    ids = read_parquet(path, ["request_id"])["request_id"]
    h = id_hashes(ids)
    rows = np.arange(len(h), dtype=np.uint32)
    b = (h >> np.uint64(64 - int(np.log2(buckets)))).astype(np.int64)
    for j in range(buckets):
        m = b == j
        np.save(scratch / f"b{j:03d}-p{k:06d}-h.npy", h[m])
        np.save(scratch / f"b{j:03d}-p{k:06d}-r.npy", rows[m])
    return len(h)


def _check_bucket(j: int, scratch: Path, n_parts: int) -> list[tuple[int, int]]:
    """Rows (part, row) of bucket ``j`` whose hash occurs more than once across parts."""
    from evaluation.requests import kernels  # noqa: PLC0415 - deferred: numba loads only in the pass

    hs, parts, rows = [], [], []
    for k in range(n_parts):
        h = np.load(scratch / f"b{j:03d}-p{k:06d}-h.npy")
        hs.append(h)
        rows.append(np.load(scratch / f"b{j:03d}-p{k:06d}-r.npy"))
        parts.append(np.full(len(h), k, dtype=np.int64))
    h = np.concatenate(hs)
    cand = np.zeros(len(h), dtype=bool)
    if not len(h) or not kernels.repeated_hashes(h, cand):
        return []
    return list(zip(np.concatenate(parts)[cand].tolist(), np.concatenate(rows)[cand].tolist()))


def find_later_copies(files: list[Path], scratch: str | os.PathLike | None = None, compute=None) -> dict[int, np.ndarray]:
    """Per part, the rows whose request id appeared before (in part order, then row order): exact."""
    import dask  # noqa: PLC0415 - optional: the dask extra, only for --engine dask

    compute = compute or dask.compute
    base = Path(scratch) if scratch is not None else files[0].parent
    folder = Path(tempfile.mkdtemp(prefix=".evaluation-ids-", dir=base))
    try:
        compute(*[dask.delayed(_hash_part)(k, f, folder, BUCKETS) for k, f in enumerate(files)])
        found = compute(*[dask.delayed(_check_bucket)(j, folder, len(files)) for j in range(BUCKETS)])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    candidates = sorted(set(pr for bucket in found for pr in bucket))
    if not candidates:
        return {}
    # the rows whose hash repeats: compare their ids as strings, in log order
    frame = pd.DataFrame(candidates, columns=["part", "row"])
    ids = []
    for k, rows in frame.groupby("part", sort=True)["row"]:
        col = read_parquet(files[int(k)], ["request_id"])["request_id"]
        ids.append(col.iloc[rows.to_numpy()].astype("str").to_numpy())
    frame["id"] = np.concatenate(ids)
    later = frame[frame.duplicated("id", keep="first")]
    return {int(k): np.sort(g.to_numpy(dtype=np.int64)) for k, g in later.groupby("part")["row"]}


# --------------------------------------------------------------------------- reading a part


def read_part(parts: Parts, k: int, cutoff: pd.Timestamp, tz: str) -> pd.DataFrame:
    """Part ``k`` as a flagged native log (duplicates across parts already found)."""
    src = read_parquet(parts.files[k], parts.read_columns, LABEL_COLUMNS)
    std = adapt_native(src, source=parts.files[k].name, timezone=tz)
    refuse_unknown_values(std, src, parts.files[k].name)  # as the single-file reader does
    std = flag_requests(std, cutoff, tz, duplicates=False)
    rows = (parts.later_copies or {}).get(k)
    if rows is not None and len(rows):
        flags = std["quality_flags"].to_numpy(dtype=np.int64).copy()
        flags[rows] |= FLAG_BITS["duplicate_id"]
        std["quality_flags"] = flags
    return std


def native_timezone(timezone: str | None) -> str:
    """The zone of naive stamps in native parts (the format's default unless given)."""
    return timezone or FORMAT_DEFAULTS["native"]["timezone"]


def resolve_cutoff(files: list[Path], cutoff, tz: str) -> tuple[pd.Timestamp, str]:
    """The cut-off: the one given, else the Parquet statistics' latest stamp, else the parts' latest."""
    if cutoff is not None:
        return parse_cutoff(cutoff, tz, "--cutoff"), "given"
    cut = cutoff_from_statistics(files, tz)
    if cut is not None:
        return cut, "latest timestamp in the log (Parquet statistics)"
    best = None
    for f in files:
        src = read_parquet(f, list(TIME_COLUMNS))
        std = adapt_native(src.assign(request_id="", status=""), source=f.name, timezone=tz)
        upper = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
        for col in TIME_COLUMNS:
            s = std[col]
            s = s[(s.dt.year >= 1990) & (s <= upper)]
            if s.notna().any():
                best = s.max() if best is None or s.max() > best else best
    if best is None:
        raise MissingInputError("no valid timestamp in the parts, cannot set a cut-off")
    return best, "latest timestamp in the log"


@contextlib.contextmanager
def scheduler(address: str | None):
    """A ``distributed`` client for ``address`` (``"local-cluster"``: this machine's cores) while the block runs."""
    if address is None:
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster  # noqa: PLC0415 - optional: the distributed extra
    except ImportError:  # pragma: no cover - distributed is in the dask extra
        raise OptionError("--scheduler needs dask.distributed (pip install 'governance-evaluation[dask]')") from None
    if address == "local-cluster":
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise OptionError(f"--scheduler {address}: cannot reach the scheduler ({exc})") from None
    try:
        yield client
    finally:
        client.close()
