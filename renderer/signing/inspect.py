"""What the signatures in a PDF say: for `chohyo verify` and for a clerk checking a file handed back.

In: PDF bytes and, optionally, the trust roots to judge the chains by (PEM/DER bytes or file paths; without them
nothing is called trusted). Out: `describe_signatures` — one JSON-able dict per signature, in file order::

    {"field": "ChohyoSignature", "signer_subject": "Common Name: …", "signer_fingerprint": "<sha256 hex>",
     "signing_time": "2026-12-03T17:02:38+00:00" | None,          # as the signer reported it
     "timestamp": {"time": "…", "tsa": "Common Name: …", "valid": true, "trusted": true | None} | None,
     "coverage": "entire file" | "entire revision" | "partial",
     "integrity_ok": true,                                          # digest and signature value check out
     "trusted_chain": true | false | None,                          # None: no trust roots given
     "ltv": {"present": true, "validates_offline": true | false | None},
     "modification_level": "none" | "lta_updates" | "form_filling" | "annotations" | "other",
     "level": "B-B" | "B-T" | "B-LT",                               # what the file carries
     "readable": true,                                              # false: see below
     "problems": ["…"]}                                            # why something above is false

A signature field whose signature dictionary cannot be parsed (its ``/V`` is not a dictionary, its CMS or byte
range is garbage, its ``/SubFilter`` is not one pyHanko checks, the form's fields cannot be walked) is listed
too, with ``"readable": false``, ``"integrity_ok": false``, nulls for what could not be read and the reason in
``problems`` — never dropped, so a file whose signature cannot be read never reads as "no signatures".

Nothing is fetched: LTV is judged with the document security store (DSS) alone, with revocation data required
for every certificate — what a file must carry to validate after the CA's responders are gone. A file that is
not a PDF pyHanko can read is an `InputError` (exit 2); a file without signatures gives an empty list.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asn1crypto import pem, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from renderer.errors import InputError
from renderer.signing.sign import fingerprint, quiet_libraries

_SUBFILTERS = {f.value for f in SigSeedSubFilter}
COVERAGE = {SignatureCoverageLevel.ENTIRE_FILE: "entire file",
            SignatureCoverageLevel.ENTIRE_REVISION: "entire revision"}


def _roots(trust_roots: Sequence[bytes | Path] | None) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for item in trust_roots or ():
        data = item.read_bytes() if isinstance(item, Path) else item
        if pem.detect(data):
            out.extend(x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True)
                       if kind == "CERTIFICATE")
        else:
            out.append(x509.Certificate.load(data))
    return out


def describe_signatures(pdf: bytes, *, trust_roots: Sequence[bytes | Path] | None = None) -> list[dict[str, Any]]:
    """See the module docstring."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InputError(f"the file is not a PDF whose signatures can be read ({exc.__class__.__name__})",
                         field="file") from None
    roots = _roots(trust_roots)
    with quiet_libraries():   # what pyHanko logs (with tracebacks) is reported in "problems" instead
        sigs = _signatures(reader)
        dss_problem = None
        try:
            dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
        except NoDSSFoundError:
            dss = None
        except Exception as exc:   # a hostile /DSS: the signatures are still described, without LTV data
            dss = None
            dss_problem = f"ltv: the document security store cannot be read ({exc.__class__.__name__})"
        out = [s if isinstance(s, dict) else _describe(s, roots, dss) for s in sigs]
    for entry in out:
        if dss_problem is not None and entry["readable"]:
            entry["problems"].append(dss_problem)
    return out


def unreadable(field: str | None, reason: str) -> dict[str, Any]:
    """The entry of a signature whose dictionary cannot be parsed (see the module docstring)."""
    return {"field": field, "signer_subject": None, "signer_fingerprint": None, "signing_time": None,
            "timestamp": None, "coverage": None, "integrity_ok": False, "trusted_chain": None,
            "ltv": {"present": False, "validates_offline": None}, "modification_level": None, "level": None,
            "readable": False, "problems": [f"the signature dictionary cannot be parsed: {reason}"]}


