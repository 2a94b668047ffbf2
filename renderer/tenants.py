"""Tenants (municipalities) are files, not request data: `layouts/tenants/<団体コード>.yaml`.

In: a tenant YAML file and its seal image. Out: a validated `Tenant` with the seal checked (size, pixel
count, black only), the signer in office on a date (`signer_for`), and the 職名 always prefixed with the
都道府県名 (「千葉県佐倉市長」, 「兵庫県神戸市中央区長」: dropping the prefecture is 実装しない機能).
A tenant marked `sample: true` prints a 「見本」 watermark on every sheet and its seal says 見本.
`Tenant.sha256` is the sha256 of the tenant file's bytes exactly as they were parsed (the issue log cites
it as ``tenant_sha256``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from renderer.diagnostics import Diagnostic, from_pydantic
from renderer.errors import InputError, LayoutError, RefusedError
from renderer.formats.codes import CodeError, validate_lg_code
from renderer.signing.policy import TenantSigningPolicy
from renderer.spec.cache import cached_tenant
from renderer.spec.model import OmissionItem

MAX_SEAL_BYTES = 2_000_000
MAX_SEAL_PIXELS = 4_000_000
MIN_SEAL_SIDE_PX = 100
MAX_SEAL_MM = 25.0
#: Unicode categories a printed name may not contain: control, format, line/paragraph and space separators
BANNED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})


class Model(BaseModel):
    # built when a tenant file is validated: a process that finds it in the machine cache never builds them
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Signer(Model):
    role: Literal["head", "deputy"] = Field(description="市区町村長（区長） or 職務代理者")
    name: Annotated[str, Field(min_length=1, max_length=40)]
    position: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="for a deputy: their own post, e.g. 副市長")
    valid_from: dt.date = Field(alias="from")
    valid_to: dt.date | None = Field(default=None, alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _period(self) -> Signer:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("`to` is before `from`")
        if self.role == "deputy" and self.position is None:
            raise ValueError("a deputy (職務代理者) needs `position`, e.g. 副市長")
        return self

    def in_office(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class Seal(Model):
    image: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]+\.png$")]
    size_mm: float = Field(gt=5, le=MAX_SEAL_MM, description="printed size, at most 25 mm square")


class TenantDefaults(Model):
    include: list[OmissionItem] = Field(
        default_factory=list, description="optional items printed when a request does not say")
    options: dict[str, bool] = Field(default_factory=dict, description="standard options switched on/off")
    parameters: dict[str, dict[str, int | str | bool | None]] = Field(
        default_factory=dict, description="per layout id: values of the parameters the layout declares")


def check_printed_name(v: str) -> str:
    """A name printed in the 発行番号: NFKC-normalised, no control, format, separator or space characters
    (so two different series can never print the same visible 発行番号, and no name can hide a CR/LF)."""
    normal = unicodedata.normalize("NFKC", v)
    if normal != v:
        raise ValueError(f"must be written NFKC-normalised ({normal!r})")
    for ch in v:
        if unicodedata.category(ch) in BANNED_CATEGORIES:
            raise ValueError(f"contains U+{ord(ch):04X} ({unicodedata.category(ch)}): control, format, "
                             f"separator and space characters are not allowed")
    return v


class Device(Model):
    """A terminal (端末) or printer (プリンタ) of the tenant: the id a request names, the name printed."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,19}$")]
    name: Annotated[str, Field(min_length=1, max_length=20)]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_printed_name(v)


# --- Printers reached over IPP (issue 17; renderer/printing sends the jobs) --------------------------------
#: IPP media-source keywords (RFC 8011 / PWG 5100.7): main, manual, by-pass-tray, tray-1 … (lower-case, digits, -)
MediaSource = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class Calibration(Model):
    """Where a printer puts the page on pre-printed stock, corrected: every printed mark moves by
    (dx_mm, dy_mm) right/down after scaling by `scale` about the sheet's top-left corner (print jobs only)."""

    dx_mm: float = Field(default=0.0, ge=-20, le=20, description="shift to the right, mm")
    dy_mm: float = Field(default=0.0, ge=-20, le=20, description="shift downwards, mm")
    scale: float = Field(default=1.0, ge=0.9, le=1.1, description="scale about the top-left corner")

    @property
    def identity(self) -> bool:
        return self.dx_mm == 0 and self.dy_mm == 0 and self.scale == 1


