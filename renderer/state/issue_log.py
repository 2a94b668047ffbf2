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
- the latest chain head (seq and MAC) is also written outside the database, to
  ``<state_dir>/issue-log.head`` (atomically, never moving backwards), so a truncated tail — or a database
  restored from an older copy — is detected.
Appends are serialized: a file lock in the state directory around a serialized database write
(SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory lock).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
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

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from renderer.errors import ChohyoError
from renderer.settings import Settings, parse_log_key
from renderer.state.db import Database, issue_log, issued_numbers, open_database
from renderer.state.registry import instant

KEY_FILE = "issue-log.key"
HEAD_FILE = "issue-log.head"
LOCK_FILE = "issue-log.lock"
GENESIS = "0" * 64

EVENTS = frozenset({"render", "refusal", "import", "lift", "revoke", "list", "batch-file"})
#: the only keys a record may carry (so no name, address or number can slip in)
BODY_KEYS = frozenset({
    "at", "event", "operator", "tenant", "layout", "kind", "channel", "output", "relation", "pages", "sheets",
    "copies", "issue_numbers", "seal_printed", "my_number_printed", "person_ids", "lifts", "pdf_sha256", "rule",
    "field", "lift", "import", "file_sha256", "records", "batch", "file", "record",
})


class IssueLogError(ChohyoError):
    """The issue log cannot be written or read (exit 1: nothing is delivered without its record)."""

    problem = "issue-log"
    title = "The issue log cannot record this; nothing was delivered"


@dataclass(frozen=True)
class IssuedNumber:
    tenant: str
    day: dt.date
    terminal: str
    printer: str
    serial: int


