"""The render pool: worker processes (spawned), a bounded queue, a per-job timeout, replacement of a
worker that hangs or dies.

In: `Settings` for the workers, the pool's size, queue bound and timeouts; jobs from request handlers
(`RenderPool.run`, a blocking call the service makes from its thread pool). Out: the job's result, or
`QueueFull` / `NotReady` / `JobTimeout` / `WorkerDied`.

Why processes: ReportLab keeps global state (font registry, rl_config) and PDFium is not thread-safe, and a
render is CPU-bound. Each worker registers the fonts and loads every layout and tenant once
(`renderer.service.work.warm`), then renders one document at a time. A job still running after the
timeout is killed with its worker (SIGKILL), and a new worker is started in the background; a worker that
died is replaced the same way. So a slow or crashing render costs one worker for a moment, never the
server. Admission is bounded: at most ``workers + queue_size`` jobs are admitted; the next is refused at
once (`QueueFull`, HTTP 503) rather than queued without end.

A worker killed mid-render leaves no PDF. The 発行番号 it reserved are named by the job's id in their
``reserve`` record; the service (`renderer.service.app`) then writes their ``void`` record in the worker's
place, so every number stays accounted for.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from renderer.gcpolicy import loading
from renderer.service.work import Job, Result, run, warm
from renderer.settings import Settings


class PoolError(Exception):
    """The pool could not run the job (nothing was rendered by this call)."""


class QueueFull(PoolError):
    pass


class NotReady(PoolError):
    pass


class JobTimeout(PoolError):
    pass


class WorkerDied(PoolError):
    pass


def worker_main(conn: Connection, settings: Settings) -> None:
    """The worker process: warm up, say ready, then answer jobs until told to stop or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the service decides when workers stop
    try:
        with loading():   # fonts and layouts stay for the worker's life: later collections skip them
            renderer = warm(settings)
    except BaseException as exc:   # reported to the parent by class name only
        conn.send(("failed", exc.__class__.__name__))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        conn.send(("done", run(renderer, job)))


class Worker:
    """One worker process and the parent's end of its pipe; used by one thread at a time."""

    def __init__(self, ctx: Any, settings: Settings, index: int, start_timeout: float) -> None:
        self.ctx = ctx
        self.settings = settings
        self.index = index
        self.start_timeout = start_timeout
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.jobs = 0
        # kill() runs from a request thread (a dead or timed-out worker) and from close() at shutdown,
        # possibly at once: the process and pipe are taken out under this lock, so each is closed once.
        self._kill_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def start(self) -> None:
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(target=worker_main, args=(child, self.settings), daemon=True,
                                name=f"chohyo-render-{self.index}")
        proc.start()
        child.close()
        self.process, self.conn = proc, parent
        if not parent.poll(self.start_timeout):
            self.kill()
            raise NotReady(f"render worker {self.index} did not start within {self.start_timeout:.0f} s")
        try:
            status, detail = parent.recv()
        except (EOFError, OSError):
            status, detail = "failed", "exited"
        if status != "ready":
            self.kill()
            raise NotReady(f"render worker {self.index} failed to start ({detail})")
        self.jobs = 0

    def kill(self) -> None:
        with self._kill_lock:
            proc, conn = self.process, self.conn
            self.process, self.conn = None, None
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self, grace: float = 2.0) -> None:
        if self.conn is not None and self.alive():
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
            assert self.process is not None
            self.process.join(grace)
        self.kill()

    def call(self, job: Job, timeout: float) -> Result:
        # An idle worker never writes: anything readable on its pipe is the EOF of a worker that died.
        if not self.alive() or self.conn is None or self.conn.poll(0):
            self.kill()
            self.start()
        assert self.conn is not None
        try:
            self.conn.send(job)
            if not self.conn.poll(timeout):
                raise JobTimeout(f"the job took longer than {timeout:g} s")
            status, result = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise WorkerDied(f"render worker {self.index} died ({exc.__class__.__name__})") from None
        self.jobs += 1
        assert status == "done"
        out: Result = result
        return out


