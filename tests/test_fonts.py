"""Vendored fonts: hashes match the manifest, all are TrueType, coverage and fallback behave."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from renderer.errors import GlyphError
from renderer.fonts import FontSet

FONTS = Path(__file__).resolve().parent.parent / "fonts"


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return FontSet(FONTS)


def test_manifest_lists_the_three_ipa_fonts(fonts: FontSet) -> None:
    assert set(fonts.families()) == {"IPAexMincho", "IPAexGothic", "IPAmjMincho"}
    licence = (FONTS / "IPA_Font_License_Agreement_v1.0.txt").read_text(encoding="utf-8-sig")
    assert "IPAフォントライセンスv1.0" in licence


@pytest.mark.parametrize("family", ["IPAexMincho", "IPAexGothic", "IPAmjMincho"])
def test_font_hash_matches_manifest(fonts: FontSet, family: str) -> None:
    assert fonts.files[family].verify() is None


@pytest.mark.parametrize("family", ["IPAexMincho", "IPAexGothic", "IPAmjMincho"])
def test_fonts_are_truetype_outlines(fonts: FontSet, family: str) -> None:
    with TTFont(str(fonts.files[family].path), lazy=True) as tt:
        assert "glyf" in tt and "CFF " not in tt   # ReportLab embeds TrueType outlines only


def test_tampered_font_is_detected(tmp_path: Path, fonts: FontSet) -> None:
    ff = fonts.files["IPAexGothic"]
    copy = tmp_path / "ipaexg.ttf"
    data = bytearray(ff.path.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    from dataclasses import replace

    reason = replace(ff, path=copy).verify()
    assert reason is not None and "sha256" in reason


def test_runs_fall_back_per_character(fonts: FontSet) -> None:
    # 𠮷 (U+20BB7) is not in IPAex明朝 but is in IPAmj明朝: the run switches font for that one character.
    assert not fonts.metrics("IPAexMincho").has(0x20BB7)
    assert fonts.metrics("IPAmjMincho").has(0x20BB7)
    runs = fonts.runs("吉田𠮷男", ["IPAexMincho", "IPAmjMincho"], field="f")
    assert [(r.family, r.text) for r in runs] == [
        ("IPAexMincho", "吉田"), ("IPAmjMincho", "𠮷"), ("IPAexMincho", "男")]


def test_uncovered_character_is_an_error_naming_code_point_and_field(fonts: FontSet) -> None:
    with pytest.raises(GlyphError) as info:
        fonts.runs("見本\U0010fffd", ["IPAexMincho", "IPAmjMincho"], field="data.household.head_name")
    assert "U+10FFFD" in info.value.message
    assert "data.household.head_name" in info.value.message
    assert info.value.exit_code == 2


def test_width_uses_font_advances(fonts: FontSet) -> None:
    runs = fonts.runs("住民票", ["IPAexMincho"], field="f")
    assert fonts.width(runs, 10.0) == pytest.approx(30.0)            # full-width: 1 em each
    assert fonts.width(runs, 10.0, h_scale=0.5) == pytest.approx(15.0)


def test_advance_table_gives_the_hmtx_advances_in_em(fonts: FontSet) -> None:
    # the table is filled once per code and gives exactly the font's numbers: advance / unitsPerEm
    m = fonts.metrics("IPAmjMincho")
    codes = "住民票A1　" + chr(m.pua["辻\U000E0102"]) + "\U00020BB7"
    with TTFont(str(fonts.files["IPAmjMincho"].path), lazy=True) as tt:
        cmap, hmtx, upem = tt.getBestCmap(), tt["hmtx"].metrics, tt["head"].unitsPerEm
        expected = [hmtx[m.glyph_for_code(ord(ch)) or cmap[ord(ch)]][0] / upem for ch in codes]
    assert m.advances_em(codes) == expected
    assert [m.advance_em(ch) for ch in codes] == expected          # the same table, the same floats
    with pytest.raises(KeyError):
        m.advance_em("\U0010fffd")
