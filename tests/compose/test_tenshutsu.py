"""転出証明書 (layout `tenshutsu`): the persons of the 転出届, its refusal without one, the 住民票's rules unchanged.

In: the committed layout `tenshutsu`, its sample (a household of four, all moving), renderers on a fixed clock with
state in tmp_path (`dvkit`). Out: assertions on
- the persons printed: exactly those of data.tenshutsu.persons, in the standard order whatever the data's order;
  「世帯全員」 or 「世帯の一部」 in the header and the 認証文; request.members left out or naming exactly them, else
  exit 2 naming request.members;
- the refusal of data without a 転出届 (exit 3, rule tenshutsu-needs-notification, field data.tenshutsu, before a
  発行番号 is spent) and of a 転出届 naming no member (exit 2); the general `requires:` key on another layout and
  its validation;
- 個人番号 never printed; 本籍・筆頭者 only when requested, never on 広域交付; DV refused as the 住民票 (a protected
  mover, or a protected member staying behind: the household's 住所 is theirs too), printed in full under lifts.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from dvkit import ROOT, TENANT, VERIFIED, Clock, load, make_renderer, upsert

from renderer.api import Renderer
from renderer.datamodels.tenshutsu import TenshutsuData
from renderer.errors import InputError, LayoutError, RefusedError
from renderer.fonts import FontSet
from renderer.spec.validate import load_layout

SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts/samples/tenshutsu.json").read_text(encoding="utf-8"))
#: the sample household's members: 世帯主, 妻, 長男, 同居人 (foreign resident)
NAMES = {"100000001": "見本\\u3000太郎", "100000002": "見本\\u3000花子", "100000003": "見本\\u3000翔",
         "100000004": "MIHON EMMA"}


def env(persons: list[str] | None = None, **request: Any) -> dict[str, Any]:
    out = copy.deepcopy(SAMPLE)
    out["request"]["issued_on"] = "2026-11-27"
    for key, value in request.items():
        if value is None:
            out["request"].pop(key, None)
        else:
            out["request"][key] = value
    if persons is not None:
        out["data"]["tenshutsu"]["persons"] = persons
    return out


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    made: Renderer = make_renderer(tmp_path / "state", Clock())
    return made


def _persons_in_order(display: str) -> list[str]:
    """The person_ids of the person blocks (the 氏名 cells sit below the header at y < 230 mm from the bottom)."""
    found: list[tuple[float, str]] = []
    for line in display.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] != "text":
            continue
        for pid, name in NAMES.items():
            if line.endswith(f"'{name}'") and " 13.00" in line:
                y_pt = float(parts[2])
                if y_pt < 841.89 - 74 * 72 / 25.4:   # below the header grid (blocks start at y 74 mm)
                    found.append((-y_pt, pid))
    return [pid for _, pid in sorted(found)]


# --------------------------------------------------------------------------- the persons of the 転出届


def test_only_the_movers_in_the_standard_order(renderer: Renderer) -> None:
    result = renderer.render(env(["100000003", "100000002"]), caller=VERIFIED)
    assert _persons_in_order(result.display) == ["100000002", "100000003"], "妻 before 長男 (§1.5), input order aside"
    assert "'世帯の一部（2人）'" in result.display
    assert "世帯の一部の転出の届出があったことを証明する。" in result.display
    assert "MIHON EMMA" not in result.display, "a member who stays is not printed"
    assert "以下余白" in result.display
    assert sorted(result.person_ids) == ["100000002", "100000003"]


def test_the_whole_household(renderer: Renderer) -> None:
    result = renderer.render(env())
    assert _persons_in_order(result.display) == ["100000001", "100000002", "100000003", "100000004"]
    assert "'世帯全員（4人）'" in result.display
    assert "世帯全員の転出の届出があったことを証明する。" in result.display
    # the 転出先 and the 住所, both in full from the 都道府県 with the 方書
    assert "東京都世田谷区見本町二丁目3番4号\\u3000見本マンション205号" in result.display
    assert "千葉県佐倉市見本町一丁目2番地3\\u3000見本ハイツ101号" in result.display


def test_whole_household_is_decided_before_the_selection() -> None:
    data = TenshutsuData.model_validate(SAMPLE["data"])
    assert data.whole_household and data.persons_moving == 4
    part = TenshutsuData.model_validate({**SAMPLE["data"], "tenshutsu": {**SAMPLE["data"]["tenshutsu"],
                                                                          "persons": ["100000004"]}})
    assert not part.whole_household
    # the rules' copies keep it, although the household then holds the movers only
    kept = part.model_copy(update={"household": part.household.model_copy(
        update={"members": [m for m in part.household.members if m.person_id == "100000004"]})})
    assert not kept.whole_household


def test_request_members_must_name_exactly_the_movers(renderer: Renderer) -> None:
    same = renderer.render(env(["100000002", "100000003"], members=["100000003", "100000002"]))
    assert _persons_in_order(same.display) == ["100000002", "100000003"]
    for members in (["100000002"], ["100000002", "100000003", "100000001"]):
        with pytest.raises(InputError) as info:
            renderer.render(env(["100000002", "100000003"], members=members))
        assert info.value.field == "request.members"
        assert "data.tenshutsu.persons" in info.value.message


@pytest.mark.parametrize(("edit", "message"), [
    ({"persons": ["100000001", "999999999"]}, "tenshutsu.persons[1] names no member of the household"),
    ({"persons": ["100000001", "100000001"]}, "persons[1] repeats"),
    ({"persons": []}, "at least 1"),
    ({"destination": {"kind": "overseas", "country": "オーストラリア", "text": "シドニー市見本通り10番"}}, "domestic"),
    ({"destination": {"prefecture": "東京都"}}, "municipality"),
])
def test_a_bad_notification_is_invalid_naming_the_field(renderer: Renderer, edit: dict[str, Any],
                                                        message: str) -> None:
    bad = env()
    bad["data"]["tenshutsu"].update(edit)
    with pytest.raises(InputError) as info:
        renderer.render(bad)
    assert info.value.exit_code == 2
    text = str(info.value)
    assert message in text or any(message in d.message for d in info.value.diagnostics), text
    assert "999999999" not in text and "見本" not in text and "シドニー" not in text


# --------------------------------------------------------------------------- refused without a 転出届


def test_no_notification_is_refused_before_a_number_is_spent(renderer: Renderer) -> None:
    bad = env()
    del bad["data"]["tenshutsu"]
    for missing in (bad, {**bad, "data": {**bad["data"], "tenshutsu": None}}):
        with pytest.raises(RefusedError) as info:
            renderer.render(missing)
        assert info.value.exit_code == 3
        assert info.value.rule == "tenshutsu-needs-notification"
        assert info.value.field == "data.tenshutsu"
        assert "住基法施行令23条" in info.value.message and "見本" not in info.value.message
    ok = renderer.render(env())
    assert ok.issue_numbers[0].split()[-1] == "000001", "the refusals spent no 発行番号"


def test_requires_is_general_and_validated(tmp_path: Path) -> None:
    """`requires:` on another layout refuses data lacking the path; a path the data model lacks is a layout error."""
    layouts = tmp_path / "layouts"
    shutil.copytree(ROOT / "layouts", layouts)
    kojin = layouts / "juminhyo-kojin.yaml"
    text = kojin.read_text(encoding="utf-8")
    head = "dv_policy: block\n"
    assert text.count(head) == 1
    kojin.write_text(text.replace(head, "requires:\n  - {path: 'household.members[].remarks', rule: needs-remarks, "
                                        "reason: 見本の規則}\n" + head), encoding="utf-8")
    made = make_renderer(tmp_path / "state", Clock(), layouts_dir=layouts)
    sample = json.loads((ROOT / "layouts/samples/juminhyo-kojin.json").read_text(encoding="utf-8"))
    sample["request"]["issued_on"] = "2026-11-27"
    sample["data"]["household"]["members"][0]["remarks"] = ["見本"]   # one member's value suffices
    assert made.render(sample).pages >= 1
    for m in sample["data"]["household"]["members"]:
        m.pop("remarks", None)
    with pytest.raises(RefusedError) as info:
        made.render(sample)
    assert info.value.rule == "needs-remarks" and info.value.field == "data.household.members[].remarks"
    # validation: the path must exist in the data model
    tenshutsu = (ROOT / "layouts" / "tenshutsu.yaml").read_text(encoding="utf-8")
    path = tmp_path / "tenshutsu.yaml"
    path.write_text(tenshutsu.replace("  - path: tenshutsu\n", "  - path: tenshutsu.nowhere\n"), encoding="utf-8")
    with pytest.raises(LayoutError) as bad:
        load_layout(path, FontSet(ROOT / "fonts"))
    assert any(d.path == "requires[0].path" for d in bad.value.diagnostics), bad.value.diagnostics


# --------------------------------------------------------------------------- the 住民票's rules


def test_my_number_is_never_printed(renderer: Renderer) -> None:
    result = renderer.render(env(include=["honseki", "my_number", "resident_code"]), caller=VERIFIED)
    assert not result.my_number_printed
    assert "123456789018" not in result.display and "1234 5678 9018" not in result.display
    assert "個人番号" not in result.display and "12345678901" not in result.display


def test_honseki_only_when_requested_and_never_wide_area(renderer: Renderer) -> None:
    asked = renderer.render(env(include=["honseki"])).display
    assert "'千葉県佐倉市見本町一丁目2番地'" in asked
    default = renderer.render(env(include=None)).display   # tenant defaults: head_and_relationship only
    assert "'千葉県佐倉市見本町一丁目2番地'" not in default
    assert "本籍" in default and "'世帯主'" in default, "labels stay; 続柄 always printed"
    with pytest.raises(RefusedError) as info:
        renderer.render(env(include=["honseki"], channel="wide_area"))
    assert info.value.rule == "wide-area-no-honseki"


def test_dv_is_refused_as_the_juminhyo_and_printed_under_lifts(renderer: Renderer) -> None:
    load(renderer, upsert("100000004", adversaries=["900000009"]))
    # the protected person stays behind; the household's 住所 printed on the certificate is theirs too
    with pytest.raises(RefusedError) as info:
        renderer.render(env(["100000002", "100000003"]))
    assert info.value.rule == "dv-block" and getattr(info.value, "person_ids", None) == ["100000004"]
    with pytest.raises(RefusedError):
        renderer.render(env())
    renderer.registry.lift(TENANT, "100000004", "tenshutsu", minutes=15, max_minutes=30, reason="窓口で本人確認",
                           reviewer="clerk01", now=renderer.settings.now())
    result = renderer.render(env())
    assert result.lifts_used and "記載省略" not in result.display
