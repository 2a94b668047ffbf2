"""Tests for renderer.tenants: 職名 with the 都道府県名, signers by period, 団体コード and 公印 checks.

The sample tenants are real municipalities with fictitious officials (見本 …). Broken tenants are made in
tmp_path from a copy of a sample tenant file; seal images are drawn with Pillow.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image, ImageDraw

from renderer.errors import InputError, LayoutError, RefusedError
from renderer.tenants import Tenant, check_seal_image, load_tenant

REPO = Path(__file__).resolve().parents[1]
TENANTS = REPO / "layouts" / "tenants"

OFFICE_TITLES = {
    "122122": ("千葉県", "千葉県佐倉市長"),
    "281107": ("兵庫県", "兵庫県神戸市中央区長"),
    "131016": ("東京都", "東京都千代田区長"),
}
A_DAY_IN_OFFICE = dt.date(2026, 11, 27)


# --------------------------------------------------------------------------- helpers


def _seal(size: tuple[int, int] = (300, 300), ink: tuple[int, int, int] = (0, 0, 0), fmt: str = "PNG") -> bytes:
    """A seal-like image: a ring and a bar in `ink` on white."""
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img)
    m = max(2, min(w, h) // 20)
    draw.ellipse((m, m, w - m - 1, h - m - 1), outline=ink, width=max(2, min(w, h) // 12))
    draw.rectangle((w // 3, h // 4, w // 3 + max(2, w // 10), 3 * h // 4), fill=ink)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _tenant_copy(tmp_path: Path, code: str = "122122", *, new_code: str | None = None,
                 edit: Callable[[dict[str, Any]], None] | None = None, seal: bytes | None = None) -> Path:
    """Copy a sample tenant (file and seal) into tmp_path/tenants, optionally changed; return the dir."""
    tenants = tmp_path / "tenants"
    (tenants / "seals").mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((TENANTS / f"{code}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    shutil.copy2(TENANTS / data["seal"]["image"], tenants / data["seal"]["image"])
    if seal is not None:
        (tenants / "seals" / "test-seal.png").write_bytes(seal)
        data["seal"]["image"] = "seals/test-seal.png"
    if new_code is not None:
        data["code"] = new_code
    if edit is not None:
        edit(data)
    name = new_code or code
    (tenants / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                         encoding="utf-8")
    return tenants


def _load(code: str) -> Tenant:
    return load_tenant(TENANTS, code)


def _problems(exc: LayoutError) -> str:
    return "\n".join([exc.message, *(f"{d.path}: {d.message}" for d in exc.diagnostics)])


# --------------------------------------------------------------------------- the sample tenants


@pytest.mark.parametrize("code", sorted(OFFICE_TITLES))
def test_sample_tenants_load(code: str) -> None:
    tenant = _load(code)
    assert tenant.code == code
    assert tenant.sample is True
    assert tenant.seal_png.startswith(b"\x89PNG")


@pytest.mark.parametrize("code", sorted(OFFICE_TITLES))
def test_office_title_starts_with_the_prefecture(code: str) -> None:
    prefecture, title = OFFICE_TITLES[code]
    tenant = _load(code)

    assert tenant.office_title == title
    assert tenant.office_title.startswith(prefecture)
    head = tenant.signer_for(A_DAY_IN_OFFICE, "head")
    assert head.title == title
    deputy = tenant.signer_for(A_DAY_IN_OFFICE, "deputy")
    assert deputy.title.startswith(prefecture)


@pytest.mark.parametrize("code", sorted(OFFICE_TITLES))
def test_deputy_title_names_the_acting_role(code: str) -> None:
    _, title = OFFICE_TITLES[code]
    deputy = _load(code).signer_for(A_DAY_IN_OFFICE, "deputy")

    assert deputy.role == "deputy"
    assert deputy.title.startswith(f"{title}職務代理者")
    assert "職務代理者" in deputy.title


def test_ward_deputy_title_in_full() -> None:
    deputy = _load("281107").signer_for(A_DAY_IN_OFFICE, "deputy")
    assert deputy.title == "兵庫県神戸市中央区長職務代理者　副区長"   # the prefecture once, in the 職名
    assert deputy.name == "見本　五郎"


def test_signer_switches_on_the_first_day_of_the_new_term() -> None:
    tenant = _load("281107")

    before = tenant.signer_for(dt.date(2025, 3, 31), "head")
    after = tenant.signer_for(dt.date(2025, 4, 1), "head")

    assert before.name == "見本　三郎"
    assert after.name == "見本　四郎"
    assert before.title == after.title == "兵庫県神戸市中央区長"
    assert tenant.signer_for(dt.date(2021, 4, 1), "head").name == "見本　三郎"


@pytest.mark.parametrize(("code", "day"), [("281107", dt.date(2021, 3, 31)), ("122122", dt.date(2000, 1, 1))])
@pytest.mark.parametrize("role", ["head", "deputy"])
def test_no_signer_in_office_is_refused(code: str, day: dt.date, role: str) -> None:
    tenant = _load(code)
    with pytest.raises(RefusedError) as info:
        tenant.signer_for(day, "head" if role == "head" else "deputy")
    assert info.value.rule == "signer-in-office"
    assert info.value.exit_code == 3


# --------------------------------------------------------------------------- broken tenant files


def test_a_faithful_copy_loads(tmp_path: Path) -> None:
    """Control for the tests below: the copying itself keeps a valid tenant."""
    tenants = _tenant_copy(tmp_path, "281107")
    assert load_tenant(tenants, "281107").office_title == "兵庫県神戸市中央区長"


def test_a_tenant_with_our_own_black_seal_loads(tmp_path: Path) -> None:
    """Control for the seal tests: a black seal drawn like the bad ones is accepted."""
    tenants = _tenant_copy(tmp_path, seal=_seal())
    tenant = load_tenant(tenants, "122122")
    assert tenant.seal_png.startswith(b"\x89PNG")


def test_wrong_check_digit_in_the_code(tmp_path: Path) -> None:
    tenants = _tenant_copy(tmp_path, "122122", new_code="122121")   # 12212 → check digit 2

    with pytest.raises(LayoutError) as info:
        load_tenant(tenants, "122121")

    assert [d.path for d in info.value.diagnostics] == ["code"]
    assert "check digit" in info.value.diagnostics[0].message
    assert info.value.exit_code == 2


def test_code_must_match_the_file_name(tmp_path: Path) -> None:
    tenants = _tenant_copy(tmp_path, "122122")
    (tenants / "122122.yaml").rename(tenants / "131016.yaml")

    with pytest.raises(LayoutError) as info:
        load_tenant(tenants, "131016")
    assert info.value.field == "code"


def test_prefecture_is_required(tmp_path: Path) -> None:
    tenants = _tenant_copy(tmp_path, edit=lambda d: d.pop("prefecture"))

    with pytest.raises(LayoutError) as info:
        load_tenant(tenants, "122122")
    assert [d.path for d in info.value.diagnostics] == ["prefecture"]


def test_oversized_seal_size_is_rejected(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["seal"]["size_mm"] = 26

    tenants = _tenant_copy(tmp_path, edit=edit)

    with pytest.raises(LayoutError) as info:
        load_tenant(tenants, "122122")
    (diag,) = info.value.diagnostics
    assert diag.path == "seal.size_mm"
    assert "25" in diag.message
    assert diag.line is not None


def test_seal_size_of_25_mm_is_allowed(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["seal"]["size_mm"] = 25

    assert load_tenant(_tenant_copy(tmp_path, edit=edit), "122122").file.seal.size_mm == 25


# --------------------------------------------------------------------------- seal images


@pytest.mark.parametrize(
    ("image", "message"),
    [
        pytest.param(_seal(ink=(200, 0, 0)), "black only", id="red"),
        pytest.param(_seal(ink=(0, 0, 180)), "black only", id="blue"),
        pytest.param(_seal(size=(50, 50)), "too small", id="too-small"),
        pytest.param(_seal(size=(300, 150)), "not square", id="not-square"),
        pytest.param(_seal(fmt="JPEG"), "must be PNG", id="jpeg"),
        pytest.param(b"not an image at all", "not an image", id="garbage"),
    ],
)
def test_bad_seal_image_is_rejected(tmp_path: Path, image: bytes, message: str) -> None:
    tenants = _tenant_copy(tmp_path, seal=image)

    with pytest.raises(LayoutError) as info:
        load_tenant(tenants, "122122")

    assert message in _problems(info.value)
    assert [d.path for d in info.value.diagnostics] == ["seal.image"]
    assert info.value.exit_code == 2


def test_check_seal_image_returns_a_black_only_png(tmp_path: Path) -> None:
    path = tmp_path / "seal.png"
    path.write_bytes(_seal())

    out = Image.open(io.BytesIO(check_seal_image(path, source="test")))

    assert out.format == "PNG"
    assert out.mode == "LA"
    pixels = out.width * out.height
    assert out.getchannel("L").histogram()[0] == pixels      # the ink can only ever be black
    assert sum(out.getchannel("A").histogram()[201:]) > 0     # and there is ink


# --------------------------------------------------------------------------- declared terminals and printers


@pytest.mark.parametrize(("name", "why"), [
    ("本庁T\u200b", "U+200B (Cf)"),            # a zero-width space: invisible in the 発行番号
    ("本庁\u200bT", "U+200B (Cf)"),
    ("本庁\r\nT", "U+000D (Cc)"),
    ("本庁\x00T", "U+0000 (Cc)"),
    ("本庁 T", "U+0020 (Zs)"),                 # spaces would blur where the terminal ends and the printer starts
    ("本庁\u2028T", "U+2028 (Zl)"),
    ("本庁Ｔ", "NFKC-normalised"),             # full-width Ｔ prints like T
])
def test_a_device_name_that_could_print_like_another_is_refused(tmp_path: Path, name: str, why: str) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["terminals"] = [{"id": "honcho-t", "name": name}]

    with pytest.raises(LayoutError) as info:
        load_tenant(_tenant_copy(tmp_path, edit=edit), "122122")
    assert why in " ".join(d.message for d in info.value.diagnostics)


@pytest.mark.parametrize("devices", [
    {"terminals": [{"id": "a", "name": "本庁T"}, {"id": "b", "name": "本庁T"}]},
    {"terminals": [{"id": "a", "name": "本庁T"}], "printers": [{"id": "p", "name": "本庁T"}]},
    {"printers": [{"id": "p", "name": "P1"}, {"id": "p", "name": "P2"}]},
])
def test_device_names_and_ids_are_unique(tmp_path: Path, devices: dict[str, Any]) -> None:
    with pytest.raises(LayoutError):
        load_tenant(_tenant_copy(tmp_path, edit=lambda data: data.update(devices)), "122122")


def test_a_request_names_a_declared_device_by_id() -> None:
    tenant = load_tenant(TENANTS, "122122")
    assert tenant.device_name("terminal", "honcho-1") == "本庁1"
    assert tenant.device_name("printer", "") == ""
    with pytest.raises(InputError) as info:
        tenant.device_name("terminal", "honcho-9")
    assert info.value.field == "request.terminal" and "honcho-1" in info.value.message


# --------------------------------------------------------------------------- the machine cache of tenant files


def _cache_dir(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700, exist_ok=True)
    return cache


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "tenants").glob("*.pickle")) if (cache / "tenants").is_dir() else []


def test_a_cached_tenant_equals_a_fresh_validation(tmp_path: Path) -> None:
    cache = _cache_dir(tmp_path)
    fresh = load_tenant(TENANTS, "122122")
    first = load_tenant(TENANTS, "122122", cache)
    assert len(_entries(cache)) == 1
    second = load_tenant(TENANTS, "122122", cache)   # from the entry
    for tenant in (first, second):
        assert tenant.file == fresh.file
        assert tenant.seal_png == fresh.seal_png
        assert tenant.sha256 == fresh.sha256
        assert tenant.office_title == fresh.office_title
        assert tenant.signer_for(A_DAY_IN_OFFICE, "head") == fresh.signer_for(A_DAY_IN_OFFICE, "head")


def test_a_seal_replaced_since_the_entry_is_checked_again(tmp_path: Path) -> None:
    """The tenant file is unchanged, so its entry's key is the same: the seal's own hash sends it back to the
    checks, and a coloured seal is refused although a black one was cached."""
    cache = _cache_dir(tmp_path)
    tenants = _tenant_copy(tmp_path, seal=_seal())
    black = load_tenant(tenants, "122122", cache)
    (tenants / "seals" / "test-seal.png").write_bytes(_seal(ink=(220, 0, 0)))
    with pytest.raises(LayoutError) as exc:
        load_tenant(tenants, "122122", cache)
    assert "black only" in _problems(exc.value)
    (tenants / "seals" / "test-seal.png").write_bytes(_seal(size=(400, 400)))
    bigger = load_tenant(tenants, "122122", cache)
    assert bigger.seal_png != black.seal_png
    assert bigger.seal_png == check_seal_image(tenants / "seals" / "test-seal.png", source="test")


def test_an_edited_tenant_file_is_validated_afresh_and_an_invalid_one_every_time(tmp_path: Path) -> None:
    cache = _cache_dir(tmp_path)
    tenants = _tenant_copy(tmp_path)
    load_tenant(tenants, "122122", cache)
    _tenant_copy(tmp_path, edit=lambda data: data.update(prefecture="千葉"))   # not a 都道府県名 any more
    for _ in range(2):   # never stored, so reported in full each time
        with pytest.raises(LayoutError) as exc:
            load_tenant(tenants, "122122", cache)
        assert "prefecture" in _problems(exc.value)
    assert len(_entries(cache)) == 1


def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    cache = _cache_dir(tmp_path)
    good = load_tenant(TENANTS, "122122", cache)
    (entry,) = _entries(cache)
    for damage in (b"", b"CHOHYO-LAYOUTCACHE\x01not a pickle", entry.read_bytes()[:-40]):
        entry.write_bytes(damage)
        again = load_tenant(TENANTS, "122122", cache)
        assert again.file == good.file and again.seal_png == good.seal_png
