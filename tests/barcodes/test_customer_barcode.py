"""日本郵便 カスタマバーコード: extraction rules, encoding, check character, geometry — and a decoder that reads
the bars back from a rasterized PDF (bar heights and positions from pixels, never from our display list).

Where the examples come from
    [H] the Japan Post manual pages stored in the shared domain reference / search corpus (p17, p20, p21);
    [M] the manual's p19 examples as quoted verbatim by public implementations (p19 itself is truncated in
        our copy); ours: derived by applying the rules, including the NOT FOUND choices listed in
        `renderer/barcodes/customer.py` and tabulated again here:

    ====================================  ===============================  =================================
    choice (NOT FOUND in the reference)    example                          result
    ====================================  ===============================  =================================
    trailing '-' after extraction dropped  3-20-                            3-20
    ... but a '-' at cut position 20 kept  29丁目1524-23 第2郵便ハウス501     064080429-1524-23-2-  (manual p20)
    full-width ASCII = ASCII               １２３－４５ Ｂ棟                 123-45B
    dashes (ー etc.) = hyphen              12ー3ー4                          12-3-4
    ① ② are not digits                     ②番地                            (empty)
    ＆ ／ ． ･ deleted like & / . ・        3番地 U&Zハイツ                   3   (UZ is then 2 letters)
    漢数字 set incl. 〇, 百, 千, 壱           一〇五番地 / 千二百三十四番地      105 / 1234
    漢数字 not before 補足1 words: kanji     十番地の三                        10
    階 is a kanji (like 2F)                5番地 ABCマンション2階201号室       5-2-201
    nothing kept → all CC4, still printed  字大原                            1000013 + CC4×13
    ====================================  ===============================  =================================
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest

from renderer.barcodes.common import BarcodeDataError, BarcodeGeometryError, Box
from renderer.barcodes.customer import (
    BAR_COUNT,
    QUIET_ZONE_MM,
    address_after_town,
    bars,
    check_character,
    customer_barcode,
    data_characters,
    encode,
    extract_address_number,
    layout_bars,
    symbol_size_mm,
)
from renderer.display import DocumentInfo, Op, Page, PagedDocument, Rect
from renderer.draw import draw
from renderer.fonts import FontSet
from renderer.units import mm

ROOT = Path(__file__).resolve().parents[2]
FONTS = FontSet(ROOT / "fonts")
INFO = DocumentInfo(title="customer barcode", subject="t", author="t", document_id="0" * 64,
                    created=dt.datetime(2026, 11, 27, tzinfo=dt.timezone(dt.timedelta(hours=9))))

# The bar table exactly as the domain reference §5.3 prints it; the decoder below uses only this text.
REFERENCE_TABLE = ("1:114 2:132 3:312 4:123 5:141 6:321 7:213 8:231 9:411 0:144 -:414 CC1:324 CC2:342 "
                   "CC3:234 CC4:432 CC5:243 CC6:423 CC7:441 CC8:111")
DECODE = {pattern: name for name, pattern in (item.split(":") for item in REFERENCE_TABLE.split())}
CHECK_VALUE = {**{str(d): d for d in range(10)}, "-": 10, **{f"CC{n}": 10 + n for n in range(1, 9)}}
CC4x = ["CC4"]


# --- the manual's own example (p17, p21) [H] ---------------------------------------------------------------

def test_manual_example_kasumigaseki() -> None:
    number = extract_address_number("100-0013", "1丁目3番2号 郵便プラザ503室")
    assert number == "1-3-2-503"
    symbol = encode("100-0013", number)
    assert symbol[1:21] == [*"1000013", *"1-3-2-503", *CC4x * 4]
    assert symbol[21] == "9"
    assert symbol[0] == "START" and symbol[-1] == "STOP" and len(symbol) == 23
    kinds = bars(symbol)
    assert len(kinds) == BAR_COUNT == 67
    assert kinds[:2] == [1, 3] and kinds[-2:] == [3, 1]
    assert kinds[2:5] == [1, 1, 4]          # "1" = 114
    barcode = customer_barcode("1000013", "1丁目3番2号 郵便プラザ503室")
    assert barcode is not None and barcode.check == "9" and list(barcode.data) == symbol[1:21]


# --- extraction -----------------------------------------------------------------------------------------

MANUAL_EXAMPLES = [
    # (source, postcode, 住所B, 住所表示番号)
    ("p19 [M] basic rules + 補足4", "2730102", "東3丁目-20-5 郵便・A&bコーポB604号", "3-20-5B604"),
    ("p19 [M] 漢数字 before 丁目/番地/号", "1980036", "十一丁目六番地一号 郵便タワー601", "11-6-1-601"),
    ("p19 [M] 漢数字 before 線", "0800831", "七線 西28", "7-28"),
    ("p20 [H] 2F at the end", "3170055", "6丁目7-14 ABCビル2F", "6-7-14-2"),
    ("p19 [M] F followed by more", "3170055", "6丁目7-14 ABCビル2F201号室", "6-7-14-2-201"),
    ("p19 [M] letter 棟 + 1F", "6500046", "9丁目7-6 郵便シティA棟1F1号", "9-7-6A1-1"),
    ("Hitachi EUR [M] two single letters meet", "6230011", "出口 6-7 LプラザB 106", "6-7LB106"),
    ("p20 [H] long address", "0640804", "29丁目1524-23 第2郵便ハウス501", "29-1524-23-2-501"),
    ("p20 [H] letters J and B", "9100067", "3丁目80-25 J1ビル2-B", "3-80-25J1-2B"),
    ("p18 [H] address (result derived)", "2630023", "3丁目30-8 郵便ビル403号", "3-30-8-403"),
]

OUR_EXAMPLES = [
    ("丁目・番・号 in kanji", "三丁目五番十二号", "3-5-12"),
    ("十二番, 二十三号", "一丁目十二番二十三号", "1-12-23"),
    ("地割", "第二十一地割大淵川480", "21-480"),
    ("丁 without 目", "四丁六番十九号", "4-6-19"),
    ("百 in 番地", "百五番地", "105"),
    ("digit-by-digit kanji", "一〇五番地", "105"),
    ("千百十", "千二百三十四番地", "1234"),
    ("の after a kanji numeral", "二の宮1-2", "2-1-2"),
    ("kanji numeral not before a 補足1 word", "十番地の三", "10"),
    ("2階 at the end", "5番地 ABCマンション2階", "5-2"),
    ("2階 then a room", "5番地 ABCマンション2階201号室", "5-2-201"),
    ("single letter after a hyphen", "3-2-1 グランドA-305", "3-2-1A305"),
    ("consecutive letters ABC", "3-2-1 ABC-305", "3-2-1-305"),
    ("lower case letter", "1-2 b棟", "1-2B"),
    ("U–Z letter", "5-3 X棟", "5-3X"),
    ("& deleted before the letter-run test", "3番地 U&Zハイツ", "3"),
    ("・ deleted, digits close up", "1・2・3", "123"),
    ("basement floor B1F", "B1F", "B1"),
    ("full-width digits, hyphen, letter", "１２３－４５ Ｂ棟", "123-45B"),
    ("katakana long mark as a dash", "12ー3ー4", "12-3-4"),
    ("trailing hyphen dropped", "3-20-", "3-20"),
    ("circled digit is not a digit", "②番地", ""),
    ("kanji only: empty", "字大原", ""),
    ("無番地: empty", "無番地", ""),
]


@pytest.mark.parametrize(("source", "postal", "address", "expected"), MANUAL_EXAMPLES,
                         ids=[row[0] for row in MANUAL_EXAMPLES])
def test_manual_extraction_examples(source: str, postal: str, address: str, expected: str) -> None:
    assert extract_address_number(postal, address) == expected


@pytest.mark.parametrize(("case", "address", "expected"), OUR_EXAMPLES, ids=[row[0] for row in OUR_EXAMPLES])
def test_our_extraction_examples(case: str, address: str, expected: str) -> None:
    assert extract_address_number("1000013", address) == expected


def test_whole_address_after_the_town_gives_the_same_number_when_the_town_is_kanji() -> None:
    assert extract_address_number("1000013", "霞が関1丁目3番2号 郵便プラザ503室") == "1-3-2-503"


# --- encoding -------------------------------------------------------------------------------------------

def test_cut_at_20_keeps_a_trailing_hyphen() -> None:   # manual p20 [H]
    data = data_characters("064-0804", "29-1524-23-2-501")
    assert "".join(data) == "064080429-1524-23-2-"


def test_cut_at_20_keeps_only_the_control_code_of_a_letter() -> None:   # manual p20 [H]
    data = data_characters("910-0067", "3-80-25J1-2B")
    assert data == [*"91000673-80-25", "CC1", "9", "1", "-", "2", "CC1"]
    assert len(data) == 20


def test_a_letter_at_19_and_20_keeps_both_positions() -> None:
    data = data_characters("1000013", "12345-7890-A")    # 12 characters, A is 12th → positions 19, 20
    assert data[-2:] == ["CC1", "0"]


def test_long_digits_are_cut() -> None:
    assert "".join(data_characters("1000013", "1234-5678-9012-345")) == "10000131234-5678-901"


@pytest.mark.parametrize(("letter", "codes"), [
    ("A", ["CC1", "0"]), ("J", ["CC1", "9"]), ("K", ["CC2", "0"]), ("T", ["CC2", "9"]),
    ("U", ["CC3", "0"]), ("Z", ["CC3", "5"]),
])
def test_letters_are_control_code_plus_digit(letter: str, codes: list[str]) -> None:
    assert data_characters("1000013", letter)[7:9] == codes


@pytest.mark.parametrize(("number", "check"), [
    ("1-3-2-503", "9"),      # manual: total 105 → 105 mod 19 = 10 → 9
    ("1-3-2-8", "0"),        # total 133 = 7 × 19
    ("1-3-2-511", "-"),      # total 104 → 104 mod 19 = 9 → 10 = '-'
    ("1-3-2-510", "CC1"),    # total 103 → 8 → 11 = CC1
    ("1-3-2-9", "CC8"),      # total 134 → 1 → 18 = CC8
])
def test_check_character_values(number: str, check: str) -> None:
    data = data_characters("1000013", number)
    assert check_character(data) == check
    assert (sum(CHECK_VALUE[c] for c in data) + CHECK_VALUE[check]) % 19 == 0


def test_generic_postcode_gives_no_barcode() -> None:
    assert customer_barcode("2850000", "1丁目2番3号", generic_postcode=True) is None


def test_individual_postcode_has_an_all_cc4_address_part() -> None:
    barcode = customer_barcode("100-8798", "1丁目3番2号 郵便プラザ503室", individual_postcode=True)
    assert barcode is not None
    assert list(barcode.data) == [*"1008798", *CC4x * 13]
    assert barcode.address_number == ""


def test_empty_address_part_is_still_a_barcode() -> None:
    barcode = customer_barcode("1000013", "字大原")
    assert barcode is not None and list(barcode.data) == [*"1000013", *CC4x * 13]


def test_both_flags_are_a_contradiction() -> None:
    with pytest.raises(BarcodeDataError) as err:
        customer_barcode("1000013", "1-2", generic_postcode=True, individual_postcode=True)
    assert err.value.field == "postal_code"


@pytest.mark.parametrize("postal", ["100-001", "10000133", "１００００１３", "100 0013", "10-00013"])
def test_bad_postcodes_are_refused_without_echoing_them(postal: str) -> None:
    with pytest.raises(BarcodeDataError) as err:
        extract_address_number(postal, "1-2-3")
    assert err.value.field == "postal_code"
    assert postal not in str(err.value)


def test_address_number_with_other_characters_is_refused() -> None:
    with pytest.raises(BarcodeDataError) as err:
        encode("1000013", "1-2_3")
    assert err.value.field == "address_number"


# --- splitting the structured address ----------------------------------------------------------------------

def test_address_after_town_strips_the_postal_town_and_joins_with_blanks() -> None:
    b = address_after_town("霞が関一丁目", "3番2号", "郵便プラザ503室", postal_town="霞が関")
    assert b == "一丁目 3番2号 郵便プラザ503室"
    assert extract_address_number("1000013", b) == "1-3-2-503"


def test_block_and_building_do_not_run_together() -> None:
    b = address_after_town("霞が関", "3-2", "503", postal_town="霞が関")
    assert extract_address_number("1000013", b) == "3-2-503"


def test_town_name_with_a_number_word_is_cut_off_before_extraction() -> None:
    # 一番町 is the 町域 itself: left in, 補足1 would make it "1".
    assert extract_address_number("1020082", "一番町5-3") == "1-5-3"
    assert extract_address_number("1020082", address_after_town("一番町", "5-3", None, postal_town="一番町")) == "5-3"


def test_small_ke_and_widths_are_folded_when_matching_the_town() -> None:
    assert address_after_town("鎌ヶ谷東3丁目", "20-5", None, postal_town="鎌ケ谷") == "東3丁目 20-5"


def test_no_postal_town_means_the_whole_town_is_address_b() -> None:
    assert address_after_town("大字津軽石第二十一地割", "480", None, postal_town=None) == "大字津軽石第二十一地割 480"


def test_a_town_that_does_not_match_the_postcode_is_an_error() -> None:
    with pytest.raises(BarcodeDataError) as err:
        address_after_town("永田町", "1-7-1", None, postal_town="霞が関")
    assert err.value.field == "address.town" and "永田町" not in str(err.value)


# --- geometry -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("size", "width", "height"), [(10.0, 79.8, 3.6), (8.0, 63.84, 2.88), (11.5, 91.77, 4.14)])
def test_symbol_size_scales_with_a(size: float, width: float, height: float) -> None:
    assert symbol_size_mm(size) == pytest.approx((width, height))


@pytest.mark.parametrize("size", [7.9, 11.6, 0.0])
def test_sizes_outside_8_to_11_5_are_refused(size: float) -> None:
    with pytest.raises(BarcodeGeometryError):
        symbol_size_mm(size)


def test_layout_gives_one_filled_rect_per_bar_and_the_quiet_zone() -> None:
    barcode = customer_barcode("1000013", "1丁目3番2号 郵便プラザ503室")
    assert barcode is not None
    placed = barcode.layout(100.0, 200.0, 10.0)
    assert len(placed.rects) == 67
    assert all(r.stroke is None and r.fill_gray == 0.0 for r in placed.rects)
    heights = {k: round(r.h / mm(1), 3) for k, r in zip(barcode.bars, placed.rects, strict=True)}
    assert heights == {1: 3.6, 2: 2.4, 3: 2.4, 4: 1.2}
    bottoms = {k: round((r.y - 200.0) / mm(1), 3) for k, r in zip(barcode.bars, placed.rects, strict=True)}
    assert bottoms == {1: 0.0, 2: 1.2, 3: 0.0, 4: 1.2}
    assert placed.rects[1].x - placed.rects[0].x == pytest.approx(mm(1.2))
    assert placed.rects[0].w == pytest.approx(mm(0.6))
    assert (placed.symbol.x, placed.symbol.y) == (100.0, 200.0)
    assert (placed.symbol.w, placed.symbol.h) == pytest.approx((mm(79.8), mm(3.6)))
    q = mm(QUIET_ZONE_MM)
    assert placed.quiet.x == pytest.approx(100.0 - q) and placed.quiet.w == pytest.approx(mm(79.8) + 2 * q)
    assert placed.quiet.h == pytest.approx(mm(3.6) + 2 * q)


def test_a_layout_can_check_its_window() -> None:
    window = Box(mm(15), mm(150), mm(90), mm(45))           # a 90 × 45 mm window
    barcode = customer_barcode("1000013", "1-3-2-503")
    assert barcode is not None
    assert window.contains(barcode.layout(mm(18), mm(160), 10.0).quiet)
    assert not window.contains(barcode.layout(mm(18), mm(160), 11.5).quiet)     # 95.8 mm with its quiet zone
    assert not window.contains(barcode.layout(mm(15), mm(160), 10.0).quiet)     # quiet zone outside on the left


def test_layout_refuses_a_wrong_bar_list() -> None:
    with pytest.raises(BarcodeDataError):
        layout_bars([1, 3, 4], 0, 0)
    with pytest.raises(BarcodeDataError):
        layout_bars([5] * 67, 0, 0)


# --- decoding from pixels -----------------------------------------------------------------------------------

DPI = 600
PX_PER_MM = DPI / 25.4


def render_pdf(ops: tuple[Op, ...], width_mm: float, height_mm: float) -> bytes:
    return draw(PagedDocument(INFO, (Page(mm(width_mm), mm(height_mm), ops),)), FONTS)


def rasterize(pdf: bytes, dpi: int = DPI) -> np.ndarray[Any, Any]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return np.asarray(doc[0].render(scale=dpi / 72, grayscale=True).to_pil().convert("L"))
    finally:
        doc.close()


def read_bars(image: np.ndarray[Any, Any]) -> list[tuple[float, float, int, int]]:
    """Every bar as (left px, width px, top row, bottom row), found from the ink alone."""
    ink = image < 128
    columns = np.flatnonzero(ink.any(axis=0))
    groups = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    found = []
    for g in groups:
        rows = np.flatnonzero(ink[:, g[0]:g[-1] + 1].any(axis=1))
        found.append((float(g[0]), float(len(g)), int(rows[0]), int(rows[-1])))
    return found


def classify(found: list[tuple[float, float, int, int]]) -> list[int]:
    """Bar kinds from where each bar reaches: top and bottom = 1, top only = 2, bottom only = 3, neither = 4."""
    top = min(t for _, _, t, _ in found)
    bottom = max(b for _, _, _, b in found)
    tolerance = (bottom - top) / 6
    kinds = []
    for _, _, t, b in found:
        up, down = t - top < tolerance, bottom - b < tolerance
        kinds.append(1 if up and down else 2 if up else 3 if down else 4)
    return kinds


def decode(kinds: list[int]) -> tuple[list[str], str]:
    """The 20 data characters and the check character, after checking start, stop and the mod-19 sum."""
    assert len(kinds) == 67, f"{len(kinds)} bars found"
    assert kinds[:2] == [1, 3], "start code"
    assert kinds[-2:] == [3, 1], "stop code"
    chars = [DECODE["".join(map(str, kinds[i:i + 3]))] for i in range(2, 65, 3)]
    data, check = chars[:20], chars[20]
    assert sum(CHECK_VALUE[c] for c in chars) % 19 == 0, "check character"
    return data, check


def readable(data: list[str]) -> str:
    """Data characters back to text: CCn + digit → letter, CC4 padding dropped."""
    out, i = [], 0
    while i < len(data):
        c = data[i]
        if c in ("CC1", "CC2", "CC3") and i + 1 < len(data):
            out.append(chr(ord("A") + (int(c[2]) - 1) * 10 + int(data[i + 1])))
            i += 2
        elif c in ("CC1", "CC2", "CC3"):
            out.append(f"<{c}>")         # a letter cut at position 20
            i += 1
        elif c == "CC4":
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


PIXEL_CASES = [
    # (postcode, 住所B, size, expected decoded text, expected check)
    ("1000013", "1丁目3番2号 郵便プラザ503室", 10.0, "10000131-3-2-503", "9"),      # manual [H]
    ("9100067", "3丁目80-25 J1ビル2-B", 8.0, "91000673-80-25J1-2<CC1>", None),   # manual p20 [H]
    ("3170055", "6丁目7-14 ABCビル2F", 11.5, "31700556-7-14-2", None),           # manual p20 [H]
    ("1000013", "五番地 XYZハイツ Z棟2階", 9.0, "10000135Z2", None),
]


@pytest.mark.parametrize(("postal", "address", "size", "text", "check"), PIXEL_CASES,
                         ids=["kasumigaseki-10pt", "letters-cut-8pt", "2F-11.5pt", "Z-9pt"])
def test_bars_decode_from_the_rendered_pixels(postal: str, address: str, size: float, text: str,
                                              check: str | None) -> None:
    barcode = customer_barcode(postal, address)
    assert barcode is not None
    width, height = symbol_size_mm(size)
    placed = barcode.layout(mm(10), mm(6), size)
    pdf = render_pdf(placed.rects, width + 20, height + 12)
    image = rasterize(pdf)
    found = read_bars(image)

    data, got_check = decode(classify(found))
    assert readable(data) == text
    if check is not None:
        assert got_check == check
    assert (data, got_check) == (list(barcode.data), barcode.check)

    # geometry read from the pixels: pitch, bar width, long bar height, all scaled by a/10
    s = size / 10
    lefts = np.array([left for left, _, _, _ in found])
    assert np.median(np.diff(lefts)) / PX_PER_MM == pytest.approx(1.2 * s, abs=0.05)
    assert np.median([w for _, w, _, _ in found]) / PX_PER_MM == pytest.approx(0.6 * s, abs=0.06)
    tall = max(b for *_, b in found) - min(t for _, _, t, _ in found) + 1
    assert tall / PX_PER_MM == pytest.approx(3.6 * s, abs=0.06)
    assert (lefts[-1] + found[-1][1] - lefts[0]) / PX_PER_MM == pytest.approx(width, abs=0.06)

    # nothing but the bars is inked: the 2 mm quiet zone around them is blank paper
    q = placed.quiet
    page_h = image.shape[0]
    x0, x1 = int(q.x / 72 * DPI), int(q.right / 72 * DPI)
    y0, y1 = page_h - int(q.top / 72 * DPI), page_h - int(q.y / 72 * DPI)
    ink = image < 250
    assert ink[y0:y1, x0:x1].sum() == ink.sum() > 0


def test_rects_in_a_display_list_are_plain_display_ops() -> None:
    barcode = customer_barcode("1000013", "1-3-2-503")
    assert barcode is not None
    assert all(isinstance(r, Rect) for r in barcode.layout(0, 0).rects)
