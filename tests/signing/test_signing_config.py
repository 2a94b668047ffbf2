"""Where signing configuration may live and what it may say: ``CHOHYO_SIGNING_DIR`` outside the repository, the
tenant file's ``signing`` policy, local CRL files as a revocation source.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from pydantic import ValidationError
from signkit import GOLDEN, ROOT, LoopbackPki

from renderer.errors import UsageError
from renderer.settings import Settings, signing_dir_from
from renderer.signing.config import load_signing_config
from renderer.signing.errors import SigningConfigError
from renderer.signing.policy import SignOption, TenantSigningPolicy, resolve
from renderer.signing.sign import sign_pdf

pytest_plugins = ("sigfixtures",)


def test_signing_dir_must_be_outside_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for inside in (ROOT / "layouts" / "tenants", ROOT / "keys"):
        with pytest.raises(UsageError) as exc:
            signing_dir_from(str(inside))
        assert exc.value.field == "CHOHYO_SIGNING_DIR" and exc.value.exit_code == 2
    assert signing_dir_from(str(tmp_path)) == tmp_path.resolve()
    assert signing_dir_from("") is None
    monkeypatch.setenv("CHOHYO_SIGNING_DIR", str(tmp_path))
    assert Settings.from_env().signing_dir == tmp_path.resolve()


def test_tenant_policy_is_strict() -> None:
    with pytest.raises(ValidationError):
        TenantSigningPolicy.model_validate({"require_for": ["print"]})   # paper is not signed
    with pytest.raises(ValidationError):
        TenantSigningPolicy.model_validate({"require_for": ["file"], "key": "/etc/key.p12"})   # keys live elsewhere
    policy = TenantSigningPolicy.model_validate({"require_for": ["file"]})
    assert policy.level == "B-LT"
    assert resolve(None, policy, output="print", tenant_code="122122", signing_dir=None) is None
    assert resolve(None, policy, output="preview", tenant_code="122122", signing_dir=None) is None
    with pytest.raises(SigningConfigError, match="a preview is never signed"):
        resolve(SignOption(), None, output="preview", tenant_code="122122", signing_dir=None)


def test_local_crl_files_are_a_revocation_source(pki: LoopbackPki, signing_dir: Path) -> None:
    crl = signing_dir / "interm.crl"
    with urllib.request.urlopen(f"{pki.url}/chohyo-test/crls/interm/latest.crl", timeout=10) as answer:
        crl.write_bytes(answer.read())
    pki.signing_config(signing_dir / "122122.yaml", revocation={"crl_files": ["interm.crl"]})   # relative path
    config = load_signing_config(signing_dir, "122122")
    assert config is not None and config.revocation.crl_files == [crl]
    assert sign_pdf(GOLDEN["notice"].read_bytes(), config, "B-LT").level == "B-LT"
    crl.write_bytes(b"not a CRL")
    with pytest.raises(SigningConfigError) as exc:
        sign_pdf(GOLDEN["notice"].read_bytes(), config, "B-B")
    assert exc.value.field == "revocation.crl_files[0]"
