"""Revision 0002: a render's provenance in columns of ``issue_log``, and the reserve-record lookup indexed.

In: a database at 0001 (with its records). Out: the same records, each ``issue_log`` row now also holding
``layout_sha256``, ``layout_parts_sha256`` (canonical JSON of ``{part: sha256}``), ``tenant_sha256``,
``font_manifest_sha256`` and ``renderer_version`` copied from its MACed body (NULL when the body has none: a
record of another event, or one written before 0.2.0); and the index ``ix_issued_numbers_seq``.

Why: the body is what the MAC covers, but a body cannot be searched — "which certificates were drawn with
font manifest X, or by renderer version Y" (a recall after a defect) needs columns, which `chohyo audit
verify` checks against the body like ``tenant`` and ``layout``. The index serves every lookup of a
reservation's numbers by its reserve record (a failed render voiding its numbers, ``audit void-stale``),
which read the whole table before.

The backfill keeps every row and never touches a body, ``prev`` or ``mac``: the chain verifies as before.
A body that is not JSON keeps NULL columns (``audit verify`` reports that record anyway). Downgrade drops
the columns and the index (the values stay in the bodies).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_log_provenance"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None

#: frozen here: the body keys as 0.2.0 wrote them (`renderer.state.db.provenance_columns` is the live copy)
COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("layout_sha256", sa.String(64)),
    ("layout_parts_sha256", sa.Text()),
    ("tenant_sha256", sa.String(64)),
    ("font_manifest_sha256", sa.String(64)),
    ("renderer_version", sa.String(32)),
)
CHUNK = 1000


def columns_of(body: Any) -> dict[str, str | None]:
    """The new columns of one record's body (as `renderer.state.db.provenance_columns` computes them)."""
    if not isinstance(body, dict):
        return {name: None for name, _ in COLUMNS}
    out: dict[str, str | None] = {}
    for name, _ in COLUMNS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        out[name] = value
    return out


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("issue_log", sa.Column(name, type_, nullable=True))
    op.create_index("ix_issued_numbers_seq", "issued_numbers", ["seq"])
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    log = sa.table("issue_log", sa.column("seq", sa.Integer), sa.column("body", sa.Text),
                   *(sa.column(name, type_) for name, type_ in COLUMNS))
    update = (sa.update(log).where(log.c.seq == sa.bindparam("b_seq"))
              .values({name: sa.bindparam(f"b_{name}") for name, _ in COLUMNS}))
    last = 0
    while True:
        rows = conn.execute(sa.select(log.c.seq, log.c.body).where(log.c.seq > last)
                            .order_by(log.c.seq).limit(CHUNK)).all()
        if not rows:
            return
        values = []
        for seq, body in rows:
            try:
                parsed = json.loads(body)
            except (TypeError, ValueError):
                parsed = None
            columns = columns_of(parsed)
            if any(v is not None for v in columns.values()):
                values.append({"b_seq": seq, **{f"b_{k}": v for k, v in columns.items()}})
        if values:
            conn.execute(update, values)
        last = int(rows[-1][0])


def downgrade() -> None:
    op.drop_index("ix_issued_numbers_seq", table_name="issued_numbers")
    with op.batch_alter_table("issue_log") as batch:   # SQLite: a copy of the table without the columns
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
