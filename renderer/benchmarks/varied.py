"""Varied input for `chohyo bench pipeline`: 住民票の写し records that differ as real ones do, generated
deterministically from a seed (the same seed and count always give the same records).

In: a count and a seed. Out: fresh envelope dicts for the sample tenant, each valid input for
``juminhyo-setai`` (the bench runs them through the real pipeline; a record it refuses is a bug here).
What varies, record by record: the household's size (1–9 members), names (family names with IVS variant
kanji the vendored fonts register, e.g. 辻󠄂 U+8FBB U+E0102, 邊󠄉 U+908A U+E0109; given names of 1–3
characters; a former name now and then), the address (町字, 番地 and a 方書 of varying length, or none),
本籍 and 転入前住所 of different lengths, 備考 of 0–80 characters in up to four slots, and dates.
"""

from __future__ import annotations

import random
from typing import Any

from renderer.benchmarks.sample import sample_envelope

DEFAULT_SEED = 18
#: family names: plain, and with ideographic variation sequences drawn from IPAmj明朝's format-14 cmap
FAMILY_NAMES = (
    "見本", "試験", "佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "山本", "中村", "小林", "加藤",
    "長谷川", "五十嵐", "佐々木", "辻\U000E0102", "辻\U000E0103", "邊\U000E0109", "渡邊\U000E010D",
    "﨑\U000E0102山", "葛\U000E0104西", "祇\U000E0102園", "山﨑\U000E0103",
)
GIVEN_NAMES = (
    "太郎", "花子", "翔", "陽菜", "蓮", "結衣", "大翔", "さくら", "湊", "美咲", "一", "健太郎", "由美子",
    "こはる", "悠真", "凛", "辻\U000E0102太", "邊\U000E0109子",
)
RELATIONSHIPS = ("妻", "子", "長男", "長女", "二男", "二女", "父", "母", "孫", "同居人", "妻の子", "子の妻")
TOWNS = ("見本町一丁目", "見本町", "大字見本字東山", "見本台三丁目", "上見本", "見本町字西見本新田",
         "邊\U000E0109見本町二丁目")
BLOCKS = ("1番地", "2番地3", "12番地の5", "3番2号", "1234番地", "45番地の6", "7番地12")
BUILDINGS = ("見本ハイツ101号", "見本コーポ2号室", "サクラマンション見本台弐番館1203号室", "見本荘",
             "見本グランドパレス東館A棟505号室", "ハイツ見本3F")
REMARK_WORDS = ("転居", "職権記載", "住所変更", "氏名変更", "平成二十年四月一日転入", "令和三年十月一日転居",
                "支援措置なし", "旧住所　千葉県佐倉市見本町", "記載事項訂正", "続柄訂正", "通称記載", "番地変更")
#: one 備考 slot holds at most this many characters (the narrow slot at the 長体 floor 0.6)
REMARK_SLOT = 16
REMARK_TOTAL = 80


def _name(rng: random.Random, family: str) -> str:
    return f"{family}　{rng.choice(GIVEN_NAMES)}"


def _remarks(rng: random.Random) -> list[str]:
    """0–80 characters in total, cut into at most four slots of at most REMARK_SLOT characters."""
    total = rng.choice((0, 0, 0, rng.randint(1, REMARK_TOTAL)))
    text = ""
    while len(text) < total:
        text += rng.choice(REMARK_WORDS) + "。"
    text = text[:total]
    slots = [text[i:i + REMARK_SLOT] for i in range(0, len(text), REMARK_SLOT)][:4]
    return [s for s in slots if s.strip()]


def _domestic(rng: random.Random, *, building: bool) -> dict[str, Any]:
    address: dict[str, Any] = {"prefecture": "千葉県", "municipality": "佐倉市", "town": rng.choice(TOWNS),
                               "block": rng.choice(BLOCKS)}
    if building:
        address["building"] = rng.choice(BUILDINGS)
    return address


def _moved_in_from(rng: random.Random) -> dict[str, Any]:
    choice = rng.randrange(3)
    if choice == 0:
        return {"prefecture": "東京都", "municipality": "千代田区", "town": rng.choice(TOWNS),
                "block": rng.choice(BLOCKS)}
    if choice == 1:
        return {"prefecture": "神奈川県", "municipality": "横浜市", "ward": "中区", "town": rng.choice(TOWNS),
                "block": rng.choice(BLOCKS), **({"building": rng.choice(BUILDINGS)} if rng.random() < 0.5 else {})}
    return {"prefecture": "北海道", "county": "虻田郡", "municipality": "倶知安町", "town": rng.choice(TOWNS),
            "block": rng.choice(BLOCKS)}


def _member(rng: random.Random, index: int, family: str, head: str, honseki: str) -> dict[str, Any]:
    is_head = index == 0
    year = rng.randint(1940, 2000) if is_head or index == 1 else rng.randint(1950, 2020)
    birth = f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    member: dict[str, Any] = {
        "person_id": f"1{index + 1:08d}",
        "name": head if is_head else _name(rng, family),
        "name_kana": "ミホン　" + rng.choice(("タロウ", "ハナコ", "ショウ", "ヒナ", "レン", "ユイ")),
        "birth_date": birth,
        "sex": rng.choice(("男", "女")),
        "relationship": "世帯主" if is_head else rng.choice(RELATIONSHIPS),
        "honseki": honseki,
        "hittosha": head,
    }
    if rng.random() < 0.15:
        member["former_name"] = rng.choice(FAMILY_NAMES)
    if rng.random() < 0.6:   # moved in (after birth), else born here
        moved = year + rng.randint(1, 20)
        member["became_resident_on"] = f"{min(moved, 2025):04d}-04-01"
        member["notified_on"] = f"{min(moved, 2025):04d}-04-0{rng.randint(2, 9)}"
        member["moved_in_from"] = _moved_in_from(rng)
        if rng.random() < 0.3:
            member["address_set_on"] = f"{min(moved, 2025):04d}-10-01"
    else:
        member["became_resident_on"] = birth
        member["notified_on"] = birth
    remarks = _remarks(rng)
    if remarks:
        member["remarks"] = remarks
    return member


def varied_envelopes(count: int, *, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """`count` different 住民票 envelopes (the sample's request, the sample tenant), from `seed`."""
    rng = random.Random(seed)
    base = sample_envelope()
    out: list[dict[str, Any]] = []
    for _ in range(count):
        env = sample_envelope() if not out else {**base, "request": dict(base["request"])}
        family = rng.choice(FAMILY_NAMES)
        head = _name(rng, family)
        address = _domestic(rng, building=rng.random() < 0.5)
        address["postal_code"] = f"285{rng.randint(0, 9999):04d}"
        honseki = "千葉県佐倉市" + rng.choice(TOWNS) + rng.choice(BLOCKS)
        size = rng.randint(1, 9)
        members = [_member(rng, i, family, head, honseki) for i in range(size)]
        env["data"] = {"household": {"address": address, "head_name": head, "members": members}}
        out.append(env)
    return out
