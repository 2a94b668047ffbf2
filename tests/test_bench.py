"""`chohyo bench pipeline`: the benchmark's own logic and its varied records on a few records (timings are never
asserted)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.benchmarks.batches import compare_workers
from renderer.benchmarks.pipeline import BenchCheckError, _timed, check_same_text, run_floor, run_pipeline
from renderer.benchmarks.sample import HEN, TSUJI, YOSHI, sample_envelope, shaping_envelope
from renderer.benchmarks.varied import FAMILY_NAMES, GIVEN_NAMES, REMARK_TOTAL, TOWNS, varied_envelopes
from renderer.cli import app
from renderer.display import Page, TextRun
from renderer.fonts import VARIATION_SELECTORS, FontSet
from renderer.settings import PROJECT_ROOT, Settings


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    return Renderer(Settings.from_env(state_dir=tmp_path_factory.mktemp("state")))


def test_the_sample_is_issued_today_and_the_shaping_variant_needs_ivs_and_fallback() -> None:
    assert "issued_on" not in sample_envelope()["request"]
    env = shaping_envelope()
    household = env["data"]["household"]
    assert household["head_name"].startswith(TSUJI) and HEN in household["address"]["town"]
    assert any(YOSHI in m.get("former_name", "") for m in household["members"])
    assert sample_envelope()["data"]["household"]["head_name"] == "見本　太郎"   # the sample itself is untouched


def test_pipeline_and_floor_draw_the_same_pages(renderer: Renderer) -> None:
    for env in (sample_envelope(), shaping_envelope()):
        pages: list[Page] = []
        run = run_pipeline(renderer, env, 3, keep=pages)
        assert run.records == 3 and run.pages == 3 and len(pages) == 3
        assert run.stages.plan > 0 and run.stages.compose > 0 and run.stages.draw > 0
        assert run.stages.total == pytest.approx(run.stages.plan + run.stages.compose + run.stages.draw)
        floor = run_floor(renderer.fonts, pages)
        assert floor.pages == 3 and floor.pdf.startswith(b"%PDF-")
        check_same_text(run.pdf, floor.pdf, what="test")


def test_varied_records_are_deterministic_and_differ_as_real_ones_do() -> None:
    records = varied_envelopes(200)
    assert records == varied_envelopes(200)                       # the same seed gives the same records
    assert records != varied_envelopes(200, seed=7)
    households = [r["data"]["household"] for r in records]
    assert len({repr(h) for h in households}) == 200               # every record differs
    sizes = {len(h["members"]) for h in households}
    assert sizes == set(range(1, 10))                               # households of 1–9
    with_building = sum("building" in h["address"] for h in households)
    assert 0 < with_building < 200                                  # 方書 and none
    assert len({len(h["address"]["town"] + h["address"]["block"]) for h in households}) > 5
    remarks = [sum(len(r) for r in m.get("remarks", [])) for h in households for m in h["members"]]
    assert min(remarks) == 0 and 40 < max(remarks) <= REMARK_TOTAL  # 備考 of 0–80 characters
    names = [m["name"] for h in households for m in h["members"]]
    assert any(any(ord(ch) in VARIATION_SELECTORS for ch in name) for name in names)
    assert all(r["layout"] == "juminhyo-setai" and r["request"]["requester"]["person_id"] ==
               r["data"]["household"]["members"][0]["person_id"] for r in records)


def test_every_variant_kanji_of_the_generator_is_registered_by_a_font() -> None:
    fonts = FontSet(PROJECT_ROOT / "fonts")
    events: list[str] = []
    for text in (*FAMILY_NAMES, *GIVEN_NAMES, *TOWNS):
        fonts.clusters(text, ["IPAexMincho", "IPAmjMincho"], field="f", sink=lambda e: events.append(e.kind))
    assert "ivs" in events and "ivs_fallback" not in events and "uncovered" not in events


def test_varied_records_go_through_the_real_pipeline(renderer: Renderer) -> None:
    """A record the pipeline refuses is a bug of the generator: 40 of them, planned, composed and drawn."""
    pages: list[Page] = []
    run = run_pipeline(renderer, varied_envelopes(40, seed=3), 40, keep=pages)
    assert run.records == 40 and run.pages == len(pages) >= 40
    check_same_text(run.pdf, run_floor(renderer.fonts, pages).pdf, what="varied")


def test_the_check_fails_loudly_on_a_missing_page_or_a_missing_string(renderer: Renderer) -> None:
    pages: list[Page] = []
    run = run_pipeline(renderer, sample_envelope(), 2, keep=pages)
    with pytest.raises(BenchCheckError, match="drew 2 page"):
        check_same_text(run.pdf, run_floor(renderer.fonts, pages[:1]).pdf, what="test")
    first = pages[0]
    texts = [op for op in first.ops if isinstance(op, TextRun)]
    dropped = next(op for op in texts if op.text.strip())
    cut = dataclasses.replace(first, ops=tuple(op for op in first.ops if op is not dropped))
    with pytest.raises(BenchCheckError, match="page 1 differs"):
        check_same_text(run.pdf, run_floor(renderer.fonts, [cut, pages[1]]).pdf, what="test")


def test_timed_adds_the_time_spent_in_the_generator() -> None:
    spent = [0.0]

    def gen() -> Iterator[int]:
        yield from range(3)

    assert list(_timed(gen(), spent)) == [0, 1, 2]
    assert spent[0] > 0


def test_workers_compare_runs_the_batch_in_a_fresh_process() -> None:
    stats = compare_workers(2, 1, workers=(1,), varied=False)
    assert len(stats) == 1
    only = stats[0]
    assert (only.workers, only.records, only.pages, only.files) == (1, 2, 2, 2)
    roles = [p.role for p in only.processes]
    assert roles[0] == "coordinator" and "worker" in roles
    assert all(p.peak_rss_mb > 0 for p in only.processes)


def test_cli_prints_both_rates_their_ratio_and_the_stages(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "pipeline", "--records", "2", "--profile"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for needle in ("--varied", "varied records", "sample repeated", "floor (plain ReportLab)", "ratio to floor",
                   "≥ 1.0", "compose", "draw + save", "plan", "cProfile"):
        assert needle in out


def test_cli_same_keeps_the_single_record_benchmark(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "pipeline", "--records", "2", "--same"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for needle in ("--same", "floor (plain ReportLab)", "IVS + fallback names", "shaping costs"):
        assert needle in out


def test_pairs_run_alternating_orders_and_show_the_median_pair() -> None:
    """`--pairs 3`: three (1 worker, 2 workers) pairs, the second in reverse order; the median speed-up is
    printed with every pair's, and the table is the median pair's."""
    result = CliRunner().invoke(app, ["bench", "pipeline", "--records", "4", "--workers-compare",
                                      "--pages-per-file", "2", "--pairs", "3"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if "pairs in alternating order" in x)
    each = [float(v) for v in line.split("(each: ")[1].split(")")[0].split(", ")]
    assert len(each) == 3
    assert f"median {sorted(each)[1]:.2f}×" in line
