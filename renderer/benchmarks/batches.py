"""`run_batch` over N varied records (`renderer.benchmarks.varied`; or N copies of the pipeline sample) with 1
and 2 workers, each run in a fresh process with its own state directory, so each coordinator's peak RSS is
its own (the directory's database and issue-log key are made before the clock starts: a real run finds them).

In: a record count, pages per file, worker counts and varied or not. Out: one `BatchRunStats` per worker
count: records/s and the peak RSS of the coordinator and of every worker process (sampled from /proc while
it runs).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from renderer.api import Renderer
from renderer.benchmarks.sample import PIPELINE_LAYOUT, sample_envelope
from renderer.benchmarks.varied import DEFAULT_SEED, varied_envelopes
from renderer.errors import ChohyoError
from renderer.settings import Settings


@dataclass(frozen=True)
class ProcessPeak:
    role: str          # coordinator, worker, helper (forkserver, resource tracker)
    pid: int
    peak_rss_mb: float


@dataclass(frozen=True)
class BatchRunStats:
    workers: int
    records: int
    pages: int
    files: int
    seconds: float
    processes: list[ProcessPeak]

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def compare_workers(records: int, pages_per_file: int, workers: tuple[int, ...] = (1, 2), *,
                    varied: bool = True, seed: int = DEFAULT_SEED) -> list[BatchRunStats]:
    """`run_batch` over a JSONL of `records` varied records (or copies of the sample), once per worker
    count, each in a fresh process with its own state directory (so each coordinator's peak RSS is its
    own)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="chohyo-bench-batch-") as tmp:
        jsonl = Path(tmp) / "input.jsonl"
        envelopes = varied_envelopes(records, seed=seed) if varied else [sample_envelope()] * records
        jsonl.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in envelopes), encoding="utf-8")
        for n in workers:
            proc = subprocess.run([sys.executable, "-m", "renderer.benchmarks", "batch", str(jsonl), str(n),
                                   str(pages_per_file)], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise ChohyoError(f"the batch benchmark with {n} worker(s) failed: {proc.stderr[-2000:]}")
            raw = json.loads(proc.stdout)
            raw["processes"] = [ProcessPeak(**p) for p in raw["processes"]]
            out.append(BatchRunStats(**raw))
    return out


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the kernel's peak resident set) of a live process, else its current RSS via psutil."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    try:
        import psutil

        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except Exception:   # gone, or no psutil
        return None


class _ChildSampler:
    """Samples the peak RSS of every descendant of this process until stopped (a daemon thread)."""

    def __init__(self, interval: float = 0.05) -> None:
        import threading

        self.interval = interval
        self.peaks: dict[int, float] = {}
        self.parents: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ChildSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:   # pragma: no cover - psutil comes with distributed (test extra)
            return
        try:
            children = psutil.Process().children(recursive=True)
        except psutil.Error:   # pragma: no cover
            return
        for child in children:
            peak = _peak_rss_mb(child.pid)
            if peak is None:
                continue
            self.peaks[child.pid] = max(peak, self.peaks.get(child.pid, 0.0))
            if child.pid not in self.parents:
                try:
                    self.parents[child.pid] = child.ppid()
                except psutil.Error:
                    continue

    def processes(self) -> list[ProcessPeak]:
        me = os.getpid()
        out = []
        for pid, peak in sorted(self.peaks.items()):
            role = "worker" if self.parents.get(pid, me) != me else "helper"
            out.append(ProcessPeak(role, pid, round(peak, 1)))
        return out


def run_batch_once(jsonl: Path, workers: int, pages_per_file: int) -> BatchRunStats:
    """One `run_batch` in this (fresh) process; called by `compare_workers` through `main`."""
    from renderer.batch import BatchOptions, run_batch

    with tempfile.TemporaryDirectory(prefix="chohyo-bench-run-") as tmp:
        renderer = Renderer(Settings.from_env(state_dir=Path(tmp) / "state"))
        # A municipality's print run finds its state database in place: create it (the schema through Alembic,
        # ≈ 0.1 s) and the issue log's key before the clock starts, not inside the run being measured.
        renderer.issue_log.key(create=True)
        options = BatchOptions(layout=PIPELINE_LAYOUT, input=jsonl, out_dir=Path(tmp) / "out", workers=workers,
                               pages_per_file=pages_per_file, progress=False)
        with _ChildSampler() as sampler:
            t0 = time.perf_counter()
            summary = run_batch(renderer, options)
            seconds = time.perf_counter() - t0
    if summary.exit_code:
        raise ChohyoError(f"the batch run failed: {summary.refused} refused, {summary.invalid} invalid, "
                          f"{summary.failed} failed")
    # VmHWM, not ru_maxrss: ru_maxrss survives execve, so it would report the RSS of the process that
    # started this one (the bench itself, after its in-process runs) at the moment it forked
    own = _peak_rss_mb(os.getpid())
    coordinator = ProcessPeak("coordinator", os.getpid(), round(
        own if own is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    return BatchRunStats(workers, summary.rendered, summary.pages, summary.files, seconds,
                         [coordinator, *sampler.processes()])
