"""What never changes is drawn once: static layers (Form XObjects) against the inline drawing.

In: the bundled layouts and samples, the golden inputs, generated varied 住民票 records (fictitious) and
layouts made up here. Out: assertions that
- staticness is derived from the layout model and an element reading the record is never static;
- no value of the record reaches a static layer;
- a batch file defines each form once and every page places it;
- pages with layers paint the same pixels as the inline pages (pypdfium2, 100 dpi, every pixel), with the
  same reports (overflow, characters, seal, 個人番号) and the same text;
- the bytes are deterministic whatever the process composed before;
- text extraction (pypdf) finds every character and reads labels before their values;
- the display dump lists each form once and pages name it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader

from renderer.api import Renderer, parse_envelope
from renderer.batch.work import FileTask, PlannedRecord, render_file, save_plan
from renderer.benchmarks.varied import varied_envelopes
from renderer.bind import BoundDocument, bind
from renderer.compose.compose import Composer
from renderer.compose.static import (
    STATIC_NAMES,
    StaticScope,
    clear_scopes,
    content_static,
    element_static,
    ink,
    static_template,
)
from renderer.display import Form, Image, Line, Op, Page, PagedDocument, Rect, TextRun, dump, dump_op
from renderer.draw import draw
from renderer.rules.policy import apply_rules
from renderer.settings import Settings
from renderer.spec.model import (
    ElementModel,
    FieldElement,
    GridElement,
    LayoutSpec,
    QrElement,
    TextElement,
)

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 27)   # the golden cases' day
RENDERER = Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts",
                             state_dir=Path("/nonexistent-state-never-written")))   # composing only
LAYOUT_IDS = sorted(p.stem for p in (ROOT / "layouts" / "samples").glob("*.json"))
GOLDEN_INPUTS = sorted((ROOT / "golden").glob("*/*/input.json"))
#: context names that carry the record (or the sheet and copy it is printed on): reading one is reading data
RECORD_NAMES = ("data", "request", "signer", "certification", "item", "index", "slot", "blank", "first_blank",
                "item_path", "sheet", "page", "copy", "issue_number", "group", "table", "table_page")
_READS_RECORD = re.compile(r"\b(" + "|".join(RECORD_NAMES) + r")\b")


# --------------------------------------------------------------------------- helpers


def envelope(path: Path) -> dict[str, Any]:
    """An envelope file, issued on its golden case's day (the `clock` fixture; else the cases' default day)."""
    env: dict[str, Any] = json.loads(path.read_text("utf-8"))
    fixtures = path.parent / "fixtures.json"
    clock = json.loads(fixtures.read_text("utf-8")).get("clock") if fixtures.exists() else None
    day = clock[:10] if clock else DAY.isoformat()
    env["request"] = {"issued_on": day, **env["request"]}
    return env


def bound(env: dict[str, Any], *, sample_tenant: bool = True) -> BoundDocument:
    """The envelope bound and rule-checked (no DV registry, no serials: composing only)."""
    parsed = parse_envelope(env, today=DAY)
    tenant = RENDERER.tenant(parsed.tenant)
    if not sample_tenant:   # the same municipality as a real one would be: no watermark, fills over nothing
        tenant = dataclasses.replace(tenant, file=tenant.file.model_copy(update={"sample": False}))
    return apply_rules(bind(parsed, RENDERER.layout(parsed.layout), tenant))


def compose(docs: list[BoundDocument], *, static: bool) -> tuple[list[Page], list[Composer]]:
    """Every document's pages (one copy each, serials 1, 2 …), as a batch worker composes a file."""
    pages: list[Page] = []
    composers: list[Composer] = []
    for serial, doc in enumerate(docs, start=1):
        composer = Composer(doc, RENDERER.fonts, static_forms=static)
        pages.extend(composer.stream([serial]))
        composers.append(composer)
    return pages, composers


def pdf_of(docs: list[BoundDocument], pages: list[Page]) -> bytes:
    info = Composer(docs[0], RENDERER.fonts).info()
    return draw(PagedDocument(info=info, pages=iter(pages)), RENDERER.fonts)


