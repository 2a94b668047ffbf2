"""Revision 0001: the schema every release before migrations created with ``create_all`` (chohyo 0.2.0).

In: an empty database (or, through ``chohyo db upgrade``, one whose tables already are exactly these: it is then
only stamped). Out: the tables of 発行番号 counters and issued numbers with their outcomes and reservations, the
DV suppression registry with its adversaries, generations and lifts, the HMAC-chained issue log and the batch
journal.

Frozen: `METADATA` is this revision's schema as it was, written out here rather than imported from
`renderer.state.db` (whose tables move on with later revisions); ``chohyo db upgrade`` compares a database
without a recorded revision with it before stamping. Nothing here holds names, addresses or numbers of
residents.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

revision = "0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

METADATA = MetaData()

serials = Table(
    "serials", METADATA,
    Column("tenant", String(6), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("terminal", String(20), primary_key=True),
    Column("printer", String(20), primary_key=True),
    Column("last", Integer, nullable=False),
)

# One row per (tenant, person_id): the latest version the 住民記録 system sent. A release keeps the row
# (status "released") so that an older upsert arriving later is ignored rather than re-applied.
suppressions = Table(
    "suppressions", METADATA,
    Column("tenant", String(6), primary_key=True),
    Column("person_id", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", String(10), nullable=False),          # active | released
    Column("case_id", String(64)),
    Column("role", String(10)),                             # applicant (申出者) | joint (併せて支援を求める者)
    Column("period_start", String(10)),
    Column("period_end", String(10)),
    Column("processes", String(100)),                       # comma list: certificate,notice,list
    Column("layouts", Text),                                # comma list of layout ids, NULL = every layout
    Column("addresses", String(40)),                        # comma list: current,previous
    Column("moved_out_on", String(10)),
    Column("continuation_end", String(10)),
    Column("updated_at", String(32), nullable=False),
)

suppression_adversaries = Table(
    "suppression_adversaries", METADATA,
    Column("tenant", String(6), primary_key=True),
    Column("person_id", String(32), primary_key=True),      # the protected person's record
    Column("adversary_id", String(32), primary_key=True),   # 相手方 (加害者)
    Index("ix_adversary", "tenant", "adversary_id"),
)

# Advanced in every transaction that changes a tenant's registry (import, lift, revoke): a batch plans
# from an in-memory view of the registry and commits only while the generation it read is still current.
registry_state = Table(
    "registry_state", METADATA,
    Column("tenant", String(6), primary_key=True),
    Column("generation", Integer, nullable=False),
)

lifts = Table(
    "lifts", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(6), nullable=False),
    Column("person_id", String(32), nullable=False),
    Column("layout", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("reviewer", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("revoked_at", String(32)),
    Column("revoked_by", String(64)),
    Index("ix_lift_target", "tenant", "person_id", "layout"),
)

issue_log = Table(
    "issue_log", METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("event", String(16), nullable=False),
    Column("tenant", String(6)),
    Column("layout", String(64)),
    Column("body", Text, nullable=False),                   # canonical JSON of the whole record
    Column("prev", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
    Index("ix_log_tenant_at", "tenant", "at"),
)

# Every 発行番号 ever reserved, once, with the reserve record that took it (`seq`): the unique constraint
# is what makes two copies sharing a number impossible, whatever a counter says, across processes and
# servers. `chohyo audit verify` checks this table, the counters and the log against each other.
issued_numbers = Table(
    "issued_numbers", METADATA,
    Column("tenant", String(6), nullable=False),
    Column("day", String(10), nullable=False),
    Column("terminal", String(20), nullable=False),
    Column("printer", String(20), nullable=False),
    Column("serial", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    UniqueConstraint("tenant", "day", "terminal", "printer", "serial", name="uq_issued_number"),
)

# The fate of every reserved 発行番号, once: printed (a render record) or void (a void record naming the
# reason). The unique constraint makes a number impossible to account for twice; a number in
# `issued_numbers` without a row here is an open reservation (a render in flight, or one to be voided).
number_outcomes = Table(
    "number_outcomes", METADATA,
    Column("tenant", String(6), nullable=False),
    Column("day", String(10), nullable=False),
    Column("terminal", String(20), nullable=False),
    Column("printer", String(20), nullable=False),
    Column("serial", Integer, nullable=False),
    Column("seq", Integer, nullable=False),                 # the render or void record
    Column("outcome", String(8), nullable=False),           # rendered | void
    UniqueConstraint("tenant", "day", "terminal", "printer", "serial", name="uq_number_outcome"),
)

# One row per reserve record: who may close it if its render never reports back (a service job id, so
# the service voids the numbers of a worker that died; a batch run id, whose --resume finishes them).
reservations = Table(
    "reservations", METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("job", String(64)),
    Column("batch", String(36)),
    Index("ix_reservations_job", "job"),
)

# Batch print runs (renderer.batch): the journal that makes a run resumable with exactly-once output.
# A record's serials are reserved in the same transaction that advances the counter, so a resumed run
# prints each record with the 発行番号 it was first given. No names, addresses or numbers of residents.
batch_runs = Table(
    "batch_runs", METADATA,
    Column("run_id", String(36), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("layout", String(64), nullable=False),
    Column("input_sha256", String(64), nullable=False),
    Column("options", Text, nullable=False),                # canonical JSON of the run's options
    Column("records", Integer, nullable=False),
    Column("finished_at", String(32)),
)

batch_files = Table(
    "batch_files", METADATA,
    Column("run_id", String(36), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("first_position", Integer, nullable=False),
    Column("last_position", Integer, nullable=False),
    Column("status", String(10), nullable=False),           # planned | complete
    Column("pages", Integer),
    Column("sha256", String(64)),
)

batch_records = Table(
    "batch_records", METADATA,
    Column("run_id", String(36), primary_key=True),
    Column("position", Integer, primary_key=True),          # order of printing (after --sort)
    Column("line", Integer, nullable=False),                # 1-based line of the input file
    Column("status", String(10), nullable=False),           # planned | rendered | refused | invalid
    Column("file", String(64)),
    Column("tenant", String(6)),
    Column("day", String(10)),
    Column("terminal", String(20)),
    Column("printer", String(20)),
    Column("serials", Text),                                # JSON list, one per copy
    Column("issue_numbers", Text),                          # JSON list
    Column("first_page", Integer),
    Column("pages", Integer),
    Column("problem", String(40)),
    Column("rule", String(64)),
    Column("field", Text),
    Column("message", Text),
    Index("ix_batch_records_file", "run_id", "file"),
)


def upgrade() -> None:
    METADATA.create_all(op.get_bind())


def downgrade() -> None:
    METADATA.drop_all(op.get_bind())
