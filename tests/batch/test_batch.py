"""`chohyo batch`: files, manifest, errors report, sorting, run-level request, resume guards.

Every record is a fictitious 支給決定通知書 (sample tenant 佐倉市) with a unique 文書番号 佐福第N号, so the
printed text tells which record a page belongs to. Runtime state goes to tmp_path.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import stat
from pathlib import Path
from typing import Any

import pypdf
import pytest
from batchkit import LAYOUT, manifest, page_texts, printed_numbers, renderer, settings, write_jsonl
from dvkit import load, upsert
from typer.testing import CliRunner

from renderer.batch import BatchOptions, run_batch
from renderer.batch.progress import BatchProgress
from renderer.batch.source import InputIndex, Source
from renderer.cli import app
from renderer.errors import UsageError
from renderer.samples import sample_notices
from renderer.state.issue_log import IssueLog

PRIVATE_USE = "\U0010fffd"   # no font has it: the worker fails that record (glyph-not-covered)


def _options(inp: Path, out: Path, **kw: Any) -> BatchOptions:
    base: dict[str, Any] = {"layout": LAYOUT, "input": inp, "out_dir": out, "workers": 1, "progress": False}
    base.update(kw)
    return BatchOptions(**base)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_a_run_splits_files_by_pages_and_accounts_for_every_record(tmp_path: Path, database_url: str | None) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(30))
    out, state = tmp_path / "out", tmp_path / "state"
    summary = run_batch(renderer(state, database_url), _options(inp, out, pages_per_file=8))
    assert summary.exit_code == 0 and summary.errors is None
    assert (summary.records, summary.rendered, summary.files, summary.pages) == (30, 30, 4, 30)
    m = manifest(out)
    files = m["files"]
    assert [f["pages"] for f in files] == [8, 8, 8, 6]
    assert [(f["first_record"], f["last_record"]) for f in files] == [(1, 8), (9, 16), (17, 24), (25, 30)]
    for f in files:
        data = (out / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert len(pypdf.PdfReader(out / f["name"]).pages) == f["pages"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f["name"] for f in files), "manifest.json",
                                                            ".chohyo-batch"])
    # every record printed exactly once, on the page the manifest says
    assert printed_numbers(out, [f["name"] for f in files]) == {n: 1 for n in range(1, 31)}
    recs = m["records"]
    assert [r["record"] for r in recs] == list(range(1, 31))
    assert all(r["status"] == "rendered" and r["pages"] == 1 for r in recs)
    numbers = [r["issue_numbers"][0] for r in recs]
    assert len(set(numbers)) == 30 and numbers[0].endswith("000001") and numbers[-1].endswith("000030")
    assert m["totals"] == {"records": 30, "rendered": 30, "refused": 0, "invalid": 0, "failed": 0, "files": 4,
                           "pages": 30}
    # owner-only output and state
    assert _mode(out) == 0o700 and _mode(out / ".chohyo-batch") == 0o700
    assert all(_mode(p) == 0o600 for p in out.iterdir() if p.is_file())
    assert all(_mode(p) == 0o600 for p in (out / ".chohyo-batch").iterdir() if p.is_file())
    # the issue log has one render record per record and one per file, and verifies
    log = IssueLog(settings(state, database_url))
    bodies = [json.loads(r["body"]) for r in log.records()]
    renders = [b for b in bodies if b["event"] == "render"]
    assert sorted(b["record"] for b in renders) == list(range(1, 31))
    assert {b["file"] for b in renders} == {f["name"] for f in files}
    assert [b["file_sha256"] for b in bodies if b["event"] == "batch-file"] == [f["sha256"] for f in files]
    assert log.verify().ok


def test_failed_records_go_to_the_error_report_without_personal_data(tmp_path: Path, database_url: str | None) -> None:
    good = list(sample_notices(6))
    no_postcode = json.loads(json.dumps(good[1]))
    del no_postcode["data"]["addressee"]["address"]["postal_code"]
    bad_glyph = json.loads(json.dumps(good[3]))
    bad_glyph["data"]["addressee"]["name"] = "見本" + PRIVATE_USE + "子"
    other_layout = json.loads(json.dumps(good[4]))
    other_layout["layout"] = "juminhyo-setai"
    adversary = json.loads(json.dumps(good[5]))
    adversary["request"]["requester"] = {"relation": "third_party", "person_id": "900000001",
                                     "purpose": "見本の請求事由"}
    lines = [good[0], no_postcode, "{not json", "", good[2], bad_glyph, other_layout, adversary]
    inp = write_jsonl(tmp_path / "in.jsonl", lines)
    out, state = tmp_path / "out", tmp_path / "state"
    r = renderer(state, database_url)
    load(r, upsert(str(good[5]["data"]["addressee"]["person_id"]), adversaries=["900000001"]))  # type: ignore[index]
    summary = run_batch(r, _options(inp, out))
    assert summary.exit_code == 4
    assert (summary.records, summary.rendered, summary.invalid, summary.refused) == (7, 2, 4, 1)
    errors = json.loads((out / "errors.json").read_text(encoding="utf-8"))
    by_line = {e["record"]: e for e in errors["errors"]}
    assert set(by_line) == {2, 3, 6, 7, 8}   # line 4 is blank: not a record
    assert by_line[2]["field"] == "data.addressee" and by_line[2]["status"] == "invalid"
    assert by_line[3]["status"] == "invalid" and "not JSON" in by_line[3]["message"]
    assert by_line[6]["problem"] == "glyph-not-covered" and by_line[6]["unused_issue_numbers"]
    assert by_line[7]["field"] == "layout" and by_line[7]["status"] == "invalid"
    assert by_line[7]["problem"] == "invalid-input" and "names layout 'juminhyo-setai'" in by_line[7]["message"]
    assert by_line[8]["status"] == "refused" and by_line[8]["rule"] == "dv-adversary"
    # nothing personal in the reports
    for report in ("errors.json", "manifest.json"):
        text = (out / report).read_text(encoding="utf-8")
        for env in good:
            data = env["data"]
            assert isinstance(data, dict)
            assert data["addressee"]["name"] not in text and data["addressee"]["address"]["block"] not in text
    m = manifest(out)
    assert printed_numbers(out, [f["name"] for f in m["files"]]) == {1: 1, 3: 1}
    assert m["totals"]["invalid"] == 4 and m["totals"]["refused"] == 1
    refusals = [json.loads(x["body"]) for x in IssueLog(settings(state, database_url)).records()]
    assert [b["record"] for b in refusals if b["event"] == "refusal"] == [8]


def test_the_cli_exits_4_when_some_records_failed_and_0_when_all_printed(tmp_path: Path) -> None:
    runner = CliRunner()
    good = write_jsonl(tmp_path / "good.jsonl", sample_notices(3))
    res = runner.invoke(app, ["batch", LAYOUT, str(good), "-o", str(tmp_path / "o1"), "--state-dir",
                              str(tmp_path / "s"), "--workers", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "3 rendered" in res.output
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [*sample_notices(2), "[1, 2]"])
    res = runner.invoke(app, ["batch", LAYOUT, str(mixed), "-o", str(tmp_path / "o2"), "--state-dir",
                              str(tmp_path / "s"), "--workers", "1", "--quiet"])
    assert res.exit_code == 4, res.output
    assert "errors.json" in res.output
    res = runner.invoke(app, ["batch", LAYOUT, str(good), "-o", str(tmp_path / "o3"), "--state-dir",
                              str(tmp_path / "s"), "--sort", "nope", "--json"])
    assert res.exit_code == 2
    problem = json.loads(res.output.strip().splitlines()[-1])
    assert problem["field"] == "--sort" and "postal_code" in problem["detail"]


def test_sort_by_postal_code_is_stable_and_kept_for_resume(tmp_path: Path, database_url: str | None) -> None:
    records = list(sample_notices(40, seed=7))
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    out, state = tmp_path / "out", tmp_path / "state"
    run_batch(renderer(state, database_url), _options(inp, out, sort="postal_code", pages_per_file=15))
    m = manifest(out)
    printed = [r["record"] for r in m["records"]]
    keys = [(str(records[line - 1]["data"]["addressee"]["address"]["postal_code"]), line)
            for line in printed]
    assert keys == sorted(keys)   # by postcode, then input order
    assert printed != sorted(printed)
    index = InputIndex.load(out / ".chohyo-batch" / "order.bin")
    assert list(index.lines) == printed
    # the printed order in the files follows the manifest
    order: list[int] = []
    for f in m["files"]:
        order.extend(printed_numbers(out, [f["name"]]).keys())
    numbers = {i + 1: int(str(r["data"]["document_number"])[3:-1]) for i, r in enumerate(records)}  # type: ignore[index]
    assert sorted(order) == sorted(numbers[line] for line in printed)


def test_records_without_the_sort_key_sort_last(tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", [
        {"data": {"addressee": {"address": {"postal_code": "2850017"}}}},
        {"data": {"addressee": {}}},
        "not json",
        {"data": {"addressee": {"address": {"postal_code": "1000001"}}}},
    ])
    index = Source(inp, request=None, layout_id=LAYOUT).scan("addressee.address.postal_code")
    assert list(index.lines) == [4, 1, 2, 3]


def test_data_lines_with_a_run_level_request(tmp_path: Path) -> None:
    envs = list(sample_notices(5))
    request = {"tenant": envs[0]["tenant"], "request": envs[0]["request"]}
    req = tmp_path / "request.json"
    req.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    inp = write_jsonl(tmp_path / "data.jsonl", [e["data"] for e in envs])
    out = tmp_path / "out"
    summary = run_batch(renderer(tmp_path / "state"), _options(inp, out, request=req, sort="postal_code"))
    assert summary.rendered == 5
    assert sum(printed_numbers(out, [f["name"] for f in manifest(out)["files"]]).values()) == 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**request, "data": {}}), encoding="utf-8")
    with pytest.raises(UsageError) as exc:
        run_batch(renderer(tmp_path / "state"), _options(inp, tmp_path / "o2", request=bad))
    assert exc.value.field == "--request"
    assert not (tmp_path / "o2").exists() and not (tmp_path / "out2").exists()


def test_resume_guards_and_a_resume_of_a_finished_run_changes_nothing(tmp_path: Path, database_url: str | None) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(6))
    out, state = tmp_path / "out", tmp_path / "state"
    r = renderer(state, database_url)
    run_batch(r, _options(inp, out, pages_per_file=4))
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(UsageError) as exc:
        run_batch(r, _options(inp, out, pages_per_file=4))
    assert exc.value.field == "--output"
    with pytest.raises(UsageError) as exc:
        run_batch(r, _options(inp, out, pages_per_file=5, resume=True))
    assert exc.value.field == "--resume"
    with pytest.raises(UsageError) as exc:
        run_batch(r, _options(inp, tmp_path / "empty", resume=True))
    assert exc.value.field == "--resume"
    summary = run_batch(r, _options(inp, out, pages_per_file=4, resume=True, workers=2))
    assert summary.resumed and summary.rendered == 6
    assert (out / "manifest.json").read_bytes() == before
    write_jsonl(inp, sample_notices(7))
    with pytest.raises(UsageError) as exc:
        run_batch(r, _options(inp, out, pages_per_file=4, resume=True))
    assert exc.value.field == "INPUT"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "old.pdf").write_bytes(b"%PDF-")
    with pytest.raises(UsageError) as exc:
        run_batch(r, _options(inp, busy))
    assert exc.value.field == "--output"


def test_a_record_with_many_pages_is_never_split_across_files(tmp_path: Path, database_url: str | None) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(5))
    for copies in (1, 3):
        lines = [json.loads(x) for x in inp.read_text(encoding="utf-8").splitlines()]
        for env in lines:
            env["request"]["copies"] = copies
        write_jsonl(inp, lines)
        out = tmp_path / f"out{copies}"
        run_batch(renderer(tmp_path / "state", database_url), _options(inp, out, pages_per_file=2))
        m = manifest(out)
        assert m["totals"]["pages"] == 5 * copies
        for f in m["files"]:
            assert f["pages"] <= max(2, copies)
            assert f.get("over_page_limit", False) == (f["pages"] > 2)
        for rec in m["records"]:
            assert rec["pages"] == copies and len(rec["issue_numbers"]) == copies


def test_a_second_coordinator_on_the_same_directory_is_refused(tmp_path: Path, database_url: str | None) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(2))
    out = tmp_path / "out"
    (out / ".chohyo-batch").mkdir(parents=True)
    with (out / ".chohyo-batch" / "lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)   # a run in progress (another process in real life)
        with pytest.raises(UsageError) as exc:
            run_batch(renderer(tmp_path / "state", database_url), _options(inp, out))
        assert exc.value.field == "--output" and "running" in exc.value.message
    assert run_batch(renderer(tmp_path / "state", database_url), _options(inp, out)).rendered == 2


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise() -> None:
    plain = io.StringIO()
    p = BatchProgress(10, stream=plain, interval=0.0)
    p.advance(4)
    p.advance(6)
    p.close()
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith("batch: 4/10 records (40.0 %)") and "rec/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("batch: 10/10 records (100.0 %)")
    tty = _Tty()
    bar = BatchProgress(10, stream=tty)
    bar.advance(10)
    bar.close()
    assert "10/10" in tty.getvalue() and "rec/s" in tty.getvalue() and "batch: " not in tty.getvalue()


CSV_MAP = """\
# 支給決定通知書: columns of the 住民記録 extract → data paths
encoding: {encoding}
columns:
  宛名番号: addressee.person_id
  氏名: addressee.name
  郵便番号: addressee.address.postal_code
  都道府県: addressee.address.prefecture
  市区町村: addressee.address.municipality
  町名: addressee.address.town
  番地: addressee.address.block
  方書: addressee.address.building
  文書番号: document_number
  決定日: decided_on
  支払予定日: payment_on
  世帯人数: {{path: household_size, type: int}}
  金融機関: account.bank
  支店: account.branch
  種別: account.kind
  口座番号: account.number_masked
  名義カナ: account.holder_kana
  公金受取口座: {{path: account.public_account, type: bool}}
