"""The documentation site (``make docs``): its generated pages, its configuration, and the built site.

Fast checks read the page generators (``docs/_ext/generate.py``) and the configuration without
building anything: every catalogue indicator and every table and column has its entry, every
notebook its page, every public name its reference page. The checks of the built site use the
HTML that ``make docs`` wrote when ``DOCS_HTML`` names it (``make test`` builds the site first and
sets it); otherwise they build the site once into a temporary folder (about 20 s). The browser
test opens the index, a notebook page, the catalogue and the data dictionary in headless Chromium
and checks that no link or image is broken and that nothing is loaded from outside the site.
"""

from __future__ import annotations

import csv
import functools
import html.parser
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import types
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from docutils.nodes import make_id

from evaluation import API, catalog
from evaluation.dataset import schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import generate  # noqa: E402  (docs/_ext/generate.py, the generators of the site's pages)

GLOSSARY_TERMS = ("红色物业", "双报到", "三事分办", "大党委", "吹哨报到", "未诉先办", "接诉即办", "网格员")
BROWSER_PAGES = ("index.html", "notebooks/02_request_handling.html", "reference/catalogue.html",
                 "reference/data-dictionary.html")


def html_id(label: str) -> str:
    """The HTML id Sphinx gives a cross-reference label."""
    return make_id(label)


# --------------------------------------------------------------------------- generated pages, no build


@pytest.fixture(scope="module")
def catalogue_md() -> str:
    return generate.catalogue_page()


@pytest.fixture(scope="module")
def dictionary_md() -> str:
    return generate.dictionary_page()


def _entry(page: str, label: str) -> str:
    """The text of one entry: from its label to the next label."""
    start = page.index(f"({label})=")
    nxt = page.find(")=\n", start + len(label) + 3)
    return page[start: nxt if nxt > 0 else len(page)]


def test_every_catalogue_entry_has_its_entry(catalogue_md):
    assert len(catalog.CATALOG) >= 39
    for e in catalog.CATALOG.values():
        label = generate.indicator_label(e.id)
        assert f"({label})=" in catalogue_md, e.id
        text = _entry(catalogue_md, label)
        assert f"### `{e.id}`" in text
        for field in (e.name_en, e.name_zh, e.numerator, e.pillar, e.unit and generate.UNIT_WORDS[e.unit]):
            assert field in text, (e.id, field)
        if e.denominator:
            assert e.denominator in text, e.id
        assert ", ".join(e.levels) in text
        for need in e.needs:
            assert f"{{ref}}`{need} <" in text, (e.id, need)
        if e.target is None:
            assert "none set" in text
        else:
            assert f"value {e.target.comparator} {e.target.value:g}" in text
            assert e.target.source.replace("|", "\\|") in text, e.id
    for pillar in {e.pillar for e in catalog.CATALOG.values()}:
        assert f"## {catalog.message(pillar, 'en')} · {catalog.message(pillar, 'zh')}" in catalogue_md


def test_target_sources_are_explained(catalogue_md):
    sources = generate.target_sources()
    assert {"article", "hubei-14fyp"} <= set(sources)
    used = {e.target.source.split(":", 1)[0].strip() for e in catalog.CATALOG.values() if e.target}
    assert used <= set(sources), used - set(sources)


def test_every_table_and_column_has_its_entry(dictionary_md):
    aliases = list(csv.DictReader((ROOT / "src/evaluation/dataset/aliases.csv").open(encoding="utf-8")))
    values_file = ROOT / "src/evaluation/dataset/value_aliases.csv"
    value_rows = list(csv.DictReader(values_file.open(encoding="utf-8"))) if values_file.exists() else []
    assert len(schema.TABLES) >= 15
    for t in schema.TABLES.values():
        label = generate.table_label(t.name)
        assert f"({label})=" in dictionary_md, t.name
        text = _entry(dictionary_md, label)
        assert f"## `{t.name}` · {t.title_zh}" in text
        assert t.description in text
        for f in t.fields:
            row = next((ln for ln in text.splitlines() if f"{{#{generate.column_label(t.name, f.name)}}}" in ln), None)
            assert row is not None, (t.name, f.name)
            assert f.label_zh in row and f"| {f.type}" in row, (t.name, f.name)
            for code in f.enum or ():
                assert f"`{code}`" in row, (t.name, f.name, code)
            for r in aliases:  # header aliases the loader maps to this column
                if r["canonical"] == f.name and (r["table"] or "") in ("", t.name):
                    assert r["alias"].replace("|", "\\|") in row, (t.name, f.name, r["alias"])
            for r in value_rows:  # value spellings the loader maps to a code
                if r["column"] == f.name and f.enum and r["value"] in f.enum:
                    assert r["alias"] in row, (t.name, f.name, r["alias"])


def test_dictionary_links_the_templates(dictionary_md):
    for t in schema.TABLES:
        if (ROOT / "data/templates" / f"{t}.xlsx").exists():
            assert f"</../data/templates/{t}.xlsx>" in dictionary_md


