"""Shared by the visual diff tests: a known one-digit change rendered from a golden case.

(A plain module, not a conftest.py: a second conftest module would clash with tests/conftest.py for mypy.)

In: the committed golden case juminhyo-setai/setai-4nin (copied to a temporary folder, never touched).
Out: `make_one_digit` — the case rendered as-is ("old") and again with 見本 太郎's birth date moved by one day
(1984-04-02 → 1984-04-03, so 「昭和59年4月2日」 becomes 「昭和59年4月3日」: one digit), both PDFs on disk, and
where that digit sits on the page according to the display list and the vendored font's advance widths.
Made once per session (cached here); each test module exposes it as its `one_digit` fixture.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from renderer import golden
from renderer.settings import PROJECT_ROOT

SOURCE_CASE = golden.GOLDEN_DIR / "juminhyo-setai" / "setai-4nin"
PERSON = "100000001"
OLD_BIRTH, NEW_BIRTH = "1984-04-02", "1984-04-03"

_TEXT = re.compile(r"^\s*text (?P<x>[-\d.]+) (?P<y>[-\d.]+) (?P<font>\S+) (?P<size>[\d.]+)(?P<attrs>.*?)"
                   r" (?P<text>'.*')$")


@dataclass(frozen=True)
class DigitBox:
    """Where the changed character is drawn, in PDF points (origin bottom-left)."""

    old_char: str
    new_char: str
    x0: float
    x1: float
    baseline: float
    size: float
    page_height: float

    def pixels(self, dpi: int) -> tuple[float, float, float, float]:
        """The character's box in page pixels (origin top-left): advance width × roughly the em box."""
        k = dpi / 72
        top = self.page_height - (self.baseline + 0.88 * self.size)
        bottom = self.page_height - (self.baseline - 0.12 * self.size)
        return self.x0 * k, top * k, self.x1 * k, bottom * k


@dataclass(frozen=True)
class OneDigit:
    case_dir: Path          # scratch copy: expected files = the old render, input.json has the new birth date
    old_pdf: Path
    new_pdf: Path
    old_display: str
    new_display: str
    digit: DigitBox


def _font_file(family: str) -> Path:
    manifest = tomllib.loads((PROJECT_ROOT / "fonts" / "manifest.toml").read_text(encoding="utf-8"))
    entry = next(f for f in manifest["font"] if f["family"] == family)
    return PROJECT_ROOT / "fonts" / str(entry["file"])


def _advance_pt(font: TTFont, ch: str, size: float) -> float:
    glyph = font.getBestCmap()[ord(ch)]
    advance: int = font["hmtx"][glyph][0]
    units: int = font["head"].unitsPerEm
    return advance / units * size


def locate_change(old_display: str, new_display: str) -> DigitBox:
    """The one changed text run between two display lists, and the box of its one changed character."""
    changed = [(a, b) for a, b in zip(old_display.splitlines(), new_display.splitlines(), strict=True) if a != b]
    assert len(changed) == 1, f"expected exactly one changed display line, got {changed}"
    old_line, new_line = changed[0]
    old_m, new_m = _TEXT.match(old_line), _TEXT.match(new_line)
    assert old_m and new_m, f"not text runs: {old_line!r} / {new_line!r}"
    old_text, new_text = ast.literal_eval(old_m["text"]), ast.literal_eval(new_m["text"])
    diffs = [i for i, (a, b) in enumerate(zip(old_text, new_text, strict=True)) if a != b]
    assert len(diffs) == 1, f"expected one changed character: {old_text!r} → {new_text!r}"
    index = diffs[0]
    attrs = dict(kv.split("=", 1) for kv in new_m["attrs"].split() if "=" in kv)
    assert "draw" not in attrs and "angle" not in attrs, "the digit run must be plain horizontal text"
    size = float(new_m["size"])
    h_scale = float(attrs.get("hscale", "1"))
    char_space = float(attrs.get("cs", "0"))
    with TTFont(_font_file(new_m["font"])) as font:
        prefix = sum(_advance_pt(font, ch, size) * h_scale + char_space for ch in new_text[:index])
        x0 = float(new_m["x"]) + prefix
        x1 = x0 + _advance_pt(font, new_text[index], size) * h_scale
    page = next(line for line in new_display.splitlines() if line.startswith("page "))
    height = float(page.split()[2].split("x")[1])
    return DigitBox(old_text[index], new_text[index], x0, x1, float(new_m["y"]), size, height)


_MADE: list[OneDigit] = []


def make_one_digit(tmp_path_factory: pytest.TempPathFactory) -> OneDigit:
    """The one-digit pair, rendered on first use in this session and reused after that."""
    if not _MADE:
        _MADE.append(_make(tmp_path_factory))
    return _MADE[0]


def _make(tmp_path_factory: pytest.TempPathFactory) -> OneDigit:
    base = tmp_path_factory.mktemp("one-digit")
    case_dir = base / "golden" / "juminhyo-setai" / "setai-4nin"
    shutil.copytree(SOURCE_CASE, case_dir)
    old = golden.render_case(case_dir)
    for name, data in old.files().items():      # the scratch case's expected files are the working tree's render
        (case_dir / name).write_bytes(data)
    raw = json.loads((case_dir / golden.INPUT).read_text(encoding="utf-8"))
    person = next(m for m in raw["data"]["household"]["members"] if m["person_id"] == PERSON)
    assert person["birth_date"] == OLD_BIRTH
    person["birth_date"] = NEW_BIRTH
    (case_dir / golden.INPUT).write_text(json.dumps(raw, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    new = golden.render_case(case_dir)
    assert old.pdf is not None and new.pdf is not None and old.display and new.display, (old.describe(),
                                                                                          new.describe())
    old_pdf, new_pdf = base / "old.pdf", base / "new.pdf"
    old_pdf.write_bytes(old.pdf)
    new_pdf.write_bytes(new.pdf)
    digit = locate_change(old.display, new.display)
    assert (digit.old_char, digit.new_char) == ("2", "3")
    return OneDigit(case_dir, old_pdf, new_pdf, old.display, new.display, digit)
