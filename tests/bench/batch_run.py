"""Manual benchmark: a large notice print run through `chohyo batch`, killed and resumed, then checked.

    python3 tests/bench/batch_run.py --records 10000 --records 100000 --workers 2 --kills 2

For each size: writes N fictitious 支給決定通知書 envelopes (JSONL), runs `chohyo batch` in its own
process group, kills the whole group with SIGKILL `--kills` times at random moments (seeded), resumes
until it finishes, and prints records/s (wall time of all legs, and of the last leg), the peak RSS of the
coordinator and of each worker process (sampled every 0.5 s with psutil), the output size, then checks
exactly-once: the manifest accounts for every record, every 文書番号 is printed once across the files
(text extraction, pypdfium2), the serials kept after each kill, the issue log verifies. Not part of the
unit suite (it takes minutes); numbers are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchkit import check_exactly_once, journal_rows, start

from renderer.samples import sample_notices


@dataclass
class Leg:
    seconds: float
    killed: bool
    peak_coordinator_mb: float
    peak_worker_mb: dict[int, float] = field(default_factory=dict)


def run_leg(inp: Path, out: Path, state: Path, workers: int, kill_after: float | None) -> Leg:
    proc = start(inp, out, state, resume=(out / ".chohyo-batch" / "run.json").exists(), workers=workers)
    me = psutil.Process(proc.pid)
    coord, others = 0.0, dict[int, float]()
    t0 = time.monotonic()
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            coord = max(coord, me.memory_info().rss / 2**20)
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    others[child.pid] = max(others.get(child.pid, 0.0), child.memory_info().rss / 2**20)
        if kill_after is not None and time.monotonic() - t0 >= kill_after:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
            return Leg(time.monotonic() - t0, True, coord, others)
        time.sleep(0.5)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"batch failed (exit {proc.returncode}): {err.decode()[-2000:]}")
    return Leg(time.monotonic() - t0, False, coord, others)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, action="append")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kills", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--rate", type=float, default=500.0,
                    help="expected records/s, to place the kills inside the run (default 500)")
    ap.add_argument("--no-text", action="store_true", help="skip the text extraction check")
    ap.add_argument("--keep", type=Path, help="keep the run here instead of a temp directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    for n in args.records or [10_000]:
        base = args.keep or Path(tempfile.mkdtemp(prefix="chohyo-bench-"))
        base.mkdir(parents=True, exist_ok=True)
        inp, out, state = base / "notices.jsonl", base / "out", base / "state"
        with inp.open("w", encoding="utf-8") as fh:
            for env in sample_notices(n):
                fh.write(json.dumps(env, ensure_ascii=False) + "\n")
        # kill inside the run: each leg at a random moment within its share of the expected duration
        expected = n / args.rate
        legs, snapshots = [], []
        for _ in range(args.kills):
            legs.append(run_leg(inp, out, state, args.workers, rng.uniform(0.1, 0.8) * expected / args.kills))
            snapshots.append(journal_rows(state))
        legs.append(run_leg(inp, out, state, args.workers, None))
        wall = sum(leg.seconds for leg in legs)
        m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        size = sum((out / f["name"]).stat().st_size for f in m["files"])
        peak_workers = [mb for leg in legs for mb in leg.peak_worker_mb.values()]
        killed = [leg for leg in legs if leg.killed]
        print(f"records {n:,}: {len(killed)} kill(s) at "
              f"{', '.join(f'{leg.seconds:.1f} s' for leg in killed) or '-'} into their legs; "
              f"wall {wall:.1f} s over all legs "
              f"({n / wall:.1f} records/s incl. restarts); files {len(m['files'])}, pages {m['totals']['pages']:,}, "
              f"{size / 2**20:.1f} MB")
        print(f"  peak RSS: coordinator {max(leg.peak_coordinator_mb for leg in legs):.0f} MB; worker processes "
              f"max {max(peak_workers, default=0):.0f} MB (of {len(peak_workers)} sampled)")
        print(f"  totals {m['totals']}")
        if not args.no_text:
            t = time.monotonic()
            check_exactly_once(out, state, n, snapshots)
            print(f"  exactly-once: every 文書番号 printed once, serials kept, issue log verified "
                  f"({time.monotonic() - t:.0f} s to check)")
        if args.keep is None:
            shutil.rmtree(base)


if __name__ == "__main__":
    main()
