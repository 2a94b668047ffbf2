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


@pytest.mark.parametrize("source", [
    "{{ data.xs.append(1) }}",                 # a mutating method of a list
    "{{ data.d.update({'a': 1}) }}",              # of a dict
    "{{ data.s.add(1) }}",                        # of a set
    "{{ data.name._x }}",
])
def test_verdicts_kept_per_class_stay_the_sandboxs(source: str) -> None:
    """The environment keeps attribute verdicts per (class, name): asked again, and after a safe attribute of
    the same objects was read, an unsafe attribute is still refused and the data is unchanged."""
    ctx: dict[str, Any] = {"data": {"xs": [0], "d": {}, "s": set(), "name": "見本"}}
    for _ in range(2):
        assert T.render("{{ data.xs.count(0) }}{{ data.d.get('a') }}", ctx, path="p") == "1None"
        with pytest.raises(LayoutError):
            T.render(source, ctx, path="p")
    assert ctx["data"] == {"xs": [0], "d": {}, "s": set(), "name": "見本"}


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
