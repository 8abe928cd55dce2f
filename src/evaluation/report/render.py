"""HTML of the annual review: the first screen, the table of contents and the sections.

:func:`first_screen_html` and :func:`section_html` turn :class:`~evaluation.report.model.Section`
objects into HTML fragments that the review notebook displays (and nbconvert keeps); :data:`CSS`
styles them on screen and on A4 paper (``@media print``: no section heading at the foot of a
page, no table row or figure split across pages). Figures are embedded as data URIs, so the HTML
file is complete on its own and opens offline.
"""

from __future__ import annotations

import base64
import html

from evaluation.report.model import PublishedTable, Section, Tile

CSS = """
:root { --rv-ink: #1a1a1a; --rv-muted: #5f6368; --rv-rule: #d9d9d9; --rv-accent: #0072B2;
        --rv-better: #007a5a; --rv-worse: #b8420f; --rv-unclear: #5f6368; }
body { font-family: "Noto Sans", "Helvetica Neue", Arial, "Noto Sans CJK SC", "WenQuanYi Micro Hei",
       "Microsoft YaHei", "PingFang SC", sans-serif; color: var(--rv-ink); }
.jp-Notebook, .jp-Cell { max-width: 1080px; margin-left: auto !important; margin-right: auto !important; }
.rv-head h1 { font-size: 1.9em; margin: 0.2em 0 0.1em; }
.rv-kicker { text-transform: uppercase; letter-spacing: 0.08em; color: var(--rv-accent); font-weight: 600; margin: 0; }
.rv-meta { color: var(--rv-muted); margin: 0.2em 0; }
.rv-synthetic { background: #fff6d6; border-left: 4px solid #e6b800; padding: 0.4em 0.8em; margin: 0.6em 0; }
.rv-forced { background: #fde8e1; border-left: 4px solid var(--rv-worse); padding: 0.4em 0.8em; margin: 0.6em 0; }
.rv-band { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px; margin: 1em 0; }
.rv-tile { border: 1px solid var(--rv-rule); border-top: 4px solid var(--rv-accent); border-radius: 4px;
           padding: 0.55em 0.75em; background: #fff; break-inside: avoid; }
.rv-tile-label { font-size: 0.85em; color: var(--rv-muted); min-height: 2.3em; }
.rv-tile-value { font-size: 1.75em; font-weight: 700; line-height: 1.2; }
.rv-tile-detail { font-size: 0.8em; color: var(--rv-muted); }
.rv-tile-change { font-size: 0.8em; margin-top: 0.25em; }
.rv-tile.rv-not_assessed .rv-tile-value { font-size: 1.1em; color: var(--rv-muted); }
.rv-pill { display: inline-block; border-radius: 999px; padding: 0 0.55em; font-size: 0.8em; font-weight: 600;
           color: #fff; background: var(--rv-unclear); }
.rv-pill.rv-better, .rv-pill.rv-met { background: var(--rv-better); }
.rv-pill.rv-worse, .rv-pill.rv-not_met { background: var(--rv-worse); }
.rv-charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; margin: 0.8em 0; }
.rv-charts figure, .rv-figure { margin: 0; break-inside: avoid; }
.rv-charts img, .rv-figure img { width: 100%; height: auto; border: 1px solid var(--rv-rule); }
figcaption { font-size: 0.8em; color: var(--rv-muted); }
.rv-findings ol { padding-left: 1.3em; } .rv-findings li { margin: 0.3em 0; line-height: 1.45; }
.rv-toc { border-top: 1px solid var(--rv-rule); border-bottom: 1px solid var(--rv-rule); padding: 0.4em 0 0.6em; }
.rv-toc ol { columns: 2; padding-left: 1.4em; margin: 0.3em 0; } .rv-toc a { text-decoration: none; color: var(--rv-accent); }
.rv-section { margin-top: 1.8em; }
.rv-section h2 { border-bottom: 2px solid var(--rv-accent); padding-bottom: 0.15em; break-after: avoid; }
.rv-q { font-style: italic; color: var(--rv-muted); margin: 0.2em 0 0.4em; }
.rv-a p { font-size: 1.05em; line-height: 1.5; margin: 0.3em 0; }
.rv-figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 0.8em 0; }
.rv-figures .rv-figure { flex: 1 1 420px; max-width: 640px; }
table.rv-table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 0.9em; width: 100%; }
table.rv-table th { text-align: left; border-bottom: 2px solid var(--rv-ink); padding: 0.25em 0.5em; vertical-align: bottom; }
table.rv-table td { border-bottom: 1px solid var(--rv-rule); padding: 0.25em 0.5em; vertical-align: top; }
table.rv-table td:first-child, table.rv-table th:first-child { text-align: left; }  /* the row labels read left to right */
table.rv-table tr { break-inside: avoid; }
.rv-table-title { font-weight: 600; margin: 0.8em 0 0.1em; break-after: avoid; }
.rv-note, .rv-more { font-size: 0.82em; color: var(--rv-muted); }
.rv-caveat { border-left: 3px solid var(--rv-rule); padding: 0.1em 0.8em; color: #3c4043; font-size: 0.92em; }
.rv-unavailable { background: #f1f3f4; padding: 0.5em 0.8em; border-radius: 4px; }
.rv-literal { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.85em; }
@page { size: A4; margin: 16mm 14mm 16mm 14mm; }
@media print {
  body { font-size: 10pt; }
  .jp-Notebook, .jp-Cell { max-width: none; padding: 0 !important; }
  .rv-band { grid-template-columns: repeat(4, 1fr); gap: 6px; }
  .rv-tile-value { font-size: 1.35em; }
  .rv-charts { grid-template-columns: repeat(3, 1fr); }
  .rv-toc { break-after: page; }
  .rv-section { break-before: auto; }
  a { color: inherit; text-decoration: none; }
}
"""