class Tray(Model):
    """A tray of a printer, by purpose (the key in `PrinterDevice.trays`): the IPP media-source that
    feeds it, the paper loaded and the calibration for that paper."""

    source: MediaSource = Field(description="IPP media-source keyword of the tray, e.g. tray-2 or by-pass-tray")
    paper: Literal["A3", "A4", "A5", "B4", "B5"] = Field(default="A4", description="paper size loaded")
    calibration: Calibration = Calibration.model_construct()   # no shift (made without building a validator)


class PrinterDevice(Device):
    """A printer of the tenant: its printed name (the 発行番号) and, for `chohyo print`/`--print-to`, how
    to reach it over IPP, its trays by purpose (security_paper, plain, envelope …) and duplex."""

    uri: Annotated[str, Field(pattern=r"^ipps?://[A-Za-z0-9._:\[\]-]+(/[A-Za-z0-9._~/-]*)?$")] | None = Field(
        default=None, description="ipp:// or ipps:// URI of the printer or CUPS queue; absent: name only (never sent "
                                  "jobs)")
    duplex: bool = Field(default=False, description="can print two-sided")
    trays: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")], Tray] = Field(
        default_factory=dict, description="purpose → tray, e.g. security_paper: {source: tray-2}")
    job_history_seconds: int = Field(
        default=60, ge=0, le=86400 * 30, description="how long the printer keeps a finished job visible to "
                                                     "Get-Jobs (decides what a resumed run may conclude)")


class DvSettings(Model):
    """DV 支援措置 parameters a tenant sets (seed: 抑止状態に戻るまでの時間を設定できること)."""

    lift_max_minutes: int = Field(default=30, ge=1, le=1440,
                                  description="the longest 一時解除 a reviewer may grant, in minutes")


class TenantFile(Model):
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    sample: bool = Field(description="true for sample tenants: 見本 watermark and a 見本 seal")
    prefecture: Annotated[str, Field(min_length=2, max_length=10)]
    county: Annotated[str, Field(min_length=2, max_length=20)] | None = None
    municipality: Annotated[str, Field(min_length=2, max_length=20)]
    ward: Annotated[str, Field(min_length=2, max_length=20)] | None = Field(
        default=None, description="政令市の区 when the tenant is a ward office")
    signers: list[Signer] = Field(min_length=1)
    seal: Seal
    defaults: TenantDefaults = TenantDefaults.model_construct()   # the defaults, made without building validators
    dv: DvSettings = DvSettings.model_construct()
    terminals: list[Device] = Field(default_factory=list, description="端末: the ids requests may name")
    printers: list[PrinterDevice] = Field(default_factory=list, description="プリンタ: the ids requests may name "
                                                                             "(and, with a uri, where jobs go)")
    signing: TenantSigningPolicy | None = Field(
        default=None, description="outputs that must be signed (PAdES) and the least level; the key, chain, TSA and "
                                  "revocation sources live in CHOHYO_SIGNING_DIR/<code>.yaml, outside the repository")

    @model_validator(mode="after")
    def _devices(self) -> TenantFile:
        ids: set[tuple[str, str]] = set()
        names: dict[str, str] = {}
        for kind, devices in (("terminals", self.terminals), ("printers", self.printers)):
            for d in devices:
                if (kind, d.id) in ids:
                    raise ValueError(f"{kind}: id {d.id!r} is declared twice")
                ids.add((kind, d.id))
                # one name space for both lists: the 発行番号 joins them with spaces, so a terminal and a
                # printer sharing a name would print the same visible number for two series
                if d.name in names:
                    raise ValueError(f"{kind}: the printed name {d.name!r} is already used by {names[d.name]}")
                names[d.name] = f"{kind} {d.id}"
        return self

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        try:
            return validate_lg_code(v)
        except CodeError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("prefecture")
    @classmethod
    def _prefecture(cls, v: str) -> str:
        if v[-1] not in "都道府県":
            raise ValueError("a 都道府県名 ends in 都, 道, 府 or 県")
        return v


