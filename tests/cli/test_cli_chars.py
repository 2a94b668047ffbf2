"""`chohyo chars check`: the characters of a print run that need attention, before the run starts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from renderer.cli import app

ROOT = Path(__file__).resolve().parents[2]
IVS_CASE = ROOT / "golden" / "juminhyo-setai" / "ivs-itaiji" / "input.json"
GAIJI_CASE = ROOT / "golden" / "juminhyo-setai" / "gaiji-kyohi" / "input.json"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["chars", "check", *args])
    return result.exit_code, result.stdout


def test_ivs_variants_are_listed_and_exit_is_zero() -> None:
    code, out = run(str(IVS_CASE), "--layout", "juminhyo-setai", "--json-report")
    assert code == 0
    report = json.loads(out)
    kinds = {(row["kind"], row["sequence"]) for row in report["characters"]}
    assert ("ivs", "U+8FBB U+E0102") in kinds and ("ivs", "U+908A U+E0109") in kinds
    row = next(r for r in report["characters"] if r["sequence"] == "U+8FBB U+E0102")
    assert row["count"] >= 4 and "data.household.head_name" in row["fields"]
    assert report["uncovered"] == 0


def test_unprintable_character_is_reported_with_its_field_and_exit_two(tmp_path: Path) -> None:
    lines = [IVS_CASE.read_text(encoding="utf-8"), GAIJI_CASE.read_text(encoding="utf-8"), "{not json"]
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text("\n".join(json.dumps(json.loads(x), ensure_ascii=False) if x.startswith("{\n") else x
                               for x in lines) + "\n", encoding="utf-8")
    code, out = run(str(jsonl), "--layout", "juminhyo-setai", "--json-report")
    assert code == 2
    report = json.loads(out)
    assert report["records"] == 3 and report["uncovered"] == 1
    row = next(r for r in report["characters"] if r["kind"] == "uncovered")
    assert row["sequence"] == "U+100123" and row["fields"] == ["data.household.members[2].name"]
    assert [f["record"] for f in report["failed"]] == ["line 3"]


def test_plain_table_output() -> None:
    code, out = run(str(IVS_CASE), "--layout", "juminhyo-setai")
    assert code == 0
    assert "U+8FBB U+E0102" in out and "unprintable" in out


def test_bundled_samples_pass_without_issued_on() -> None:
    """The samples carry no `request.issued_on` (they are issued today): chars check takes them as they are."""
    for sample in sorted((ROOT / "layouts" / "samples").glob("*.json")):
        code, out = run(str(sample), "--layout", sample.stem, "--json-report")
        report = json.loads(out)
        assert code == 0 and report["failed"] == [] and report["uncovered"] == 0, (sample.name, report["failed"])


def test_a_failed_record_says_why(tmp_path: Path) -> None:
    envelope = json.loads(IVS_CASE.read_text(encoding="utf-8"))
    envelope["request"]["issued_on"] = "27-11-2026"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    code, out = run(str(bad), "--layout", "juminhyo-setai")
    assert code == 2
    assert "request.issued_on" in out and "date" in out.lower()
