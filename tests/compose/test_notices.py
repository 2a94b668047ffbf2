"""通知書: declared parameters and options only, window geometry, sandboxed templates, barcodes on the page."""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from renderer.api import Renderer
from renderer.errors import LayoutError
from renderer.fonts import FontSet
from renderer.settings import Settings
from renderer.spec.load import load_yaml_text
from renderer.spec.validate import validate_loaded

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "layouts" / "samples" / "tsuchisho-kyufu-kettei.json").read_text(encoding="utf-8"))
FONTS = FontSet(ROOT / "fonts")


def renderer_for(tmp: Path, layouts: Path | None = None) -> Renderer:
    return Renderer(Settings(layouts_dir=layouts or ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=tmp))


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def envelope(tenant: str = "122122", **data: Any) -> dict[str, Any]:
    env: dict[str, Any] = copy.deepcopy(SAMPLE)
    env["tenant"] = tenant
    env["data"].update(data)
    return env


@pytest.mark.parametrize(("tenant", "amount"), [("122122", "50,000円"), ("131016", "80,000円"),
                                                ("281107", "1,049,999円")])
def test_amount_is_50000_plus_the_tenants_x(tmp_path: Path, tenant: str, amount: str) -> None:
    result = renderer_for(tmp_path).render(envelope(tenant), layout_id="tsuchisho-kyufu-kettei")
    assert amount in text_of(result.pdf)


def test_data_values_are_never_templates(tmp_path: Path) -> None:
    env = envelope()
    env["data"]["addressee"]["name"] = "見本{{ 7*7 }}太郎"
    text = text_of(renderer_for(tmp_path).render(env, layout_id="tsuchisho-kyufu-kettei").pdf)
    assert "{{7*7}}" in text and "見本49太郎" not in text


def _copy_layouts(tmp: Path) -> Path:
    target = tmp / "layouts"
    shutil.copytree(ROOT / "layouts", target)
    return target


def test_tenant_may_set_only_declared_valid_parameters(tmp_path: Path) -> None:
    layouts = _copy_layouts(tmp_path)
    tenant = layouts / "tenants" / "131016.yaml"
    tenant.write_text(tenant.read_text(encoding="utf-8").replace("x: 30000", "x: 1234567\n      y: 1"),
                      encoding="utf-8")
    with pytest.raises(LayoutError) as info:
        renderer_for(tmp_path / "s", layouts).render(envelope("131016"), layout_id="tsuchisho-kyufu-kettei")
    problems = {d.path: d.message for d in info.value.diagnostics}
    assert "at most 6 digits" in problems["defaults.parameters.tsuchisho-kyufu-kettei.x"]
    assert "declares no parameter 'y'" in problems["defaults.parameters.tsuchisho-kyufu-kettei.y"]


def test_the_standard_option_switches_the_account_block(tmp_path: Path) -> None:
    layouts = _copy_layouts(tmp_path)
    tenant = layouts / "tenants" / "122122.yaml"
    tenant.write_text(tenant.read_text(encoding="utf-8").replace(
        "    seal_is_black_note: true", "    seal_is_black_note: true\n    public_account_block: false"),
        encoding="utf-8")
    off = text_of(renderer_for(tmp_path / "s", layouts).render(envelope(), layout_id="tsuchisho-kyufu-kettei").pdf)
    on = text_of(renderer_for(tmp_path / "t").render(envelope(), layout_id="tsuchisho-kyufu-kettei").pdf)
    assert "公金受取口座" in on and "振込先" in on
    assert "公金受取口座" not in off and "振込先" not in off


def test_address_block_outside_the_window_is_a_layout_error() -> None:
    text = (ROOT / "layouts" / "tsuchisho-kyufu-kettei.yaml").read_text(encoding="utf-8")
    moved = text.replace("in_window: true, at: [25, 37]", "in_window: true, at: [25, 52]")
    assert moved != text
    with pytest.raises(LayoutError) as info:
        validate_loaded(load_yaml_text(moved, source="moved.yaml"), FONTS)
    (diag,) = info.value.diagnostics
    assert diag.path.endswith(".at") and "outside the window's safe area" in diag.message


