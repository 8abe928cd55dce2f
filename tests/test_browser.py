"""The review in a real browser: headless Chromium driven through the DevTools protocol.

Chromium starts with ``--remote-debugging-port=0`` (it writes the port it chose to
``DevToolsActivePort`` in its profile folder); the test connects with ``websocket-client`` (already
a dependency of the Jupyter stack, pinned in constraints.txt), collects console messages and
uncaught exceptions, checks every image decoded, reads the headings and saves a screenshot next to
the report. Skipped only when ``chromium`` is not installed (``make sysdeps`` installs it).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_report_runs import review_runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make sysdeps installs it)")
websocket = pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")

CJK = re.compile(r"[\u4e00-\u9fff]")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--remote-debugging-port=0", "--window-size=1280,2000"]


@pytest.fixture(scope="session")
def review(tmp_path_factory):
    return review_runs(tmp_path_factory.mktemp("reviews"))


class Browser:
    """A minimal DevTools-protocol client for one page."""

    def __init__(self, profile: Path):
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
        targets = json.loads(_http_get(f"http://127.0.0.1:{port}/json/list"))
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
        if any(e.get("method") == event for e in self.events):
            return
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == event:
                return
        raise TimeoutError(event)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return res["result"].get("value")

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


def _http_get(url: str) -> str:
    from urllib.request import urlopen

    with urlopen(url, timeout=10) as r:  # noqa: S310 - local DevTools endpoint
        return r.read().decode()


def problems(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among the collected events."""
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            out.append("exception: " + p.get("exceptionDetails", {}).get("text", ""))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append("log: " + p["entry"].get("text", ""))
        elif m == "Network.loadingFailed":
            out.append("load failed: " + p.get("errorText", ""))
    return out


#: where the screenshots are kept after the run (test artefacts, not committed)
ARTEFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artefacts"

FIRST_SCREEN = """(() => {
  const h = window.innerHeight, vis = el => { const r = el.getBoundingClientRect();
    const s = getComputedStyle(el); return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const tiles = Array.from(document.querySelectorAll('.rv-tile'));
  const charts = Array.from(document.querySelectorAll('.rv-charts img'));
  return {tiles: tiles.length, tilesVisible: tiles.filter(t => vis(t) && t.getBoundingClientRect().top < h).length,
          charts: charts.length, chartsDrawn: charts.filter(i => i.complete && i.naturalWidth > 0 && vis(i)).length,
          chartsOnFirstScreen: charts.filter(i => i.getBoundingClientRect().top < h).length,
          toc: Array.from(document.querySelectorAll('.rv-toc a')).filter(vis).length,
          tocTargets: Array.from(document.querySelectorAll('.rv-toc a')).every(a => document.getElementById(a.hash.slice(1))),
          title: document.title};
})()"""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_review_opens_cleanly_in_chromium(review, lang, tmp_path):
    run = review[lang].check()
    browser = Browser(tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=run.html.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        first = browser.evaluate(FIRST_SCREEN)
        images = browser.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        headings = browser.evaluate("Array.from(document.querySelectorAll('h1, h2')).map(h => h.innerText.trim())")
        shot = browser.call("Page.captureScreenshot", format="png")
        events = list(browser.events)
    finally:
        browser.close()
    # the first screen: the headline band and the three charts, drawn; the contents below them
    assert 6 <= first["tiles"] <= 8 and first["tilesVisible"] == first["tiles"]
    assert first["charts"] == 3 and first["chartsDrawn"] == 3 and first["chartsOnFirstScreen"] >= 1
    assert first["toc"] >= 9 and first["tocTargets"]
    assert str(run.lang == "zh" and "张湾区" or "Zhangwan District") in first["title"]
    broken = [i for i, (complete, width) in enumerate(images) if not complete or width == 0]
    assert images and broken == [], f"broken images: {broken}"
    assert problems(events) == []
    assert len(headings) >= 10
    if lang == "zh":
        assert all(CJK.search(h) for h in headings), headings
    else:
        assert headings[0].startswith("Zhangwan District") and not any(CJK.search(h) for h in headings)
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / f"review-first-screen-{lang}.png").write_bytes(png)
