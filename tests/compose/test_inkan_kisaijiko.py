"""印鑑登録証明書 (true-size 印影) and 住民票記載事項証明書 (requested items, standard order, the 住民票's rules).

In: the committed layouts `inkan-toroku` and `juminhyo-kisaijiko`, their samples, fictitious impressions drawn by
`impressions.make_impression`, renderers on a fixed clock with state in tmp_path (`dvkit`). Out: assertions on
- the printed size of the 印影, read from the PDF's drawing operators (the CTM built by ``cm`` before the image's
  ``Do``, through any Form XObject), for several sizes and a bilevel TIFF;
- refusals: larger than the layout's box or a tenant's tighter limit (exit 3, before a 発行番号 is spent), inside
  the minimum square, and bad images (wrong format, too many pixels, colour, distorted, too coarse, not base64:
  exit 2 naming the field, never echoing the data);
- the 記載事項証明書: only the requested items, in the standard order whatever the request's order; 提出先 and
  使用目的 only when given; optional items and the third-party hard rule exactly as the 住民票; DV refused (dv-block)
  exactly as the 住民票 for the same household and registry, and printed in full under lifts.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dvkit import ROOT, TENANT, VERIFIED, Clock, load, make_renderer, upsert
from impressions import envelope_impression, make_impression
from pypdf import PdfReader
from pypdf.generic import ContentStream, DictionaryObject
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.cli import app
from renderer.datamodels.kisaijiko import LINES_PER_SHEET, STANDARD_ORDER, KisaijikoData
from renderer.errors import InputError, LayoutError, RefusedError
from renderer.fonts import FontSet
from renderer.spec.validate import load_layout

MM = 72 / 25.4
INKAN: dict[str, Any] = json.loads((ROOT / "layouts/samples/inkan-toroku.json").read_text(encoding="utf-8"))
KISAI: dict[str, Any] = json.loads((ROOT / "layouts/samples/juminhyo-kisaijiko.json").read_text(encoding="utf-8"))
#: the layout's impression box: x 157.5–182.5 mm, y 46.5–71.5 mm from the top-left of the A4 sheet
BOX_CENTRE_MM = (170.0, 59.0)
A4_HEIGHT_PT = 841.89


def inkan(impression: dict[str, Any] | None = None, **request: Any) -> dict[str, Any]:
    env = copy.deepcopy(INKAN)
    env["request"]["issued_on"] = "2026-11-27"
    env["request"].update(request)
    if impression is not None:
        env["data"]["impression"] = impression
    return env


def kisai(items: list[str] | None = None, **request: Any) -> dict[str, Any]:
    env = copy.deepcopy(KISAI)
    env["request"]["issued_on"] = "2026-11-27"
    env["request"].update(request)
    if items is not None:
        env["data"]["certify"]["items"] = items
    return env


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    made: Renderer = make_renderer(tmp_path / "state", Clock())
    return made


# --------------------------------------------------------------------------- the PDF's image operators


def _mul(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """a × b for PDF matrices [a b c d e f] (a applied first)."""
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3], a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5])


def placed_images(pdf: bytes) -> Iterator[tuple[int, int, tuple[float, ...]]]:
    """(pixel width, pixel height, CTM) of every image XObject painted on the first page: the CTM is the
    product of every ``cm`` in force (q/Q respected) when its ``Do`` runs, through Form XObjects."""
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]

    def walk(content: Any, resources: Any, ctm: tuple[float, ...]) -> Iterator[tuple[int, int, tuple[float, ...]]]:
        stack: list[tuple[float, ...]] = []
        found = resources.get("/XObject")
        xobjects: Any = found.get_object() if found is not None else DictionaryObject()
        for operands, op in ContentStream(content, reader).operations:
            if op == b"q":
                stack.append(ctm)
            elif op == b"Q":
                ctm = stack.pop()
            elif op == b"cm":
                ctm = _mul(tuple(float(x) for x in operands), ctm)
            elif op == b"Do":
                xo: Any = xobjects[operands[0]].get_object()
                if xo["/Subtype"] == "/Image":
                    yield int(xo["/Width"]), int(xo["/Height"]), ctm
                elif xo["/Subtype"] == "/Form":
                    matrix = tuple(float(x) for x in xo.get("/Matrix", [1, 0, 0, 1, 0, 0]))
                    inner = xo.get("/Resources")
                    yield from walk(xo, inner.get_object() if inner is not None else resources, _mul(matrix, ctm))

    resources: Any = page["/Resources"]
    yield from walk(page.get_contents(), resources.get_object(), (1.0, 0.0, 0.0, 1.0, 0.0, 0.0))


def impression_on_page(pdf: bytes, px: tuple[int, int]) -> tuple[float, float, float, float]:
    """(width mm, height mm, centre x mm, centre y mm from the top) of the one image of `px` pixels."""
    found = [ctm for w, h, ctm in placed_images(pdf) if (w, h) == px]
    assert len(found) == 1, f"expected one image of {px} pixels, found {len(found)}"
    a, b, c, d, e, f = found[0]
    assert b == 0 and c == 0, "the impression is never rotated or skewed"
    return a / MM, d / MM, (e + a / 2) / MM, (A4_HEIGHT_PT - (f + d / 2)) / MM


# --------------------------------------------------------------------------- 印鑑登録証明書: true size


@pytest.mark.parametrize(("width", "height", "fmt", "bilevel", "dpi"), [
    (15.0, 15.0, "PNG", False, 600),
    (12.0, 18.0, "TIFF", True, 400),
    (25.0, 25.0, "PNG", False, 300),
    (8.5, 8.5, "PNG", False, 1200),
    (21.3, 21.3, "TIFF", True, 300),
], ids=["15mm-png", "12x18-tiff", "25mm-limit", "8.5mm", "21.3mm-tiff"])
def test_impression_prints_at_its_true_size(renderer: Renderer, width: float, height: float, fmt: str,
                                            bilevel: bool, dpi: int) -> None:
    raw = make_impression(width, height_mm=height, dpi=dpi, fmt=fmt, bilevel=bilevel)
    result = renderer.render(inkan(envelope_impression(raw, width, height)))
    px = (round(width / 25.4 * dpi), round(height / 25.4 * dpi))
    w, h, cx, cy = impression_on_page(result.pdf, px)
    assert w == pytest.approx(width, abs=0.005) and h == pytest.approx(height, abs=0.005), \
        f"printed {w:.3f} × {h:.3f} mm, registered {width} × {height} mm"
    assert cx == pytest.approx(BOX_CENTRE_MM[0], abs=0.01) and cy == pytest.approx(BOX_CENTRE_MM[1], abs=0.01)


def test_size_comes_from_the_data_not_the_pixels(renderer: Renderer) -> None:
    """The same pixels registered at two sizes print at those two sizes (nothing fits the image to a box)."""
    raw = make_impression(15.0, dpi=600)   # 354 px square
    small = renderer.render(inkan(envelope_impression(raw, 10.0)))
    large = renderer.render(inkan(envelope_impression(raw, 20.0)))
    assert impression_on_page(small.pdf, (354, 354))[:2] == pytest.approx((10.0, 10.0), abs=0.005)
    assert impression_on_page(large.pdf, (354, 354))[:2] == pytest.approx((20.0, 20.0), abs=0.005)


def _serial_of(result: Any) -> str:
    """The 連番 of the first copy's 発行番号 (「20261127 佐倉市 本庁1 プリンタ001 000001」)."""
    return str(result.issue_numbers[0].split()[-1])


