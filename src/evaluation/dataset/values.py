"""Values of enumerated fields: a district's own spellings -> the codes of the data model.

District offices write 社区, 商品房, 已办结, 满意, 热线, 男 where the data model has ``community``,
``commercial``, ``closed``, ``satisfied``, ``hotline``, ``male``. The alias table
``value_aliases.csv`` beside this module (``column, alias, value``) maps them, as data, for every
enumerated field of :mod:`evaluation.dataset.schema`; a dataset folder may add or override spellings
in a ``value_aliases.yaml`` of its own::

    rating:               # a column of the data model (or table.column for one table only)
      很满意: satisfied
      一般: basically_satisfied

Matching ignores case, surrounding spaces and full-width forms (NFKC). A value that is neither a
code nor an alias is left as it is, so that validation reports it: unknown values are errors,
never dropped. :func:`map_values` returns what it mapped (``requests.rating: 满意 → satisfied
(233)``) so that loading can say so.
"""

from __future__ import annotations

import csv
import functools
import os
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from evaluation.dataset import schema
from evaluation.errors import DataError

#: the file a dataset folder may hold with its own spellings
FOLDER_FILE = "value_aliases.yaml"


def _key(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().casefold()


@functools.lru_cache(maxsize=1)
def _builtin() -> tuple[tuple[str, str, str], ...]:
    path = Path(__file__).with_name("value_aliases.csv")
    with path.open(encoding="utf-8") as fh:
        return tuple((r["column"].strip(), r["alias"], r["value"].strip()) for r in csv.DictReader(fh))


def enum_columns(table: str) -> dict[str, tuple[str, ...]]:
    """Enumerated columns of ``table`` and their codes."""
    return {f.name: f.enum for f in schema.table_schema(table).fields if f.enum is not None}


def read_aliases_file(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """A user's alias file (YAML: column or table.column -> {alias: code}), checked against the codes."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read the value aliases ({exc})", file=p.name) from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise DataError("expected column: {alias: code} mappings", file=p.name)
    out: dict[str, dict[str, str]] = {}
    for target, pairs in raw.items():
        table, _, column = str(target).rpartition(".")
        fields = [(t, f) for t in ([table] if table else schema.TABLES) for f in schema.TABLES[t].fields
                  if t in schema.TABLES and f.name == column and f.enum is not None]
        if not fields:
            raise DataError(f"{target!r} is not an enumerated column of the data model", file=p.name)
        for alias, code in pairs.items():
            if any(str(code) not in f.enum for _, f in fields):
                raise DataError(f"{target}: {alias!r} maps to {code!r}, which is not one of "
                                f"{', '.join(fields[0][1].enum)}", file=p.name)
        out[str(target)] = {str(a): str(c) for a, c in pairs.items()}
    return out


@functools.cache
def _lookup_builtin(table: str, column: str) -> tuple[tuple[str, str], ...]:
    codes = enum_columns(table).get(column, ())
    pairs = [(_key(c), c) for c in codes]
    pairs += [(_key(a), v) for col, a, v in _builtin() if col == column and v in codes]
    return tuple(pairs)


def lookup(table: str, column: str, extra: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, str]:
    """Normalised spelling -> code for ``table.column`` (codes themselves included)."""
    out = dict(_lookup_builtin(table, column))
    for target in (column, f"{table}.{column}"):
        for alias, code in (extra or {}).get(target, {}).items():
            out[_key(alias)] = code
    return out


def map_values(values: pd.Series, table: str, column: str,
               extra: Mapping[str, Mapping[str, str]] | None = None) -> tuple[pd.Series, dict[tuple[str, str], int]]:
    """Codes for the values of an enumerated column; unknown values stay as they are.

    Returns the mapped column (text, or categorical when it came categorical) and the mappings
    made, ``{(written, code): rows}`` (codes written as codes are not listed).
    """
    table_ = lookup(table, column, extra)
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        new = [table_.get(_key(c), c) for c in cats]
        if all(n == c for c, n in zip(cats, new)):
            return values, {}
        codes = values.cat.codes.to_numpy()
        counts = np.bincount(codes[codes >= 0], minlength=len(cats))  # (pandas' value_counts is 10x slower)
        made = {(str(c), n): int(k) for c, n, k in zip(cats, new, counts) if n != c and k > 0}
        if not made:
            return values, {}
        uniq = sorted(set(new))
        lut = np.array([uniq.index(n) for n in new] + [-1], dtype=np.int64)  # entry -1: missing
        out = pd.Categorical.from_codes(lut[codes], categories=pd.Index(uniq, dtype="str"))
        return pd.Series(out, index=values.index, name=values.name), made
    present = values.dropna()
    if present.empty:
        return values, {}
    uniq = pd.unique(present.astype("str"))
    to = {u: table_.get(_key(u), u) for u in uniq}
    changed = {u: c for u, c in to.items() if c != u}
    if not changed:
        return values, {}
    text = values.astype("str")
    counts = text[text.isin(list(changed))].value_counts()
    out = text.map(lambda v: changed.get(v, v) if isinstance(v, str) else v).where(values.notna())
    return out.astype("str"), {(u, c): int(counts.get(u, 0)) for u, c in changed.items()}


def describe(table: str, column: str, made: Mapping[tuple[str, str], int]) -> list[str]:
    """Lines a person reads: ``requests.rating: 满意 → satisfied (233)``."""
    return [f"{table}.{column}: {a} → {c} ({n:,})" for (a, c), n in sorted(made.items(), key=lambda x: -x[1])]


def chinese_label(column: str, code: str) -> str:
    """The first Chinese spelling of ``code`` in the alias table (``branch_six_haves`` -> 六有); the code if none."""
    for col, alias, value in _builtin():
        if col == column and value == code and any("\u4e00" <= ch <= "\u9fff" for ch in alias):
            return alias
    return code


def code_of(column: str, text: str) -> str:
    """The code a built-in alias of ``column`` stands for (安全隐患 -> ``safety``); ``text`` itself if none."""
    key = _key(text)
    for col, alias, value in _builtin():
        if col == column and _key(alias) == key:
            return value
    return str(text)
