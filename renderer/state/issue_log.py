"""The issue log (印刷ログ・交付履歴): one HMAC-chained record per render, refusal and registry event.

In: records (`LogRecord`: time, operator, tenant, layout, channel, output, sheets, 発行番号s, 公印 and
個人番号 printed or not, the person_ids included, the lift used, the PDF's sha256, the rule of a refusal)
and the key. Out: appended rows of the ``issue_log`` table, every 発行番号 once in ``issued_numbers``
(whose unique index rejects a number issued twice, across processes and servers), and `verify()`.

Never in the log: names, addresses or numbers of residents (only person_ids, 宛名番号); `LogRecord`
accepts a closed set of keys.

Tamper evidence:
- record n carries ``mac_n = HMAC-SHA256(key, canonical JSON of {seq: n, prev: mac_(n-1), body})``
  (``prev`` of record 1 is 64 zeros), so an edited record fails its own MAC, a deleted record breaks the
  sequence, and a wholesale rewrite fails at its first record without the key;
- the key is kept outside the database: ``CHOHYO_LOG_KEY`` (hex, ≥ 32 bytes; every server sharing a
  database needs the same key) or the file ``<state_dir>/issue-log.key``, created on first append with
  mode 0600; a key file readable by group or others is refused;
- the latest chain head (record count, seq, MAC, time) is also written outside the database, to
  ``<state_dir>/issue-log.head`` (atomically, never moving backwards), itself MACed with the log key, so a
  truncated tail — or a database restored from an older copy — is detected, and the head cannot be
  rewritten to match without the key;
- `anchor` appends the head to a place outside the state directory (an append-only file, or a URL that
  keeps what is POSTed to it), so a rollback of *both* the database and the head file (by someone holding
  the key) is detected against the last anchor (`verify(anchor=...)`).

Every 発行番号 accounted for: a render first *reserves* its serials (event ``reserve``: the counter advance,
the ``issued_numbers`` rows and the record in one transaction), then closes them with its ``render``
record or, if it fails after the reservation (invalid, refused, worker killed, client gone), a ``void``
record naming the reason (``number_outcomes`` holds each number's fate once). A counter moved on purpose
(a new system continuing an old one's numbering) is a ``counter`` record. `verify` checks, per series,
that the counters, the issued numbers, their outcomes and the log agree.

Appends are serialized: a file lock in the state directory around a serialized database write
(SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory lock).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from renderer.errors import ChohyoError, UsageError
from renderer.files import flocked
from renderer.settings import Settings, parse_log_key
from renderer.state import anchors
from renderer.state.accounting import OUTCOMES, Series, Tables, account
from renderer.state.db import (
    Database,
    batch_runs,
    issue_log,
    issued_numbers,
    number_outcomes,
    open_database,
    private_dir,
    provenance_columns,
    reservations,
    serials,
)
from renderer.state.registry import instant
from renderer.state.serials import allocate_in, set_counter_in

KEY_FILE = "issue-log.key"
HEAD_FILE = "issue-log.head"
LOCK_FILE = "issue-log.lock"
GENESIS = "0" * 64

EVENTS = frozenset({"render", "refusal", "import", "lift", "revoke", "list", "batch-file", "reserve", "void",
                    "counter", "preview",    # preview: renderer.preview (no serial, no person_id)
                    "print",    # print: a file's IPP job reached its final state (renderer.printing.run)
                    "restore"})   # restore: an operator acknowledged a restored database (acknowledge_restore)
#: the only keys a record may carry (so no name, address or number can slip in)
BODY_KEYS = frozenset({
    "at", "event", "operator", "tenant", "layout", "kind", "channel", "output", "relation", "pages", "sheets",
    "copies", "issue_numbers", "seal_printed", "my_number_printed", "person_ids", "lifts", "pdf_sha256", "rule",
    "field", "lift", "import", "file_sha256", "records", "batch", "file", "record",
    "caller", "requester_person_id", "acting_for", "terminal", "printer", "serials", "reserved", "reason", "job",
    "last", "spoils",
    # provenance of a render (renderer.api.Renderer.provenance): hashes and a version, nothing about a person
    "layout_sha256", "layout_parts_sha256", "tenant_sha256", "font_manifest_sha256", "renderer_version",
    # a signed PDF (renderer.signing): the delivered file's sha256, the signer certificate's sha256, the level
    "signed_sha256", "signer_fingerprint", "signature_level",
    # a print job (renderer.printing): the printer's job id and the job's final state (completed, aborted, canceled)
    "print_job_id", "print_state",
    # an acknowledged restore: the records lost (seq, MAC, time), the counters of the series at risk
    "restore",
})



class IssueLogError(ChohyoError):
    """The issue log cannot be written or read (exit 1: nothing is delivered without its record)."""

    problem = "issue-log"
    title = "The issue log cannot record this; nothing was delivered"


class IssueLogBehindError(IssueLogError):
    """The database is behind (or differs from) this server's chain head or the last anchor: a restored
    older backup, a copy without its WAL, a rewrite. Appends are refused (exit 1, HTTP 503) until an
    operator acknowledges the restore (`IssueLog.acknowledge_restore`): every number issued after the
    restore point would otherwise be issued a second time."""

    problem = "issue-log-behind"
    title = "The issue log is behind its chain head (restored database?); nothing was issued"


@dataclass(frozen=True)
class IssuedNumber:
    tenant: str
    day: dt.date
    terminal: str
    printer: str
    serial: int


def serial_groups(numbers: Sequence[IssuedNumber]) -> list[list[Any]]:
    """Numbers as the log writes them: ``[[tenant, day, terminal, printer, [serial, ...]], ...]``."""
    groups: dict[Series, list[int]] = {}
    for n in numbers:
        groups.setdefault((n.tenant, n.day.isoformat(), n.terminal, n.printer), []).append(n.serial)
    return [[*key, sorted(v)] for key, v in groups.items()]


@dataclass(frozen=True)
class LogRecord:
    """One record. `reserves` (event ``reserve``) are numbers taken now; `closes` (events ``render`` and
    ``void``) are reserved numbers whose fate this record states. Both are written into the MACed body
    (``serials``) and into their tables in the same transaction."""

    event: str
    at: dt.datetime
    body: Mapping[str, Any] = field(default_factory=dict)
    reserves: Sequence[IssuedNumber] = ()
    closes: Sequence[IssuedNumber] = ()
    #: a reservation's owner: the service's job id (so a dead worker's numbers can be voided)
    job: str | None = None
    #: a void record that spoils numbers already rendered (処分: a PDF made but never delivered)
    spoils: bool = False

    def document(self) -> dict[str, Any]:
        if self.event not in EVENTS:
            raise ValueError(f"unknown log event {self.event!r}")
        unknown = sorted(set(self.body) - BODY_KEYS)
        if unknown:
            raise ValueError(f"log record keys not allowed: {', '.join(unknown)}")
        if self.reserves and self.event != "reserve":
            raise ValueError("only a reserve record reserves numbers")
        if self.closes and self.event not in OUTCOMES:
            raise ValueError("only a render or void record closes numbers")
        doc = dict(self.body)
        numbers = self.reserves or self.closes
        if numbers:
            doc["serials"] = serial_groups(numbers)
        if self.job is not None:
            doc["job"] = self.job
        if self.spoils:
            if self.event != "void":
                raise ValueError("only a void record spoils numbers")
            doc["spoils"] = True
        doc["event"] = self.event
        doc["at"] = instant(self.at)
        return doc


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def chain_mac(key: bytes, seq: int, prev: str, body: Mapping[str, Any]) -> str:
    """The MAC of record `seq`: HMAC-SHA256 over ``canonical({"seq": seq, "prev": prev, "body": body})``."""
    return chain_mac_of(key, seq, prev, canonical(body))


def chain_mac_of(key: bytes, seq: int, prev: str, body_json: bytes) -> str:
    """`chain_mac` from the body's canonical JSON, made once for the MAC and the stored column: the canonical
    form of the triple is its sorted keys (body, prev, seq) around the body's own canonical form."""
    return hmac.new(key, b'{"body":' + body_json + b',"prev":' + canonical(prev) + b',"seq":' + b"%d}" % seq,
                    hashlib.sha256).hexdigest()