@pytest.mark.parametrize(("width", "height"), [(25.5, 25.5), (20.0, 26.0), (27.0, 10.0)])
def test_larger_than_the_box_is_refused_before_a_number_is_spent(renderer: Renderer, width: float,
                                                                   height: float) -> None:
    raw = make_impression(width, height_mm=height, dpi=300)
    with pytest.raises(RefusedError) as info:
        renderer.render(inkan(envelope_impression(raw, width, height)))
    assert info.value.rule == "true-size-too-large" and info.value.exit_code == 3
    assert info.value.field == "data.impression"
    assert "見本" not in str(info.value)
    ok = renderer.render(inkan())
    assert _serial_of(ok) == "000001", "the refused render spent no 発行番号"


def test_inside_the_minimum_square_is_refused(renderer: Renderer) -> None:
    raw = make_impression(7.5, dpi=1200)
    with pytest.raises(RefusedError) as info:
        renderer.render(inkan(envelope_impression(raw, 7.5)))
    assert info.value.rule == "true-size-too-small"


def scratch_tenant(tmp: Path, max_mm: int) -> Path:
    """layouts/ (the two forms and the tenants) with 122122 setting impression_max_mm."""
    dest = tmp / "layouts"
    shutil.copytree(ROOT / "layouts" / "tenants", dest / "tenants")
    shutil.copy(ROOT / "layouts" / "inkan-toroku.yaml", dest / "inkan-toroku.yaml")
    path = dest / "tenants" / f"{TENANT}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("\ndefaults:\n") == 1
    setting = f"  parameters:\n    inkan-toroku: {{impression_max_mm: {max_mm}}}\n"
    text = text.replace("\ndefaults:\n", "\ndefaults:\n" + setting)
    path.write_text(text, encoding="utf-8")
    return dest


