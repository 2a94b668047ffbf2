"""Validate a layout: structure (pydantic) and meaning (names, paths, fonts, templates, geometry).

In: a layout file path (or loaded YAML), the fonts; its part elements are filled from layouts/parts/ first
(`renderer.spec.parts`). Out: a `LayoutSpec`, or `LayoutError` carrying
*every* problem found, each with its path, source line and a hint (never just the first one).
`load_layout_traced` also returns the `LayoutSource`: the sha256 of the layout file's bytes as parsed and
of each part file the layout uses (provenance for the issue log).

Elements are walked through their own `children()`; every element gets the same checks (its `when`, and
its `extent()` against the sheet and the envelope window), then the checker of its type in `CHECKERS`.
"""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Union, get_args, get_origin

from jinja2 import meta
from pydantic import BaseModel, ValidationError

from renderer.datamodels import DATA_MODELS
from renderer.datamodels.address import address_paths
from renderer.diagnostics import Diagnostic, join_path
from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.formats.registry import FORMATTERS, check_args, jinja_filters
from renderer.paths import check as check_data_path
from renderer.paths import models_in
from renderer.spec.background import check_background
from renderer.spec.cache import cached_layout
from renderer.spec.model import (
    ELEMENT_TAGS,
    HUMAN_READABLE_MIN_PT,
    NUMBER_PATTERN,
    SCHEMA_VERSION,
    BarcodeElement,
    Cell,
    Element,
    ElementModel,
    Extent,
    FieldElement,
    FormatCall,
    FormatSpec,
    GridElement,
    LayoutSpec,
    Offset,
    QrElement,
    RepeatElement,
    TableElement,
    TextContent,
    TextElement,
    TrueSizeImageElement,
)
from renderer.spec.panels import panel_problems
from renderer.spec.parts import resolve_parts
from renderer.templating import Templates

if TYPE_CHECKING:   # YAML is read only when a layout is validated (a cache miss), so imported there
    from renderer.spec.load import Loaded

# Names a value path or template may start with (the render context built in renderer.compose).
CONTEXT_NAMES = frozenset({"data", "request", "tenant", "signer", "options", "params", "sheet", "page", "copy",
                           "layout", "issue_number", "certification"})
LIST_NAMES = frozenset({"group"})
REPEAT_NAMES = frozenset({"item", "slot", "index", "blank", "first_blank"})
_PLAIN_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")


#: where a layout's parts live, beside the layouts (``{type: part, use: <id>}`` → ``parts/<id>.yaml``)
PARTS_DIR = "parts"


@dataclass(frozen=True)
class LayoutSource:
    """What a layout was drawn from, for the issue log: `sha256` of the layout file's bytes exactly as they
    were parsed, and `parts`, each part file it uses (part id → sha256 of the file). A part file is hashed
    right after the parts were resolved (it is read by `renderer.spec.parts`), so a part rewritten in that
    instant could be cited with its new hash; the layout file itself is hashed from the very bytes parsed."""

    sha256: str
    parts: dict[str, str]


def load_layout(path: Path, fonts: FontSet) -> LayoutSpec:
    return load_layout_traced(path, fonts)[0]


