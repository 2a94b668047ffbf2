"""納税通知書 (tsuchisho-nozei) as a municipal reviewer reads it (issue 14): the 教示, the legal basis of the
levy, the 課税明細書, figures that reconcile, the 年度 in 和暦, and a page without empty rows, blank halves or
a 税目 broken across lines.

Every render uses a fixed clock and `request.issued_on` equal to its Tokyo date. Geometry is read from the
display list (PDF points, origin bottom-left; 1 mm = 72/25.4 pt).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import itertools
import json
import re
import shutil
from collections.abc import Iterator
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pypdf import PdfReader

from renderer.api import Renderer, RenderResult
from renderer.datamodels.notices import ASSET_LINES, SLIPS_PER_SHEET
from renderer.display import inline_dump
from renderer.errors import InputError
from renderer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = "tsuchisho-nozei"
SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / f"{LAYOUT}.json").read_text(encoding="utf-8"))
GOLDEN = sorted((ROOT / "golden" / LAYOUT).glob("*/input.json"))
ISSUED = dt.date(2027, 4, 9)   # the notice is mailed in April of its 年度, ten days or more before 第1期
MM = 72 / 25.4
PAGE_H = 841.89
TAX_NAMES = ("固定資産税", "都市計画税")


def renderer_for(tmp: Path, layouts: Path | None = None, issued: dt.date = ISSUED) -> Renderer:
    clock = dt.datetime.combine(issued, dt.time(9, 0), tzinfo=ZoneInfo("Asia/Tokyo"))
    return Renderer(Settings(layouts_dir=layouts or ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=tmp,
                             clock=lambda: clock))


def envelope(tenant: str = "122122", **data: Any) -> dict[str, Any]:
    env: dict[str, Any] = copy.deepcopy(SAMPLE)
    env["tenant"] = tenant
    env["request"]["issued_on"] = ISSUED.isoformat()
    if tenant == "281107":
        env["request"]["terminal"] = "chuo-ku-1"
    env["data"].update(data)
    return env


def render(tmp: Path, env: dict[str, Any], layouts: Path | None = None) -> RenderResult:
    issued = dt.date.fromisoformat(env["request"].get("issued_on", ISSUED.isoformat()))
    return renderer_for(tmp, layouts, issued).render(env, layout_id=LAYOUT)


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def copy_layouts(tmp: Path) -> Path:
    target = tmp / "layouts"
    shutil.copytree(ROOT / "layouts", target)
    return target


def set_tenant_parameters(layouts: Path, tenant: str, **values: str) -> None:
    path = layouts / "tenants" / f"{tenant}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc.setdefault("defaults", {}).setdefault("parameters", {})[LAYOUT] = values
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


# --------------------------------------------------------------------------- the display list


class Op:
    def __init__(self, line: str) -> None:
        parts = line.split()
        self.kind = parts[0]
        self.line = line
        self.text = line[line.index("'") + 1:line.rindex("'")].replace("\\u3000", "\u3000") if "'" in line else ""
        self.x, self.y = float(parts[1]), float(parts[2])
        self.w = float(parts[3]) if self.kind == "rect" else 0.0
        self.h = float(parts[4]) if self.kind == "rect" else 0.0
        self.watermark = "angle=" in line


def pages_of(display: str) -> list[list[Op]]:
    pages: list[list[Op]] = []
    for line in inline_dump(display).splitlines():
        if line.startswith("page "):
            pages.append([])
        elif line.startswith("  ") and pages:
            kind = line.split()[0]
            if kind in ("text", "rect", "line", "image", "barcode"):
                pages[-1].append(Op(line.strip()) if kind != "barcode" else Op(line.strip().replace("barcode qr",
                                                                                                       "barcode")))
    return pages


def texts(page: list[Op]) -> list[Op]:
    return [op for op in page if op.kind == "text" and not op.watermark]


# --------------------------------------------------------------------------- 1. 教示


@pytest.mark.parametrize(("tenant", "authority", "defendant", "board"), [
    ("122122", "佐倉市長", "佐倉市", "佐倉市固定資産評価審査委員会"),    # 一般市: its 長, the 市, its 委員会
    ("281107", "神戸市長", "神戸市", "神戸市固定資産評価審査委員会"),    # 政令市の区: the 市長 and the 市, not the 区
])
def test_the_notice_carries_the_kyoji_with_authority_defendant_and_periods(tmp_path: Path, tenant: str,
                                                                          authority: str, defendant: str,
                                                                          board: str) -> None:
    text = text_of(render(tmp_path, envelope(tenant)).pdf)
    assert "（教示）" in text
    # 審査請求 to the 市町村長, 3 months from receipt, 1 year limit (行審法18条)
    assert f"この通知書を受け取った日の翌日から起算して3か月以内に、{authority}に対して審査請求" in text
    assert "この処分があった日の翌日から起算して1年を経過したときは" in text and "行政不服審査法第18条" in text
    # 取消訴訟 after the 裁決 (地方税法19条の12), 6 months, the 被告 and its representative (行訴法11条, 14条)
    assert "裁決を経た後でなければ提起することができません（地方税法第19条の12）" in text
    assert (f"6か月以内に、{defendant}を被告として（訴訟において{defendant}を代表する者は{authority}となります。）"
            in text)
    # 審査の申出 for the 価格 to the 固定資産評価審査委員会 (地方税法432条1項, 434条)
    assert f"3か月以内に、{board}に対して審査の申出" in text and "地方税法第432条第1項" in text
    assert "同法第434条第2項" in text
    assert f"{defendant}を被告として（訴訟において{defendant}を代表する者は{board}となります。）" in text
    assert "行政事件訴訟法第11条、第14条" in text
    # legal phrases name the entity, not the address (no 都道府県, never the 区 of a 政令市)
    assert "県佐倉市長に対して" not in text and "県神戸市長に対して" not in text
    assert "中央区長に対して" not in text and "中央区を被告" not in text
    assert text.count("1年を経過したときは") == 3


def test_the_kyoji_entities_are_tenant_parameters(tmp_path: Path) -> None:
    layouts = copy_layouts(tmp_path)
    set_tenant_parameters(layouts, "122122", appeal_authority="佐倉市長（見本）", defendant="見本市",
                          defendant_representative="見本市長", review_board="見本市固定資産評価審査委員会")
    text = text_of(render(tmp_path / "state", envelope(), layouts).pdf)
    assert "佐倉市長（見本）に対して審査請求" in text
    assert "見本市を被告として（訴訟において見本市を代表する者は見本市長となります。）" in text
    assert "見本市固定資産評価審査委員会に対して審査の申出" in text


# --------------------------------------------------------------------------- 2. 根拠法令・条例


def test_the_notice_states_the_statute_and_the_ordinance_it_levies_under(tmp_path: Path) -> None:
    text = text_of(render(tmp_path, envelope()).pdf)
    assert "課税の根拠" in text
    assert "地方税法第341条〜第441条（固定資産税）" in text and "第702条〜第702条の8（都市計画税）" in text
    assert "佐倉市市税条例" in text   # the default: the municipality's name + 市税条例


def test_the_ordinance_is_a_tenant_parameter(tmp_path: Path) -> None:
    layouts = copy_layouts(tmp_path)
    set_tenant_parameters(layouts, "122122", ordinance="見本市税条例")
    text = text_of(render(tmp_path / "state", envelope(), layouts).pdf)
    assert "、見本市税条例" in text and "佐倉市市税条例" not in text


def test_without_city_planning_tax_the_notice_names_only_the_fixed_asset_tax(tmp_path: Path) -> None:
    env = json.loads((ROOT / "golden" / LAYOUT / "kotei-nomi-1ki" / "input.json").read_text(encoding="utf-8"))
    text = text_of(render(tmp_path, env).pdf)
    assert "令和9年度固定資産税納税通知書" in text and "都市計画税納税通知書" not in text
    assert "第702条" not in text and "課税なし" in text


# --------------------------------------------------------------------------- 3. 課税明細書


def test_the_notice_carries_a_kazei_meisaisho_line_per_parcel_and_building(tmp_path: Path) -> None:
    result = render(tmp_path, envelope())
    text = text_of(result.pdf)
    assert "課税明細書" in text
    for header in ("所在", "地番・家屋番号", "地目・種類構造", "地積・床面積", "価格", "課税標準額", "相当税額"):
        assert header in text
    page1 = [op.text for op in texts(pages_of(result.display)[0])]
    for asset in SAMPLE["data"]["assets"]:
        for value in (asset["kind"], asset["location"], asset["number"], asset["category"],
                      f"{Decimal(str(asset['area'])):,.2f}", f"{asset['value']:,}", f"{asset['tax_base']:,}",
                      f"{asset['tax']:,}", f"{asset['city_planning_tax_base']:,}", f"{asset['city_planning_tax']:,}"):
            assert value in page1, value


def test_the_most_lines_the_notice_holds_all_print_and_one_more_is_refused(tmp_path: Path) -> None:
    assets = [dict(SAMPLE["data"]["assets"][i % 2], number=f"{i + 1}番") for i in range(ASSET_LINES)]
    tax_base = sum(a["tax_base"] for a in assets) // 1000 * 1000
    city_base = sum(a["city_planning_tax_base"] for a in assets) // 1000 * 1000
    fixed, city = tax_base * 14 // 1000 // 100 * 100, city_base * 3 // 1000 // 100 * 100
    annual = fixed + city
    installments = copy.deepcopy(SAMPLE["data"]["installments"])
    for inst in installments:
        inst["amount"] = annual // 4 // 100 * 100
    installments[0]["amount"] = annual - 3 * installments[1]["amount"]
    env = envelope(assets=assets, tax_base=tax_base, city_planning_tax_base=city_base, fixed_asset_tax=fixed,
                   city_planning_tax=city, annual_tax=annual, installments=installments)
    page1 = [op.text for op in texts(pages_of(render(tmp_path / "a", env).display)[0])]
    assert all(f"{i + 1}番" in page1 for i in range(ASSET_LINES))
    env["data"]["assets"].append(assets[0])
    with pytest.raises(InputError) as info:
        render(tmp_path / "b", env)
    assert info.value.exit_code == 2 and info.value.diagnostics[0].path == "data.assets"


# --------------------------------------------------------------------------- 4. figures that reconcile


def _amount(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.parametrize("case", [p.parent.name for p in GOLDEN])
def test_the_printed_figures_reconcile(tmp_path: Path, case: str) -> None:
    """On the paper: 課税標準額 × 税率 (100円未満切捨て) = 税額 per tax; the taxes add up to the 年税額; the
    期別 amounts add up to the 年税額 (地方税法20条の4の2, 350条)."""
    env = json.loads((ROOT / "golden" / LAYOUT / case / "input.json").read_text(encoding="utf-8"))
    page = texts(pages_of(render(tmp_path, env).display)[0])
    rows: dict[float, list[Op]] = {}
    for op in page:
        rows.setdefault(round(op.y, 1), []).append(op)
    taxes = 0
    for name in TAX_NAMES:
        label = [op for op in page if op.text.replace("\u3000", "") == name and op.x < 60 * MM]
        if not label:
            continue
        row = sorted((op for op in rows[round(label[0].y, 1)] if op.x < 115 * MM), key=lambda o: o.x)
        cells = [op.text for op in row]
        if "課税なし" in cells:
            continue
        base, rate, tax = _amount(cells[1]), Decimal(cells[2].rstrip("％")), _amount(cells[3])
        assert base % 1000 == 0
        expected = (base * rate / 100 / 100).to_integral_value(rounding=ROUND_FLOOR) * 100
        assert tax == expected, f"{name}: {base:,} × {rate}% → {expected:,}, printed {tax:,}"
        taxes += tax
    annual_label = next(op for op in page if op.text == "年税額")
    annual = _amount(next(op.text for op in rows[round(annual_label.y, 1)] if op.text != "年税額"))
    assert taxes == annual
    periods = [op for op in page if re.fullmatch(r"第\d+期|全期", op.text)]
    amounts = [_amount(next(o.text for o in rows[round(p.y, 1)] if re.fullmatch(r"[\d,]+", o.text)))
               for p in periods]
    assert periods and sum(amounts) == annual


def test_the_sample_data_reconciles_with_the_standard_rate() -> None:
    d = SAMPLE["data"]
    assert (Decimal(d["tax_base"]) * Decimal("0.014")).to_integral_value(ROUND_FLOOR) // 100 * 100 == \
        d["fixed_asset_tax"]
    assert (Decimal(d["city_planning_tax_base"]) * Decimal("0.003")).to_integral_value(ROUND_FLOOR) // 100 * 100 \
        == d["city_planning_tax"]
    assert d["fixed_asset_tax"] + d["city_planning_tax"] == d["annual_tax"] == sum(
        i["amount"] for i in d["installments"])
    # the 課税標準額 is the assets' total, 1,000円未満切捨て (地方税法20条の4の2第1項)
    assert sum(a["tax_base"] for a in d["assets"]) // 1000 * 1000 == d["tax_base"]
    assert sum(a["city_planning_tax_base"] for a in d["assets"]) // 1000 * 1000 == d["city_planning_tax_base"]


# --------------------------------------------------------------------------- 5. 年度 in 和暦


def test_the_tax_year_is_printed_in_wareki_like_every_date(tmp_path: Path) -> None:
    text = text_of(render(tmp_path, envelope()).pdf)
    assert "令和9年度固定資産税・都市計画税納税通知書" in text
    assert text.count("年度・期別令和9年度") == 3 * len(SAMPLE["data"]["installments"])   # every part of every 納付書
    assert "2027年度" not in text and "2027年" not in text   # (the 発行番号 starts with the date as digits: 20270409)


def test_a_year_that_began_before_the_era_changed_keeps_the_old_era(tmp_path: Path) -> None:
    """2019年度 began on 2019-04-01, under 平成: 平成31年度 (the 年度 is printed through its first day)."""
    text = text_of(render(tmp_path, envelope(tax_year=2019)).pdf)
    assert "平成31年度固定資産税" in text and "令和元年度" not in text


# --------------------------------------------------------------------------- 6. the page


def _bands(page: list[Op], x0: float, x1: float, y0: float, y1: float) -> Iterator[tuple[float, float]]:
    """The horizontal bands between the ruled lines of a table inside (x0, x1) × (y0, y1) (points)."""
    edges: set[float] = set()
    for op in page:
        if op.kind == "rect" and op.x >= x0 - 1 and op.x + op.w <= x1 + 1 and y0 <= op.y <= y1:
            edges.update((round(op.y, 1), round(op.y + op.h, 1)))
    ordered = sorted(edges)
    for lo, hi in itertools.pairwise(ordered):
        if hi - lo > 2:
            yield lo, hi


def test_the_installment_table_has_no_empty_rows(tmp_path: Path) -> None:
    page = pages_of(render(tmp_path, envelope()).display)[0]
    right = (118 * MM, 197 * MM)
    bands = list(_bands(page, *right, PAGE_H - 160 * MM, PAGE_H - 85 * MM))
    assert len(bands) == 1 + len(SAMPLE["data"]["installments"])   # the header and one row per 期
    for lo, hi in bands:
        assert any(lo < op.y < hi and right[0] <= op.x <= right[1] for op in texts(page)), \
            f"an empty row between {lo} and {hi} pt"


def test_no_page_is_blank_in_its_top_half(tmp_path: Path) -> None:
    pages = pages_of(render(tmp_path, envelope()).display)
    assert len(pages) == 3   # the notice, then 3 + 1 納付書
    for n, page in enumerate(pages, start=1):
        drawn = [op for op in page if not op.watermark and op.y > PAGE_H / 2]
        assert drawn, f"page {n} is blank in its top half"


PART_TITLES = ("領収証書", "納付済通知書", "領収済通知書")


def _titles(page: list[Op]) -> list[str]:
    return [op.text for op in texts(page) if op.text in PART_TITLES]


def test_the_slips_start_on_the_second_sheet_three_to_a_sheet(tmp_path: Path) -> None:
    layout = yaml.safe_load((ROOT / "layouts" / f"{LAYOUT}.yaml").read_text(encoding="utf-8"))
    (slips,) = [el for el in layout["elements"] if el.get("items") == "data.installments" and "start_sheet" in el]
    assert (slips["per_sheet"], slips["start_sheet"]) == (SLIPS_PER_SHEET, 2)
    assert slips["block"] == [{"type": "part", "use": "nofusho-3ren"}]
    pages = pages_of(render(tmp_path, envelope()).display)
    assert _titles(pages[0]) == []
    assert sorted(_titles(pages[1])) == sorted(PART_TITLES * 3)
    assert sorted(_titles(pages[2])) == sorted(PART_TITLES)


def _strip_texts(page: list[Op], strip: int) -> list[Op]:
    """The texts of the strip-th 納付書 (0-based) of a slip sheet: 99 mm strips from the top."""
    top, bottom = PAGE_H - strip * 99 * MM, PAGE_H - (strip + 1) * 99 * MM
    return [op for op in texts(page) if bottom < op.y <= top]


def _part_of(op: Op) -> int:
    """Which part of its strip an op is on: 0 領収証書 (x 6–64 mm), 1 納付済通知書, 2 領収済通知書 (128–204)."""
    return 0 if op.x < 65.5 * MM else 1 if op.x < 126.5 * MM else 2


def test_every_part_of_every_slip_carries_what_a_bank_needs(tmp_path: Path) -> None:
    """Three parts per 期, each with its 領収日付印 area, 納入先, 税目, 年度・期別, 納期限, 通知書番号, amount
    with 円, the payer's address and name (domain reference §6.1)."""
    result = render(tmp_path, envelope())
    pages = pages_of(result.display)
    installments = SAMPLE["data"]["installments"]
    for n, inst in enumerate(installments):
        strip = _strip_texts(pages[1 + n // SLIPS_PER_SHEET], n % SLIPS_PER_SHEET)
        amount = f"{inst['amount']:,}円"
        for part in range(3):
            mine = [op.text for op in strip if _part_of(op) == part]
            joined = "".join(mine)
            assert PART_TITLES[part] in mine and "領収日付印" in mine, (n, part, mine)
            assert amount in mine and "R9-000017" in mine, (n, part)
            for needed in ("納入先", "佐倉市会計管理者", "固定資産税・都市計画税", "令和9年度", inst["period"],
                           "千葉県佐倉市栄町", "見本\u3000花子\u3000様", "納期限", "通知書番号"):
                assert needed in joined, (n, part, needed)


def test_the_codes_fallback_digits_are_legible_and_complete(tmp_path: Path) -> None:
    """The digits under the GS1-128 and the eL番号 are the manual-entry fallback: 8 pt or more, never
    condensed, and the digit lines put together give the symbol's whole human-readable text."""
    from renderer.barcodes.gs1 import convenience_barcode

    display = render(tmp_path, envelope()).display
    pages = pages_of(display)
    inst = SAMPLE["data"]["installments"][0]
    slip = inst["slip"]
    symbol = convenience_barcode(issuer_code=slip["issuer_code"], free_field=slip["free_field"],
                                 reissue=slip["reissue"], due_date=dt.date.fromisoformat(inst["due_on"]),
                                 stamp_flag=slip["stamp_flag"], amount=inst["amount"])
    strip = _strip_texts(pages[1], 0)
    digit_lines = [op for op in strip if _part_of(op) == 2 and re.fullmatch(r"[()0-9-]+", op.text)]
    assert "".join(op.text for op in digit_lines) == symbol.human_readable
    el = [op for op in strip if op.text.startswith("eL番号")]
    assert len(el) == 1 and slip["el_number"] in el[0].text
    for op in [*digit_lines, *el]:
        line = op.line
        size = float(line.split()[4])
        assert size >= 8.0, line
        assert "hscale" not in line and "h_scale" not in line, line


@pytest.mark.parametrize("case", [p.parent.name for p in GOLDEN] + ["twelve-installments"])
def test_no_tax_name_is_broken_across_lines(tmp_path: Path, case: str) -> None:
    if case == "twelve-installments":
        env = envelope()
        installments = []
        for i in range(12):
            inst = copy.deepcopy(SAMPLE["data"]["installments"][i % 4])
            inst.update(period=f"第{i + 1}期", amount=13700 if i == 0 else 12800,
                        due_on=(dt.date(2027, 4, 30) + dt.timedelta(days=30 * i)).isoformat())
            installments.append(inst)
        env["data"]["installments"] = installments
    else:
        env = json.loads((ROOT / "golden" / LAYOUT / case / "input.json").read_text(encoding="utf-8"))
    for page in pages_of(render(tmp_path, env).display):
        runs = [op.text for op in texts(page)]
        for a, b in itertools.pairwise(runs):
            for name in TAX_NAMES:
                for k in range(1, len(name)):
                    assert not (a.endswith(name[:k]) and b.startswith(name[k:])), f"{name} split: {a!r} / {b!r}"


def test_a_special_ward_does_not_issue_the_notice(tmp_path: Path) -> None:
    """In Tokyo's 特別区 固定資産税・都市計画税 are levied by 東京都 (地方税法734条1項): a 特別区 tenant's
    render is refused as a usage error before anything is spent; a 政令市の区 still issues it."""
    from renderer.errors import UsageError

    renderer = renderer_for(tmp_path)
    env = envelope("131016")
    with pytest.raises(UsageError, match="地方税法734条1項") as info:
        renderer.render(env, layout_id=LAYOUT)
    assert info.value.field == "tenant" and info.value.exit_code == 2
    assert renderer.issue_log.records() == []
    assert renderer.tenant("131016").kinds == {"special_ward"}
    assert renderer.tenant("281107").kinds == {"ward_office"} and renderer.tenant("122122").kinds == set()
