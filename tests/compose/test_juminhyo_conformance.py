"""住民票の写し (世帯連記式 and 個人票) as a municipal reviewer reads them (issue 14, the 住民票 findings).

In: the committed layouts juminhyo-setai and juminhyo-kojin, their bundled samples and golden inputs, and
households built here from fictitious persons. Out: checks on what reaches the sheet, read from the display
list (`RenderResult.display`: one op per line, PDF points, origin bottom-left) and the overflow report:
- the labels use the legal wording (「法第30条の45に規定する区分」, 「転出予定年月日」);
- every label is at least 7 pt, set 均等割付 with one inset, and fits its cell with no overflow step;
- a 外国人住民's 氏名 is the alphabet name (with the registered 漢字 form 併記), 通称 has its own labelled
  place, and katakana is only the reading;
- households of 10, 19 and 30 print, 4 persons per sheet, two-digit member numbers inside their cell;
- a 個人票 of several persons is one certificate: one 発行番号 counted n/N, 認証文 and 公印 on the last sheet.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from renderer import golden
from renderer.api import Renderer, RenderResult
from renderer.caller import Caller
from renderer.display import inline_dump
from renderer.errors import InputError
from renderer.fonts import FontSet
from renderer.formats.codes import my_number_check_digit
from renderer.settings import Settings
from renderer.spec.model import Cell, GridElement, GroupElement, LayoutSpec, RepeatElement
from renderer.spec.validate import load_layout
from renderer.state.registry import seed_registry
from renderer.units import mm

ROOT = Path(__file__).resolve().parents[2]
JST = dt.timezone(dt.timedelta(hours=9))
#: the server's clock: the 交付年月日 of every request here (a certificate is issued today)
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=JST)
ISSUED_ON = "2026-11-27"
LAYOUTS = ["juminhyo-setai", "juminhyo-kojin"]
FONTS = FontSet(ROOT / "fonts")
FOREIGN = "100000004"       # the sample's 外国人住民 (同居人)
SON = "100000003"

_TEXT = re.compile(r"^\s*text (?P<x>[-\d.]+) (?P<y>[-\d.]+) (?P<font>\S+) (?P<size>[\d.]+)(?P<attrs>.*?)"
                   r" (?P<text>'.*'|\".*\")$")


# --------------------------------------------------------------------------- helpers


def settings(state: Path, clock: dt.datetime = NOW) -> Settings:
    return Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=state, clock=lambda: clock)


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    return Renderer(settings(tmp_path / "state"))


def sample(layout: str, **request: Any) -> dict[str, Any]:
    env: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / f"{layout}.json").read_text(encoding="utf-8"))
    env["request"]["issued_on"] = ISSUED_ON
    env["request"].update(request)
    return env


def member(env: dict[str, Any], person_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in env["data"]["household"]["members"] if m["person_id"] == person_id)
    return found


@dataclass(frozen=True)
class Run:
    page: int
    x: float
    y: float
    font: str
    size: float
    text: str
    h_scale: float


def runs(result: RenderResult) -> list[Run]:
    """Every text run of the display list, with its page."""
    out: list[Run] = []
    page = 0
    for line in inline_dump(result.display).splitlines():
        if line.startswith("page "):
            page = int(line.split()[1])
            continue
        m = _TEXT.match(line)
        if m is None:
            continue
        attrs = dict(kv.split("=", 1) for kv in m["attrs"].split() if "=" in kv)
        out.append(Run(page, float(m["x"]), float(m["y"]), m["font"], float(m["size"]),
                       ast.literal_eval(m["text"]), float(attrs.get("hscale", "1"))))
    return out


def texts(result: RenderResult, page: int | None = None) -> list[str]:
    return [r.text for r in runs(result) if page is None or r.page == page]


def width_pt(run: Run) -> float:
    """The advance width of a run as drawn (no letter spacing: the member number has none)."""
    return FONTS.width(FONTS.runs(run.text, [run.font], field="test"), run.size) * run.h_scale


def label_cells(spec: LayoutSpec) -> list[tuple[str, Cell]]:
    """Every grid cell of the layout that prints a literal label (not a value, not a template)."""
    found: list[tuple[str, Cell]] = []

    def walk(elements: Any, path: str) -> None:
        for i, el in enumerate(elements):
            p = f"{path}[{i}]"
            if isinstance(el, GroupElement):
                walk(el.elements, f"{p}.elements")
            elif isinstance(el, RepeatElement):
                walk(el.block, f"{p}.block")
            elif isinstance(el, GridElement):
                for ci, cell in enumerate(el.cells):
                    if cell.text is not None and "{{" not in cell.text and cell.style != "cert":
                        found.append((f"{p}.cells[{ci}]", cell))

    walk(spec.elements, "elements")
    return found


def spec_of(layout: str) -> LayoutSpec:
    return load_layout(ROOT / "layouts" / f"{layout}.yaml", FONTS)


# --------------------------------------------------------------------------- 1. legal wording of the labels


def _with_moving_out(layout: str) -> dict[str, Any]:
    """The whole sample household with every item printed, the son's 転出届 due today."""
    env = sample(layout, include=["head_and_relationship", "foreign_items"])
    env["request"].pop("members", None)
    member(env, SON)["moving_out"] = {
        "planned_on": ISSUED_ON, "notified_on": "2026-11-20",
        "destination": {"prefecture": "北海道", "municipality": "札幌市", "ward": "北区", "town": "見本町",
                        "block": "5番地"}}
    return env


