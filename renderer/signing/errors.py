"""The errors signing raises, each a `ChohyoError` with its exit code (see renderer/errors.py).

In: nothing. Out:
- `SigningConfigError` (exit 2): the tenant's signing configuration is missing, invalid or unsafe (a key, PIN or
  passphrase file readable by group or others), or a request asks for signing the tenant cannot do;
- `SigningUnavailableError` (exit 1): a service signing needs did not answer — the timestamp authority, the
  OCSP/CRL responders for B-LT, the PKCS#11 token — so nothing was delivered;
- `SigningCertificateError` (exit 3, with a rule): the signing certificate is expired, not yet valid, revoked or
  does not chain to the configured trust roots: the renderer refuses to sign with it.
Messages name the field, URL or certificate subject (never document content).
"""

from __future__ import annotations

from renderer.errors import ChohyoError, LayoutError, RefusedError


class SigningConfigError(LayoutError):
    problem = "signing-config"
    title = "Invalid or missing signing configuration"


class SigningUnavailableError(ChohyoError):
    problem = "signing-unavailable"
    title = "A service needed for signing did not answer; nothing was delivered"


class SigningCertificateError(RefusedError):
    problem = "signing-certificate"
    title = "The signing certificate cannot be used; nothing was delivered"


EXPIRED_RULE = "signing-certificate-expired"
NOT_YET_VALID_RULE = "signing-certificate-not-yet-valid"
REVOKED_RULE = "signing-certificate-revoked"
UNTRUSTED_RULE = "signing-certificate-untrusted"
