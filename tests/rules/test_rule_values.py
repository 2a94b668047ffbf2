"""The rules take plain values: no database types, no attribute lookups by name, one home per value type.

- the rules import no SQLAlchemy (their registry values come from `renderer.suppressions`; `Withheld` from
  `renderer.values`), and the old import paths still name the same classes;
- the data models satisfy the protocols the rules read (`renderer.datamodels.protocols`), statically (mypy
  checks the assignments below) and at run time;
- `printed_heads`: the 世帯主 is in a document that prints the 世帯主氏名, selected or not.
All data is the fictitious 見本 family of layouts/samples/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from renderer.datamodels import DATA_MODELS
from renderer.datamodels.juminhyo import JuminhyoData
from renderer.datamodels.notices import KyufuKetteiNotice, NozeiNotice
from renderer.datamodels.protocols import (
    FixesMembers,
    HasAddressee,
    HasHousehold,
    Household,
    fixes_members,
    has_addressee,
    has_household,
    is_household,
)
from renderer.rules.dv import printed_heads
from renderer.values import Withheld

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "layouts" / "samples"
HEAD = "100000001"


def data_of(sample: str, model: type[BaseModel]) -> Any:
    return model.model_validate(json.loads((SAMPLES / f"{sample}.json").read_text(encoding="utf-8"))["data"])


SETAI: JuminhyoData = data_of("juminhyo-setai", JuminhyoData)


def test_the_rules_import_no_database_code() -> None:
    code = ("import sys, renderer.rules.dv, renderer.rules.policy, renderer.rules.dates, renderer.paths; "
            "bad = sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'renderer.state'))); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_old_import_paths_name_the_same_classes() -> None:
    import renderer.rules.policy as policy
    import renderer.state.registry as registry
    import renderer.suppressions as suppressions
    import renderer.values as values

    assert policy.Withheld is values.Withheld
    for name in ("Snapshot", "Suppression", "Lift", "instant"):
        assert getattr(registry, name) is getattr(suppressions, name)


def test_the_data_models_declare_what_the_rules_read() -> None:
    # statically: mypy checks that each model satisfies its protocol
    household: HasHousehold = SETAI
    notice: HasAddressee = data_of("tsuchisho-kyufu-kettei", KyufuKetteiNotice)
    nozei: HasAddressee = data_of("tsuchisho-nozei", NozeiNotice)
    assert household.household.members[0].person_id and notice.addressee.person_id and nozei.addressee.person_id
    # at run time, exactly the models that have the fields
    samples = {"juminhyo": "juminhyo-setai", "idosha_list": "ichiran-idosha", "kyufu_list": "ichiran-kyufu",
               "kyufu_kettei_notice": "tsuchisho-kyufu-kettei", "nozei_notice": "tsuchisho-nozei",
               "inkan": "inkan-toroku", "juminhyo_kisaijiko": "juminhyo-kisaijiko", "tenshutsu": "tenshutsu",
               "shotoku_kazei": "shotoku-kazei", "tokusoku": "tokusokujo-hagaki"}
    data = {name: data_of(samples[name], m) for name, m in DATA_MODELS.items()}
    found = {name: (isinstance(d, HasHousehold), isinstance(d, HasAddressee)) for name, d in data.items()}
    # the rules' cached checks answer as isinstance does, asked twice (the second answer from the cache)
    for _ in range(2):
        for d in [*data.values(), Withheld(item="honseki", text="省略"), None, "text"]:
            assert (has_household(d), has_addressee(d)) == (isinstance(d, HasHousehold), isinstance(d, HasAddressee))
            assert fixes_members(d) == isinstance(d, FixesMembers)
            household = getattr(d, "household", d)
            assert is_household(household) == isinstance(household, Household)
    assert found == {"juminhyo": (True, False), "idosha_list": (False, False), "kyufu_list": (False, False),
                     "kyufu_kettei_notice": (False, True), "nozei_notice": (False, True),
                     "inkan": (False, False), "juminhyo_kisaijiko": (True, False), "tenshutsu": (True, False),
                     "shotoku_kazei": (False, False), "tokusoku": (False, True)}


def with_household(data: JuminhyoData, **update: Any) -> JuminhyoData:
    return data.model_copy(update={"household": data.household.model_copy(update=update)})


def test_the_head_is_in_a_document_that_prints_the_head_name() -> None:
    assert printed_heads(SETAI, SETAI) == [HEAD]
    others = with_household(SETAI, members=[m for m in SETAI.household.members if m.person_id != HEAD])
    assert printed_heads(SETAI, others) == [HEAD]   # not selected: still named as 世帯主


@pytest.mark.parametrize("head_name", [Withheld(item="head_and_relationship", text="（省略）"), ""])
def test_a_withheld_head_name_includes_nobody(head_name: Any) -> None:
    assert printed_heads(SETAI, with_household(SETAI, head_name=head_name)) == []


def test_a_document_without_a_household_has_no_head() -> None:
    notice = data_of("tsuchisho-nozei", NozeiNotice)
    assert printed_heads(notice, notice) == []
    assert printed_heads(SETAI, SETAI.model_copy(update={"household": Withheld(item="honseki", text="")})) == []
