"""Batch printing: streaming, parallel, resumable print runs with a manifest (`chohyo batch`).

In: a layout id, INPUT.jsonl and an output directory. Out: PDF files, ``manifest.json``, ``errors.json``.
`renderer.batch.run` is the coordinator (plans records, reserves serials, keeps the journal and the issue
log); `renderer.batch.work` draws one file per task in a pool process or on a Dask worker;
`renderer.batch.source` indexes the input; `renderer.batch.journal` is the resumable state.
"""

from renderer.batch.run import BatchOptions, BatchSummary, run_batch

__all__ = ["BatchOptions", "BatchSummary", "run_batch"]
