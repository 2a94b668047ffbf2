"""Revision 0003: every person_id (宛名番号) the DV registry stores is spelled in upper case.

In: a database at 0002 (with its records). Out: the same records, with the letters of every person_id in
``suppressions.person_id``, ``suppression_adversaries.person_id`` and ``.adversary_id`` and ``lifts.person_id``
upper-cased (ASCII a-z only: the older pattern admitted nothing else), a record's adversaries listed once, and
the ``registry_state`` generation of every tenant whose registry changed advanced (a batch plans from a view of
the registry and commits only while its generation is current).

Why: releases before the person_id had one spelling (``[0-9A-Za-z-]``, up to 0.2.x) stored ``ab1`` as it came;
this release admits ``[0-9A-Z-]`` only and compares person_ids exactly, so a record stored as ``ab1`` stayed
listed as active but matched no request any more — a notice for ``AB1`` printed the protected address in full —
and could be neither replaced nor released (the import refuses ``ab1``). The same for an 相手方 stored as ``xy9``
(a request from ``XY9`` was not recognised as the 相手方's) and a lift of ``ab1``.

Refused (`SchemaError`, nothing changed): a tenant where upper-casing would make one person of two spellings —
``ab1`` and ``AB1`` both stored (as a record, an 相手方's record key or a lift): which version, case and period
is right is the 住民記録 system's to say, not a migration's. The message names the tenant and the person_ids
only; README (Schema migrations) says how to resolve it. The 相手方 of one record are a set: ``xy9`` and
``XY9`` under the same record become one entry (protection is never narrowed by that).

Never touched: the issue log. Its bodies are what the MAC covers (immutable audit records); readers that match
a person_id from a body against the registry upper-case it (`renderer.printing.run.dv_holds`).

Downgrade changes nothing: the upper-case spelling is valid for every release, and which ids were written in
lower case is not kept.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from renderer.state.migrations import SchemaError

revision = "0003_person_ids_upper"
down_revision: str | None = "0002_log_provenance"
branch_labels: str | None = None
depends_on: str | None = None

LOGGER = logging.getLogger("chohyo.state")
#: frozen here: a-z → A-Z and nothing else (str.upper would also change non-ASCII letters, e.g. ß → SS)
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: at most this many conflicting persons are named in the refusal (the count is always given)
SHOWN = 20

_suppressions = sa.table("suppressions", sa.column("tenant", sa.String), sa.column("person_id", sa.String))
_adversaries = sa.table("suppression_adversaries", sa.column("tenant", sa.String), sa.column("person_id", sa.String),
                        sa.column("adversary_id", sa.String))
_lifts = sa.table("lifts", sa.column("tenant", sa.String), sa.column("person_id", sa.String))
_state = sa.table("registry_state", sa.column("tenant", sa.String), sa.column("generation", sa.Integer))


def upper(person_id: str) -> str:
    """The one spelling of a person_id: its ASCII letters upper-cased."""
    return person_id.translate(_UPPER)


def conflicts(spellings: dict[tuple[str, str], set[str]]) -> list[tuple[str, list[str]]]:
    """(tenant, its spellings, sorted) of every person stored under more than one spelling, in order."""
    return [(tenant, sorted(found)) for (tenant, _), found in sorted(spellings.items()) if len(found) > 1]


def refusal(found: list[tuple[str, list[str]]]) -> SchemaError:
    shown = "; ".join(f"tenant {tenant}: {' and '.join(ids)}" for tenant, ids in found[:SHOWN])
    more = f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return SchemaError(
        f"revision {revision} cannot upper-case the DV registry's person_ids: {len(found)} person(s) are stored "
        f"under two spellings that would become one ({shown}{more}); nothing was changed — decide with the 住民記録 "
        f"system which record is current, delete the other spelling's rows (README: Schema migrations, "
        f"revision 0003), then run `chohyo db upgrade` again", field="suppressions.person_id")


def upgrade() -> None:
    conn = op.get_bind()
    spellings: dict[tuple[str, str], set[str]] = defaultdict(set)
    for table in (_suppressions, _adversaries, _lifts):
        for tenant, person_id in conn.execute(sa.select(table.c.tenant, table.c.person_id).distinct()):
            spellings[(str(tenant), upper(str(person_id)))].add(str(person_id))
    found = conflicts(spellings)
    if found:
        raise refusal(found)
    renamed = sorted((tenant, old) for (tenant, _), ids in spellings.items() for old in ids if old != upper(old))
    changed: set[str] = set()
    for tenant, old in renamed:
        new = upper(old)
        for table in (_suppressions, _lifts):
            conn.execute(sa.update(table).where(table.c.tenant == tenant, table.c.person_id == old)
                         .values(person_id=new))
        changed.add(tenant)
    changed |= _adversaries_upper(conn)
    for tenant in sorted(changed):
        bumped = conn.execute(sa.update(_state).where(_state.c.tenant == tenant)
                              .values(generation=_state.c.generation + 1)).rowcount
        if not bumped:
            conn.execute(sa.insert(_state).values(tenant=tenant, generation=1))
    if changed:   # counts only: never a person_id in a log line
        LOGGER.info("revision %s: upper-cased the person_ids of the DV registry of %d tenant(s)", revision,
                    len(changed))


def _adversaries_upper(conn: sa.Connection) -> set[str]:
    """Rewrite every record's 相手方 rows that hold a lower-case letter (its key already checked): the record's
    upper-cased set, each once. Returns the tenants changed."""
    records: dict[tuple[str, str], set[str]] = defaultdict(set)
    for tenant, person_id, adversary_id in conn.execute(
            sa.select(_adversaries.c.tenant, _adversaries.c.person_id, _adversaries.c.adversary_id)):
        records[(str(tenant), str(person_id))].add(str(adversary_id))
    changed: set[str] = set()
    for (tenant, person_id), adversaries in sorted(records.items()):
        if person_id == upper(person_id) and all(a == upper(a) for a in adversaries):
            continue
        conn.execute(sa.delete(_adversaries).where(_adversaries.c.tenant == tenant,
                                                   _adversaries.c.person_id == person_id))
        conn.execute(sa.insert(_adversaries), [{"tenant": tenant, "person_id": upper(person_id), "adversary_id": a}
                                               for a in sorted({upper(a) for a in adversaries})])
        changed.add(tenant)
    return changed


def downgrade() -> None:
    """Nothing to undo: the upper-case spelling is one every release accepts."""
