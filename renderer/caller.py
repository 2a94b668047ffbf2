"""Who is asking: the authenticated caller of a render, as the issue log records it.

In: an API key's principal (the service), or the operating-system user and host (CLI, batch, library
use), and the grants that caller holds. Out: `Caller`, a plain value with an ``id`` the issue log records
beside the request's free-text ``operator`` and the requester's claim.

A requester's ``relation`` and ``person_id`` are what the caller *claims*. For a DV-protected person a
claim of ``self`` or ``same_household`` opens that person's own address, so it is honoured only from a
caller holding `IDENTITY_VERIFIED`: on the service, an API key with that role (given to the counter
system that checks identity documents); on the CLI and batch, the explicit flag ``--identity-verified``
(the clerk at the counter has checked the documents). Any other caller making that claim is refused.
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
from dataclasses import dataclass, field
from typing import Literal

IDENTITY_VERIFIED = "identity-verified"

CallerKind = Literal["api-key", "cli", "batch", "library"]


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    #: ``key:<key id>`` for the service, ``<os user>@<host>`` for local callers (never a resident's data)
    id: str
    grants: frozenset[str] = field(default_factory=frozenset)

    @property
    def identity_verified(self) -> bool:
        return IDENTITY_VERIFIED in self.grants

    @classmethod
    def local(cls, kind: CallerKind = "library", *, identity_verified: bool = False) -> Caller:
        """The operating-system user and host of this process."""
        return cls(kind=kind, id=f"{_os_user()}@{_host()}",
                   grants=frozenset({IDENTITY_VERIFIED}) if identity_verified else frozenset())

    @classmethod
    def api_key(cls, key_id: str, roles: frozenset[str]) -> Caller:
        return cls(kind="api-key", id=f"key:{key_id}", grants=frozenset(roles & {IDENTITY_VERIFIED}))

    def record(self) -> dict[str, object]:
        """What the issue log stores of the caller."""
        return {"kind": self.kind, "id": self.id, "identity_verified": self.identity_verified}


@functools.cache
def _os_user() -> str:
    """The user this process runs as (asked once: a batch plans thousands of records as the same user)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no passwd entry (a container's arbitrary uid)
        return f"uid{os.getuid()}"


def _host() -> str:
    return socket.gethostname() or "localhost"
