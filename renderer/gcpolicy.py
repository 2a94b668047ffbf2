"""When the cyclic garbage collector runs: never over what a process loads once and keeps, and less often in a
loop that makes many short-lived objects.

In: blocks of a process that load long-lived objects (a command's modules, fonts, layouts, caches), and loops
that allocate per record (a batch coordinator's planning, a batch worker's file). Out: the collector paused
while the former load and everything they made moved to the permanent generation (`gc.freeze`), so later
collections scan only what a render makes and throws away (`loading`); the youngest generation collected after
more allocations inside the latter (`fewer_collections`).

Why: modules, font tables and validated layouts live as long as the process, yet every full collection walked
all of them again. Measured on a cold ``chohyo render`` (≈ 55 ms of collections, most during imports) and in
batch workers (≈ 9 % of a worker's CPU, full collections of ≈ 85 ms each over the loaded fonts). Cycles made
while paused are kept until the end of the process; the blocks wrapped here make module and cache objects, not
per-record garbage. A forked process inherits the frozen generation (shared pages stay shared).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    """Pause the collector while the block loads what the process keeps; freeze what exists afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()   # every object alive now to the permanent generation: full collections skip them


#: allocations between collections of the youngest generation inside `fewer_collections` (CPython's default: 700)
BULK_GEN0 = 20_000


@contextmanager
def fewer_collections(gen0: int = BULK_GEN0) -> Iterator[None]:
    """Collect the youngest generation every `gen0` allocations (never more often than the caller asked) while
    the block runs, then restore the thresholds. For a loop whose objects are short-lived and rarely cyclic: a
    batch coordinator plans, pickles and logs each record (≈ 340 collections, ≈ 8 % of its CPU over 2,000
    records); a batch worker composes and draws a file (≈ 2.5 % of its CPU). Cycles are still collected, later."""
    old = gc.get_threshold()
    gc.set_threshold(max(gen0, old[0]), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
