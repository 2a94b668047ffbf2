"""The local pool starts its workers when it is made (while the coordinator opens the run and plans the
first file), not when the first file is submitted; files submitted meanwhile are queued, not waited for;
closing it before they are up is clean."""

from __future__ import annotations

import concurrent.futures as cf
import time
from pathlib import Path

from renderer.api import Mode, Renderer
from renderer.batch.executors import LocalExecutor
from renderer.batch.work import FileTask, PlannedRecord, save_plan
from renderer.benchmarks.sample import PIPELINE_LAYOUT, sample_envelope
from renderer.settings import Settings

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


def _plan_file(tmp: Path) -> FileTask:
    """A real one-record plan of the sample 住民票 (planned as a batch plans it) and a task drawing it."""
    renderer = Renderer(Settings.from_env(state_dir=tmp / "state"))
    plan = renderer.prepare(sample_envelope(), layout_id=PIPELINE_LAYOUT, mode=Mode.BATCH)
    save_plan(tmp / "one.plan", [PlannedRecord(0, 1, plan.doc, (1,))])
    return FileTask("one.pdf", str(tmp / "one.plan"), str(tmp / "one.pdf.tmp"), FONTS)


def test_files_submitted_while_the_workers_start_are_drawn(tmp_path: Path) -> None:
    """The coordinator never waits for the pool to start: what it submits meanwhile is queued and handed to the
    pool in order, and each future settles as the pool's does (a result, or the worker's exception)."""
    task = _plan_file(tmp_path)
    missing = FileTask("gone.pdf", str(tmp_path / "gone.plan"), str(tmp_path / "gone.pdf.tmp"), FONTS)
    executor = LocalExecutor(2, FONTS)
    try:
        futures = [executor.submit(task), executor.submit(missing)]
        # the fork server is still importing the renderer (a tenth of a second at least): both are queued
        assert executor._queued is not None and [t for t, _f in executor._queued] == [task, missing]
        _done, pending = cf.wait(futures, timeout=120)
        assert not pending
        result = futures[0].result()
        assert result.pages == 1 and len(result.sha256) == 64
        assert Path(result.path).read_bytes().startswith(b"%PDF-")
        assert isinstance(futures[1].exception(), FileNotFoundError)
        later = executor.submit(task)   # once the workers are up, straight to the pool
        assert later.result(timeout=120).sha256 == result.sha256
    finally:
        executor.close()


def test_closing_with_files_still_queued_settles_them(tmp_path: Path) -> None:
    task = _plan_file(tmp_path)
    executor = LocalExecutor(1, FONTS)
    futures = [executor.submit(task) for _ in range(3)]
    executor.close()
    assert all(f.done() for f in futures)   # drawn, or cancelled: none left waiting for ever
