"""The local pool starts its workers when it is made (while the coordinator opens the run and plans the
first file), not when the first file is submitted; closing it before they are up is clean."""

from __future__ import annotations

import time
from pathlib import Path

from renderer.batch.executors import LocalExecutor

FONTS = str(Path(__file__).resolve().parents[2] / "fonts")


def test_the_workers_start_before_anything_is_submitted() -> None:
    executor = LocalExecutor(2, FONTS)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            processes = dict(executor.pool._processes or {})   # the pool's own table of started workers
            if len(processes) == 2 and all(p.is_alive() for p in processes.values()):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the pool did not start its two workers without a task")
    finally:
        executor.close()


def test_closing_at_once_is_clean() -> None:
    executor = LocalExecutor(2, FONTS)
    executor.close()
    assert not executor._starter.is_alive()
