"""Tests for `chohyo render`: exit codes, field paths, problem+json, no partial output, no personal data.

Every envelope here starts from the fictitious sample layouts/samples/juminhyo-setai.json (見本 family,
sample tenant 122122). Runtime state (serial counters) always goes to a tmp_path, never the repository.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from typer.testing import CliRunner, Result

from renderer.cli import app
from renderer.fonts import FontSet
from renderer.spec.model import Cell, Element, GridElement, GroupElement, RepeatElement, TextContent
from renderer.spec.validate import load_layout

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "layouts" / "samples" / "juminhyo-setai.json"
LAYOUT_ID = "juminhyo-setai"
SAMPLE_CLOCK = dt.datetime(2026, 11, 27, 0, 30, tzinfo=dt.UTC)

# 個人番号 with a wrong check digit (the published sample 123456789018 has check digit 8).
BAD_MY_NUMBER = "123456789012"
PRIVATE_USE = "\U0010fffd"   # plane-16 private use: no font has it

Envelope = dict[str, Any]
Edit = Callable[[Envelope], None]


# --------------------------------------------------------------------------- helpers


def _sample() -> Envelope:
    data: Envelope = json.loads(SAMPLE.read_text(encoding="utf-8"))
    data["request"]["issued_on"] = "2026-11-27"   # the bundled sample is issued "today"; tests pin the date
    return data


def _edited(edit: Edit) -> Envelope:
    env = copy.deepcopy(_sample())
    edit(env)
    return env


def _member(env: Envelope, person_id: str) -> dict[str, Any]:
    for m in env["data"]["household"]["members"]:
        if m["person_id"] == person_id:
            member: dict[str, Any] = m
            return member
    raise AssertionError(f"no member {person_id} in the sample")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(state))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("CHOHYO_LAYOUTS_DIR", raising=False)
    monkeypatch.delenv("CHOHYO_FONTS_DIR", raising=False)
    # the server's clock: the sample's 交付年月日 (a certificate is issued today, Asia/Tokyo)
    monkeypatch.setattr("renderer.settings.system_clock", lambda: SAMPLE_CLOCK)
    return state


class Cli:
    """Runs `chohyo render` in-process with CHOHYO_STATE_DIR in tmp_path."""

    def __init__(self, tmp_path: Path, state_dir: Path) -> None:
        self.tmp_path = tmp_path
        self.state_dir = state_dir
        self.out_dir = tmp_path / "out"
        self.runner = CliRunner()
        self._count = 0

    def write_input(self, envelope: Envelope | None = None, *, raw: str | None = None) -> Path:
        self._count += 1
        path = self.tmp_path / f"input-{self._count}.json"
        text = raw if raw is not None else json.dumps(envelope, ensure_ascii=False)
        path.write_text(text, encoding="utf-8")
        return path

    def render(self, envelope: Envelope | None = None, *, raw: str | None = None, layout_id: str = LAYOUT_ID,
               extra: tuple[str, ...] = (), output: Path | None = None) -> Result:
        input_path = self.write_input(envelope if envelope is not None or raw is not None else _sample(),
                                      raw=raw)
        out = output if output is not None else self.out_dir / "out.pdf"
        return self.runner.invoke(
            app, ["render", layout_id, str(input_path), "-o", str(out), *extra],
            env={"CHOHYO_STATE_DIR": str(self.state_dir)},
        )


@pytest.fixture
def cli(tmp_path: Path, state_dir: Path) -> Cli:
    return Cli(tmp_path, state_dir)


def _problem(result: Result) -> dict[str, Any]:
    """The one problem+json object a `--json` failure prints on stderr (and nothing else)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr, got: {result.stderr!r}"
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    for key in ("type", "title", "detail", "exit_code"):
        assert key in obj, f"problem object lacks {key!r}: {obj}"
    assert obj["exit_code"] == result.exit_code
    assert isinstance(obj["type"], str) and obj["type"]
    assert isinstance(obj["title"], str) and obj["title"]
    assert isinstance(obj["detail"], str) and obj["detail"]
    return obj


def _pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    return "\n".join(page.extract_text() for page in reader.pages)


def _walk(elements: list[Element], prefix: str) -> Iterator[tuple[str, Element | Cell]]:
    for i, el in enumerate(elements):
        path = f"{prefix}[{i}]"
        yield path, el
        if isinstance(el, GroupElement):
            yield from _walk(el.elements, f"{path}.elements")
        elif isinstance(el, RepeatElement):
            yield from _walk(el.block, f"{path}.block")
        elif isinstance(el, GridElement):
            for ci, cell in enumerate(el.cells):
                yield f"{path}.cells[{ci}]", cell


def _layout_paths_bound_to(value: str) -> set[str]:
    """Layout paths of the fields/cells whose `value` is `value` (e.g. item.name)."""
    spec = load_layout(REPO / "layouts" / f"{LAYOUT_ID}.yaml", FontSet(REPO / "fonts"))
    paths = {p for p, el in _walk(spec.elements, "elements") if isinstance(el, TextContent) and el.value == value}
    assert paths, f"the layout binds nothing to {value}"
    return paths


