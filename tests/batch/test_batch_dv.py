"""Batch and DV 支援措置: resuming a run applies the rules again, today.

A 住民票 batch is planned while a 一時解除 (lift) covers a protected member; the coordinator dies before
the file is drawn (simulated: the plan is committed, the drawing never happens). The lift then expires.
`--resume` re-plans the unfinished file with the serials it reserved, the rules refuse the record
(dv-block), the refusal is logged, and nothing protected is printed — the plan made under the expired
lift is never drawn.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
from pathlib import Path
from typing import Any

from batchkit import manifest, write_jsonl
from dvkit import TENANT, Clock, load, make_renderer, sample, upsert

from renderer.batch import BatchOptions, run_batch
from renderer.batch.progress import BatchProgress
from renderer.batch.run import BatchRun
from renderer.batch.work import FileTask
from renderer.samples import sample_notices
from renderer.state.issue_log import IssueLog

WIFE = "100000002"


class _NeverRuns:
    """An executor whose workers never finish (the coordinator is 'killed' before any file is drawn)."""

    def submit(self, task: FileTask) -> cf.Future[Any]:
        return cf.Future()

    def wait_any(self, futures: Any, timeout: float | None = None) -> set[Any]:
        raise AssertionError("not reached")

    def close(self, abort: bool = False) -> None:
        pass


def test_a_resume_after_the_lift_expired_refuses_instead_of_printing_the_old_plan(
        tmp_path: Path, database_url: str | None) -> None:
    clock = Clock()
    state = tmp_path / "state"
    r = make_renderer(state, clock, database_url=database_url)
    load(r, upsert(WIFE))
    r.registry.lift(TENANT, WIFE, "juminhyo-setai", minutes=10, max_minutes=30, reason="本人確認済み",
                           reviewer="reviewer1", now=clock())
    env = sample()
    del env["request"]["issued_on"]   # issued today by the server's clock
    inp = write_jsonl(tmp_path / "in.jsonl", [env])
    out = tmp_path / "out"
    opts = BatchOptions(layout="juminhyo-setai", input=inp, out_dir=out, workers=1, progress=False)

    first = BatchRun(r, opts)
    first._check_options()
    first._open()
    first._plan_all(_NeverRuns(), BatchProgress(1, enabled=False))   # planned with the lift, never drawn
    planned = first.journal.records_of("juminhyo-setai-00001.pdf")   # planned: the lift let the rules pass
    assert [p.status for p in planned] == ["planned"] and planned[0].serials == (1,)
    assert not list(out.glob("*.pdf"))

    clock.advance(minutes=11)   # the lift has expired
    summary = run_batch(make_renderer(state, clock, database_url=database_url), BatchOptions(
        layout="juminhyo-setai", input=inp, out_dir=out, workers=1, progress=False, resume=True))
    assert summary.exit_code == 4 and (summary.rendered, summary.refused) == (0, 1)
    m = manifest(out)
    assert m["files"] == [] and not list(out.glob("*.pdf"))
    rec = m["records"][0]
    assert rec["status"] == "refused" and rec["rule"] == "dv-block"
    assert rec["unused_issue_numbers"] == list(planned[0].issue_numbers)   # reserved, never printed
    log = [json.loads(x["body"]) for x in IssueLog(r.settings).records()]
    # reserved with the plan, refused on resume: the numbers are void, with the reason
    assert [b["event"] for b in log if b.get("batch") == first.run_id] == ["reserve", "refusal", "void"]
    void = next(b for b in log if b["event"] == "void")
    assert void["reason"] == "refused-on-resume" and void["serials"][0][4] == [1]
    assert not any(b["event"] == "render" for b in log)
    assert IssueLog(r.settings).verify().ok


def test_a_registry_change_between_planning_and_commit_replans_the_chunk(tmp_path: Path, monkeypatch: Any,
                                                                          database_url: str | None) -> None:
    clock = Clock()
    state = tmp_path / "state"
    r = make_renderer(state, clock, database_url=database_url)
    env = sample()
    del env["request"]["issued_on"]
    inp = write_jsonl(tmp_path / "in.jsonl", [env, env])
    original = BatchRun._commit_once
    calls: list[int] = []

    def import_first(self: BatchRun, *args: Any, **kw: Any) -> None:
        if not calls:   # the 住民記録 system registers a 支援措置 while the chunk was being planned
            load(r, upsert(WIFE))
        calls.append(1)
        original(self, *args, **kw)

    monkeypatch.setattr(BatchRun, "_commit_once", import_first)
    summary = run_batch(r, BatchOptions(layout="juminhyo-setai", input=inp, out_dir=tmp_path / "out", workers=1,
                                        progress=False))
    assert len(calls) == 2   # the first commit was refused by the generation check, the chunk re-planned
    assert (summary.rendered, summary.refused) == (0, 2)
    assert {rec["rule"] for rec in manifest(tmp_path / "out")["records"]} == {"dv-block"}
    assert not list((tmp_path / "out").glob("*.pdf"))


def test_a_protected_postcode_is_never_a_sort_key(tmp_path: Path, database_url: str | None) -> None:
    """``--sort postal_code`` orders notices by their addressee's postcode. A protected addressee's notice
    prints 「記載省略」 there: placed among its real neighbours, the stack would narrow the hidden postcode
    down to a district. It sorts with the records without a key (last), as does any key whose owner is
    protected for the layout (found by a hostile review)."""
    clock = Clock()
    r = make_renderer(tmp_path / "state", clock, database_url=database_url)
    postcodes = ["2850001", "2850014", "2850023", "2850030", "2850050", "2850090"]
    envelopes = []
    for i, (env, postcode) in enumerate(zip(sample_notices(6), postcodes, strict=True)):
        env = json.loads(json.dumps(env))
        env["data"]["addressee"]["address"]["postal_code"] = postcode
        env["request"]["channel"] = "counter"   # handed over at the counter: the addressee is not its reader
        envelopes.append(env)
        if i == 2:
            protected = env["data"]["addressee"]["person_id"]
    reversed_input = write_jsonl(tmp_path / "in.jsonl", list(reversed(envelopes)))

    def order(out: Path) -> list[str]:
        opts = BatchOptions(layout="tsuchisho-kyufu-kettei", input=reversed_input, out_dir=out, workers=1,
                            sort="postal_code", progress=False)
        assert run_batch(r, opts).exit_code == 0
        lines = [rec["record"] for rec in manifest(out)["records"]]
        return [str(envelopes[len(envelopes) - line]["data"]["addressee"]["person_id"]) for line in lines]

    ids = [str(e["data"]["addressee"]["person_id"]) for e in envelopes]
    assert order(tmp_path / "before") == ids   # by postcode
    load(r, upsert(protected))
    assert order(tmp_path / "after") == [p for p in ids if p != protected] + [protected]