def test_forbidden_functions_cannot_be_expressed() -> None:
    text = (ROOT / "layouts" / "tsuchisho-kyufu-kettei.yaml").read_text(encoding="utf-8")
    for bad in ("omit_prefecture: true\n", "address_short: true\n"):
        with pytest.raises(LayoutError) as info:
            validate_loaded(load_yaml_text(text + bad, source="bad.yaml"), FONTS)
        assert info.value.diagnostics[0].message == "unknown key"


def test_customer_barcode_is_drawn_under_the_name_inside_the_window(tmp_path: Path) -> None:
    result = renderer_for(tmp_path).render(envelope(), layout_id="tsuchisho-kyufu-kettei")
    bars = [line for line in result.display.splitlines() if line.startswith("  rect") and "fill=0.00" in line]
    assert len(bars) == 67                                   # start + 20 data + check + stop, 3 bars each
    xs = [float(b.split()[1]) for b in bars]
    ys = [float(b.split()[2]) for b in bars]
    mm = 72 / 25.4
    assert 25 * mm <= min(xs) and max(xs) <= 105 * mm          # the window's safe area, left to right
    assert 842 - 54 * mm <= min(ys)                          # above the bottom of the safe area


def test_tax_notice_has_one_slip_with_a_gs1_barcode_per_installment(tmp_path: Path) -> None:
    env = json.loads((ROOT / "layouts" / "samples" / "tsuchisho-nozei.json").read_text(encoding="utf-8"))
    result = renderer_for(tmp_path).render(env, layout_id="tsuchisho-nozei")
    text = text_of(result.pdf)
    assert result.pages == 3   # the notice, then three 3連 納付書 to a sheet
    for n in range(1, 5):
        assert f"第{n}期" in text
    assert text.count("(91)912345-") == 4 and "154,500" in text   # one GS1-128, on the 領収済通知書
    assert result.display.count("barcode qr") == 4



def test_disposition_notice_carries_the_appeal_instructions(tmp_path: Path) -> None:
    text = text_of(renderer_for(tmp_path).render(envelope(), layout_id="tsuchisho-kyufu-kettei").pdf)
    assert "審査請求" in text and "3か月以内" in text                # 審査請求: within 3 months
    assert "取消しを求める訴え" in text and "6か月以内" in text        # 取消訴訟: within 6 months
    assert "佐倉市長に対して審査請求" in text and "県佐倉市長に対して" not in text   # the entity, not the address


@pytest.mark.parametrize(("tenant", "authority", "defendant"), [
    ("122122", "佐倉市長", "佐倉市"),    # 一般市: its 長; the 市 itself
    ("281107", "神戸市長", "神戸市"),    # 政令市の区長の処分: the 市長 (最上級行政庁, 行審法4条4号); the 市, not the 区
    ("131016", "千代田区長", "千代田区"),  # 特別区: a 地方公共団体 of its own
])
def test_the_kyoji_names_the_right_authority_and_defendant(tmp_path: Path, tenant: str, authority: str,
                                                           defendant: str) -> None:
    text = text_of(renderer_for(tmp_path).render(envelope(tenant), layout_id="tsuchisho-kyufu-kettei").pdf)
    assert f"{authority}に対して審査請求" in text
    assert f"{defendant}を被告として" in text and f"{defendant}を代表する者は{defendant}長" in text
    # legal phrases name the entity without the 都道府県; the one-year limits of 行審法18条2項 and 行訴法14条
    assert "県神戸市長に対して" not in text and "中央区長に対して" not in text and "県佐倉市を被告" not in text
    assert text.count("1年を経過したときは") == 2


def test_the_kyoji_authority_and_defendant_are_tenant_parameters(tmp_path: Path) -> None:
    layouts = _copy_layouts(tmp_path)
    tenant = layouts / "tenants" / "122122.yaml"
    text = tenant.read_text(encoding="utf-8")
    assert "  parameters:\n" not in text
    text = text.replace("  options:\n", "  parameters:\n    tsuchisho-kyufu-kettei:\n"
                                         "      appeal_authority: 千葉県知事\n      defendant: 千葉県\n"
                                         "      defendant_representative: 千葉県知事\n  options:\n", 1)
    tenant.write_text(text, encoding="utf-8")
    result = renderer_for(tmp_path / "state", layouts).render(envelope(), layout_id="tsuchisho-kyufu-kettei")
    out = text_of(result.pdf)
    assert "千葉県知事に対して審査請求" in out and "千葉県を被告として" in out and "代表する者は千葉県知事" in out


