"""Required text prints something, and a person has one spelling of their 宛名番号.

In: the data models' `NonBlank` fields (every address part, every name, every required text of a form) and
`PersonId` (data, the envelope's requester and members, the DV registry, the HTTP path), through the committed
input schemas, the models and `chohyo render`. Out: assertions that
- text of spaces (ASCII or 全角) or zero-width characters only is refused naming the field (CLI exit 2, no PDF,
  no 発行番号 spent) — before, a 都道府県 of 「　」 and a 市区町村 of U+200B printed an address without them,
  and a notice went to 「　様」;
- the committed JSON schema admits such a string exactly when the model accepts it (Hypothesis);
- a person_id with a lower-case letter is refused everywhere (the DV rules compare person_ids exactly:
  ``ab1`` in the data and ``AB1`` in the registry were two people, and the protection missed).
All data is fictitious.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from pydantic import TypeAdapter, ValidationError
from typer.testing import CliRunner

from renderer.cli import app
from renderer.datamodels.address import DomesticAddress
from renderer.datamodels.types import NON_BLANK_MESSAGE, VISIBLE_PATTERN, ZERO_WIDTH, NonBlank
from renderer.diagnostics import from_pydantic
from renderer.envelope import Requester
from renderer.state.registry import UpsertRecord

ROOT = Path(__file__).resolve().parents[1]
BLANKS = [" ", "\u3000", "\u200b", "\ufeff", " \u3000\u200b\u2060", "\t", "\u00a0", "\u200c\u200d"]
SCHEMA = Draft202012Validator({"type": "string", "minLength": 1, "pattern": VISIBLE_PATTERN})


def _address(**parts: str) -> dict[str, str]:
    return {"prefecture": "千葉県", "municipality": "佐倉市", "town": "見本町", **parts}


def _accepts(prefecture: str) -> bool:
    try:
        DomesticAddress.model_validate(_address(prefecture=prefecture))
    except ValidationError as error:
        assert [e["loc"] for e in error.errors()] == [("prefecture",)], error
        assert [(d.path, d.message) for d in from_pydantic(error)] == [("prefecture", NON_BLANK_MESSAGE)]
        return False
    return True


def test_every_code_point_is_judged_alike_by_the_model_the_schema_and_the_rule() -> None:
    """The rule: a character prints something unless str.isspace() or zero-width. pydantic-core's regex engine
    and the jsonschema package (Python's re) must agree with it on every code point (\\s would not: they differ
    on U+001C-001F), alone and after a blank."""
    single = TypeAdapter(NonBlank)
    wrong = []
    for cp in [*range(0xD800), *range(0xE000, 0x110000)]:
        ch = chr(cp)
        rule = not ch.isspace() and cp not in ZERO_WIDTH
        try:
            single.validate_python("\u3000" + ch)
            model = True
        except ValidationError:
            model = False
        if not model == rule == bool(SCHEMA.is_valid(ch)):
            wrong.append(hex(cp))
    assert wrong == []


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize("part", ["prefecture", "municipality", "town", "building"])
def test_an_address_part_of_blanks_only_is_refused(part: str, blank: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DomesticAddress.model_validate(_address(**{part: blank}))
    assert [e["loc"] for e in caught.value.errors()] == [(part,)]


@pytest.mark.parametrize("text", ["千葉県", "\u3000千葉県", "千葉県 ", "a", "\u200b佐"])
def test_text_with_something_printable_is_kept_as_given(text: str) -> None:
    assert DomesticAddress.model_validate(_address(prefecture=text)).prefecture == text


blankish = st.text(st.sampled_from([" ", "\u3000", "\t", "\n", "\u00a0", "\u2003", *map(chr, sorted(ZERO_WIDTH)),
                                    "県", "a"]), min_size=1, max_size=6)


@given(blankish)
def test_the_schema_admits_a_string_exactly_when_the_model_accepts_it(text: str) -> None:
    assert bool(SCHEMA.is_valid(text)) == _accepts(text), repr(text)


def test_the_committed_schemas_state_the_rule_for_every_address_part_and_name() -> None:
    schema = json.loads((ROOT / "layouts/input-schemas/tsuchisho-kyufu-kettei.json").read_text(encoding="utf-8"))
    text = json.dumps(schema)
    assert text.count(json.dumps(VISIBLE_PATTERN)[1:-1]) >= 4   # 都道府県, 市区町村, 氏名 at least
    assert "^[0-9A-Z-]{1,32}$" in text and "0-9A-Za-z-]{1,32}" not in text


def _sample(layout: str) -> dict[str, Any]:
    env: dict[str, Any] = json.loads((ROOT / f"layouts/samples/{layout}.json").read_text(encoding="utf-8"))
    return env


@pytest.mark.parametrize(("layout", "path", "value"), [
    ("juminhyo-kojin", ("household", "address", "prefecture"), "\u3000"),
    ("juminhyo-kojin", ("household", "address", "municipality"), "\u200b"),
    ("tsuchisho-kyufu-kettei", ("addressee", "name"), "\u3000"),
    ("tsuchisho-kyufu-kettei", ("addressee", "address", "prefecture"), " "),
])
def test_the_cli_refuses_blank_text_naming_the_field_and_spends_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, path: tuple[str, ...], value: str) -> None:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    env = copy.deepcopy(_sample(layout))
    node = env["data"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    src = tmp_path / "in.json"
    src.write_text(json.dumps(env, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.pdf"
    result = CliRunner().invoke(app, ["render", layout, str(src), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"data.{'.'.join(path)}: must contain a printable character" in result.output
    assert not out.exists()
    assert "Traceback" not in result.output


@pytest.mark.parametrize("pid", ["ab100000007", "Ab1", "100000001a"])
def test_a_lower_case_person_id_is_refused_in_data_requests_and_the_registry(pid: str) -> None:
    with pytest.raises(ValidationError):
        Requester.model_validate({"relation": "agent", "acting_for": pid})
    with pytest.raises(ValidationError):
        UpsertRecord.model_validate({"op": "upsert", "person_id": pid, "version": 1, "case_id": "C",
                                     "role": "applicant", "period": {"start": "2026-01-01"}})
    upper = pid.upper()
    Requester.model_validate({"relation": "agent", "acting_for": upper})
    UpsertRecord.model_validate({"op": "upsert", "person_id": upper, "version": 1, "case_id": "C",
                                 "role": "applicant", "period": {"start": "2026-01-01"}})


def test_a_notice_to_a_lower_case_addressee_is_refused_not_printed(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit's reproduction: registered AB…, addressee ab… at the counter printed the full address."""
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    env = copy.deepcopy(_sample("tsuchisho-kyufu-kettei"))
    env["data"]["addressee"]["person_id"] = "ab100000007"
    env["request"].update(requester={"relation": "third_party", "purpose": "x"}, channel="counter")
    src = tmp_path / "in.json"
    src.write_text(json.dumps(env, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["render", "tsuchisho-kyufu-kettei", str(src), "-o", str(tmp_path / "o.pdf")])
    assert result.exit_code == 2 and "data.addressee.person_id" in result.output, result.output
    assert not (tmp_path / "o.pdf").exists()
