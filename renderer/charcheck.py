"""Character report: before a big print run, list every character that needs attention.

In: envelopes (one JSON object, or JSON Lines) and the layout they are for. Out: a `CharReport` with, per
record, every character that needs a fallback font, an IVS variant, a declared substitute, or that cannot
print at all, found by running the real pipeline up to composition (`Renderer.prepare` in `Mode.CHARS`:
bind and the standard's rules, no DV registry read, no serial, nothing drawn or logged) and composing with
every character event collected. Records that are invalid for other reasons are listed with their error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from renderer.api import Mode, Renderer
from renderer.compose.compose import Composer
from renderer.errors import ChohyoError


@dataclass
class CharReport:
    records: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    events: Counter[tuple[str, str, str]] = field(default_factory=Counter)   # (kind, sequence, font)
    fields: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)

    @property
    def uncovered(self) -> int:
        return sum(n for (kind, _s, _f), n in self.events.items() if kind == "uncovered")

    def as_dict(self) -> dict[str, Any]:
        rows = [{"kind": k, "sequence": s, "font": f or None, "count": n,
                 "fields": sorted(self.fields[(k, s, f)])}
                for (k, s, f), n in sorted(self.events.items())]
        return {"records": self.records, "characters": rows, "failed": self.failed,
                "uncovered": self.uncovered}


def check_record(renderer: Renderer, raw: Any, layout_id: str, report: CharReport, where: str) -> None:
    report.records += 1
    try:
        plan = renderer.prepare(raw, layout_id=layout_id, mode=Mode.CHARS)
        composer = Composer(plan.doc, renderer.fonts, collect_chars=True)
        composer.compose([0] * plan.copies)
    except ChohyoError as exc:
        report.failed.append({"record": where, "exit_code": exc.exit_code, "problem": exc.problem,
                              "field": exc.field, "rule": exc.rule,
                              "detail": "; ".join([exc.message, *(f"{d.path}: {d.message}" for d in exc.diagnostics)])})
        return
    for event in composer.chars:
        key = (str(event["kind"]), str(event["sequence"]), str(event.get("font") or ""))
        report.events[key] += 1
        report.fields.setdefault(key, set()).add(str(event["field"]))