def test_a_tenant_limit_tightens_but_never_loosens_the_box(tmp_path: Path) -> None:
    tight = make_renderer(tmp_path / "a", Clock(), scratch_tenant(tmp_path / "t20", 20))
    with pytest.raises(RefusedError, match="20 × 20 mm"):
        tight.render(inkan(envelope_impression(make_impression(21.0, dpi=300), 21.0)))
    assert tight.render(inkan(envelope_impression(make_impression(19.0, dpi=300), 19.0))).pages == 1
    loose = make_renderer(tmp_path / "b", Clock(), scratch_tenant(tmp_path / "t30", 30))
    with pytest.raises(RefusedError, match="25 × 25 mm") as info:
        loose.render(inkan(envelope_impression(make_impression(26.0, dpi=300), 26.0)))
    assert info.value.rule == "true-size-too-large"


def _bad(kind: str) -> dict[str, Any]:
    if kind == "jpeg":
        return envelope_impression(make_impression(15.0, dpi=300, fmt="JPEG"), 15.0)
    if kind == "gray-tiff":
        return envelope_impression(make_impression(15.0, dpi=300, fmt="TIFF"), 15.0)
    if kind == "too-many-pixels":   # 2,100 × 2,100 = 4,410,000 pixels (bilevel: small file)
        return envelope_impression(make_impression(15.0, dpi=3556, bilevel=True), 15.0)
    if kind == "colour":
        return envelope_impression(make_impression(15.0, dpi=300, colour=True), 15.0)
    if kind == "distorted":
        return envelope_impression(make_impression(15.0, dpi=300), 15.0, 18.0)
    if kind == "coarse":
        return envelope_impression(make_impression(15.0, dpi=120), 15.0)
    if kind == "not-base64":
        return {"image": "見本の印影です", "width_mm": 15, "height_mm": 15}
    raise AssertionError(kind)


@pytest.mark.parametrize(("kind", "field", "reason"), [
    ("jpeg", "data.impression.image", "must be PNG or a bilevel TIFF, is JPEG"),
    ("gray-tiff", "data.impression.image", "must be bilevel"),
    ("too-many-pixels", "data.impression.image", "over the 4000000 pixel limit"),
    ("colour", "data.impression.image", "coloured pixels"),
    ("distorted", "data.impression", "print distorted"),
    ("coarse", "data.impression", "print blurred"),
    ("not-base64", "data.impression.image", "is not base64"),
])
def test_bad_images_are_refused_naming_the_field(renderer: Renderer, kind: str, field: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        renderer.render(inkan(_bad(kind)))
    err = info.value
    assert err.exit_code == 2
    paths = [d.path for d in err.diagnostics]
    assert field in paths, paths
    assert any(reason in d.message for d in err.diagnostics), [d.message for d in err.diagnostics]
    text = str(err)
    assert "見本　太郎" not in text and "見本町" not in text and "iVBOR" not in text   # no data echoed


def test_cli_bad_image_exit_2_and_oversize_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOHYO_STATE_DIR", str(tmp_path / "state"))
    runner = CliRunner()
    for kind, code, expect in (("colour", 2, "data.impression.image"), ("large", 3, "true-size-too-large")):
        env = inkan(_bad("colour") if kind == "colour"
                    else envelope_impression(make_impression(26.0, dpi=300), 26.0))
        env["request"].pop("issued_on")
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps(env, ensure_ascii=False), encoding="utf-8")
        out = tmp_path / f"{kind}.pdf"
        result = runner.invoke(app, ["render", "inkan-toroku", str(path), "-o", str(out), "--json"])
        assert result.exit_code == code, result.output
        problem = json.loads([line for line in result.stderr.splitlines() if line.strip()][-1])
        assert expect in json.dumps(problem, ensure_ascii=False)
        assert "Traceback" not in result.output and not out.exists()


def test_dv_protected_registrant_is_refused_and_lifted_prints(renderer: Renderer) -> None:
    load(renderer, upsert("100000001", adversaries=["900000009"]))
    env = inkan(requester={"relation": "agent", "acting_for": "100000001"})
    with pytest.raises(RefusedError) as info:
        renderer.render(env)
    assert info.value.rule == "dv-block"
    renderer.registry.lift(TENANT, "100000001", "inkan-toroku", minutes=15, max_minutes=30, reason="窓口で本人確認",
                           reviewer="clerk01", now=renderer.settings.now())
    assert renderer.render(env).lifts_used


