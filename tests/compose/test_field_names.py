"""What a text is named by in an overflow entry or a refusal: the caller's input it is made of.

A value names its data path with the input's own index (``data.household.members[1].remarks[0]``); a
template names the one data path it reads, or its layout path followed by every data path it reads; a
text made of the tenant's, the page's or fixed words names its layout path."""

from __future__ import annotations

from typing import cast

import pytest

from renderer.compose.compose import Composer, _input_path, shared_templates
from renderer.spec.model import TextContent

REPEAT = {"item_path": "data.household.members[3]"}


ITEMS = REPEAT["item_path"]


@pytest.mark.parametrize(("dotted", "item_path", "named"), [
    ("data.certify.purpose", None, "data.certify.purpose"),
    ("item.remarks.0", ITEMS, "data.household.members[3].remarks[0]"),
    ("item.address.lines.12", ITEMS, "data.household.members[3].address.lines[12]"),
    ("item.name", None, None),            # an item outside a repeat over the input: not the caller's path
    ("tenant.municipality", ITEMS, None),
    ("page.n", ITEMS, None),
    ("data", None, "data"),
])
def test_input_path(dotted: str, item_path: str | None, named: str | None) -> None:
    assert _input_path(dotted, item_path) == named


class _Templates:
    """What `Composer._field_name` reads of a composer: the process's shared templates."""

    templates = shared_templates()


@pytest.mark.parametrize(("content", "named"), [
    (TextContent(value="item.remarks.1"), "data.household.members[3].remarks[1]"),
    (TextContent(value="data.certify.purpose"), "data.certify.purpose"),
    (TextContent(text="使用目的　{{ data.certify.purpose }}"), "data.certify.purpose"),
    (TextContent(text="{{ item.remarks | join('　') }}"), "data.household.members[3].remarks"),
    (TextContent(text="{{ data.period.start | wareki }}〜{{ data.period.end | wareki }}"),
     "elements[7] (data.period.start, data.period.end)"),
    (TextContent(text="{{ data.program }}{{ data.program }}　一覧"), "data.program"),   # read twice: one input
    (TextContent(text="{{ tenant.municipality }}長　{{ signer.name }}"), "elements[7]"),
    (TextContent(text="上記のとおり相違ないことを証明する。"), "elements[7]"),
])
def test_a_text_is_named_by_the_input_it_reads(content: TextContent, named: str) -> None:
    assert Composer._field_name(cast(Composer, _Templates()), content, "elements[7]", REPEAT) == named


def test_reads_follow_attributes_and_constant_indexes_only() -> None:
    reads = shared_templates().reads
    assert reads("{{ item['address'].lines[2] }}{{ page.n }}") == ("item.address.lines.2", "page.n")
    assert reads("{{ data.rows[index].name }}") == ("data.rows", "index")   # a computed index ends the chain
    assert reads("{% set x = data.a %}{{ x }}") == ("data.a", "x")
    assert reads("{{ unclosed") == ()
