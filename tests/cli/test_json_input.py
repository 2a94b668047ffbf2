"""Documents that are not JSON we read are invalid input at every entry point, never an internal failure.

In: `renderer.jsontext.loads` and the CLI's render (INPUT and ``--rows``), ``suppressions import`` and batch,
fed a file nested 100,000 deep, a 5,000-digit number, NaN, bytes that are not UTF-8 and a syntax error. Out:
assertions that each is refused with the reason (CLI exit 2 and a message, a batch record ``invalid`` with the
same reason, the rest of the run printed), never exit 1 / ``internal``, never a traceback. Before
`renderer.jsontext`, the first two were "internal failure (RecursionError / ValueError)" (exit 1) and a batch
called a huge number "not UTF-8" (found by a hostile-caller audit).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from renderer import jsontext
from renderer.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEEP = "[" * 100_000 + "]" * 100_000
HUGE = '{"n": ' + "9" * 5000 + "}"

CASES = [
    (DEEP.encode(), "nested too deeply"),
    (HUGE.encode(), "a number has too many digits"),
    (b'{"n": NaN}', "NaN is not a JSON number"),
    (b'{"n": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"n": "\xff"}', "not UTF-8"),
    (b'{"n": ', "line 1 column 7: Expecting value"),
]
IDS = ["deep", "huge-number", "nan", "infinity", "not-utf8", "syntax"]


@pytest.mark.parametrize(("raw", "reason"), CASES, ids=IDS)
def test_the_parser_names_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(jsontext.NotJson) as caught:
        jsontext.loads(raw)
    assert caught.value.reason == reason


def test_the_parser_reads_json() -> None:
    assert jsontext.loads(b'{"a": [1, 2.5, "\xe8\xa6\x8b"]}') == {"a": [1, 2.5, "見"]}
    assert jsontext.loads('{"n": ' + "9" * 4000 + "}")["n"] == int("9" * 4000)


@pytest.mark.parametrize(("raw", "reason"), CASES, ids=IDS)
def test_render_refuses_it_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       raw: bytes, reason: str) -> None:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    src = tmp_path / "in.json"
    src.write_bytes(raw)
    result = CliRunner().invoke(app, ["render", "juminhyo-setai", str(src), "-o", str(tmp_path / "o.pdf")])
    assert result.exit_code == 2, result.output
    assert "internal" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o.pdf").exists()


@pytest.mark.parametrize(("raw", "reason"), CASES[:3], ids=IDS[:3])
def test_a_rows_line_and_a_registry_line_are_refused_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: bytes, reason: str) -> None:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    sample = json.loads((ROOT / "layouts/samples/ichiran-kyufu.json").read_text(encoding="utf-8"))
    rows = sample["data"].pop("rows")
    header = tmp_path / "header.json"
    header.write_text(json.dumps(sample, ensure_ascii=False), encoding="utf-8")
    lines = tmp_path / "rows.jsonl"
    lines.write_bytes(json.dumps(rows[0], ensure_ascii=False).encode() + b"\n" + raw + b"\n")
    done = CliRunner().invoke(app, ["render", "ichiran-kyufu", str(header), "--rows", str(lines),
                                    "-o", str(tmp_path / "l.pdf")])
    assert done.exit_code == 2 and "line 2 is not JSON" in done.output and reason in done.output, done.output
    registry = tmp_path / "dv.jsonl"
    registry.write_bytes(raw + b"\n")
    done = CliRunner().invoke(app, ["suppressions", "import", "--tenant", "122122", str(registry)])
    assert done.exit_code == 2 and "line 1: not JSON" in done.output and reason in done.output, done.output


def test_a_batch_counts_such_lines_invalid_with_the_reason_and_prints_the_rest(tmp_path: Path) -> None:
    sample = (ROOT / "layouts/samples/tsuchisho-kyufu-kettei.json").read_bytes().replace(b"\n", b"")
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(b"\n".join([sample, DEEP.encode(), HUGE.encode(), b'{"n": NaN}', sample]) + b"\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["batch", "tsuchisho-kyufu-kettei", str(inp), "-o", str(out), "--state-dir",
                                   str(tmp_path / "s"), "--workers", "1", "--quiet"])
    assert res.exit_code == 4, res.output
    errors = {e["record"]: e for e in json.loads((out / "errors.json").read_text(encoding="utf-8"))["errors"]}
    assert set(errors) == {2, 3, 4}
    assert all(e["status"] == "invalid" for e in errors.values())
    assert "nested too deeply" in errors[2]["message"]
    assert "too many digits" in errors[3]["message"] and "UTF-8" not in errors[3]["message"]
    assert "NaN" in errors[4]["message"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["invalid"] == 3


# --------------------------------------------------------------------------- duplicate keys (hostile review)
# An object naming a key twice means whatever its reader decides (RFC 8259 §4): Python kept the last
# `requester`, a checker upstream reading the first would disagree about who asked. Every entry point
# refuses it, naming the key's path (never a value).

TWO_REQUESTERS = (b'{"layout": "juminhyo-setai", "tenant": "122122", "request": {"requester": '
                  b'{"relation": "self", "person_id": "100000001"}, "channel": "counter", "operator": "clerk01", '
                  b'"requester": {"relation": "third_party", "purpose": "x"}}, "data": {}}')


@pytest.mark.parametrize(("raw", "path"), [
    (TWO_REQUESTERS, "request.requester"),
    (b'{"a": 1, "a": 1}', "a"),                                        # the same value twice: refused too
    (b'{"data": {"rows": [{}, {"person_id": "1", "name": "x", "person_id": "2"}]}}', "data.rows[1].person_id"),
    (b'[{"ok": 1}, {"\xe2\x80\xae": 1, "\xe2\x80\xae": 2}]', '[1]["\\u202e"]'),   # escaped, never raw
])
def test_the_parser_refuses_a_duplicate_key_naming_its_path(raw: bytes, path: str) -> None:
    with pytest.raises(jsontext.NotJson) as caught:
        jsontext.loads(raw)
    assert caught.value.path == path
    assert caught.value.reason.startswith(f"duplicate key {path}:")


def sample_with(layout: str, key: str) -> bytes:
    """The layout's sample envelope with its `request.<key>` given a second time (the same text again)."""
    text = (ROOT / f"layouts/samples/{layout}.json").read_text(encoding="utf-8")
    envelope = json.loads(text)
    again = json.dumps(envelope["request"][key], ensure_ascii=False)
    raw = json.dumps(envelope, ensure_ascii=False).replace('"request": {', f'"request": {{"{key}": {again}, ', 1)
    return raw.encode()