def load_layout_traced(path: Path, fonts: FontSet) -> tuple[LayoutSpec, LayoutSource]:
    """The validated layout of `path`, and the sha256 of what it was loaded from (`LayoutSource`); from the
    per-machine cache (`renderer.spec.cache`) when these very bytes were validated before with these fonts."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read: {exc.__class__.__name__}") from None
    spec, source = cached_layout(fonts.cache.directory, path.stem, hashlib.sha256(raw).hexdigest(), fonts.fonts_dir,
                                 path.parent / PARTS_DIR, lambda: _load_layout(path, raw, text, fonts))
    check_background(spec, path, text)   # an overlay's background PDF: checked on every load, never cached
    return spec, source


def _load_layout(path: Path, raw: bytes, text: str, fonts: FontSet) -> tuple[LayoutSpec, LayoutSource]:
    from renderer.spec.load import load_yaml_text

    loaded = load_yaml_text(text, source=str(path))
    parts_dir = path.parent / PARTS_DIR
    spec = validate_loaded(resolve_parts(loaded, parts_dir), fonts)
    if spec.id != path.stem:
        raise LayoutError(f"{path}: id {spec.id!r} does not match the file name",
                          diagnostics=[Diagnostic("id", f"the layout in {path.name} must have id {path.stem!r}",
                                                  source=str(path), hint="a layout's id is its file name")])
    parts = {use: _file_sha256(parts_dir / f"{use}.yaml") for use in sorted(_parts_used(loaded.data))}
    return spec, LayoutSource(sha256=hashlib.sha256(raw).hexdigest(), parts=parts)


def _parts_used(raw: Any) -> set[str]:
    """The ids of the parts a loaded (unresolved) layout places: ``{type: part, use: <id>}`` at any depth."""
    found: set[str] = set()
    stack = [raw.get("elements")] if isinstance(raw, dict) else []
    while stack:
        elements = stack.pop()
        if not isinstance(elements, list):
            continue
        for el in elements:
            if not isinstance(el, dict):
                continue
            if el.get("type") == "part" and isinstance(el.get("use"), str):
                found.add(el["use"])
            stack.extend(el.get(key) for key in ("elements", "block"))
    return found


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise LayoutError(f"{path}: cannot read: {exc.__class__.__name__}") from None


def validate_loaded(loaded: Loaded, fonts: FontSet) -> LayoutSpec:
    raw = loaded.data
    src = loaded.source
    if isinstance(raw, dict) and raw.get("schema_version") not in (None, SCHEMA_VERSION):
        raise LayoutError(
            f"{src}: schema_version {raw.get('schema_version')!r} is not supported",
            diagnostics=[Diagnostic("schema_version", f"this renderer reads schema_version {SCHEMA_VERSION}",
                                    line=loaded.lines.get("schema_version"), source=src,
                                    hint="upgrade the renderer or migrate the layout")])
    try:
        spec = LayoutSpec.model_validate(raw)
    except ValidationError as exc:
        diags = pydantic_diagnostics(exc, loaded)
        raise LayoutError(f"{src}: {len(diags)} problem(s)", diagnostics=diags) from None
    diags = sorted(semantic_checks(spec, fonts, loaded), key=lambda d: (d.line or 0, d.path))
    if diags:
        raise LayoutError(f"{src}: {len(diags)} problem(s)", diagnostics=diags)
    return spec


def pydantic_diagnostics(exc: ValidationError, loaded: Loaded) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = _clean_loc(err["loc"])
        path = join_path("", loc)
        kind = err["type"]
        message = "unknown key" if kind == "extra_forbidden" else (
            "required item is missing" if kind == "missing" else str(err["msg"]))
        hint = {
            "extra_forbidden": "the layout language has no such key (see layouts/schema.json)",
            "missing": "add this required item",
            "union_tag_invalid": f"`type` must be one of: {', '.join(sorted(ELEMENT_TAGS))}",
        }.get(kind)
        message = message.removeprefix("Value error, ")
        out.append(Diagnostic(path=path, message=message, line=_line(path, loaded), hint=hint,
                              source=loaded.source))
    return sorted(_dedupe(out), key=lambda d: (d.line or 0, d.path))


def _clean_loc(loc: tuple[Any, ...]) -> list[Any]:
    """Drop pydantic's union-member labels from a location (``elements.3.grid.cells`` → ``elements[3].cells``)."""
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str):
            if out and isinstance(out[-1], int) and part in ELEMENT_TAGS:
                continue
            if not _PLAIN_KEY.match(part):
                continue
        out.append(part)
    return out


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, str]] = set()
    out = []
    for d in diags:
        if (d.path, d.message) not in seen:
            seen.add((d.path, d.message))
            out.append(d)
    return out


def _line(path: str, loaded: Loaded) -> int | None:
    while True:
        if path in loaded.lines:
            return loaded.lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return loaded.lines.get("")
        path = path[:cut]


# --------------------------------------------------------------------------- semantic checks


class Diag(Protocol):
    def __call__(self, path: str, message: str, hint: str | None = None) -> Diagnostic: ...