@dataclass(frozen=True)
class SignerInOffice:
    role: Literal["head", "deputy"]
    title: str      # 職名, always with the 都道府県名
    name: str


@dataclass(frozen=True)
class Tenant:
    file: TenantFile
    seal_png: bytes
    source: Path
    #: sha256 (hex) of the tenant file's bytes as parsed: provenance for the issue log
    sha256: str = ""

    @property
    def code(self) -> str:
        return self.file.code

    @property
    def sample(self) -> bool:
        return self.file.sample

    @property
    def kinds(self) -> frozenset[str]:
        """What sort of local body the tenant is, as layouts name it in `not_issued_by`: ``special_ward``
        for Tokyo's 23 特別区 (団体コード 13101–13123, 地方自治法281条), ``ward_office`` for a 政令市の区."""
        out = set()
        if self.code[:2] == "13" and 101 <= int(self.code[2:5]) <= 123:
            out.add("special_ward")
        if self.file.ward:
            out.add("ward_office")
        return frozenset(out)

    @property
    def local_name(self) -> str:
        """市区町村名 as in the 発行番号: 佐倉市, 神戸市中央区, 千代田区."""
        f = self.file
        return f"{f.municipality}{f.ward or ''}"

    @property
    def full_name(self) -> str:
        f = self.file
        return f"{f.prefecture}{f.county or ''}{f.municipality}{f.ward or ''}"

    @property
    def office_title(self) -> str:
        """職名 of the head: 都道府県名 + 市区町村名 (+ 区名) + 長."""
        return f"{self.full_name}長"

    def device_name(self, kind: Literal["terminal", "printer"], device_id: str) -> str:
        """The printed name of a declared terminal or printer ("" for none); an undeclared id is refused
        (exit 2) before anything is spent."""
        if not device_id:
            return ""
        devices = self.file.terminals if kind == "terminal" else self.file.printers
        for d in devices:
            if d.id == device_id:
                return d.name
        known = ", ".join(d.id for d in devices) or "none"
        raise InputError(f"request.{kind}: {device_id!r} is not a {kind} of tenant {self.code} (declared: {known})",
                         field=f"request.{kind}")

    def printer(self, printer_id: str) -> PrinterDevice:
        """A declared printer (an undeclared id: exit 2, before anything is spent)."""
        self.device_name("printer", printer_id or "-")
        return next(p for p in self.file.printers if p.id == printer_id)

    def signer_for(self, day: dt.date, role: Literal["head", "deputy"]) -> SignerInOffice:
        """The signer of `role` in office on `day`; refused (exit 3) if there is none."""
        for s in self.file.signers:
            if s.role == role and s.in_office(day):
                if role == "head":
                    return SignerInOffice(role, self.office_title, s.name)
                title = f"{self.office_title}職務代理者　{s.position}"   # the 都道府県名 once, in the 職名
                return SignerInOffice(role, title, s.name)
        label = "市区町村長" if role == "head" else "職務代理者"
        raise RefusedError(
            f"no {label} ({role}) of tenant {self.code} is in office on {day.isoformat()}",
            rule="signer-in-office",
            field="request.signer",
        )


