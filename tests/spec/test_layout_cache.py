"""The validated-layout cache (renderer/spec/cache.py): a hit only for exactly the inputs it was built from.

In: copies of the standard layouts (with their parts) in temporary directories, private cache directories.
Out: assertions that a hit equals a fresh validation, that an edited layout or part, another font manifest
or an invalid layout is validated afresh (and an invalid one reported every time), and that damage is ignored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from renderer.errors import LayoutError
from renderer.fontcache import FontCache
from renderer.fonts import FontSet
from renderer.spec import cache as layout_cache
from renderer.spec.validate import load_layout_traced

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    target = tmp_path / "layouts"
    target.mkdir()
    for name in ("juminhyo-setai.yaml", "tsuchisho-nozei.yaml"):
        shutil.copy(ROOT / "layouts" / name, target / name)
    shutil.copytree(ROOT / "layouts" / "parts", target / "parts")
    return target


def fonts_with_cache(tmp_path: Path) -> FontSet:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700, exist_ok=True)
    return FontSet(ROOT / "fonts", FontCache(directory))


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "layouts").glob("*.pickle"))


def test_a_hit_equals_a_fresh_validation_and_skips_the_loader(tmp_path: Path, layouts: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fonts = fonts_with_cache(tmp_path)
    path = layouts / "tsuchisho-nozei.yaml"
    fresh = load_layout_traced(path, FontSet(ROOT / "fonts", FontCache(None)))
    first = load_layout_traced(path, fonts)
    assert len(entries(tmp_path)) == 1
    calls: list[str] = []

    def loader(*args: object) -> object:
        calls.append("loaded")
        return fresh

    monkeypatch.setattr("renderer.spec.validate._load_layout", loader)
    second = load_layout_traced(path, fonts)
    assert calls == []
    assert first == second == fresh
    assert second[1].parts == fresh[1].parts and "nofusho-3ren" in second[1].parts


def test_an_edited_layout_or_part_is_validated_again(tmp_path: Path, layouts: Path) -> None:
    fonts = fonts_with_cache(tmp_path)
    path = layouts / "tsuchisho-nozei.yaml"
    before = load_layout_traced(path, fonts)
    path.write_text(path.read_text(encoding="utf-8") + "\n# 見直し\n", encoding="utf-8")
    edited = load_layout_traced(path, fonts)
    assert edited[1].sha256 != before[1].sha256
    assert len(entries(tmp_path)) == 2
    part = layouts / "parts" / "nofusho-3ren.yaml"
    part.write_text(part.read_text(encoding="utf-8") + "\n# 見直し\n", encoding="utf-8")
    again = load_layout_traced(path, fonts)
    assert again[1].parts["nofusho-3ren"] != edited[1].parts["nofusho-3ren"]   # re-validated, new part hash


def test_an_invalid_layout_is_never_stored_and_always_reported(tmp_path: Path, layouts: Path) -> None:
    fonts = fonts_with_cache(tmp_path)
    path = layouts / "juminhyo-setai.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\nid: juminhyo-setai" in text
    path.write_text(text.replace("\nid: juminhyo-setai", "\nid: juminhyo-setai\nunknown_key: 1"), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(LayoutError):
            load_layout_traced(path, fonts)
    assert entries(tmp_path) == []


def test_another_font_manifest_misses(tmp_path: Path, layouts: Path) -> None:
    fonts = fonts_with_cache(tmp_path)
    load_layout_traced(layouts / "juminhyo-setai.yaml", fonts)
    other_fonts = tmp_path / "fonts"
    shutil.copytree(ROOT / "fonts", other_fonts)
    manifest = other_fonts / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "\n# another set\n", encoding="utf-8")
    load_layout_traced(layouts / "juminhyo-setai.yaml", FontSet(other_fonts, fonts.cache))
    assert len(entries(tmp_path)) == 2


def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path: Path, layouts: Path) -> None:
    fonts = fonts_with_cache(tmp_path)
    path = layouts / "juminhyo-setai.yaml"
    good = load_layout_traced(path, fonts)
    (entry,) = entries(tmp_path)
    entry.write_bytes(layout_cache.MAGIC + b"\x80\x05 not a pickle")
    assert load_layout_traced(path, fonts) == good
    assert entry.read_bytes().startswith(layout_cache.MAGIC) and len(entry.read_bytes()) > 1000


def test_no_cache_directory_writes_nothing(tmp_path: Path, layouts: Path) -> None:
    load_layout_traced(layouts / "juminhyo-setai.yaml", FontSet(ROOT / "fonts", FontCache(None)))
    assert not (tmp_path / "cache").exists()


def test_the_code_identity_covers_every_module() -> None:
    identity = layout_cache.code_identity()
    assert len(identity) == 64
    assert layout_cache.PACKAGE == ROOT / "renderer"
    assert (layout_cache.PACKAGE / "spec" / "model.py").is_file()