@pytest.mark.parametrize("command", ["render", "preview"])
def test_render_and_preview_refuse_a_duplicate_key_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               command: str) -> None:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    src = tmp_path / "in.json"
    src.write_bytes(sample_with("juminhyo-setai", "requester"))
    out = tmp_path / "o.pdf"
    result = CliRunner().invoke(app, [command, "juminhyo-setai", str(src), "-o", str(out), "--json"])
    assert result.exit_code == 2, result.output
    problem = json.loads(result.stderr.strip().splitlines()[-1])
    assert problem["field"] == "request.requester"
    assert "duplicate key request.requester" in problem["detail"]
    assert not out.exists()


def test_a_rows_line_with_a_duplicate_key_is_exit_2_naming_the_row_field(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    sample = json.loads((ROOT / "layouts/samples/ichiran-kyufu.json").read_text(encoding="utf-8"))
    rows = sample["data"].pop("rows")
    header = tmp_path / "header.json"
    header.write_text(json.dumps(sample, ensure_ascii=False), encoding="utf-8")
    second = json.dumps(rows[1], ensure_ascii=False).replace('"amount": ', '"amount": 1, "amount": ', 1)
    lines = tmp_path / "rows.jsonl"
    lines.write_text("\n".join([json.dumps(rows[0], ensure_ascii=False), second]) + "\n", encoding="utf-8")
    done = CliRunner().invoke(app, ["render", "ichiran-kyufu", str(header), "--rows", str(lines),
                                    "-o", str(tmp_path / "l.pdf"), "--json"])
    assert done.exit_code == 2, done.output
    problem = json.loads(done.stderr.strip().splitlines()[-1])
    assert problem["field"] == "data.rows[1].amount"
    assert "line 2 is not JSON (duplicate key amount" in problem["detail"]
    header.write_bytes(sample_with("ichiran-kyufu", "operator")[:-1] + b', "x": 1}')   # the header too
    done = CliRunner().invoke(app, ["render", "ichiran-kyufu", str(header), "--rows", str(lines),
                                    "-o", str(tmp_path / "l.pdf"), "--json"])
    assert done.exit_code == 2 and json.loads(done.stderr.strip().splitlines()[-1])["field"] == "request.operator"
    assert not (tmp_path / "l.pdf").exists()


def test_a_batch_record_and_a_registry_line_with_a_duplicate_key_are_refused(tmp_path: Path) -> None:
    sample = (ROOT / "layouts/samples/tsuchisho-kyufu-kettei.json").read_bytes().replace(b"\n", b"")
    twice = sample_with("tsuchisho-kyufu-kettei", "requester")
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(b"\n".join([sample, twice, sample]) + b"\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["batch", "tsuchisho-kyufu-kettei", str(inp), "-o", str(out), "--state-dir",
                                   str(tmp_path / "s"), "--workers", "1", "--quiet"])
    assert res.exit_code == 4, res.output
    errors = json.loads((out / "errors.json").read_text(encoding="utf-8"))["errors"]
    assert [(e["record"], e["status"]) for e in errors] == [(2, "invalid")]
    assert "duplicate key request.requester" in errors[0]["message"] and errors[0]["field"] == "request.requester"
    registry = tmp_path / "dv.jsonl"
    registry.write_bytes(b'{"op": "upsert", "op": "release"}\n')
    done = CliRunner().invoke(app, ["suppressions", "import", "--tenant", "122122", str(registry)],
                              env={"CHOHYO_STATE_DIR": str(tmp_path / "s")})
    assert done.exit_code == 2 and "line 1: not JSON (duplicate key op" in done.output, done.output
