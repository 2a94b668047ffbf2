"""The orchestrator: load → validate → bind → rules → DV → compose → draw → finish → issue log.

In: an envelope (dict, as parsed from JSON) and `Settings` (including the injectable clock). Out: a
`RenderResult` with the PDF bytes, the display list dump (for golden files), the overflow report, the
発行番号 allocated for each copy, the counts the issue log needs and the DV outcome (lifts used,
warnings). Each stage lives in its own module; this one calls them in order and keeps three promises:
- time is the server's clock (`Settings.now`), never the request's: a certificate's 交付年月日 must be
  today in Asia/Tokyo (rule ``issued-on-today``), and DV lifts are judged by the same clock;
- every render and every refusal appends one record to the issue log (`renderer.state.issue_log`);
- a render whose log record cannot be written delivers nothing: the PDF is returned only after its
  record (with its 発行番号s and sha256) is committed, else `IssueLogError` (exit 1) is raised. A signed
  render (`request.sign` or the tenant's policy, decided in `plan` before a serial is spent) is signed after
  `finish` and before that record, which then also names the signed file's sha256 and the signer
  (`renderer.signing`); a signing failure voids the numbers and delivers nothing.

Provenance: every record of a render (``reserve``, ``render``, ``void``; single or batch, all built by
`request_body`) cites what drew it — the sha256 of the layout file as loaded (``layout_sha256``) and of each
part file it uses (``layout_parts_sha256``, part id → sha256: per file, so each can be checked with
``sha256sum``), of the tenant file (``tenant_sha256``), of the font manifest ``fonts/manifest.toml``
(``font_manifest_sha256``, which lists each font file's sha256) and the renderer version
(``renderer_version``). The hashes are those of the files when this process loaded them (layouts and
tenants are cached per `Renderer`), which is what drew the PDF even if a file changed on disk since.

`Renderer.prepare` is the one pipeline up to composition, for every entry point: the CLI and the service
render through `Renderer.render`, the service's validate, batch planning and the character report call it
with their `Mode` (what each mode runs and skips is said once, in `Mode`). `Renderer.layout_for` is the one
check that an envelope is for the layout the entry point names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from renderer import __version__
from renderer.bind import BoundDocument, bind
from renderer.caller import Caller
from renderer.compose.compose import UNNUMBERED, Composer, issue_number
from renderer.compose.true_size import check_document as check_true_size
from renderer.diagnostics import from_pydantic
from renderer.display import DisplayDump, Page, PagedDocument
from renderer.draw import draw
from renderer.envelope import Envelope
from renderer.errors import InputError, LayoutError, RefusedError, UsageError
from renderer.finish import finish
from renderer.fonts import font_set
from renderer.rows import RowsFile, RowStream, open_stream
from renderer.rules.dates import ISSUED_ON_RULE, check_issued_on
from renderer.rules.dv import (
    DvOutcome,
    apply_dv,
    check_claim,
    check_requester,
    persons_in,
    policy_of,
    printed_heads,
    requester_ids,
    warnings_for,
)
from renderer.rules.policy import apply_rules
from renderer.settings import Settings
from renderer.signing.policy import SigningPlan
from renderer.signing.policy import resolve as resolve_signing
from renderer.spec.model import LayoutSpec
from renderer.spec.validate import LayoutSource, load_layout_traced
from renderer.state.db import Database, open_database
from renderer.state.issue_log import IssuedNumber, IssueLog, IssueLogError, LogRecord
from renderer.state.registry import Registry
from renderer.suppressions import SnapshotSource
from renderer.tenants import Tenant, load_tenant

TOKYO = ZoneInfo("Asia/Tokyo")
#: a layout id, as `LayoutSpec.id` and the envelope's `layout` spell it
LAYOUT_ID = re.compile(r"^[a-z][a-z0-9-]{2,63}$")


class Mode(StrEnum):
    """What `Renderer.prepare` runs for an entry point; every difference between the entry points is here.

    ========  ==============================================  =========  =================  ============
    mode      used by                                         DV reads   devices, 交付年月日  sheets
    ========  ==============================================  =========  =================  ============
    render    CLI and service render (`Renderer.render`)      yes        yes                counted
    batch     batch planning (`renderer.batch.plan`)          yes        yes                counted
    validate  the service's validate (a dry run)              no         yes                counted
    chars     the character report (`renderer.charcheck`)     no         no                 not counted
    preview   previews (`renderer.preview`)                   yes        yes                counted
    ========  ==============================================  =========  =================  ============

    No mode spends a 発行番号 or writes the issue log: `Renderer.render` does, after `prepare`; a refusal
    is handed to the caller's `on_refusal` (a render logs it at once, a batch in its chunk's commit).
    ``validate`` never reads the DV registry: a dry run must not become an unlogged probe of who is
    protected. ``batch`` differs from ``render`` only in that a record naming another layout is invalid
    input (`InputError`: the run goes on), where a single render's wrong layout is a usage error. ``chars``
    reads the data the way composition will (bind and the standard's rules) but leaves the request's checks
    to the run itself, so a file can be checked before its day. ``preview`` runs everything ``render`` does
    (a preview never shows what a print would not); `renderer.preview` then composes without a 発行番号 and
    logs a ``preview`` record instead of spending serials. In every mode a request without ``issued_on`` is
    issued today by the server's clock.
    """

    RENDER = "render"
    BATCH = "batch"
    VALIDATE = "validate"
    CHARS = "chars"
    PREVIEW = "preview"

    @property
    def reads_registry(self) -> bool:
        return self in (Mode.RENDER, Mode.BATCH, Mode.PREVIEW)

    @property
    def checks_request(self) -> bool:
        """Declared terminal and printer, and the 交付年月日 (today for a certificate, else the window)."""
        return self is not Mode.CHARS

    @property
    def counts_sheets(self) -> bool:
        return self is not Mode.CHARS


#: told of a refusal by the rules (after bind) before it is raised: the envelope, its layout, the error
OnRefusal = Callable[[Envelope, LayoutSpec, RefusedError], None]


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
    lifts_used: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pdf_sha256: str = ""
    log_seq: int = 0
    numbers: list[IssuedNumber] = field(default_factory=list)
    #: copies drawn (each with its own 発行番号 when the layout prints one; `issue_numbers` is empty otherwise)
    copies: int = 1
    #: a signed PDF (`request.sign` or the tenant's policy): sha256 of the delivered, signed file and of the
    #: signer's certificate; `pdf_sha256` stays the unsigned drawing's (the first bytes of the signed file)
    signed_sha256: str = ""
    signer_fingerprint: str = ""


@lru_cache(maxsize=4)
def font_manifest_sha256(fonts_dir: Path) -> str:
    """sha256 of ``<fonts_dir>/manifest.toml`` (read once per process and directory, like `font_set`)."""
    try:
        return hashlib.sha256((fonts_dir / "manifest.toml").read_bytes()).hexdigest()
    except OSError as exc:
        raise LayoutError(f"{fonts_dir / 'manifest.toml'}: cannot read the font manifest "
                          f"({exc.__class__.__name__})") from None


class Renderer:
    """Holds what is shared between renders of one process: fonts, validated layouts, tenants."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fonts = font_set(settings.fonts_dir)
        self._layouts: dict[str, LayoutSpec] = {}
        self._sources: dict[str, LayoutSource] = {}
        self._tenants: dict[str, Tenant] = {}
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.settings)
        return self._db

    @property
    def registry(self) -> Registry:
        return Registry(self.db)

    @property
    def issue_log(self) -> IssueLog:
        return IssueLog(self.settings, self.db)

    def layout_ids(self) -> list[str]:
        """The layouts of the layouts directory; a directory that is missing or holds none is a `UsageError`
        naming the setting (a mistyped ``CHOHYO_LAYOUTS_DIR`` would otherwise validate, list nothing, and
        start a service that can render nothing)."""
        where = self.settings.layouts_dir
        found = sorted(p.stem for p in where.glob("*.yaml"))
        if not found:
            why = "holds no layout (*.yaml)" if where.is_dir() else "is not a directory"
            raise UsageError(f"CHOHYO_LAYOUTS_DIR (--layouts-dir) {where} {why}", field="CHOHYO_LAYOUTS_DIR")
        return found

    def layout(self, layout_id: str) -> LayoutSpec:
        """The validated layout of a layout id; a name that is not an id (a path) is unknown, so nothing
        outside the layouts directory is ever loaded."""
        spec = self._layouts.get(layout_id)
        if spec is None:
            if not LAYOUT_ID.fullmatch(layout_id):
                raise self._unknown(layout_id)
            path = self.settings.layouts_dir / f"{layout_id}.yaml"
            if not path.is_file():
                raise self._unknown(layout_id)
            spec, self._sources[layout_id] = load_layout_traced(path, self.fonts)
            self._layouts[layout_id] = spec
        return spec

    def provenance(self, spec: LayoutSpec, tenant: Tenant) -> dict[str, Any]:
        """What draws a document of `spec` for `tenant`, as every record of its render cites it."""
        self.layout(spec.id)
        source = self._sources[spec.id]
        return {"layout_sha256": source.sha256, "layout_parts_sha256": dict(source.parts),
                "tenant_sha256": tenant.sha256, "font_manifest_sha256": font_manifest_sha256(self.settings.fonts_dir),
                "renderer_version": __version__}

    def _unknown(self, layout_id: str) -> UsageError:
        return UsageError(f"unknown layout {layout_id!r}; known: {', '.join(self.layout_ids())}", field="layout")

    def tenant(self, code: str) -> Tenant:
        tenant = self._tenants.get(code)
        if tenant is None:
            tenant = self._tenants[code] = load_tenant(self.settings.tenants_dir, code, self.fonts.cache.directory)
        return tenant

    def render(self, raw: Any, *, layout_id: str | None = None, with_display: bool = True,
               caller: Caller | None = None, job: str | None = None, rows: RowsFile | None = None) -> RenderResult:
        """Render one envelope for `caller` (default: this process's OS user, with no grants). Pages are
        composed and drawn one at a time (a long list never sits in memory); `with_display=False` skips the
        display-list text (bulk runs). `job` names the reservation so that a supervisor can void its
        numbers if this process dies mid-render (the service passes its request id). `rows`: a list's rows
        streamed from a JSONL file, `raw` being the header envelope without them (`renderer.rows`)."""
        who = caller or Caller.local()
        now = self.settings.now()

        def log_refusal(envelope: Envelope, spec: LayoutSpec, exc: RefusedError) -> None:
            self.issue_log.append(refusal_record(envelope, spec, exc, now, who))   # IssueLogError if it cannot

        plan = self.prepare(raw, layout_id=layout_id, caller=who, now=now, on_refusal=log_refusal, rows=rows)
        return self._render(plan, now, who, job, with_display)

    def prepare(self, raw: Any, *, layout_id: str | None, caller: Caller | None = None, mode: Mode = Mode.RENDER,
                now: dt.datetime | None = None, today: dt.date | None = None,
                registry: SnapshotSource | None = None, on_refusal: OnRefusal | None = None,
                rows: RowsFile | None = None) -> Plan:
        """The one pipeline up to composition, for every entry point: parse the envelope, check it is for
        `layout_id` (`layout_for`), load its tenant, then `plan` it as `mode` says.

        `now` is the server's clock (default: read it now); a request without ``issued_on`` is issued `today`
        (default: today in Asia/Tokyo by `now`). Raises `InputError` / `UsageError` / `LayoutError` (exit 2)
        or `RefusedError` (exit 3, after telling `on_refusal`); nothing is spent or logged here."""
        who = caller or Caller.local()
        now = now or self.settings.now()
        envelope = parse_envelope(raw, today=today or now.astimezone(TOKYO).date())
        spec = self.layout_for(envelope, layout_id, error=InputError if mode is Mode.BATCH else UsageError)
        tenant = self.tenant(envelope.tenant)
        for kind, why in spec.not_issued_by.items():
            if kind in tenant.kinds:
                raise (InputError if mode is Mode.BATCH else UsageError)(
                    f"tenant: {tenant.code} ({tenant.local_name}) does not issue {spec.id}: {why}", field="tenant")
        try:
            return self.plan(envelope, spec, tenant, now, caller=who, registry=registry, mode=mode, rows=rows)
        except RefusedError as exc:
            if on_refusal is not None:
                on_refusal(envelope, spec, exc)
            raise

    def layout_for(self, envelope: Envelope, layout_id: str | None, *,
                   error: type[UsageError] | type[InputError] = UsageError) -> LayoutSpec:
        """The envelope's layout, which must be `layout_id` when the entry point names one (a URL, a CLI
        argument, a batch run): an unknown `layout_id` is a `UsageError` listing the known ones; a known one
        the envelope does not name raises `error` (a batch record: `InputError`)."""
        if layout_id is not None and envelope.layout != layout_id:
            if layout_id not in self._layouts and layout_id not in self.layout_ids():   # never loaded: it may be a path
                raise self._unknown(layout_id)
            raise error(f"layout: the envelope names layout {envelope.layout!r}, but this call renders "
                        f"{layout_id!r}", field="layout")
        return self.layout(envelope.layout)

    def plan(self, envelope: Envelope, spec: LayoutSpec, tenant: Tenant, now: dt.datetime, *,
             caller: Caller | None = None, registry: SnapshotSource | None = None,
             mode: Mode = Mode.RENDER, rows: RowsFile | None = None) -> Plan:
        """Everything up to composition: declared terminal and printer, 相手方 check, the caller's right
        to its claim, bind, 交付年月日, rules, DV, sheet count (each only when `mode` runs it). Raises
        `InputError` (bad data) or `RefusedError` (a rule); no serial is spent and nothing is logged here.
        `registry` answers the DV reads (default: the database, one read transaction each; a batch passes
        an in-memory view whose generation it checks when it commits)."""
        who = caller or Caller.local()
        request = envelope.request
        source: SnapshotSource | None = (registry or self.registry) if mode.reads_registry else None
        if mode.checks_request:
            tenant.device_name("terminal", request.terminal)   # undeclared: exit 2, before anything is spent
            tenant.device_name("printer", request.printer)
        signing = resolve_signing(request.sign, tenant.file.signing, output=request.output, tenant_code=tenant.code,
                                  signing_dir=self.settings.signing_dir, batch=mode is Mode.BATCH) \
            if mode in (Mode.RENDER, Mode.BATCH, Mode.VALIDATE) else None   # impossible: exit 2, nothing spent
        asking = requester_ids(request)
        if source is not None and asking:   # a registered 相手方 is refused on every layout, before anything else
            first = source.snapshot(tenant.code, [], asking, spec.id, now)
            check_requester(first, request)
            check_claim(first, request, who)
        stream: RowStream | None = None
        if rows is not None:   # a streamed list: bind the header, then validate every row of the file
            envelope, stream = open_stream(envelope, spec, rows)
        bound = bind(envelope, spec, tenant)
        if stream is not None:
            stream.scan(bound)
        if mode.checks_request:
            check_issued_on(spec, request.issued_on, now.astimezone(TOKYO).date())
        doc = apply_rules(bound)
        dv = DvOutcome(policy=policy_of(spec))
        if source is not None:
            doc, dv = _protect(bound, doc, source, asking, now, who, stream)
        if stream is not None:   # the rows, read through the rules (and DV) whenever they are asked for
            doc = stream.attach(doc)
        check_true_size(doc)   # an image larger than its layout box is refused before a number is spent
        sheets, overflow = 0, list[dict[str, object]]()
        if mode.counts_sheets:   # fail on bad data before a serial is spent
            composer = Composer(doc, self.fonts)
            sheets, overflow = composer.count_sheets(), composer.overflow
        person_ids = [pid for _, pid in persons_in(doc.data)] + (stream.person_ids if stream is not None else [])
        return Plan(doc=doc, sheets=sheets, person_ids=person_ids, dv=dv,
                    caller=who, overflow=overflow, provenance=self.provenance(spec, tenant), signing=signing)

    def _render(self, plan: Plan, now: dt.datetime, caller: Caller, job: str | None,
                with_display: bool) -> RenderResult:
        doc, dv = plan.doc, plan.dv
        request, tenant = doc.request, doc.tenant
        numbered = doc.layout.prints_issue_number   # a number that is not printed is not spent
        reserve_seq: int | None = None
        numbers: list[IssuedNumber] = []
        if numbered:
            reserve = LogRecord("reserve", now, request_body(plan.doc, caller, plan.provenance), job=job)
            reserve_seq, numbers = self.issue_log.reserve(reserve, tenant.code, request.issued_on,
                                                          request.terminal, request.printer, request.copies)
        try:
            composer = Composer(doc, self.fonts)
            serials = [n.serial for n in numbers] if numbered else [UNNUMBERED] * request.copies
            issue_numbers = [issue_number(doc, s) for s in serials] if numbered else []
            dumped = DisplayDump()
            pages = 0

            def on_page(n: int, page: Page) -> None:
                nonlocal pages
                pages = n
                if with_display:
                    dumped.add(n, page)

            info = composer.info()
            pdf = finish(draw(PagedDocument(info=info, pages=composer.stream(serials)), self.fonts,
                              on_page=on_page, pdfa_2=request.pdfa), pdfa_2=request.pdfa)
            display = dumped.text(info, pages) if with_display else ""
            sha = hashlib.sha256(pdf).hexdigest()
            signed = None
            if plan.signing is not None:   # after finish, before the record: a signing failure delivers nothing
                from renderer.signing.sign import sign_pdf, visible_field
                signed = sign_pdf(pdf, plan.signing.config, plan.signing.level,
                                  visible_field(doc.layout.signature_field, self.fonts))
            record = render_record(plan, now, pages=pages, issue_numbers=issue_numbers,
                                   seal_printed=composer.seal_printed, my_number_printed=composer.my_number_printed,
                                   pdf_sha256=sha, closes=numbers, extra=signed.record() if signed else None)
            seq = self.issue_log.append(record)   # no record, no PDF: raises IssueLogError (exit 1)
        except BaseException as exc:   # the numbers were reserved: account for them before going on
            if reserve_seq is not None:
                self.void(reserve_seq, doc, caller, now, void_reason(exc), getattr(exc, "rule", None),
                          provenance=plan.provenance)
            raise
        return RenderResult(
            pdf=signed.pdf if signed else pdf,
            display=display,
            overflow=composer.overflow,
            chars=composer.chars,
            issue_numbers=issue_numbers,
            sheets_per_copy=plan.sheets,
            pages=pages,
            seal_printed=composer.seal_printed,
            my_number_printed=composer.my_number_printed,
            person_ids=plan.person_ids,
            lifts_used=dv.lifts,
            warnings=dv.warnings,
            pdf_sha256=sha,
            log_seq=seq,
            numbers=numbers,
            copies=request.copies,
            signed_sha256=signed.sha256 if signed else "",
            signer_fingerprint=signed.signer_fingerprint if signed else "",
        )

    def void(self, reserve_seq: int, doc: BoundDocument, caller: Caller, now: dt.datetime, reason: str,
             rule: str | None = None, *, provenance: Mapping[str, Any] | None = None) -> None:
        """Close the open numbers of one reservation with a ``void`` record. Best effort: when the log
        itself is what failed, the reservation stays open and `chohyo audit verify` reports it."""
        body = {**request_body(doc, caller, provenance), "reason": reason, "rule": rule}
        with contextlib.suppress(IssueLogError):
            self.issue_log.void_open(LogRecord("void", now, body), seqs=[reserve_seq])

    def spoil(self, numbers: Sequence[IssuedNumber], issue_numbers: Sequence[str], *, layout: str, tenant: str,
              caller: Caller, reason: str) -> None:
        """A rendered PDF that never reached its reader (the client went away, the file could not be
        written): a ``void`` record marks its numbers spoiled (処分). Raises `IssueLogError` if it cannot."""
        body = {"tenant": tenant, "layout": layout, "caller": caller.record(), "reason": reason,
                "issue_numbers": list(issue_numbers)}
        self.issue_log.append(LogRecord("void", self.settings.now(), body, closes=tuple(numbers), spoils=True))


