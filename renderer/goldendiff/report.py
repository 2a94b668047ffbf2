"""HTML of the visual diff: one self-contained report per document pair and an index over many.

In: a `DocDiff` (from the worker), labels, optional summary lines and an optional ``display.txt`` diff; or a
list of `IndexEntry` for the ``--all`` index. Out: HTML text. A report holds everything inline (pictures as
base64 PNG ``data:`` URLs, CSS and a little JavaScript) and loads nothing: its Content-Security-Policy
forbids every fetch except ``data:`` images. Per changed page it offers five views, switched by the
buttons at the top (or keys 1–5): side-by-side, swipe (slider), onion skin (opacity slider), difference
(changed pixels) and overlay (removed ink red, added ink cyan); the changed region's bounding box is drawn
on each, on a whole-page locator, and it carries the page's text diff. The index lists every page with its
changed-pixel count.
"""

from __future__ import annotations

import base64
import html
import io
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

from renderer.goldendiff.text import LineDiff, Row, Segment, diff_lines
from renderer.goldendiff.worker import ZOOM_FACTOR, DocDiff, PageDiff, Pictures
from renderer.settings import resource_dir

VIEWS = (
    ("side", "並べて side-by-side"),
    ("swipe", "スワイプ swipe"),
    ("onion", "重ね onion skin"),
    ("difference", "差分 difference"),
    ("overlay", "赤/シアン overlay"),
)
REPORT_FONT_FAMILY = "IPAexGothic"   # the vendored font whose subset shows the report's Japanese text
ZOOM_BOX = 12        # the enlarged overlay of a small changed region
ZOOM = 1.5            # pictures are shown at 1.5 CSS px per rendered pixel (100 dpi → 150 % of 1:1)

CSS = """
:root { --removed: #e00000; --added: #00a0b0; --box: #ff8c00; font-family: ReportJa, system-ui, sans-serif; }
body { margin: 0 1.5rem 3rem; color: #222; background: #fafafa; }
header { position: sticky; top: 0; z-index: 5; background: #fafafa; border-bottom: 1px solid #ccc;
  padding: .5rem 0; }
h1 { font-size: 1.2rem; margin: .3rem 0; } h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
.verdict { font-weight: bold; } .verdict.changed { color: #b00000; } .verdict.same { color: #007000; }
.meta, .note { color: #555; font-size: .85rem; margin: .2rem 0; }
nav.views button { font: inherit; font-size: .85rem; padding: .25rem .6rem; margin-right: .3rem;
  border: 1px solid #888; background: #fff; border-radius: 4px; cursor: pointer; }
nav.views button[aria-pressed="true"] { background: #222; color: #fff; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { border: 1px solid #ccc; padding: .15rem .5rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.same td { color: #888; }
section.page { background: #fff; border: 1px solid #ccc; border-radius: 6px; padding: .8rem; margin: 1rem 0; }
.page-body { display: flex; gap: 1rem; align-items: flex-start; }
.locator { position: relative; flex: none; border: 1px solid #999; line-height: 0; }
.locator .crop-mark { position: absolute; border: 1px solid #2060ff; background: rgba(32, 96, 255, .12); }
.view { display: none; gap: 1rem; flex-wrap: wrap; align-items: flex-start; }
body[data-view="side"] .view-side, body[data-view="swipe"] .view-swipe, body[data-view="onion"] .view-onion,
body[data-view="difference"] .view-difference, body[data-view="overlay"] .view-overlay { display: flex; }
figure { margin: 0; } figcaption { font-size: .8rem; color: #555; }
.stack { position: relative; line-height: 0; border: 1px solid #999; background: #fff; width: var(--w);
  max-width: 100%; }
.view-side { flex-wrap: nowrap; } .view-side figure { flex: 1 1 0; min-width: 0; }
.view-side .stack { width: 100%; max-width: var(--w); }
.page-body > .views { flex: 1 1 auto; min-width: 0; }
.stack img { display: block; width: 100%; height: auto; image-rendering: auto; }
.stack img.top { position: absolute; left: 0; top: 0; }
.swipe img.top { clip-path: inset(0 calc(100% - var(--swipe, 50%)) 0 0); }
.swipe .swipe-line { position: absolute; top: 0; bottom: 0; left: var(--swipe, 50%); width: 0;
  border-left: 2px solid #2060ff; }
.onion img.top { opacity: var(--onion, .5); }
.bbox { position: absolute; outline: 2px dashed var(--box); outline-offset: 2px; pointer-events: none; }
.slider { display: flex; gap: .5rem; align-items: center; font-size: .8rem; line-height: 1.2; }
.slider input { width: 20rem; }
.legend { font-size: .8rem; line-height: 1.4; }
.legend .removed { color: var(--removed); font-weight: bold; }
.legend .added { color: var(--added); font-weight: bold; }
.text-diff { margin-top: .6rem; }
.text-diff table { width: 100%; table-layout: fixed; font-family: ReportJa, ui-monospace, monospace;
  font-size: .8rem; }
.text-diff td { white-space: pre-wrap; word-break: break-all; }
.text-diff td.ln { width: 3rem; color: #888; text-align: right; }
.text-diff tr.skip td { color: #888; background: #f0f0f0; font-style: italic; }
del { background: #ffc8c8; color: #900; text-decoration: line-through; }
ins { background: #b8f2f6; color: #005a66; text-decoration: none; }
pre, code { font-family: ReportJa, ui-monospace, monospace; }
pre.summary { font-size: .8rem; background: #fff; border: 1px solid #ccc; padding: .5rem; white-space: pre-wrap; }
ul.changes { margin: .3rem 0; padding-left: 1.2rem; font-size: .95rem; }
ul.changes li { font-family: ReportJa, ui-monospace, monospace; }
"""

