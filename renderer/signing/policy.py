"""Whether a render is signed, at which level, with which configuration — decided before a serial is spent.

In: the request's ``sign`` option (`SignOption`), the tenant file's ``signing`` policy (`TenantSigningPolicy`),
the output kind and `Settings.signing_dir`. Out: `resolve` returns a `SigningPlan` (level + loaded configuration)
or None (not signed); it raises `SigningConfigError` (exit 2) when a request asks for signing the tenant cannot
do, or when the tenant's policy requires a signature and the tenant has no (valid) configuration.

Levels, weakest first: ``B-B`` (signature only), ``B-T`` (plus an RFC 3161 signature timestamp), ``B-LT``
(plus the chain, OCSP responses and CRLs in the document security store: validates offline). A tenant policy
``signing: {require_for: [file], level: B-LT}`` signs every ``output: file`` at B-LT unless the request asks
for more; a request may never ask for less than the policy's level.

This module imports no cryptography: the pipeline imports it on every render.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from renderer.errors import InputError
from renderer.signing.errors import SigningConfigError

if TYPE_CHECKING:   # the configuration module is imported when a signature is asked for, not by every render
    from renderer.signing.config import SigningConfig

SignatureLevel = Literal["B-B", "B-T", "B-LT"]
LEVELS: tuple[SignatureLevel, ...] = ("B-B", "B-T", "B-LT")
#: outputs a tenant may require signing for (a print is paper; a preview is never signed)
Output = Literal["file"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)   # built when a request asks to sign


class SignOption(Model):
    """``request.sign``: sign the delivered PDF (PAdES) with the tenant's key."""

    level: SignatureLevel | None = Field(
        default=None, description="B-B, B-T (with a timestamp) or B-LT (validates offline); absent: the tenant "
                                  "policy's level, else B-LT")


class TenantSigningPolicy(Model):
    """The tenant file's ``signing``: which outputs must be signed, and the least level. The key, chain, TSA and
    revocation sources are NOT here: they live in ``CHOHYO_SIGNING_DIR/<code>.yaml`` outside the repository."""

    require_for: list[Output] = Field(default_factory=list,
                                      description="outputs that are always signed, e.g. [file]")
    level: SignatureLevel = Field(default="B-LT", description="the level used and the least a request may ask")


@dataclass(frozen=True)
class SigningPlan:
    level: SignatureLevel
    config: SigningConfig


def resolve(option: SignOption | None, policy: TenantSigningPolicy | None, *, output: str, tenant_code: str,
            signing_dir: Path | None, batch: bool = False) -> SigningPlan | None:
    """See the module docstring. Every refusal names ``request.sign`` or the tenant's configuration file. A batch
    run (`batch`) is never signed: a record that asks for it, or that the policy requires to be, is invalid."""
    required = policy is not None and output in policy.require_for
    if option is None and not required:
        return None
    if batch:
        raise InputError(f"request.sign: batch runs are not signed (tenant {tenant_code} requires a signature for "
                         f"output {output!r}: render those one by one)" if required else
                         "request.sign: batch runs are not signed (render signed files one by one)",
                         field="request.sign")
    if output == "preview":
        raise SigningConfigError("request.sign: a preview is never signed", field="request.sign")
    least: SignatureLevel = policy.level if policy is not None else "B-B"
    level: SignatureLevel = (option.level if option is not None and option.level is not None
                             else policy.level if policy is not None else "B-LT")
    if LEVELS.index(level) < LEVELS.index(least):
        raise SigningConfigError(f"request.sign.level: tenant {tenant_code} signs at {least} or above, not {level}",
                                 field="request.sign.level")
    from renderer.signing.config import config_path, load_signing_config

    config = load_signing_config(signing_dir, tenant_code)
    if config is None:
        where = (f"no {config_path(signing_dir, tenant_code)}" if signing_dir is not None
                 else "CHOHYO_SIGNING_DIR is not set")
        why = f"tenant {tenant_code} requires a signature for output {output!r}" if required else \
            "request.sign asks for a signature"
        raise SigningConfigError(f"{why}, but the tenant has no signing configuration ({where}); nothing was spent",
                                 field="request.sign")
    if level != "B-B" and config.tsa_url is None:
        raise SigningConfigError(f"request.sign.level: {level} needs a timestamp authority; {config.source} has "
                                 f"no tsa_url", field="request.sign.level")
    return SigningPlan(level=level, config=config)