def _personal_strings(env: Envelope) -> set[str]:
    """Names and address texts from the data: none of them may ever appear in an error message."""
    keys = {"name", "name_kana", "former_name", "former_name_kana", "head_name", "honseki", "hittosha",
            "town", "block", "building", "text", "name_alphabet", "alias", "postal_code", "my_number",
            "resident_code", "card_number"}
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in keys and isinstance(v, str):
                    found.add(v)
                    found.update(part for part in v.split("\u3000") if len(part) >= 2)
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(env["data"])
    address = env["data"]["household"]["address"]
    if "prefecture" in address:
        found.add(address["prefecture"] + address["municipality"])
    return found


# --------------------------------------------------------------------------- success


def test_renders_the_sample_to_a_pdf(cli: Cli) -> None:
    out = cli.out_dir / "setai.pdf"
    result = cli.render(output=out)

    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    text = _pdf_text(out)
    assert "千葉県佐倉市見本町一丁目2番地3" in text          # 住所, always with 都道府県 and 市区町村
    assert "見本ハイツ101号" in text                          # 方書
    assert "見本　太郎" in text                                # 世帯主
    assert "この写しは、世帯全員の住民票の原本と相違ないことを証明する。" in text
    assert "令和8年11月27日" in text
    assert "千葉県佐倉市長" in text
    # the serial counter lives in CHOHYO_STATE_DIR (tmp_path), never in the repository
    assert cli.state_dir.is_dir() and any(cli.state_dir.iterdir())
    assert "wrote" in result.stderr


def test_render_writes_report_and_display(cli: Cli) -> None:
    report = cli.out_dir / "report.json"
    display = cli.out_dir / "display.txt"
    result = cli.render(extra=("--report", str(report), "--display", str(display)))

    assert result.exit_code == 0, result.output
    summary = json.loads(report.read_text(encoding="utf-8"))
    assert summary["layout"] == LAYOUT_ID
    assert summary["pages"] == 1
    assert summary["seal_printed"] is True
    assert summary["my_number_printed"] is False    # not in request.include
    assert len(summary["issue_numbers"]) == 1
    assert display.read_text(encoding="utf-8").strip()


# --------------------------------------------------------------------------- exit 2 with the field path


def test_layout_argument_must_match_the_envelope(cli: Cli) -> None:
    result = cli.render(layout_id="juminhyo-kojin", extra=("--json",))

    assert result.exit_code == 2
    problem = _problem(result)
    assert problem["field"] == "layout"
    assert "juminhyo-setai" in problem["detail"] and "juminhyo-kojin" in problem["detail"]


def test_unknown_layout_id(cli: Cli) -> None:
    env = _edited(lambda e: e.update(layout="no-such-layout"))
    result = cli.render(env, layout_id="no-such-layout", extra=("--json",))

    assert result.exit_code == 2
    problem = _problem(result)
    assert problem["field"] == "layout"
    assert "unknown layout 'no-such-layout'" in problem["detail"]


def test_invalid_issued_on(cli: Cli) -> None:
    result = cli.render(_edited(lambda e: e["request"].update(issued_on="2026-02-30")))

    assert result.exit_code == 2
    assert "request.issued_on" in result.stderr
    assert "date" in result.stderr


def test_domestic_address_without_prefecture(cli: Cli) -> None:
    result = cli.render(_edited(lambda e: e["data"]["household"]["address"].pop("prefecture")))

    assert result.exit_code == 2
    assert "data.household.address.prefecture" in result.stderr


def test_bad_my_number_check_digit_is_rejected_without_echoing_it(cli: Cli) -> None:
    env = _edited(lambda e: _member(e, "100000001").update(my_number=BAD_MY_NUMBER))
    index = [m["person_id"] for m in env["data"]["household"]["members"]].index("100000001")

    for extra in ((), ("--json",)):
        result = cli.render(env, extra=extra)
        assert result.exit_code == 2
        assert f"data.household.members[{index}].my_number" in result.stderr
        assert "check digit" in result.stderr
        assert BAD_MY_NUMBER not in result.stdout
        assert BAD_MY_NUMBER not in result.stderr
        assert BAD_MY_NUMBER not in result.output


def test_invalid_json_file(cli: Cli) -> None:
    result = cli.render(raw='{"layout": "juminhyo-setai", ', extra=("--json",))

    assert result.exit_code == 2
    problem = _problem(result)
    assert problem["type"].endswith("invalid-usage")
    assert "is not JSON" in problem["detail"]
    assert "line 1 column" in problem["detail"]
    assert problem.get("field")


def test_character_no_font_has(cli: Cli) -> None:
    env = _edited(lambda e: _member(e, "100000003").update(name=f"見本{PRIVATE_USE}一郎"))
    index = [m["person_id"] for m in env["data"]["household"]["members"]].index("100000003")
    acceptable = _layout_paths_bound_to("item.name") | {f"data.household.members[{index}].name"}

    result = cli.render(env, extra=("--json",))

    assert result.exit_code == 2
    problem = _problem(result)
    assert "U+10FFFD" in problem["detail"]
    assert problem["field"] in acceptable, problem
    assert problem["field"] in problem["detail"]
    assert PRIVATE_USE not in result.stderr
    assert "一郎" not in result.stderr


