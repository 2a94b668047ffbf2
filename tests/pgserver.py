"""A throwaway PostgreSQL server for the state tests: Debian's binaries, a temp dir, a Unix socket.

In: the PostgreSQL binaries (``/usr/lib/postgresql/<n>/bin``, or ``CHOHYO_PG_BIN``). Out: `PgServer`, started
with `start()` (``initdb`` + ``pg_ctl start`` listening only on a socket in its own temp dir, ``fsync=off``:
the data is thrown away), which creates and drops databases and gives their SQLAlchemy URLs; `stop()` /
`restart()` for the restart tests; `unavailable()` says why a server cannot start here. ``initdb`` refuses
root, so as root every server command runs as the ``postgres`` OS user (``runuser``) and the temp dir is
given to it. Nothing here touches a system cluster or a running service.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

PG_OS_USER = "postgres"


def pg_bin() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: ``CHOHYO_PG_BIN``, else the newest Debian install."""
    env = os.environ.get("CHOHYO_PG_BIN")
    if env:
        return Path(env)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="chohyo-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.user = PG_OS_USER if self.as_root else "chohyo"
        if self.as_root:
            shutil.chown(self.root, user=PG_OS_USER)
        self.root.chmod(0o755)   # the socket is reached by the tests (the current user)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", PG_OS_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()[-800:]}")

    def start(self) -> PgServer:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self.resume()
        return self

    def resume(self) -> None:
        """Start the (initialised) server and wait until it accepts connections."""
        opts = f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", opts, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host=str(self.root), port=self.port, user=self.user, dbname="postgres",
                               autocommit=True)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@/{dbname}?host={self.root}&port={self.port}"

    def create_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def unavailable() -> str | None:
    """Why a throwaway server cannot run here (None: it can try)."""
    bindir = pg_bin()
    if bindir is None or not (bindir / "initdb").is_file():
        return "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin; apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root and runuser is missing (initdb refuses root)"
    return None
