"""A full output disk is an error naming the file and "No space left on device" (exit 1), never "internal failure
(OSError)"; the render's 発行番号 are voided and nothing of the resident is shown. Found by an operations review.

In: `chohyo render` of the fictitious sample into a 16 KiB tmpfs — the real thing, mounted in a private mount
namespace (``unshare -rm``: nothing on the machine is mounted, the file system goes with the process) — or,
where namespaces are not permitted, the same render in-process with ``os.fsync`` failing with ENOSPC. Out: the
problem+json on stderr, the listing of the full directory (no PDF, no temp file) and ``chohyo audit verify``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dvkit import strings_in
from typer.testing import CliRunner

from renderer.cli import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "layouts" / "samples" / "juminhyo-setai.json"
#: mounts a tiny tmpfs on $0 in a private mount namespace, runs the command, lists $0 into $0.ls
SCRIPT = 'mount -t tmpfs -o size=16k tmpfs "$0" || exit 99; "$@"; rc=$?; ls -A "$0" > "$0.ls"; exit $rc'


def _namespaces() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30, check=False).returncode == 0
    except OSError:
        return False


def _render_into_full_disk(full: Path, state: Path, envelope: Path) -> tuple[int, str, list[str]]:
    args = ["render", "juminhyo-setai", str(envelope), "-o", str(full / "out.pdf"), "--state-dir", str(state),
            "--json"]
    if _namespaces():
        full.mkdir()
        proc = subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT, str(full), sys.executable, "-m", "renderer",
                               *args], capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode != 99, proc.stderr
        listing = Path(str(full) + ".ls").read_text(encoding="utf-8").split()
        return proc.returncode, proc.stderr, listing
    # no mount namespaces here: the same render in-process, the file system refusing the data at fsync
    full.mkdir()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(full)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    mp = pytest.MonkeyPatch()
    mp.setattr(os, "fsync", fsync)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        mp.undo()
    return result.exit_code, result.stderr, sorted(p.name for p in full.iterdir())


def test_a_full_output_disk_names_the_file_and_the_reason_and_voids_the_numbers(tmp_path: Path) -> None:
    envelope = json.loads(SAMPLE.read_text(encoding="utf-8"))
    state, full = tmp_path / "state", tmp_path / "full"
    code, stderr, listing = _render_into_full_disk(full, state, SAMPLE)
    problem = json.loads(stderr.strip().splitlines()[-1])
    assert code == 1, stderr
    assert problem["type"] == "urn:chohyo:problem:output-not-written", problem
    assert f"cannot write {full / 'out.pdf'}: No space left on device (ENOSPC)" in problem["detail"], problem
    assert "internal failure" not in stderr and "Traceback" not in stderr
    assert not {s for s in strings_in(envelope["data"]) if len(s) >= 2 and s in stderr}, "resident data in the message"
    assert listing == [], f"left on the full disk: {listing}"
    # the 発行番号 reserved for the render are accounted for (spoiled: not written), the log verifies
    verify = CliRunner().invoke(app, ["audit", "verify", "--state-dir", str(state), "--json"])
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    records = CliRunner().invoke(app, ["audit", "show", "1", "--state-dir", str(state), "--json"])
    assert "not-written" in records.stdout, records.stdout
