"""What a layout's model tree holds as text, read without its serializer (renderer/spec/model.py
`strings_in`), and the question asked of it on every render (`LayoutSpec.prints_issue_number`).

In: every shipped layout, validated. Out:
assertions that the walk finds what a JSON dump of the model holds and nothing a cached property added.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from renderer.fonts import FontSet
from renderer.spec.model import strings_in
from renderer.spec.validate import load_layout

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = sorted((ROOT / "layouts").glob("*.yaml"))
WORD = re.compile(r"\bissue_number\b")


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return FontSet(ROOT / "fonts")


def json_values(value: Any) -> list[str]:
    """The strings of a JSON dump that are values (not keys): what `strings_in` must find, at least."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in json_values(item)]
    if isinstance(value, list):
        return [s for item in value for s in json_values(item)]
    return []


@pytest.mark.parametrize("path", LAYOUTS, ids=[p.stem for p in LAYOUTS])
def test_the_walk_finds_every_string_a_dump_holds(path: Path, fonts: FontSet) -> None:
    spec = load_layout(path, fonts)
    dumped = json.loads(spec.model_dump_json(by_alias=True))
    walked = list(strings_in(spec))
    missing = sorted(set(json_values(dumped)) - set(walked))
    assert not missing
    assert spec.prints_issue_number == (WORD.search(spec.model_dump_json(by_alias=True)) is not None)


def test_a_list_prints_no_number_and_a_cached_property_is_not_text(fonts: FontSet) -> None:
    """一覧表 print no 発行番号 (and the shipped layouts hold both answers, so the comparison above is not
    one-sided); a cached property that holds the word (in the instance's __dict__ beside the fields) is not
    part of the model's text."""
    answers = {path.stem: load_layout(path, fonts).prints_issue_number for path in LAYOUTS}
    assert set(answers.values()) == {True, False}
    spec = load_layout(ROOT / "layouts" / "ichiran-idosha.yaml", fonts)
    assert not spec.prints_issue_number
    spec.__dict__["cached_extra"] = {"issue_number": "issue_number"}
    assert not any(WORD.search(text) for text in strings_in(spec))
