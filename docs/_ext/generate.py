"""Generated pages of the documentation site, written at build time from the package's own data.

Every page here is a function that returns MyST Markdown, so a test can check it without building
the site (``tests/test_docs.py``):

==========================  ===================================================================
:func:`catalogue_page`      the indicator catalogue, from ``evaluation.catalog.CATALOG``
:func:`dictionary_page`     the data dictionary, from ``evaluation.dataset.schema.TABLES`` and
                            the alias tables ``aliases.csv`` (headers) and ``value_aliases.csv``
                            (values) of ``src/evaluation/dataset/``
:func:`figures_page`        the article's published figures, ``data/seed/published_figures.csv``
:func:`definitions_page`    the changelog of indicator definitions: the catalogue against the
                            snapshots in ``docs/_data/catalog-<version>.yaml``
:func:`cli_page`            ``evaluation --help`` and every command's help
:func:`citation_page`       the citation of ``CITATION.cff`` as text and BibTeX
==========================  ===================================================================

As a Sphinx extension (``conf.py``), :func:`write_pages` writes them to ``docs/_generated/`` when
the builder starts (a file is rewritten only when its text changed, so an incremental build
rereads only what changed); the pages of ``docs/`` include them. ``python docs/_ext/generate.py
snapshot`` stores the current catalogue as the snapshot of the current version (a release step).
"""

from __future__ import annotations

import csv
import importlib
import io
import os
import re
import sys
import tomllib
import types
from contextlib import redirect_stdout
from pathlib import Path

import yaml

import evaluation
from evaluation import catalog, cli
from evaluation.dataset import schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OUT = DOCS / "_generated"
SNAPSHOTS = DOCS / "_data"
ALIASES = ROOT / "src" / "evaluation" / "dataset" / "aliases.csv"
VALUE_ALIASES = ROOT / "src" / "evaluation" / "dataset" / "value_aliases.csv"
CATALOG_YAML = ROOT / "src" / "evaluation" / "catalog" / "catalog.yaml"
FIGURES = ROOT / "data" / "seed" / "published_figures.csv"
TEMPLATES = ROOT / "data" / "templates"
CITATION = ROOT / "CITATION.cff"
PYPROJECT = ROOT / "pyproject.toml"

#: catalogue fields compared between versions, in the order the changelog lists them
DEFINITION_FIELDS = ("name_en", "name_zh", "pillar", "numerator", "denominator", "levels", "scope", "period",
                     "direction", "unit", "scale", "needs", "target")

UNIT_WORDS = {
    "share": "share (0-1)", "per_1000": "per 1,000 residents", "per_10k": "per 10,000 residents",
    "per_100hh": "m² per 100 households", "hours_per_capita": "hours per resident", "yuan": "yuan",
    "hours": "hours", "count": "count", "score": "score",
}
DIRECTION_WORDS = {"higher": "higher is better", "lower": "lower is better", "none": "no direction"}
SCOPE_WORDS = {"urban": "urban (streets, communities, compounds)", "rural": "rural (townships, villages)",
               "all": "urban and rural"}
PERIOD_WORDS = {"stock": "stock: as of a date", "flow": "flow: over the calendar year", "other": "other"}


# --------------------------------------------------------------------------- helpers


def indicator_label(indicator_id: str) -> str:
    """The cross-reference label of an indicator's entry on the catalogue page."""
    return "indicator-" + indicator_id.replace("*", "pattern")


def table_label(table: str) -> str:
    """The cross-reference label of a table's entry on the data-dictionary page."""
    return "table-" + table


def column_label(table: str, column: str) -> str:
    """The cross-reference label of a column's row on the data-dictionary page."""
    return f"column-{table}-{column}"


