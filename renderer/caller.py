"""Who is asking: the authenticated caller of a render, as the issue log records it.

In: an API key's principal (the service), or the operating-system user and host (CLI, batch, library
use), and the grants that caller holds. Out: `Caller`, a plain value with an ``id`` the issue log records
beside the request's free-text ``operator`` and the requester's claim.

A requester's ``relation`` and ``person_id`` are what the caller *claims*. For a DV-protected person a
claim of ``self`` or ``same_household`` opens that person's own address, so it is honoured only from a
caller holding `IDENTITY_VERIFIED`: on the service, an API key with that role (given to the counter
system that checks identity documents); on the CLI and batch, the explicit flag ``--identity-verified``
(the clerk at the counter has checked the documents). Any other caller making that claim is refused.

Likewise a notice that says it is the municipality's own mailing (relation ``public_office``, channel
``mail``) prints its DV-protected addressee's own address (the letter must reach them), so that statement
is honoured only from a caller holding `MAILING`: on the service, an API key with that role (given to the
system that sends the municipality's mail); on the CLI and batch, the flag ``--mailing`` (the operator
prints or hands the run to the municipality's mailing). Any other caller is refused for such a notice.
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
from dataclasses import dataclass, field
from typing import Literal

IDENTITY_VERIFIED = "identity-verified"
MAILING = "mailing"
#: the grants an API key's roles can carry into a caller
GRANTS = frozenset({IDENTITY_VERIFIED, MAILING})

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

    @property
    def mails(self) -> bool:
        """May state that a notice is the municipality's own mailing to its addressee (`MAILING`)."""
        return MAILING in self.grants

    @classmethod
    def local(cls, kind: CallerKind = "library", *, identity_verified: bool = False,
              mailing: bool = False) -> Caller:
        """The operating-system user and host of this process, with the grants its operator stated."""
        grants = {g for g, held in ((IDENTITY_VERIFIED, identity_verified), (MAILING, mailing)) if held}
        return cls(kind=kind, id=f"{_os_user()}@{_host()}", grants=frozenset(grants))

    @classmethod
    def api_key(cls, key_id: str, roles: frozenset[str]) -> Caller:
        return cls(kind="api-key", id=f"key:{key_id}", grants=frozenset(roles & GRANTS))

    def record(self) -> dict[str, object]:
        """What the issue log stores of the caller."""
        return {"kind": self.kind, "id": self.id, "identity_verified": self.identity_verified,
                "mailing": self.mails}


@functools.cache
def _os_user() -> str:
    """The user this process runs as (asked once: a batch plans thousands of records as the same user)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no passwd entry (a container's arbitrary uid)
        return f"uid{os.getuid()}"


def _host() -> str:
    return socket.gethostname() or "localhost"