@pytest.mark.parametrize("layout", LAYOUTS)
def test_labels_use_the_legal_wording(renderer: Renderer, layout: str) -> None:
    result = renderer.render(_with_moving_out(layout), layout_id=layout)
    printed = texts(result)
    assert "法第30条の45に規定する区分" in printed          # 住基法30条の45, in full
    assert "転出予定年月日" in printed
    assert "法30条45区分" not in printed and "転出予定" not in printed


# --------------------------------------------------------------------------- 2. label size, 均等割付, fit


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_label_is_at_least_7pt_and_set_distributed_with_one_inset(layout: str) -> None:
    spec = spec_of(layout)
    for name, style in spec.styles.items():
        if name.startswith("label"):
            assert style.size_pt >= 7, f"style {name} is {style.size_pt} pt"
    cells = label_cells(spec)
    assert len(cells) > 30
    insets = set()
    for path, cell in cells:
        assert spec.styles[cell.style].size_pt >= 7, f"{path} ({cell.text}) is below 7 pt"
        assert cell.align == "distribute", f"{path} ({cell.text}) is not 均等割付"
        insets.add(cell.padding)
    assert len(insets) == 1, f"labels use several insets: {sorted(insets)}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_label_fits_its_cell_at_its_size(renderer: Renderer, layout: str) -> None:
    """The longest labels (foreign resident, 転出届) fit with no overflow step: the report stays empty."""
    result = renderer.render(_with_moving_out(layout), layout_id=layout)
    assert result.overflow == []
    spec = spec_of(layout)
    label_sizes = {spec.styles[c.style].size_pt for _p, c in label_cells(spec)}
    labels = [r for r in runs(result) if r.font == "IPAexMincho" and r.size in label_sizes]
    assert {"外国人住民となった年月日", "在留期間の満了の日", "住所を定めた年月日"} <= {r.text for r in labels}
    assert all(r.h_scale == 1.0 and r.size >= 7 for r in labels), [r for r in labels if r.size < 7]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_samples_render_without_overflow(renderer: Renderer, layout: str) -> None:
    assert renderer.render(sample(layout), layout_id=layout).overflow == []


JUMINHYO_CASES = [c for c in golden.discover() if c.layout_id in LAYOUTS and (c.path / golden.EXPECTED_PDF).exists()]