# --------------------------------------------------------------------------- exit 3: refused by a rule


def _third_party_my_number(e: Envelope) -> None:
    e["request"]["requester"] = {"relation": "third_party", "purpose": "見本の請求事由"}
    e["request"]["include"] = ["head_and_relationship", "my_number"]


def _wide_area_honseki(e: Envelope) -> None:
    e["request"]["channel"] = "wide_area"
    e["request"]["include"] = ["honseki"]


def _before_every_signer(e: Envelope) -> None:
    e["request"]["issued_on"] = "2000-01-01"


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (_third_party_my_number, "third-party-no-my-number"),
        (_wide_area_honseki, "wide-area-no-honseki"),
        (_before_every_signer, "signer-in-office"),
    ],
    ids=["third-party-my-number", "wide-area-honseki", "signer-in-office"],
)
def test_refused_by_a_rule(cli: Cli, edit: Edit, rule: str) -> None:
    env = _edited(edit)

    plain = cli.render(env)
    assert plain.exit_code == 3
    assert "refused" in plain.stderr

    as_json = cli.render(env, extra=("--json",))
    assert as_json.exit_code == 3
    problem = _problem(as_json)
    assert problem["rule"] == rule
    assert problem["type"].endswith("refused")


def test_a_third_party_request_without_include_is_not_refused(cli: Cli) -> None:
    """Control for the rule test: the rule fires on the explicit ask, not on every third-party request."""
    def edit(e: Envelope) -> None:
        e["request"]["requester"] = {"relation": "third_party", "purpose": "見本の請求事由"}

    result = cli.render(_edited(edit))
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- --json, no output, no data


def test_json_error_carries_the_diagnostics(cli: Cli) -> None:
    env = _edited(lambda e: e["data"]["household"]["address"].pop("prefecture"))
    result = cli.render(env, extra=("--json",))

    assert result.exit_code == 2
    assert result.stdout == ""
    problem = _problem(result)
    assert problem["type"].endswith("invalid-input")
    paths = [e["path"] for e in problem["errors"]]
    assert "data.household.address.prefecture" in paths
    assert all(isinstance(e["message"], str) and e["message"] for e in problem["errors"])


FAILURES: dict[str, tuple[Edit, int]] = {
    "invalid-issued-on": (lambda e: e["request"].update(issued_on="2026-02-30"), 2),
    "no-prefecture": (lambda e: e["data"]["household"]["address"].pop("prefecture"), 2),
    "bad-my-number": (lambda e: _member(e, "100000001").update(my_number=BAD_MY_NUMBER), 2),
    "no-glyph": (lambda e: e["data"]["household"].update(head_name=f"見本{PRIVATE_USE}太郎"), 2),
    "overflowing-address": (lambda e: e["data"]["household"]["address"].update(building="見本ハイツ" * 40), 2),
    "bad-sex": (lambda e: _member(e, "100000002").update(sex="見本"), 2),
    "bad-date": (lambda e: _member(e, "100000002").update(birth_date="見本町"), 2),
    "third-party": (_third_party_my_number, 3),
    "no-signer": (_before_every_signer, 3),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failed_render_creates_no_output(cli: Cli, name: str) -> None:
    edit, code = FAILURES[name]
    out = cli.out_dir / "nested" / "failed.pdf"
    report = cli.out_dir / "nested" / "failed.json"
    display = cli.out_dir / "nested" / "failed.txt"

    result = cli.render(_edited(edit), output=out, extra=("--report", str(report), "--display", str(display)))

    assert result.exit_code == code, result.output
    assert not out.exists()
    assert not report.exists()
    assert not display.exists()
    leftovers = list(out.parent.iterdir()) if out.parent.exists() else []
    assert leftovers == []   # not even a temp file


def test_failed_render_keeps_an_existing_output_file(cli: Cli) -> None:
    out = cli.out_dir / "existing.pdf"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"previous content")

    result = cli.render(_edited(_before_every_signer), output=out)

    assert result.exit_code == 3
    assert out.read_bytes() == b"previous content"


@pytest.mark.parametrize("name", sorted(FAILURES))
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_errors_never_carry_personal_data(cli: Cli, name: str, as_json: bool) -> None:
    edit, code = FAILURES[name]
    env = _edited(edit)
    result = cli.render(env, extra=("--json",) if as_json else ())

    assert result.exit_code == code, result.output
    personal = _personal_strings(env) | _personal_strings(_sample())
    assert "見本　太郎" in personal and "見本町一丁目" in personal   # the check itself looks at real values
    leaked = sorted(s for s in personal if s in result.stderr or s in result.stdout)
    assert leaked == [], f"personal data in the error output: {leaked}"
