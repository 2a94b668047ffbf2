"""What a render worker process does: warm up once, then run render and validate jobs.

In: `Settings` (at start) and jobs (`Job`: an op, the envelope as parsed JSON, the layout id of the URL,
the authenticated caller and the job id that owns the render's reservation).
Out: `RenderOutput` / `ValidateOutput` (PDF bytes and counts: never text of the document), or a
`JobError` — a plain, picklable summary of a `ChohyoError` (problem, rule, field, diagnostics) that the
service turns into problem+json. Nothing here writes logs; the issue-log record of a render is written by
`Renderer.render` before its PDF is returned.

Validation is the render pipeline as a dry run (`Renderer.prepare` in `Mode.VALIDATE`): it checks the
envelope, the data model, the tenant (devices, signer in office), the 交付年月日, the standard's rules and
that the text fits — but it neither consults the DV registry (a dry run must not become an unlogged probe
of who is protected) nor spends a 発行番号 or writes the issue log.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from renderer.api import Mode, Renderer
from renderer.caller import Caller
from renderer.draw.fonts import register_fonts
from renderer.errors import ChohyoError, RefusedError
from renderer.fonts import altered_chars
from renderer.rules.dv import BLOCK_RULE
from renderer.settings import Settings
from renderer.state.issue_log import IssuedNumber

Op = Literal["render", "validate", "preview", "verify"]


@dataclass(frozen=True)
class Job:
    op: Op
    raw: Any
    layout_id: str
    #: the authenticated caller (from the API key) and the request id that owns the job's reservation
    caller: Caller
    job_id: str | None = None
    #: preview: {"format": "pdf"|"png", "page": int, "outline": bool} (renderer.service.routes.preview);
    #: verify: {"tenant": the key's tenant, whose issue log alone is looked in}
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OverflowSummary:
    fields: int = 0
    steps: dict[str, int] = field(default_factory=dict)
    chars_lost: int = 0


@dataclass(frozen=True)
class RenderOutput:
    pdf: bytes
    issue_numbers: list[str]
    sheets_per_copy: int
    pages: int
    copies: int
    overflow: OverflowSummary
    log_seq: int
    pdf_sha256: str
    numbers: list[IssuedNumber]
    #: a signed PDF (`request.sign` / the tenant's policy): the delivered file's and the signer's sha256
    signed_sha256: str = ""
    signer_fingerprint: str = ""
    #: characters printed other than given, by kind (`renderer.fonts.altered_chars`): counts only
    altered_chars: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidateOutput:
    sheets_per_copy: int
    copies: int
    overflow: OverflowSummary


@dataclass(frozen=True)
class JobError:
    """A `ChohyoError` reduced to what crosses the process boundary (exceptions with keyword-only
    constructors do not unpickle)."""

    kind: Literal["input", "refused", "blocked", "internal"]
    problem: str
    title: str
    exit_code: int
    rule: str | None
    field: str | None
    errors: list[dict[str, Any]]
    #: an internal failure's message, for the server's log only (never answered): operational words such as
    #: ``internal failure (OperationalError)`` or the database that cannot be opened — never a resident's data
    cause: str | None = None

    @classmethod
    def of(cls, exc: ChohyoError) -> JobError:
        kind: Literal["input", "refused", "blocked", "internal"]
        if isinstance(exc, RefusedError):
            kind = "blocked" if exc.rule == BLOCK_RULE else "refused"
        elif exc.exit_code == 2:
            kind = "input"
        else:
            kind = "internal"
        return cls(kind=kind, problem=exc.problem, title=exc.title, exit_code=exc.exit_code, rule=exc.rule,
                   field=exc.field, errors=[d.as_dict() for d in exc.diagnostics],
                   cause=exc.message if kind == "internal" else None)


@dataclass(frozen=True)
class PreviewOutput:
    data: bytes
    media_type: str
    pages: int
    sheets_per_copy: int
    overflow: OverflowSummary
    log_seq: int


@dataclass(frozen=True)
class VerifyOutput:
    report: dict[str, Any]


Output = RenderOutput | ValidateOutput | PreviewOutput | VerifyOutput
Result = Output | JobError


def warm(settings: Settings) -> Renderer:
    """A renderer with every layout and tenant loaded and every font registered with ReportLab.

    A layout that does not load stops the worker (layouts are the service's own code); a tenant file
    that does not load is skipped here, so one 団体's broken file fails only that 団体's requests."""
    renderer = Renderer(settings)
    for layout_id in renderer.layout_ids():
        renderer.layout(layout_id)
    for path in sorted(settings.tenants_dir.glob("*.yaml")):
        with contextlib.suppress(ChohyoError):
            renderer.tenant(path.stem)
    register_fonts(renderer.fonts, set(renderer.fonts.files))
    return renderer


def summarize(overflow: list[dict[str, object]]) -> OverflowSummary:
    steps = Counter(str(o.get("step", "unknown")) for o in overflow)
    lost = 0
    for o in overflow:
        value = o.get("chars_lost", 0)
        lost += value if isinstance(value, int) else 0
    return OverflowSummary(fields=len(overflow), steps=dict(sorted(steps.items())), chars_lost=lost)


def validate(renderer: Renderer, raw: Any, layout_id: str, caller: Caller | None = None) -> ValidateOutput:
    plan = renderer.prepare(raw, layout_id=layout_id, caller=caller, mode=Mode.VALIDATE)
    return ValidateOutput(sheets_per_copy=plan.sheets, copies=plan.copies, overflow=summarize(plan.overflow))


def preview_or_verify(renderer: Renderer, job: Job) -> PreviewOutput | VerifyOutput:
    """A preview (`renderer.preview`: no 発行番号, a ``preview`` record) or a verify (`renderer.verify`)."""
    if job.op == "verify":
        from renderer.verify import verify_pdf

        return VerifyOutput(verify_pdf(renderer, job.raw, tenant=job.options.get("tenant")).as_dict())
    from renderer.preview import preview, to_png

    made = preview(renderer, job.raw, layout_id=job.layout_id, caller=job.caller,
                   outline=bool(job.options.get("outline")))
    png = job.options.get("format") == "png"
    return PreviewOutput(data=to_png(made.pdf, int(job.options.get("page", 1))) if png else made.pdf,
                         media_type="image/png" if png else "application/pdf", pages=made.pages,
                         sheets_per_copy=made.sheets_per_copy, overflow=summarize(made.overflow), log_seq=made.log_seq)


def run(renderer: Renderer, job: Job) -> Result:
    try:
        if job.op == "validate":
            return validate(renderer, job.raw, job.layout_id, job.caller)
        if job.op in ("preview", "verify"):
            return preview_or_verify(renderer, job)
        result = renderer.render(job.raw, layout_id=job.layout_id, with_display=False, caller=job.caller,
                                 job=job.job_id)
        copies = result.copies
        return RenderOutput(pdf=result.pdf, issue_numbers=result.issue_numbers,
                            sheets_per_copy=result.sheets_per_copy, pages=result.pages, copies=copies,
                            overflow=summarize(result.overflow), log_seq=result.log_seq,
                            pdf_sha256=result.pdf_sha256, numbers=result.numbers,
                            signed_sha256=result.signed_sha256, signer_fingerprint=result.signer_fingerprint,
                            altered_chars=altered_chars(result.chars))
    except ChohyoError as exc:
        return JobError.of(exc)
    except Exception as exc:   # an internal failure: its kind only, never its message (it may hold data)
        return JobError.of(ChohyoError(f"internal failure ({exc.__class__.__name__})"))