def load_tenant(tenants_dir: Path, code: str, cache: Path | None = None) -> Tenant:
    """The tenant `code` of `tenants_dir`, validated with its seal checked; from the machine cache in `cache`
    (`renderer.spec.cache.cached_tenant`) when an entry made from exactly these bytes exists."""
    path = tenants_dir / f"{code}.yaml"
    if not path.is_file():
        raise InputError(f"tenant: unknown tenant {code} (no tenant file for this 団体コード)", field="tenant")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read: {exc.__class__.__name__}") from None
    sha256 = hashlib.sha256(raw).hexdigest()

    def seal_path(tf: TenantFile) -> Path:
        found = (tenants_dir / tf.seal.image).resolve()
        if tenants_dir.resolve() not in found.parents:
            raise LayoutError(f"{path}: seal.image must stay inside {tenants_dir}", field="seal.image")
        return found

    def validate() -> tuple[TenantFile, bytes, bytes]:
        from renderer.spec.load import load_yaml_text  # YAML only on a cache miss

        loaded = load_yaml_text(text, source=str(path))   # the very bytes that are hashed above
        try:
            tf = TenantFile.model_validate(loaded.data)
        except ValidationError as exc:
            diags = from_pydantic(exc, source=str(path), lines=loaded.lines)
            raise LayoutError(f"{path}: invalid tenant file", diagnostics=diags) from None
        if tf.code != code:
            raise LayoutError(f"{path}: the file's code {tf.code} does not match its name", field="code")
        seal = seal_path(tf)
        raw_seal = read_seal_image(seal, source=str(path))
        return tf, raw_seal, check_seal_image(seal, source=str(path), raw=raw_seal)

    tf, seal_png = cached_tenant(cache, code, sha256, seal_path, validate)
    return Tenant(file=tf, seal_png=seal_png, source=path, sha256=sha256)


def read_seal_image(path: Path, *, source: str) -> bytes:
    """The bytes of a 公印 image file (bounded: at most `MAX_SEAL_BYTES`)."""
    try:
        raw = path.read_bytes()
    except OSError:
        raise _bad_seal(path, source, "cannot be read") from None
    if len(raw) > MAX_SEAL_BYTES:
        raise _bad_seal(path, source, f"{len(raw)} bytes, over the {MAX_SEAL_BYTES} byte limit")
    return raw


def _bad_seal(path: Path, source: str, msg: str) -> LayoutError:
    return LayoutError(f"{source}: seal image {path.name}: {msg}",
                       diagnostics=[Diagnostic(path="seal.image", message=msg, source=source)])


def check_seal_image(path: Path, *, source: str, raw: bytes | None = None) -> bytes:
    """Read a 公印 image (or take its bytes, `raw`) and check it: PNG, bounded bytes and pixels, square
    enough, black only.

    Returns PNG bytes normalised to grayscale with alpha (white becomes transparent), so the seal can be
    printed over the 職名 without hiding it and can never be printed in colour.
    """
    from PIL import Image, ImageChops, UnidentifiedImageError  # only when a seal is checked (a cache miss)

    def bad(msg: str) -> LayoutError:
        return _bad_seal(path, source, msg)

    if raw is None:
        raw = read_seal_image(path, source=source)
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            fmt, (w, h) = probe.format, probe.size
            if fmt != "PNG":
                raise bad(f"must be PNG, is {fmt}")
            if w * h > MAX_SEAL_PIXELS:
                raise bad(f"{w}×{h} pixels, over the {MAX_SEAL_PIXELS} pixel limit")
            if min(w, h) < MIN_SEAL_SIDE_PX:
                raise bad(f"{w}×{h} pixels is too small to print sharply (at least {MIN_SEAL_SIDE_PX})")
            if max(w, h) > 1.1 * min(w, h):
                raise bad(f"{w}×{h} pixels is not square")
            rgba = probe.convert("RGBA")
    except UnidentifiedImageError:
        raise bad("is not an image") from None
    # Black only: any pixel with visible ink must have no colour (saturation ≤ 48 of 255).
    r, g, b, a = rgba.split()
    saturation = Image.merge("RGB", (r, g, b)).convert("HSV").split()[1]
    value = rgba.convert("L")
    inked = ImageChops.multiply(a.point(lambda v: 255 if v > 32 else 0),
                                value.point(lambda v: 255 if v < 224 else 0))
    coloured = ImageChops.multiply(inked, saturation.point(lambda v: 255 if v > 48 else 0))
    colourful = coloured.histogram()[255]
    if colourful > (w * h) // 1000:
        raise bad(f"{colourful} coloured pixels: a 公印 is printed in black only")
    gray = value
    alpha_mask = Image.eval(gray, lambda v: 255 - v)
    alpha_mask = Image.composite(alpha_mask, Image.new("L", gray.size, 0), a)
    out = Image.merge("LA", (Image.new("L", gray.size, 0), alpha_mask))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
