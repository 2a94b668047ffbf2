"""The `true_size_image` element: an image from the data printed at the size the data declares, in mm.

In: the element (`renderer.spec.model.TrueSizeImageElement`), the value its `source` names (an object with
``png``, ``width_mm``, ``height_mm``: `renderer.datamodels.impression.RegisteredImage`) and the layout's bound
parameters. Out: one `Image` drawing operation of exactly ``width_mm`` × ``height_mm``, centred in the element's
box — never scaled to fit — or a refusal (exit 3) when the size breaks the element's declared limits:
- ``true-size-too-large``: wider or taller than the box, or than ``max_mm`` (a number, or ``params.<name>``: a
  declared integer parameter a tenant sets; it can only make the limit tighter than the box);
- ``true-size-too-small``: it fits inside a ``min_mm`` square.
`check_document` applies the same checks to every such element whose source is a document-level path (``data.…``)
when the render is planned, before a 発行番号 is spent; composition checks again (a source under ``item.`` is
checked only there). Why general: any form that must reproduce a registered mark at its physical size — the 印影
of a 印鑑登録証明書, a 公印's impression on a 公印証明, a specimen signature, a photograph of a set size — needs
exactly this: size from the data, a largest box fixed by the layout, and a refusal instead of a silent scale.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from renderer.bind import BoundDocument
from renderer.compose.context import Site, resolve
from renderer.display import Image
from renderer.errors import LayoutError, RefusedError
from renderer.spec.model import Element, SizeLimit, TrueSizeImageElement
from renderer.units import mm
from renderer.values import Withheld

if TYPE_CHECKING:
    from renderer.compose.compose import Composer

TOO_LARGE = "true-size-too-large"
TOO_SMALL = "true-size-too-small"
#: a size within this many mm of a limit counts as on it (the data's mm are decimals)
EPSILON_MM = 1e-6


def _limit(value: SizeLimit | None, params: Mapping[str, Any], where: str) -> float | None:
    if value is None or isinstance(value, float | int):
        return value
    name = value.removeprefix("params.")
    given = params.get(name)
    if isinstance(given, bool) or not isinstance(given, int | float):
        raise LayoutError(f"{where}: {value} must name a declared numeric parameter (the layout's `parameters`)",
                          field=where)
    return float(given)


def check(el: TrueSizeImageElement, value: Any, params: Mapping[str, Any], *, where: str) -> tuple[float, float]:
    """The printed size (width, height) in mm of `value`, or a refusal naming the limit it breaks."""
    width, height = float(value.width_mm), float(value.height_mm)
    largest = _limit(el.max_mm, params, f"{where}.max_mm")
    box_w, box_h = el.size
    if largest is not None:
        box_w, box_h = min(box_w, largest), min(box_h, largest)
    if width > box_w + EPSILON_MM or height > box_h + EPSILON_MM:
        raise RefusedError(
            f"{el.source}: the image is {width:g} × {height:g} mm, larger than the {box_w:g} × {box_h:g} mm the "
            f"layout allows; it is printed at its true size, never scaled, so it is refused",
            rule=TOO_LARGE, field=el.source)
    smallest = _limit(el.min_mm, params, f"{where}.min_mm")
    if smallest is not None and width <= smallest + EPSILON_MM and height <= smallest + EPSILON_MM:
        raise RefusedError(
            f"{el.source}: the image is {width:g} × {height:g} mm and fits inside a {smallest:g} mm square, the "
            f"smallest the layout allows", rule=TOO_SMALL, field=el.source)
    return width, height


def compose_true_size_image(c: Composer, el: TrueSizeImageElement, site: Site) -> None:
    value = resolve(el.source, site.ctx, where=f"{site.path}.source")
    if value is None or isinstance(value, Withheld):
        return
    width, height = check(el, value, site.ctx.get("params", {}), where=site.path)
    at = site.at(el.at)
    x = at[0] + (el.size[0] - width) / 2
    y = at[1] + (el.size[1] - height) / 2
    site.ops.append(Image(mm(x), c.y(y + height), mm(width), mm(height), value.png))


def _elements(elements: Sequence[Element], path: str) -> Iterator[tuple[str, TrueSizeImageElement]]:
    """Every true-size image of the layout outside per-item blocks, with its layout path."""
    for i, el in enumerate(elements):
        here = f"{path}[{i}]"
        if isinstance(el, TrueSizeImageElement):
            yield here, el
        for children in el.children():
            if not children.per_item:
                yield from _elements(children.elements, f"{here}.{children.key}")


def check_document(doc: BoundDocument) -> None:
    """Refuse, before anything is spent, a document-level true-size image that breaks its element's limits."""
    params: dict[str, Any] = dict(doc.params)
    ctx = {"data": doc.data, "params": params}
    for path, el in _elements(doc.layout.elements, "elements"):
        if not el.source.startswith("data."):
            continue
        value = resolve(el.source, ctx, where=f"{path}.source")
        if value is not None and not isinstance(value, Withheld):
            check(el, value, params, where=path)


__all__ = ["TOO_LARGE", "TOO_SMALL", "check", "check_document", "compose_true_size_image"]
