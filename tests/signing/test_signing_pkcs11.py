"""Signing with a key on a real PKCS#11 token: SoftHSM2 (Debian), initialised by the ``softhsm`` fixture.

The token holds the loopback PKI's valid signer (key imported with softhsm2-util, certificate with pkcs11-tool);
a B-LT signature made through python-pkcs11 must validate offline like a PKCS#12 one, and a wrong PIN, a PIN file
readable by others or an unknown token label must be clear configuration errors. Under CI a missing SoftHSM2
fails these tests instead of skipping them.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from signkit import GOLDEN, LoopbackPki, SoftHsm, cert

from renderer.signing.config import SigningConfig, load_signing_config
from renderer.signing.errors import SigningConfigError
from renderer.signing.sign import fingerprint, sign_pdf

pytest_plugins = ("sigfixtures",)


def token_config(pki: LoopbackPki, softhsm: SoftHsm, signing_dir: Path, **pkcs11: object) -> SigningConfig:
    key = softhsm.key_entry()
    key["pkcs11"].update(pkcs11)
    pki.signing_config(signing_dir / "122122.yaml", key=key)
    config = load_signing_config(signing_dir, "122122")
    assert config is not None and config.key_kind == "pkcs11"
    return config


def test_b_lt_with_a_softhsm2_key_validates_offline(pki: LoopbackPki, softhsm: SoftHsm, signing_dir: Path) -> None:
    pdf = GOLDEN["juminhyo"].read_bytes()
    signed = sign_pdf(pdf, token_config(pki, softhsm, signing_dir), "B-LT")
    assert signed.pdf.startswith(pdf)
    assert signed.signer_fingerprint == fingerprint(cert(pki.files["signer"].cert_der))
    reader = PdfFileReader(io.BytesIO(signed.pdf))
    (sig,) = reader.embedded_signatures
    context = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [cert(pki.root_pem)], "allow_fetching": False,
         "revocation_mode": "require"})
    status = validate_pdf_signature(sig, signer_validation_context=context, ts_validation_context=context)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_wrong_pin_is_a_configuration_error(pki: LoopbackPki, softhsm: SoftHsm, signing_dir: Path,
                                            tmp_path: Path) -> None:
    wrong = tmp_path / "pin"
    wrong.write_text("999999\n")
    wrong.chmod(0o600)
    config = token_config(pki, softhsm, signing_dir, pin={"file": str(wrong)})
    with pytest.raises(SigningConfigError) as exc:
        sign_pdf(GOLDEN["notice"].read_bytes(), config, "B-B")
    assert exc.value.exit_code == 2 and exc.value.field == "pkcs11.pin" and "999999" not in str(exc.value)


def test_unknown_token_or_key_label(pki: LoopbackPki, softhsm: SoftHsm, signing_dir: Path) -> None:
    with pytest.raises(SigningConfigError) as token:
        sign_pdf(GOLDEN["notice"].read_bytes(), token_config(pki, softhsm, signing_dir, token_label="nope"), "B-B")
    assert token.value.field == "pkcs11.token_label"
    with pytest.raises(SigningConfigError) as key:
        sign_pdf(GOLDEN["notice"].read_bytes(), token_config(pki, softhsm, signing_dir, key_label="nope"), "B-B")
    assert key.value.field == "pkcs11.key_label"


def test_pin_file_readable_by_others_is_refused(pki: LoopbackPki, softhsm: SoftHsm, signing_dir: Path) -> None:
    token_config(pki, softhsm, signing_dir)
    softhsm.pin_file.chmod(0o644)
    try:
        with pytest.raises(SigningConfigError) as exc:
            load_signing_config(signing_dir, "122122")
        assert exc.value.field == "pkcs11.pin.file" and "0644" in exc.value.message
    finally:
        softhsm.pin_file.chmod(0o600)


def test_pin_from_an_environment_variable(pki: LoopbackPki, softhsm: SoftHsm, signing_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = token_config(pki, softhsm, signing_dir, pin={"env": "CHOHYO_TEST_TOKEN_PIN"})
    with pytest.raises(SigningConfigError, match="CHOHYO_TEST_TOKEN_PIN is not set"):
        sign_pdf(GOLDEN["notice"].read_bytes(), config, "B-B")
    monkeypatch.setenv("CHOHYO_TEST_TOKEN_PIN", SoftHsm.PIN)
    assert sign_pdf(GOLDEN["notice"].read_bytes(), config, "B-B").level == "B-B"
