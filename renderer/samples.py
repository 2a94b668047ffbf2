"""Sample seals for sample tenants: a square 公印 that visibly says 見本.

In: the office title (e.g. 千葉県佐倉市長) and the fonts directory. Out: PNG bytes (black on white,
600×600 px). Used by `chohyo tenants sample-seal` to make the seals of `layouts/tenants/`, so a demo
certificate can never pass for a real one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE_PX = 600


def make_sample_seal(office_title: str, fonts_dir: Path) -> bytes:
    img = Image.new("L", (SIZE_PX, SIZE_PX), 255)
    draw = ImageDraw.Draw(img)
    draw.rectangle((12, 12, SIZE_PX - 13, SIZE_PX - 13), outline=0, width=22)
    draw.rectangle((52, 52, SIZE_PX - 53, SIZE_PX - 53), outline=0, width=6)
    # The office name + 之印 in vertical columns of up to 4 characters, right to left, as seals are cut.
    text = f"{office_title}之印"
    columns = [text[i:i + 4] for i in range(0, len(text), 4)]
    font_path = str(fonts_dir / "ipaexm.ttf")
    inner = SIZE_PX - 2 * 70
    col_w = inner / max(len(columns), 1)
    size = int(min(col_w * 0.9, inner / 4 * 0.9))
    font = ImageFont.truetype(font_path, size)
    for ci, col in enumerate(columns):
        x = SIZE_PX - 70 - col_w * (ci + 0.5)
        for ri, ch in enumerate(col):
            y = 70 + inner / 4 * (ri + 0.5)
            draw.text((x, y), ch, font=font, fill=96, anchor="mm")
    # 見本 across the seal in heavy black type with a white outline, so it reads at any size.
    big = ImageFont.truetype(str(fonts_dir / "ipaexg.ttf"), 190)
    draw.text((SIZE_PX / 2, SIZE_PX / 2), "見本", font=big, fill=0, anchor="mm", stroke_width=12,
              stroke_fill=255)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# --------------------------------------------------------------------------- sample list data
# Fictitious residents for the 一覧表 samples, golden cases and benchmarks: deterministic for a seed.

_FAMILY = ["見本", "試験", "仮名", "例示", "架空", "模擬", "雛形", "検証"]
_GIVEN = ["太郎", "花子", "一郎", "次郎", "三郎", "春子", "夏子", "秋子", "冬子", "健一", "裕子", "翔"]
_KANA_FAMILY = ["ミホン", "シケン", "カメイ", "レイジ", "カクウ", "モギ", "ヒナガタ", "ケンショウ"]
_KANA_GIVEN = ["タロウ", "ハナコ", "イチロウ", "ジロウ", "サブロウ", "ハルコ", "ナツコ", "アキコ", "フユコ",
               "ケンイチ", "ユウコ", "ショウ"]
_WARDS = ["中央区", "東灘区", "灘区", "兵庫区", "北区", "長田区", "須磨区", "垂水区", "西区"]
_REASONS = ["転入", "転出", "転居", "出生", "死亡"]


def sample_idosha_rows(count: int, *, seed: int = 1, wards: int = 3) -> list[dict[str, object]]:
    """`count` 異動 rows spread over the first `wards` 行政区 of 神戸市 (all data fictitious)."""
    import random

    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(count):
        f, g = rng.randrange(len(_FAMILY)), rng.randrange(len(_GIVEN))
        ward = _WARDS[rng.randrange(wards)]
        reason = _REASONS[rng.randrange(len(_REASONS))]
        before = {"prefecture": "兵庫県", "municipality": "神戸市", "ward": ward,
                  "town": f"見本町{rng.randint(1, 9)}丁目", "block": f"{rng.randint(1, 30)}番{rng.randint(1, 20)}号"}
        after = {"prefecture": "兵庫県", "municipality": "神戸市", "ward": ward,
                 "town": f"試験通{rng.randint(1, 9)}丁目", "block": f"{rng.randint(1, 30)}番地{rng.randint(1, 9)}"}
        if rng.random() < 0.2:
            after["building"] = f"見本マンション{rng.randint(1, 12)}0{rng.randint(1, 9)}号室"
        row: dict[str, object] = {
            "person_id": f"{300000000 + i}",
            "moved_on": f"2026-11-{rng.randint(1, 26):02d}",
            "reason": reason,
            "name": f"{_FAMILY[f]}　{_GIVEN[g]}",
            "name_kana": f"{_KANA_FAMILY[f]}　{_KANA_GIVEN[g]}",
            "birth_date": f"{rng.randint(1935, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "ward": ward,
        }
        if reason in ("転居", "転出", "死亡"):
            row["address_before"] = before
        if reason in ("転入", "転居", "出生"):
            row["address_after"] = after
        if reason == "転入":
            row["address_before"] = {"prefecture": "大阪府", "municipality": "大阪市", "ward": "北区",
                                     "town": "見本町", "block": f"{rng.randint(1, 9)}番{rng.randint(1, 9)}号"}
        rows.append(row)
    return rows


def sample_kyufu_rows(count: int, *, seed: int = 1) -> list[dict[str, object]]:
    """`count` 支給決定 rows with amounts of 50,000 円 + X (all data fictitious)."""
    import random

    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(count):
        f, g = rng.randrange(len(_FAMILY)), rng.randrange(len(_GIVEN))
        rows.append({
            "person_id": f"{400000000 + i}",
            "decided_on": f"2026-11-{rng.randint(1, 26):02d}",
            "name": f"{_FAMILY[f]}　{_GIVEN[g]}",
            "address": {"prefecture": "千葉県", "municipality": "佐倉市", "town": f"見本町{rng.randint(1, 5)}丁目",
                        "block": f"{rng.randint(1, 40)}番{rng.randint(1, 20)}号"},
            "amount": 50_000 + rng.choice([0, 0, 10_000, 30_000, rng.randint(0, 999) * 100]),
            "account": f"見本銀行 {rng.randint(100, 999)}支店 普通 ****{rng.randint(1000, 9999)}",
        })
    return rows


def sample_notices(count: int, *, seed: int = 1, start: int = 1) -> Iterator[dict[str, object]]:
    """`count` 支給決定通知書 envelopes for the sample tenant 佐倉市 (122122), one per resident, each with a
    unique 文書番号 (佐福第{n}号, n from `start`) that tests find in the printed text. All data fictitious."""
    import random

    rng = random.Random(seed)
    towns = [("2850014", "栄町"), ("2850811", "表町"), ("2850023", "新町"), ("2850017", "城内町"),
             ("2850005", "宮前"), ("2850837", "王子台")]
    for i in range(start, start + count):
        f, g = rng.randrange(len(_FAMILY)), rng.randrange(len(_GIVEN))
        postcode, town = towns[rng.randrange(len(towns))]
        address: dict[str, object] = {"postal_code": postcode, "prefecture": "千葉県", "municipality": "佐倉市",
                                      "town": town, "block": f"{rng.randint(1, 9)}番{rng.randint(1, 20)}号"}
        if rng.random() < 0.3:
            address["building"] = f"見本ハイツ{rng.randint(1, 9)}0{rng.randint(1, 9)}号室"
        yield {
            "layout": "tsuchisho-kyufu-kettei", "tenant": "122122",
            "request": {"requester": {"relation": "public_office"}, "channel": "mail", "operator": "batch01",
                        "output": "print", "terminal": "honcho-1", "printer": "prn-002"},
            "data": {
                "addressee": {"person_id": f"{500000000 + i}", "name": f"{_FAMILY[f]}　{_GIVEN[g]}",
                              "address": address, "postal_town": town},
                "document_number": f"佐福第{i}号", "decided_on": "2026-11-20", "payment_on": "2026-12-10",
                "household_size": rng.randint(1, 6),
                "account": {"bank": "見本銀行", "branch": "佐倉支店", "kind": "普通",
                            "number_masked": f"****{rng.randint(100, 999)}",
                            "holder_kana": f"{_KANA_FAMILY[f]}　{_KANA_GIVEN[g]}",
                            "public_account": rng.random() < 0.5},
            },
        }