# --------------------------------------------------------------------------- 住民票記載事項証明書


def labels_in_order(display: str) -> list[str]:
    """The labels of the item lines as drawn, top to bottom (the layout's label cells use 8 pt)."""
    found: list[tuple[float, str]] = []
    for line in display.splitlines():
        m = re.match(r"\s*text [\d.]+ ([\d.]+) IPAexMincho 8\.00(?: cs=[\d.]+)? '(.+)'$", line)
        if m:
            found.append((-float(m.group(1)), m.group(2)))
    return [label for _, label in sorted(found)]


LABELS = {"address": "住所", "head_name": "世帯主", "name_kana": "氏名の振り仮名", "former_name": "旧氏",
          "birth_date": "生年月日", "sex": "性別", "relationship": "続柄", "honseki": "本籍", "hittosha": "筆頭者",
          "became_resident_on": "住民となった年月日", "address_set_on": "住所を定めた年月日", "notified_on": "届出日",
          "moved_in_from": "転入前住所", "my_number": "個人番号", "resident_code": "住民票コード"}


@pytest.mark.parametrize("items", [
    ["sex", "address", "birth_date"],
    ["resident_code", "moved_in_from", "name_kana", "head_name"],
    list(reversed(STANDARD_ORDER)),
], ids=["three", "four", "all-reversed"])
def test_only_the_requested_items_in_the_standard_order(renderer: Renderer, items: list[str]) -> None:
    env = kisai(items, include=["head_and_relationship", "honseki", "my_number", "resident_code"],
                members=["100000001"])
    result = renderer.render(env, caller=VERIFIED)
    expected = [LABELS[i] for i in STANDARD_ORDER if i in items and i in ("address", "head_name")]
    expected += ["氏名"] + [LABELS[i] for i in STANDARD_ORDER if i in items and i not in ("address", "head_name")]
    assert labels_in_order(result.display) == expected
    # the request's order does not matter: the reversed request draws the same page
    again = renderer.render(kisai(list(reversed(items)),
                                  include=["head_and_relationship", "honseki", "my_number", "resident_code"],
                                  members=["100000001"]), caller=VERIFIED)
    assert _without_numbers(again.display) == _without_numbers(result.display)


def _without_numbers(display: str) -> str:
    return re.sub(r"発行番号.*", "", display)


def test_lines_follow_the_standard_order_for_every_member() -> None:
    data = KisaijikoData.model_validate({**KISAI["data"], "certify": {"items": ["sex", "birth_date"]}})
    kinds = [(line.kind, line.label) for line in data.lines]
    assert kinds == [k for _ in data.household.members for k in
                     (("person", "氏名"), ("item", "生年月日"), ("item", "性別"))]
    with pytest.raises(ValueError, match="repeats"):
        KisaijikoData.model_validate({**KISAI["data"], "certify": {"items": ["sex", "sex"]}})


def test_submit_to_and_purpose_only_when_given(renderer: Renderer) -> None:
    both = renderer.render(kisai()).display
    assert "提出先\\u3000株式会社見本銀行" in both and "使用目的\\u3000口座開設" in both
    env = kisai()
    del env["data"]["certify"]["submit_to"], env["data"]["certify"]["purpose"]
    neither = renderer.render(env).display
    assert "提出先" not in neither and "使用目的" not in neither


def test_a_certificate_never_certifies_an_item_the_request_does_not_include(renderer: Renderer) -> None:
    """The 住民票's omission rules decide what a third party may get; a 記載事項証明書 certifies what it lists, so
    an optional item asked for in data.certify.items but not included is refused (it printed as a blank line
    under 「上記のとおり…証明する」), a forbidden one with its hard rule; included, it prints with its value."""
    third = {"relation": "third_party", "purpose": "見本"}
    for items, index, rule in ((["birth_date", "relationship"], 1, "certify-item-not-included"),
                               (["honseki", "birth_date"], 0, "certify-item-not-included"),
                               (["birth_date", "my_number"], 1, "third-party-no-my-number")):
        with pytest.raises(RefusedError) as info:
            renderer.render(kisai(items, members=["100000001"], requester=third, include=None))
        assert (info.value.rule, info.value.field) == (rule, f"data.certify.items[{index}]")
    result = renderer.render(kisai(["relationship", "honseki", "birth_date"], members=["100000001"],
                                   requester=third, include=["head_and_relationship", "honseki"]))
    assert labels_in_order(result.display) == ["氏名", "生年月日", "続柄", "本籍"]
    assert "世帯主'" in result.display and "千葉県佐倉市見本町一丁目2番地'" in result.display
    assert not result.my_number_printed
    with pytest.raises(RefusedError) as info:
        renderer.render(kisai(["my_number"], requester=third, include=["my_number"]))
    assert info.value.rule == "third-party-no-my-number"


