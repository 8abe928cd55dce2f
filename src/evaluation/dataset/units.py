"""The unit tree: district, streets and townships, communities and villages, compounds.

One definition of the hierarchy for every module: :class:`UnitTree` gives each unit (and each
compound) its level, its scope (urban or rural) and its ancestor at every level, the one district
(:attr:`UnitTree.district_id`), unit names in either language and the resident population of any
unit summed over its communities and villages (:meth:`UnitTree.population`).

Levels (DESIGN.md section 3): ``district``; ``street`` holds urban streets and rural townships;
``community`` holds urban communities and villages; ``compound`` holds residential compounds
(urban only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.errors import DataError

#: levels of the hierarchy, bottom up
LEVELS = ("compound", "community", "street", "district")
LEVEL_OF_UNIT_TYPE = {"district": "district", "street": "street", "township": "street",
                      "community": "community", "village": "community"}
URBAN_UNIT_TYPES = ("street", "community")
RURAL_UNIT_TYPES = ("township", "village")


@dataclass(frozen=True)
class UnitTree:
    """Every unit (and compound) with its level, scope and ancestor at each level.

    ``lineage`` is indexed by ``unit_id`` with columns ``level``, ``unit_type``, ``urban``
    (bool), ``rural`` (bool) and one column per level (``compound``, ``community``, ``street``,
    ``district``) holding the ancestor's id at that level (the unit itself at its own level,
    missing below it).
    """

    lineage: pd.DataFrame

    @classmethod
    def from_tables(cls, units: pd.DataFrame, compounds: pd.DataFrame | None = None) -> UnitTree:
        """Build the tree from the ``units`` and ``compounds`` tables.

        Raises ``ValueError`` naming the table, unit and column when a parent is unknown, a
        unit type is not in the data model, or the hierarchy has a cycle.
        """
        u = units[["unit_id", "unit_type", "parent_id"]].astype({"unit_id": "str"}).copy()
        parent = {uid: (None if pd.isna(p) or str(p) == "" else str(p)) for uid, p in zip(u["unit_id"], u["parent_id"])}
        utype = dict(zip(u["unit_id"], u["unit_type"]))
        rows = []
        for uid, t in utype.items():
            if t not in LEVEL_OF_UNIT_TYPE:
                raise DataError(f"unit {uid}: unit_type {t!r} is not one of {', '.join(LEVEL_OF_UNIT_TYPE)}",
                                table="units", column="unit_type", value=t)
            rec = {"unit_id": uid, "level": LEVEL_OF_UNIT_TYPE[t], "unit_type": t,
                   "compound": None, "community": None, "street": None, "district": None}
            node, seen = uid, set()
            while node is not None:
                if node in seen:
                    raise DataError(f"unit {uid}: the parent_id chain has a cycle at {node}", table="units",
                                    column="parent_id")
                seen.add(node)
                if node not in utype:
                    raise DataError(f"unit {uid}: parent_id {node!r} is not a unit_id", table="units",
                                    column="parent_id", value=node)
                rec[LEVEL_OF_UNIT_TYPE[utype[node]]] = node
                node = parent.get(node)
            rows.append(rec)
        lin = pd.DataFrame(rows)
        if compounds is not None and len(compounds):
            comm = lin.set_index("unit_id")
            c = compounds[["compound_id", "community_id"]]
            unknown = ~c["community_id"].isin(comm.index)
            if unknown.any():
                i = int(np.flatnonzero(unknown.to_numpy())[0])
                raise DataError(f"community_id {c['community_id'].iloc[i]!r} is not a unit_id", table="compounds",
                                row=_file_row(compounds, i), column="community_id")
            anc = comm.loc[c["community_id"].to_numpy(), ["community", "street", "district"]].reset_index(drop=True)
            cp = pd.DataFrame({"unit_id": c["compound_id"].astype("str").to_numpy(), "level": "compound",
                               "unit_type": "compound", "compound": c["compound_id"].astype("str").to_numpy()})
            cp = pd.concat([cp, anc], axis=1)
            lin = pd.concat([lin, cp], ignore_index=True)
        ut = lin["unit_type"]
        anc_type = lin["street"].map(utype)
        lin["urban"] = ut.isin(URBAN_UNIT_TYPES + ("compound",)) | anc_type.isin(URBAN_UNIT_TYPES)
        lin["rural"] = ut.isin(RURAL_UNIT_TYPES) | anc_type.isin(RURAL_UNIT_TYPES)
        lin.loc[ut.eq("district"), ["urban", "rural"]] = True
        return cls(lin.set_index("unit_id"))

    @classmethod
    def from_dataset(cls, ds: Mapping[str, pd.DataFrame]) -> UnitTree:
        """The tree of a dataset's ``units`` (and ``compounds``, when it has them)."""
        return cls.from_tables(ds["units"], ds["compounds"] if "compounds" in ds else None)

    def units(self, level: str, scope: str = "all") -> pd.Index:
        """Ids of the units at ``level`` within ``scope`` (``urban``, ``rural`` or ``all``)."""
        lin = self.lineage
        mask = lin["level"].eq(level)
        if scope in ("urban", "rural"):
            mask &= lin[scope]
        return lin.index[mask.to_numpy()]

    @property
    def district_id(self) -> str | None:
        """Id of the district, when the tree has exactly one (else ``None``)."""
        d = self.units("district")
        return str(d[0]) if len(d) == 1 else None

    @property
    def district_label(self) -> str:
        """The district's id, or ``"all"`` when the tree has none or several (a tidy-table unit id)."""
        return self.district_id or "all"

    def ancestors(self, ids, level: str) -> np.ndarray:
        """The ancestor at ``level`` of each id (units or compounds); missing for unknown ids."""
        return self.lineage[level].reindex(pd.Index(ids, dtype="str")).to_numpy(dtype=object)

    def population(self, units: pd.DataFrame, level: str) -> pd.Series:
        """Residents of each unit at ``level`` (unit_id -> population); empty for compounds.

        A street's or the district's population is the sum over its communities and villages
        (``units.population``); a unit whose communities carry no population keeps its own figure.
        """
        if level == "compound" or "population" not in units.columns:
            return pd.Series(dtype="float64")
        pop = pd.Series(pd.to_numeric(units["population"], errors="coerce").to_numpy(dtype=float),
                        index=units["unit_id"].astype("str"))
        lin = self.lineage
        base = lin.index[lin["level"].eq("community").to_numpy()]
        base_pop = pop.reindex(base).dropna()
        summed = base_pop.groupby(lin.loc[base_pop.index, level].to_numpy()).sum()
        own = pop.reindex(self.units(level)).dropna()
        return summed.combine_first(own)


def _file_row(frame: pd.DataFrame, position: int) -> int:
    """The file row of row ``position`` of a table read by the loaders (``attrs["row_numbers"]``; from 1 without them)."""
    rows = frame.attrs.get("row_numbers")
    return int(rows[position]) if rows is not None and position < len(rows) else position + 1


def unit_names(units: pd.DataFrame, lang: str = "en") -> dict[str, str]:
    """unit_id -> name in ``lang`` (``name_zh`` for ``zh``; the English name, else the Chinese one, else the id)."""
    ids = units["unit_id"].astype("str")
    zh = units["name_zh"].astype("str") if "name_zh" in units.columns else ids
    if lang == "zh":
        names = zh.where(units["name_zh"].notna(), ids) if "name_zh" in units.columns else ids
    else:
        en = units["name_en"] if "name_en" in units.columns else pd.Series(None, index=units.index)
        names = en.astype("str").where(en.notna(), zh)
    return dict(zip(ids, names.astype("str")))
