"""The per-machine font cache (renderer/fontcache.py): the same answers as parsing, never a stale or foreign one.

In: the vendored fonts, temporary cache directories. Out: assertions that a cached `FontMetrics` and a cached
ReportLab face equal freshly parsed ones, that renders are byte-identical with the cache off, cold and warm
(separate processes, since ReportLab registers fonts once per process), and that damaged entries, changed
font files and unsafe directories are never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from renderer.draw.fonts import _face_state, load_font
from renderer.fontcache import (
    FORMAT,
    MAGIC,
    CodeTable,
    FontCache,
    PairList,
    default_directory,
    pack_codes,
    pack_ints,
    pack_pairs,
    unpack_codes,
    unpack_ints,
    unpack_pairs,
    unsafe_reason,
    write_entry,
)
from renderer.fonts import METRICS_VERSION, PUA_BASE, FontMetrics, FontSet, _read_metrics

ROOT = Path(__file__).resolve().parents[1]
FONTS = ROOT / "fonts"
SAMPLE = ROOT / "layouts" / "samples" / "juminhyo-setai.json"


def private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def plain(value: Any) -> Any:
    """A packed table (`renderer.fontcache.CodeTable`, `PairList`, an array) as the dict or list it stands for."""
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value.items())
    if isinstance(value, (array, PairList)):
        return list(value)
    return value


def metrics_view(m: FontMetrics) -> dict[str, Any]:
    return {"cmap": m.cmap, "upem": m.units_per_em, "advances": m._advances, "ascent": m.ascent,
            "descent": m.descent, "uvs": dict(m.uvs), "vert": m.vert, "glyph_ids": m._glyph_ids, "pua": dict(m.pua),
            "pua_source": dict(m.pua_source)}


@pytest.mark.parametrize("family", ["IPAexMincho", "IPAexGothic", "IPAmjMincho"])
def test_cached_metrics_and_faces_equal_parsed_ones(tmp_path: Path, family: str) -> None:
    parsed = FontSet(FONTS, FontCache(None))
    cache = FontCache(private(tmp_path / "cache"))
    cold, warm = FontSet(FONTS, cache), FontSet(FONTS, cache)
    file = parsed.files[family]
    assert metrics_view(cold.metrics(family)) == metrics_view(parsed.metrics(family))
    entry = cache.entry("metrics", file.path, file.sha256, METRICS_VERSION)
    assert entry is not None and entry.read_bytes().startswith(MAGIC)
    assert metrics_view(warm.metrics(family)) == metrics_view(parsed.metrics(family))

    fresh = _face_state(file.path, parsed.metrics(family))
    face = load_font(family, file, warm.metrics(family), cache).face    # built and stored
    again = load_font(family, file, warm.metrics(family), cache).face   # read back
    for built in (face, again):
        state = {k: plain(getattr(built, k)) for k in fresh}     # the packed tables read as ReportLab sees them
        assert {k: (bytes(v) if isinstance(v, bytes) else v) for k, v in state.items()} == fresh
        assert all(built.getCharWidth(code) == width for code, width in fresh["charWidths"].items())
        assert isinstance(built.charWidths, dict)             # made on first use (ReportLab's C code wants a dict)
        assert built.name.ustr == built.name.decode("utf-8")
        assert built._ttf_data[:4] == file.path.read_bytes()[:4]
        assert built._pdfScale(built.unitsPerEm) == pytest.approx(1000.0)


def render(cache_dir: str, out: Path, state: Path) -> bytes:
    env = {**os.environ, "CHOHYO_CACHE_DIR": cache_dir, "CHOHYO_STATE_DIR": str(private(state))}
    done = subprocess.run([sys.executable, "-m", "renderer", "render", "juminhyo-setai", str(SAMPLE), "-o", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def test_render_is_byte_identical_with_the_cache_off_cold_and_warm(tmp_path: Path) -> None:
    cache = private(tmp_path / "cache")
    off = render("off", tmp_path / "off.pdf", tmp_path / "s1")
    cold = render(str(cache), tmp_path / "cold.pdf", tmp_path / "s2")
    assert sorted(p.name.split("-")[0] for p in (cache / "fonts").iterdir())   # entries were written
    warm = render(str(cache), tmp_path / "warm.pdf", tmp_path / "s3")
    assert hashlib.sha256(off).hexdigest() == hashlib.sha256(cold).hexdigest() == hashlib.sha256(warm).hexdigest()


@pytest.mark.parametrize("damage", ["truncated", "foreign", "not-marshal", "wrong-format"])
def test_a_damaged_entry_is_rebuilt_not_trusted(tmp_path: Path, damage: str) -> None:
    cache = FontCache(private(tmp_path / "cache"))
    file = FontSet(FONTS, FontCache(None)).files["IPAexGothic"]
    good = metrics_view(FontSet(FONTS, cache).metrics("IPAexGothic"))
    entry = cache.entry("metrics", file.path, file.sha256, METRICS_VERSION)
    assert entry is not None
    raw = entry.read_bytes()
    broken = {"truncated": raw[: len(raw) // 2], "foreign": b"PK\x03\x04" + raw[4:],
              "not-marshal": MAGIC + b"\xff\xfe garbage", "wrong-format": MAGIC + __import__("marshal").dumps(
                  {"format": 999, "data": {"cmap": {}}})}[damage]
    entry.write_bytes(broken)
    assert metrics_view(FontSet(FONTS, cache).metrics("IPAexGothic")) == good
    assert entry.read_bytes() == raw    # rewritten with the parsed data


def test_a_changed_font_file_gets_a_new_entry(tmp_path: Path) -> None:
    fonts = tmp_path / "fonts"
    shutil.copytree(FONTS, fonts)
    cache = FontCache(private(tmp_path / "cache"))
    file = FontSet(fonts, cache).files["IPAexGothic"]
    before = cache.entry("metrics", file.path, file.sha256, METRICS_VERSION)
    FontSet(fonts, cache).metrics("IPAexGothic")
    os.utime(file.path, ns=(1_000_000_000, 1_000_000_000))   # a replaced file: another mtime
    after = cache.entry("metrics", file.path, file.sha256, METRICS_VERSION)
    assert before is not None and after is not None and before != after
    assert cache.entry("metrics", file.path, file.sha256, "another reader") != after


def test_an_unsafe_directory_is_never_read_or_written(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert unsafe_reason(shared) == "is writable by group or others (mode 0o777)"
    cache = FontCache(shared)
    file = FontSet(FONTS, FontCache(None)).files["IPAexGothic"]
    entry = cache.entry("metrics", file.path, file.sha256, METRICS_VERSION)
    assert entry is not None
    entry.parent.mkdir()
    entry.write_bytes(MAGIC + __import__("marshal").dumps({"format": FORMAT, "data": {"cmap": {}}}))   # planted
    with caplog.at_level(logging.WARNING, logger="chohyo.fonts"):
        metrics = FontSet(FONTS, cache).metrics("IPAexGothic")
    assert len(metrics.cmap) > 10_000                  # parsed, the planted entry ignored
    assert "writable by group or others" in caplog.text


def test_a_cache_that_cannot_be_written_is_one_warning_naming_it(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Every entry failing to be written (a read-only image, a file in the way) is one warning that names the
    directory and its setting, not one unnamed warning per entry (found by a vendor review: eight a run)."""
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    (root / "fonts").write_text("in the way", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="chohyo.fonts"):
        for name in ("metrics-a.marshal", "metrics-b.marshal", "face-c.marshal"):
            write_entry(root / "fonts" / name, b"x")
    warnings = [r.getMessage() for r in caplog.records if r.name == "chohyo.fonts"]
    assert len(warnings) == 1 and str(root) in warnings[0] and "CHOHYO_CACHE_DIR" in warnings[0], warnings