def test_every_notebook_has_a_page():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    links = sorted(p.stem for p in (DOCS / "notebooks").glob("*.nblink"))
    assert notebooks and links == notebooks
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for name in notebooks:
        target = json.loads((DOCS / "notebooks" / f"{name}.nblink").read_text(encoding="utf-8"))["path"]
        assert (ROOT / target).is_file() and target == f"notebooks/{name}.ipynb"
        assert f"notebooks/{name}\n" in index, f"{name} is not in the index's toctree"


def test_notebook_reader_keeps_stored_outputs():
    import nbformat
    from nblink import read_nblink

    name = "02_request_handling"
    stored = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    read = read_nblink((DOCS / "notebooks" / f"{name}.nblink").read_text(encoding="utf-8"))
    own = [c for c in read.cells if "docs-added" not in c.get("metadata", {}).get("tags", [])]
    assert len(read.cells) == len(stored.cells) + 1
    assert [c.get("outputs") for c in own] == [c.get("outputs") for c in stored.cells]


def test_every_public_name_has_a_reference_page():
    documented = {m for mods in generate.API_PAGES.values() for m in mods}
    assert set(API.values()) <= documented, set(API.values()) - documented
    for page, mods in generate.API_PAGES.items():
        text = (DOCS / "api" / f"{page}.rst").read_text(encoding="utf-8")
        for m in mods:
            assert f".. automodule:: {m}" in text, (page, m)
    api_md = generate.api_page()
    for name, module in API.items():
        assert f"{{py:obj}}`~{module}.{name}`" in api_md


def test_glossary_has_the_terms_of_the_article():
    text = (DOCS / "guide" / "glossary.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\{glossary\}\n(.*?)```", text, flags=re.S)
    terms = {ln.strip() for b in blocks for ln in b.splitlines() if ln.strip() and not ln.startswith(" ")}
    missing = [t for t in GLOSSARY_TERMS if t not in terms]
    assert missing == []
    # the glossary's English renderings are what the gloss of the article links to
    article = (DOCS / "guide" / "article.md").read_text(encoding="utf-8")
    used = {m.split("<")[-1].rstrip(">").strip() for m in re.findall(r"\{term\}`([^`]+)`", article)}
    assert used and used <= terms, used - terms


def test_figures_and_definitions_pages():
    figures = generate.figures_page()
    rows = list(csv.DictReader((ROOT / "data/seed/published_figures.csv").open(encoding="utf-8")))
    assert all(f"`{r['key']}`" in figures for r in rows)
    snaps = generate.snapshots()
    assert snaps and snaps[0][0] == "0.1.0"
    defs = generate.definitions_page()
    assert "## Unreleased (since" in defs and "## 0.1.0 (" in defs
    # a change of a field shows before and after
    old = {"x.a": {**dict.fromkeys(generate.DEFINITION_FIELDS, None), "name_en": "A", "unit": "share"}}
    new = {"x.a": {**old["x.a"], "unit": "count"}, "x.b": {**old["x.a"], "name_en": "B"}}
    lines = generate.compare_definitions(old, new)
    assert any("unit: share → count" in ln for ln in lines) and any("added `x.b`" in ln for ln in lines)


def test_citation_page_follows_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    page = generate.citation_page()
    assert f"Version **{cff['version']}**" in page and str(cff["date-released"]) in page
    assert "@software{" in page


def test_configuration_builds_offline():
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert 'nb_execution_mode = "off"' in conf
    assert "intersphinx" not in conf and "mathjax_path" not in conf
    assert not re.search(r"html_(css|js)_files\s*=\s*\[[^\]]*https?://", conf)
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    docs_rule = re.search(r"^docs:.*\n((?:\t.*\n)+)", make, flags=re.M)
    assert docs_rule and " -W" in docs_rule.group(1)
    assert re.search(r"^test:.*\bdocs\b", make, flags=re.M), "make test builds the site"