def _tokusoku(tenant: str = "122122") -> dict[str, Any]:
    env: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / "tokusokujo-hagaki.json").read_text(
        encoding="utf-8"))
    env["tenant"] = tenant
    return env


@pytest.mark.parametrize(("tenant", "authority", "defendant"), [
    ("122122", "佐倉市長", "佐倉市"), ("281107", "神戸市長", "神戸市"), ("131016", "千代田区長", "千代田区"),
])
def test_the_tokusokujo_carries_the_kyoji(tmp_path: Path, tenant: str, authority: str, defendant: str) -> None:
    """A 督促 is a 処分 open to 審査請求 (地方税法19条): the 督促状 states the remedy, whom to ask, the periods and the
    被告 (行政不服審査法82条1項, 行政事件訴訟法46条1項) — it had none (municipal review), inside the sealed panel."""
    result = renderer_for(tmp_path).render(_tokusoku(tenant), layout_id="tokusokujo-hagaki")
    text = text_of(result.pdf)
    assert "（教示）" in text and f"{authority}に対して審査請求" in text and "3か月以内" in text
    assert "地方税法第19条の4" in text and "第19条の12" in text and "6か月以内" in text
    assert f"{defendant}を被告として" in text and "県佐倉市長に対して" not in text
    [line] = [ln for ln in result.display.splitlines() if "'（教示）" in ln]
    assert " 6.00 '" in line, line   # 6 pt as declared: it fits without shrinking
    # on the inside (sealed) sheet, never the outside: the page that places the form (or draws the text) holding it
    forms = result.display.split("\npage 1 ")[0]
    holder = next((f.split()[0] for f in forms.split("\nform ")[1:] if "'（教示）" in f), None)
    outside, inside = result.display.split("\npage 1 ")[1].split("\npage 2 ")

    def placed(page: str) -> bool:
        return f"  form {holder}\n" in page + "\n" if holder else "'（教示）" in page

    assert placed(inside) and not placed(outside)


def test_the_tokusokujo_kyoji_is_the_tenants_own_wording_when_set(tmp_path: Path) -> None:
    layouts = _copy_layouts(tmp_path)
    tenant = layouts / "tenants" / "122122.yaml"
    text = tenant.read_text(encoding="utf-8")
    wording = "（教示）この督促に不服がある場合は、見本市長に対して審査請求をすることができます。"
    text = text.replace("  options:\n", f"  parameters:\n    tokusokujo-hagaki:\n      appeal_text: {wording}\n"
                                         "  options:\n", 1)
    tenant.write_text(text, encoding="utf-8")
    out = text_of(renderer_for(tmp_path / "state", layouts).render(_tokusoku(), layout_id="tokusokujo-hagaki").pdf)
    assert "見本市長に対して審査請求" in out and "第19条の12" not in out


@pytest.mark.parametrize("layout", ["tokusokujo-hagaki", "tsuchisho-nozei"])
def test_the_sample_watermark_never_covers_a_bar(tmp_path: Path, layout: str) -> None:
    """The カスタマバーコード's bars and a 納付書's GS1-128 bars are filled rectangles: they are ink, drawn over
    the opaque 「見本」 (it erased about ten bars under the addressee's name on the はがき, found by looking at
    the page), while light shading stays under it."""
    from renderer.api import Mode
    from renderer.compose.compose import Composer
    from renderer.compose.static import WATERMARK_GRAY
    from renderer.display import Rect, TextRun

    r = renderer_for(tmp_path)
    env = json.loads((ROOT / "layouts" / "samples" / f"{layout}.json").read_text(encoding="utf-8"))
    doc = r.prepare(env, layout_id=layout, mode=Mode.BATCH).doc
    bars = 0
    for page in Composer(doc, r.fonts).stream([1]):
        ops = list(page.flat_ops())
        mark = next(i for i, op in enumerate(ops) if isinstance(op, TextRun) and op.gray == WATERMARK_GRAY)
        dark = [i for i, op in enumerate(ops) if isinstance(op, Rect) and op.fill_gray is not None
                and op.fill_gray <= WATERMARK_GRAY]
        light = [i for i, op in enumerate(ops) if isinstance(op, Rect) and op.fill_gray is not None
                 and op.fill_gray > WATERMARK_GRAY]
        assert all(i > mark for i in dark) and all(i < mark for i in light)
        bars += len(dark)
    assert bars >= 60   # the page(s) carry barcodes: the test looked at bars
