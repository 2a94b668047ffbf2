"""PAdES signing against a real PKI on loopback (certomancer: CA, TSA, OCSP, CRL), checked by pyHanko's validator.

Golden-case PDFs (a 住民票 and a 納税通知書) are signed at B-B, B-T and B-LT with a PKCS#12 key; each must keep its
unsigned bytes in front, be intact, chain to the test root, carry a trusted timestamp (B-T, B-LT) and — B-LT —
validate with nothing fetched after the PKI's server is stopped. An expired or revoked certificate and a TSA that
is down are refused with their cause; a tampered byte is detected; unsafe key files are refused.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import aiohttp
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from signkit import GOLDEN, LoopbackPki, cert, free_port

from renderer.signing.config import SigningConfig, load_signing_config
from renderer.signing.errors import (
    EXPIRED_RULE,
    REVOKED_RULE,
    SigningCertificateError,
    SigningConfigError,
    SigningUnavailableError,
)
from renderer.signing.policy import SignatureLevel
from renderer.signing.sign import SignedPdf, fingerprint, sign_pdf

LEVELS: tuple[SignatureLevel, ...] = ("B-B", "B-T", "B-LT")

pytest_plugins = ("sigfixtures",)


def config_for(pki: LoopbackPki, signing_dir: Path, **kw: object) -> SigningConfig:
    pki.signing_config(signing_dir / "122122.yaml", **kw)   # type: ignore[arg-type]
    config = load_signing_config(signing_dir, "122122")
    assert config is not None
    return config


def online_status(pki: LoopbackPki, pdf: bytes) -> PdfSignatureStatus:
    """pyHanko's validation with fetching allowed (the responders are up) and revocation checked; one HTTP session,
    closed afterwards."""
    root = cert(pki.root_pem)
    interm = cert(pki.interm_pem)
    reader = PdfFileReader(io.BytesIO(pdf))
    (sig,) = reader.embedded_signatures

    async def run() -> PdfSignatureStatus:
        async with aiohttp.ClientSession() as session:
            context = ValidationContext(trust_roots=[root], other_certs=[interm], allow_fetching=True,
                                        revocation_mode="hard-fail", fetcher_backend=AIOHttpFetcherBackend(session))
            return await async_validate_pdf_signature(sig, signer_validation_context=context,
                                                      ts_validation_context=context)

    return asyncio.run(run())


def offline_status(root_pem: Path, pdf: bytes) -> PdfSignatureStatus:
    """Validation from the document security store alone: nothing fetched, revocation data required."""
    reader = PdfFileReader(io.BytesIO(pdf))
    (sig,) = reader.embedded_signatures
    dss = DocumentSecurityStore.read_dss(reader)
    context = dss.as_validation_context({"trust_roots": [cert(root_pem)],
                                         "allow_fetching": False, "revocation_mode": "require"})
    return validate_pdf_signature(sig, signer_validation_context=context, ts_validation_context=context)


@pytest.mark.parametrize("case", sorted(GOLDEN))
@pytest.mark.parametrize("level", LEVELS)
def test_golden_case_signed_and_validated(pki: LoopbackPki, signing_dir: Path, case: str,
                                          level: SignatureLevel) -> None:
    pdf = GOLDEN[case].read_bytes()
    signed = sign_pdf(pdf, config_for(pki, signing_dir), level)
    assert isinstance(signed, SignedPdf) and signed.level == level
    assert signed.pdf.startswith(pdf)   # an incremental update: the golden bytes are untouched, in front
    assert signed.signer_fingerprint == fingerprint(cert(pki.files["signer"].cert_der))
    status = online_status(pki, signed.pdf)
    assert status.intact and status.valid, "integrity"
    assert status.trusted, "chain to the test root"
    assert status.bottom_line
    assert status.coverage in (SignatureCoverageLevel.ENTIRE_FILE, SignatureCoverageLevel.ENTIRE_REVISION)
    has_dss = "/DSS" in PdfFileReader(io.BytesIO(signed.pdf)).root
    if level == "B-B":
        assert status.timestamp_validity is None
        assert not has_dss
    else:
        ts = status.timestamp_validity
        assert ts is not None and ts.intact and ts.valid and ts.trusted, "timestamp from the loopback TSA"
        assert status.signer_reported_dt is not None and ts.timestamp >= status.signer_reported_dt
        assert has_dss == (level == "B-LT")


def test_b_lt_validates_offline_after_the_responders_stop(tmp_path: Path, signing_dir: Path) -> None:
    own = LoopbackPki(tmp_path / "pki")   # its own server: this test stops it
    try:
        config = config_for(own, signing_dir)
        pdf = GOLDEN["juminhyo"].read_bytes()
        lt = sign_pdf(pdf, config, "B-LT").pdf
        bt = sign_pdf(pdf, config, "B-T").pdf
    finally:
        own.stop()
    assert not own.running
    with pytest.raises(OSError):   # really stopped: nothing answers at the OCSP/CRL/TSA address
        import socket
        socket.create_connection(("127.0.0.1", int(own.url.rsplit(":", 1)[1])), timeout=2).close()
    status = offline_status(own.root_pem, lt)
    assert status.bottom_line, repr(status)
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    reader = PdfFileReader(io.BytesIO(lt))
    dss = DocumentSecurityStore.read_dss(reader)
    assert dss.ocsps and dss.crls and len(list(dss.load_certs())) >= 3   # OCSP for the signer, CRLs for the CAs
    # the control: a B-T file carries no validation data, so the same offline check cannot pass
    with pytest.raises(NoDSSFoundError):
        offline_status(own.root_pem, bt)


def test_a_tampered_byte_is_detected(pki: LoopbackPki, signing_dir: Path) -> None:
    signed = sign_pdf(GOLDEN["notice"].read_bytes(), config_for(pki, signing_dir), "B-T").pdf
    at = signed.index(b"/Lang (ja-JP)") + len(b"/Lang (ja-J")
    tampered = signed[:at] + b"Q" + signed[at + 1:]   # one byte of the signed range: ja-JP -> ja-JQ
    assert len(tampered) == len(signed)
    assert online_status(pki, signed).intact
    status = online_status(pki, tampered)
    assert not status.intact and not status.bottom_line


def test_expired_certificate_is_refused(pki: LoopbackPki, signing_dir: Path) -> None:
    with pytest.raises(SigningCertificateError) as exc:
        sign_pdf(GOLDEN["notice"].read_bytes(), config_for(pki, signing_dir, signer="expired"), "B-LT")
    assert exc.value.exit_code == 3 and exc.value.rule == EXPIRED_RULE
    assert "expired on" in exc.value.message and "Expired Signer" in exc.value.message
    assert "nothing was signed or delivered" in exc.value.message


@pytest.mark.parametrize("level", ["B-B", "B-LT"])
def test_revoked_certificate_is_refused(pki: LoopbackPki, signing_dir: Path, level: SignatureLevel) -> None:
    with pytest.raises(SigningCertificateError) as exc:
        sign_pdf(GOLDEN["notice"].read_bytes(), config_for(pki, signing_dir, signer="revoked"), level)
    assert exc.value.exit_code == 3 and exc.value.rule == REVOKED_RULE
    assert "revoked" in exc.value.message and "compromise" in exc.value.message


@pytest.mark.parametrize("level", ["B-T", "B-LT"])
def test_tsa_down_is_a_clear_error(pki: LoopbackPki, signing_dir: Path, level: SignatureLevel) -> None:
    down = f"http://127.0.0.1:{free_port()}/tsa"
    with pytest.raises(SigningUnavailableError) as exc:
        sign_pdf(GOLDEN["notice"].read_bytes(), config_for(pki, signing_dir, tsa_url=down), level)
    assert exc.value.exit_code == 1
    assert exc.value.message.startswith(f"the timestamp authority at {down} did not answer")
    assert exc.value.message.endswith("nothing was delivered")


def test_ocsp_down_for_b_lt_is_unavailable(tmp_path: Path, signing_dir: Path) -> None:
    own = LoopbackPki(tmp_path / "pki")
    config = config_for(own, signing_dir)
    own.stop()   # the OCSP responder and CRLs named in the certificates no longer answer
    with pytest.raises(SigningUnavailableError) as exc:
        sign_pdf(GOLDEN["notice"].read_bytes(), config.model_copy(update={"timeout_seconds": 2}), "B-LT")
    assert exc.value.exit_code == 1 and "revocation data" in exc.value.message


@pytest.mark.parametrize("which", ["p12", "passphrase_file"])
def test_key_or_passphrase_file_readable_by_others_is_refused(pki: LoopbackPki, signing_dir: Path,
                                                              which: str) -> None:
    config = config_for(pki, signing_dir)
    path: Path = getattr(pki.files["signer"], which)
    path.chmod(0o644)
    try:
        with pytest.raises(SigningConfigError) as exc:
            load_signing_config(signing_dir, "122122")
        assert exc.value.exit_code == 2 and "mode 0644" in exc.value.message and "chmod 600" in exc.value.message
        assert exc.value.field in ("pkcs12.file", "pkcs12.passphrase.file")
        with pytest.raises(SigningConfigError):   # and again when the key is opened (it may change in between)
            sign_pdf(GOLDEN["notice"].read_bytes(), config, "B-B")
    finally:
        path.chmod(0o600)


def test_configuration_errors_name_the_field(pki: LoopbackPki, signing_dir: Path) -> None:
    path = signing_dir / "122122.yaml"
    path.write_text("trust_roots: [root.pem]\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(SigningConfigError) as exc:
        load_signing_config(signing_dir, "122122")
    paths = {d.path for d in exc.value.diagnostics}
    assert "surprise" in paths and any("pkcs12" in d.message or "key" in d.message for d in exc.value.diagnostics)
    path.chmod(0o666)
    with pytest.raises(SigningConfigError, match="writable by group or others"):
        load_signing_config(signing_dir, "122122")
    path.chmod(0o600)
    pki.signing_config(path)
    path.write_text(path.read_text(encoding="utf-8").replace(str(pki.root_pem), str(signing_dir / "nope.pem")),
                    encoding="utf-8")
    with pytest.raises(SigningConfigError) as missing:
        load_signing_config(signing_dir, "122122")
    assert missing.value.field == "trust_roots[0]"
    assert load_signing_config(signing_dir, "999999") is None
    assert load_signing_config(None, "122122") is None


def test_wrong_passphrase_is_a_configuration_error(pki: LoopbackPki, signing_dir: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it\n")
    wrong.chmod(0o600)
    files = pki.files["signer"]
    config = config_for(pki, signing_dir, key={"pkcs12": {"file": str(files.p12), "passphrase": {"file": str(wrong)}}})
    with pytest.raises(SigningConfigError) as exc:
        sign_pdf(GOLDEN["notice"].read_bytes(), config, "B-B")
    assert exc.value.field == "pkcs12.passphrase" and "not-it" not in str(exc.value)
