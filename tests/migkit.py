"""Shared by the schema-migration tests: their settings (a fixed log key, the fake clock) and the database opened
without the revision check, as ``chohyo db`` opens it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from dvkit import ROOT, Clock

from renderer.settings import Settings
from renderer.state.db import Database, connect

KEY = bytes(range(32))


def settings(state: Path, database_url: str | None, *, auto_upgrade: bool = False) -> Settings:
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=state, clock=Clock(),
                    database_url=database_url, log_key=KEY, db_auto_upgrade=auto_upgrade)


@contextlib.contextmanager
def unchecked(s: Settings) -> Iterator[Database]:
    """The database without the revision check (as ``chohyo db`` opens it), disposed afterwards."""
    db = connect(s)
    try:
        yield db
    finally:
        db.engine.dispose()
