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
from pathlib import Path
from typing import Any

import pytest

from renderer.draw.fonts import _face_state, load_font
from renderer.fontcache import MAGIC, FontCache, default_directory, unsafe_reason
from renderer.fonts import METRICS_VERSION, FontMetrics, FontSet

ROOT = Path(__file__).resolve().parents[1]
FONTS = ROOT / "fonts"
SAMPLE = ROOT / "layouts" / "samples" / "juminhyo-setai.json"


def private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def metrics_view(m: FontMetrics) -> dict[str, Any]:
    return {"cmap": m.cmap, "upem": m.units_per_em, "advances": m._advances, "ascent": m.ascent,
            "descent": m.descent, "uvs": m.uvs, "vert": m.vert, "glyph_ids": m._glyph_ids, "pua": m.pua,
            "pua_source": m.pua_source}


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
        state = {k: v for k, v in vars(built).items() if k not in ("_ttf_data", "_pdfScale", "filename")}
        assert {k: (bytes(v) if isinstance(v, bytes) else v) for k, v in state.items()} == fresh
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
    entry.write_bytes(MAGIC + __import__("marshal").dumps({"format": 1, "data": {"cmap": {}}}))   # planted
    with caplog.at_level(logging.WARNING, logger="chohyo.fonts"):
        metrics = FontSet(FONTS, cache).metrics("IPAexGothic")
    assert len(metrics.cmap) > 10_000                  # parsed, the planted entry ignored
    assert "writable by group or others" in caplog.text


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
