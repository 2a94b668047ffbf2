"""Sign a finished PDF: PAdES B-B, B-T or B-LT, appended as an incremental update.

In: the PDF bytes (unchanged: they stay the first bytes of the output, so golden tests keep checking the unsigned
drawing), a `SigningConfig`, the level and an optional `VisibleField`. Out: `SignedPdf` (bytes, sha256 of the
signed file, sha256 fingerprint of the signer's certificate, level) — or an error and nothing at all:

- before anything is signed, the signer's certificate is checked: within its validity period (else
  `SigningCertificateError`, rule ``signing-certificate-expired`` / ``-not-yet-valid``), chaining to the
  configured trust roots and not revoked by the OCSP responder or CRL its certificates name (pyHanko's
  pre-signing validation; ``-revoked`` / ``-untrusted``; revocation data that cannot be fetched is
  `SigningUnavailableError`);
- B-T and B-LT: the signature value is timestamped by the configured RFC 3161 TSA; a TSA that does not answer is
  `SigningUnavailableError` (exit 1: "the timestamp authority at … did not answer; nothing was delivered");
- B-LT: the chain, the OCSP responses and the CRLs fetched for the signer and the TSA are written to the
  document security store (DSS), so the file validates offline after the responders are gone.

Invisible by default (a signature field without a widget on the first page); a layout's ``signature_field`` puts
a visible stamp (「電子署名」, the signer and the time, in an embedded subset of the given font) on the first or
last sheet. The signature carries the signing time, so signed bytes are never the same twice: check them by
validation (`renderer.signing.inspect`), not by comparing bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
from asn1crypto import x509
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from renderer.fonts import FontSet
from renderer.signing.config import SigningConfig
from renderer.signing.errors import (
    EXPIRED_RULE,
    NOT_YET_VALID_RULE,
    REVOKED_RULE,
    UNTRUSTED_RULE,
    SigningCertificateError,
    SigningConfigError,
    SigningUnavailableError,
)
from renderer.signing.keys import load_certs, open_signer
from renderer.signing.policy import SignatureLevel
from renderer.spec.model import SignatureFieldSpec

FIELD_NAME = "ChohyoSignature"
MM = 72 / 25.4
STAMP_TEXT = "電子署名\n%(signer)s\n%(ts)s"
STAMP_FONT = "IPAexGothic"


@dataclass(frozen=True)
class VisibleField:
    """A visible signature: where on which sheet, in millimetres from the sheet's top-left (as layouts say)."""

    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float
    sheet: Literal["first", "last"] = "last"
    #: a TrueType font embedded (subset) for the stamp's text
    font: Path | None = None


def visible_field(spec: SignatureFieldSpec | None, fonts: FontSet) -> VisibleField | None:
    """The layout's ``signature_field`` as a `VisibleField` (its text in IPAexゴシック, embedded), or None."""
    if spec is None:
        return None
    return VisibleField(x_mm=spec.at[0], y_mm=spec.at[1], width_mm=spec.size[0], height_mm=spec.size[1],
                        sheet=spec.sheet, font=fonts.files[STAMP_FONT].path)


@dataclass(frozen=True)
class SignedPdf:
    pdf: bytes
    sha256: str
    signer_fingerprint: str
    level: SignatureLevel

    def record(self) -> dict[str, str]:
        """What the issue log's render record adds (hashes and the level only)."""
        return {"signed_sha256": self.sha256, "signer_fingerprint": self.signer_fingerprint,
                "signature_level": self.level}


def fingerprint(cert: x509.Certificate) -> str:
    """sha256 of the certificate's DER, hex (what ``openssl x509 -fingerprint -sha256`` shows, without colons)."""
    return hashlib.sha256(cert.dump()).hexdigest()


def _subject(cert: x509.Certificate) -> str:
    return str(cert.subject.human_friendly)


def check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    """Refuse a signing certificate outside its validity period (before any service is asked)."""
    validity = cert["tbs_certificate"]["validity"]
    start, end = validity["not_before"].native, validity["not_after"].native
    if now > end:
        raise SigningCertificateError(
            f"the signing certificate ({_subject(cert)}) expired on {end.isoformat()}; nothing was signed or "
            f"delivered", rule=EXPIRED_RULE, field="signing")
    if now < start:
        raise SigningCertificateError(
            f"the signing certificate ({_subject(cert)}) is valid only from {start.isoformat()}; nothing was "
            f"signed or delivered", rule=NOT_YET_VALID_RULE, field="signing")