def test_default_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHOHYO_CACHE_DIR", "off")
    assert default_directory() is None
    monkeypatch.setenv("CHOHYO_CACHE_DIR", str(tmp_path))
    assert default_directory() == tmp_path
    monkeypatch.delenv("CHOHYO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "chohyo"


def test_fonts_cache_command_builds_then_finds_and_refuses_unsafe_dirs(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "renderer", "fonts", "cache", *args], cwd=ROOT,
                              capture_output=True, text=True, check=False)

    cache = tmp_path / "c"
    first = run("--cache-dir", str(cache), "--json-report")
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)
    assert {(r["family"], r["kind"], r["state"]) for r in rows} == {
        (f, k, "built") for f in ("IPAexMincho", "IPAexGothic", "IPAmjMincho") for k in ("metrics", "reportlab-face")}
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    second = run("--cache-dir", str(cache), "--json-report")
    assert {r["state"] for r in json.loads(second.stdout)} == {"found"}
    cache.chmod(0o775)
    refused = run("--cache-dir", str(cache))
    assert refused.returncode == 2
    assert "writable by group or others" in refused.stderr


@pytest.mark.parametrize("family", ["IPAexMincho", "IPAmjMincho"])
def test_a_mapped_face_subsets_exactly_like_reportlab(family: str) -> None:
    """The subsetter reads the glyph table in place (`_GlyphTable`): the embedded program is the same bytes."""
    from reportlab.pdfbase.ttfonts import TTFontFace

    fonts = FontSet(FONTS, FontCache(None))
    file = fonts.files[family]
    mapped = load_font(family, file, fonts.metrics(family), FontCache(None)).face
    plain = TTFontFace(str(file.path))          # the whole file read into bytes, ReportLab's own get_table
    plain.hmetrics = mapped.hmetrics            # with the same (corrected) advances: only the glyph reads differ
    codes = [0, *sorted({ord(c) for c in "山田太郎　千葉県佐倉市海隣寺町９７番地　令和８年１１月２７日 ABC-123 ①髙﨑"})]
    codes = [c for c in codes if c == 0 or c in plain.charToGlyph]
    assert len(codes) > 30
    assert mapped.makeSubset(codes) == plain.makeSubset(codes)


