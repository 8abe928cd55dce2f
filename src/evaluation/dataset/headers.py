"""Column headers: a user's header cell -> the canonical column name of the data model.

Headers are compared case-, width- and space-insensitively (:func:`normalise_header`) against
the canonical names, the schema's Chinese labels (``Field.label_zh``) and the alias table
``aliases.csv`` beside this module (``工单号`` -> ``request_id``); bilingual headers such as
``受理时间 created_at`` or ``受理时间 (created_at)`` map by either part. The alias table is data:
a new spelling is a new row, never code.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np

from evaluation.dataset import schema
from evaluation.errors import LoadError


def normalise_header(text: object) -> str:
    """Header text compared case-, width- and space-insensitively.

    NFKC folds full-width brackets and letters (``（`` -> ``(``), markers of required columns
    (``*``) are dropped, whitespace collapses, English is lower-cased.
    """
    s = unicodedata.normalize("NFKC", str(text)).replace("*", "").strip().lower()
    return re.sub(r"\s+", " ", s)


def _english_key(s: str) -> str:
    return re.sub(r"[\s\-]+", "_", s.strip())


@functools.lru_cache(maxsize=1)
def _alias_rows() -> tuple[tuple[str, str, str], ...]:
    path = Path(__file__).with_name("aliases.csv")
    with path.open(encoding="utf-8") as fh:
        return tuple(
            (normalise_header(r["alias"]), r["canonical"].strip(), (r["table"] or "").strip())
            for r in csv.DictReader(fh)
        )


@functools.cache
def header_map(table: str | None) -> dict[str, str]:
    """Normalised header -> canonical column name, for ``table`` (or any table when ``None``).

    Sources, later ones never overriding earlier ones: the canonical names, the schema's Chinese
    labels (``Field.label_zh``), then ``aliases.csv`` (table-specific rows before general ones).
    Without a table, a Chinese label shared by several columns maps to the most common one
    (``社区编码`` -> ``community_id``).
    """
    out: dict[str, str] = {}
    tables = [schema.table_schema(table)] if table else list(schema.TABLES.values())
    names = {f.name for t in tables for f in t.fields}
    for n in names:
        out[n] = n
    labels: dict[str, Counter] = {}
    for t in tables:
        for f in t.fields:
            labels.setdefault(normalise_header(f.label_zh), Counter())[f.name] += 1
    for label, counts in labels.items():
        out.setdefault(label, counts.most_common(1)[0][0])
    rows = _alias_rows()
    for alias, canonical, tbl in sorted(rows, key=lambda r: r[2] == ""):
        if canonical not in names:
            continue
        if tbl and table and tbl != table:
            continue
        out.setdefault(alias, canonical)
    return out


def canonical_name(header: object, table: str | None = None) -> str | None:
    r"""Canonical column name for one header cell, or ``None`` when it maps to none.

    Accepts a canonical name in any case with spaces (``Created At``), a Chinese label or alias
    (``受理时间``), and bilingual headers such as ``受理时间 created_at``, ``受理时间\\ncreated_at``
    or ``受理时间 (created_at)``.
    """
    if header is None or (isinstance(header, float) and np.isnan(header)):
        return None
    mapping = header_map(table)
    h = normalise_header(header)
    for key in (h, _english_key(h), h.replace(" ", "")):
        if key in mapping:
            return mapping[key]
    parts = [p for p in re.split(r"[\s()\[\]/|:]+", h) if p]
    # the English part of a bilingual header is the unambiguous one: try it first
    for p in sorted(parts, key=lambda p: not p.isascii()):
        if p in mapping:
            return mapping[p]
    return None


def map_headers(headers: list[object], table: str | None, path: str = "") -> list[str]:
    """Canonical names for a header row; unknown headers are kept (stripped, NFKC) as they are."""
    out: list[str] = []
    seen: dict[str, str] = {}
    for i, h in enumerate(headers):
        name = canonical_name(h, table)
        if name is None:
            raw = "" if h is None else unicodedata.normalize("NFKC", str(h)).strip()
            name = re.sub(r"\s+", " ", raw) or f"column_{i + 1}"
        if name in seen:
            raise LoadError(
                f"{path}: headers {seen[name]!r} and {str(h)!r} both mean column {name!r}; "
                "keep one of them"
            )
        seen[name] = str(h)
        out.append(name)
    return out