class RenderPool:
    def __init__(self, settings: Settings, *, workers: int, queue_size: int, job_timeout: float,
                 queue_timeout: float, start_timeout: float) -> None:
        self.settings = settings
        self.size = workers
        self.queue_size = queue_size
        self.job_timeout = job_timeout
        self.queue_timeout = queue_timeout
        self.start_timeout = start_timeout
        self._ctx = mp.get_context("spawn")   # never fork a process that runs an event loop and threads
        self._workers = [Worker(self._ctx, settings, i, start_timeout) for i in range(workers)]
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._admitted = 0
        self._busy = 0
        self._restarting: set[int] = set()
        self._started = False
        self._closed = False
        self.restarts = 0
        self.timeouts = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start every worker (in parallel) and wait until each has loaded fonts and layouts."""
        errors: list[BaseException] = []

        def one(w: Worker) -> None:
            try:
                w.start()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(w,), daemon=True) for w in self._workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            for w in self._workers:
                w.kill()
            raise errors[0]
        for w in self._workers:
            self._idle.put(w)
        self._started = True

    def close(self) -> None:
        self._closed = True
        self._started = False
        for w in self._workers:
            w.stop()

    # ------------------------------------------------------------------ state for /readyz and /metrics

    @property
    def ready(self) -> bool:
        return self._started and not self._closed and self.ready_workers() > 0

    def ready_workers(self) -> int:
        if not self._started:
            return 0
        with self._lock:
            restarting = set(self._restarting)
        return sum(1 for w in self._workers if w.index not in restarting and w.alive())

    def stats(self) -> dict[str, int]:
        with self._lock:
            busy, admitted, restarting = self._busy, self._admitted, len(self._restarting)
        return {"workers": self.size, "busy": busy, "waiting": max(0, admitted - busy), "restarting": restarting,
                "restarts": self.restarts, "timeouts": self.timeouts}

    def worker_pids(self) -> list[int]:
        return [pid for w in self._workers if (pid := w.pid) is not None]

    # ------------------------------------------------------------------ jobs

    def run(self, job: Job) -> Result:
        """Run one job (blocking: call it from a thread). Raises a `PoolError` when it cannot."""
        if not self._started or self._closed:
            raise NotReady("the render pool is not running")
        with self._lock:
            if self._admitted >= self.size + self.queue_size:
                raise QueueFull(f"{self._admitted} renders running or waiting")
            self._admitted += 1
        try:
            try:
                worker = self._idle.get(timeout=self.queue_timeout)
            except queue.Empty:
                raise QueueFull(f"no render worker became free within {self.queue_timeout:g} s") from None
            with self._lock:
                self._busy += 1
            healthy = False
            try:
                result = worker.call(job, self.job_timeout)
                healthy = True
                return result
            except JobTimeout:
                with self._lock:
                    self.timeouts += 1
                raise
            finally:
                with self._lock:
                    self._busy -= 1
                if healthy:
                    self._idle.put(worker)
                else:
                    self._replace(worker)
        finally:
            with self._lock:
                self._admitted -= 1

    def _replace(self, worker: Worker) -> None:
        """Kill the worker now; start its replacement in the background, then make it available."""
        worker.kill()
        if self._closed:
            return
        with self._lock:
            self._restarting.add(worker.index)
            self.restarts += 1

        def restart() -> None:
            delay = 0.5
            try:
                while not self._closed:
                    try:
                        worker.start()
                        break
                    except (NotReady, OSError):   # OSError: the pool closed the pipe while it started
                        time.sleep(delay)
                        delay = min(delay * 2, 30.0)
                if self._closed:
                    worker.kill()   # the pool closed while this worker was starting
                else:
                    self._idle.put(worker)
            finally:
                with self._lock:
                    self._restarting.discard(worker.index)

        threading.Thread(target=restart, name=f"chohyo-restart-{worker.index}", daemon=True).start()
