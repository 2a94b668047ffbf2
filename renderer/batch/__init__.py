"""Batch printing: streaming, parallel, resumable print runs with a manifest (`chohyo batch`).

In: a layout id, INPUT.jsonl and an output directory. Out: PDF files, ``manifest.json``, ``errors.json``.
`renderer.batch.run` is the coordinator (hands files to workers, completes them); `renderer.batch.options`
checks the options and opens the input (`renderer.batch.source` indexes it); `renderer.batch.resume` holds the
run directory (new run or ``--resume``); `renderer.batch.plan` plans each record (through
`renderer.api.Renderer.prepare`) and reserves a chunk's serials; `renderer.batch.records` builds the issue-log
records; `renderer.batch.work` draws one file per task in a pool process or on a Dask worker;
`renderer.batch.journal` is the resumable state, with the statuses of `renderer.batch.status`;
`renderer.batch.reports` writes the manifest and the error report.

The exports below are loaded on first use: a pool's fork server imports `renderer.batch.work` (and so this
package) for its workers, which draw and never touch the database — importing the coordinator here would load
SQLAlchemy and the rules into every worker's start (≈ 0.15 s on the critical path of each run).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from renderer.batch.run import BatchOptions, BatchSummary, run_batch

__all__ = ["BatchOptions", "BatchSummary", "run_batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("renderer.batch.run"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