def cell(text: object) -> str:
    """Text for one cell of a Markdown pipe table (pipes escaped, one line)."""
    s = "" if text is None else str(text)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def code(text: object) -> str:
    """Inline code, robust to backticks inside."""
    s = str(text)
    fence = "``" if "`" in s else "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown pipe table."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) if not str(c).startswith("`") and not str(c).startswith("[")
                                else str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def target_sources() -> dict[str, str]:
    """Source keys of targets (``article``, ``hubei-14fyp``) -> what they are, from ``catalog.yaml``'s header."""
    out: dict[str, str] = {}
    key = None
    inside = False
    for line in CATALOG_YAML.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            if inside:
                break
            continue
        body = line[1:]
        if body.strip().lower().startswith("sources of targets"):
            inside = True
            continue
        if not inside:
            continue
        m = re.match(r"\s{2,3}([A-Za-z0-9_-]+):\s*(.*)", body)
        if m:
            key = m.group(1)
            out[key] = m.group(2).strip()
        elif key and body.strip():
            out[key] += " " + body.strip()
    return out


# --------------------------------------------------------------------------- the catalogue


def _target_text(t) -> str:
    if t is None:
        return "none set"
    return f"{t.comparator} {t.value:g}"


def _needs_links(needs) -> str:
    parts = []
    for n in needs:
        tbl, _, col = n.partition(".")
        # a column of an open table (a survey item named in the codebook) has no row of its own
        known = tbl in schema.TABLES and col in schema.TABLES[tbl].columns
        label = column_label(tbl, col) if col and known else table_label(tbl)
        parts.append(f"{{ref}}`{n} <{label}>`")
    return ", ".join(parts) if parts else "nothing"