def test_binder_installs_the_pinned_environment():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-3\.(\d+)", runtime)
    assert m and meta["requires-python"] == ">=3.11" and int(m.group(1)) >= 11
    post = ROOT / "binder" / "postBuild"
    text = post.read_text(encoding="utf-8")
    assert os.access(post, os.X_OK) and text.startswith("#!/bin/bash")
    assert re.search(r"pip install .*-c constraints\.txt .*-e \"?\.", text)
    assert "ipykernel install" in text and "python3" in text  # the kernel name the notebooks use
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert json.loads(nb.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"] == "python3"
    assert "fonts-wqy-microhei" in (ROOT / "binder" / "apt.txt").read_text().split()


# --------------------------------------------------------------------------- the built site


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site: ``DOCS_HTML`` (written by ``make docs``), else a fresh build in a temporary folder."""
    given = os.environ.get("DOCS_HTML")
    if given:
        path = Path(given)
        if not path.is_absolute():
            path = ROOT / path
        assert (path / "index.html").is_file(), f"DOCS_HTML={given}: no index.html (run make docs)"
        return path
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                           "-d", str(out / ".doctrees"), str(DOCS), str(out / "html")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out / "html"


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script", "iframe", "source") and a.get("src"):
            self.assets.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") and "stylesheet" in a["rel"] + " icon preload":
            self.assets.append(a["href"])


@functools.cache
def parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def _resolve(page: Path, href: str, root: Path) -> tuple[Path, str] | None:
    """The file and fragment an in-site href points to; None for links outside the site."""
    parts = urlsplit(href)
    if parts.scheme in ("http", "https", "mailto", "javascript", "data"):
        return None
    if parts.scheme == "file":
        target = Path(unquote(parts.path))
    elif not parts.path:
        target = page
    else:
        target = (page.parent / unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def test_built_pages_have_every_entry(site):
    cat = parse(site / "reference" / "catalogue.html").ids
    for iid in catalog.CATALOG:
        assert html_id(generate.indicator_label(iid)) in cat, iid
    dd = parse(site / "reference" / "data-dictionary.html").ids
    for t in schema.TABLES.values():
        assert html_id(generate.table_label(t.name)) in dd, t.name
        for f in t.fields:
            assert generate.column_label(t.name, f.name) in dd or html_id(generate.column_label(t.name, f.name)) in dd
    api_ids = set().union(*(parse(p).ids for p in (site / "api").glob("*.html")))
    for name, module in API.items():
        assert f"{module}.{name}" in api_ids, f"{module}.{name} has no entry in the API reference"
    for modules in generate.API_PAGES.values():  # and every public name of each subpackage's __all__
        for m in modules:
            mod = importlib.import_module(m)
            for name in getattr(mod, "__all__", ()):
                if not isinstance(getattr(mod, name), types.ModuleType):
                    assert f"{m}.{name}" in api_ids, f"{m}.{name} has no entry in the API reference"
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert (site / "notebooks" / f"{nb.stem}.html").is_file()


def test_built_site_links_and_assets_stay_inside(site):
    """Every in-site link of every page resolves (file and fragment); no asset comes from outside."""
    # _static/ holds the theme's template fragments (not pages)
    pages = {p.resolve(): parse(p) for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts}
    broken, outside = [], []
    for page, parsed in pages.items():
        for src in parsed.assets:
            if urlsplit(src).scheme in ("http", "https") or src.startswith("//"):
                outside.append(f"{page.relative_to(site)}: {src}")
            else:
                r = _resolve(page, src, site)
                if r and not r[0].exists():
                    broken.append(f"{page.relative_to(site)}: asset {src}")
        for href in parsed.links:
            r = _resolve(page, href, site)
            if r is None:
                continue
            target, fragment = r
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href}")
            elif fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if fragment not in ids:
                    broken.append(f"{page.relative_to(site)}: {href} (no #{fragment})")
    assert outside == []
    assert broken == []


# --------------------------------------------------------------------------- in the browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-quic", "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--remote-debugging-port=0", "--window-size=1280,2000"]


class Browser:
    """A minimal DevTools-protocol client for one page (as tests/test_browser.py drives Chromium)."""

    def __init__(self, profile: Path):
        import websocket

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                pytest.fail("chromium did not start its DevTools endpoint within 30 s")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        from urllib.request import urlopen

        with urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:  # noqa: S310 - local DevTools endpoint
            targets = json.loads(r.read().decode())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _problems(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            out.append("exception: " + p.get("exceptionDetails", {}).get("text", ""))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append("load failed: " + p.get("errorText", ""))
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file://", "data:", "blob:", "about:")):
                out.append("request outside the site: " + url)
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make sysdeps installs it)")
@pytest.mark.parametrize("page", BROWSER_PAGES)
def test_page_opens_cleanly_in_chromium(site, page, tmp_path):
    pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")
    path = (site / page).resolve()
    browser = Browser(tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable")
        browser.call("Page.navigate", url=path.as_uri())
        browser.wait_for("Page.loadEventFired")
        time.sleep(0.5)  # let the theme's scripts run
        images = browser.evaluate("Array.from(document.images).map(i => [i.currentSrc, i.complete, i.naturalWidth])")
        links = browser.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        title = browser.evaluate("document.querySelector('h1') && document.querySelector('h1').innerText")
        events = list(browser.events)
    finally:
        browser.close()
    assert title, page
    assert [src for src, complete, width in images if not complete or width == 0] == [], "broken images"
    if page.startswith("notebooks/"):
        assert len(images) >= 2, "the notebook's stored figures are missing"
    assert _problems(events) == []
    broken = []
    for href in links:
        r = _resolve(path, href, site)
        if r is None:
            continue
        target, fragment = r
        if not target.exists():
            broken.append(href)
        elif fragment and target.suffix == ".html" and fragment not in parse(target).ids:
            broken.append(href)
    assert links and broken == []