@dataclass(frozen=True)
class LogRecord:
    event: str
    at: dt.datetime
    body: Mapping[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        if self.event not in EVENTS:
            raise ValueError(f"unknown log event {self.event!r}")
        unknown = sorted(set(self.body) - BODY_KEYS)
        if unknown:
            raise ValueError(f"log record keys not allowed: {', '.join(unknown)}")
        doc = dict(self.body)
        doc["event"] = self.event
        doc["at"] = instant(self.at)
        return doc


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def chain_mac(key: bytes, seq: int, prev: str, body: Mapping[str, Any]) -> str:
    return hmac.new(key, canonical({"seq": seq, "prev": prev, "body": body}), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    records: int
    first_bad: int | None = None
    problem: str | None = None
    head: int | None = None
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "first_bad": self.first_bad, "problem": self.problem,
                "head": self.head, "notes": list(self.notes)}


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
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
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
            return parse_log_key(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, ChohyoError) as exc:
            if isinstance(exc, IssueLogError):
                raise
            raise IssueLogError(f"the issue log key {path} cannot be read ({exc.__class__.__name__})",
                                field=KEY_FILE) from None

    def read_head(self) -> tuple[int, str] | None:
        path = self.state_dir / HEAD_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return int(raw["seq"]), str(raw["mac"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return (-1, "")

    def _write_head(self, seq: int, mac: str) -> None:
        current = self.read_head()
        if current is not None and current[0] >= seq:
            return   # another append got further: the head never moves backwards
        fd, tmp = tempfile.mkstemp(prefix=f".{HEAD_FILE}.", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps({"seq": seq, "mac": mac}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            Path(tmp).replace(self.state_dir / HEAD_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.state_dir / LOCK_FILE).open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # ------------------------------------------------------------------ append

    def append(self, record: LogRecord, numbers: Sequence[IssuedNumber] = ()) -> int:
        """Append one record (and its 発行番号s); returns its seq. Raises `IssueLogError` if it cannot."""
        return self.append_many([(record, numbers)])[0]

    def append_many(self, entries: Sequence[tuple[LogRecord, Sequence[IssuedNumber]]], *,
                    also: Callable[[Connection], None] | None = None, locks: Sequence[str] = ()) -> list[int]:
        """Append records in one transaction (all or none); returns their seqs. `also` runs inside the same
        transaction after the records (a batch marks its journal there), holding `locks` besides the
        issue log's own (taken first, e.g. "serials")."""
        try:
            bodies = [(record.event, record.document(), numbers) for record, numbers in entries]
            key = self.key(create=True)
            seqs: list[int] = []
            with self._locked():
                mac = ""
                with self.db.write(*locks, "issue_log") as conn:
                    last = conn.execute(select(issue_log.c.seq, issue_log.c.mac)
                                        .order_by(issue_log.c.seq.desc()).limit(1)).first()
                    seq = 0 if last is None else int(last.seq)
                    prev = GENESIS if last is None else str(last.mac)
                    rows: list[dict[str, Any]] = []
                    issued: list[dict[str, Any]] = []
                    for event, body, numbers in bodies:
                        seq += 1
                        mac = chain_mac(key, seq, prev, body)
                        rows.append({"seq": seq, "at": body["at"], "event": event, "tenant": body.get("tenant"),
                                     "layout": body.get("layout"), "body": canonical(body).decode("utf-8"),
                                     "prev": prev, "mac": mac})
                        issued.extend({"tenant": n.tenant, "day": n.day.isoformat(), "terminal": n.terminal,
                                       "printer": n.printer, "serial": n.serial, "seq": seq} for n in numbers)
                        seqs.append(seq)
                        prev = mac
                    if rows:
                        conn.execute(issue_log.insert(), rows)
                    if issued:
                        conn.execute(issued_numbers.insert(), issued)
                    if also is not None:
                        also(conn)
                if seqs:
                    self._write_head(seqs[-1], mac)
            return seqs
        except IssueLogError:
            raise
        except IntegrityError:
            raise IssueLogError("a 発行番号 of this render was already issued (the issue log's unique index "
                                "refused it); nothing was delivered", rule="issue-number-unique") from None
        except ChohyoError:
            raise
        except Exception as exc:
            raise IssueLogError(f"the issue log cannot be written ({exc.__class__.__name__}); "
                                f"nothing was delivered") from None

    # ------------------------------------------------------------------ verify

    def records(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(select(issue_log).order_by(issue_log.c.seq)).all()
        return [dict(r._mapping) for r in rows]

    def verify(self) -> VerifyReport:
        """Walk the chain; report the first bad record (edited, missing, truncated tail, rewritten)."""
        rows = self.records()
        head = self.read_head()
        if not rows and head is None:
            return VerifyReport(ok=True, records=0)
        key = self.key(create=False)
        prev = GENESIS
        expected = 1
        for row in rows:
            seq = int(row["seq"])
            if seq != expected:
                return VerifyReport(False, len(rows), expected, f"record {expected} is missing "
                                    f"(the next stored record is {seq})", head[0] if head else None)
            try:
                body = json.loads(row["body"])
            except ValueError:
                return VerifyReport(False, len(rows), seq, f"record {seq} is not readable JSON",
                                    head[0] if head else None)
            if row["prev"] != prev:
                return VerifyReport(False, len(rows), seq, f"record {seq} does not follow record {seq - 1}",
                                    head[0] if head else None)
            if not hmac.compare_digest(str(row["mac"]), chain_mac(key, seq, prev, body)):
                return VerifyReport(False, len(rows), seq, f"record {seq} fails its MAC (edited or rewritten)",
                                    head[0] if head else None)
            columns = {"at": body.get("at"), "event": body.get("event"), "tenant": body.get("tenant"),
                       "layout": body.get("layout")}
            if any(row[k] != v for k, v in columns.items()):
                return VerifyReport(False, len(rows), seq, f"record {seq}: a column differs from its MACed body",
                                    head[0] if head else None)
            prev = str(row["mac"])
            expected += 1
        last = expected - 1
        notes: list[str] = []
        if head is None:
            return VerifyReport(False, len(rows), 1, f"the chain head file {HEAD_FILE} is missing", None)
        head_seq, head_mac = head
        if head_seq < 0:
            return VerifyReport(False, len(rows), None, f"the chain head file {HEAD_FILE} is unreadable", None)
        if head_seq > last:
            return VerifyReport(False, len(rows), last + 1, f"the log ends at record {last} but the chain head "
                                f"names record {head_seq}: the tail was truncated", head_seq)
        if head_seq >= 1:
            stored = rows[head_seq - 1]["mac"]
            if not hmac.compare_digest(str(stored), head_mac):
                return VerifyReport(False, len(rows), head_seq, f"record {head_seq} differs from the chain head "
                                    f"(the log was rewritten)", head_seq)
        if head_seq < last:
            notes.append(f"{last - head_seq} record(s) after the chain head (appended by another server, or "
                         f"the head write was interrupted); they verify by MAC")
        return VerifyReport(True, len(rows), None, None, head_seq, tuple(notes))