def validation_context(config: SigningConfig, level: SignatureLevel,
                       session: aiohttp.ClientSession | None = None) -> ValidationContext:
    """Trust roots and chain from the configuration, fetching allowed (the OCSP/CRL URLs the certificates name, plus
    the configured CRL files) through `session`. B-LT requires revocation data for every certificate (it is
    embedded); B-B and B-T refuse a revoked certificate and fail when a named responder does not answer."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import pem

    crls: list[asn1_crl.CertificateList] = []
    for i, path in enumerate(config.revocation.crl_files):
        try:
            data = path.read_bytes()
            ders = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
            for der in ders:
                crl = asn1_crl.CertificateList.load(der)
                crl.native   # noqa: B018 — parse it all now
                crls.append(crl)
        except (OSError, ValueError) as exc:
            raise SigningConfigError(f"revocation.crl_files[{i}]: {path} is not a readable CRL "
                                     f"({exc.__class__.__name__})", field=f"revocation.crl_files[{i}]") from None
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    backend = AIOHttpFetcherBackend(session, per_request_timeout=max(1, round(config.timeout_seconds))) \
        if session is not None else None
    return ValidationContext(
        trust_roots=load_certs(config.trust_roots, "trust_roots"), other_certs=load_certs(config.chain, "chain"),
        crls=crls, allow_fetching=True, revocation_mode="require" if level == "B-LT" else "hard-fail",
        fetcher_backend=backend)


def _stamp(field: VisibleField, signer_name: str) -> tuple[TextStampStyle, dict[str, str]]:
    from pyhanko.pdf_utils.text import TextBoxStyle

    if field.font is None:
        raise SigningConfigError("signature_field: a visible signature needs an embedded font", field="signature_field")
    return TextStampStyle(stamp_text=STAMP_TEXT, timestamp_format="%Y-%m-%d %H:%M:%S UTC",
                          text_box_style=TextBoxStyle(font=_FontFromBytes(str(field.font), font_size=9)),
                          border_width=1), {"signer": signer_name}


class _Accumulator(GlyphAccumulator):
    """pyHanko's glyph accumulator with the font's ``/W`` widths in thousandths of an em, as PDF wants them (it
    writes them in font units, which doubles every advance for a 2048-unit font such as IPAex)."""

    def prepare_write(self) -> None:
        if not self._write_prepared:
            upem = self.units_per_em
            self._glyphs = {gid: (cid, round(width * 1000 / upem)) for gid, (cid, width) in self._glyphs.items()}
        super().prepare_write()  # type: ignore[no-untyped-call]


class _FontFromBytes(GlyphAccumulatorFactory):
    """pyHanko's glyph accumulator fed from the font's bytes (its own factory leaves the font file open)."""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> _Accumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return _Accumulator(writer=writer, font_handle=io.BytesIO(Path(self.font_file).read_bytes()),
                            font_size=self.font_size, ot_script_tag=self.ot_script_tag,
                            ot_language_tag=self.ot_language_tag, writing_direction=self.writing_direction,
                            bcp47_lang_code=self.bcp47_lang_code, obj_stream=obj_stream)


_IN_SIGNATURE_REVISION = DSSContentSettings(placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
                                            include_vri=False)


class _MetadataKept(IncrementalPdfFileWriter):
    """An incremental update that leaves the Info dictionary and the XMP packet as the renderer wrote them. pyHanko
    would set /ModDate, append itself to /Producer in Info and rewrite the XMP with another Producer: the two would
    no longer agree, which PDF/A (6.6.3) forbids. The signature revision changes no metadata."""

    def _update_meta(self) -> None:
        return None


def _field_spec(writer: IncrementalPdfFileWriter, field: VisibleField) -> fields.SigFieldSpec:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader: PdfFileReader = writer.prev
    count = int(reader.root["/Pages"]["/Count"])
    page = 0 if field.sheet == "first" else count - 1
    page_ref = reader.find_page_for_modification(page)[0]  # type: ignore[no-untyped-call]
    box = [float(v) for v in page_ref.get_object()["/MediaBox"]]
    top = box[3]
    x1, y2 = box[0] + field.x_mm * MM, top - field.y_mm * MM
    x2, y1 = x1 + field.width_mm * MM, y2 - field.height_mm * MM
    return fields.SigFieldSpec(FIELD_NAME, on_page=page, box=(round(x1), round(y1), round(x2), round(y2)))


def sign_pdf(pdf: bytes, config: SigningConfig, level: SignatureLevel, field: VisibleField | None = None, *,
             now: dt.datetime | None = None) -> SignedPdf:
    """See the module docstring. `now` is the real clock (the certificate checks and the signing time)."""
    now = now or dt.datetime.now(dt.UTC)
    with open_signer(config) as signer:
        cert = signer.signing_cert
        if cert is None:
            raise SigningConfigError(f"{config.source}: the key has no certificate", field=config.key_kind)
        check_validity(cert, now)
        try:
            with quiet_libraries():
                signed = asyncio.run(_sign(pdf, config, level, field, signer, cert))
        except timestamps.TimestampRequestError as exc:
            raise SigningUnavailableError(
                f"the timestamp authority at {config.tsa_url} did not answer "
                f"({_cause(exc)}); nothing was delivered", field="tsa_url") from None
        except SigningError as exc:
            raise _from_validation(exc, cert) from None
        except PdfError as exc:
            raise SigningUnavailableError(f"the PDF could not be signed ({exc.__class__.__name__}); nothing was "
                                          f"delivered") from None
    return SignedPdf(pdf=signed, sha256=hashlib.sha256(signed).hexdigest(), signer_fingerprint=fingerprint(cert),
                     level=level)


async def _sign(pdf: bytes, config: SigningConfig, level: SignatureLevel, field: VisibleField | None,
                signer: signers.Signer, cert: x509.Certificate) -> bytes:
    """One HTTP session for the TSA and the OCSP/CRL fetches, closed before returning (nothing left open)."""
    async with aiohttp.ClientSession() as session:
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
            reason=config.reason, location=config.location, embed_validation_info=level == "B-LT",
            validation_context=validation_context(config, level, session),
            # B-LT in the signature's own revision (one writer, ours): the signature covers the entire file
            dss_settings=_IN_SIGNATURE_REVISION if level == "B-LT" else DSSContentSettings())
        tsa = timestamps.HTTPTimeStamper(config.tsa_url, timeout=max(1, round(config.timeout_seconds)),
                                         session=session) if level != "B-B" and config.tsa_url else None
        writer = _MetadataKept(io.BytesIO(pdf), strict=False)
        spec: fields.SigFieldSpec | None = None
        style: TextStampStyle | None = None
        params: dict[str, str] | None = None
        if field is not None:
            spec = _field_spec(writer, field)
            style, params = _stamp(field, str(cert.subject.native.get("common_name", _subject(cert))))
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=tsa, new_field_spec=spec, stamp_style=style)
        out = await pdf_signer.async_sign_pdf(writer, appearance_text_params=params)
        return bytes(out.getvalue())


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """pyHanko and its validator log failures as warnings with tracebacks (certificate subjects, URLs): the CLI
    must print one clear message instead, so they are silenced while signing or inspecting; the causes travel in
    our errors and reports."""
    loggers = [logging.getLogger(name) for name in ("pyhanko", "pyhanko_certvalidator")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return cause.__class__.__name__ if cause is not None else exc.__class__.__name__


def _from_validation(exc: SigningError, cert: x509.Certificate) -> Exception:
    """pyHanko's pre-signing validation failure as our error, naming the cause."""
    cause = exc.__cause__
    who = _subject(cert)
    if isinstance(cause, RevokedError):
        return SigningCertificateError(f"the signing certificate ({who}) is revoked: {cause}; nothing was signed or "
                                       f"delivered", rule=REVOKED_RULE, field="signing")
    if isinstance(cause, ExpiredError):
        return SigningCertificateError(f"a certificate of the signing chain ({who}) has expired: {cause}; nothing "
                                       f"was signed or delivered", rule=EXPIRED_RULE, field="signing")
    if isinstance(cause, NotYetValidError):
        return SigningCertificateError(f"a certificate of the signing chain ({who}) is not valid yet: {cause}",
                                       rule=NOT_YET_VALID_RULE, field="signing")
    if isinstance(cause, InsufficientRevinfoError):
        return SigningUnavailableError(
            f"revocation data for the signing chain ({who}) could not be obtained — the OCSP responder or CRL "
            f"the certificates name did not answer: {cause}; nothing was delivered", field="revocation")
    if isinstance(cause, PathBuildingError | PathValidationError):
        return SigningCertificateError(f"the signing certificate ({who}) does not validate against the configured "
                                       f"trust roots: {cause}; nothing was signed or delivered",
                                       rule=UNTRUSTED_RULE, field="trust_roots")
    return SigningUnavailableError(f"signing failed ({exc}); nothing was delivered")
