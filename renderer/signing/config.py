"""A tenant's signing configuration: ``<CHOHYO_SIGNING_DIR>/<団体コード>.yaml``, never in the repository.

In: `Settings.signing_dir` and a tenant code. Out: a validated `SigningConfig` whose paths are absolute (a
relative path is relative to the configuration file), or None when the tenant has no file; a bad file is a
`SigningConfigError` (exit 2) listing every problem with its field path and line. Example::

    # /etc/chohyo/signing/122122.yaml — 千葉県佐倉市
    pkcs12:                          # or pkcs11: {module, token_label, key_label, cert_label, pin}
      file: sakura-shokuseki.p12     # mode 0600/0400: a key file readable by group or others is refused
      passphrase: {env: CHOHYO_SIGN_122122_PASSPHRASE}   # or {file: passphrase}  (0600 as well)
    chain: [lgpki-appca.pem]         # certificates between the signer and the root, embedded in the signature
    trust_roots: [lgpki-root.pem]    # what the signer's chain must end in (checked before every signature)
    tsa_url: http://tsa.example.lg.jp/tsp   # RFC 3161 timestamp authority (B-T and B-LT)
    revocation:
      crl_files: [lgpki-appca.crl]   # CRLs kept locally, used beside the OCSP/CRL URLs the certificates name
    reason: 電子交付
    location: 千葉県佐倉市

Secrets never sit in the file itself: a passphrase or PIN comes from an environment variable or from a file that
only its owner may read. The configuration file may be readable by others (it holds no secret) but not writable
by them (it says which key signs). Nothing here opens a key: `renderer.signing.keys` does, when signing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from renderer.diagnostics import Diagnostic, from_pydantic
from renderer.errors import LayoutError
from renderer.signing.errors import SigningConfigError
from renderer.spec.load import load_yaml_text

MAX_CONFIG_BYTES = 64_000


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretSource(Model):
    """Where a passphrase or PIN comes from: exactly one of an environment variable or a private file."""

    env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")] | None = Field(
        default=None, description="name of the environment variable holding it")
    file: Path | None = Field(default=None, description="a file holding it (first line), mode 0600 or 0400")

    @model_validator(mode="after")
    def _one(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of `env` or `file`")
        return self

    def read(self, field: str) -> str:
        """The secret (stripped of its line end); missing or unsafe: `SigningConfigError` naming `field`."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise SigningConfigError(f"{field}: the environment variable {self.env} is not set", field=field)
            return value
        assert self.file is not None
        require_private(self.file, f"{field}.file")
        try:
            return self.file.read_text(encoding="utf-8").splitlines()[0] if self.file.stat().st_size else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise SigningConfigError(f"{field}.file: cannot read {self.file} ({exc.__class__.__name__})",
                                     field=f"{field}.file") from None


class Pkcs12Key(Model):
    file: Path = Field(description="the PKCS#12 (.p12/.pfx) file with the signer's key and certificate")
    passphrase: SecretSource | None = Field(default=None, description="absent: the file has no passphrase")


class Pkcs11Key(Model):
    module: Path = Field(description="the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so")
    token_label: Annotated[str, Field(min_length=1, max_length=32)]
    key_label: Annotated[str, Field(min_length=1, max_length=64)]
    cert_label: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="the certificate's label on the token (default: key_label)")
    pin: SecretSource


class Revocation(Model):
    """Revocation sources: the OCSP responders (AIA) and CRL distribution points the certificates name, fetched
    at signing time, plus CRLs kept locally."""

    crl_files: list[Path] = Field(default_factory=list, description="DER or PEM CRLs to use as well")


class SigningConfig(Model):
    pkcs12: Pkcs12Key | None = None
    pkcs11: Pkcs11Key | None = None
    chain: list[Path] = Field(default_factory=list,
                              description="certificates between the signer and the root (PEM or DER)")
    trust_roots: list[Path] = Field(min_length=1, description="the roots the signer's chain must end in")
    tsa_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = Field(
        default=None, description="RFC 3161 timestamp authority; required for B-T and B-LT")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120,
                                   description="for each answer of the TSA and the OCSP/CRL responders")
    revocation: Revocation = Revocation()
    reason: Annotated[str, Field(max_length=100)] | None = None
    location: Annotated[str, Field(max_length=100)] | None = None
    #: where the file was read from (set by `load_signing_config`)
    source: Path = Field(default=Path(), exclude=True)

    @model_validator(mode="after")
    def _one_key(self) -> SigningConfig:
        if (self.pkcs12 is None) == (self.pkcs11 is None):
            raise ValueError("give exactly one key: `pkcs12` or `pkcs11`")
        return self

    @property
    def key_kind(self) -> Literal["pkcs12", "pkcs11"]:
        return "pkcs12" if self.pkcs12 is not None else "pkcs11"


