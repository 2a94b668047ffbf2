"""Real IPP printers on loopback for the printing tests: Debian's `ippeveprinter` (cups-ipp-utils).

In: the binaries ``ippeveprinter`` and ``ipptool`` (cups-ipp-utils) and ``dbus-daemon``. ippeveprinter insists on
a D-Bus system bus for DNS-SD even with ``-r off``; a private ``dbus-daemon`` on a socket in the session's temp
dir stands in for it (nothing is advertised, no system service is touched). Out: `LoopbackPrinter` — an
ippeveprinter on a free port of ``localhost`` that keeps every document it receives (``-k``) in a spool dir of
ours and runs `PRINT_COMMAND` for each job. The command keeps, next to the document, the job's attributes as
they arrived (``<doc>.env``: ``IPP_MEDIA_COL``, ``IPP_SIDES``, ``IPP_COPIES``, ``IPP_JOB_NAME`` …) only when the
job completes, so a document with its ``.env`` is a printed document; a ``fail`` file in the control dir makes
every job end ``aborted`` (the command exits 1), a ``hold`` file keeps each job processing until it is removed
(a stopped printer), ``delay`` holds each job that many seconds.

`unavailable()` says why the printers cannot run here; the fixtures skip locally and fail under CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PRINT_COMMAND = """#!/bin/sh
# ippeveprinter runs this once per job with the document's path; IPP_* hold the job's attributes.
ctl="{control}"
if [ -e "$ctl/delay" ]; then sleep "$(cat "$ctl/delay")"; fi
while [ -e "$ctl/hold" ]; do sleep 0.1; done
if [ -e "$ctl/fail" ]; then echo "ERROR: paper jam (test printer told to fail)" >&2; exit 1; fi
env | grep '^IPP_' | sort > "$1.env.tmp" && mv "$1.env.tmp" "$1.env"
exit 0
"""


def unavailable() -> str | None:
    for tool in ("ippeveprinter", "ipptool", "dbus-daemon"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install cups-ipp-utils dbus-daemon)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bus:
    """A private D-Bus daemon standing in for the system bus ippeveprinter asks for."""

    def __init__(self, root: Path) -> None:
        self.socket = root / "bus"
        self.proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", f"--address=unix:path={self.socket}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dbus-daemon did not start")
            time.sleep(0.05)

    @property
    def address(self) -> str:
        return f"unix:path={self.socket}"

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


@dataclass
class LoopbackPrinter:
    name: str
    root: Path
    bus: Bus
    duplex: bool = True
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def control(self) -> Path:
        return self.root / "control"

    @property
    def uri(self) -> str:
        return f"ipp://localhost:{self.port}/ipp/print"

    def start(self) -> LoopbackPrinter:
        for d in (self.spool, self.control):
            d.mkdir(parents=True, exist_ok=True)
        command = self.root / "print-command.sh"
        command.write_text(PRINT_COMMAND.format(control=self.control), encoding="utf-8")
        command.chmod(0o755)
        for _ in range(5):
            self.port = free_port()
            argv = ["ippeveprinter", "-r", "off", "-k", "-d", str(self.spool), "-p", str(self.port),
                    "-f", "application/pdf", "-c", str(command), "-n", "localhost",
                    *(["-2"] if self.duplex else []), self.name]
            with (self.root / "ippeveprinter.log").open("ab") as log:
                self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                             env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.bus.address})
            if self._ready():
                return self
            self.stop()
        raise RuntimeError(f"ippeveprinter {self.name} did not start: {(self.root / 'ippeveprinter.log').read_text()}")

    def _ready(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    # -- what the tests look at -----------------------------------------------------------------------
    def printed(self) -> list[Path]:
        """Documents whose jobs completed (the command kept their attributes), oldest job first."""
        docs = [p for p in self.spool.glob("*.pdf") if p.with_name(p.name + ".env").exists()]
        return sorted(docs, key=lambda p: int(p.name.split("-", 1)[0]))

    def received(self) -> list[Path]:
        """Every document received, whatever became of its job."""
        return sorted(self.spool.glob("*.pdf"), key=lambda p: int(p.name.split("-", 1)[0]))

    @staticmethod
    def attributes(doc: Path) -> dict[str, str]:
        lines = doc.with_name(doc.name + ".env").read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def set(self, switch: str, value: str | None) -> None:
        """Turn a control switch (fail, hold, delay) on with a value, or off with None."""
        path = self.control / switch
        if value is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(value, encoding="utf-8")

    def clear(self) -> None:
        for p in self.spool.iterdir():
            p.unlink()
        for s in ("fail", "hold", "delay"):
            self.set(s, None)


@dataclass
class Printers:
    root: Path
    bus: Bus
    good: LoopbackPrinter
    flaky: LoopbackPrinter

    @classmethod
    def start(cls) -> Printers:
        root = Path(tempfile.mkdtemp(prefix="chohyo-ipp-"))
        bus = Bus(root)
        good = LoopbackPrinter("chohyo-test-good", root / "good", bus).start()
        flaky = LoopbackPrinter("chohyo-test-flaky", root / "flaky", bus, duplex=False).start()
        return cls(root, bus, good, flaky)

    def stop(self) -> None:
        for p in (self.good, self.flaky):
            p.stop()
        self.bus.stop()
        shutil.rmtree(self.root, ignore_errors=True)