@pytest.mark.parametrize("case", JUMINHYO_CASES, ids=[c.id for c in JUMINHYO_CASES])
def test_golden_cases_report_no_label_overflow(tmp_path: Path, case: golden.GoldenCase) -> None:
    """No golden case needs an overflow step for a label (a value may wrap: the 備考 of kojin-bikou-kinsoku)."""
    raw = json.loads((case.path / golden.INPUT).read_text(encoding="utf-8"))
    fixtures = golden.load_fixtures(case.path)
    config = replace(settings(tmp_path / "state"), clock=lambda: fixtures.clock or NOW)
    seed_registry(config, raw["tenant"], fixtures.suppressions, fixtures.lifts)
    result = Renderer(config).render(raw, layout_id=case.layout_id,
                                     caller=Caller.local("cli", identity_verified=fixtures.identity_verified))
    labels = [e for e in result.overflow if str(e["field"]).startswith("elements[")]
    assert labels == []
    assert all(e["chars_lost"] == 0 for e in result.overflow), result.overflow


# --------------------------------------------------------------------------- 3. a foreign resident's 氏名


def _foreign_only(layout: str, **foreign: Any) -> dict[str, Any]:
    env = sample(layout, include=["head_and_relationship", "foreign_items"], members=[FOREIGN])
    member(env, FOREIGN)["foreign"].update(foreign)
    return env


@pytest.mark.parametrize("layout", LAYOUTS)
def test_foreign_residents_name_is_the_alphabet_name_and_katakana_only_the_reading(
        renderer: Renderer, layout: str) -> None:
    result = renderer.render(_foreign_only(layout), layout_id=layout)
    spec = spec_of(layout)
    name_size, kana_size = spec.styles["name"].size_pt, spec.styles["kana"].size_pt
    found = runs(result)
    names = [r.text for r in found if r.font == "IPAmjMincho" and r.size == name_size]
    assert "MIHON EMMA" in names and "ミホン\u3000エマ" not in names
    readings = [r for r in found if r.text == "ミホン\u3000エマ"]
    assert readings and all(r.size == kana_size for r in readings)   # the 振り仮名 row only
    assert "氏名（英字）" not in texts(result)
    name_label = next(r for r in found if r.text == "氏名")
    alphabet = next(r for r in found if r.text == "MIHON EMMA" and r.size == name_size)
    assert abs(alphabet.y - name_label.y) < name_size             # on the 氏名 row, not another one


@pytest.mark.parametrize("layout", LAYOUTS)
def test_registered_kanji_form_is_printed_with_the_alphabet_name_and_alias_has_its_own_place(
        renderer: Renderer, layout: str) -> None:
    env = _foreign_only(layout, name_kanji="金　恩知", alias="金田　恵美", nationality="韓国")
    member(env, FOREIGN).update(name="KIM EUNJI", name_kana="キム　ウンジ")
    result = renderer.render(env, layout_id=layout)
    assert result.overflow == []
    found = runs(result)
    by_text = {r.text: r for r in found}
    alphabet, kanji, alias = by_text["KIM EUNJI"], by_text["金\u3000恩知"], by_text["金田\u3000恵美"]
    name_label, alias_label = by_text["氏名"], by_text["通称"]
    # 併記: the alphabet name above its 漢字 form, both in the 氏名 cell (rows 2–3), beside the 氏名 label
    assert alphabet.y > kanji.y and abs(alphabet.x - kanji.x) < 0.01
    assert alphabet.y > name_label.y > kanji.y
    assert alphabet.size == kanji.size
    # 通称: its own labelled cell below the 氏名, never printed larger than the 氏名
    assert abs(alias.y - alias_label.y) < alias.size and alias.y < kanji.y
    assert alias.size <= alphabet.size
    assert by_text["キム\u3000ウンジ"].y > alphabet.y                 # the reading row, above the 氏名


