"""`my_number_printed` (the issue log's record of a printed 個人番号) follows what the pages show.

In: the fictitious juminhyo-setai sample (one member has the test number 123456789018) rendered through
scratch copies of the layout that print the number three ways: the layout's own field (`value:
item.my_number`), a template (`text: "{{ item.my_number … }}"`) and a template that reads it by key.
Out: assertions that the flag is true exactly when the number reaches the PDF, and unit checks of the
digit matching in `renderer.compose.printed`.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from dvkit import ROOT, SAMPLE, VERIFIED, Clock, make_renderer, sample
from pypdf import PdfReader

from renderer.compose.printed import my_numbers, only_digits, shows_any
from renderer.datamodels import DATA_MODELS

NUMBER = "123456789018"
DIRECT = "{col: 31, row: 1, cols: 10, style: body, value: item.my_number, format: digits}"
WAYS = {
    "direct value path": DIRECT,
    "template": "{col: 31, row: 1, cols: 10, style: body, text: \"{{ item.my_number or '' }}\"}",
    "template by key": "{col: 31, row: 1, cols: 10, style: body, text: \"{{ item['my_' ~ 'number'] or '' }}\"}",
}


def scratch_layouts(tmp: Path, cell: str) -> Path:
    """layouts/ with juminhyo-setai printing the 個人番号 cell as `cell`."""
    dest = tmp / "layouts"
    shutil.copytree(ROOT / "layouts" / "tenants", dest / "tenants")
    text = (ROOT / "layouts" / "juminhyo-setai.yaml").read_text(encoding="utf-8")
    assert text.count(DIRECT) == 1
    (dest / "juminhyo-setai.yaml").write_text(text.replace(DIRECT, cell), encoding="utf-8")
    return dest


def pdf_digits(pdf: bytes) -> str:
    return only_digits("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def test_the_sample_holds_one_number() -> None:
    numbers = [m.get("my_number") for m in SAMPLE["data"]["household"]["members"]]
    assert [n for n in numbers if n] == [NUMBER]


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("asked", [True, False], ids=["my_number asked", "my_number not asked"])
def test_flag_is_what_the_pdf_shows(way: str, asked: bool, tmp_path: Path) -> None:
    renderer = make_renderer(tmp_path / "state", Clock(), scratch_layouts(tmp_path, WAYS[way]))
    include = ["head_and_relationship", "my_number"] if asked else ["head_and_relationship"]
    result = renderer.render(sample(include=include), caller=VERIFIED)
    printed = NUMBER in pdf_digits(result.pdf)
    assert printed is asked, "the scratch layout prints the number exactly when it is asked for"
    assert result.my_number_printed is asked
    body = json.loads(renderer.issue_log.records()[-1]["body"])
    assert body["event"] == "render" and body["my_number_printed"] is asked


def test_numbers_come_from_every_my_number_field_and_skip_withheld_ones() -> None:
    model = DATA_MODELS["juminhyo"]
    data = model.model_validate(SAMPLE["data"])
    assert my_numbers(data) == frozenset({NUMBER})
    members = [m.model_copy(update={"my_number": None}) for m in data.household.members]  # type: ignore[attr-defined]
    emptied = data.model_copy(update={"household": data.household.model_copy(  # type: ignore[attr-defined]
        update={"members": members})})
    assert my_numbers(emptied) == frozenset()


@pytest.mark.parametrize("text", [NUMBER, "1234 5678 9018", "１２３４－５６７８－９０１８", "番号：1234・5678・9018"])
def test_a_number_is_found_however_it_is_grouped(text: str) -> None:
    assert shows_any(frozenset({NUMBER}), ["個人番号", text])


def test_a_number_split_over_runs_is_found_and_other_digits_are_not() -> None:
    assert shows_any(frozenset({NUMBER}), ["12345678", "9018"])
    assert not shows_any(frozenset({NUMBER}), ["令和8年11月27日", "123456789", "018X"[:2]])
    assert not re.search(NUMBER, only_digits("123456789019"))
