"""Compose a printed address from its structured parts (実装不可機能: never shortened).

In: `DomesticAddress` or `OverseasAddress`. Out: one line of text. A domestic address always starts
with 都道府県 and 市区町村 (with 郡 and 政令市の区 where present) and always carries its 方書; there is
deliberately no parameter to drop any part. Overseas addresses print as given, after the country.
"""

from __future__ import annotations

from renderer.datamodels.address import DomesticAddress, OverseasAddress

FULLWIDTH_SPACE = "\u3000"


def compose_address(address: DomesticAddress | OverseasAddress) -> str:
    if isinstance(address, OverseasAddress):
        return f"{address.country}{FULLWIDTH_SPACE}{address.text}"
    head = "".join(part for part in (address.prefecture, address.county, address.municipality,
                                     address.ward, address.town, address.block) if part)
    if address.building:
        return f"{head}{FULLWIDTH_SPACE}{address.building}"
    return head


def municipality_prefix(address: DomesticAddress) -> str:
    """都道府県 + 郡 + 市区町村 + 区: what every printed domestic address must start with."""
    return "".join(p for p in (address.prefecture, address.county, address.municipality, address.ward) if p)