def require_private(path: Path, field: str) -> None:
    """A key, PIN or passphrase file must be a regular file no one but its owner can read or write (like the issue
    log's key): otherwise `SigningConfigError` naming `field`, and the file is left as it is."""
    try:
        st = path.stat()
    except OSError:
        raise SigningConfigError(f"{field}: {path} does not exist or cannot be read", field=field) from None
    if not stat.S_ISREG(st.st_mode):
        raise SigningConfigError(f"{field}: {path} is not a regular file", field=field)
    if st.st_mode & 0o077:
        raise SigningConfigError(
            f"{field}: {path} is readable or writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"refusing to use it — chmod 600 it", field=field)


def _absolute(base: Path, value: Any) -> Any:
    """Resolve every path of the raw configuration against the file's directory."""
    paths = {"file", "module"}
    lists = {"chain", "trust_roots", "crl_files"}
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in paths and isinstance(v, str):
                out[k] = str(base / v)
            elif k in lists and isinstance(v, list):
                out[k] = [str(base / p) if isinstance(p, str) else p for p in v]
            else:
                out[k] = _absolute(base, v)
        return out
    return value


def config_path(signing_dir: Path, tenant_code: str) -> Path:
    return signing_dir / f"{tenant_code}.yaml"


def load_signing_config(signing_dir: Path | None, tenant_code: str) -> SigningConfig | None:
    """The tenant's configuration, or None when there is no signing directory or no file for the tenant."""
    if signing_dir is None:
        return None
    path = config_path(signing_dir, tenant_code)
    if not path.exists():
        return None
    where = str(path)
    try:
        st = path.stat()
        if st.st_mode & 0o022:
            raise SigningConfigError(f"{where}: writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}): it "
                                     f"says which key signs; refusing to use it", field="signing")
        if st.st_size > MAX_CONFIG_BYTES:
            raise SigningConfigError(f"{where}: {st.st_size} bytes, over {MAX_CONFIG_BYTES}", field="signing")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningConfigError(f"{where}: cannot read ({exc.__class__.__name__})", field="signing") from None
    try:
        loaded = load_yaml_text(text, source=where)
    except LayoutError as exc:   # duplicate keys, bad YAML: the same checks as layout and tenant files
        raise SigningConfigError(exc.message, diagnostics=exc.diagnostics, field="signing") from None
    if not isinstance(loaded.data, dict):
        raise SigningConfigError(f"{where}: must be a mapping of settings", field="signing")
    try:
        config = SigningConfig.model_validate({**_absolute(path.parent, loaded.data), "source": str(path)})
    except ValidationError as exc:
        diags = from_pydantic(exc, source=where, lines=loaded.lines)
        raise SigningConfigError(f"{where}: invalid signing configuration: {len(diags)} problem(s)",
                                 diagnostics=diags, field=diags[0].path if diags else "signing") from None
    check_files(config)
    return config


def check_files(config: SigningConfig) -> None:
    """Every file the configuration names exists; key, passphrase and PIN files are private (checked again when
    the key is opened)."""
    problems: list[Diagnostic] = []
    where = str(config.source)

    def exists(path: Path, field: str) -> None:
        if not path.is_file():
            problems.append(Diagnostic(path=field, message=f"{path} does not exist", source=where))

    if config.pkcs12 is not None:
        require_private(config.pkcs12.file, "pkcs12.file")
        if config.pkcs12.passphrase is not None and config.pkcs12.passphrase.file is not None:
            require_private(config.pkcs12.passphrase.file, "pkcs12.passphrase.file")
    if config.pkcs11 is not None:
        exists(config.pkcs11.module, "pkcs11.module")
        if config.pkcs11.pin.file is not None:
            require_private(config.pkcs11.pin.file, "pkcs11.pin.file")
    for i, p in enumerate(config.chain):
        exists(p, f"chain[{i}]")
    for i, p in enumerate(config.trust_roots):
        exists(p, f"trust_roots[{i}]")
    for i, p in enumerate(config.revocation.crl_files):
        exists(p, f"revocation.crl_files[{i}]")
    if problems:
        raise SigningConfigError(f"{where}: {len(problems)} file(s) named by the signing configuration are missing",
                                 diagnostics=problems, field=problems[0].path)