def void_reason(exc: BaseException) -> str:
    """Why a reserved render failed, as the void record says it (never the exception's text)."""
    if isinstance(exc, RefusedError):
        return "refused"
    if isinstance(exc, InputError | LayoutError):
        return "invalid"
    if isinstance(exc, IssueLogError):
        return "log-failed"
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return "interrupted"
    return f"failed ({exc.__class__.__name__})"


def _protect(bound: BoundDocument, doc: BoundDocument, source: SnapshotSource, asking: Sequence[str],
             now: dt.datetime, caller: Caller, stream: RowStream | None = None) -> tuple[BoundDocument, DvOutcome]:
    """The DV step: read the registry for everyone in the bound document (before members were selected),
    apply the rules of `renderer.rules.dv` to `doc` and attach the registry's warnings. Streamed rows are
    among everyone; their own values are protected row by row (`RowStream.protect`)."""
    everyone = persons_in(bound.data) + (stream.everyone() if stream is not None else [])
    layout, tenant = doc.layout, doc.tenant
    snapshot = source.snapshot(tenant.code, [pid for _, pid in everyone], asking, layout.id, now)
    doc, dv = apply_dv(doc, everyone, snapshot, caller, extra=printed_heads(bound.data, doc.data))
    if stream is not None:
        dv = stream.protect(snapshot, caller, dv)
    today = now.astimezone(TOKYO).date()
    return doc, dataclasses.replace(dv, warnings=warnings_for(snapshot, dv.protected, today))


