"""Alembic's environment script: run the migrations on the connection `renderer.state.migrations.run` gives.

In: ``config.attributes["connection"]``, a SQLAlchemy connection already inside the caller's write
transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``READ COMMITTED`` holding the ``schema`` advisory
lock). Out: the revisions Alembic's command asked for, applied on that connection — all in the caller's one
transaction, committed or rolled back together by the caller. Never run by hand: there is no alembic.ini
and no URL here (``chohyo db upgrade`` is the command).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from renderer.state.db import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("the chohyo migrations run only through `chohyo db upgrade` (renderer.state.migrations.run)")
context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=False,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():   # the caller's transaction is open: Alembic joins it
    context.run_migrations()
