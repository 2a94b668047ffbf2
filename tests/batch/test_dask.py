"""The same batch on a Dask distributed cluster (a `LocalCluster` of 2 worker processes).

The coordinator (this process) plans, reserves serials and writes the journal, issue log and manifest;
the Dask workers only compose and draw files into the shared output directory. Checked as for the local
pool: exactly-once by the printed text, the manifest and the issue log — also for a run that was started
on the local pool, killed with SIGKILL, and finished on the cluster with --resume.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from batchkit import LAYOUT, check_exactly_once, manifest, printed_numbers, renderer, run_with_kills, write_jsonl

from renderer.batch import BatchOptions, run_batch
from renderer.samples import sample_notices

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as c:
        yield c


@pytest.mark.slow
def test_a_run_on_a_dask_cluster_prints_every_record_once(tmp_path: Path, cluster: object) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(300))
    out, state = tmp_path / "out", tmp_path / "state"
    summary = run_batch(renderer(state), BatchOptions(layout=LAYOUT, input=inp, out_dir=out, scheduler=cluster,
                                                      pages_per_file=40, progress=False, sort="postal_code"))
    assert summary.exit_code == 0 and summary.rendered == 300 and summary.files == 8
    m = manifest(out)
    assert printed_numbers(out, [f["name"] for f in m["files"]]) == {i: 1 for i in range(1, 301)}
    check_exactly_once(out, state, 300, [])


@pytest.mark.slow
def test_a_run_killed_on_the_local_pool_is_finished_on_the_cluster(tmp_path: Path, cluster: object) -> None:
    # enough records that the first kill (at 1.99 s with this seed) lands while the local run is still drawing:
    # 600 took under 2.5 s once the workers started during planning, 1,500 took 2.2 s after the next speed-ups
    # (0.2 s of margin); 3,000 take about 4 s
    n = 3000
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(n))
    out, state = tmp_path / "out", tmp_path / "state"
    snapshots = run_with_kills(inp, out, state, kills=2, seed=7, window=(1.5, 3.0))
    assert snapshots, "no kill happened: the run finished before the first kill"
    assert (out / ".chohyo-batch" / "run.json").exists()
    summary = run_batch(renderer(state), BatchOptions(layout=LAYOUT, input=inp, out_dir=out, scheduler=cluster,
                                                      pages_per_file=100, resume=True, progress=False))
    assert summary.resumed and summary.rendered == n
    check_exactly_once(out, state, n, snapshots)
