"""Where the batch's files are drawn: a local process pool, or a Dask distributed cluster.

In: `FileTask`s (paths only: the plan file and the output file live in the run directory, which Dask
workers must see as shared storage). Out: futures of `FileResult`s. Both executors offer the same three
calls — `submit`, `wait_any`, `close` — so the coordinator (`renderer.batch.run`) does not know which
one it drives. The local pool uses the ``forkserver`` start method (no fork of a threaded coordinator); the
fork server imports what draws once (``set_forkserver_preload`` of `renderer.batch.work`: no database, rules or
SQLAlchemy) so every worker starts from that copy, and each worker loads the fonts before its first task
(`renderer.batch.work.warm_up`, from the per-machine cache). Files submitted while the workers start are queued
by the executor, never waited for. ``close(abort=True)`` (the run stopped: Ctrl-C, SIGTERM, SIGHUP, a failure)
stops the local workers at once instead of letting them finish files nobody will collect, and reaps them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import threading
import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from renderer.batch.work import FileResult, FileTask, ready, render_file, warm_up
from renderer.errors import UsageError


class Executor(Protocol):
    def submit(self, task: FileTask) -> Any: ...

    def wait_any(self, futures: Iterable[Any], timeout: float | None = None) -> set[Any]: ...

    def close(self, abort: bool = False) -> None: ...


class LocalExecutor:
    def __init__(self, workers: int, fonts_dir: str) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["renderer.batch.work"])   # imported once, in the fork server
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                           initializer=warm_up, initargs=(fonts_dir,))
        # Start the fork server and every worker now, from a thread, while the coordinator opens the run and
        # plans the first files, instead of at the first file (the server's imports and each worker's fonts
        # take ≈ 0.3 s before anything is drawn). Each no-op task starts one worker (a pool starts one per task
        # while none is idle). Starting a worker blocks until the server is up, and the pool's submit holds its
        # lock meanwhile: so until the workers are up, `submit` queues the task here and returns a future of its
        # own at once, and the starter hands the queue to the pool in order (the coordinator keeps planning).
        self._lock = threading.Lock()
        self._queued: list[tuple[FileTask, cf.Future[FileResult]]] | None = []
        self._starter = threading.Thread(target=self._start, args=(workers,), name="chohyo-pool-start", daemon=True)
        self._starter.start()

    def _start(self, workers: int) -> None:
        try:
            for _ in range(workers):
                self.pool.submit(ready)
        except (RuntimeError, OSError, EOFError):   # closed before the workers were up, or the fork server is gone
            pass   # (a SIGTERM to the whole process group): nothing to start; queued tasks fail as they are forwarded
        finally:
            with self._lock:
                queued, self._queued = self._queued or [], None
            for task, own in queued:
                self._forward(task, own)

    def _forward(self, task: FileTask, own: cf.Future[FileResult]) -> None:
        """Submit `task` to the pool; `own` (a queued task's future) completes as the pool's future does."""
        if not own.set_running_or_notify_cancel():   # cancelled by close() before it reached the pool
            return
        try:
            real = self.pool.submit(render_file, task)
        except BaseException as exc:   # the pool is shut down or broken
            own.set_exception(exc)
            return

        def settle(done: cf.Future[FileResult]) -> None:
            if done.cancelled():   # the pool was shut down with the task still waiting
                own.set_exception(cf.CancelledError())
                return
            exc = done.exception()
            if exc is not None:
                own.set_exception(exc)
            else:
                own.set_result(done.result())

        real.add_done_callback(settle)

    def submit(self, task: FileTask) -> cf.Future[FileResult]:
        with self._lock:
            if self._queued is not None:   # the workers are still starting
                own: cf.Future[FileResult] = cf.Future()
                self._queued.append((task, own))
                return own
        return self.pool.submit(render_file, task)

    def wait_any(self, futures: Iterable[Any], timeout: float | None = None) -> set[Any]:
        """The futures done, once one is or `timeout` seconds passed (then maybe none)."""
        done, _ = cf.wait(list(futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return set(done)

    def close(self, abort: bool = False) -> None:
        """Shut the pool down and reap its workers. `abort`: the run stopped and no result will be collected,
        so a file being drawn is not finished first — each worker is sent SIGTERM (its temp file is removed
        on ``--resume``) and the pool then joins them."""
        with self._lock:   # tasks still queued will never run: their futures are cancelled
            for _task, own in self._queued or []:
                own.cancel()
        self._starter.join()
        if abort:
            # ProcessPoolExecutor has no public "terminate" before Python 3.14 (`terminate_workers`)
            processes = getattr(self.pool, "_processes", None) or {}
            for process in list(processes.values()):
                with contextlib.suppress(OSError, ValueError, AttributeError):   # already gone or closed
                    process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Workers on a Dask cluster (``tcp://HOST:PORT``); each task renders one file into shared storage."""

    def __init__(self, address: str | Any) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'chohyo-renderer[cluster]'",
                             field="--scheduler") from None
        try:
            self.client = Client(address, timeout="20s", set_as_default=False)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler {address}: {exc.__class__.__name__}",
                             field="--scheduler") from None

    def submit(self, task: FileTask) -> Any:
        # pure=False: a task re-submitted on resume must run again (its output file was removed)
        return self.client.submit(render_file, task, pure=False, key=f"chohyo-{task.name}-{uuid.uuid4().hex}")

    def wait_any(self, futures: Iterable[Any], timeout: float | None = None) -> set[Any]:
        from distributed import wait

        pending = list(futures)
        with self.client.as_current():   # our client, not a process-wide default
            try:
                done, _ = wait(pending, timeout=timeout, return_when="FIRST_COMPLETED")  # type: ignore[no-untyped-call]
            except TimeoutError:   # none finished within `timeout`
                return set()
        return set(done)

    def close(self, abort: bool = False) -> None:
        # a task still running on a worker after an abort writes only its own temp name: never renamed into place
        self.client.close()  # type: ignore[no-untyped-call]
