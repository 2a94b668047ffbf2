"""A real test PKI on loopback and a real PKCS#11 token, for the signing tests.

In: nothing but a temp dir. Out:
- `LoopbackPki`: certomancer's CA hierarchy (root → intermediate → signers; a TSA; an OCSP responder for the
  intermediate; CRLs for both CAs), with every key generated here (RSA 2048) and every validity relative to
  the real clock, served by certomancer's animator (its WSGI app) under werkzeug's threaded HTTP server on
  127.0.0.1 (a real socket; `stop()` closes it). The certificates name the server's URLs in their AIA and CRL
  distribution points, so pyHanko fetches exactly as it would from LGPKI. It writes what a municipality's
  signing directory would hold for each signer: a PKCS#12 file (mode 0600) with its passphrase file, the
  intermediate and root certificates as PEM — and `signing_config` writes the YAML that points at them.
  Signers: ``signer`` (valid for years), ``expired`` (ended 30 days ago), ``revoked`` (revoked 10 days ago,
  key compromise).
- `SoftHsm`: a SoftHSM2 token initialised in a temp dir (``SOFTHSM2_CONF``), the signer's key imported with
  ``softhsm2-util --import`` and its certificate with opensc's ``pkcs11-tool``; `softhsm_missing()` says what
  is not installed.
- `free_port()`: a loopback port nobody listens on (a TSA that is down);
- ``GOLDEN``: golden cases whose expected PDFs the tests sign (a 住民票 and a notice).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import BaseWSGIServer, make_server

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = {
    "juminhyo": ROOT / "golden" / "juminhyo-setai" / "setai-4nin" / "expected.pdf",
    "notice": ROOT / "golden" / "tsuchisho-nozei" / "4ki-nofusho" / "expected.pdf",
}
ARCH = "chohyo-test"
PASSPHRASE = "test-passphrase-0600"
SIGNERS = ("signer", "expired", "revoked")
SOFTHSM_MODULE_CANDIDATES = (Path("/usr/lib/softhsm/libsofthsm2.so"),
                             Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"))


def cert(path: Path) -> Any:
    """The certificate in a PEM or DER file (an asn1crypto ``x509.Certificate``)."""
    from asn1crypto import pem, x509
    data = path.read_bytes()
    return x509.Certificate.load(pem.unarmor(data)[2] if pem.detect(data) else data)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _config(prefix: str, now: dt.datetime) -> dict[str, Any]:
    """certomancer's configuration: validities relative to `now` (the real clock at start)."""
    day = dt.timedelta(days=1)
    long_ago, far = _iso(now - 400 * day), _iso(now + 3650 * day)

    def ext_leaf() -> list[dict[str, Any]]:
        return [
            {"id": "key_usage", "critical": True,
             "smart-value": {"schema": "key-usage", "params": ["digital_signature", "non_repudiation"]}},
            {"id": "crl_distribution_points",
             "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["interm"]}}},
            {"id": "authority_information_access",
             "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": ["interm"]}}},
        ]

    ca_usage = {"id": "key_usage", "critical": True,
                "smart-value": {"schema": "key-usage", "params": ["digital_signature", "key_cert_sign", "crl_sign"]}}
    return {
        "external-url-prefix": prefix,
        "keysets": {ARCH: {"path-prefix": "keys", "keys": {
            name: {"path": f"{name}.key.pem"}
            for name in ("root", "interm", "ocsp", "tsa", *SIGNERS)}}},
        "pki-architectures": {ARCH: {
            "keyset": ARCH,
            "entity-defaults": {"country-name": "JP", "organization-name": "Chohyo Test PKI"},
            "entities": {
                "root": {"common-name": "Test Root CA"},
                "interm": {"common-name": "Test Intermediate CA"},
                "ocsp": {"common-name": "Test OCSP Responder"},
                "tsa": {"common-name": "Test Time Stamping Authority"},
                "signer": {"organizational-unit-name": "Sakura City", "common-name": "Test Signer"},
                "expired": {"organizational-unit-name": "Sakura City", "common-name": "Expired Signer"},
                "revoked": {"organizational-unit-name": "Sakura City", "common-name": "Revoked Signer"},
            },
            "certs": {
                "root": {"subject": "root", "subject-key": "root", "issuer": "root", "authority-key": "root",
                         "validity": {"valid-from": long_ago, "valid-to": _iso(now + 7300 * day)},
                         "extensions": [{"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                                        ca_usage]},
                "interm": {"issuer": "root", "validity": {"valid-from": long_ago, "valid-to": far},
                           "extensions": [
                               {"id": "basic_constraints", "critical": True,
                                "value": {"ca": True, "path-len-constraint": 0}},
                               ca_usage,
                               {"id": "crl_distribution_points",
                                "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}}}]},
                "ocsp": {"issuer": "interm", "validity": {"valid-from": long_ago, "valid-to": far},
                         "extensions": [
                             {"id": "key_usage", "critical": True,
                              "smart-value": {"schema": "key-usage", "params": ["digital_signature"]}},
                             {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                             {"id": "ocsp_no_check"}]},
                "tsa": {"issuer": "root", "validity": {"valid-from": long_ago, "valid-to": far},
                        "extensions": [
                            {"id": "key_usage", "critical": True,
                             "smart-value": {"schema": "key-usage", "params": ["digital_signature"]}},
                            {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                            {"id": "crl_distribution_points",
                             "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}}}]},
                "signer": {"issuer": "interm", "validity": {"valid-from": _iso(now - 30 * day),
                                                            "valid-to": _iso(now + 1000 * day)},
                           "extensions": ext_leaf()},
                "expired": {"issuer": "interm", "validity": {"valid-from": long_ago,
                                                             "valid-to": _iso(now - 30 * day)},
                            "extensions": ext_leaf()},
                "revoked": {"issuer": "interm", "validity": {"valid-from": _iso(now - 30 * day),
                                                             "valid-to": _iso(now + 1000 * day)},
                            "extensions": ext_leaf(),
                            "revocation": {"revoked-since": _iso(now - 10 * day), "reason": "key_compromise"}},
            },
            "services": {
                "ocsp": {"interm": {"for-issuer": "interm", "responder-cert": "ocsp", "signing-key": "ocsp"}},
                "crl-repo": {"root": {"for-issuer": "root", "signing-key": "root",
                                      "simulated-update-schedule": "P90D"},
                             "interm": {"for-issuer": "interm", "signing-key": "interm",
                                        "simulated-update-schedule": "P30D"}},
                "cert-repo": {"root": {"for-issuer": "root", "publish-issued-certs": True}},
                "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
            },
        }},
    }


class _Late:
    """The WSGI app, set once the server's port is known (the certificates carry the URL)."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class SignerFiles:
    """What a municipality's signing directory holds for one signer."""

    p12: Path
    passphrase_file: Path
    key_pem: Path       # unencrypted PKCS#8 (for the SoftHSM2 import)
    cert_der: Path


class LoopbackPki:
    """certomancer's CA, TSA, OCSP and CRL responders on 127.0.0.1 (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        keys = root / "keys"
        keys.mkdir(parents=True)
        for name in ("root", "interm", "ocsp", "tsa", *SIGNERS):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            (keys / f"{name}.key.pem").write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self._late = _Late()
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self._late, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.config = CertomancerConfig(_config(self.url, dt.datetime.now(dt.UTC)), key_search_dir=str(root))
        self.arch = self.config.get_pki_arch(ArchLabel(ARCH))
        self._late.app = Animator(AnimatorArchStore({ArchLabel(ARCH): self.arch}), with_web_ui=False)
        self._thread = threading.Thread(target=self.server.serve_forever, name="loopback-pki", daemon=True)
        self._thread.start()
        self.running = True
        self.files = {name: self._write_signer(name) for name in SIGNERS}
        self.root_pem = self._write_pem("root")
        self.interm_pem = self._write_pem("interm")
        self.tsa_url = f"{self.url}/{ARCH}/tsa/tsa"

    def cert_der(self, label: str) -> bytes:
        return bytes(self.arch.get_cert(CertLabel(label)).dump())

    def _write_pem(self, label: str) -> Path:
        from asn1crypto import pem
        path = self.root / f"{label}.pem"
        path.write_bytes(pem.armor("CERTIFICATE", self.cert_der(label)))
        return path

    def _write_signer(self, label: str) -> SignerFiles:
        d = self.root / "signing" / label
        d.mkdir(parents=True)
        p12 = d / "signer.p12"
        p12.write_bytes(self.arch.package_pkcs12(CertLabel(label), password=PASSPHRASE.encode()))
        p12.chmod(0o600)
        passphrase = d / "passphrase"
        passphrase.write_text(PASSPHRASE + "\n")
        passphrase.chmod(0o600)
        key_pem = d / "signer.key.pem"
        shutil.copyfile(self.root / "keys" / f"{label}.key.pem", key_pem)
        key_pem.chmod(0o600)
        cert_der = d / "signer.cert.der"
        cert_der.write_bytes(self.cert_der(label))
        return SignerFiles(p12=p12, passphrase_file=passphrase, key_pem=key_pem, cert_der=cert_der)

    def signing_config(self, path: Path, *, signer: str = "signer", tsa_url: str | None = None,
                       key: dict[str, Any] | None = None, **extra: Any) -> Path:
        """Write a tenant's signing config (YAML) naming this PKI's files; `key` replaces the PKCS#12 entry
        (a PKCS#11 token), `extra` adds or replaces top-level entries."""
        files = self.files[signer]
        data: dict[str, Any] = key or {"pkcs12": {"file": str(files.p12),
                                                  "passphrase": {"file": str(files.passphrase_file)}}}
        data = {**data, "chain": [str(self.interm_pem)], "trust_roots": [str(self.root_pem)],
                "tsa_url": tsa_url or self.tsa_url, **extra}
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    def stop(self) -> None:
        """Close the socket: the CA, TSA, OCSP and CRL URLs no longer answer."""
        if self.running:
            self.server.shutdown()
            self.server.server_close()
            self._thread.join(timeout=10)
            self.running = False


def softhsm_module() -> Path | None:
    env = os.environ.get("CHOHYO_SOFTHSM_MODULE")
    if env:
        return Path(env)
    return next((p for p in SOFTHSM_MODULE_CANDIDATES if p.is_file()), None)


def softhsm_missing() -> str | None:
    """Why the SoftHSM2 token cannot be set up here (None: it can)."""
    missing = [tool for tool in ("softhsm2-util", "pkcs11-tool") if shutil.which(tool) is None]
    if softhsm_module() is None:
        missing.append("libsofthsm2.so")
    if missing:
        return f"not installed: {', '.join(missing)} (apt-get install softhsm2 opensc)"
    return None


class SoftHsm:
    """A SoftHSM2 token in a temp dir holding one signer's key and certificate (label ``signer``)."""

    TOKEN = "chohyo-test"
    PIN = "123456"
    SO_PIN = "12345678"
    LABEL = "signer"

    def __init__(self, root: Path, files: SignerFiles) -> None:
        module = softhsm_module()
        assert module is not None
        self.module = module
        tokens = root / "tokens"
        tokens.mkdir(parents=True)
        self.conf = root / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
        self.env = {**os.environ, "SOFTHSM2_CONF": str(self.conf)}
        self._run("softhsm2-util", "--init-token", "--free", "--label", self.TOKEN, "--so-pin", self.SO_PIN,
                  "--pin", self.PIN)
        self._run("softhsm2-util", "--import", str(files.key_pem), "--token", self.TOKEN, "--label", self.LABEL,
                  "--id", "01", "--pin", self.PIN)
        self._run("pkcs11-tool", "--module", str(module), "--token-label", self.TOKEN, "--login", "--pin", self.PIN,
                  "--write-object", str(files.cert_der), "--type", "cert", "--label", self.LABEL, "--id", "01")
        self.pin_file = root / "pin"
        self.pin_file.write_text(self.PIN + "\n")
        self.pin_file.chmod(0o600)

    def _run(self, *cmd: str) -> None:
        result = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed ({result.returncode}): {(result.stderr or result.stdout)[-600:]}")

    def key_entry(self) -> dict[str, Any]:
        """The ``pkcs11`` entry of a signing config for this token."""
        return {"pkcs11": {"module": str(self.module), "token_label": self.TOKEN, "key_label": self.LABEL,
                           "pin": {"file": str(self.pin_file)}}}