@dataclass(frozen=True)
class Plan:
    """What will be printed for one envelope: the document after the rules and DV, its sheets per copy
    (0 when the mode does not count them) and the overflow report of that count."""

    doc: BoundDocument
    sheets: int
    person_ids: list[str]
    dv: DvOutcome
    caller: Caller = field(default_factory=Caller.local)
    overflow: list[dict[str, object]] = field(default_factory=list)
    #: what draws it (`Renderer.provenance`): layout, parts, tenant and font manifest sha256, renderer version
    provenance: dict[str, Any] = field(default_factory=dict)
    #: sign the finished PDF (level and the tenant's signing configuration), decided before a serial is spent
    signing: SigningPlan | None = None

    @property
    def copies(self) -> int:
        return self.doc.request.copies


def request_body(doc: BoundDocument, caller: Caller, provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Who asked for what, as every record of a render states it: the authenticated caller beside the
    request's free-text operator and the requester's claim (never a name, address or number), and what
    draws it (`provenance`, see the module docstring; hashes and a version only)."""
    request = doc.request
    r = request.requester
    return {"operator": request.operator, "caller": caller.record(), "tenant": doc.tenant.code,
            "layout": doc.layout.id, "kind": doc.layout.kind, "channel": request.channel, "output": request.output,
            "relation": r.relation, "requester_person_id": r.person_id, "acting_for": r.acting_for,
            "terminal": request.terminal, "printer": request.printer, "copies": request.copies,
            **(provenance or {})}


def render_record(plan: Plan, now: dt.datetime, *, pages: int, issue_numbers: list[str], seal_printed: bool,
                  my_number_printed: bool, pdf_sha256: str, closes: Sequence[IssuedNumber] = (),
                  extra: dict[str, Any] | None = None) -> LogRecord:
    """The issue log's record of one rendered envelope (no names, addresses or numbers of residents)."""
    body: dict[str, Any] = {
        **request_body(plan.doc, plan.caller, plan.provenance), "pages": pages, "sheets": plan.sheets,
        "issue_numbers": issue_numbers, "seal_printed": seal_printed,
        "my_number_printed": my_number_printed, "person_ids": plan.person_ids, "lifts": plan.dv.lifts,
        "pdf_sha256": pdf_sha256, **(extra or {})}
    return LogRecord("render", now, body, closes=tuple(closes))


def refusal_record(envelope: Envelope, spec: LayoutSpec, exc: RefusedError, now: dt.datetime, caller: Caller,
                   extra: dict[str, Any] | None = None) -> LogRecord:
    request = envelope.request
    r = request.requester
    body: dict[str, Any] = {
        "operator": request.operator, "caller": caller.record(), "tenant": envelope.tenant, "layout": spec.id,
        "kind": spec.kind, "channel": request.channel, "output": request.output, "relation": r.relation,
        "requester_person_id": r.person_id, "acting_for": r.acting_for, "terminal": request.terminal,
        "printer": request.printer, "rule": exc.rule, "field": exc.field,
        "person_ids": list(getattr(exc, "person_ids", [])), **(extra or {})}
    return LogRecord("refusal", now, body)


def parse_envelope(raw: Any, *, today: dt.date | None = None) -> Envelope:
    """Validate an envelope. A request without `issued_on` is issued `today` (the server's date in
    Asia/Tokyo), which is what a certificate must carry anyway."""
    if not isinstance(raw, dict):
        raise InputError("the input must be a JSON object {layout, tenant, request, data}", field="")
    request = raw.get("request")
    if today is not None and isinstance(request, dict) and "issued_on" not in request:
        raw = {**raw, "request": {**request, "issued_on": today.isoformat()}}
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        diags = from_pydantic(exc)
        raise InputError(f"invalid envelope: {len(diags)} problem(s)", diagnostics=diags,
                         field=diags[0].path if diags else None) from None


__all__ = ["ISSUED_ON_RULE", "TOKYO", "Mode", "OnRefusal", "Plan", "RenderResult", "Renderer", "SnapshotSource",
           "font_manifest_sha256", "font_set", "parse_envelope", "refusal_record", "render_record", "request_body",
           "void_reason"]
