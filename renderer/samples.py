"""Sample seals for sample tenants, and fictitious sample data for the lists and notices.

In: the office title (e.g. 千葉県佐倉市長) and the fonts directory. Out: PNG bytes (black on white,
600×600 px). Used by `chohyo tenants sample-seal` to make the seals of `layouts/tenants/`, so a demo
certificate can never pass for a real one.
The generators `sample_idosha_rows`, `sample_kyufu_rows` and `sample_notices` make deterministic (per seed)
fictitious rows and envelopes for samples, golden cases, tests and benchmarks; see the notes above them.
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
# What a clerk checks at a glance holds for every row: the 振り仮名 is the reading of the kanji name
# (`READINGS`); no resident takes the family name 見本, which the sample tenants give their officials, so
# no resident shares a 市長's (signer's) name; a 出生 row's person is born on the 異動日; a 転出 row carries
# its 転出先 in full from 都道府県; a 支給額 is 50,000 円 + X; a 決定日 is a business day; a masked account
# number shows 7 digits as 「＊＊＊＊」 + the last 3, like the notices.

_FAMILY = ["標本", "試験", "仮名", "例示", "架空", "模擬", "雛形", "検証"]
_GIVEN = ["太郎", "花子", "一郎", "次郎", "三郎", "春子", "夏子", "秋子", "冬子", "健一", "裕子", "翔"]
_KANA_FAMILY = ["ヒョウホン", "シケン", "カメイ", "レイジ", "カクウ", "モギ", "ヒナガタ", "ケンショウ"]
_KANA_GIVEN = ["タロウ", "ハナコ", "イチロウ", "ジロウ", "サブロウ", "ハルコ", "ナツコ", "アキコ", "フユコ",
               "ケンイチ", "ユウコ", "ショウ"]
#: the reading (振り仮名) of every family and given name the samples use, 見本 (the notices' addressee) included
READINGS: dict[str, str] = {**dict(zip(_FAMILY, _KANA_FAMILY, strict=True)),
                            **dict(zip(_GIVEN, _KANA_GIVEN, strict=True)), "見本": "ミホン"}
_WARDS = ["中央区", "東灘区", "灘区", "兵庫区", "北区", "長田区", "須磨区", "垂水区", "西区"]
_REASONS = ["転入", "転出", "転居", "出生", "死亡"]
#: where a 転出 goes: other municipalities (the towns and numbers below are fictitious)
_DESTINATIONS = [("大阪府", "大阪市", "北区"), ("京都府", "京都市", "中京区"), ("東京都", "千代田区", None),
                 ("千葉県", "佐倉市", None), ("兵庫県", "姫路市", None)]
#: 2026年11月1日–26日 without Saturdays, Sundays and the holidays 文化の日 (3日) and 勤労感謝の日 (23日)
_BUSINESS_DAYS = [2, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 24, 25, 26]
_BRANCHES = ["佐倉支店", "志津支店", "臼井支店", "本店営業部"]
BASE_AMOUNT = 50_000


def masked_account_number(number: int) -> str:
    """A 7-digit account number with its first 4 digits masked by the full-width 伏字: ＊＊＊＊567."""
    return f"＊＊＊＊{number % 1000:03d}"


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
        moved_on = f"2026-11-{rng.randint(1, 26):02d}"
        birth_date = f"{rng.randint(1935, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        row: dict[str, object] = {
            "person_id": f"{300000000 + i}",
            "moved_on": moved_on,
            "reason": reason,
            "name": f"{_FAMILY[f]}　{_GIVEN[g]}",
            "name_kana": f"{_KANA_FAMILY[f]}　{_KANA_GIVEN[g]}",
            "birth_date": moved_on if reason == "出生" else birth_date,   # a 出生's 異動日 is the day of birth
            "ward": ward,
        }
        if reason in ("転居", "転出", "死亡"):
            row["address_before"] = before
        if reason in ("転入", "転居", "出生"):
            row["address_after"] = after
        if reason == "転入":
            row["address_before"] = {"prefecture": "大阪府", "municipality": "大阪市", "ward": "北区",
                                     "town": "見本町", "block": f"{rng.randint(1, 9)}番{rng.randint(1, 9)}号"}
        if reason == "転出":   # the 転出先, in full from 都道府県
            prefecture, municipality, dest_ward = _DESTINATIONS[rng.randrange(len(_DESTINATIONS))]
            destination: dict[str, object] = {"prefecture": prefecture, "municipality": municipality,
                                              "town": f"試験町{rng.randint(1, 5)}丁目",
                                              "block": f"{rng.randint(1, 20)}番{rng.randint(1, 20)}号"}
            if dest_ward is not None:
                destination["ward"] = dest_ward
            row["address_after"] = destination
        rows.append(row)
    return rows


def sample_kyufu_rows(count: int, *, seed: int = 1, x: int | None = None) -> list[dict[str, object]]:
    """`count` 支給決定 rows, each 支給額 = 50,000 円 + X (X: the tenant's parameter `x` of the
    支給決定通知書, None = not set), decided on business days of November 2026 (all data fictitious)."""
    import random

    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(count):
        f, g = rng.randrange(len(_FAMILY)), rng.randrange(len(_GIVEN))
        rows.append({
            "person_id": f"{400000000 + i}",
            "decided_on": f"2026-11-{rng.choice(_BUSINESS_DAYS):02d}",
            "name": f"{_FAMILY[f]}　{_GIVEN[g]}",
            "address": {"prefecture": "千葉県", "municipality": "佐倉市", "town": f"見本町{rng.randint(1, 5)}丁目",
                        "block": f"{rng.randint(1, 40)}番{rng.randint(1, 20)}号"},
            "amount": BASE_AMOUNT + (x or 0),
            "account": f"見本銀行 {_BRANCHES[rng.randrange(len(_BRANCHES))]} 普通 "
                       f"{masked_account_number(rng.randint(1000, 9999))}",
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
                            "number_masked": masked_account_number(rng.randint(100, 999)),
                            "holder_kana": f"{_KANA_FAMILY[f]}　{_KANA_GIVEN[g]}",
                            "public_account": rng.random() < 0.5},
            },
        }