def _e(text) -> str:
    return html.escape(str(text))


def _img(fig) -> str:
    data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
    return (f'<figure class="rv-figure"><img src="data:image/png;base64,{data}" alt="{_e(fig.alt)}"/>'
            f"<figcaption>{_e(fig.alt)}</figcaption></figure>")


def head_html(title: str, meta: str, lang: str, synthetic: str = "", forced: str = "", kicker: str = "") -> str:
    """The title block (and the style sheet) of the review."""
    parts = [f"<style>{CSS}</style>", '<header class="rv-head">',
             f'<p class="rv-kicker">{_e(kicker)}</p>' if kicker else "", f"<h1>{_e(title)}</h1>",
             f'<p class="rv-meta">{_e(meta)}</p>']
    if synthetic:
        parts.append(f'<p class="rv-synthetic">{_e(synthetic)}</p>')
    if forced:
        parts.append(f'<p class="rv-forced">{_e(forced)}</p>')
    parts.append("</header>")
    return "".join(parts)


def tile_html(tile: Tile, words: dict[str, str]) -> str:
    """One headline tile: label, value (and target state), detail, and the change pill."""
    change = ""
    if tile.change not in ("not_compared", "not_assessed") or tile.change_text:
        pill = f'<span class="rv-pill rv-{tile.change}">{_e(tile.change_word or words.get(tile.change, ""))}</span> ' \
            if tile.change not in ("not_compared", "not_assessed") else ""
        change = f'<div class="rv-tile-change">{pill}{_e(tile.change_text)}</div>'
    state = f' <span class="rv-pill rv-{tile.state}">{_e(words.get(tile.state, ""))}</span>' \
        if tile.state in ("met", "not_met") else ""
    return (f'<div class="rv-tile rv-{tile.state or tile.change}"><div class="rv-tile-label">{_e(tile.label)}</div>'
            f'<div class="rv-tile-value">{_e(tile.value)}{state}</div>'
            f'<div class="rv-tile-detail">{_e(tile.detail)}</div>{change}</div>')


def first_screen_html(sec: Section, msg) -> str:
    """The headline band, the three charts, the key findings and the table of contents."""
    words = {k: msg(f"rv_call_{k}") for k in ("better", "worse", "no_clear_change")}
    words.update({k: msg(f"rv_state_{k}") for k in ("met", "not_met")})
    tiles = "".join(tile_html(t, words) for t in sec.facts.get("tiles", []))
    charts = "".join(_img(f) for f in sec.figures)
    findings = "".join(f"<li>{_e(p)}</li>" for p in sec.answer)
    toc = "".join(f'<li><a href="#sec-{k}">{_e(title)}</a></li>' for k, title in sec.facts.get("toc", []))
    return (f'<section class="rv-first" id="sec-summary"><div class="rv-band">{tiles}</div>'
            f'<div class="rv-charts">{charts}</div>'
            f'<div class="rv-findings"><h2>{_e(msg("rv_key_findings"))}</h2><ol>{findings}</ol></div></section>'
            f'<nav class="rv-toc"><h2>{_e(msg("rv_contents"))}</h2><ol>{toc}</ol></nav>')


def table_html(tb: PublishedTable, msg) -> str:
    """A compact page table: headers from the message tables, cells as the section wrote them."""
    f = tb.frame.copy()
    f.columns = [_header(c, msg) for c in f.columns]
    literal = tb.key in ("checksums", "parameters")
    body = f.to_html(index=False, na_rep="–", escape=True, classes=["rv-table"] + (["rv-literal-table"] if literal
                                                                                  else []), border=0)
    note = f'<p class="rv-note">{_e(tb.note)}</p>' if tb.note else ""
    return f'<p class="rv-table-title">{_e(tb.title)}</p>{body}{note}'


def _header(col: str, msg) -> str:
    col = str(col)
    return col if col.isdigit() else msg(col)


def section_html(sec: Section, msg, sheets: list[str] | None = None) -> str:
    """One section: heading, question, answer, evidence, caveats, and where its full tables are."""
    parts = [f'<section class="rv-section" id="{sec.anchor}"><h2>{_e(sec.title)}</h2>']
    if not sec.available:
        parts.append(f'<p class="rv-unavailable">{_e(sec.reason)}</p></section>')
        return "".join(parts)
    if sec.question:
        parts.append(f'<p class="rv-q">{_e(sec.question)}</p>')
    if sec.answer:
        parts.append('<div class="rv-a">' + "".join(f"<p>{_e(a)}</p>" for a in sec.answer) + "</div>")
    if sec.figures:
        parts.append('<div class="rv-figures">' + "".join(_img(f) for f in sec.figures) + "</div>")
    for tb in sec.tables:
        if tb.page:
            parts.append(table_html(tb, msg))
    parts += [f"<p>{_e(p)}</p>" for p in sec.paragraphs]
    parts += [f'<p class="rv-caveat">{_e(c)}</p>' for c in sec.caveats]
    if sheets:
        parts.append(f'<p class="rv-more">{_e(msg("rv_full_tables", sheets=", ".join(sheets)))}</p>')
    parts.append("</section>")
    return "".join(parts)
