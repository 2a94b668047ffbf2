"""API keys: created by `chohyo keys create`, stored hashed in the state directory, checked per request.

In: a tenant code, roles and a label (create); a presented key (verify). Out: the secret, once, at
creation; `Principal` (key id, tenant, roles) for a valid key, else None.

A key reads ``chohyo_<id>_<secret>``: the id (12 hex digits) is public and names the key in logs and
metrics; the secret (32 random bytes, base64url) is never stored — only its SHA-256 (a 256-bit random
secret needs no slow hash). Verification hashes the presented secret and compares in constant time
(`hmac.compare_digest`), against a dummy hash when the id is unknown, so timing tells nothing about the
secret. The file (``<state_dir>/api-keys.json``, mode 0600) is rewritten atomically under a file lock;
the service rereads it when it changes, so a revoked key stops working without a restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from renderer.errors import UsageError
from renderer.files import flocked, state_dir_errors

#: render: render and validate; identity-verified: may claim `self`/`same_household` for a DV-protected person
#: (the counter system that checks identity documents); mailing: may state a notice is the municipality's own
#: mailing to a DV-protected addressee (the system that sends the municipality's mail); lift, sync, admin:
#: registry and key management
Role = Literal["render", "identity-verified", "mailing", "lift", "sync", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
PREFIX = "chohyo_"
_KEY_RE = re.compile(r"^chohyo_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_TENANT_RE = re.compile(r"^[0-9]{6}$")
_LABEL_RE = re.compile(r"^[0-9A-Za-z._@ -]{0,64}$")
_DUMMY = hashlib.sha256(b"chohyo-no-such-key").hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: one key of one tenant (団体) with its roles."""

    key_id: str
    tenant: str
    roles: frozenset[str]
    label: str = ""

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class StoredKey:
    id: str
    tenant: str
    roles: tuple[str, ...]
    sha256: str
    label: str
    created_at: str
    revoked_at: str | None = None

    def public(self) -> dict[str, Any]:
        """What `keys list` shows: never the hash."""
        return {"id": self.id, "tenant": self.tenant, "roles": list(self.roles), "label": self.label,
                "created_at": self.created_at, "revoked_at": self.revoked_at}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class KeyStore:
    """The key file. Safe for several processes (CLI writers, service readers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, StoredKey] = {}

    # ------------------------------------------------------------------ reading

    def _load(self) -> dict[str, StoredKey]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UsageError(f"the API key file {self.path} cannot be read ({exc.__class__.__name__})",
                             field="keys") from None
        keys: dict[str, StoredKey] = {}
        for k in raw.get("keys", []):
            keys[str(k["id"])] = StoredKey(id=str(k["id"]), tenant=str(k["tenant"]),
                                           roles=tuple(str(r) for r in k["roles"]), sha256=str(k["sha256"]),
                                           label=str(k.get("label", "")), created_at=str(k["created_at"]),
                                           revoked_at=k.get("revoked_at"))
        return keys

    def _current(self) -> dict[str, StoredKey]:
        """The keys, reread when the file changed (inode, size or mtime)."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._keys = self._load() if stamp is not None else {}
                self._stamp = stamp
            return self._keys

    def verify(self, presented: str | None) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise (constant-time secret compare)."""
        m = _KEY_RE.match(presented or "")
        key_id, secret = (m.group(1), m.group(2)) if m else ("", "")
        stored = self._current().get(key_id)
        expected = stored.sha256 if stored is not None else _DUMMY
        ok = hmac.compare_digest(_digest(secret), expected)
        if not ok or stored is None or stored.revoked_at is not None or m is None:
            return None
        return Principal(key_id=stored.id, tenant=stored.tenant, roles=frozenset(stored.roles), label=stored.label)

    def all(self) -> list[StoredKey]:
        return sorted(self._current().values(), key=lambda k: (k.tenant, k.created_at, k.id))

    # ------------------------------------------------------------------ writing (the CLI)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, StoredKey]]:
        with state_dir_errors(self.path.parent):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with flocked(self.path.with_name(self.path.name + ".lock")):
            keys = self._load()
            yield keys
            self._write(keys)

    def _write(self, keys: dict[str, StoredKey]) -> None:
        doc = {"version": 1, "keys": [
            {"id": k.id, "tenant": k.tenant, "roles": list(k.roles), "sha256": k.sha256, "label": k.label,
             "created_at": k.created_at, "revoked_at": k.revoked_at} for k in keys.values()]}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create(self, tenant: str, roles: list[str], *, label: str = "",
               now: dt.datetime | None = None) -> tuple[StoredKey, str]:
        """A new key; returns it and the full secret key string (shown once, never stored)."""
        if not _TENANT_RE.match(tenant):
            raise UsageError("--tenant must be a 6-digit 全国地方公共団体コード", field="--tenant")
        unknown = sorted(set(roles) - set(ROLES))
        if not roles or unknown:
            raise UsageError(f"--role must be one or more of {', '.join(ROLES)}", field="--role")
        if not _LABEL_RE.match(label):
            raise UsageError("--label: at most 64 characters of A-Z a-z 0-9 . _ @ - and space", field="--label")
        secret = secrets.token_urlsafe(32)
        when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")
        with self._locked() as keys:
            key_id = secrets.token_hex(6)
            while key_id in keys:
                key_id = secrets.token_hex(6)
            stored = StoredKey(id=key_id, tenant=tenant, roles=tuple(r for r in ROLES if r in roles),
                               sha256=_digest(secret), label=label, created_at=when)
            keys[key_id] = stored
        return stored, f"{PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str, *, now: dt.datetime | None = None) -> StoredKey:
        when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")
        with self._locked() as keys:
            stored = keys.get(key_id)
            if stored is None:
                raise UsageError(f"no API key {key_id!r}", field="KEY_ID")
            if stored.revoked_at is None:
                stored = keys[key_id] = StoredKey(id=stored.id, tenant=stored.tenant, roles=stored.roles,
                                                  sha256=stored.sha256, label=stored.label,
                                                  created_at=stored.created_at, revoked_at=when)
        return stored