def catalogue_page() -> str:
    """The indicator catalogue: a summary table per pillar, then one entry per indicator."""
    sources = target_sources()
    entries = list(catalog.CATALOG.values())
    out = [
        "<!-- generated by docs/_ext/generate.py from src/evaluation/catalog/catalog.yaml: do not edit -->",
        "",
        f"The catalogue holds **{sum(not e.is_pattern for e in entries)} indicators** and "
        f"{sum(e.is_pattern for e in entries)} id patterns (the impact estimates), in "
        f"{len({e.pillar for e in entries})} pillars.",
        "",
    ]
    for pillar in catalog.PILLARS:
        group = [e for e in entries if e.pillar == pillar]
        if not group:
            continue
        out += [f"## {catalog.message(pillar, 'en')} · {catalog.message(pillar, 'zh')}", ""]
        rows = [[f"{{ref}}`{e.id} <{indicator_label(e.id)}>`", f"{e.name_en} · {e.name_zh}", UNIT_WORDS.get(e.unit, e.unit),
                 DIRECTION_WORDS.get(e.direction, e.direction), _target_text(e.target)] for e in group]
        out += [table(["id", "name · 名称", "unit", "direction", "default target"], rows), ""]
        for e in group:
            out += [f"({indicator_label(e.id)})=", f"### {code(e.id)}", ""]
            out += [f"**{e.name_en}** · **{e.name_zh}**", ""]
            denominator = e.denominator or "none (a count or a level, not a ratio)"
            rows = [
                ["pillar", f"{e.pillar} ({catalog.message(e.pillar, 'zh')})"],
                ["numerator", e.numerator],
                ["denominator", denominator],
                ["value", f"{e.scale:g} × numerator / denominator" if e.denominator else "the count or estimate itself"],
                ["unit", UNIT_WORDS.get(e.unit, e.unit)],
                ["direction", DIRECTION_WORDS.get(e.direction, e.direction)],
                ["levels", ", ".join(e.levels)],
                ["scope", SCOPE_WORDS.get(e.scope, e.scope)],
                ["period", PERIOD_WORDS.get(e.period, e.period)],
            ]
            if e.target is None:
                rows.append(["default target", "none set"])
            else:
                key, _, quote = e.target.source.partition(":")
                src = sources.get(key.strip())
                rows.append(["default target", f"value {e.target.comparator} {e.target.value:g}"])
                rows.append(["target source", e.target.source + (f" ({key.strip()}: {src})" if src else "")])
            rows.append(["needs", _needs_links(e.needs)])
            out += [table(["field", "definition"], rows), ""]
    out += ["## Sources of default targets", ""]
    for key, text in sources.items():
        out += [f"- `{key}`: {text}"]
    out += ["", "A dataset's `targets` table overrides a default target for a year "
            "(see {ref}`the targets table <table-targets>`).", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- the data dictionary


def alias_rows() -> list[dict[str, str]]:
    """The rows of ``aliases.csv`` (alias, canonical, table, note)."""
    with ALIASES.open(encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(fh)]


def aliases_for(table_name: str, column: str, rows: list[dict[str, str]] | None = None) -> list[str]:
    """Header aliases of ``aliases.csv`` that the loader maps to ``column`` of ``table_name``."""
    rows = alias_rows() if rows is None else rows
    return [r["alias"] for r in rows if r["canonical"] == column and r.get("table", "") in ("", table_name)]


def value_alias_rows() -> list[dict[str, str]]:
    """The rows of ``value_aliases.csv`` (column, alias, value, note); none when the file is absent."""
    if not VALUE_ALIASES.exists():
        return []
    with VALUE_ALIASES.open(encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(fh)]


def value_aliases(column: str, enum, rows: list[dict[str, str]] | None = None) -> dict[str, list[str]]:
    """Spellings of ``value_aliases.csv`` that the loader maps to each code of an enumerated column."""
    if not enum:
        return {}
    rows = value_alias_rows() if rows is None else rows
    out: dict[str, list[str]] = {}
    for r in rows:
        if r["column"] == column and r["value"] in enum:
            out.setdefault(r["value"], []).append(r["alias"])
    return out


def _needed_by() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in catalog.CATALOG.values():
        for n in e.needs:
            out.setdefault(n, []).append(e.id)
    return out


def _template_link(table_name: str) -> str:
    """A download link to the table's XLSX template (copied into the site), or "none"."""
    if not (TEMPLATES / f"{table_name}.xlsx").exists():
        return "none"
    return f"{{download}}`{table_name}.xlsx </../data/templates/{table_name}.xlsx>`"


def dictionary_page() -> str:
    """The data dictionary: every table and column of the data model, with Chinese labels and aliases."""
    rows_csv = alias_rows()
    value_rows = value_alias_rows()
    needed = _needed_by()
    tables = schema.TABLES
    out = [
        "<!-- generated by docs/_ext/generate.py from evaluation.dataset.schema and aliases.csv: do not edit -->",
        "",
        f"The data model has **{len(tables)} tables** and "
        f"{sum(len(t.fields) for t in tables.values())} columns. Types are Frictionless Table Schema types; "
        "identifiers are always strings; `datetime` columns are timezone-aware "
        f"({schema.DEFAULT_TZ} when a stamp has no offset).",
        "",
        table(["table · 表", "what it holds", "required", "template"], [
            [f"{{ref}}`{t.name} <{table_label(t.name)}>` · {t.title_zh}", t.description,
             "yes" if t.required_table else "no", _template_link(t.name)]
            for t in tables.values()
        ]),
        "",
    ]
    for t in tables.values():
        out += [f"({table_label(t.name)})=", f"## {code(t.name)} · {t.title_zh}", "", t.description, ""]
        facts = []
        facts.append(f"- **primary key**: {', '.join(code(c) for c in t.primary_key) or 'none'}")
        for fk in t.foreign_keys:
            ref = f"{{ref}}`{fk.reference_table} <{table_label(fk.reference_table)}>`"
            line = f"- **reference**: {', '.join(code(c) for c in fk.fields)} → {ref}." \
                   f"{', '.join(code(c) for c in fk.reference_fields)}"
            if fk.reference_filter:
                col, vals = fk.reference_filter
                line += f" (rows with {code(col)} in {', '.join(code(v) for v in vals)})"
            facts.append(line)
        facts.append(f"- **table required**: {'yes' if t.required_table else 'no (optional)'}")
        facts.append(f"- **template**: {_template_link(t.name)}")
        if t.open_columns:
            facts.append("- **further columns**: allowed (survey items and demographics named in the codebook)")
        if t.large:
            facts.append("- **bundled as**: Parquet (large table)")
        users = sorted({i for n, ids in needed.items() if n.partition(".")[0] == t.name for i in ids})
        if users:
            facts.append("- **needed by**: " + ", ".join(f"{{ref}}`{i} <{indicator_label(i)}>`" for i in users))
        out += facts + [""]
        rows = []
        for f in t.fields:
            constraints = []
            if f.unique:
                constraints.append("unique")
            if f.minimum is not None:
                constraints.append(f"≥ {f.minimum:g}")
            if f.maximum is not None:
                constraints.append(f"≤ {f.maximum:g}")
            enum = ""
            if f.enum:
                vals = value_aliases(f.name, f.enum, value_rows)
                enum = "; ".join(code(v) + (f" ({', '.join(vals[v])})" if v in vals else "") for v in f.enum)
            al = aliases_for(t.name, f.name, rows_csv)
            rows.append([
                f"[{code(f.name)}]{{#{column_label(t.name, f.name)}}}", f.label_zh,
                f.type + (f" ({', '.join(constraints)})" if constraints else ""),
                "yes" if f.required else "", enum, f.description, ", ".join(al),
            ])
        out += [table(["column", "中文", "type", "required", "allowed values (and their aliases)", "description",
                       "header aliases"], rows), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- the published figures


def figures_page() -> str:
    """The figures the article publishes, one row each, from ``data/seed/published_figures.csv``."""
    with FIGURES.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = ["<!-- generated by docs/_ext/generate.py from data/seed/published_figures.csv: do not edit -->", "",
           f"The article publishes **{len(rows)} figures**:", ""]
    out.append(table(["key", "value", "qualifier", "unit", "pillar", "the article (中文)", "meaning"], [
        [code(r["key"]), r["value"], r["qualifier"], r["unit"], r["pillar"], r["quote_zh"], r["meaning_en"]]
        for r in rows]))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- indicator definitions over versions


def project_version() -> str:
    """``version`` of ``pyproject.toml``."""
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]


def _definitions(entries: list[dict]) -> dict[str, dict]:
    out = {}
    for e in entries:
        d = {k: e.get(k) for k in DEFINITION_FIELDS}
        for k in ("levels", "needs"):
            d[k] = list(d[k] or [])
        out[str(e["id"])] = d
    return out


def current_definitions() -> dict[str, dict]:
    """The catalogue as stored in ``catalog.yaml``: id -> the compared fields."""
    return _definitions(yaml.safe_load(CATALOG_YAML.read_text(encoding="utf-8")))


def snapshots() -> list[tuple[str, dict[str, dict]]]:
    """The stored catalogue snapshots, oldest first: (version, definitions)."""
    def key(p: Path):
        return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.-]", p.stem.removeprefix("catalog-")))

    return [(p.stem.removeprefix("catalog-"), _definitions(yaml.safe_load(p.read_text(encoding="utf-8"))))
            for p in sorted(SNAPSHOTS.glob("catalog-*.yaml"), key=key)]