def test_a_katakana_name_for_a_foreign_resident_is_refused_without_echoing_it(renderer: Renderer) -> None:
    env = sample("juminhyo-setai")
    member(env, FOREIGN)["name"] = "ミホン\u3000エマ"
    with pytest.raises(InputError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    assert info.value.exit_code == 2
    assert any(d.path.startswith("data.household.members[3]") and "name" in d.message
               for d in info.value.diagnostics), info.value.diagnostics
    assert "ミホン" not in str(info.value)


def test_the_alphabet_name_field_is_gone_from_the_model(renderer: Renderer) -> None:
    """`foreign.name_alphabet` printed under 「氏名（英字）」 while the 氏名 showed katakana: the alphabet name is
    `name` now, and an input still using the old field is refused, not silently ignored."""
    env = sample("juminhyo-setai")
    member(env, FOREIGN)["foreign"]["name_alphabet"] = "MIHON EMMA"
    with pytest.raises(InputError):
        renderer.render(env, layout_id="juminhyo-setai")


# --------------------------------------------------------------------------- 4. households of 10 or more

_FAMILY = ["見本", "試験", "仮名", "例示", "架空", "模擬", "雛形", "検証", "例題", "標本"]
_KANA_FAMILY = ["ミホン", "シケン", "カメイ", "レイジ", "カクウ", "モギ", "ヒナガタ", "ケンショウ", "レイダイ",
                "ヒョウホン"]
_GIVEN = ["健", "誠", "翔", "蓮", "湊", "葵", "陽菜", "結衣"]
_KANA_GIVEN = ["ケン", "マコト", "ショウ", "レン", "ミナト", "アオイ", "ヒナ", "ユイ"]


def my_number(n: int) -> str:
    """A fictitious 個人番号 with a valid check digit (the model verifies it)."""
    body = f"{n:011d}"
    return body + my_number_check_digit(body)


def household(n: int) -> dict[str, Any]:
    """The sample's 世帯主 and n − 1 distinct fictitious 同居人 (a 寮), each with a valid 個人番号."""
    env = sample("juminhyo-setai", include=["head_and_relationship", "my_number"])
    head = copy.deepcopy(next(m for m in env["data"]["household"]["members"] if m["relationship"] == "世帯主"))
    members = [head]
    for i in range(1, n):
        family, given = i % len(_FAMILY), i // len(_FAMILY)
        members.append({
            "person_id": f"30000{i:04d}", "name": f"{_FAMILY[family]}\u3000{_GIVEN[given]}",
            "name_kana": f"{_KANA_FAMILY[family]}\u3000{_KANA_GIVEN[given]}",
            "birth_date": f"{1970 + i}-{1 + i % 12:02d}-{1 + i % 28:02d}", "sex": "男" if i % 2 else "女",
            "relationship": "同居人", "became_resident_on": "2024-04-01", "notified_on": "2024-04-05",
            "moved_in_from": {"prefecture": "東京都", "municipality": "千代田区", "town": "見本一丁目",
                              "block": f"{i}番1号"},
            "my_number": my_number(300_000_000 + i)})
    assert len({m["name"] for m in members}) == n
    env["data"]["household"]["members"] = members
    return env


@pytest.mark.parametrize("size", [10, 19, 30])
def test_households_of_ten_or_more_print_four_to_a_sheet(renderer: Renderer, size: int) -> None:
    result = renderer.render(household(size), layout_id="juminhyo-setai")
    sheets = math.ceil(size / 4)
    assert result.pages == sheets and result.sheets_per_copy == sheets
    assert result.overflow == []
    found = runs(result)
    for page in range(1, sheets + 1):
        numbers = [r.text for r in found if r.page == page and r.text.startswith("発行番号")]
        assert len(numbers) == 1 and numbers[0].endswith(f" {page}/{sheets}"), numbers
        assert ("（次葉に続く）" in texts(result, page)) == (page < sheets)
        assert any(t.startswith("この写しは") for t in texts(result, page)) == (page == sheets)
    # the member numbers 1 … n in order, each inside the one-unit number column (x 15–19.5 mm)
    spec = spec_of("juminhyo-setai")
    number_size = spec.styles["number"].size_pt
    printed = [r for r in found if r.font == "IPAexGothic" and r.size == number_size]
    assert [r.text for r in printed] == [str(k) for k in range(1, size + 1)]
    left, right = mm(15), mm(19.5)
    for r in printed:
        assert r.h_scale == 1.0
        assert left + 0.5 < r.x and r.x + width_pt(r) < right - 0.5, (r.text, r.x, width_pt(r))
    # every member printed exactly once, in the standard order (the 世帯主 first; the 世帯主 row of every sheet
    # repeats the head's name), and the unused blocks of the last sheet closed by 「以下余白」
    members = household(size)["data"]["household"]["members"]
    name_size = spec.styles["name"].size_pt
    names = [r.text for r in found if r.font == "IPAmjMincho" and r.size == name_size]
    head = members[0]["name"]
    assert names.count(head) == 1 + sheets
    assert sorted(n for n in names if n != head) == sorted(m["name"] for m in members[1:])
    assert texts(result).count("以下余白") == (1 if size % 4 else 0)
    # every person's 個人番号 printed (positive control that nobody was dropped)
    joined = "".join(texts(result)).replace(" ", "")
    assert all(m["my_number"] in joined for m in household(size)["data"]["household"]["members"])


# --------------------------------------------------------------------------- 5. 個人票: one certificate


def test_kojin_of_two_persons_is_one_certificate_certified_on_the_last_sheet(renderer: Renderer) -> None:
    result = renderer.render(sample("juminhyo-kojin"), layout_id="juminhyo-kojin")
    assert result.pages == 2 and len(result.issue_numbers) == 1
    number = result.issue_numbers[0]
    first, last = texts(result, 1), texts(result, 2)
    assert f"発行番号\u3000{number} 1/2" in first and f"発行番号\u3000{number} 2/2" in last
    assert "（次葉に続く）" in first and "（次葉に続く）" not in last
    for text in ["この写しは、住民票の原本と相違ないことを証明する。", "令和8年11月27日", "千葉県佐倉市長",
                 "見本\u3000一郎", "この印は黒色です"]:
        assert text not in first and text in last, text
    pages_with_seal = [int(line.split()[1]) for line in result.display.splitlines() if line.startswith("page ")]
    images: dict[int, int] = {}
    page = 0
    for line in inline_dump(result.display).splitlines():
        if line.startswith("page "):
            page = int(line.split()[1])
        elif line.strip().startswith("image "):
            images[page] = images.get(page, 0) + 1
    assert pages_with_seal == [1, 2] and images == {2: 1}      # the 公印 once, on the last sheet


def test_kojin_of_one_person_carries_its_certification(renderer: Renderer) -> None:
    result = renderer.render(sample("juminhyo-kojin", members=["100000002"]), layout_id="juminhyo-kojin")
    assert result.pages == 1
    page = texts(result, 1)
    assert "この写しは、住民票の原本と相違ないことを証明する。" in page and "千葉県佐倉市長" in page
    assert "（次葉に続く）" not in page and any(t.endswith(" 1/1") for t in page)


# --------------------------------------------------------------------------- 6. 第三者請求: no tenant default

_RELATIONSHIPS = {"世帯主", "妻", "長男", "同居人"}


def _head_and_relationship_printed(result: RenderResult) -> tuple[bool, set[str]]:
    """Whether the 世帯主 row of every sheet carries the 世帯主's name (printed once more as a member), and which
    続柄 values are printed (the row's label 「世帯主」, one run per sheet, is counted out)."""
    printed = texts(result)
    relationships = {t for t in printed if t in _RELATIONSHIPS}
    if printed.count("世帯主") == result.pages:      # only the labels: no 続柄 「世帯主」 for the head
        relationships.discard("世帯主")
    head_rows = printed.count("見本\u3000太郎") - 1
    assert head_rows in (0, result.pages), head_rows
    return head_rows == result.pages, relationships


@pytest.mark.parametrize("layout", LAYOUTS)
def test_third_party_without_include_gets_no_head_and_relationship(renderer: Renderer, layout: str) -> None:
    """住基法12条の3: a third party gets 世帯主の氏名及び続柄 only when it asks; the tenant's default
    (defaults.include: [head_and_relationship], 122122) is for 本人等 (12条) and never applies to it."""
    env = sample(layout, requester={"relation": "third_party", "purpose": "見本（架空の相続手続）"})
    env["request"].pop("include")
    env["request"].pop("members", None)
    result = renderer.render(env, layout_id=layout)
    head_row, relationships = _head_and_relationship_printed(result)
    assert not head_row and relationships == set()               # the head only as a member
    assert "世帯主" in texts(result)                               # the row's label stays (declared: blank value)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_third_party_asking_for_head_and_relationship_gets_it(renderer: Renderer, layout: str) -> None:
    env = sample(layout, requester={"relation": "third_party", "purpose": "見本（架空の相続手続）"},
                 include=["head_and_relationship"])
    env["request"].pop("members", None)
    head_row, relationships = _head_and_relationship_printed(renderer.render(env, layout_id=layout))
    assert head_row and relationships == _RELATIONSHIPS


def test_the_person_themself_without_include_gets_the_tenant_default(renderer: Renderer) -> None:
    """Control: 本人 (住基法12条) with no include gets the tenant's default 世帯主・続柄."""
    env = sample("juminhyo-setai")
    env["request"].pop("include")
    head_row, relationships = _head_and_relationship_printed(renderer.render(env, layout_id="juminhyo-setai"))
    assert head_row and relationships == _RELATIONSHIPS


def test_public_office_without_include_gets_nothing_optional_unless_the_option_says_so(renderer: Renderer) -> None:
    env = sample("juminhyo-setai", requester={"relation": "public_office", "purpose": "見本事務"})
    env["request"].pop("include")
    head_row, relationships = _head_and_relationship_printed(renderer.render(env, layout_id="juminhyo-setai"))
    assert not head_row and relationships == set()


def test_who_gets_the_tenant_defaults() -> None:
    from renderer.rules.policy import PUBLIC_OFFICE_OPTION, uses_tenant_defaults
    for relation in ("self", "same_household", "agent"):
        assert uses_tenant_defaults(relation, {})
    assert not uses_tenant_defaults("third_party", {PUBLIC_OFFICE_OPTION: True})
    assert not uses_tenant_defaults("public_office", {})
    assert uses_tenant_defaults("public_office", {PUBLIC_OFFICE_OPTION: True})
    for layout in LAYOUTS:      # declared in both layouts, off by default
        assert spec_of(layout).options[PUBLIC_OFFICE_OPTION].default is False


# --------------------------------------------------------------------------- 7. 住基法7条6–8号: the 異動 dates

_BAD_DATES: dict[str, tuple[str, dict[str, Any]]] = {
    # 届出日 paired with the 2014 転居 instead of the 2010 転入 (7条8号)
    "notified-on-the-move": ("notified_on", {"notified_on": "2014-03-20"}),
    # 住民となった年月日 = 生年月日 next to a 転入前住所 (born here, yet moved in)
    "born-here-but-moved-in": ("moved_in_from", {"became_resident_on": "1984-04-02", "notified_on": "1984-04-10"}),
    # 住所を定めた年月日 equal to the 転入 (7条7号 is a later move within the municipality)
    "address-set-on-the-move-in": ("address_set_on", {"address_set_on": "2010-04-01"}),
    "notified-before-the-move-in": ("notified_on", {"notified_on": "2010-03-20"}),
    "resident-before-birth": ("became_resident_on", {"became_resident_on": "1980-01-01"}),
}


@pytest.mark.parametrize("case", sorted(_BAD_DATES))
def test_residence_dates_that_contradict_article_7_are_refused(renderer: Renderer, case: str) -> None:
    item, edit = _BAD_DATES[case]
    env = sample("juminhyo-setai")
    member(env, "100000001").update(edit)
    with pytest.raises(InputError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    assert info.value.exit_code == 2
    assert any(d.path.startswith("data.household.members[1]") and item in d.message
               for d in info.value.diagnostics), info.value.diagnostics
    for value in edit.values():       # the message names the item, never the value
        assert value not in str(info.value) and all(value not in d.message for d in info.value.diagnostics)


def _inputs() -> list[Path]:
    return sorted((ROOT / "golden").glob("juminhyo-*/*/input.json")) + [
        ROOT / "layouts" / "samples" / f"{layout}.json" for layout in LAYOUTS]


def _signer_names() -> set[str]:
    import yaml
    names: set[str] = set()
    for path in (ROOT / "layouts" / "tenants").glob("*.yaml"):
        names |= {s["name"] for s in yaml.safe_load(path.read_text(encoding="utf-8"))["signers"]}
    return names


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}"
                         if p.parent.parent.name != "layouts" else p.stem)
