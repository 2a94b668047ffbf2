"""PAdES signatures for delivered PDFs (`output: file`): per-tenant keys kept outside the repository.

In: the finished PDF bytes of a render, the tenant's signing configuration (``CHOHYO_SIGNING_DIR/<code>.yaml``)
and the level asked for. Out: the same bytes with an incremental update that signs them (PAdES B-B, B-T with an
RFC 3161 timestamp, or B-LT with the validation data in the document security store), the signed file's sha256
and the signer certificate's fingerprint for the issue log; and, for checking a file handed back, a JSON-able
description of its signatures.

Modules (light ones first: the render pipeline imports them on every run, pyHanko only when it signs):
- `errors`  — the ChohyoError subclasses signing raises (exit 1 a service did not answer, 2 the configuration,
  3 the signing certificate is expired, revoked or untrusted);
- `policy`  — levels, the request option ``request.sign``, the tenant file's ``signing`` policy and `resolve`,
  which decides before a serial is spent whether a render is signed and with which configuration;
- `config`  — the signing configuration file (pydantic, extra=forbid), secrets from an env var or a private file;
- `keys`    — the signer from a PKCS#12 file or a PKCS#11 token (pyHanko + python-pkcs11);
- `sign`    — `sign_pdf`;
- `inspect` — `describe_signatures` (what `chohyo verify` prints).
"""