@dataclass(frozen=True)
class _Checks:
    """What every check reads: the layout, where its keys are in the file, and the template sandbox."""

    spec: LayoutSpec
    loaded: Loaded
    templates: Templates

    def diag(self, path: str, message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(path=path, message=message, line=_line(path, self.loaded), hint=hint,
                          source=self.loaded.source)


@dataclass(frozen=True)
class _Placed:
    """An element as the walk meets it: its path, where it is drawn and the names it may use."""

    path: str
    el: ElementModel
    depth: int                      # 0 for a top-level element
    origin: Offset                  # the origin its own coordinates are relative to
    reach: tuple[Offset, ...]       # offsets it is drawn at besides (a repeat's first and last slot)
    names: frozenset[str]           # names its templates and value paths may start with


def semantic_checks(spec: LayoutSpec, fonts: FontSet, loaded: Loaded) -> Iterator[Diagnostic]:
    """Every problem of meaning, in the order: styles, data-model paths, elements, the certificate."""
    checks = _Checks(spec, loaded, Templates(jinja_filters()))
    yield from _style_problems(checks, fonts)
    model = DATA_MODELS[spec.data_model]
    for item, omission in spec.omissions.items():
        for i, p in enumerate(omission.paths):
            problem = check_data_path(model, p)
            if problem:
                yield checks.diag(f"omissions.{item}.paths[{i}]", problem,
                                  f"paths are relative to the {spec.data_model} data; use name[] for lists")
    yield from _dv_problems(spec, model, checks.diag)
    yield from _consistency_problems(spec, model, checks.diag)
    for i, need in enumerate(spec.requires):   # requires: paths exist in the data model
        problem = check_data_path(model, need.path)
        if problem:
            yield checks.diag(f"requires[{i}].path", problem, f"paths are relative to the {spec.data_model} data")
    yield from _requester_problems(spec, model, checks.diag)
    yield from _element_problems(checks)
    yield from panel_problems(spec, checks.templates, checks.diag)   # a folded mailer (issue 20)
    if spec.kind == "certificate":
        yield from _certificate_problems(checks)
    if spec.signature_field is not None:   # a visible signature (renderer.signing) stays on the sheet
        width_mm, height_mm = spec.paper.size_mm()
        (x, y), (w, h) = spec.signature_field.at, spec.signature_field.size
        if x < 0 or y < 0 or x + w > width_mm or y + h > height_mm:
            yield checks.diag("signature_field.at", f"reaches ({x:g}, {y:g})–({x + w:g}, {y + h:g}) mm, outside the "
                              f"{width_mm:g}×{height_mm:g} mm sheet")


def _style_problems(checks: _Checks, fonts: FontSet) -> Iterator[Diagnostic]:
    known_fonts = set(fonts.families())
    for name, style in checks.spec.styles.items():
        for i, family in enumerate(style.fonts):
            if family not in known_fonts:
                yield checks.diag(f"styles.{name}.fonts[{i}]", f"unknown font {family!r}",
                                  f"fonts in fonts/manifest.toml: {', '.join(sorted(known_fonts))}")
    if "body" not in checks.spec.styles:
        yield checks.diag("styles", "a layout must define the `body` style (the default of every text)")


def _element_problems(checks: _Checks) -> Iterator[Diagnostic]:
    """Checks every element has (its `when`, the sheet, the window), then its type's own checker."""
    spec = checks.spec
    tables = [i for i, el in enumerate(spec.elements) if isinstance(el, TableElement)]
    if len(tables) > 1:
        yield checks.diag(f"elements[{tables[1]}]", "a layout has at most one table")
    names = CONTEXT_NAMES | (LIST_NAMES if tables else frozenset())
    sheet = spec.paper.size_mm()
    for placed in walk(spec.elements, "elements", names):
        el, path = placed.el, placed.path
        if el.when is not None:
            yield from _template_problems(checks.templates, el.when, f"{path}.when", placed.names, checks.diag,
                                          expression=True)
        box = el.extent(spec.styles)
        if box is not None:
            yield from _sheet_problems(checks, placed, box, sheet)
        checker = CHECKERS.get(type(el))
        if checker is not None:
            yield from checker(checks, placed, el)
        if el.in_window:
            if spec.window is None:
                yield checks.diag(f"{path}.in_window", "the layout declares no window", "add window: to the layout")
            elif box is not None:
                ox, oy = placed.origin
                yield from _window_problems(spec, el, path, (ox + box[0], oy + box[1], ox + box[2], oy + box[3]),
                                            checks.diag)


def walk(elements: Sequence[Element], prefix: str, names: frozenset[str], origin: Offset = (0.0, 0.0),
         reach: tuple[Offset, ...] = ((0.0, 0.0),), depth: int = 0) -> Iterator[_Placed]:
    """Every element with its origin and the offsets it is drawn at, containers before their children."""
    for i, el in enumerate(elements):
        path = f"{prefix}[{i}]"
        yield _Placed(path, el, depth, origin, reach, names)
        for group in el.children():
            yield from walk(group.elements, f"{path}.{group.key}", names | REPEAT_NAMES if group.per_item else names,
                            (origin[0] + group.offset[0], origin[1] + group.offset[1]),
                            group.slots if group.slots is not None else reach, depth + 1)


def _sheet_problems(checks: _Checks, placed: _Placed, box: Extent,
                    sheet: tuple[float, float]) -> Iterator[Diagnostic]:
    """The element stays on the sheet, in every slot it is drawn at (one diagnostic per element)."""
    width_mm, height_mm = sheet
    origin = placed.origin
    for dx, dy in placed.reach:
        x0, y0 = origin[0] + box[0] + dx, origin[1] + box[1] + dy
        x1, y1 = origin[0] + box[2] + dx, origin[1] + box[3] + dy
        if x0 < -1e-6 or y0 < -1e-6 or x1 > width_mm + 1e-6 or y1 > height_mm + 1e-6:
            where = "" if (dx, dy) == (0.0, 0.0) else " in the last slot of its repeat block"
            yield checks.diag(f"{placed.path}.at" if hasattr(placed.el, "at") else placed.path,
                              f"reaches ({x0:.1f}, {y0:.1f})–({x1:.1f}, {y1:.1f}) mm{where}, outside the "
                              f"{width_mm:g}×{height_mm:g} mm sheet")
            return


def _certificate_problems(checks: _Checks) -> Iterator[Diagnostic]:
    spec = checks.spec
    if not spec.certification:
        yield checks.diag("certification", "a certificate must declare its 認証文")
    if spec.issued_on_window is not None:
        yield checks.diag("issued_on_window", "a certificate is always dated today; issued_on_window is for "
                          "notices and lists", "remove issued_on_window from a certificate layout")
    if not any(isinstance(p.el, TextElement | FieldElement) and p.el.show_on == "every" and p.el.text
               and "issue_number" in p.el.text for p in walk(spec.elements, "elements", CONTEXT_NAMES)):
        yield checks.diag("elements", "a certificate must print {{ issue_number }} on every sheet",
                          "add a text element with show_on: every whose text uses issue_number (発行番号 n/N)")


# --------------------------------------------------------------------------- one checker per element type


def _check_text(checks: _Checks, at: _Placed, el: TextElement | FieldElement) -> Iterator[Diagnostic]:
    yield from _content_problems(checks.templates, el, at.path, at.names, checks.spec, checks.diag)


def _check_grid(checks: _Checks, at: _Placed, el: GridElement) -> Iterator[Diagnostic]:
    ncols, nrows = len(el.column_widths()), len(el.row_heights())
    for ci, cell in enumerate(el.cells):
        if cell.col + cell.cols - 1 > ncols or cell.row + cell.rows - 1 > nrows:
            yield checks.diag(f"{at.path}.cells[{ci}]", f"spans outside the {ncols}×{nrows} grid")
    for ci, cell in enumerate(el.cells):
        cpath = f"{at.path}.cells[{ci}]"
        yield from _content_problems(checks.templates, cell, cpath, at.names, checks.spec, checks.diag)
        if cell.when is not None:
            yield from _template_problems(checks.templates, cell.when, f"{cpath}.when", at.names, checks.diag,
                                          expression=True)


def _check_qr(checks: _Checks, at: _Placed, el: QrElement) -> Iterator[Diagnostic]:
    yield from _template_problems(checks.templates, el.data, f"{at.path}.data", at.names, checks.diag)


def _check_barcode(checks: _Checks, at: _Placed, el: BarcodeElement) -> Iterator[Diagnostic]:
    yield from _path_problem(el.source, f"{at.path}.source", at.names, checks.diag)
    if el.human_readable is not None:
        style = checks.spec.styles.get(el.human_readable)
        if style is None:
            yield checks.diag(f"{at.path}.human_readable", f"unknown style {el.human_readable!r}")
        elif style.size_pt < HUMAN_READABLE_MIN_PT:
            yield checks.diag(f"{at.path}.human_readable",
                              f"the digits under a GS1-128 are the manual-entry fallback: at least "
                              f"{HUMAN_READABLE_MIN_PT:g} pt (style {el.human_readable!r} is {style.size_pt:g} pt)",
                              "use a style of 8 pt or more; the digits wrap at their hyphens, never condense")


def _check_repeat(checks: _Checks, at: _Placed, el: RepeatElement) -> Iterator[Diagnostic]:
    if at.depth > 0:
        yield checks.diag(at.path, "a repeat block must be a top-level element",
                          "sheets are counted from top-level repeats")
    yield from _path_problem(el.items, f"{at.path}.items", at.names, checks.diag)


def _check_table(checks: _Checks, at: _Placed, el: TableElement) -> Iterator[Diagnostic]:
    if at.depth > 0:
        yield checks.diag(at.path, "a table must be a top-level element", "pages are counted from the table")
    yield from _table_problems(el, at.path, checks.spec, checks.templates, at.names, checks.diag)


def _check_true_size(checks: _Checks, at: _Placed, el: TrueSizeImageElement) -> Iterator[Diagnostic]:
    """Its source is a path of the context; a limit from ``params.<name>`` names a declared integer parameter."""
    yield from _path_problem(el.source, f"{at.path}.source", at.names, checks.diag)
    for key, limit in (("max_mm", el.max_mm), ("min_mm", el.min_mm)):
        if isinstance(limit, str):
            spec = checks.spec.parameters.get(limit.removeprefix("params."))
            if spec is None or spec.type != "integer":
                yield checks.diag(f"{at.path}.{key}", f"{limit} is not a declared integer parameter",
                                  "declare it under parameters: with type: integer")


Checker = Callable[[_Checks, _Placed, Any], Iterator[Diagnostic]]
#: the checks of each element type beyond those every element gets (`when`, sheet and window bounds from
#: its `extent()`); a type with nothing of its own to check (line, box, image, group) has no entry
CHECKERS: dict[type[ElementModel], Checker] = {
    TextElement: _check_text,
    FieldElement: _check_text,
    GridElement: _check_grid,
    QrElement: _check_qr,
    BarcodeElement: _check_barcode,
    RepeatElement: _check_repeat,
    TableElement: _check_table,
    TrueSizeImageElement: _check_true_size,
}


def _window_problems(spec: LayoutSpec, el: ElementModel, path: str, box: Extent,
                     diag: Diag) -> Iterator[Diagnostic]:
    """Content marked in_window stays inside the window by margin_mm, whatever the shift_mm."""
    window = spec.window
    assert window is not None
    inset = window.shift_mm + window.margin_mm
    x0, y0 = window.at[0] + inset, window.at[1] + inset
    x1, y1 = window.at[0] + window.size[0] - inset, window.at[1] + window.size[1] - inset
    if box[0] < x0 - 1e-6 or box[1] < y0 - 1e-6 or box[2] > x1 + 1e-6 or box[3] > y1 + 1e-6:
        yield diag(f"{path}.at", f"covers ({box[0]:.1f}, {box[1]:.1f})–({box[2]:.1f}, {box[3]:.1f}) mm, outside the "
                   f"window's safe area ({x0:.1f}, {y0:.1f})–({x1:.1f}, {y1:.1f}) mm",
                   f"the {window.envelope} window less {window.shift_mm:g} mm shift and {window.margin_mm:g} mm margin")


def _table_problems(el: TableElement, path: str, spec: LayoutSpec, templates: Templates, names: frozenset[str],
                    diag: Diag) -> Iterator[Diagnostic]:
    for attr in ("header_style", "body_style", "total_style"):
        if getattr(el, attr) not in spec.styles:
            yield diag(f"{path}.{attr}", f"unknown style {getattr(el, attr)!r}")
    keys: set[str] = set()
    for i, c in enumerate(el.columns):
        cpath = f"{path}.columns[{i}]"
        if c.key in keys:
            yield diag(f"{cpath}.key", f"column key {c.key!r} is used twice")
        keys.add(c.key)
        if not c.value.startswith("row."):
            yield diag(f"{cpath}.value", "a column value is a path starting with row.", "e.g. row.name")
        if c.style is not None and c.style not in spec.styles:
            yield diag(f"{cpath}.style", f"unknown style {c.style!r}")
        yield from _format_problems(c.format, cpath, diag)
    for i, key in enumerate(el.sort):
        if not key.by.startswith("row."):
            yield diag(f"{path}.sort[{i}].by", "a sort key is a path starting with row.")
    if el.group is not None:
        if not el.group.key.startswith("row."):
            yield diag(f"{path}.group.key", "a group key is a path starting with row.")
        for attr in ("header", "footer"):
            source = getattr(el.group, attr)
            if source is not None:
                yield from _template_problems(templates, source, f"{path}.group.{attr}", names | {"group"}, diag)


def _format_problems(fmt: FormatSpec | None, path: str, diag: Diag) -> Iterator[Diagnostic]:
    """A named formatter must exist and take the arguments given."""
    if fmt is None:
        return
    name = fmt.name if isinstance(fmt, FormatCall) else fmt
    if name not in FORMATTERS:
        yield diag(f"{path}.format", f"unknown formatter {name!r}", f"formatters: {', '.join(sorted(FORMATTERS))}")
    elif isinstance(fmt, FormatCall):
        for problem in check_args(name, fmt.args):
            yield diag(f"{path}.format.args", problem)


def _content_problems(templates: Templates, content: TextContent, path: str, names: frozenset[str],
                      spec: LayoutSpec, diag: Diag) -> Iterator[Diagnostic]:
    if content.style not in spec.styles:
        yield diag(f"{path}.style", f"unknown style {content.style!r}",
                   f"styles defined: {', '.join(sorted(spec.styles))}")
    if content.text is not None:
        yield from _template_problems(templates, content.text, f"{path}.text", names, diag)
    if content.value is not None:
        yield from _path_problem(content.value, f"{path}.value", names, diag)
    yield from _format_problems(content.format, path, diag)
    if isinstance(content, Cell) and content.text is None and content.value is None and content.format:
        yield diag(path, "format without a value")


def _path_problem(value: str, path: str, names: frozenset[str], diag: Diag) -> Iterator[Diagnostic]:
    head = value.split(".")[0]
    if head not in names:
        hint = f"{head} is only defined inside a repeat block" if head in REPEAT_NAMES else (
            f"a path starts with one of: {', '.join(sorted(names))}")
        yield diag(path, f"unknown name {head!r}", hint)


def _template_problems(templates: Templates, source: str, path: str, names: frozenset[str], diag: Diag,
                       *, expression: bool = False) -> Iterator[Diagnostic]:
    try:
        if expression:
            templates.check_expression(source, path=path)
        else:
            templates.check(source, path=path)
    except LayoutError as exc:
        yield diag(path, exc.message.split(": ", 1)[-1], "see the Jinja2 syntax")
        return
    ast = templates.env.parse(source if not expression else "{{ " + source + " }}")
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name not in names:
            yield diag(path, f"unknown name {name!r} in template",
                       f"templates may use: {', '.join(sorted(names))}")


def _dv_problems(spec: LayoutSpec, model: type[BaseModel], diag: Diag) -> Iterator[Diagnostic]:
    """DV 支援措置: a certificate blocks; declared protected paths exist and cover every address."""
    if spec.kind == "certificate" and spec.dv_policy == "redact_address":
        yield diag("dv_policy", "a certificate's DV policy is block (抑止: refused unless a 一時解除 covers it)",
                   "redact_address (「記載省略」) is for notices and lists")
    for name, p in spec.sort_keys.items():
        problem = check_data_path(model, p) or ("a sort key cannot go through a list" if "[]" in p else None)
        if problem:
            yield diag(f"sort_keys.{name}", problem, f"paths are relative to the {spec.data_model} data")
    if spec.dv_protected is None:
        return
    listed: set[str] = set()
    for kind, paths in spec.dv_protected.items():
        for i, p in enumerate(paths):
            problem = check_data_path(model, p)
            if problem:
                yield diag(f"dv_protected.{kind}[{i}]", problem,
                           f"paths are relative to the {spec.data_model} data; use name[] for lists")
            listed.add(p)
    for p in address_paths(model):
        if p not in listed:
            yield diag("dv_protected", f"the address {p!r} of the {spec.data_model} data is not listed",
                       "every address of the data model must be protected under current or previous")


def _requester_problems(spec: LayoutSpec, model: type[BaseModel], diag: Diag) -> Iterator[Diagnostic]:
    """`requesters.subject` names one person_id of the data model (not through a list)."""
    if spec.requesters is None or spec.requesters.subject is None:
        return
    p = spec.requesters.subject
    problem = check_data_path(model, p) or ("the subject is one person: it cannot go through a list"
                                            if "[]" in p else None)
    if problem is None and not p.endswith("person_id"):
        problem = f"{p!r}: the subject names a person_id (宛名番号)"
    if problem:
        yield diag("requesters.subject", problem, f"paths are relative to the {spec.data_model} data")


# --------------------------------------------------------------------------- consistency checks


def _consistency_problems(spec: LayoutSpec, model: type[BaseModel], diag: Diag) -> Iterator[Diagnostic]:
    """Each declared check: a unique name; `sum` a list path, `equals` and the operands of `product`/`add`
    single values, each path a number field of the data model or a declared numeric parameter."""
    names: set[str] = set()
    for i, check in enumerate(spec.checks):
        path = f"checks[{i}]"
        if check.name in names:
            yield diag(f"{path}.name", f"check name {check.name!r} is used twice", "each check has its own name")
        names.add(check.name)
        op, operands = check.operation()
        places = [(f"{path}.{op}" if op == "sum" else f"{path}.{op}[{j}]", o, op == "sum")
                  for j, o in enumerate(operands)]
        for where, operand, listed in [*places, (f"{path}.equals", check.equals, False)]:
            if isinstance(operand, str):
                problem = _check_operand_problem(spec, model, operand, listed=listed,
                                                 data_only=where.endswith((".sum", ".equals")))
                if problem:
                    yield diag(where, problem, f"paths are relative to the {spec.data_model} data (name[] for "
                                               "every item of a list); params.<name> is a declared parameter")


def _check_operand_problem(spec: LayoutSpec, model: type[BaseModel], operand: str, *, listed: bool,
                           data_only: bool) -> str | None:
    if operand.startswith("params."):
        if data_only:
            return f"{operand!r}: sum and equals name data, not a parameter"
        name = operand.removeprefix("params.")
        param = spec.parameters.get(name)
        if param is None:
            return f"{operand!r}: the layout declares no parameter {name!r}"
        if param.type == "boolean":
            return f"{operand!r}: a boolean parameter is not a number"
        if param.type == "string":
            if param.pattern is None:
                return f"{operand!r}: a string parameter read as a number must declare a pattern"
            if isinstance(param.default, str) and re.fullmatch(NUMBER_PATTERN, param.default) is None:
                return f"{operand!r}: its default is not a number"
        return None
    problem = check_data_path(model, operand)
    if problem:
        return problem
    if listed and "[]" not in operand:
        return f"{operand!r}: a sum adds every item of a list; write the list as name[]"
    if not listed and "[]" in operand:
        return f"{operand!r}: only a sum goes through a list ([]); this names one value"
    kinds = _leaf_annotations(model, operand)
    if not all(_is_number(k) for k in kinds):
        return f"{operand!r}: not a number field of {model.__name__}"
    return None


def _leaf_annotations(model: type[BaseModel], path: str) -> list[Any]:
    """The annotations the last step of a (checked) path may have, an item's when it ends in []."""
    *heads, last = path.split(".")
    current = [model]
    for step in heads:
        name = step.removesuffix("[]")
        nxt: list[type[BaseModel]] = []
        for m in current:
            nxt.extend(x for x in models_in(m.model_fields[name].annotation) if x not in nxt)
        current = nxt
    name = last.removesuffix("[]")
    annotations = [m.model_fields[name].annotation for m in current]
    if last.endswith("[]"):
        annotations = [a for ann in annotations for a in _list_items(ann)]
    return annotations


def _list_items(annotation: Any) -> list[Any]:
    if get_origin(annotation) is list:
        return list(get_args(annotation)[:1])
    return [a for arg in get_args(annotation) for a in _list_items(arg)]


def _is_number(annotation: Any) -> bool:
    """int, float or Decimal (not bool), possibly optional or Annotated."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_number(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return bool(args) and all(_is_number(a) for a in args)
    return annotation in (int, float, Decimal)
