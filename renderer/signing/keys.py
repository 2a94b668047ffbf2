"""The signer of a signing configuration: a key and certificate from a PKCS#12 file or a PKCS#11 token.

In: a `SigningConfig`. Out: `open_signer` — a context manager giving a pyHanko `Signer` (the certificate chain
from ``chain`` registered with it) and closing the token session afterwards; `load_certs` for PEM/DER files.
A key, PIN or passphrase file readable by group or others is refused again here (it may have changed since the
configuration was loaded); a wrong passphrase or PIN and an unknown token or key label are `SigningConfigError`
(exit 2); a token that cannot be reached is `SigningUnavailableError` (exit 1). Secrets are never put in a
message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from asn1crypto import keys, pem, x509
from pyhanko.sign import signers

from renderer.signing.config import SigningConfig, require_private
from renderer.signing.errors import SigningConfigError, SigningUnavailableError


def load_certs(paths: list[Path], field: str) -> list[x509.Certificate]:
    """Every certificate in these PEM or DER files (a PEM file may hold several)."""
    out: list[x509.Certificate] = []
    for i, path in enumerate(paths):
        try:
            data = path.read_bytes()
            if pem.detect(data):
                out.extend(x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True)
                           if kind == "CERTIFICATE")
            else:
                cert = x509.Certificate.load(data)
                cert.native   # noqa: B018 — parse it all now, so a bad file fails here and not mid-signing
                out.append(cert)
        except (OSError, ValueError) as exc:
            raise SigningConfigError(f"{field}[{i}]: {path} is not a readable PEM or DER certificate "
                                     f"({exc.__class__.__name__})", field=f"{field}[{i}]") from None
    return out


@contextlib.contextmanager
def open_signer(config: SigningConfig) -> Iterator[signers.Signer]:
    """The configured signer (see the module docstring)."""
    chain = load_certs(config.chain, "chain")
    if config.pkcs12 is not None:
        yield _pkcs12(config, chain)
        return
    with _pkcs11(config, chain) as signer:
        yield signer


def _pkcs12(config: SigningConfig, chain: list[x509.Certificate]) -> signers.Signer:
    from cryptography.hazmat.primitives.serialization import pkcs12

    key = config.pkcs12
    assert key is not None
    require_private(key.file, "pkcs12.file")
    passphrase = key.passphrase.read("pkcs12.passphrase").encode("utf-8") if key.passphrase else None
    try:
        data = key.file.read_bytes()
        private, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
    except OSError as exc:
        raise SigningConfigError(f"pkcs12.file: cannot read {key.file} ({exc.__class__.__name__})",
                                 field="pkcs12.file") from None
    except ValueError:
        raise SigningConfigError(f"pkcs12.passphrase: {key.file} could not be opened with the configured passphrase "
                                 f"(or it is not a PKCS#12 file)", field="pkcs12.passphrase") from None
    if private is None or cert is None:
        raise SigningConfigError(f"pkcs12.file: {key.file} holds no key and certificate pair", field="pkcs12.file")
    from cryptography.hazmat.primitives import serialization

    key_der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    others = [x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra]
    registry = SimpleCertificateStore.from_certs([*chain, *others])  # type: ignore[no-untyped-call]
    return signers.SimpleSigner(
        signing_cert=x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=keys.PrivateKeyInfo.load(key_der),
        cert_registry=registry)


@contextlib.contextmanager
def _pkcs11(config: SigningConfig, chain: list[x509.Certificate]) -> Iterator[signers.Signer]:
    import pkcs11
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    key = config.pkcs11
    assert key is not None
    pin = key.pin.read("pkcs11.pin")
    try:
        session = open_pkcs11_session(str(key.module), token_criteria=TokenCriteria(label=key.token_label),
                                      user_pin=pin)
    except pkcs11.exceptions.PinIncorrect:
        raise SigningConfigError(f"pkcs11.pin: the token {key.token_label!r} refused the configured PIN",
                                 field="pkcs11.pin") from None
    except pkcs11.exceptions.PinLocked:
        raise SigningUnavailableError(f"the PKCS#11 token {key.token_label!r} is locked (too many wrong PINs); "
                                      f"nothing was delivered", field="pkcs11.pin") from None
    except pkcs11.PKCS11Error as exc:
        if "No token matching" in str(exc):
            raise SigningConfigError(f"pkcs11.token_label: no token labelled {key.token_label!r} in {key.module}",
                                     field="pkcs11.token_label") from None
        raise SigningUnavailableError(f"the PKCS#11 token {key.token_label!r} ({key.module}) could not be opened "
                                      f"({exc.__class__.__name__}); nothing was delivered",
                                      field="pkcs11.module") from None
    except OSError as exc:   # the module does not load
        raise SigningConfigError(f"pkcs11.module: {key.module} could not be loaded ({exc.__class__.__name__})",
                                 field="pkcs11.module") from None
    try:
        signer = PKCS11Signer(session, cert_label=key.cert_label or key.key_label, key_label=key.key_label,
                              ca_chain=chain)
        try:
            signer.signing_cert   # noqa: B018 — pulls the certificate and finds the key now
        except pkcs11.PKCS11Error as exc:
            raise SigningConfigError(
                f"pkcs11.key_label: the token {key.token_label!r} has no usable key/certificate labelled "
                f"{key.key_label!r} ({exc.__class__.__name__})", field="pkcs11.key_label") from None
        yield signer
    finally:
        session.close()