def raster(pdf: bytes, dpi: int = 100) -> list[np.ndarray]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [np.array(doc[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L"))
                for i in range(len(doc))]
    finally:
        doc.close()


def walk(elements: list[Any], path: str = "elements") -> Iterator[tuple[str, ElementModel]]:
    for i, el in enumerate(elements):
        here = f"{path}[{i}]"
        yield here, el
        for child in el.children():
            yield from walk(list(child.elements), f"{here}.{child.key}")


def reads_record(source: str | None) -> bool:
    """The test's own oracle: a template that names any record-bound context name reads the record."""
    return source is not None and "{" in source and _READS_RECORD.search(source) is not None


def to_unicode_maps(pdf: bytes) -> dict[str, bytes]:
    """Each embedded font subset's ToUnicode map: which character has which code in which subset."""
    out: dict[str, bytes] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            font = font.get_object()
            if "/ToUnicode" in font:
                out[str(font["/BaseFont"])] = font["/ToUnicode"].get_object().get_data()
    return out


def ink_chars(text: str) -> Counter[str]:
    """The characters extracted, whitespace left out (where an extractor puts spaces depends on the order)."""
    return Counter(ch for ch in text if not ch.isspace())


def varied_docs(count: int, seed: int) -> list[BoundDocument]:
    return [bound(env) for env in varied_envelopes(count, seed=seed)]


# --------------------------------------------------------------------------- staticness


@pytest.mark.parametrize("layout_id", LAYOUT_IDS)
def test_an_element_reading_the_record_is_never_static(layout_id: str) -> None:
    layout: LayoutSpec = RENDERER.layout(layout_id)
    static_leaves = 0
    for path, el in walk(list(layout.elements)):
        if isinstance(el, FieldElement) or getattr(el, "items", None) is not None:
            assert not element_static(el), f"{layout_id} {path}: binds data but was found static"
        if isinstance(el, TextElement) and reads_record(el.text):
            assert not element_static(el), f"{layout_id} {path}: {el.text!r} reads the record"
        if isinstance(el, QrElement) and reads_record(el.data):
            assert not element_static(el), f"{layout_id} {path}: a QR payload reading the record"
        if isinstance(el, GridElement):
            for i, cell in enumerate(el.cells):
                if cell.value is not None or reads_record(cell.text):
                    assert not content_static(cell), f"{layout_id} {path}.cells[{i}] reads the record"
                    assert not element_static(el)
                elif cell.text:
                    static_leaves += 1
        elif element_static(el) and not el.children():
            static_leaves += 1
    # certificates and notices are mostly labels and rules; a list is its table (composed per page: its
    # header is drawn by the table, which reads the rows) and titles naming the data
    least = 40 if layout_id == "juminhyo-setai" else 0 if layout.kind == "list" else 3
    assert static_leaves >= least, f"{layout_id}: only {static_leaves} static parts found"


@pytest.mark.parametrize("source", [
    "{{ data.household.head_name }}", "{{ item.name }}", "{% if request.seal %}印{% endif %}", "{{ lipsum() }}",
    "{{ sheet.n }}/{{ sheet.total }}", "{{ issue_number }}", "{{ tenant.full_name ~ data.x }}",
    "{{ index if index else '' }}", "{{ certification }}", "{{ signer.name }}", "{{ range(3) | list }}",
    "{% for x in data.members %}{{ x }}{% endfor %}", "{{ unknown_name }}", "{{ broken ", "{% set t = item %}{{ t }}",
])
def test_a_template_reading_anything_but_layout_tenant_options_params_is_dynamic(source: str) -> None:
    assert not static_template(source)
    assert not element_static(TextElement(type="text", at=(0, 0), width=10, text=source))


@pytest.mark.parametrize("source", [
    "住民票", "（次葉に続く）", "{{ tenant.full_name }}長", "{{ layout.title }}",
    "{% if options.seal_is_black_note %}この印は黒色です{% endif %}", "{{ params.ordinance or tenant.municipality }}",
])
def test_literal_text_and_templates_over_static_names_are_static(source: str) -> None:
    assert static_template(source)
    assert {"layout", "tenant", "options", "params"} == STATIC_NAMES


def test_fields_barcodes_and_grids_with_a_value_cell_are_dynamic() -> None:
    field = FieldElement(type="field", at=(0, 0), width=10, value="tenant.municipality")
    assert not element_static(field)   # a data path is data, whatever it names
    grid = GridElement.model_validate({"type": "grid", "at": (0, 0), "columns": [10, 10], "rows": [5], "cells": [
        {"col": 1, "row": 1, "text": "氏名"}, {"col": 2, "row": 1, "value": "item.name"}]})
    assert not element_static(grid)
    assert content_static(grid.cells[0]) and not content_static(grid.cells[1])
    qr = QrElement(type="qr", at=(0, 0), size=20, data="{{ data.notice_number }}")
    assert not element_static(qr)


def test_ink_commutes_only_one_opaque_gray() -> None:
    assert ink(TextRun(0, 0, "IPAexMincho", 9, "氏名")) == 0.0
    assert ink(Line(0, 0, 1, 1, 0.5, gray=0.5)) == 0.5
    assert ink(Rect(0, 0, 1, 1, stroke=0.4)) == 0.0
    assert ink(Rect(0, 0, 1, 1, stroke=None, fill_gray=0.9)) == 0.9
    assert ink(Rect(0, 0, 1, 1, stroke=0.4, fill_gray=0.9)) is None   # two grays: never moved across
    assert ink(Rect(0, 0, 1, 1, stroke=None, fill_gray=None)) is None


def test_a_piece_never_moves_across_a_record_op_of_another_ink() -> None:
    scope = StaticScope(595.28, 841.89)
    label = scope.form([TextRun(10, 10, "IPAexMincho", 9, "氏名")])
    rule = scope.form([Rect(5, 5, 50, 20, stroke=0.4)])
    fill = scope.form([Rect(5, 5, 50, 20, stroke=None, fill_gray=0.9)])
    black = TextRun(60, 10, "IPAexMincho", 9, "値")
    gray = TextRun(60, 10, "IPAexMincho", 9, "値", gray=0.5)
    # black over black: the rule joins the label's layer ahead of the value
    layered = scope.layer([label, black, rule])
    assert len(layered) == 2 and isinstance(layered[0], Form) and layered[1] is black
    assert [dump_op(op) for op in layered[0].ops] == [dump_op(op) for op in (*label.ops, *rule.ops)]
    # a gray value, or a fill: the rule stays after it
    assert scope.layer([label, gray, rule]) == [label, gray, rule]
    assert scope.layer([label, black, fill]) == [label, black, fill]


def test_a_label_over_a_record_fill_stays_over_it() -> None:
    """Pixels: the order the layering keeps matters (the move it refuses would hide the label)."""
    scope = StaticScope(595.28, 841.89)
    frame = scope.form([Rect(50, 700, 200, 40, stroke=0.8)])
    label = scope.form([TextRun(60, 712, "IPAexGothic", 14, "支給額")])
    shading = Rect(50, 700, 200, 40, stroke=None, fill_gray=0.8)   # drawn per record (a zebra row)
    inline: list[Op] = [frame, shading, label]
    layered = scope.layer(inline)
    assert layered == inline
    wrong = [scope.layer([frame, label])[0], shading]

    def pixels(ops: list[Op]) -> np.ndarray:
        page = Page(595.28, 841.89, tuple(ops))
        info = Composer(bound(envelope(ROOT / "layouts" / "samples" / "juminhyo-setai.json")), RENDERER.fonts).info()
        return raster(draw(PagedDocument(info=info, pages=[page]), RENDERER.fonts))[0]

    flat = pixels(list(Page(595.28, 841.89, tuple(inline)).flat_ops()))
    assert np.array_equal(pixels(layered), flat)
    assert not np.array_equal(pixels(wrong), flat)


# --------------------------------------------------------------------------- what the layers hold


def test_no_value_of_the_record_reaches_a_layer() -> None:
    envs = varied_envelopes(12, seed=5)
    docs = [bound(env) for env in envs]
    pages, _ = compose(docs, static=True)
    forms = {op.name: op for page in pages for op in page.ops if isinstance(op, Form)}
    assert forms
    layer_text = "\n".join(t for form in forms.values() for t in form.texts)
    values: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)
        elif isinstance(node, str) and len(node) >= 2:
            values.add(node)

    for env in envs:
        collect(env["data"])
    also_printed_by_the_layout = {"世帯主", "見本"}   # a label; the sample watermark (and a sample family name)
    leaked = sorted(v for v in values if v in layer_text and v not in also_printed_by_the_layout)
    assert not leaked, f"record values inside static layers: {leaked[:5]}"


def test_the_same_sheet_shape_places_the_same_layers_for_different_records() -> None:
    a, b = varied_docs(2, seed=11)
    first = [op.name for op in next(Composer(a, RENDERER.fonts).stream([1])).ops if isinstance(op, Form)]
    second = [op.name for op in next(Composer(b, RENDERER.fonts).stream([2])).ops if isinstance(op, Form)]
    assert first[:2] == second[:2]   # the watermark and the header: the same forms whatever the record


# --------------------------------------------------------------------------- one form per file


def test_a_batch_file_defines_each_form_once_and_every_page_places_it(tmp_path: Path) -> None:
    docs = varied_docs(12, seed=7)
    records = [PlannedRecord(position=i, line=i + 1, doc=doc, serials=(i + 1,)) for i, doc in enumerate(docs)]
    plan = tmp_path / "plan.pickle"
    save_plan(plan, records)
    out = tmp_path / "file.pdf"
    result = render_file(FileTask("file-00001", str(plan), str(out), str(ROOT / "fonts")))
    assert not result.failures
    pdf = out.read_bytes()
    pages, _ = compose(varied_docs(12, seed=7), static=True)
    names = {op.name for page in pages for op in page.ops if isinstance(op, Form)}
    placed = sum(1 for page in pages for op in page.ops if isinstance(op, Form))
    assert len(pages) == result.pages and placed > 2 * len(names)   # forms are reused across records
    assert pdf.count(b"/Subtype /Form") == len(names)               # each defined once in the file
    reader = PdfReader(io.BytesIO(pdf))
    objects: dict[str, set[int]] = {}
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for key, ref in resources.get("/XObject", {}).items():
            if str(key).startswith("/FormXob.S"):
                objects.setdefault(str(key), set()).add(ref.idnum)
    assert {k.removeprefix("/FormXob.") for k in objects} == names
    assert all(len(ids) == 1 for ids in objects.values())          # every page places the same object
    first = reader.pages[0].get_contents()
    assert first is not None and b"/FormXob.S" in first.get_data()


# --------------------------------------------------------------------------- the same pixels, reports, text


def _cases() -> list[tuple[str, list[dict[str, Any]], bool]]:
    golden = {p.parent.parent.name + "/" + p.parent.name: p for p in GOLDEN_INPUTS}
    picked = ["juminhyo-setai/setai-13nin-4mai", "juminhyo-kojin/gaikokujin-heiki", "tsuchisho-nozei/4ki-nofusho",
              "tsuchisho-kyufu-kettei/x-30000", "ichiran-kyufu/kurikoshi-3mai"]
    cases = [(name, [envelope(golden[name])], True) for name in picked]
    cases += [(name + " (not a sample tenant)", [envelope(golden[name])], False)
              for name in ("tsuchisho-nozei/4ki-nofusho", "tsuchisho-kyufu-kettei/x-30000")]
    cases.append(("30 varied records in one file", varied_envelopes(30, seed=3), True))
    return cases


@pytest.mark.parametrize(("name", "envs", "sample_tenant"), _cases(), ids=[c[0] for c in _cases()])
def test_layers_paint_the_inline_pixels_with_the_same_reports(name: str, envs: list[dict[str, Any]],
                                                               sample_tenant: bool) -> None:
    docs = [bound(env, sample_tenant=sample_tenant) for env in envs]
    inline_pages, inline = compose(docs, static=False)
    layered_pages, layered = compose(docs, static=True)
    assert any(isinstance(op, Form) for page in layered_pages for op in page.ops)
    assert not any(isinstance(op, Form) for page in inline_pages for op in page.ops)
    for p, q in zip(inline_pages, layered_pages, strict=True):   # the same ops, drawn in another grouping
        assert Counter(map(dump_op, p.ops)) == Counter(map(dump_op, q.flat_ops()))
    for x, y in zip(inline, layered, strict=True):
        assert (x.overflow, x.chars, x.seal_printed, x.my_number_printed) == \
               (y.overflow, y.chars, y.seal_printed, y.my_number_printed)
    old, new = pdf_of(docs, inline_pages), pdf_of(docs, layered_pages)
    # every character keeps its font subset and code (a run split across subsets elsewhere moves glyphs)
    assert to_unicode_maps(old) == to_unicode_maps(new)
    old_px, new_px = raster(old), raster(new)
    assert len(old_px) == len(new_px)
    for n, (a, b) in enumerate(zip(old_px, new_px, strict=True), start=1):
        differing = int((a != b).sum())
        assert differing == 0, f"{name}: page {n} differs in {differing} pixels"
    assert [ink_chars(p.extract_text()) for p in PdfReader(io.BytesIO(old)).pages] == \
           [ink_chars(p.extract_text()) for p in PdfReader(io.BytesIO(new)).pages]


def test_a_seal_turned_off_by_the_request_is_not_placed() -> None:
    env = envelope(ROOT / "layouts" / "samples" / "juminhyo-setai.json")
    on = bound(env)
    env["request"] = {**env["request"], "seal": False}
    off = bound(env)
    _, (with_seal,) = compose([on], static=True)
    pages, (without,) = compose([off], static=True)
    assert with_seal.seal_printed and not without.seal_printed
    assert not any(isinstance(op, Image) for page in pages for op in page.flat_ops())


# --------------------------------------------------------------------------- determinism


def test_bytes_are_the_same_whatever_the_process_composed_before() -> None:
    target = varied_docs(5, seed=21)
    clear_scopes()
    pages, _ = compose(target, static=True)
    first = pdf_of(target, pages)
    pages, _ = compose(target, static=True)   # every piece and layer now comes from the cache
    assert pdf_of(target, pages) == first
    clear_scopes()
    compose(varied_docs(9, seed=22), static=True)   # other records fill the cache in another order
    pages, _ = compose(varied_docs(5, seed=21), static=True)
    assert pdf_of(target, pages) == first


# --------------------------------------------------------------------------- text extraction


def test_extraction_reads_each_label_before_its_value_and_finds_every_character() -> None:
    env = envelope(ROOT / "layouts" / "samples" / "juminhyo-setai.json")
    doc = bound(env)
    pages, _ = compose([doc], static=True)
    pdf = pdf_of([doc], pages)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    household = env["data"]["household"]
    address = household["address"]["prefecture"] + household["address"]["municipality"]
    # a member who is not the head: the name is printed in the member's own block only
    second = next(m for m in household["members"] if m["name"] != household["head_name"] and "name_kana" in m)
    assert text.index("住所") < text.index(address)
    assert text.index("世帯主") < text.index(household["head_name"])
    assert text.index("氏名の振り仮名") < text.index(second["name_kana"])
    assert text.index("氏名") < text.index(second["name"])
    assert text.index("生年月日") < text.index(second["name"]) < text.index("この写しは")
    inline_pages, _ = compose([doc], static=False)
    inline = PdfReader(io.BytesIO(pdf_of([doc], inline_pages))).pages[0].extract_text()
    assert ink_chars(text) == ink_chars(inline)


# --------------------------------------------------------------------------- the dump


def test_the_dump_lists_each_form_once_and_pages_name_it() -> None:
    docs = varied_docs(6, seed=9)
    pages, composers = compose(docs, static=True)
    text = dump(PagedDocument(info=composers[0].info(), pages=pages))
    lines = text.splitlines()
    definitions = [ln.split()[1] for ln in lines if ln.startswith("form ")]
    references = [ln.split()[1] for ln in lines if ln.startswith("  form ")]
    assert len(definitions) == len(set(definitions)) == len(set(references))
    assert set(references) == set(definitions)
    first_page = lines.index(next(ln for ln in lines if ln.startswith("page 1 ")))
    assert all(lines.index(f"form {name} ops={n}") < first_page
               for name, n in ((f.name, len(f.ops)) for f in itertools.chain.from_iterable(
                   (op for op in p.ops if isinstance(op, Form)) for p in pages)))
    assert len(text.splitlines()) < sum(1 + len(list(p.flat_ops())) for p in pages)   # shorter than inline