@pytest.mark.parametrize("count", [1, 5, 6, 7, 13])
@pytest.mark.parametrize("items", [["sex"], ["relationship", "birth_date", "sex"], list(STANDARD_ORDER)])
def test_a_persons_lines_stay_on_one_sheet(count: int, items: list[str]) -> None:
    """No sheet certifies an item of a person whose 氏名 is on another: a person who does not fit opens the
    next sheet (the rest of the sheet is padding, printed as nothing)."""
    members = [dict(KISAI["data"]["household"]["members"][i % len(KISAI["data"]["household"]["members"])],
                    person_id=f"1000001{i:02d}") for i in range(count)]
    household = {**KISAI["data"]["household"], "members": members}
    data = KisaijikoData.model_validate({**KISAI["data"], "household": household, "certify": {"items": items}})
    lines = data.lines
    sheets = [lines[i:i + LINES_PER_SHEET] for i in range(0, len(lines), LINES_PER_SHEET)]
    for sheet in sheets:
        named = {line.number for line in sheet if line.kind == "person"}
        assert {line.number for line in sheet if line.kind == "item"} <= named
        pads = [k for k, line in enumerate(sheet) if line.kind == "pad"]
        assert pads == list(range(len(sheet) - len(pads), len(sheet)))   # only at a sheet's end
    assert [line.number for line in lines if line.kind == "person"] == list(range(1, count + 1))
    per_person = 1 + sum(1 for i in items if i not in ("address", "head_name"))
    assert sum(1 for line in lines if line.kind == "item") == count * (per_person - 1)


def test_the_data_model_and_the_layout_agree_on_lines_per_sheet() -> None:
    spec = load_layout(ROOT / "layouts" / "juminhyo-kisaijiko.yaml", FontSet(ROOT / "fonts"))
    repeat = next(el for el in spec.elements if el.type == "repeat")
    assert repeat.per_sheet == LINES_PER_SHEET


def test_dv_refusal_is_the_juminhyo_refusal(renderer: Renderer) -> None:
    """The same household and registry: 記載事項証明書 and 住民票の写し refuse with the same rule and persons."""
    load(renderer, upsert("100000002", adversaries=["900000009"]))
    refusals = []
    for layout in ("juminhyo-kisaijiko", "juminhyo-kojin"):
        env = kisai()
        env["layout"] = layout
        if layout == "juminhyo-kojin":
            del env["data"]["certify"]
        with pytest.raises(RefusedError) as info:
            renderer.render(env, caller=VERIFIED)
        refusals.append((info.value.rule, getattr(info.value, "person_ids", None)))
    assert refusals[0] == refusals[1] == ("dv-block", ["100000002"])
    renderer.registry.lift(TENANT, "100000002", "juminhyo-kisaijiko", minutes=15, max_minutes=30,
                           reason="窓口で本人確認", reviewer="clerk01", now=renderer.settings.now())
    result = renderer.render(kisai(), caller=VERIFIED)
    assert "千葉県佐倉市見本町一丁目2番地3\\u3000見本ハイツ101号" in result.display, "printed in full under the lift"
    assert "記載省略" not in result.display


# --------------------------------------------------------------------------- the element in the layout language


@pytest.mark.parametrize(("edit", "where", "message"), [
    ("max_mm: params.impression_max_mm", "max_mm: params.undeclared", "not a declared integer parameter"),
    ("source: data.impression", "source: item.impression", "unknown name 'item'"),
    ("at: [157.5, 46.5]", "at: [200, 46.5]", "outside the 210×297 mm sheet"),
])
def test_layout_validation_of_true_size_images(tmp_path: Path, edit: str, where: str, message: str) -> None:
    text = (ROOT / "layouts" / "inkan-toroku.yaml").read_text(encoding="utf-8")
    assert text.count(edit) == 1
    path = tmp_path / "inkan-toroku.yaml"
    path.write_text(text.replace(edit, where), encoding="utf-8")
    with pytest.raises(LayoutError) as info:
        load_layout(path, FontSet(ROOT / "fonts"))
    assert any(message in d.message and d.path.startswith("elements[3].") for d in info.value.diagnostics), \
        [(d.path, d.message) for d in info.value.diagnostics]
