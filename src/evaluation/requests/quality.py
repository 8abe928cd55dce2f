"""Data-quality flags of a request log, and what the estimates do with each.

Real logs are messy: repeated ids, a close before the creation, 1900-01-01 placeholders, stamps
after the extraction. Nothing is dropped silently: every request gets a bit mask
``quality_flags`` (:data:`FLAG_BITS`), set by the formats (placeholders, unparseable stamps, keys
repeated inside a JSON record) and by :func:`flag_requests` (everything that needs the whole row
and the cut-off), and a :class:`QualityPolicy` says what each flag does to the estimates: keep the
request, keep it out of the durations, or keep it out of everything (counted in the quality
summary). The request indicators and the impact panels read the same flags through the same
policy, so they agree on dirty data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from evaluation.errors import OptionError
from evaluation.requests.durations import NS_PER_SECOND

NAT = np.iinfo(np.int64).min

#: Quality flags: name -> bit. Set by the formats (placeholder / unparseable) and by
#: :func:`flag_requests` (the rest).
FLAG_BITS = {
    "missing_created": 1 << 0,
    "unparseable_time": 1 << 1,
    "default_1900": 1 << 2,
    "impossible_year": 1 << 3,
    "duplicate_id": 1 << 4,
    "created_after_cutoff": 1 << 5,
    "close_before_create": 1 << 6,
    "zero_duration": 1 << 7,
    "date_only_stamp": 1 << 8,
    "close_on_open": 1 << 9,
    "closed_without_date": 1 << 10,
    "resolved_after_cutoff": 1 << 11,
    "zero_coordinates": 1 << 12,
    "duplicate_key": 1 << 13,
    "conflicting_key": 1 << 14,
    "truncated_time": 1 << 15,
}

#: stamps before this year are placeholders or typos, never requests (1990: before any hotline)
FIRST_PLAUSIBLE_YEAR = 1990
#: stamps from this year on are typos (2099-...), never requests; a stamp after the cut-off but
#: before it is simply one that had not happened yet at the cut-off
LAST_PLAUSIBLE_YEAR = 2100

#: What each flag does to the estimates by default: "keep" (used as is), "exclude_durations"
#: (counted in volume and rates, left out of Kaplan-Meier), "exclude" (left out of everything,
#: counted in the quality summary).
DEFAULT_ACTIONS = {
    "missing_created": "exclude",
    "unparseable_time": "keep",
    "default_1900": "keep",  # the stamp itself is set to missing; the request is kept
    "impossible_year": "exclude",
    "duplicate_id": "exclude",  # later copies only; the first occurrence is kept
    "created_after_cutoff": "exclude",
    "close_before_create": "exclude_durations",
    "zero_duration": "keep",
    "date_only_stamp": "keep",
    "close_on_open": "keep",
    "closed_without_date": "exclude_durations",
    "resolved_after_cutoff": "keep",  # right-censored at the cut-off
    "zero_coordinates": "keep",
    "duplicate_key": "keep",  # the copies agree, or only one has a value: that value is used
    "conflicting_key": "exclude_durations",  # the copies disagree: the field is missing
    "truncated_time": "keep",  # the stamp is missing; the request is kept
}


FLAG_MEANING = {
    "missing_created": "no creation time",
    "unparseable_time": "a time that could not be parsed (treated as missing)",
    "default_1900": "a 1900-01-01 placeholder stamp (treated as missing)",
    "impossible_year": f"a creation or resolution year before {FIRST_PLAUSIBLE_YEAR} or from {LAST_PLAUSIBLE_YEAR} on",
    "duplicate_id": "a repeated request id (later copies)",
    "created_after_cutoff": "created after the cut-off",
    "close_before_create": "resolved before it was created",
    "zero_duration": "resolved at the same second as created",
    "date_only_stamp": "a creation or resolution stamp at exactly 00:00:00 (date only?)",
    "close_on_open": "a close date on a request whose status is open / in progress",
    "closed_without_date": "status resolved/closed but no resolution time",
    "resolved_after_cutoff": "resolved after the cut-off (censored at the cut-off)",
    "zero_coordinates": "latitude or longitude exactly 0",
    "duplicate_key": "a key repeated inside a JSON record (copies agree, or one has a value)",
    "conflicting_key": "a key repeated inside a JSON record with different values (set to missing)",
    "truncated_time": "a truncated stamp such as 2020-03 or 2020-03-05 1 (treated as missing)",
}


@dataclass(frozen=True)
class QualityPolicy:
    """What the estimates do with each data-quality flag (see :data:`DEFAULT_ACTIONS`).

    ``close_on_open``: "status" (default: the status wins, the request is open and censored at
    the cut-off) or "date" (the close date wins, the request counts as resolved then).
    """

    actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    close_on_open: str = "status"

    def with_actions(self, **actions: str) -> QualityPolicy:
        """A copy of the policy with the action of each named flag replaced (``flag=action``).

        An unknown flag, or an action other than ``keep``, ``exclude_durations`` or ``exclude``,
        is an ``OptionError``.
        """
        merged = dict(self.actions)
        for k, v in actions.items():
            if k not in FLAG_BITS:
                raise OptionError(f"unknown quality flag {k!r}; known: {', '.join(FLAG_BITS)}")
            if v not in ("keep", "exclude_durations", "exclude"):
                raise OptionError(f"action for {k!r} must be keep, exclude_durations or exclude, not {v!r}")
            merged[k] = v
        return replace(self, actions=merged)

    def mask(self, action: str) -> int:
        """The bit mask of the flags whose action is ``action``: a request with any of them set gets that action."""
        return sum(FLAG_BITS[k] for k, v in self.actions.items() if v == action)


def decode_flags(bits: pd.Series) -> pd.Series:
    """The names of the flags set in each ``quality_flags`` bit mask, ``;``-joined in :data:`FLAG_BITS` order.

    Returns a text Series on the index of ``bits``; ``""`` for a request without flags.
    """
    b = bits.to_numpy(dtype=np.int64)
    out = np.full(len(b), "", dtype=object)
    for name, bit in FLAG_BITS.items():
        hit = (b & bit) != 0
        if hit.any():
            out[hit] = [f"{o};{name}" if o else name for o in out[hit]]
    return pd.Series(out, index=bits.index, dtype="str")


def _to_ns(s: pd.Series) -> np.ndarray:
    """Times as int64 UTC nanoseconds (missing -> NAT)."""
    if not pd.api.types.is_datetime64_any_dtype(s):
        return np.full(len(s), NAT, dtype=np.int64)
    # a view, not a copy: callers only read it (10 M stamps are 80 MB each)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return (s.array if s.dtype.unit == "ns" else s.dt.as_unit("ns").array).asi8
    return s.to_numpy("datetime64[ns]").view("i8")


def _tz_offset(utc_ns: np.ndarray, tz: str) -> int | None:
    """The UTC offset of ``tz`` in ns if it is the same over the range of ``utc_ns`` (else None).

    Probes 64 instants between the earliest and latest valid value, the ends included: a change
    of offset (daylight saving time) inside the range shows up at a probe.
    """
    valid = utc_ns != NAT
    if not valid.any():
        return 0
    v = utc_ns if valid.all() else utc_ns[valid]
    lo, hi = v.min(), v.max()
    probe = pd.DatetimeIndex(pd.to_datetime(np.linspace(lo, hi, 64).astype(np.int64), utc=True)).tz_convert(tz)
    offsets = np.unique([t.utcoffset().total_seconds() for t in probe])
    return int(offsets[0] * NS_PER_SECOND) if len(offsets) == 1 else None


def _local_ns(utc_ns: np.ndarray, tz: str, offset: int | None = None) -> np.ndarray:
    """UTC int64 ns -> local wall-clock int64 ns (NAT kept); ``offset``: known constant offset."""
    valid = utc_ns != NAT
    if not valid.any():
        return utc_ns
    if offset is None:
        offset = _tz_offset(utc_ns, tz)
    if offset is not None:
        # the offset did not change in the range (e.g. China since 1991): add it
        out = utc_ns + offset
        return out if valid.all() else np.where(valid, out, NAT)
    local = pd.DatetimeIndex(pd.to_datetime(np.where(valid, utc_ns, 0), utc=True)).tz_convert(tz).tz_localize(None)
    return np.where(valid, local.as_unit("ns").asi8, NAT)


def flag_requests(df: pd.DataFrame, cutoff: pd.Timestamp, timezone: str, duplicates: bool = True) -> pd.DataFrame:
    """Add the data-quality flags that depend on the whole row and the cut-off to ``quality_flags``.

    Never drops a row; the :class:`QualityPolicy` decides what each flag does. A stamp after the
    cut-off has not happened yet at the cut-off: a creation after it is ``created_after_cutoff``,
    a resolution after it ``resolved_after_cutoff`` (the request is censored at the cut-off),
    whatever the year. ``duplicates``: flag second and later copies of a ``request_id``
    (:func:`later_copies`: one hash pass).
    """
    from evaluation.requests import kernels  # noqa: PLC0415 - deferred: numba loads only when a log is flagged

    out = df.copy(deep=False)
    flags = out["quality_flags"].to_numpy(dtype=np.int64).copy()
    c = _to_ns(out["created_at"])
    r = _to_ns(out["resolved_at"])
    cl = _to_ns(out["closed_at"]) if "closed_at" in out.columns else np.full(len(out), NAT, np.int64)
    lo = pd.Timestamp(f"{FIRST_PLAUSIBLE_YEAR}-01-01", tz="UTC").value
    hi = pd.Timestamp(f"{LAST_PLAUSIBLE_YEAR}-01-01", tz="UTC").value
    offset = _tz_offset(np.concatenate([_ends(c), _ends(r)]), timezone)
    none = np.zeros(0, np.int64)
    local_c, local_r = (none, none) if offset is not None else (_local_ns(c, timezone), _local_ns(r, timezone))
    codes, kinds = _status_codes(out["status"])
    bits = np.array([FLAG_BITS[name] for name in kernels.ROW_FLAGS], dtype=np.int64)
    kernels.row_flags(flags, c, r, cl, codes, kinds, pd.Timestamp(cutoff).as_unit("ns").value, lo, hi,
                      offset or 0, local_c, local_r, bits)
    if duplicates and "request_id" in out.columns:
        flags[later_copies(out["request_id"])] |= FLAG_BITS["duplicate_id"]
    out["quality_flags"] = flags
    return out


def _ends(ns: np.ndarray) -> np.ndarray:
    """The earliest and latest valid stamp of ``ns`` (none when all are missing)."""
    valid = ns != NAT
    if not valid.any():
        return np.zeros(0, np.int64)
    # NAT is the smallest int64, so the maximum needs no mask; the minimum skips it without a copy
    return np.array([np.min(ns, where=valid, initial=np.iinfo(np.int64).max), ns.max()], np.int64)


def _status_codes(status: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``status`` (-1 missing) and, at ``code + 1``, 1 for an open status, 2 for a closed one."""
    cat = status if isinstance(status.dtype, pd.CategoricalDtype) else status.astype("category")
    cats = [str(v) for v in cat.cat.categories]
    kinds = np.zeros(len(cats) + 1, np.int8)
    for k, v in enumerate(cats):
        kinds[k + 1] = 1 if v in ("open", "in_progress") else 2 if v in ("resolved", "closed") else 0
    return cat.cat.codes.to_numpy(), kinds


