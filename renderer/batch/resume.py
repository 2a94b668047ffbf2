"""A batch run's directory: one coordinator at a time, and the run it holds — a new one, or one to resume.

In: `BatchOptions`, the run's input `Source` and the `Renderer` (its runtime database and clock). Out: a
`RunState` — the run id, the input index (printing order), the run's `Journal` and a fresh `BatchSummary`:
- a new run (the output directory must be empty): the input is indexed once (after ``--sort``), the index
  (``order.bin``), ``run.json`` and the journal's run row are written;
- ``--resume``: the run in the directory, after checking it is the same run (options, input sha256, the
  journal in this runtime database); its index is read back, never rebuilt.
Either way temp files (a killed run's half-written PDFs) and stale plan files are deleted. The state lives in
``<out>/.chohyo-batch/`` (owner-only); `exclusive` holds its lock, `private_umask` makes everything the run
creates owner-only.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.api import Renderer
from renderer.batch.journal import Journal
from renderer.batch.options import BatchOptions, BatchSummary
from renderer.batch.source import Hidden, InputIndex, Source, file_sha256
from renderer.errors import UsageError
from renderer.files import flocked, private_dir, remove_strays, write_atomic
from renderer.spec.model import LayoutSpec
from renderer.state.db import Database
from renderer.suppressions import instant

STATE_DIR = ".chohyo-batch"
RUN_FILE = "run.json"
LOCK_FILE = "lock"
ORDER_FILE = "order.bin"
PLANS_DIR = "plans"


@dataclass(frozen=True)
class RunDir:
    """Where a run keeps its files: the output directory and its state directory."""

    out_dir: Path

    @property
    def state(self) -> Path:
        return self.out_dir / STATE_DIR

    @property
    def run_file(self) -> Path:
        return self.state / RUN_FILE

    @property
    def plans(self) -> Path:
        return self.state / PLANS_DIR


@dataclass(frozen=True)
class RunState:
    run_id: str
    index: InputIndex
    journal: Journal
    summary: BatchSummary


@contextmanager
def exclusive(where: RunDir) -> Iterator[None]:
    """One coordinator per output directory: a second `--resume` while the first still runs would
    draw the same files twice. The lock dies with its process (a kill -9 frees it)."""
    private_dir(where.state)
    with ExitStack() as held:
        try:
            held.enter_context(flocked(where.state / LOCK_FILE, wait=False))
        except BlockingIOError:
            raise UsageError(f"another chohyo batch is running in {where.out_dir}", field="--output") from None
        yield


@contextmanager
def private_umask() -> Iterator[None]:
    """Everything the run creates (PDFs, journal, plans, SQLite files) is readable by the owner only."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def open_run(renderer: Renderer, opts: BatchOptions, source: Source) -> RunState:
    """The run in `opts.out_dir`: resumed (``--resume``) or created; then the directory is cleaned."""
    where = RunDir(opts.out_dir)
    db = renderer.db   # opened (and created) first, whichever way the run goes
    if where.run_file.exists():
        if not opts.resume:
            raise UsageError(f"{opts.out_dir} holds an unfinished or finished batch run; pass --resume to "
                             f"finish it, or choose another output directory", field="--output")
        state = _resumed(db, opts, where)
    else:
        if opts.resume:
            raise UsageError(f"there is no batch run to resume in {opts.out_dir}", field="--resume")
        state = _created(renderer, db, opts, source, where)
    private_dir(where.plans)
    remove_strays(opts.out_dir)
    remove_strays(where.state)
    for stale in where.plans.iterdir():   # plans are rewritten for every file still to draw
        stale.unlink()
    return state


def _resumed(db: Database, opts: BatchOptions, where: RunDir) -> RunState:
    saved = json.loads(where.run_file.read_text(encoding="utf-8"))
    run_id = str(saved["run_id"])
    if saved["options"] != opts.fingerprint():
        raise UsageError("--resume needs the options of the run it finishes (layout, --sort, "
                         "--pages-per-file, --request)", field="--resume")
    if file_sha256(opts.input) != saved["input_sha256"]:
        raise UsageError(f"{opts.input} changed since the run started (sha256 differs); a run resumes "
                         f"only on the same input", field="INPUT")
    index = InputIndex.load(where.state / ORDER_FILE)
    journal = Journal(db, run_id)
    if journal.run() is None:
        raise UsageError(f"the runtime database has no batch run {run_id} (another --state-dir?)",
                         field="--state-dir")
    return RunState(run_id, index, journal, BatchSummary(run_id, len(index), resumed=True))


def _created(renderer: Renderer, db: Database, opts: BatchOptions, source: Source, where: RunDir) -> RunState:
    spec = renderer.layout(opts.layout)
    private_dir(opts.out_dir)
    if any(p.name != STATE_DIR for p in opts.out_dir.iterdir()):
        raise UsageError(f"{opts.out_dir} is not empty; a batch run writes into an empty directory",
                         field="--output")
    sort_path = spec.sort_keys[opts.sort] if opts.sort else None
    index = source.scan(sort_path, hidden=protected_key(renderer, spec, sort_path) if sort_path else None)
    private_dir(where.state)
    index.save(where.state / ORDER_FILE)
    run_id = str(uuid.uuid4())
    journal = Journal(db, run_id)
    journal.create(created_at=instant(renderer.settings.now()), layout=opts.layout, input_sha256=index.sha256,
                   options=opts.fingerprint(), records=len(index))
    write_atomic(where.run_file, json.dumps({
        "run_id": run_id, "input_sha256": index.sha256, "options": opts.fingerprint()},
        ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    return RunState(run_id, index, journal, BatchSummary(run_id, len(index)))


__all__ = ["LOCK_FILE", "ORDER_FILE", "RUN_FILE", "STATE_DIR", "RunDir", "RunState", "exclusive", "open_run",
           "private_umask"]


def protected_key(renderer: Renderer, spec: LayoutSpec, sort_path: str) -> Hidden:
    """A sort key that belongs to a person (the nearest object on its path with a ``person_id``: a notice's
    addressee) under a DV 支援措置 for this layout is not used: that record sorts with those without a key, so
    a notice printed 「記載省略」 is never placed among its real neighbours. Conservative: whoever reads it (a
    granted mailing prints the postcode; it sorts last all the same). The registry is read once per tenant."""
    from renderer.batch.plan import RegistryViews

    views = RegistryViews(renderer.registry)
    now = renderer.settings.now()
    parts = [p for p in sort_path.split(".") if p]

    def hidden(tenant: Any, data: Any) -> bool:
        owner: Any = None
        node = data
        for part in parts:
            if not isinstance(node, dict):
                break
            owner = node.get("person_id", owner)
            node = node.get(part)
        if not isinstance(tenant, str) or not isinstance(owner, str):
            return False
        suppression = views.snapshot(tenant, [owner], [], spec.id, now).suppressions.get(owner)
        return suppression is not None and suppression.covers(spec.id, spec.kind)

    return hidden