def test_sample_and_golden_data_pass_a_clerks_reading(path: Path) -> None:
    """What a clerk spots at once in fictitious data: the model's 7条 checks, a resident bearing the 市長's
    name, a 筆頭者 of another 氏 (one 戸籍 = one 氏), a 転入前住所 inside the municipality, a 振り仮名 that reads
    the same 氏 two ways."""
    from renderer.datamodels.juminhyo import JuminhyoData
    from renderer.datamodels.kisaijiko import KisaijikoData
    env = json.loads(path.read_text(encoding="utf-8"))
    if path.parent.name == "gaiji-kyohi":
        return                                   # refused for its 外字 on purpose
    # a 住民票記載事項証明書's data is a 住民票's plus the requested items (`certify`): the same clerk's reading
    model = KisaijikoData if env.get("layout") == "juminhyo-kisaijiko" else JuminhyoData
    data = model.model_validate(env["data"])
    household = data.household
    signers = _signer_names()
    kana_of: dict[str, str] = {}
    for m in household.members:
        assert m.name not in signers, f"{m.person_id} bears a 市区町村長's name"
        if m.foreign is not None:
            continue
        surname = m.name.split("\u3000")[0]
        if m.hittosha is not None:
            assert m.hittosha.split("\u3000")[0] == surname, f"{m.person_id}: 筆頭者 of another 氏"
            same = [o for o in household.members if o.name == m.hittosha]
            assert all(o.honseki == m.honseki for o in same), f"{m.person_id}: 筆頭者 with another 本籍"
        if m.name_kana is not None:
            kana = m.name_kana.split("\u3000")[0]
            assert kana_of.setdefault(surname, kana) == kana, f"{m.person_id}: 氏 read two ways"
        src = m.moved_in_from
        if src is not None and getattr(src, "municipality", None) is not None:
            assert (src.prefecture, src.municipality) != (household.address.prefecture,  # type: ignore[union-attr]
                                                          household.address.municipality), \
                f"{m.person_id}: 転入前住所 inside the municipality"