SCRIPT = """
(function () {
  var views = %VIEWS%;
  document.querySelectorAll('img[data-same-as]').forEach(function (img) {
    img.src = document.getElementById(img.dataset.sameAs).src;
  });
  function show(view) {
    document.body.dataset.view = view;
    document.querySelectorAll('nav.views button').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.dataset.view === view));
    });
  }
  document.querySelectorAll('nav.views button').forEach(function (b) {
    b.addEventListener('click', function () { show(b.dataset.view); });
  });
  document.addEventListener('keydown', function (e) {
    var i = parseInt(e.key, 10);
    if (i >= 1 && i <= views.length && !(e.target instanceof HTMLInputElement)) { show(views[i - 1]); }
  });
  document.querySelectorAll('input.swipe-range').forEach(function (r) {
    var stack = r.closest('.view').querySelector('.stack');
    function f() { stack.style.setProperty('--swipe', r.value + '%'); }
    r.addEventListener('input', f); f();
  });
  document.querySelectorAll('input.onion-range').forEach(function (r) {
    var stack = r.closest('.view').querySelector('.stack');
    function f() { stack.style.setProperty('--onion', String(r.value / 100)); }
    r.addEventListener('input', f); f();
  });
  show(document.body.dataset.view || views[0]);
})();
"""