def _show(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {v[k]}" for k in v)
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return "—" if v is None or v == "" or v == [] else str(v)


def compare_definitions(old: dict[str, dict], new: dict[str, dict]) -> list[str]:
    """Markdown bullets: the indicators added and removed, and every changed field (before → after)."""
    now = current_definitions()

    def link(iid: str) -> str:  # entries no longer in the catalogue have no entry to link to
        return f"{{ref}}`{iid} <{indicator_label(iid)}>`" if iid in now else code(iid)

    lines = []
    for iid in new:
        if iid not in old:
            lines.append(f"- added {link(iid)}: {new[iid]['name_en']}")
    for iid in old:
        if iid not in new:
            lines.append(f"- removed {code(iid)}: {old[iid]['name_en']}")
    common = [i for i in new if i in old]

    def empty(v) -> bool:
        return v is None or v == "" or v == []

    # a field that no entry had before and entries have now is one change, not one per entry
    introduced = [k for k in DEFINITION_FIELDS if common and all(empty(old[i].get(k)) for i in common)
                  and any(not empty(new[i].get(k)) for i in common)]
    for k in introduced:
        n = sum(not empty(new[i].get(k)) for i in common)
        lines.append(f"- new field {code(k)}, stated for {n} of the {len(common)} entries (see the catalogue)")
    for iid in common:
        if iid in old:
            for k in DEFINITION_FIELDS:
                if k not in introduced and old[iid].get(k) != new[iid].get(k):
                    lines.append(f"- {link(iid)}, {k}: "
                                 f"{cell(_show(old[iid].get(k)))} → {cell(_show(new[iid].get(k)))}")
    return lines


def definitions_page() -> str:
    """The changelog of indicator definitions: unreleased changes, then each stored version's changes."""
    snaps = snapshots()
    current = current_definitions()
    out = ["<!-- generated by docs/_ext/generate.py from catalog.yaml and docs/_data/catalog-*.yaml -->", ""]
    if snaps:
        version, latest = snaps[-1]
        changes = compare_definitions(latest, current)
        out += [f"## Unreleased (since {version})", ""]
        out += (changes or ["No indicator definition has changed since this version."]) + [""]
    else:
        out += ["## Unreleased", "", "No catalogue snapshot is stored yet.", ""]
    previous: dict[str, dict] = {}
    history = []
    for version, defs in snaps:
        changes = compare_definitions(previous, defs)
        if not previous:
            changes = [f"- first catalogue: {len(defs)} entries, "
                       f"{sum(not i.endswith('*') for i in defs)} indicators and "
                       f"{sum(i.endswith('*') for i in defs)} id patterns"] + changes
        history.append((version, changes))
        previous = defs
    cff = citation()
    for version, changes in reversed(history):
        date = f" ({cff['date-released']})" if str(cff.get("version")) == version and cff.get("date-released") else ""
        out += [f"## {version}{date}", ""] + changes + [""]
    return "\n".join(out)


def snapshot(version: str | None = None) -> Path:
    """Store the current catalogue as ``docs/_data/catalog-<version>.yaml`` (a release step)."""
    version = version or project_version()
    SNAPSHOTS.mkdir(exist_ok=True)
    path = SNAPSHOTS / f"catalog-{version}.yaml"
    text = CATALOG_YAML.read_text(encoding="utf-8")
    path.write_text(f"# the indicator catalogue as released in {version} (docs/_ext/generate.py snapshot)\n" + text,
                    encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the command line


def cli_page() -> str:
    """``evaluation --help`` and the help of every command, as the parser prints them."""
    parser = cli.build_parser()
    out = ["<!-- generated by docs/_ext/generate.py from evaluation.cli.build_parser(): do not edit -->", ""]

    def help_of(p) -> str:
        buf = io.StringIO()
        columns = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the page must not depend on it
        try:
            with redirect_stdout(buf):
                p.print_help()
        finally:
            if columns is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = columns
        return buf.getvalue().rstrip()

    out += ["## `evaluation`", "", "```text", help_of(parser), "```", ""]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        out += [f"({'command-' + name})=", f"## `evaluation {name}`", "", "```text", help_of(p), "```", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- how to cite


def citation() -> dict:
    """``CITATION.cff`` as a mapping."""
    return yaml.safe_load(CITATION.read_text(encoding="utf-8"))


def citation_page() -> str:
    """The software citation of ``CITATION.cff``: a reference line and a BibTeX entry."""
    c = citation()
    authors = " and ".join(a.get("name") or f"{a.get('family-names', '')}, {a.get('given-names', '')}".strip(", ")
                           for a in c.get("authors", []))
    year = str(c.get("date-released", ""))[:4]
    title = c["title"]
    version = c.get("version", "")
    text = f"{authors} ({year}). *{title}* (version {version}) [Computer software]."
    key = "governance_evaluation_" + str(version).replace(".", "_")
    bib = "\n".join([
        f"@software{{{key},",
        f"  author  = {{{{{authors}}}}},",
        f"  title   = {{{{{title}}}}},",
        f"  version = {{{version}}},",
        f"  year    = {{{year}}},",
        f"  date    = {{{c.get('date-released', '')}}},",
        f"  license = {{{c.get('license', '')}}},",
        "}",
    ])
    out = ["<!-- generated by docs/_ext/generate.py from CITATION.cff: do not edit -->", "",
           f"Version **{version}**, released **{c.get('date-released', '')}**.", "",
           text, "", "```bibtex", bib, "```", ""]
    refs = c.get("references") or []
    if refs:
        out += ["`CITATION.cff` also names the work the package evaluates:", ""]
        for r in refs:
            who = "; ".join(a.get("name", "") for a in r.get("authors", []))
            out += [f"- {who} ({r.get('year', '')}). {r.get('title', '')}. {r.get('notes', '')}".rstrip()]
        out += [""]
    return "\n".join(out)


# --------------------------------------------------------------------------- the API


#: pages of the API reference: page -> the modules it documents (``automodule``)
API_PAGES = {
    "dataset": ("evaluation.dataset",), "registry": ("evaluation.registry",), "requests": ("evaluation.requests",),
    "survival": ("evaluation.survival",), "survey": ("evaluation.survey",), "composite": ("evaluation.index",),
    "impact": ("evaluation.impact",), "report": ("evaluation.report",), "synth": ("evaluation.synth",),
    "hotline": ("evaluation.hotline",),
    "foundation": ("evaluation.errors", "evaluation.results", "evaluation.catalog", "evaluation.assess",
                   "evaluation.indicators", "evaluation.scorecard", "evaluation.calendar", "evaluation.disclosure"),
}


def api_page() -> str:
    """The names of ``evaluation.API``, each linked to its entry in the reference."""
    out = ["<!-- generated by docs/_ext/generate.py from evaluation.API: do not edit -->", ""]
    rows = []
    for name, module in evaluation.API.items():
        page = next((p for p, mods in API_PAGES.items() if module in mods), None)
        rows.append([f"{{py:obj}}`~{module}.{name}`", code(module), f"{{doc}}`/api/{page}`" if page else ""])
    out += [table(["name", "defined in", "page"], rows), ""]
    return "\n".join(out)


def constants_rst(modules) -> str:
    """reST: an ``autodata`` entry for each constant of the modules' ``__all__``.

    autodoc's ``automodule`` documents the functions and classes a subpackage re-exports, not its
    re-exported constants.
    """
    entries = []
    for m in modules:
        mod = importlib.import_module(m)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if callable(obj) or isinstance(obj, type | types.ModuleType):
                continue
            entries.append(f".. autodata:: {m}.{name}\n")
    if not entries:
        return ""
    return "Constants\n---------\n\n" + "\n".join(entries)


# --------------------------------------------------------------------------- writing the pages


PAGES = {
    "catalogue.md": catalogue_page,
    "data-dictionary.md": dictionary_page,
    "published-figures.md": figures_page,
    "indicator-definitions.md": definitions_page,
    "cli.md": cli_page,
    "citation.md": citation_page,
    "api.md": api_page,
}


def write_pages(out: Path = OUT) -> list[Path]:
    """Write every generated page to ``out``; a file is rewritten only when its text changed."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    pages = dict(PAGES)
    for page, modules in API_PAGES.items():
        pages[f"api-{page}-constants.rst"] = lambda modules=modules: constants_rst(modules)
    for name, make in pages.items():
        path = out / name
        text = make()
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _builder_inited(app) -> None:
    write_pages()


def setup(app):
    """Sphinx extension: write the generated pages when the builder starts."""
    app.connect("builder-inited", _builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    if sys.argv[1:2] == ["snapshot"]:
        print(snapshot(sys.argv[2] if len(sys.argv) > 2 else None))
    else:
        for p in write_pages():
            print(p)
