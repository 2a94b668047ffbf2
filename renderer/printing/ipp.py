"""An IPP client made of CUPS's own `ipptool` and test files generated here.

In: a printer URI (``ipp://`` / ``ipps://``, a printer or a CUPS queue) and what to ask. Out: the printer's
attributes (`PrinterInfo`), a submitted job (`Job`: id and state), a job's state now, or the jobs the printer
still shows under a job name. Every request is one ``ipptool -X`` run (XML plist answer, parsed with the
standard library's `plistlib`) on a test file written to a private temp directory; the values put into a test
file are checked against strict patterns first (no quoting games), and the document goes in with ``-f``.

Why ipptool and not a Python IPP library: the packages on the index are either async status clients for home
automation (pyipp / aioipp: no document upload API), unmaintained (pkipplib, pyipptool) or need a local CUPS
server and libcups headers (pycups). ipptool is CUPS's conformance tool, ships in Debian's cups-ipp-utils next
to `ippeveprinter` (the loopback printer the tests print to), speaks IPP/1.1–2.x over HTTP and TLS (``ipps``),
and keeps the encoding of every attribute (collections such as ``media-col``) out of this project.

Failures: `PrinterUnreachable` (connection refused, timeout: the printer is off, stopped or paused — the caller
waits and reports) and `IppError` (the printer answered with an error status, named).
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from renderer.errors import ChohyoError, UsageError

IPPTOOL = "ipptool"
#: what may go into a generated test file: keywords, names and media names (ASCII, no quotes, no spaces)
_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,127}$")


class JobState(IntEnum):
    """RFC 8011 §5.3.7 job-state."""

    PENDING = 3
    PENDING_HELD = 4
    PROCESSING = 5
    PROCESSING_STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def final(self) -> bool:
        return self >= JobState.CANCELED

    @property
    def keyword(self) -> str:
        return self.name.lower().replace("_", "-")


class PrinterUnreachable(ChohyoError):
    """The printer does not answer (off, stopped, network): nothing was decided, the caller may wait."""

    problem = "printer-unreachable"
    title = "The printer does not answer"


class IppError(ChohyoError):
    """The printer answered with an IPP error status."""

    problem = "printer-error"
    title = "The printer refused the request"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message, field="printer")
        self.status = status


@dataclass(frozen=True)
class PrinterInfo:
    state: str                       # idle, processing, stopped
    state_reasons: tuple[str, ...]
    formats: tuple[str, ...]
    sources: tuple[str, ...]
    sides: tuple[str, ...]
    accepting: bool


@dataclass(frozen=True)
class Job:
    id: int
    state: JobState
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobTicket:
    """What one job asks of the printer (RFC 8011 / PWG 5100.3 job template attributes)."""

    job_name: str
    media: str                       # PWG self-describing media name, e.g. iso_a4_210x297mm
    width: int                       # hundredths of a millimetre (media-size x-dimension)
    height: int
    media_source: str
    sides: str
    copies: int = 1
    document_format: str = "application/pdf"


def _token(value: str, what: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise UsageError(f"{what}: {value!r} is not an IPP keyword or name this client sends (ASCII letters, digits, "
                         f"'.', '_', '-')", field=what)
    return value


def _mime(value: str) -> str:
    if not re.fullmatch(r"[a-z]+/[a-z0-9.+-]{1,60}", value):
        raise UsageError(f"document-format: {value!r} is not a MIME type", field="document-format")
    return value


def _header(operation: str) -> str:
    return (f'{{\n  NAME "{operation}"\n  OPERATION {operation}\n  GROUP operation-attributes-tag\n'
            f"  ATTR charset attributes-charset utf-8\n  ATTR naturalLanguage attributes-natural-language en\n"
            f"  ATTR uri printer-uri $uri\n  ATTR name requesting-user-name chohyo\n")


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


class IppClient:
    """One printer, reached with ipptool. `timeout` bounds every request (seconds)."""

    def __init__(self, uri: str, *, timeout: float = 10.0) -> None:
        if not re.fullmatch(r"ipps?://[A-Za-z0-9._:\[\]-]+(/[A-Za-z0-9._~/-]*)?", uri):
            raise UsageError(f"printer uri {uri!r} is not an ipp:// or ipps:// URI", field="uri")
        self.uri = uri
        self.timeout = timeout

    @staticmethod
    def available() -> bool:
        return shutil.which(IPPTOOL) is not None

    # -- requests -----------------------------------------------------------------------------------
    def printer_info(self) -> PrinterInfo:
        test = _header("Get-Printer-Attributes") + (
            "  ATTR keyword requested-attributes printer-state,printer-state-reasons,document-format-supported,"
            "media-source-supported,sides-supported,printer-is-accepting-jobs\n}\n")
        attrs = self._run(test)
        states = {3: "idle", 4: "processing", 5: "stopped"}
        return PrinterInfo(state=states.get(int(attrs.get("printer-state", 0)), "unknown"),
                           state_reasons=_as_tuple(attrs.get("printer-state-reasons")),
                           formats=_as_tuple(attrs.get("document-format-supported")),
                           sources=_as_tuple(attrs.get("media-source-supported")),
                           sides=_as_tuple(attrs.get("sides-supported")),
                           accepting=bool(attrs.get("printer-is-accepting-jobs", True)))

    def print_job(self, document: Path, ticket: JobTicket) -> Job:
        """Print-Job with the document's bytes as they are (never converted here)."""
        t = ticket
        if not 1 <= t.copies <= 999:
            raise UsageError("copies must be 1 to 999", field="copies")
        test = _header("Print-Job") + (
            f"  ATTR name job-name {_token(t.job_name, 'job-name')}\n"
            f"  ATTR mimeMediaType document-format {_mime(t.document_format)}\n"
            "  GROUP job-attributes-tag\n"
            f"  ATTR integer copies {t.copies}\n"
            f"  ATTR keyword sides {_token(t.sides, 'sides')}\n"
            "  ATTR collection media-col {\n"
            f"    MEMBER collection media-size {{\n      MEMBER integer x-dimension {int(t.width)}\n"
            f"      MEMBER integer y-dimension {int(t.height)}\n    }}\n"
            f"    MEMBER keyword media-size-name {_token(t.media, 'media')}\n"
            f"    MEMBER keyword media-source {_token(t.media_source, 'media-source')}\n"
            "  }\n  FILE $filename\n}\n")
        attrs = self._run(test, document=document)
        if "job-id" not in attrs:   # ipptool's "successful-ok" for a connection cut mid-request: no job was named
            raise PrinterUnreachable(f"printer {self.uri}: the Print-Job answer names no job (the connection was "
                                     f"cut while sending)")
        return Job(int(attrs["job-id"]), JobState(int(attrs.get("job-state", 3))),
                   _as_tuple(attrs.get("job-state-reasons")))

    def job(self, job_id: int) -> Job | None:
        """The job's state now; None when the printer no longer knows the job (client-error-not-found)."""
        test = _header("Get-Job-Attributes") + (
            f"  ATTR integer job-id {int(job_id)}\n"
            "  ATTR keyword requested-attributes job-id,job-state,job-state-reasons\n}\n")
        try:
            attrs = self._run(test)
        except IppError as exc:
            if exc.status == "client-error-not-found":
                return None
            raise
        return Job(int(attrs.get("job-id", job_id)), JobState(int(attrs["job-state"])),
                   _as_tuple(attrs.get("job-state-reasons")))

    def jobs_named(self, job_name: str) -> list[Job]:
        """Every job the printer still shows (not completed and completed) whose job-name is `job_name`."""
        found: list[Job] = []
        for which in ("not-completed", "completed"):
            test = _header("Get-Jobs") + (
                f"  ATTR keyword which-jobs {which}\n"
                "  ATTR keyword requested-attributes job-id,job-state,job-name,job-state-reasons\n}\n")
            for attrs in self._run_all(test):
                if attrs.get("job-name") == job_name and "job-id" in attrs:
                    found.append(Job(int(attrs["job-id"]), JobState(int(attrs["job-state"])),
                                     _as_tuple(attrs.get("job-state-reasons"))))
        return found

    # -- ipptool ------------------------------------------------------------------------------------
    def _run(self, test: str, *, document: Path | None = None) -> dict[str, Any]:
        groups = self._run_all(test, document=document)
        merged: dict[str, Any] = {}
        for g in groups:
            merged.update(g)
        return merged

    def _run_all(self, test: str, *, document: Path | None = None) -> list[dict[str, Any]]:
        """Run one test file; the response's attribute groups after the operation group."""
        if not self.available():
            raise ChohyoError("ipptool is not installed (Debian: apt-get install cups-ipp-utils); nothing was sent")
        with tempfile.TemporaryDirectory(prefix="chohyo-ipp-") as tmp:
            path = Path(tmp) / "request.test"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(test)
            argv = [IPPTOOL, "-X", "-T", f"{self.timeout:g}"]
            if document is not None:
                argv += ["-f", str(document)]
            argv += [self.uri, str(path)]
            try:
                done = subprocess.run(argv, capture_output=True, timeout=self.timeout * 3 + 5, check=False,
                                      env={**os.environ, "LC_ALL": "C"})
            except subprocess.TimeoutExpired:
                raise PrinterUnreachable(f"printer {self.uri} did not answer within {self.timeout:g} s") from None
        return self._parse(done)

    def _parse(self, done: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
        start = done.stdout.find(b"<?xml")
        if start < 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PrinterUnreachable(f"printer {self.uri} cannot be reached: {reason[-1] if reason else 'no answer'}")
        try:
            doc = plistlib.loads(done.stdout[start:])
        except Exception:
            raise PrinterUnreachable(f"printer {self.uri}: the answer was cut off") from None
        tests = doc.get("Tests") or []
        if not tests:
            raise PrinterUnreachable(f"printer {self.uri} cannot be reached (no response)")
        test = tests[0]
        status = str(test.get("StatusCode", ""))
        groups = test.get("ResponseAttributes") or []
        if not status:
            raise PrinterUnreachable(f"printer {self.uri} did not answer the request")
        if not status.startswith("successful-ok"):
            raise IppError(f"printer {self.uri} answered {status}", status=status)
        return [g for g in groups[1:] if isinstance(g, dict)] or [{}]


__all__ = ["IppClient", "IppError", "Job", "JobState", "JobTicket", "PrinterInfo", "PrinterUnreachable"]
