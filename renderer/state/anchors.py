"""Anchors of the issue log's chain head, kept outside the state directory.

In: a target the operator configures (``CHOHYO_AUDIT_ANCHOR`` or ``--to``): a file path, or an ``http://``
/ ``https://`` URL. Out: `append_anchor` adds one JSON line (the authenticated head: count, seq, MAC, time,
head MAC, and when it was anchored); `read_anchors` returns every line written so far.

A file target is opened ``O_APPEND`` and fsynced; make it append-only where it lives (``chattr +a`` on
Linux, a WORM bucket, a different host's share) so that whoever can roll back the state directory cannot
roll back the anchors too. A URL target receives the line as ``POST`` (``application/json``) and must
answer ``GET`` with every line kept, as JSON lines (``application/x-ndjson``) — any small append-only
service, e.g. a log collector, fits. Nothing of a resident is in a head: only counts, MACs and times.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TIMEOUT_S = 10.0


class AnchorError(Exception):
    """The anchor target cannot be written or read."""


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def append_anchor(target: str, line: dict[str, Any]) -> None:
    data = (json.dumps(line, sort_keys=True) + "\n").encode("utf-8")
    if is_url(target):
        import urllib.error  # only when an anchor is an URL: a render never loads urllib
        import urllib.request

        request = urllib.request.Request(target, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                if response.status >= 300:
                    raise AnchorError(f"the anchor URL answered {response.status}")
        except (urllib.error.URLError, OSError) as exc:
            raise AnchorError(f"the anchor URL cannot be written ({exc.__class__.__name__})") from None
        return
    path = Path(target)
    if not path.parent.is_dir():
        raise AnchorError(f"the anchor file's directory {path.parent} does not exist")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise AnchorError(f"the anchor file {path} cannot be written ({exc.__class__.__name__})") from None


#: how much of a file target's end `read_last_anchor` reads (a line is about 300 bytes)
TAIL_BYTES = 4096


def read_last_anchor(path: str) -> dict[str, Any] | None:
    """The last line of a file target, reading only its end (an append checks it: one small read); None
    when the file does not exist yet or holds no line."""
    try:
        with Path(path).open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - TAIL_BYTES)
            fh.seek(start)
            tail = fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnchorError(f"the anchor file {path} cannot be read ({exc.__class__.__name__})") from None
    lines = [raw for raw in tail.split(b"\n") if raw.strip()]
    if start > 0 and tail.count(b"\n") < 2:
        raise AnchorError(f"the last line of the anchor file {path} is longer than {TAIL_BYTES} bytes")
    if not lines:
        return None
    try:
        value = json.loads(lines[-1].decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise AnchorError(f"the last line of the anchor file {path} is not JSON") from None
    if not isinstance(value, dict):
        raise AnchorError(f"the last line of the anchor file {path} is not an object")
    return value


def read_anchors(target: str) -> list[dict[str, Any]]:
    if is_url(target):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(target, timeout=TIMEOUT_S) as response:
                text = response.read().decode("utf-8")
        except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
            raise AnchorError(f"the anchor URL cannot be read ({exc.__class__.__name__})") from None
    else:
        try:
            text = Path(target).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise AnchorError(f"the anchor file {target} cannot be read ({exc.__class__.__name__})") from None
    out: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            raise AnchorError(f"line {number} of the anchor is not JSON") from None
        if not isinstance(value, dict):
            raise AnchorError(f"line {number} of the anchor is not an object")
        out.append(value)
    return out
