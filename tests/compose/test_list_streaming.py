"""Lists that stream (issue 18, item 5): a header envelope beside ROWS.jsonl gives the same PDF, byte for
byte, as the envelope with its rows inline — totals, key breaks, 〃, n/N and DV redaction included — and the
rows are read page by page, never all held.

In: the golden list cases (their inputs and DV fixtures) and fictitious sample rows (`renderer.samples`).
Out: assertions only; state and scratch files go to pytest's tmp_path. Memory and time are measured by
``chohyo bench list --stream`` (a benchmark, never asserted here).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from renderer.api import Renderer, RenderResult
from renderer.caller import Caller
from renderer.cli import app
from renderer.compose.compose import Composer
from renderer.compose.table import REPEAT_MARK
from renderer.errors import InputError, UsageError
from renderer.golden import DEFAULT_CLOCK, GOLDEN_DIR, case_of, default_settings, load_fixtures
from renderer.rows import RowsFile, StreamedRows
from renderer.samples import sample_idosha_rows, sample_kyufu_rows
from renderer.state.registry import seed_registry

LIST_CASES = sorted(p.parent for p in GOLDEN_DIR.glob("ichiran-*/*/input.json"))
REQUEST = {"requester": {"relation": "public_office"}, "channel": "counter", "operator": "test",
           "terminal": "honcho-1", "printer": "prn-001", "issued_on": "2026-11-27"}


def kyufu(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"layout": "ichiran-kyufu", "tenant": "122122", "request": REQUEST,
            "data": {"program": "見本給付金", "rows": rows}}


def idosha(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"layout": "ichiran-idosha", "tenant": "281000", "request": REQUEST,
            "data": {"period": {"from": "2026-11-01", "to": "2026-11-30"}, "rows": rows}}


def split(envelope: dict[str, Any], tmp: Path) -> tuple[dict[str, Any], Path]:
    """The header envelope (data without its rows) and ROWS.jsonl with one row per line."""
    header = copy.deepcopy(envelope)
    rows = header["data"].pop("rows")
    path = tmp / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return header, path


def renderer_at(tmp: Path, *, suppressions: tuple[dict[str, Any], ...] = (), tenant: str = "122122") -> Renderer:
    when = DEFAULT_CLOCK
    settings = dataclasses.replace(default_settings(), state_dir=tmp / "state", database_url=None,
                                   clock=lambda: when)
    seed_registry(settings, tenant, suppressions, ())
    return Renderer(settings)


def both_ways(envelope: dict[str, Any], tmp: Path, *, suppressions: tuple[dict[str, Any], ...] = (),
              caller: Caller | None = None) -> tuple[RenderResult, RenderResult]:
    """The envelope rendered with its rows inline, then as header + JSONL (each on a fresh state dir)."""
    inline = renderer_at(tmp / "inline", suppressions=suppressions, tenant=envelope["tenant"]).render(
        copy.deepcopy(envelope), layout_id=envelope["layout"], caller=caller)
    header, rows = split(envelope, tmp)
    with RowsFile(rows) as source:
        streamed = renderer_at(tmp / "streamed", suppressions=suppressions, tenant=envelope["tenant"]).render(
            header, layout_id=envelope["layout"], caller=caller, rows=source)
    return inline, streamed


def assert_same(inline: RenderResult, streamed: RenderResult) -> None:
    assert streamed.display == inline.display
    assert streamed.pages == inline.pages
    assert streamed.overflow == inline.overflow
    assert streamed.person_ids == inline.person_ids
    assert streamed.warnings == inline.warnings
    assert streamed.pdf_sha256 == inline.pdf_sha256
    assert streamed.pdf == inline.pdf


# --------------------------------------------------------------------------- same bytes both ways


@pytest.mark.parametrize("case_dir", LIST_CASES, ids=[case_of(p).id for p in LIST_CASES])
def test_every_golden_list_streams_to_the_same_bytes(case_dir: Path, tmp_path: Path) -> None:
    """Each golden list case (DV fixtures seeded as the golden run seeds them), inline vs streamed."""
    fixtures = load_fixtures(case_dir)
    envelope = json.loads((case_dir / "input.json").read_text(encoding="utf-8"))
    caller = Caller.local("cli", identity_verified=fixtures.identity_verified)
    inline, streamed = both_ways(envelope, tmp_path, suppressions=fixtures.suppressions, caller=caller)
    assert_same(inline, streamed)


def test_a_protected_row_is_redacted_in_the_stream_and_its_ward_hidden(tmp_path: Path) -> None:
    """DV 支援措置 per streamed row: the protected person's addresses print 「記載省略」, the row joins the
    neutral group, the other rows are untouched — exactly as inline."""
    rows = sample_idosha_rows(40, seed=3, wards=3)
    protected = rows[17]
    record = {"op": "upsert", "person_id": protected["person_id"], "version": 1, "case_id": "DV-T-1",
              "role": "applicant", "adversaries": [], "period": {"start": "2026-04-01", "end": "2027-03-31"}}
    inline, streamed = both_ways(idosha(rows), tmp_path, suppressions=(record,))
    assert_same(inline, streamed)
    text = streamed.display
    assert "記載省略" in text
    assert "（行政区表示なし）" in text
    plain = renderer_at(tmp_path / "plain", tenant="281000").render(idosha(rows), layout_id="ichiran-idosha")
    assert "記載省略" not in plain.display


def test_a_co_residents_row_does_not_print_the_protected_address(tmp_path: Path) -> None:
    """A protected person's address printed on another row — a co-resident not registered himself, same
    surname, same 決定日, the next line — gives away what 「記載省略」 hides (hostile review): every row at that
    address reads 「記載省略」, inline and streamed alike; a neighbour (another 番地) keeps his address."""
    rows: list[dict[str, Any]] = [dict(r) for r in sample_kyufu_rows(30, seed=7)]
    protected, co_resident, neighbour = rows[4], rows[5], rows[6]
    home: dict[str, str] = dict(protected["address"])
    co_resident["address"] = dict(home)
    neighbour["address"] = {**home, "block": "99番99号"}
    where = home["town"] + home["block"]
    record = {"op": "upsert", "person_id": protected["person_id"], "version": 1, "case_id": "DV-T-2",
              "role": "applicant", "adversaries": [], "period": {"start": "2026-04-01", "end": "2027-03-31"}}
    inline, streamed = both_ways(kyufu(rows), tmp_path, suppressions=(record,))
    assert_same(inline, streamed)
    text = streamed.display
    assert text.count("記載省略") == 2 and where not in text
    assert home["town"] + "99番99号" in text
    plain = renderer_at(tmp_path / "plain").render(kyufu(rows), layout_id="ichiran-kyufu")
    assert "記載省略" not in plain.display and where in plain.display


def test_an_unsorted_file_prints_in_the_declared_order(tmp_path: Path) -> None:
    rows = sample_kyufu_rows(120, seed=11)
    random.Random(4).shuffle(rows)
    inline, streamed = both_ways(kyufu(rows), tmp_path)
    assert_same(inline, streamed)


def test_key_breaks_totals_and_repeats_across_page_boundaries(tmp_path: Path) -> None:
    """Wards spanning several pages (group n/N, 「区 計」 on the ward's last page), 頁計/累計/繰越 over many
    pages and 〃 restarting on every page: the streamed plan and pages are the inline ones."""
    rows = sample_idosha_rows(260, seed=8, wards=3)
    inline, streamed = both_ways(idosha(rows), tmp_path)
    assert_same(inline, streamed)
    ward_pages = set(re.findall(r"'(\S+区) (\d+) / (\d+) 頁", streamed.display))
    assert any(int(total) > 1 and n == "2" for _, n, total in ward_pages)   # a ward crosses a page boundary
    assert len({ward for ward, _, _ in ward_pages}) == 3 and len(re.findall(r"計 \d+ 件", streamed.display)) == 3
    amounts = sample_kyufu_rows(200, seed=9)
    inline, streamed = both_ways(kyufu(amounts), tmp_path / "kyufu")
    assert_same(inline, streamed)
    assert streamed.pages >= 5 and "次頁へ繰越" in streamed.display and "前頁より繰越" in streamed.display
    assert REPEAT_MARK in streamed.display


def test_copies_each_read_the_rows_again_and_keep_their_own_totals(tmp_path: Path) -> None:
    envelope = kyufu(sample_kyufu_rows(70, seed=2))
    envelope["request"] = {**REQUEST, "copies": 2}
    inline, streamed = both_ways(envelope, tmp_path)
    assert_same(inline, streamed)


def test_an_empty_rows_file_prints_the_empty_list(tmp_path: Path) -> None:
    inline, streamed = both_ways(kyufu([]), tmp_path)
    assert_same(inline, streamed)
    assert streamed.pages == 1
    assert "件数 0" in streamed.display


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    envelope = kyufu(sample_kyufu_rows(5, seed=1))
    header, path = split(envelope, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n" + "\n\n".join(lines) + "\n  \n", encoding="utf-8")
    inline = renderer_at(tmp_path / "a").render(copy.deepcopy(envelope), layout_id="ichiran-kyufu")
    with RowsFile(path) as source:
        streamed = renderer_at(tmp_path / "b").render(header, layout_id="ichiran-kyufu", rows=source)
    assert streamed.pdf == inline.pdf


# --------------------------------------------------------------------------- read lazily


def test_rows_are_read_page_by_page_while_drawing(tmp_path: Path) -> None:
    """After the planning pass, drawing the first page reads only that page's rows; every page reads its own
    rows once (the view keeps no more than a small cache)."""
    header, path = split(kyufu(sample_kyufu_rows(300, seed=6)), tmp_path)
    renderer = renderer_at(tmp_path)
    with RowsFile(path) as source:
        plan = renderer.prepare(header, layout_id="ichiran-kyufu", rows=source)
        composer = Composer(plan.doc, renderer.fonts)
        table = composer.table_plan()
        assert isinstance(table.rows, StreamedRows)
        assert table.rows.reads == 0            # planned without holding a single row model
        pages: Iterator[Any] = composer.stream([0])
        next(pages)
        first = table.pages[0]
        on_first = first.end[0] - first.start[0]
        assert 0 < on_first < len(table.rows)
        assert table.rows.reads == on_first
        for _ in pages:
            pass
        assert table.rows.reads == len(table.rows) == 300


def test_the_planning_pass_reads_the_file_once_in_input_order(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    header, path = split(kyufu(sample_kyufu_rows(50, seed=6)), tmp_path)
    renderer = renderer_at(tmp_path)
    read: list[int] = []
    original = RowsFile._parse

    def counting(self: RowsFile, raw: bytes, line: int, index: int) -> Any:
        read.append(index)
        return original(self, raw, line, index)

    monkeypatch.setattr(RowsFile, "_parse", counting)
    with RowsFile(path) as source:
        plan = renderer.prepare(header, layout_id="ichiran-kyufu", rows=source)
        assert read == list(range(50)) * 2      # validation pass, then the planning pass (no registry records)
        read.clear()
        Composer(plan.doc, renderer.fonts).count_sheets()
        assert read == []                       # the plan is kept with the rows: a second composer reuses it


# --------------------------------------------------------------------------- bad input, from the CLI


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr("renderer.settings.system_clock", lambda: DEFAULT_CLOCK)
    return tmp_path


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["render", *args, "--json"])


def test_the_cli_renders_header_and_rows(cli_env: Path) -> None:
    envelope = kyufu(sample_kyufu_rows(30, seed=3))
    header, rows = split(envelope, cli_env)
    (cli_env / "header.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")
    (cli_env / "inline.json").write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    done = cli("ichiran-kyufu", str(cli_env / "header.json"), "--rows", str(rows), "-o", str(cli_env / "s.pdf"))
    assert done.exit_code == 0, done.output
    done = cli("ichiran-kyufu", str(cli_env / "inline.json"), "-o", str(cli_env / "i.pdf"))
    assert done.exit_code == 0, done.output
    assert (cli_env / "s.pdf").read_bytes() == (cli_env / "i.pdf").read_bytes()


@pytest.mark.parametrize(("line", "field", "bad"), [
    (7, "data.rows[6].address.prefecture", lambda r: r["address"].pop("prefecture")),
    (12, "data.rows[11].amount", lambda r: r.update(amount="50000")),
    (3, "data.rows[2]", None),   # not JSON at all
])
def test_a_bad_line_is_exit_2_naming_line_and_field_and_nothing_is_written(
        cli_env: Path, line: int, field: str, bad: Any) -> None:
    header, rows = split(kyufu(sample_kyufu_rows(20, seed=3)), cli_env)
    lines = rows.read_text(encoding="utf-8").splitlines()
    if bad is None:
        lines[line - 1] = lines[line - 1][:-3]
    else:
        row = json.loads(lines[line - 1])
        bad(row)
        lines[line - 1] = json.dumps(row, ensure_ascii=False)
    rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (cli_env / "header.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")
    out = cli_env / "out"
    out.mkdir()
    done = cli("ichiran-kyufu", str(cli_env / "header.json"), "--rows", str(rows), "-o", str(out / "list.pdf"))
    assert done.exit_code == 2, done.output
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert f"line {line}" in problem["detail"]
    assert problem["field"] == field
    assert list(out.iterdir()) == []          # no PDF, no temp file, no sidecar
    assert "見本" not in done.stderr          # never a value of the row


def test_the_header_may_not_carry_rows_and_a_certificate_does_not_stream(cli_env: Path) -> None:
    envelope = kyufu(sample_kyufu_rows(3, seed=3))
    _, rows = split(envelope, cli_env)
    (cli_env / "inline.json").write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    done = cli("ichiran-kyufu", str(cli_env / "inline.json"), "--rows", str(rows), "-o", str(cli_env / "x.pdf"))
    assert done.exit_code == 2
    assert json.loads(done.stderr.strip().splitlines()[-1])["field"] == "data.rows"
    sample = GOLDEN_DIR.parent / "layouts" / "samples" / "juminhyo-setai.json"
    done = cli("juminhyo-setai", str(sample), "--rows", str(rows), "-o", str(cli_env / "y.pdf"))
    assert done.exit_code == 2
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "--rows" and "cannot stream" in problem["detail"]
    assert not (cli_env / "x.pdf").exists() and not (cli_env / "y.pdf").exists()


# --------------------------------------------------------------------------- the file itself


def test_a_file_changed_after_it_was_read_is_not_delivered(tmp_path: Path) -> None:
    header, path = split(kyufu(sample_kyufu_rows(4, seed=3)), tmp_path)
    with RowsFile(path) as source:
        renderer_at(tmp_path).render(header, layout_id="ichiran-kyufu", rows=source)
        source.check_unchanged()
        with path.open("ab") as fh:
            fh.write(b"\n")
        with pytest.raises(UsageError, match="changed while the list was drawn"):
            source.check_unchanged()


def test_the_row_limit_of_the_model_holds_for_a_stream(tmp_path: Path) -> None:
    from renderer.datamodels.lists import KyufuRow

    _, path = split(kyufu(sample_kyufu_rows(4, seed=3)), tmp_path)
    with RowsFile(path) as source, pytest.raises(InputError, match="line 4: more than 3 rows") as caught:
        source.scan(KyufuRow, "rows", 3)
    assert caught.value.field == "data.rows"


# --------------------------------------------------------------------------- hostile review: input hardening


def test_rows_from_a_pipe_or_fifo_are_exit_2_naming_rows(cli_env: Path) -> None:
    """The rows are read in passes (checked, then drawn), so a pipe cannot serve: exit 2 naming --rows,
    never an internal failure (UnsupportedOperation on seek). A FIFO no one writes to is not waited on."""
    import os
    import subprocess
    import sys

    header, rows = split(kyufu(sample_kyufu_rows(5, seed=3)), cli_env)
    (cli_env / "header.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")
    out = cli_env / "p.pdf"
    piped = subprocess.run([sys.executable, "-m", "renderer", "render", "ichiran-kyufu", str(cli_env / "header.json"),
                            "--rows", "/dev/stdin", "-o", str(out), "--json"],
                           input=rows.read_bytes(), capture_output=True, timeout=120,
                           env={**os.environ, "CHOHYO_STATE_DIR": str(cli_env / "state")})
    assert piped.returncode == 2, piped.stderr
    problem = json.loads(piped.stderr.decode().strip().splitlines()[-1])
    assert problem["field"] == "--rows" and "must be a regular file" in problem["detail"]
    fifo = cli_env / "rows.fifo"
    os.mkfifo(fifo)
    done = cli("ichiran-kyufu", str(cli_env / "header.json"), "--rows", str(fifo), "-o", str(out))
    assert done.exit_code == 2, done.output
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "--rows" and "is a pipe or FIFO" in problem["detail"]
    assert not out.exists()


def _bad_row(rows: list[dict[str, Any]], printed_first: int, field: str, value: Any) -> None:
    if field == "address.town":
        rows[printed_first]["address"]["town"] = value
    else:
        rows[printed_first][field] = value


@pytest.mark.parametrize(("field", "value", "problem_type"), [
    ("account", "見本銀行\u202e普通", "glyph-not-covered"),    # a bidi override: no font has it (drawing)
    ("account", "見本銀行\n普通", "text-overflow"),            # a newline: two lines in a one-line cell (drawing)
    ("address.town", "見本\u202e町", "glyph-not-covered"),     # a wrapping column: measured while planning
    ("decided_on", "1500-01-01", "invalid-input"),             # a formatter (和暦) refuses it while drawing
])
def test_a_row_that_fails_while_drawn_is_named_by_input_index_and_line(
        cli_env: Path, field: str, value: Any, problem_type: str) -> None:
    """Such a row passes validation; the error found while planning or drawing named it by its printed place
    (data.rows[0] for the row sorted first) or by the column alone (``address``, ``row.decided_on``). Now by its
    index in the input, and, streamed, by its line, as the scan does."""
    rows = sample_kyufu_rows(20, seed=3)
    rows.sort(key=lambda r: (r["decided_on"], r["person_id"]), reverse=True)   # the input is not in print order
    bad = 13
    _bad_row(rows, bad, field, value)
    envelope = kyufu(rows)
    header, path = split(envelope, cli_env)
    lines = path.read_text(encoding="utf-8")
    path.write_text("\n" + lines, encoding="utf-8")      # a blank first line: line numbers are not row indexes
    (cli_env / "header.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")
    (cli_env / "inline.json").write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    where = f"data.rows[{bad}].{field.split('.')[0]}"
    done = cli("ichiran-kyufu", str(cli_env / "inline.json"), "-o", str(cli_env / "i.pdf"))
    assert done.exit_code == 2, done.output
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["type"].endswith(problem_type) and problem["field"] == where, problem
    assert problem["detail"].startswith(f"{where}: ")
    done = cli("ichiran-kyufu", str(cli_env / "header.json"), "--rows", str(path), "-o", str(cli_env / "s.pdf"))
    assert done.exit_code == 2, done.output
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["type"].endswith(problem_type) and problem["field"] == where, problem
    assert problem["detail"].startswith(f"--rows rows.jsonl line {bad + 2}: {where}: ")
    assert problem["errors"][0]["line"] == bad + 2 and problem["errors"][0]["source"] == "rows.jsonl"
    assert "見本" not in done.stderr and "1500" not in done.stderr
    assert not (cli_env / "i.pdf").exists() and not (cli_env / "s.pdf").exists()


def test_a_person_twice_in_the_kyufu_list_is_refused_naming_both_rows(cli_env: Path) -> None:
    """Every row of the 支給決定者一覧 is a payment added to the totals: a person_id given twice was paid and
    totalled twice. Refused inline and streamed (both rows named, and their lines), nothing written."""
    rows = sample_kyufu_rows(12, seed=3)
    rows[9]["person_id"] = rows[4]["person_id"]
    envelope = kyufu(rows)
    header, path = split(envelope, cli_env)
    (cli_env / "header.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")
    (cli_env / "inline.json").write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    done = cli("ichiran-kyufu", str(cli_env / "inline.json"), "-o", str(cli_env / "i.pdf"))
    assert done.exit_code == 2, done.output
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "data.rows[9].person_id"
    assert "data.rows[9]" in problem["detail"] and "data.rows[4]" in problem["detail"]
    done = cli("ichiran-kyufu", str(cli_env / "header.json"), "--rows", str(path), "-o", str(cli_env / "s.pdf"))
    assert done.exit_code == 2, done.output
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "data.rows[9].person_id"
    assert problem["detail"] == ("--rows rows.jsonl line 10: data.rows[9] names the person of data.rows[4] "
                                 "(line 5) again")
    assert problem["errors"][0]["line"] == 10
    assert rows[4]["person_id"] not in done.stderr
    assert not (cli_env / "i.pdf").exists() and not (cli_env / "s.pdf").exists()


def test_a_person_may_have_several_rows_in_the_idosha_list(tmp_path: Path) -> None:
    """異動者一覧表: one row per 異動, and a person may move more than once in the period (転居, then 転出):
    the same person_id on two rows is printed, inline and streamed alike."""
    rows = sample_idosha_rows(8, seed=5)
    again = copy.deepcopy(rows[2])
    again["moved_on"] = "2026-11-29"
    rows.append(again)
    inline, streamed = both_ways(idosha(rows), tmp_path)
    assert_same(inline, streamed)
    assert inline.person_ids.count(str(rows[2]["person_id"])) == 2
