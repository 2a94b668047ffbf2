"""When the cyclic garbage collector runs: never over what a process loads once and keeps.

In: blocks of a process that load long-lived objects (a command's modules, fonts, layouts, caches). Out: the
collector paused while they load and everything they made moved to the permanent generation (`gc.freeze`), so
later collections scan only what a render makes and throws away.

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