def _signatures(reader: PdfFileReader) -> list[EmbeddedPdfSignature | dict[str, Any]]:
    """Every filled signature field of type ``/Sig`` in signing order (as pyHanko's
    ``embedded_regular_signatures``), a field that cannot be parsed as an `unreadable` entry in its place
    (pyHanko raises on it, or drops it when its /SubFilter is unknown)."""
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:   # hostile /AcroForm: /Fields not an array, a cycle, a broken reference
        return [unreadable(None, f"the form's signature fields cannot be read ({exc.__class__.__name__})")]
    parsed: list[tuple[int, EmbeddedPdfSignature]] = []
    broken: list[dict[str, Any]] = []
    for name, value, field_ref in fields:
        try:
            obj = value.get_object()
            if not isinstance(obj, generic.DictionaryObject):
                broken.append(unreadable(name, f"its /V is {type(obj).__name__}, not a dictionary"))
                continue
            kind = obj.get("/Type", "/Sig")
            if kind == "/DocTimeStamp":
                continue   # a document timestamp, not a signature (as pyHanko's embedded_regular_signatures)
            if kind != "/Sig":
                broken.append(unreadable(name, f"its /Type is {str(kind)[:40]}, not /Sig"))
                continue
            subfilter = obj.get("/SubFilter")
            if subfilter not in _SUBFILTERS:
                broken.append(unreadable(name, f"its /SubFilter ({str(subfilter)[:40]}) is not one this checker knows"))
                continue
            sig = EmbeddedPdfSignature(reader, field_ref, name)
            _ = sig.signer_cert   # parsed now, so a CMS without a usable signer certificate is reported here
            parsed.append((sig.signed_revision, sig))
        except Exception as exc:   # a broken CMS, byte range or revision: reported, never raised
            broken.append(unreadable(name, exc.__class__.__name__))
    return [sig for _, sig in sorted(parsed, key=lambda p: p[0])] + broken


def _describe(sig: EmbeddedPdfSignature, roots: list[x509.Certificate],
              dss: DocumentSecurityStore | None) -> dict[str, Any]:
    problems: list[str] = []
    cert = sig.signer_cert
    entry: dict[str, Any] = {
        "field": sig.field_name, "signer_subject": str(cert.subject.human_friendly),
        "signer_fingerprint": fingerprint(cert), "signing_time": None, "timestamp": None, "coverage": "partial",
        "integrity_ok": False, "trusted_chain": None,
        "ltv": {"present": dss is not None and bool(dss.ocsps or dss.crls), "validates_offline": None},
        "modification_level": "other", "level": "B-B", "readable": True, "problems": problems}
    extra = list(dss.load_certs()) if dss is not None else []
    context = ValidationContext(trust_roots=roots, other_certs=extra, allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(sig, signer_validation_context=context, ts_validation_context=context)
    except Exception as exc:   # a broken CMS or byte range: reported, never raised
        problems.append(f"the signature could not be checked: {exc.__class__.__name__}: {exc}")
        return entry
    entry.update(_status(status, bool(roots)))
    if not entry["integrity_ok"]:
        problems.append("integrity: the signed bytes were changed or the signature value does not match")
    if roots and not entry["trusted_chain"]:
        problems.append("chain: the signer's certificate does not chain to the given trust roots")
    if status.timestamp_validity is not None:
        entry["level"] = "B-LT" if entry["ltv"]["present"] else "B-T"
    elif entry["ltv"]["present"]:
        entry["level"] = "B-LT"
    if entry["ltv"]["present"] and roots and dss is not None:
        entry["ltv"]["validates_offline"] = _offline(sig, roots, dss, problems)
    return entry


def _status(status: PdfSignatureStatus, judged: bool) -> dict[str, Any]:
    ts = status.timestamp_validity
    level = status.modification_level
    return {
        "signing_time": status.signer_reported_dt.isoformat() if status.signer_reported_dt else None,
        "timestamp": None if ts is None else {
            "time": ts.timestamp.isoformat(), "tsa": str(ts.signing_cert.subject.human_friendly),
            "valid": bool(ts.intact and ts.valid), "trusted": bool(ts.trusted) if judged else None},
        "coverage": COVERAGE.get(status.coverage, "partial") if status.coverage is not None else "partial",
        "integrity_ok": bool(status.intact and status.valid),
        "trusted_chain": bool(status.trusted) if judged else None,
        "modification_level": level.name.lower() if level is not None else "other",
    }


def _offline(sig: EmbeddedPdfSignature, roots: list[x509.Certificate], dss: DocumentSecurityStore,
             problems: list[str]) -> bool:
    """The signature and its timestamp validate from the DSS alone, revocation data required for every
    certificate, nothing fetched."""
    try:
        context = dss.as_validation_context({"trust_roots": roots, "allow_fetching": False,
                                             "revocation_mode": "require"})
        status = validate_pdf_signature(sig, signer_validation_context=context, ts_validation_context=context)
    except Exception as exc:
        problems.append(f"ltv: offline validation failed: {exc.__class__.__name__}: {exc}")
        return False
    ok = bool(status.bottom_line)
    ts = status.timestamp_validity
    if ts is not None and not ts.trusted:
        problems.append("ltv: the timestamp's chain does not validate offline")
        ok = False
    if not ok:
        problems.append("ltv: the embedded validation data does not validate the signature offline")
    return ok
