"""Structured addresses, as the standard holds them (住所辞書: 都道府県 → 市区町村 → 町字 → 番地, 方書).

In: JSON objects. Out: `DomesticAddress` or `OverseasAddress`. A domestic address without 都道府県 or
市区町村 is invalid input: it can never be printed short (実装不可機能). Composition into one printed
line lives in `renderer.formats.address`. `address_paths` lists where a data model holds addresses (as
data paths, `renderer.paths`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from renderer.datamodels.types import NonBlank
from renderer.paths import find_paths

NonEmpty = Annotated[NonBlank, Field(min_length=1, max_length=200)]


class DomesticAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["domestic"] = "domestic"
    postal_code: Annotated[str, Field(pattern=r"^[0-9]{7}$")] | None = Field(
        default=None, description="郵便番号, 7 digits without hyphen")
    prefecture: NonEmpty = Field(description="都道府県 (e.g. 千葉県)")
    county: NonEmpty | None = Field(default=None, description="郡, when the 町村 belongs to one")
    municipality: NonEmpty = Field(description="市区町村 (e.g. 佐倉市, 神戸市, 千代田区)")
    ward: NonEmpty | None = Field(default=None, description="政令市の区 (e.g. 中央区)")
    town: NonEmpty | None = Field(default=None, description="町字 (大字・丁目)")
    block: NonEmpty | None = Field(default=None, description="番地・号")
    building: NonEmpty | None = Field(default=None, description="方書 (always printed on certificates)")


class OverseasAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["overseas"] = "overseas"
    country: NonEmpty = Field(description="国・地域")
    text: NonEmpty = Field(description="the address as given, printed as is")


def _address_kind(value: Any) -> str | None:
    """`domestic` or `overseas`; None for anything else (so the error never echoes the input)."""
    if isinstance(value, dict):
        kind = value.get("kind") or ("overseas" if "country" in value else "domestic")
    else:
        kind = getattr(value, "kind", "domestic")
    return kind if kind in ("domestic", "overseas") else None


Address = Annotated[
    Annotated[DomesticAddress, Tag("domestic")] | Annotated[OverseasAddress, Tag("overseas")],
    Discriminator(_address_kind),
]


def address_paths(model: type[BaseModel]) -> list[str]:
    """Every data path of `model` that holds an address (``name[]`` for lists), e.g. for juminhyo
    ``household.address``, ``household.members[].moved_in_from``, ``household.members[].moving_out.destination``.

    The DV rules use this as the default set of protected paths, and layout validation checks that a
    layout declaring its protected paths lists every one of them.
    """
    return find_paths(model, _holds_address)


def _holds_address(kinds: Sequence[type[BaseModel]]) -> bool:
    return any(k in (DomesticAddress, OverseasAddress) for k in kinds)
