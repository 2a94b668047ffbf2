"""The orchestrator: load → validate → bind → rules → compose → draw → finish.

In: an envelope (dict, as parsed from JSON) and `Settings`. Out: a `RenderResult` with the PDF bytes,
the display list dump (for golden files), the overflow report, the 発行番号 allocated for each copy and
the counts the issue log needs. Each stage lives in its own module; this one only calls them in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from renderer.bind import bind
from renderer.compose.compose import Composer
from renderer.diagnostics import from_pydantic
from renderer.display import dump
from renderer.draw import draw
from renderer.envelope import Envelope
from renderer.errors import InputError, UsageError
from renderer.finish import finish
from renderer.fonts import FontSet
from renderer.rules.policy import apply_rules
from renderer.settings import Settings
from renderer.spec.model import LayoutSpec
from renderer.spec.validate import load_layout
from renderer.state.serials import SerialCounter
from renderer.tenants import Tenant, load_tenant


@dataclass(frozen=True)
class RenderResult:
    pdf: bytes
    display: str
    overflow: list[dict[str, object]]
    chars: list[dict[str, object]]
    issue_numbers: list[str]
    sheets_per_copy: int
    pages: int
    seal_printed: bool
    my_number_printed: bool
    person_ids: list[str] = field(default_factory=list)


@lru_cache(maxsize=4)
def font_set(fonts_dir: Path) -> FontSet:
    return FontSet(fonts_dir)


class Renderer:
    """Holds what is shared between renders of one process: fonts, validated layouts, tenants."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fonts = font_set(settings.fonts_dir)
        self._layouts: dict[str, LayoutSpec] = {}
        self._tenants: dict[str, Tenant] = {}

    def layout_ids(self) -> list[str]:
        return sorted(p.stem for p in self.settings.layouts_dir.glob("*.yaml"))

    def layout(self, layout_id: str) -> LayoutSpec:
        spec = self._layouts.get(layout_id)
        if spec is None:
            path = self.settings.layouts_dir / f"{layout_id}.yaml"
            if not path.is_file():
                raise UsageError(f"unknown layout {layout_id!r}; known: {', '.join(self.layout_ids())}",
                                 field="layout")
            spec = self._layouts[layout_id] = load_layout(path, self.fonts)
        return spec

    def tenant(self, code: str) -> Tenant:
        tenant = self._tenants.get(code)
        if tenant is None:
            tenant = self._tenants[code] = load_tenant(self.settings.tenants_dir, code)
        return tenant

    def render(self, raw: Any, *, layout_id: str | None = None) -> RenderResult:
        envelope = parse_envelope(raw)
        if layout_id is not None and envelope.layout != layout_id:
            raise UsageError(f"the envelope's layout {envelope.layout!r} is not {layout_id!r}", field="layout")
        spec = self.layout(envelope.layout)
        tenant = self.tenant(envelope.tenant)
        doc = apply_rules(bind(envelope, spec, tenant))
        composer = Composer(doc, self.fonts)
        composer.count_sheets()   # fail on bad data before a serial is spent
        request = envelope.request
        serials = SerialCounter(self.settings.state_dir).allocate(
            tenant.code, request.issued_on, request.terminal, request.printer, request.copies)
        composed = composer.compose(serials)
        pdf = finish(draw(composed.document, self.fonts))
        members = getattr(getattr(doc.data, "household", None), "members", [])
        return RenderResult(
            pdf=pdf,
            display=dump(composed.document),
            overflow=composed.overflow,
            chars=composed.chars,
            issue_numbers=composed.issue_numbers,
            sheets_per_copy=composed.sheets_per_copy,
            pages=len(composed.document.pages),
            seal_printed=composed.seal_printed,
            my_number_printed=composed.my_number_printed,
            person_ids=[m.person_id for m in members],
        )


def parse_envelope(raw: Any) -> Envelope:
    if not isinstance(raw, dict):
        raise InputError("the input must be a JSON object {layout, tenant, request, data}", field="")
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        diags = from_pydantic(exc)
        raise InputError(f"invalid envelope: {len(diags)} problem(s)", diagnostics=diags,
                         field=diags[0].path if diags else None) from None
