"""`renderer.rules.dv.persons_in` reads only the fields whose declared type may hold objects
(`renderer.paths.object_fields`): it must find exactly what a walk over every field finds.

In: every data object the pipeline hands to `persons_in` (bound data, the data after the rules, list rows)
while rendering every golden case (with its DV fixtures: withheld and 記載省略 values in place) and 300
varied 住民票 envelopes. Out: equality with the reference walk below (the implementation before the change),
paths and order included, and a check of the declared-type test on the types it must keep or skip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field

from renderer import golden
from renderer.api import Renderer
from renderer.benchmarks.varied import varied_envelopes
from renderer.paths import OWNER_FIELD, field_names, object_fields
from renderer.rules import dv


def reference_persons_in(data: BaseModel, prefix: str = "data") -> list[tuple[str, str]]:
    """Every field of every model, every item of every list or tuple (the walk before `object_fields`)."""
    out: list[tuple[str, str]] = []

    def collect(node: Any, path: str) -> None:
        if isinstance(node, BaseModel):
            fields = field_names(type(node))
            pid = getattr(node, OWNER_FIELD, None) if OWNER_FIELD in fields else None
            if isinstance(pid, str):
                out.append((path, pid))
            for name in fields:
                value = getattr(node, name)
                if isinstance(value, BaseModel | list | tuple):
                    collect(value, f"{path}.{name}")
        elif isinstance(node, list | tuple):
            for i, v in enumerate(node):
                if isinstance(v, BaseModel | list | tuple):
                    collect(v, f"{path}[{i}]")

    collect(data, prefix)
    return out


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[BaseModel, list[tuple[str, str]]]]:
    """(data, what persons_in answered) for every call the pipeline makes, wherever it imported it from."""
    calls: list[tuple[BaseModel, list[tuple[str, str]]]] = []
    real = dv.persons_in

    def spy(data: BaseModel, prefix: str = "data") -> list[tuple[str, str]]:
        found = real(data, prefix)
        calls.append((data, found))
        return found

    import renderer.api
    import renderer.rows
    for module in (dv, renderer.api, renderer.rows):
        monkeypatch.setattr(module, "persons_in", spy)
    return calls


def test_every_golden_case_finds_the_same_persons(seen: list[tuple[BaseModel, list[tuple[str, str]]]]) -> None:
    cases = golden.discover()
    assert len(cases) > 50
    for case in cases:
        golden.render_case(case.path)
    assert len(seen) > 100
    withheld = 0
    for data, found in seen:
        assert found == reference_persons_in(data)
        withheld += "Withheld" in repr(data)
    assert withheld > 0   # data after the rules, with withheld items in place, was among them


def test_varied_envelopes_find_the_same_persons(seen: list[tuple[BaseModel, list[tuple[str, str]]]],
                                                tmp_path: Path) -> None:
    renderer = Renderer(dataclasses.replace(golden.default_settings(), state_dir=tmp_path / "state",
                                            database_url=None))
    for envelope in varied_envelopes(300, seed=7):
        renderer.prepare(envelope, layout_id="juminhyo-setai")
    assert len(seen) >= 600
    for data, found in seen:
        assert found == reference_persons_in(data)
    assert max(len(found) for _, found in seen) >= 5


class Colour(enum.Enum):
    RED = "red"


class Inner(BaseModel):
    person_id: str


class Sample(BaseModel):
    name: str
    kana: str | None = None
    born: dt.date
    when: dt.datetime | None = None
    amount: Decimal = Decimal(0)
    count: int = 0
    flag: bool = False
    kind: Literal["a", "b"] = "a"
    colour: Colour = Colour.RED
    short: Annotated[str, Field(max_length=3)] = ""
    old_style: Optional[int] = None  # noqa: UP045 (the typing.Optional spelling must be recognised too)
    inner: Inner | None = None
    items: list[Inner] = []
    pair: tuple[int, int] = (0, 0)
    mapping: dict[str, int] = {}
    anything: Any = None
    either: str | Inner = ""


def test_only_fields_that_may_hold_objects_are_read() -> None:
    assert object_fields(Sample) == ("inner", "items", "pair", "mapping", "anything", "either")