def test_packed_tables_round_trip_exactly() -> None:
    glyphs = {0x20: 1, 0xA0: 1, 0x4E00: 70, 0x4E01: 71, 0x20BB7: 9000, PUA_BASE: 12, PUA_BASE + 3: 0}
    table = unpack_codes(pack_codes(glyphs))
    assert isinstance(table, CodeTable)
    assert dict(table.items()) == glyphs and len(table) == len(glyphs) and set(table) == set(glyphs)
    assert all(type(table[c]) is int for c in glyphs)
    assert 0x21 not in table and 0x10FFFF not in table and table.get(PUA_BASE + 1, -5) == -5
    assert "a" not in table     # type: ignore[comparison-overlap]
    with pytest.raises(KeyError):
        table[0x4E02]
    table[0x4E02] = 5                      # ReportLab's shaper adds codes
    assert table[0x4E02] == 5 and len(table) == len(glyphs) + 1

    widths = {0x20: 500.0, 0x4E00: 1000.0, PUA_BASE: 0.1 + 0.2}
    packed = unpack_codes(pack_codes(widths))
    assert dict(packed.items()) == widths and all(type(packed[c]) is float for c in widths)
    mixed: Any
    for mixed in ({1: 1, 2: 2.5}, {1: -3}, {1: "a"}):   # would not come back identical: kept as they are
        assert pack_codes(mixed) == mixed and unpack_codes(pack_codes(mixed)) == mixed

    pairs = [(1000, 0), (512, 65535), (0, 3)]
    assert list(unpack_pairs(pack_pairs(pairs))) == pairs and unpack_pairs(pack_pairs(pairs))[1:] == pairs[1:]
    assert unpack_pairs(pack_pairs([(1.5, 2)])) == [(1.5, 2)]   # type: ignore[list-item]
    assert list(unpack_ints(pack_ints([0, 40_000_000, 7]))) == [0, 40_000_000, 7]


@pytest.mark.parametrize("family", ["IPAexMincho", "IPAmjMincho"])
def test_packed_metrics_read_like_the_parsed_font(tmp_path: Path, family: str) -> None:
    """A metrics entry in the packed format, read back, answers what parsing the font says (and the private-use
    table is the sorted one its definition gives)."""
    file = FontSet(FONTS, FontCache(None)).files[family]
    plain = _read_metrics(file.path)
    cache = FontCache(private(tmp_path / "cache"))
    FontMetrics(file, cache)                       # built and stored
    m = FontMetrics(file, cache)                   # read back
    assert m.cmap == plain["cmap"] and dict(m.uvs) == plain["uvs"] and m.vert == plain["vert"]
    assert m._advances == plain["advances"]
    entries = {chr(b) + chr(s): (chr(b) + chr(s), g if g is not None else plain["cmap"][b])
               for (b, s), g in plain["uvs"].items() if g is not None or b in plain["cmap"]}
    entries.update({"\0v" + chr(cp): (chr(cp), plain["vert"][g]) for cp, g in plain["cmap"].items()
                    if g in plain["vert"]})
    keys = sorted(entries)
    assert list(m.pua.items()) == [(k, PUA_BASE + i) for i, k in enumerate(keys)]
    assert dict(m.pua_source) == {PUA_BASE + i: entries[k][0] for i, k in enumerate(keys)}
    assert all(m.glyph_for_code(PUA_BASE + i) == entries[k][1] for i, k in enumerate(keys))
    upem = plain["units_per_em"]
    assert all(m.advance_em(chr(cp)) == plain["advances"][g] / upem for cp, g in list(plain["cmap"].items())[::50])
    assert all(m.vertical_code(cp) == m.pua.get("\0v" + chr(cp), cp) for cp in list(plain["cmap"])[::20])
