"""Validate a layout: structure (pydantic) and meaning (names, paths, fonts, templates, geometry).

In: a layout file path (or loaded YAML), the fonts. Out: a `LayoutSpec`, or `LayoutError` carrying
*every* problem found, each with its path, source line and a hint (never just the first one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from renderer.barcodes.customer import QUIET_ZONE_MM as CUSTOMER_QUIET_MM
from renderer.barcodes.customer import symbol_size_mm
from renderer.barcodes.gs1 import QUIET_MODULES as GS1_QUIET_MODULES
from renderer.barcodes.gs1 import total_width_mm
from renderer.datamodels import DATA_MODELS
from renderer.datamodels.address import address_paths
from renderer.diagnostics import Diagnostic, join_path
from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.formats.registry import FORMATTERS, check_args, jinja_filters
from renderer.spec.load import Loaded, load_yaml
from renderer.spec.model import (
    ELEMENT_TAGS,
    SCHEMA_VERSION,
    BarcodeElement,
    BoxElement,
    Cell,
    Element,
    FieldElement,
    FormatCall,
    FormatSpec,
    GridElement,
    GroupElement,
    ImageElement,
    LayoutSpec,
    LineElement,
    QrElement,
    RepeatElement,
    TableElement,
    TextContent,
    TextElement,
)
from renderer.templating import Templates
from renderer.units import paper_size_mm

# Names a value path or template may start with (the render context built in renderer.compose).
CONTEXT_NAMES = frozenset({"data", "request", "tenant", "signer", "options", "params", "sheet", "page", "copy",
                           "layout", "issue_number", "certification"})
LIST_NAMES = frozenset({"group"})
REPEAT_NAMES = frozenset({"item", "slot", "index", "blank", "first_blank"})
_PLAIN_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")


def load_layout(path: Path, fonts: FontSet) -> LayoutSpec:
    spec = validate_loaded(load_yaml(path), fonts)
    if spec.id != path.stem:
        raise LayoutError(f"{path}: id {spec.id!r} does not match the file name",
                          diagnostics=[Diagnostic("id", f"the layout in {path.name} must have id {path.stem!r}",
                                                  source=str(path), hint="a layout's id is its file name")])
    return spec


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


def semantic_checks(spec: LayoutSpec, fonts: FontSet, loaded: Loaded) -> Iterator[Diagnostic]:
    def diag(path: str, message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(path=path, message=message, line=_line(path, loaded), hint=hint, source=loaded.source)

    known_fonts = set(fonts.families())
    for name, style in spec.styles.items():
        for i, family in enumerate(style.fonts):
            if family not in known_fonts:
                yield diag(f"styles.{name}.fonts[{i}]", f"unknown font {family!r}",
                           f"fonts in fonts/manifest.toml: {', '.join(sorted(known_fonts))}")
    if "body" not in spec.styles:
        yield diag("styles", "a layout must define the `body` style (the default of every text)")

    model = DATA_MODELS[spec.data_model]
    for item, omission in spec.omissions.items():
        for i, p in enumerate(omission.paths):
            problem = _check_model_path(model, p)
            if problem:
                yield diag(f"omissions.{item}.paths[{i}]", problem,
                           f"paths are relative to the {spec.data_model} data; use name[] for lists")
    yield from _dv_problems(spec, model, diag)

    templates = Templates(jinja_filters())
    width_mm, height_mm = paper_size_mm(spec.paper.size, spec.paper.orientation)
    has_issue_number = False
    tables = [i for i, el in enumerate(spec.elements) if isinstance(el, TableElement)]
    if len(tables) > 1:
        yield diag(f"elements[{tables[1]}]", "a layout has at most one table")
    base_names = CONTEXT_NAMES | (LIST_NAMES if tables else frozenset())
    for path, el, in_repeat, origin, reach in _walk(spec.elements, "elements", False, (0.0, 0.0),
                                                     [(0.0, 0.0)]):
        names = base_names | (REPEAT_NAMES if in_repeat else frozenset())
        if el.when is not None:
            yield from _template_problems(templates, el.when, f"{path}.when", names, diag, expression=True)
        if isinstance(el, RepeatElement):
            if in_repeat or not path.startswith("elements[") or path.count("[") > 1:
                yield diag(path, "a repeat block must be a top-level element",
                           "sheets are counted from top-level repeats")
            yield from _path_problem(el.items, f"{path}.items", names, diag)
        box = _extent(el, spec)
        if box is not None:
            for dx, dy in reach:
                x0, y0 = origin[0] + box[0] + dx, origin[1] + box[1] + dy
                x1, y1 = origin[0] + box[2] + dx, origin[1] + box[3] + dy
                if x0 < -1e-6 or y0 < -1e-6 or x1 > width_mm + 1e-6 or y1 > height_mm + 1e-6:
                    where = "" if (dx, dy) == (0.0, 0.0) else " in the last slot of its repeat block"
                    yield diag(f"{path}.at" if hasattr(el, "at") else path,
                               f"reaches ({x0:.1f}, {y0:.1f})–({x1:.1f}, {y1:.1f}) mm{where}, outside the "
                               f"{width_mm:g}×{height_mm:g} mm sheet")
                    break
        if isinstance(el, TextElement | FieldElement):
            yield from _content_problems(templates, el, path, names, spec, diag)
            if el.show_on == "every" and el.text and "issue_number" in el.text:
                has_issue_number = True
        if isinstance(el, GridElement):
            ncols, nrows = len(el.column_widths()), len(el.row_heights())
            for ci, cell in enumerate(el.cells):
                if cell.col + cell.cols - 1 > ncols or cell.row + cell.rows - 1 > nrows:
                    yield diag(f"{path}.cells[{ci}]", f"spans outside the {ncols}×{nrows} grid")
            for ci, cell in enumerate(el.cells):
                cpath = f"{path}.cells[{ci}]"
                yield from _content_problems(templates, cell, cpath, names, spec, diag)
                if cell.when is not None:
                    yield from _template_problems(templates, cell.when, f"{cpath}.when", names, diag,
                                                  expression=True)
        if isinstance(el, QrElement):
            yield from _template_problems(templates, el.data, f"{path}.data", names, diag)
        if isinstance(el, BarcodeElement):
            yield from _path_problem(el.source, f"{path}.source", names, diag)
            if el.human_readable is not None and el.human_readable not in spec.styles:
                yield diag(f"{path}.human_readable", f"unknown style {el.human_readable!r}")
        if el.in_window:
            if spec.window is None:
                yield diag(f"{path}.in_window", "the layout declares no window", "add window: to the layout")
            elif box is not None:
                yield from _window_problems(spec, el, path, (origin[0] + box[0], origin[1] + box[1],
                                                             origin[0] + box[2], origin[1] + box[3]), diag)
        if isinstance(el, TableElement):
            if path.count("[") > 1:
                yield diag(path, "a table must be a top-level element", "pages are counted from the table")
            yield from _table_problems(el, path, spec, templates, names, diag)
    if spec.kind == "certificate":
        if not spec.certification:
            yield diag("certification", "a certificate must declare its 認証文")
        if spec.issued_on_window is not None:
            yield diag("issued_on_window", "a certificate is always dated today; issued_on_window is for notices "
                       "and lists", "remove issued_on_window from a certificate layout")
        if not has_issue_number:
            yield diag("elements", "a certificate must print {{ issue_number }} on every sheet",
                       "add a text element with show_on: every whose text uses issue_number (発行番号 n/N)")


Offset = tuple[float, float]


def _walk(elements: list[Element], prefix: str, in_repeat: bool, origin: Offset,
          reach: list[Offset]) -> Iterator[tuple[str, Element, bool, Offset, list[Offset]]]:
    """Every element with its origin and the offsets it is drawn at (first and last repeat slot)."""
    for i, el in enumerate(elements):
        path = f"{prefix}[{i}]"
        yield path, el, in_repeat, origin, reach
        if isinstance(el, GroupElement):
            yield from _walk(el.elements, f"{path}.elements", in_repeat,
                             (origin[0] + el.at[0], origin[1] + el.at[1]), reach)
        elif isinstance(el, RepeatElement):
            last = (el.step[0] * (el.per_sheet - 1), el.step[1] * (el.per_sheet - 1))
            yield from _walk(el.block, f"{path}.block", True,
                             (origin[0] + el.origin[0], origin[1] + el.origin[1]),
                             [(0.0, 0.0), last])


def _extent(el: Element, spec: LayoutSpec) -> tuple[float, float, float, float] | None:
    """The box an element covers, relative to its origin (None for containers)."""
    if isinstance(el, TextElement | FieldElement):
        style = spec.styles.get(el.style)
        height = el.height if el.height is not None else (
            (style.size_pt * style.line_height) * 25.4 / 72 + 0.6 if style else 0.0)
        return (el.at[0], el.at[1], el.at[0] + el.width, el.at[1] + height)
    if isinstance(el, GridElement):
        return (el.at[0], el.at[1], el.at[0] + sum(el.column_widths()), el.at[1] + sum(el.row_heights()))
    if isinstance(el, BoxElement | ImageElement):
        return (el.at[0], el.at[1], el.at[0] + el.size[0], el.at[1] + el.size[1])
    if isinstance(el, QrElement):
        return (el.at[0], el.at[1], el.at[0] + el.size, el.at[1] + el.size)
    if isinstance(el, TableElement):
        return (el.at[0], el.at[1], el.at[0] + el.width(), el.at[1] + el.height)
    if isinstance(el, BarcodeElement):
        if el.symbology == "customer":
            w, h = symbol_size_mm(el.size_pt)
            quiet = CUSTOMER_QUIET_MM   # the quiet zone must be blank: it belongs to the element
            return (el.at[0] - quiet, el.at[1] - quiet, el.at[0] + w + quiet, el.at[1] + h + quiet)
        width = total_width_mm(el.module_mm)
        quiet = GS1_QUIET_MODULES * el.module_mm
        return (el.at[0] - quiet, el.at[1], el.at[0] - quiet + width, el.at[1] + el.height_mm)
    if isinstance(el, LineElement):
        return (min(el.start[0], el.end[0]), min(el.start[1], el.end[1]),
                max(el.start[0], el.end[0]), max(el.start[1], el.end[1]))
    return None


def _window_problems(spec: LayoutSpec, el: Element, path: str, box: tuple[float, float, float, float],
                     diag: Any) -> Iterator[Diagnostic]:
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
                    diag: Any) -> Iterator[Diagnostic]:
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


def _format_problems(fmt: FormatSpec | None, path: str, diag: Any) -> Iterator[Diagnostic]:
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
                      spec: LayoutSpec, diag: Any) -> Iterator[Diagnostic]:
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


def _path_problem(value: str, path: str, names: frozenset[str], diag: Any) -> Iterator[Diagnostic]:
    head = value.split(".")[0]
    if head not in names:
        hint = f"{head} is only defined inside a repeat block" if head in REPEAT_NAMES else (
            f"a path starts with one of: {', '.join(sorted(names))}")
        yield diag(path, f"unknown name {head!r}", hint)


def _template_problems(templates: Templates, source: str, path: str, names: frozenset[str], diag: Any,
                       *, expression: bool = False) -> Iterator[Diagnostic]:
    try:
        if expression:
            templates.check_expression(source, path=path)
        else:
            templates.check(source, path=path)
    except LayoutError as exc:
        yield diag(path, exc.message.split(": ", 1)[-1], "see the Jinja2 syntax")
        return
    from jinja2 import meta

    ast = templates.env.parse(source if not expression else "{{ " + source + " }}")
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name not in names:
            yield diag(path, f"unknown name {name!r} in template",
                       f"templates may use: {', '.join(sorted(names))}")


def _check_model_path(model: type[BaseModel], path: str) -> str | None:
    current: Any = model
    for part in path.split("."):
        name = part[:-2] if part.endswith("[]") else part
        fields = getattr(current, "model_fields", None)
        if fields is None or name not in fields:
            return f"{path!r}: {name!r} is not a field of {getattr(current, '__name__', current)}"
        annotation = fields[name].annotation
        current = _inner_model(annotation)
    return None


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside list[...] / Optional[...] / Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _inner_model(arg)
        if inner is not None and inner is not type(None):
            return inner
    return None


def _dv_problems(spec: LayoutSpec, model: type[BaseModel], diag: Any) -> Iterator[Diagnostic]:
    """DV 支援措置: a certificate blocks; declared protected paths exist and cover every address."""
    if spec.kind == "certificate" and spec.dv_policy == "redact_address":
        yield diag("dv_policy", "a certificate's DV policy is block (抑止: refused unless a 一時解除 covers it)",
                   "redact_address (「記載省略」) is for notices and lists")
    for name, p in spec.sort_keys.items():
        problem = _check_model_path(model, p) or ("a sort key cannot go through a list" if "[]" in p else None)
        if problem:
            yield diag(f"sort_keys.{name}", problem, f"paths are relative to the {spec.data_model} data")
    if spec.dv_protected is None:
        return
    listed: set[str] = set()
    for kind, paths in spec.dv_protected.items():
        for i, p in enumerate(paths):
            problem = _check_model_path(model, p)
            if problem:
                yield diag(f"dv_protected.{kind}[{i}]", problem,
                           f"paths are relative to the {spec.data_model} data; use name[] for lists")
            listed.add(p)
    for p in address_paths(model):
        if p not in listed:
            yield diag("dv_protected", f"the address {p!r} of the {spec.data_model} data is not listed",
                       "every address of the data model must be protected under current or previous")