CSP = "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(data: bytes, alt: str, cls: str = "", ident: str = "") -> str:
    cls_attr = f' class="{cls}"' if cls else ""
    id_attr = f' id="{ident}"' if ident else ""
    return (f'<img{id_attr}{cls_attr} alt="{_e(alt)}" '
            f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">')


def _same_img(ident: str, alt: str, cls: str = "") -> str:
    """An image showing the same picture as the one with id `ident` (its src is copied on load: each PNG is
    embedded once)."""
    cls_attr = f' class="{cls}"' if cls else ""
    return f'<img{cls_attr} alt="{_e(alt)}" data-same-as="{ident}">'


def _page(title: str, body: str, view: str = "side") -> str:
    script = SCRIPT.replace("%VIEWS%", "[" + ", ".join(f"'{v}'" for v, _ in VIEWS) + "]")
    font = japanese_font_face(title + body)
    return (
        "<!doctype html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_e(title)}</title>\n<style>{font}{CSS}</style>\n</head>\n"
        f"<body data-view=\"{view}\">\n{body}\n<script>{script}</script>\n</body>\n</html>\n"
    )


_DATA_URL = re.compile(r"data:[a-z/]+;base64,[A-Za-z0-9+/=]+")


def japanese_font_face(text: str, fonts_dir: Path | None = None) -> str:
    """An ``@font-face`` (family ``ReportJa``) holding only the non-ASCII characters of `text`, cut from the
    vendored IPAexゴシック (IPA Font License v1.0) as WOFF, so the report reads the same on a machine without
    Japanese fonts (CI, a bare container). Empty when there is nothing to embed or the font is not found.
    `fonts_dir` defaults to this installation's vendored fonts (`renderer.settings.resource_dir`)."""
    fonts_dir = fonts_dir or resource_dir("fonts")
    chars = sorted({c for c in _DATA_URL.sub("", text) if ord(c) > 0x7F})
    if not chars:
        return ""
    try:
        manifest = tomllib.loads((fonts_dir / "manifest.toml").read_text(encoding="utf-8"))
        entry = next(f for f in manifest.get("font", []) if f.get("family") == REPORT_FONT_FAMILY)
        options = subset.Options()
        options.flavor = "woff"
        options.layout_features = []
        options.name_IDs = []
        options.hinting = False
        buf = io.BytesIO()
        with TTFont(fonts_dir / entry["file"]) as font:
            subsetter = subset.Subsetter(options)
            subsetter.populate(text="".join(chars))
            subsetter.subset(font)
            font.flavor = "woff"
            font.save(buf)
    except (OSError, KeyError, StopIteration, tomllib.TOMLDecodeError, subset.Subsetter.SubsettingError):
        return ""
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'@font-face {{ font-family: ReportJa; src: url("data:font/woff;base64,{data}") format("woff"); }}\n'


def _mm(px: int, dpi: int) -> str:
    return f"{px * 25.4 / dpi:.1f}"


def _bbox_mm(page: PageDiff, dpi: int) -> str:
    if page.bbox is None:
        return "—"
    x0, y0, x1, y1 = page.bbox
    return f"x {_mm(x0, dpi)}–{_mm(x1, dpi)}, y {_mm(y0, dpi)}–{_mm(y1, dpi)} mm"


# --------------------------------------------------------------------------- text diffs


def _segments_html(segments: Sequence[Segment]) -> str:
    out: list[str] = []
    for seg in segments:
        if seg.kind == "delete":
            out.append(f"<del>{_e(seg.text)}</del>")
        elif seg.kind == "insert":
            out.append(f"<ins>{_e(seg.text)}</ins>")
        else:
            out.append(_e(seg.text))
    return "".join(out)


def _row_html(row: Row) -> str:
    if row.kind == "skip":
        return f'<tr class="skip"><td colspan="4">… {row.skipped} unchanged line(s)</td></tr>'
    return (f'<tr class="{row.kind}"><td class="ln">{row.old_no or ""}</td><td>{_segments_html(row.old)}</td>'
            f'<td class="ln">{row.new_no or ""}</td><td>{_segments_html(row.new)}</td></tr>')


def line_diff_html(diff: LineDiff, old_name: str, new_name: str, what: str) -> str:
    """A side-by-side text diff with the changed characters marked; an empty diff says so."""
    if not diff.changed:
        return f'<p class="note">{_e(what)}: no change.</p>'
    parts = [f'<div class="text-diff"><h3 class="note">{_e(what)}</h3>']
    if diff.summaries:
        parts.append('<ul class="changes">' + "".join(f"<li>{_e(s)}</li>" for s in diff.summaries) + "</ul>")
    parts.append(f'<table><colgroup><col style="width:3rem"><col><col style="width:3rem"><col></colgroup>'
                 f'<tr><th></th><th>{_e(old_name)}</th><th></th><th>{_e(new_name)}</th></tr>')
    parts.extend(_row_html(r) for r in diff.rows)
    parts.append("</table>")
    if diff.truncated:
        parts.append(f'<p class="note">… {diff.truncated} more row(s) not shown.</p>')
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------- one page


def _box_style(box: tuple[int, int, int, int], frame: tuple[int, int, int, int]) -> str:
    fx0, fy0, fx1, fy1 = frame
    fw, fh = fx1 - fx0, fy1 - fy0
    x0, y0, x1, y1 = box
    return (f"left:{(x0 - fx0) / fw * 100:.4f}%;top:{(y0 - fy0) / fh * 100:.4f}%;"
            f"width:{(x1 - x0) / fw * 100:.4f}%;height:{(y1 - y0) / fh * 100:.4f}%")


def _views_html(page: PageDiff, pics: Pictures, old_name: str, new_name: str, doc_dpi: int) -> str:
    assert page.crop is not None and page.bbox is not None
    crop = page.crop
    width = round((crop[2] - crop[0]) * ZOOM)
    bbox = f'<div class="bbox" style="{_box_style(page.bbox, crop)}"></div>'
    stack_style = f'style="--w:{width}px"'

    def stack(inner: str, extra: str = "") -> str:
        cls = f"stack {extra}".strip()
        return f'<div class="{cls}" {stack_style}>{inner}{bbox}</div>'

    old_id, new_id = f"p{page.number}-old", f"p{page.number}-new"
    side = (f'<div class="view view-side">'
            f'<figure><figcaption>旧 {_e(old_name)}</figcaption>{stack(_img(pics.old, "old", ident=old_id))}</figure>'
            f'<figure><figcaption>新 {_e(new_name)}</figcaption>{stack(_img(pics.new, "new", ident=new_id))}</figure>'
            "</div>")
    swipe = (f'<div class="view view-swipe"><figure>'
             f'<figcaption>左 = 新 {_e(new_name)} ｜ 右 = 旧 {_e(old_name)}</figcaption>'
             + stack(_same_img(old_id, "old") + _same_img(new_id, "new", "top") + '<div class="swipe-line"></div>',
                     "swipe")
             + '<label class="slider">swipe <input type="range" class="swipe-range" min="0" max="100" value="50">'
             "</label></figure></div>")
    onion = (f'<div class="view view-onion"><figure>'
             f'<figcaption>旧 {_e(old_name)} の上に 新 {_e(new_name)}（不透明度）</figcaption>'
             + stack(_same_img(old_id, "old") + _same_img(new_id, "new", "top"), "onion")
             + '<label class="slider">opacity <input type="range" class="onion-range" min="0" max="100" '
             'value="50"></label></figure></div>')
    difference = (f'<div class="view view-difference"><figure>'
                  f'<figcaption>changed pixels (|a−b| &gt; threshold) in magenta</figcaption>'
                  f'{stack(_img(pics.difference, "difference"))}</figure></div>')
    zoom = ""
    if pics.zoom is not None and pics.zoom_box is not None:
        zx0, _, zx1, _ = pics.zoom_box
        zoom = (f'<figure class="zoom"><figcaption>the box ×{ZOOM_BOX / ZOOM:g}, rendered at '
                f'{doc_dpi * ZOOM_FACTOR} dpi</figcaption>'
                f'<div class="stack zoom" style="--w:{(zx1 - zx0) * ZOOM_BOX}px">{_img(pics.zoom, "overlay zoom")}'
                f'<div class="bbox" style="{_box_style(page.bbox, pics.zoom_box)}"></div></div></figure>')
    overlay = ('<div class="view view-overlay"><figure>'
               '<figcaption class="legend"><span class="removed">赤 red = removed (only in old)</span> ・ '
               '<span class="added">シアン cyan = added (only in new)</span> ・ black = unchanged</figcaption>'
               f'{stack(_img(pics.overlay, "overlay"))}</figure>{zoom}</div>')
    return side + swipe + onion + difference + overlay


def _page_html(page: PageDiff, doc: DocDiff, old_name: str, new_name: str) -> str:
    attrs = [f'id="page-{page.number}"', f'data-page="{page.number}"', f'data-status="{page.status}"',
             f'data-changed="{page.changed_pixels}"', f'data-dpi="{doc.dpi}"',
             f'data-size-pt="{page.size_pt[0]:.2f},{page.size_pt[1]:.2f}"',
             f'data-size-px="{page.size[0]},{page.size[1]}"']
    if page.bbox is not None:
        attrs.append('data-bbox="{},{},{},{}"'.format(*page.bbox))
    if page.crop is not None:
        attrs.append('data-crop="{},{},{},{}"'.format(*page.crop))
    head = (f"<h2>Page {page.number} — {page.status}, {page.changed_pixels:,} changed pixel(s); "
            f"box {_bbox_mm(page, doc.dpi)}</h2>")
    body = ""
    if page.pictures is not None and page.crop is not None and page.bbox is not None:
        pics = page.pictures
        frame = (0, 0, *page.size)
        locator = (f'<div class="locator" style="width:{pics.thumb_size[0]}px">{_img(pics.thumb, "page")}'
                   f'<div class="crop-mark" style="{_box_style(page.crop, frame)}"></div>'
                   f'<div class="bbox" style="{_box_style(page.bbox, frame)}"></div></div>')
        views = _views_html(page, pics, old_name, new_name, doc.dpi)
        body = f'<div class="page-body">{locator}<div class="views">{views}</div></div>'
    elif page.bbox is None:
        body = '<p class="note">No ink differs (a blank page was added or removed, or only the size changed).</p>'
    else:
        body = (f'<p class="note">Pictures left out: this report embeds the first {doc.max_pictures} changed '
                f"page(s) only.</p>")
    text = line_diff_html(diff_lines(page.old_text, page.new_text), old_name, new_name,
                          f"page {page.number} text (pypdf)")
    return f'<section class="page" {" ".join(attrs)}>{head}{body}{text}</section>'


# --------------------------------------------------------------------------- whole report


def _summary_html(summary: Sequence[str]) -> str:
    return f'<section id="summary"><h2>Summary</h2><pre class="summary">{_e(chr(10).join(summary))}</pre></section>'


def _index_table(doc: DocDiff) -> str:
    rows = ["<table class=\"pages\"><tr><th>page</th><th>status</th><th>changed pixels</th><th>box</th></tr>"]
    for page in doc.pages:
        link = f'<a href="#page-{page.number}">{page.number}</a>' if page.changed else str(page.number)
        rows.append(f'<tr class="{page.status}"><td>{link}</td><td>{page.status}</td>'
                    f'<td class="num">{page.changed_pixels:,}</td><td>{_bbox_mm(page, doc.dpi)}</td></tr>')
    rows.append("</table>")
    return "".join(rows)


def verdict(doc: DocDiff) -> str:
    changed = doc.changed_pages
    if not doc.changed:
        return "identical: the two PDFs are byte for byte the same"
    if not changed:
        return (f"no visible change at {doc.dpi} dpi, but the bytes differ "
                "(metadata, fonts, drawing order or invisible text?)")
    pixels = sum(p.changed_pixels for p in changed)
    return (f"{len(changed)} of {len(doc.pages)} page(s) changed, {pixels:,} changed pixel(s) "
            f"(old {doc.old_pages} page(s), new {doc.new_pages})")


def doc_report(title: str, doc: DocDiff, *, old_name: str, new_name: str, summary: Sequence[str] = (),
               display: LineDiff | None = None, index_href: str | None = None) -> str:
    """The self-contained HTML report of one document pair."""
    changed = doc.changed_pages
    parts = ["<header>"]
    if index_href:
        parts.append(f'<p class="meta"><a href="{_e(index_href)}">← all cases</a></p>')
    parts.append(f"<h1>{_e(title)}</h1>")
    parts.append(f'<p class="verdict {"changed" if doc.changed else "same"}">{_e(verdict(doc))}</p>')
    parts.append(f'<p class="meta">旧 old: {_e(old_name)} ・ 新 new: {_e(new_name)} ・ rasterized with pypdfium2 '
                 f"at {doc.dpi} dpi, greyscale; a pixel is changed when |a−b| &gt; {doc.threshold} (0–255)</p>")
    if len(changed) > doc.pictured and any(p.bbox is not None and p.pictures is None for p in changed):
        parts.append(f'<p class="note capped">Capped: pictures of {doc.pictured} of {len(changed)} changed '
                     f"page(s) are embedded (limit {doc.max_pictures}); every page is listed below.</p>")
    if changed and doc.pictured:
        buttons = "".join(f'<button type="button" data-view="{v}" title="key {i}">{_e(label)}</button>'
                          for i, (v, label) in enumerate(VIEWS, 1))
        parts.append(f'<nav class="views">{buttons}</nav>')
    parts.append("</header>")
    if summary:
        parts.append(_summary_html(summary))
    if doc.text_error:
        parts.append(f'<p class="note">{_e(doc.text_error)}</p>')
    parts.append(f'<section id="index"><h2>Pages</h2>{_index_table(doc)}</section>')
    if display is not None:
        parts.append(f'<section id="display">{line_diff_html(display, old_name, new_name, "display.txt")}</section>')
    parts.extend(_page_html(p, doc, old_name, new_name) for p in changed)
    return _page("golden diff — " + title, "\n".join(parts))


def plain_report(title: str, meta: str, summary: Sequence[str], *, display: LineDiff | None, old_name: str,
                 new_name: str, index_href: str | None = None) -> str:
    """A report without pictures (a case that renders no PDF, e.g. an expected refusal)."""
    parts = ["<header>"]
    if index_href:
        parts.append(f'<p class="meta"><a href="{_e(index_href)}">← all cases</a></p>')
    parts.append(f'<h1>{_e(title)}</h1><p class="meta">{_e(meta)}</p></header>')
    parts.append(_summary_html(summary))
    if display is not None:
        parts.append(f'<section id="display">{line_diff_html(display, old_name, new_name, "display.txt")}</section>')
    return _page("golden diff — " + title, "\n".join(parts))


# --------------------------------------------------------------------------- index of many cases


@dataclass(frozen=True)
class IndexEntry:
    """One case in the ``--all`` index."""

    case_id: str
    status: str                     # "unchanged", "changed", "error case", "error case changed", …
    changed: bool
    href: str | None = None         # the case report, relative to the index
    doc: DocDiff | None = None
    problems: tuple[str, ...] = ()
    headline: str = ""              # the first change read as text (「old → new」), when there is one


def index_report(title: str, entries: Sequence[IndexEntry], *, seconds: float) -> str:
    """The ``--all`` index: every case, its verdict and, per changed page, the changed-pixel count."""
    changed = [e for e in entries if e.changed]
    parts = [f"<header><h1>{_e(title)}</h1>",
             f'<p class="verdict {"changed" if changed else "same"}">'
             f"{len(changed)} of {len(entries)} case(s) changed</p>",
             f'<p class="meta">expected.pdf of every case against the working tree\'s render; '
             f"{seconds:.1f} s</p></header>",
             '<table class="cases"><tr><th>case</th><th>status</th><th>pages (changed pixels)</th>'
             "<th>first difference</th></tr>"]
    for entry in entries:
        name = f'<a href="{_e(entry.href)}">{_e(entry.case_id)}</a>' if entry.href else _e(entry.case_id)
        pages = "—"
        if entry.doc is not None:
            cells = [f"p{p.number} {p.status}: {p.changed_pixels:,}" for p in entry.doc.pages if p.changed]
            pages = "<br>".join(_e(c) for c in cells) or f"{len(entry.doc.pages)} page(s), none changed"
        first = _e(entry.headline or (entry.problems[0] if entry.problems else ""))
        rows_cls = "changed" if entry.changed else "same"
        parts.append(f'<tr class="{rows_cls}" data-case="{_e(entry.case_id)}"><td>{name}</td>'
                     f"<td>{_e(entry.status)}</td><td>{pages}</td><td>{first}</td></tr>")
    parts.append("</table>")
    return _page(title, "\n".join(parts))