# --------------------------------------------------------------------------- 8. 外国人住民's 転出届


def _foreign_moving_out(layout: str, planned_on: str) -> dict[str, Any]:
    env = _foreign_only(layout)
    person = member(env, FOREIGN)
    person["remarks"] = ["見本（架空）"]
    person["moving_out"] = {
        "planned_on": planned_on, "notified_on": "2026-11-20",
        "destination": {"prefecture": "北海道", "municipality": "札幌市", "ward": "北区", "town": "見本西五条",
                        "block": "6丁目7番8号"}}
    return env


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_foreign_residents_moving_out_prints_like_a_japanese_residents(renderer: Renderer, layout: str) -> None:
    """住基法30条の45 lists the same 転出 items for a 外国人住民: on or after the 転出予定年月日 the 転出届 prints
    (in rows 9–10), with every 30条の45 item and the 備考 still on the sheet."""
    result = renderer.render(_foreign_moving_out(layout, ISSUED_ON), layout_id=layout)
    printed = texts(result)
    for text in ["転出予定年月日", "令和8年11月27日", "転出届出日", "令和8年11月20日", "転出先",
                 "北海道札幌市北区見本西五条6丁目7番8号", "見本（架空）", "法第30条の45に規定する区分", "中長期在留者",
                 "技術・人文知識・国際業務", "2027年3月31日", "オーストラリア"]:
        assert text in printed, text
    assert result.overflow == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_foreign_residents_moving_out_is_withheld_before_the_planned_day(renderer: Renderer, layout: str) -> None:
    result = renderer.render(_foreign_moving_out(layout, "2026-12-10"), layout_id=layout)
    printed = texts(result)
    assert not {"転出予定年月日", "転出届出日", "転出先"} & set(printed)
    assert "北海道札幌市北区見本西五条6丁目7番8号" not in "".join(printed)
    assert "見本（架空）" in printed and printed.count("備考") == 4       # the 備考 rows as usual
