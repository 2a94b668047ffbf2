"""Layout templates run in Jinja's immutable sandbox: no attributes of internals, no globals, undefined
names are errors, output is bounded, and data values are only ever data."""

from __future__ import annotations

from typing import Any

import pytest

from renderer.errors import LayoutError
from renderer.formats.registry import jinja_filters
from renderer.templating import MAX_OUTPUT_CHARS, Templates

T = Templates(jinja_filters())
CTX: dict[str, Any] = {"data": {"name": "見本{{ 7*7 }}太郎"}, "params": {"x": None}}


def render(source: str) -> str:
    return T.render(source, CTX, path="elements[0].text")


def test_values_are_data_not_templates() -> None:
    assert render("{{ data.name }}") == "見本{{ 7*7 }}太郎"


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",                 # no private attributes
    "{{ data.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",          # no globals beyond what the sandbox allows
    "{{ lipsum.__globals__ }}",
])
def test_internals_are_unreachable(source: str) -> None:
    with pytest.raises(LayoutError) as info:
        render(source)
    assert info.value.field == "elements[0].text"


def test_undefined_names_are_errors_not_blanks() -> None:
    with pytest.raises(LayoutError) as info:
        render("{{ missing }}")
    assert "undefined" in info.value.message
    with pytest.raises(LayoutError):
        render("{{ data.missing }}")


def test_output_is_bounded() -> None:
    with pytest.raises(LayoutError) as info:
        render("{{ 'あ' * 5000 }}")
    assert str(MAX_OUTPUT_CHARS) in info.value.message
    with pytest.raises(LayoutError):
        render("{% for i in range(10**9) %}x{% endfor %}")


def test_arithmetic_and_filters_work() -> None:
    assert render("{{ (50000 + (params.x or 0)) | amount(unit='円') }}") == "50,000円"


def test_no_file_access() -> None:
    with pytest.raises(LayoutError):
        render("{% include '/etc/passwd' %}")