"""
CSV_HEADER = ("宛名番号,氏名,郵便番号,都道府県,市区町村,町名,番地,方書,文書番号,決定日,支払予定日,世帯人数,"
              "金融機関,支店,種別,口座番号,名義カナ,公金受取口座,備考")


def _csv_row(n: int, postcode: str, *, building: str = "", people: str = "3") -> str:
    return (f"{500000000 + n},見本　{n}郎,{postcode},千葉県,佐倉市,栄町,3番{n}号,{building},佐福第{n}号,2026-11-20,"
            f"2026-12-10,{people},見本銀行,佐倉支店,普通,****{n:03d},ミホン　タロウ,はい,未使用の列")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_csv_input_with_a_declared_column_mapping(tmp_path: Path, encoding: str) -> None:
    rows = [CSV_HEADER, _csv_row(1, "2850017"), _csv_row(2, "2850014", building='"見本ハイツ,A棟\n101号室"'),
            _csv_row(3, "2850005", people="x"), "1,2,3", "", _csv_row(5, "2850014")]
    text = "\n".join(rows) + "\n"
    inp = tmp_path / "in.csv"
    inp.write_bytes(("\ufeff" + text).encode("utf-8") if encoding == "utf-8-sig" else text.encode("cp932"))
    mapping = tmp_path / "map.yaml"
    mapping.write_text(CSV_MAP.format(encoding=encoding), encoding="utf-8")
    env = next(iter(sample_notices(1)))
    req = tmp_path / "request.json"
    req.write_text(json.dumps({"tenant": env["tenant"], "request": env["request"]}, ensure_ascii=False),
                   encoding="utf-8")
    out = tmp_path / "out"
    summary = run_batch(renderer(tmp_path / "state"),
                        _options(inp, out, request=req, csv_map=mapping, sort="postal_code"))
    assert (summary.rendered, summary.invalid) == (3, 2)
    m = manifest(out)
    # sorted by 郵便番号, stable; the quoted cell spans lines 3-4, so the rows after it start one line later
    assert [r["record"] for r in m["records"] if r["status"] == "rendered"] == [3, 8, 2]
    errors = {r["record"]: r for r in m["records"] if r["status"] != "rendered"}
    assert errors[5]["field"] == "data.household_size" and errors[6]["status"] == "invalid"
    assert printed_numbers(out, [f["name"] for f in m["files"]]) == {1: 1, 2: 1, 5: 1}
    text_pdf = "".join(page_texts(out / m["files"][0]["name"]))
    assert "見本ハイツ,A棟" in text_pdf
    assert "見本　3郎" not in (out / "errors.json").read_text(encoding="utf-8")


def test_a_csv_mapping_must_match_the_header(tmp_path: Path) -> None:
    inp = tmp_path / "in.csv"
    inp.write_text("宛名番号,氏名\n1,見本\n", encoding="utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(CSV_MAP.format(encoding="utf-8"), encoding="utf-8")
    req = tmp_path / "request.json"
    req.write_text(json.dumps({"tenant": "122122", "request": {}}), encoding="utf-8")
    with pytest.raises(UsageError) as exc:
        run_batch(renderer(tmp_path / "state"), _options(inp, tmp_path / "out", request=req, csv_map=mapping))
    assert exc.value.field == "--csv-map" and "郵便番号" in exc.value.message
    with pytest.raises(UsageError) as exc:
        run_batch(renderer(tmp_path / "state"), _options(inp, tmp_path / "out2", csv_map=mapping))
    assert exc.value.field == "--request"
    assert not (tmp_path / "o2").exists() and not (tmp_path / "out2").exists()


def test_bad_options_leave_nothing_on_disk(tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_notices(1))
    for kw, field in (({"layout": "nope"}, "layout"), ({"sort": "nope"}, "--sort"),
                      ({"input": tmp_path / "missing.jsonl"}, "INPUT"), ({"resume": True}, "--resume")):
        out = tmp_path / f"out-{field.strip('-')}"
        with pytest.raises(UsageError) as exc:
            run_batch(renderer(tmp_path / "state"), _options(inp, out, **kw))
        assert exc.value.field == field
        assert not out.exists()


def test_files_of_a_run_for_output_file_are_pdfa_and_print_runs_are_plain(tmp_path: Path) -> None:
    """`request.pdf_profile` (default pdfa-2b for output: file) holds for batch files too, as for a render."""
    from renderer.pdfa_check import check

    for output, expect_pdfa in (("file", True), ("print", False)):
        records = list(sample_notices(3))
        for rec in records:
            request = rec["request"]
            assert isinstance(request, dict)
            request["output"] = output
        inp = write_jsonl(tmp_path / f"in-{output}.jsonl", records)
        out = tmp_path / f"out-{output}"
        summary = run_batch(renderer(tmp_path / f"state-{output}"), _options(inp, out, pages_per_file=2))
        assert summary.exit_code == 0 and summary.files == 2
        for f in manifest(out)["files"]:
            data = (out / f["name"]).read_bytes()
            assert data.startswith(b"%PDF-1.7") is expect_pdfa
            if expect_pdfa:
                report = check(data)
                assert report.ok, report.failed