def id_hashes(ids) -> np.ndarray:
    """64-bit hashes of request ids; missing ids hash alike.

    The hashes are read from the Arrow buffers of the strings without copying them
    (:func:`evaluation.requests.kernels.string_hashes`).

    ``ids``: a pandas Series (any dtype: non-text ids are hashed as their text) or an Arrow array.
    """
    from evaluation.requests import kernels  # noqa: PLC0415 - deferred: numba loads only when a log is flagged

    if isinstance(ids, pd.Series):
        if isinstance(ids.dtype, pd.CategoricalDtype) or ids.dtype != "str":
            ids = ids.astype("str")
        arr = pa.array(ids.array)
    else:
        arr = ids
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    out = np.empty(len(arr), np.uint64)
    at = 0
    for chunk in chunks:
        n = len(chunk)
        kernels.string_hashes(*kernels.string_buffers(chunk), out[at : at + n])
        at += n
    return out


def later_copies(ids: pd.Series) -> np.ndarray:
    """True for every second and later copy of an id (the first copy is kept), exactly.

    One hash pass: each id is hashed once (:func:`id_hashes`) and the hashes go through an
    open-addressing table in a compiled loop (:func:`evaluation.requests.kernels.repeated_hashes`);
    only the rows whose hash occurs twice (true repeats, and the rare 64-bit collision) are then
    compared as strings, so the answer is exact and a clean log costs one pass.
    """
    from evaluation.requests import kernels  # noqa: PLC0415 - deferred: numba loads only when a log is flagged

    n = len(ids)
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    candidates = np.zeros(n, dtype=bool)
    if not kernels.repeated_hashes(id_hashes(ids), candidates):
        return out
    rows = np.flatnonzero(candidates)
    sub = ids.iloc[rows].astype("str").reset_index(drop=True)
    out[rows[sub.duplicated(keep="first").to_numpy()]] = True
    return out


def _quality_from_counts(counts: pd.DataFrame, excluded: dict, policy: QualityPolicy) -> pd.DataFrame:
    total = int(counts["n"].sum() + excluded.get("excluded", 0))
    rows = []
    for name in FLAG_BITS:
        k = int(counts[f"flag_{name}"].sum()) + int(excluded.get(f"flag_{name}", 0))
        action = policy.actions.get(name, "keep")
        if name == "close_on_open":
            action = "treated as open, censored at the cut-off" if policy.close_on_open == "status" else "treated as resolved at the close date"
        rows.append({"flag": name, "requests": k, "share": k / total if total else np.nan, "meaning": FLAG_MEANING[name], "action": action})
    return pd.DataFrame(rows)