def anchored_head(line: Mapping[str, Any], key: bytes) -> Head:
    """An anchor line as a chain head written with `key`; ValueError saying what it is instead ("is not a chain
    head (…)", "fails its MAC …")."""
    try:
        head = Head.parse(line)
    except ValueError as exc:
        raise ValueError(f"is not a chain head ({exc})") from None
    if not head.authentic(key):
        raise ValueError("fails its MAC (not written with this log key)")
    return head


def head_mac(key: bytes, head: Mapping[str, Any]) -> str:
    """The MAC of a chain head (count, seq, mac, at): a head file cannot be rewritten without the key."""
    fields = {k: head.get(k) for k in ("count", "seq", "mac", "at")}
    return hmac.new(key, b"chohyo-issue-log-head\0" + canonical(fields), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    count: int
    seq: int
    mac: str
    at: str
    head_mac: str

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "seq": self.seq, "mac": self.mac, "at": self.at, "head_mac": self.head_mac}

    @classmethod
    def parse(cls, raw: Any) -> Head:
        """A head read from a file or an anchor line; `ValueError` if it is not one."""
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        try:
            return cls(count=int(raw["count"]), seq=int(raw["seq"]), mac=str(raw["mac"]), at=str(raw["at"]),
                       head_mac=str(raw["head_mac"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError("missing or malformed fields") from None

    def authentic(self, key: bytes) -> bool:
        return hmac.compare_digest(self.head_mac, head_mac(key, self.as_dict()))


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    records: int
    first_bad: int | None = None
    problem: str | None = None
    head: int | None = None
    notes: tuple[str, ...] = ()
    #: per-series accounting problems (numbers twice, missing, counters behind, tables differing from the log)
    accounting: tuple[str, ...] = ()
    #: reservations not yet closed by a render or void record: (reserve seq, serial count, age in minutes)
    open: tuple[tuple[int, int, float], ...] = ()
    anchor: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "first_bad": self.first_bad, "problem": self.problem,
                "head": self.head, "notes": list(self.notes), "accounting": list(self.accounting),
                "open_reservations": [{"seq": s, "serials": n, "age_minutes": round(a, 1)} for s, n, a in self.open],
                "anchor": self.anchor}


Entries = Sequence[LogRecord]


class IssueLog:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or open_database(settings)
        self.state_dir = settings.state_dir

    # ------------------------------------------------------------------ key and head

    def key(self, *, create: bool) -> bytes:
        if self.settings.log_key is not None:
            return self.settings.log_key
        path = self.state_dir / KEY_FILE
        if not path.exists():
            if not create:
                raise IssueLogError(f"the issue log key {path} is missing (set CHOHYO_LOG_KEY or restore the file)",
                                    field="CHOHYO_LOG_KEY")
            private_dir(self.state_dir)
            # Written whole to a private temp file, then linked into place: a concurrent reader sees no
            # key or the whole key, and the first writer wins (os.link fails if the name exists).
            fd, tmp = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=self.state_dir)   # mode 0600
            try:
                with os.fdopen(fd, "w", encoding="ascii") as fh:
                    fh.write(secrets.token_hex(32) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise IssueLogError(f"the issue log key {path} is readable by others (mode {oct(mode & 0o777)}); "
                                    f"it must be 0600", field=KEY_FILE)
            return parse_log_key(path.read_text(encoding="ascii"), source=str(path))
        except IssueLogError:
            raise
        except ChohyoError as exc:   # read, but not a key
            raise IssueLogError(exc.message, field=KEY_FILE) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise IssueLogError(f"the issue log key {path} cannot be read ({exc.__class__.__name__})",
                                field=KEY_FILE) from None

    def read_head(self) -> Head | None:
        """The head file: None if there is none; `ValueError` if it is not a head (verify says so)."""
        path = self.state_dir / HEAD_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(f"unreadable ({exc.__class__.__name__})") from None
        try:
            return Head.parse(json.loads(text))
        except ValueError as exc:
            raise ValueError(f"not a chain head ({exc})") from None

    def _write_head(self, key: bytes, seq: int, mac: str, at: str, *, force: bool = False) -> None:
        with contextlib.suppress(ValueError):
            current = self.read_head()
            if not force and current is not None and current.seq >= seq and current.authentic(key):
                return   # another append got further: the head never moves backwards (but see acknowledge_restore)
        head = {"count": seq, "seq": seq, "mac": mac, "at": at}
        head["head_mac"] = head_mac(key, head)
        fd, tmp = tempfile.mkstemp(prefix=f".{HEAD_FILE}.", dir=self.state_dir)   # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(head) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            Path(tmp).replace(self.state_dir / HEAD_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _expected_heads(self, key: bytes) -> list[Expected]:
        """What the log must still hold before an append (read under the state directory's lock): this
        server's chain head, and the last line of ``CHOHYO_AUDIT_ANCHOR`` when it is a local file (a URL is
        not read on the hot path: `chohyo audit verify --anchor` and `chohyo audit anchor` check it)."""
        path = self.state_dir / HEAD_FILE
        try:
            head = self.read_head()
        except ValueError as exc:
            raise IssueLogBehindError(f"the chain head file {path} is {exc}; nothing was issued (see chohyo audit "
                                      f"verify; after a restore, chohyo audit acknowledge-restore)",
                                      field=HEAD_FILE) from None
        out: list[Expected] = []
        if head is not None:
            out.append(Expected(head, "this server's chain head", str(path), HEAD_FILE,
                                None if head.authentic(key) else
                                f"the chain head file {path} fails its MAC (rewritten, or CHOHYO_LOG_KEY is not the "
                                f"key of this state directory)"))
        target = self.settings.audit_anchor
        if target and not anchors.is_url(target):
            try:
                line = anchors.read_last_anchor(target)
            except anchors.AnchorError as exc:
                raise IssueLogBehindError(f"CHOHYO_AUDIT_ANCHOR: {exc}; nothing was issued",
                                          field="CHOHYO_AUDIT_ANCHOR") from None
            if line is not None:
                try:
                    anchored = anchored_head(line, key)
                except ValueError as exc:
                    raise IssueLogBehindError(f"CHOHYO_AUDIT_ANCHOR: the last line of {target} {exc}; nothing was "
                                              f"issued", field="CHOHYO_AUDIT_ANCHOR") from None
                out.append(Expected(anchored, "the last anchor in CHOHYO_AUDIT_ANCHOR", target,
                                    "CHOHYO_AUDIT_ANCHOR"))
        return out

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.state_dir)
        with flocked(self.state_dir / LOCK_FILE):
            yield

    # ------------------------------------------------------------------ append

    def append(self, record: LogRecord) -> int:
        """Append one record; returns its seq. Raises `IssueLogError` if it cannot."""
        return self.append_many([record])[0]

    def append_many(self, entries: Entries | Callable[[Connection], Entries], *,
                    also: Callable[[Connection], None] | None = None, locks: Sequence[str] = (),
                    _restore: bool = False) -> list[int]:
        """Append records in one transaction (all or none); returns their seqs. `entries` may be a function
        of the open transaction (called after the locks are taken: a reservation advances its counter
        there and names the serials it got). `also` runs inside the same transaction after the records
        (a batch marks its journal there), holding `locks` besides the issue log's own (taken first, e.g.
        "serials").

        Before anything is written, the log's last record is compared with this state directory's chain
        head (and the last line of a local ``CHOHYO_AUDIT_ANCHOR`` file): a head or anchor naming a record
        the log does not have, or one with another MAC, refuses the append (`IssueLogBehindError`) — the
        database was restored from an older copy, and its next numbers were already issued. A head behind
        the log is normal (other servers on the same database appended)."""
        try:
            key = self.key(create=True)
            with self._locked():
                expected = [] if _restore else self._expected_heads(key)
                with self.db.write(*locks, "issue_log") as conn:
                    batch = _Batch.of(conn, key, entries(conn) if callable(entries) else entries, expected)
                    batch.insert(conn)
                    if also is not None:
                        also(conn)
                if batch.seqs:
                    self._write_head(key, batch.seqs[-1], batch.mac, batch.at, force=_restore)
            return batch.seqs
        except IssueLogError:
            raise
        except IntegrityError:
            raise IssueLogError("a 発行番号 of this render was already issued or accounted for (the issue log's "
                                "unique index refused it); nothing was delivered", rule="issue-number-unique") from None
        except ChohyoError:
            raise
        except Exception as exc:
            raise IssueLogError(f"the issue log cannot be written ({exc.__class__.__name__}); "
                                f"nothing was delivered") from None

    def reserve(self, record: LogRecord, tenant: str, day: dt.date, terminal: str, printer: str,
                count: int) -> tuple[int, list[IssuedNumber]]:
        """Advance the series' counter by `count` and write the ``reserve`` record naming the serials, in
        one transaction; returns the record's seq and the numbers."""
        got: list[IssuedNumber] = []

        def entries(conn: Connection) -> list[LogRecord]:
            got[:] = [IssuedNumber(tenant, day, terminal, printer, s)
                      for s in allocate_in(conn, tenant, day, terminal, printer, count)]
            return [dataclasses.replace(record, reserves=tuple(got))]

        seq = self.append_many(entries, locks=("serials",))[0]
        return seq, got

    def set_counter(self, record: LogRecord, tenant: str, day: dt.date, terminal: str, printer: str,
                    next_serial: int) -> int:
        """Continue a series at `next_serial` (a new system taking over an old one's numbering), logged as a
        ``counter`` record; a counter never moves backwards over numbers already reserved."""

        def entries(conn: Connection) -> list[LogRecord]:
            last = set_counter_in(conn, tenant, day, terminal, printer, next_serial - 1)
            body = {**record.body, "tenant": tenant, "serials": [[tenant, day.isoformat(), terminal, printer, []]],
                    "last": last}
            return [dataclasses.replace(record, event="counter", body=body)]

        return self.append_many(entries, locks=("serials",))[0]

    def void_open(self, record: LogRecord, *, job: str | None = None, seqs: Sequence[int] = ()) -> int | None:
        """Close every still-open number of the reservations of `job` (or of the reserve records `seqs`)
        with one ``void`` record (`record` gives its reason); None if nothing was open."""

        def entries(conn: Connection) -> list[LogRecord]:
            query = select(reservations.c.seq)
            query = query.where(reservations.c.job == job) if job is not None else \
                query.where(reservations.c.seq.in_(list(seqs)))
            owned = [int(s) for s in conn.execute(query).scalars()]
            numbers = _open_numbers(conn, owned) if owned else []
            if not numbers:
                return []
            body = {"tenant": numbers[0].tenant, **record.body, "reserved": sorted(owned)}
            return [dataclasses.replace(record, event="void", closes=tuple(numbers), body=body)]

        seqs_written = self.append_many(entries)
        return seqs_written[0] if seqs_written else None

    def unfinished_batches(self) -> set[str]:
        """Run ids of batch runs not yet finished (their open reservations are theirs to finish)."""
        with self.db.read() as conn:
            return {str(r.run_id) for r in conn.execute(
                select(batch_runs.c.run_id).where(batch_runs.c.finished_at.is_(None))).all()}

    def open_reservations(self) -> list[tuple[int, str, str | None, str | None, int]]:
        """(reserve seq, at, job, batch, open numbers) of every reservation not yet wholly closed."""
        with self.db.read() as conn:
            rows = conn.execute(select(reservations)).all()
            out = []
            for r in rows:
                n = len(_open_numbers(conn, [int(r.seq)]))
                if n:
                    out.append((int(r.seq), str(r.at), r.job, r.batch, n))
        return sorted(out)

    # ------------------------------------------------------------------ anchor

    def anchor(self, target: str) -> Head:
        """Append the authenticated chain head to `target` (an append-only file path, or an http(s) URL
        that keeps what is POSTed to it); returns the head written."""
        self.key(create=False)   # no key, no anchor (before anything is written)
        report = self.verify(anchor=target, anchor_may_be_empty=True)
        if not report.ok and report.anchor is not None and report.anchor.get("problem"):
            raise IssueLogBehindError(
                f"the anchor {target} names a head this log does not have ({report.anchor['problem']}): the log "
                f"was rolled back or rewritten after that anchor, and a new anchor would hide it. Nothing was "
                f"anchored; see chohyo audit verify --anchor, and after a deliberate restore chohyo audit "
                f"acknowledge-restore (README: Backup and restore)", field="--to")
        if not report.ok:
            raise IssueLogError(f"the log does not verify ({report.problem or 'accounting'}); "
                                f"an anchor would certify a broken log", field="issue_log")
        try:
            head = self.read_head()
        except ValueError as exc:
            raise IssueLogError(f"the chain head file is {exc}", field=HEAD_FILE) from None
        if head is None:
            raise IssueLogError("the log is empty: nothing to anchor", field="issue_log")
        line = dict(head.as_dict(), anchored_at=instant(self.settings.now()))
        anchors.append_anchor(target, line)
        return head

    def acknowledge_restore(self, record: LogRecord, *, anchor: str | None = None) -> tuple[int, dict[str, Any]]:
        """Record that the database was restored on purpose, so appends may continue: one ``restore`` record
        (chained and MACed like any other; `record` carries the caller, the operator and the reason) that
        names what was lost — this server's chain head and every line of `anchor` naming a record the log
        no longer has (seq, MAC, time) — and the counters of the series whose next numbers may already have
        been issued before the restore. Then this state directory's head is rewritten to that record and,
        with `anchor`, the new head is appended to it. `verify` reports the restore every time after.

        Refused (nothing written) when the chain itself does not verify, or when nothing was lost (the log
        holds the head and every anchor line: there is no restore to acknowledge). Returns the record's seq
        and its ``restore`` body."""
        key = self.key(create=False)
        lines: list[dict[str, Any]] = []
        if anchor:
            try:
                lines = anchors.read_anchors(anchor)
            except anchors.AnchorError as exc:
                raise IssueLogError(f"--anchor: {exc}; nothing was acknowledged", field="--anchor") from None
        stated: dict[str, Any] = {}

        def entries(conn: Connection) -> list[LogRecord]:   # under the state directory's lock and the log's
            rows = [dict(r._mapping) for r in conn.execute(select(issue_log).order_by(issue_log.c.seq)).all()]
            bodies, broken = _walk(key, rows)
            if broken is not None:
                raise IssueLogError(f"the issue log itself does not verify ({broken[1]}), which a restore does not "
                                    f"explain; nothing was acknowledged (see chohyo audit verify)", field="issue_log")
            lost = self._lost(key, rows, lines, acknowledged_losses(bodies))
            if not lost:
                raise UsageError("nothing to acknowledge: the issue log holds this server's chain head"
                                 + (" and every anchor line" if anchor else "") + " (see chohyo audit verify)",
                                 field=HEAD_FILE)
            since = str(rows[-1]["at"]) if rows else None
            floor = (dt.datetime.fromisoformat(since.replace("Z", "+00:00")).date() - dt.timedelta(days=1)
                     ).isoformat() if since else ""
            at_risk = sorted([str(r.tenant), str(r.day), str(r.terminal), str(r.printer), int(r.last)]
                             for r in conn.execute(select(serials).where(serials.c.day >= floor)).all())
            stated.update({
                "log_ended_at": {"seq": len(rows), "mac": str(rows[-1]["mac"]) if rows else GENESIS, "at": since},
                "lost": lost, "at_risk": at_risk})
            body = {**record.body, "restore": dict(stated)}
            return [dataclasses.replace(record, event="restore", body=body)]

        seq = self.append_many(entries, _restore=True)[0]
        if anchor:
            head = self.read_head()
            if head is not None:   # the chain was walked above: this anchors the acknowledgment itself
                try:
                    anchors.append_anchor(anchor, dict(head.as_dict(), anchored_at=instant(self.settings.now()),
                                                       acknowledges_restore=seq))
                except anchors.AnchorError as exc:
                    raise IssueLogError(f"the restore was recorded (record {seq}) but the anchor was not written "
                                        f"({exc}); run chohyo audit anchor", field="--anchor") from None
        return seq, stated

    def _lost(self, key: bytes, rows: Sequence[Mapping[str, Any]], lines: Sequence[Mapping[str, Any]],
              acknowledged: set[tuple[int, str]]) -> list[dict[str, Any]]:
        """The heads (this server's head file, anchor lines) naming a record the log does not hold."""
        def gone(head: Head) -> bool:
            return head.seq > len(rows) or (head.seq >= 1 and not hmac.compare_digest(
                str(rows[head.seq - 1]["mac"]), head.mac))

        out: list[dict[str, Any]] = []
        try:
            head = self.read_head()
        except ValueError as exc:
            out.append({"source": "head", "problem": f"not a chain head ({exc})"})
            head = None
        if head is not None:
            if not head.authentic(key):
                out.append({"source": "head", "problem": "fails its MAC"})
            elif gone(head):
                out.append({"source": "head", "seq": head.seq, "mac": head.mac, "at": head.at})
        seen: set[tuple[int, str]] = set()
        for number, line in enumerate(lines, start=1):
            try:
                anchored = anchored_head(line, key)
            except ValueError as exc:
                raise IssueLogError(f"--anchor: line {number} {exc}; nothing was acknowledged",
                                    field="--anchor") from None
            pair = (anchored.seq, anchored.mac)
            if gone(anchored) and pair not in acknowledged and pair not in seen:
                seen.add(pair)
                out.append({"source": "anchor", "line": number, "seq": anchored.seq, "mac": anchored.mac,
                            "at": anchored.at})
        return out

    # ------------------------------------------------------------------ verify

    def records(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(select(issue_log).order_by(issue_log.c.seq)).all()
        return [dict(r._mapping) for r in rows]

    def verify(self, *, anchor: str | None = None, grace_minutes: float = 60.0,
               anchor_may_be_empty: bool = False) -> VerifyReport:
        """Walk the chain; report the first bad record (edited, missing, truncated tail, rewritten), a head
        that is not authentic, a rollback behind any anchor line (every line is checked, not only the last:
        a later anchor must not launder an earlier one), and per-series accounting problems. Open
        reservations older than `grace_minutes` that no unfinished batch run owns are problems. A restore
        acknowledged in the log (a ``restore`` record) is always reported as a note, and the anchor lines it
        names as lost are accepted."""
        rows = self.records()
        head_error: str | None = None
        try:
            head = self.read_head()
        except ValueError as exc:
            head, head_error = None, f"the chain head file {HEAD_FILE} is {exc}"
        if not rows and head is None and head_error is None and anchor is None:
            # nothing was ever logged — or the log and its head were deleted: the numbers, outcomes and
            # counters left in their tables are then accounted for by no record (no key is needed to see it)
            accounting, open_list = self._accounting([], grace_minutes)
            return VerifyReport(not accounting, 0, None, None if not accounting else "accounting",
                                accounting=tuple(accounting), open=tuple(open_list))
        key = self.key(create=False)
        head_seq = head.seq if head else None
        bodies, broken = _walk(key, rows)
        if broken is not None:
            return VerifyReport(False, len(rows), broken[0], broken[1], head_seq)
        last = len(rows)
        if head_error is not None:
            return VerifyReport(False, last, None, head_error, None)
        problem = _head_problem(key, head, rows)
        if problem is not None:
            return VerifyReport(False, last, problem[0], problem[1], head_seq)
        assert head is not None or not rows
        notes: list[str] = []
        if head is not None and head.seq < last:
            notes.append(f"{last - head.seq} record(s) after the chain head (appended by another server, or "
                         f"the head write was interrupted); they verify by MAC")
        notes.extend(restore_note(seq, body) for seq, body in bodies if body.get("event") == "restore")
        anchor_report: dict[str, Any] | None = None
        if anchor is not None:
            anchor_report, anchor_problem = _check_anchor(key, anchor, rows, acknowledged_losses(bodies),
                                                          may_be_empty=anchor_may_be_empty)
            if anchor_problem is not None:
                anchor_report["problem"] = anchor_problem[1]
                return VerifyReport(False, last, anchor_problem[0], anchor_problem[1], head_seq, tuple(notes),
                                    anchor=anchor_report)
        accounting, open_list = self._accounting(bodies, grace_minutes)
        return VerifyReport(not accounting, last, None, None if not accounting else "accounting", head_seq,
                            tuple(notes), tuple(accounting), tuple(open_list), anchor_report)

    def _accounting(self, bodies: Sequence[tuple[int, Mapping[str, Any]]], grace_minutes: float
                    ) -> tuple[list[str], list[tuple[int, int, float]]]:
        """Per series: the log's reservations, closings and counter moves against the tables."""
        with self.db.read() as conn:
            tables = Tables(
                counters={(r.tenant, r.day, r.terminal, r.printer): int(r.last)
                          for r in conn.execute(select(serials)).all()},
                issued={((r.tenant, r.day, r.terminal, r.printer), int(r.serial)): int(r.seq)
                        for r in conn.execute(select(issued_numbers)).all()},
                closed={((r.tenant, r.day, r.terminal, r.printer), int(r.serial)): (int(r.seq), str(r.outcome))
                        for r in conn.execute(select(number_outcomes)).all()})
        return account(bodies, tables, self.unfinished_batches(), self.settings.now(), grace_minutes)


@dataclass
class _Batch:
    """The rows one append writes: chained records, reserved numbers, their outcomes and owners."""

    seqs: list[int] = field(default_factory=list)
    mac: str = ""
    at: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    reserved: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    spoiled: list[dict[str, Any]] = field(default_factory=list)
    owners: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, conn: Connection, key: bytes, records: Entries, expected: Sequence[Expected] = ()) -> _Batch:
        docs = [(r, r.document()) for r in records]   # a bad record fails before anything is written
        columns = (issue_log.c.seq, issue_log.c.mac, issue_log.c.prev, issue_log.c.body)
        last_seq = select(func.max(issue_log.c.seq)).scalar_subquery()
        wanted = sorted({e.head.seq for e in expected})
        # one query: the last record, and the records the head and anchor name (the same row, on one server)
        found = conn.execute(select(*columns).where(or_(issue_log.c.seq == last_seq, issue_log.c.seq.in_(wanted)))
                             .order_by(issue_log.c.seq.desc())).all() if wanted else \
            conn.execute(select(*columns).order_by(issue_log.c.seq.desc()).limit(1)).all()
        last = found[0] if found else None
        if last is not None and not hmac.compare_digest(
                str(last.mac), chain_mac_of(key, int(last.seq), str(last.prev), str(last.body).encode("utf-8"))):
            # a chain continued under another key could never verify again: refuse before anything is written
            raise IssueLogError(f"record {last.seq}, the last of the issue log, does not verify with this key: "
                                f"CHOHYO_LOG_KEY (or the file {KEY_FILE}) is not the key this log was written "
                                f"with, or the record was edited (see chohyo audit verify)", field="CHOHYO_LOG_KEY")
        seq = 0 if last is None else int(last.seq)
        _check_expected(expected, seq, {int(r.seq): str(r.mac) for r in found})
        out = cls(mac=GENESIS if last is None else str(last.mac))
        for record, body in docs:
            seq += 1
            out.add(key, seq, record, body)
        return out

    def add(self, key: bytes, seq: int, record: LogRecord, body: dict[str, Any]) -> None:
        body_json = canonical(body)
        prev, self.mac, self.at = self.mac, chain_mac_of(key, seq, self.mac, body_json), body["at"]
        self.rows.append({"seq": seq, "at": self.at, "event": record.event, "tenant": body.get("tenant"),
                          "layout": body.get("layout"), "body": body_json.decode("utf-8"), "prev": prev,
                          "mac": self.mac, **provenance_columns(body)})
        self.reserved.extend(_number_row(n, seq=seq) for n in record.reserves)
        (self.spoiled if record.spoils else self.closed).extend(
            _number_row(n, seq=seq, outcome=OUTCOMES.get(record.event, "")) for n in record.closes)
        if record.reserves:
            self.owners.append({"seq": seq, "at": self.at, "job": record.job, "batch": body.get("batch")})
        self.seqs.append(seq)

    def insert(self, conn: Connection) -> None:
        for table, values in ((issue_log, self.rows), (issued_numbers, self.reserved),
                              (number_outcomes, self.closed), (reservations, self.owners)):
            if values:
                conn.execute(table.insert(), values)
        if self.closed:
            _check_reserved(conn, self.closed)
        if self.spoiled:
            _spoil(conn, self.spoiled)


@dataclass(frozen=True)
class Expected:
    """A head the log must still hold at an append: this server's chain head, or the last anchor."""

    head: Head
    what: str
    where: str
    field: str
    #: the head is not authentic (raised after the last record's own MAC check, which names a wrong key)
    problem: str | None = None


def _check_expected(expected: Sequence[Expected], last: int, macs: Mapping[int, str]) -> None:
    hint = ("nothing was issued. Check the state with chohyo audit verify; if the database was restored on "
            "purpose, an operator records it with chohyo audit acknowledge-restore (README: Backup and restore)")
    for e in expected:
        if e.problem is not None:
            raise IssueLogBehindError(f"{e.problem}; nothing was issued (see chohyo audit verify)", field=e.field)
        if e.head.seq > last:
            raise IssueLogBehindError(f"the database is behind {e.what} (restored from an older backup?): the issue "
                                      f"log ends at record {last} but {e.where} names record {e.head.seq}, so "
                                      f"numbers after the restore point were already issued; {hint}", field=e.field)
        if e.head.seq >= 1 and not hmac.compare_digest(macs.get(e.head.seq, ""), e.head.mac):
            raise IssueLogBehindError(f"record {e.head.seq} of the issue log differs from {e.what} ({e.where}): the "
                                      f"database was restored from another copy or rewritten; {hint}", field=e.field)


def _walk(key: bytes, rows: Sequence[Mapping[str, Any]]
          ) -> tuple[list[tuple[int, dict[str, Any]]], tuple[int, str] | None]:
    """Every record's sequence, MAC and columns: the bodies read, and the first bad record (seq, problem)."""
    bodies: list[tuple[int, dict[str, Any]]] = []
    prev = GENESIS
    for expected, row in enumerate(rows, start=1):
        seq = int(row["seq"])
        if seq != expected:
            return bodies, (expected, f"record {expected} is missing (the next stored record is {seq})")
        try:
            body = json.loads(row["body"])
        except ValueError:
            return bodies, (seq, f"record {seq} is not readable JSON")
        if row["prev"] != prev:
            return bodies, (seq, f"record {seq} does not follow record {seq - 1}")
        if not hmac.compare_digest(str(row["mac"]), chain_mac(key, seq, prev, body)):
            hint = " — or CHOHYO_LOG_KEY / the key file is not the key this log was written with" \
                if seq == 1 else ""
            return bodies, (seq, f"record {seq} fails its MAC (edited or rewritten{hint})")
        columns = {"at": body.get("at"), "event": body.get("event"), "tenant": body.get("tenant"),
                   "layout": body.get("layout"), **provenance_columns(body)}
        if any(row[k] != v for k, v in columns.items()):
            return bodies, (seq, f"record {seq}: a column differs from its MACed body")
        bodies.append((seq, body))
        prev = str(row["mac"])
    return bodies, None


def _head_problem(key: bytes, head: Head | None, rows: Sequence[Mapping[str, Any]]) -> tuple[int | None, str] | None:
    last = len(rows)
    if head is None:
        return (1, f"the chain head file {HEAD_FILE} is missing") if rows else None
    if not head.authentic(key):
        return (None, f"the chain head file {HEAD_FILE} fails its MAC (rewritten without the key)")
    if head.count != head.seq:
        return (None, f"the chain head file {HEAD_FILE} is inconsistent (count {head.count}, seq {head.seq})")
    if head.seq > last:
        return (last + 1, f"the log ends at record {last} but the chain head names record {head.seq}: "
                          f"the tail was truncated")
    if head.seq >= 1 and not hmac.compare_digest(str(rows[head.seq - 1]["mac"]), head.mac):
        return (head.seq, f"record {head.seq} differs from the chain head (the log was rewritten)")
    return None


def _check_anchor(key: bytes, target: str, rows: Sequence[Mapping[str, Any]], acknowledged: set[tuple[int, str]],
                  *, may_be_empty: bool = False) -> tuple[dict[str, Any], tuple[int | None, str] | None]:
    """Every line of the anchor against the log: each must name a record the log holds with the same MAC,
    or one that a ``restore`` record of the log acknowledges as lost."""
    try:
        lines = anchors.read_anchors(target)
    except anchors.AnchorError as exc:
        return {"target": target}, (None, f"the anchor cannot be read ({exc})")
    if not lines:
        return {"target": target, "anchors": 0}, \
            None if may_be_empty else (None, "the anchor holds no head yet (run `chohyo audit anchor`)")
    report: dict[str, Any] = {"target": target, "anchors": len(lines), "seq": None,
                              "anchored_at": lines[-1].get("anchored_at"), "acknowledged_lost": 0}
    last = len(rows)
    for number, line in enumerate(lines, start=1):
        which = "the last anchor" if number == len(lines) else f"anchor line {number}"
        try:
            head = Head.parse(line)
        except ValueError as exc:
            return report, (None, f"{which} is not a chain head ({exc})")
        if number == len(lines):
            report["seq"] = head.seq
        if not head.authentic(key):
            return report, (None, f"{which} fails its MAC (written without the log key)")
        if (head.seq, head.mac) in acknowledged:
            report["acknowledged_lost"] += 1
            continue
        when = f" (anchored {line.get('anchored_at')})" if line.get("anchored_at") else ""
        if head.seq > last:
            return report, (last + 1, f"the log ends at record {last} but {which}{when} names record {head.seq}: "
                                      f"the log was rolled back")
        if head.seq >= 1 and not hmac.compare_digest(str(rows[head.seq - 1]["mac"]), head.mac):
            return report, (head.seq, f"record {head.seq} differs from {which}{when} (the log was rewritten)")
    return report, None


def acknowledged_losses(bodies: Sequence[tuple[int, Mapping[str, Any]]]) -> set[tuple[int, str]]:
    """The (seq, MAC) of every head or anchor that a ``restore`` record of the log states was lost."""
    out: set[tuple[int, str]] = set()
    for _seq, body in bodies:
        restore = body.get("restore") if body.get("event") == "restore" else None
        for lost in (restore or {}).get("lost", []) if isinstance(restore, dict) else []:
            if isinstance(lost, dict) and isinstance(lost.get("seq"), int) and isinstance(lost.get("mac"), str):
                out.add((lost["seq"], lost["mac"]))
    return out


def restore_note(seq: int, body: Mapping[str, Any]) -> str:
    """What `verify` says, every time, about an acknowledged restore."""
    raw = body.get("restore")
    restore: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    ended = restore.get("log_ended_at") or {}
    lost = [x for x in restore.get("lost", []) if isinstance(x, dict)]
    top = max((int(x.get("seq", 0)) for x in lost), default=0)
    risk = "; ".join(f"{' '.join(str(p) for p in g[:4] if p)} after {int(g[4]):06d}"
                     for g in restore.get("at_risk", []) if isinstance(g, list) and len(g) == 5)
    return (f"record {seq} acknowledges a restore ({body.get('at')}, reason: {body.get('reason')!s}): the restored "
            f"log ended at record {ended.get('seq')}; record(s) up to {top} were lost (named by "
            f"{', '.join(sorted({str(x.get('source')) for x in lost}))}); 発行番号 that may have been issued twice: "
            f"{risk or 'none recorded (no series at risk)'}")


def _number_row(n: IssuedNumber, *, seq: int, outcome: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"tenant": n.tenant, "day": n.day.isoformat(), "terminal": n.terminal,
                           "printer": n.printer, "serial": n.serial, "seq": seq}
    if outcome is not None:
        row["outcome"] = outcome
    return row


def _check_reserved(conn: Connection, closed: Sequence[Mapping[str, Any]]) -> None:
    """A render or void record may close only numbers that were reserved (one query per series and chunk of
    serials, not one per number: a batch file closes hundreds at once)."""
    by_series: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in closed:
        by_series.setdefault((row["tenant"], row["day"], row["terminal"], row["printer"]), []).append(row)
    for (tenant, day, terminal, printer), rows in by_series.items():
        for start in range(0, len(rows), _IN_CHUNK):
            chunk = rows[start:start + _IN_CHUNK]
            found = set(conn.execute(select(issued_numbers.c.serial).where(
                issued_numbers.c.tenant == tenant, issued_numbers.c.day == day,
                issued_numbers.c.terminal == terminal, issued_numbers.c.printer == printer,
                issued_numbers.c.serial.in_([r["serial"] for r in chunk]))).scalars())
            for row in chunk:
                if row["serial"] not in found:
                    raise IssueLogError(f"発行番号 serial {row['serial']} was never reserved; nothing was delivered",
                                        rule="issue-number-unreserved")


#: serials per IN (...) list: well under SQLite's bound-parameter limit
_IN_CHUNK = 500


def _spoil(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Turn rendered numbers void (a render record stays; the void record says the PDF was not delivered)."""
    for row in rows:
        done = conn.execute(number_outcomes.update().where(
            number_outcomes.c.tenant == row["tenant"], number_outcomes.c.day == row["day"],
            number_outcomes.c.terminal == row["terminal"], number_outcomes.c.printer == row["printer"],
            number_outcomes.c.serial == row["serial"], number_outcomes.c.outcome == "rendered",
        ).values(seq=row["seq"], outcome="void"))
        if done.rowcount != 1:
            raise IssueLogError(f"発行番号 serial {row['serial']} is not a rendered number; it cannot be spoiled",
                                rule="issue-number-unreserved")


def _open_numbers(conn: Connection, seqs: Sequence[int]) -> list[IssuedNumber]:
    rows = conn.execute(
        select(issued_numbers).select_from(issued_numbers.outerjoin(number_outcomes, and_(
            number_outcomes.c.tenant == issued_numbers.c.tenant, number_outcomes.c.day == issued_numbers.c.day,
            number_outcomes.c.terminal == issued_numbers.c.terminal,
            number_outcomes.c.printer == issued_numbers.c.printer,
            number_outcomes.c.serial == issued_numbers.c.serial)))
        .where(issued_numbers.c.seq.in_(list(seqs)), number_outcomes.c.seq.is_(None))
        .order_by(issued_numbers.c.tenant, issued_numbers.c.day, issued_numbers.c.terminal,
                  issued_numbers.c.printer, issued_numbers.c.serial)).all()
    return [IssuedNumber(r.tenant, dt.date.fromisoformat(r.day), r.terminal, r.printer, int(r.serial)) for r in rows]
