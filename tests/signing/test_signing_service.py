"""``POST /v1/render/{layout}`` with signing: ``request.sign`` in the envelope, run by a real render worker process.

One app (one worker) whose renderer has a signing directory naming the loopback PKI's signer for tenant 122122.
A signed answer carries the delivered file's sha256 and the signer's fingerprint in headers and in the issue
log; a TSA that is down is 503 problem+json (nothing delivered, the 発行番号 voided); a revoked certificate is
403 naming the rule; asking to sign for a tenant without configuration is 422 before a serial is spent.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from signkit import ROOT, LoopbackPki, free_port
from starlette.testclient import TestClient

from renderer.service import create_app
from renderer.service.keys import KeyStore
from renderer.service.settings import ServiceSettings
from renderer.settings import Settings
from renderer.signing.inspect import describe_signatures
from renderer.state.issue_log import IssueLog

pytest_plugins = ("sigfixtures",)

SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / "juminhyo-setai.json").read_text("utf-8"))
TENANT = "122122"


def envelope(tenant: str = TENANT, **request: Any) -> dict[str, Any]:
    env = copy.deepcopy(SAMPLE)
    env["tenant"] = tenant
    env["request"].update(request)
    return env


class Service:
    def __init__(self, client: TestClient, settings: ServiceSettings, keys: dict[str, str], signing: Path) -> None:
        self.client, self.settings, self.keys, self.signing = client, settings, keys, signing

    def render(self, env: dict[str, Any]) -> Any:
        return self.client.post("/v1/render/juminhyo-setai", json=env, headers={"X-API-Key": self.keys[env["tenant"]]})

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in IssueLog(self.settings.renderer).records()]


@pytest.fixture(scope="module")
def service(pki: LoopbackPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("signing-service")
    signing = tmp / "signing"
    signing.mkdir(mode=0o700)
    settings = ServiceSettings(
        renderer=Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=tmp / "state",
                          signing_dir=signing),
        workers=1, queue_size=4, render_timeout_s=60.0, rate_per_second=1000.0, rate_burst=1000)
    store = KeyStore(settings.keys_path)
    keys = {tenant: store.create(tenant, ["render"], label="signing-test")[1] for tenant in (TENANT, "131016")}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Service(client, settings, keys, signing)


def test_signed_render_over_http(pki: LoopbackPki, service: Service) -> None:
    pki.signing_config(service.signing / f"{TENANT}.yaml")
    r = service.render(envelope(output="file", sign={"level": "B-LT"}))
    assert r.status_code == 200, r.text
    assert r.headers["x-chohyo-signed-sha256"] == hashlib.sha256(r.content).hexdigest()
    (entry,) = describe_signatures(r.content, trust_roots=[pki.root_pem])
    assert entry["integrity_ok"] and entry["trusted_chain"] and entry["ltv"]["validates_offline"]
    assert r.headers["x-chohyo-signer-fingerprint"] == entry["signer_fingerprint"]
    seq = int(r.headers["x-chohyo-issue-log-seq"])
    (body,) = [b for b in service.records() if b["event"] == "render" and b["issue_numbers"] and
               b.get("signed_sha256") == r.headers["x-chohyo-signed-sha256"]]
    assert body["signer_fingerprint"] == entry["signer_fingerprint"] and body["signature_level"] == "B-LT"
    assert seq > 0
    unsigned = service.render(envelope())
    assert unsigned.status_code == 200 and "x-chohyo-signed-sha256" not in unsigned.headers


def test_tsa_down_is_503_and_nothing_is_delivered(pki: LoopbackPki, service: Service) -> None:
    pki.signing_config(service.signing / f"{TENANT}.yaml", tsa_url=f"http://127.0.0.1:{free_port()}/tsa")
    before = len(service.records())
    r = service.render(envelope(output="file", sign={"level": "B-T"}))
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "urn:chohyo:problem:signing-unavailable" and problem["exit_code"] == 1
    assert problem["field"] == "tsa_url" and "nothing was delivered" in problem["detail"]
    assert [b["event"] for b in service.records()[before:]] == ["reserve", "void"]


def test_revoked_certificate_is_403_with_the_rule(pki: LoopbackPki, service: Service) -> None:
    pki.signing_config(service.signing / f"{TENANT}.yaml", signer="revoked")
    r = service.render(envelope(output="file", sign={"level": "B-B"}))
    assert r.status_code == 403, r.text
    assert r.json()["rule"] == "signing-certificate-revoked"


def test_sign_without_configuration_is_422_before_a_serial(service: Service) -> None:
    before = len(service.records())
    r = service.render(envelope("131016", output="file", sign={"level": "B-B"}))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "request.sign"
    assert len(service.records()) == before   # nothing reserved, nothing logged


def test_verify_over_http_tells_the_signed_file_from_its_unsigned_drawing(pki: LoopbackPki,
                                                                          service: Service) -> None:
    """``POST /v1/verify``: the delivered (signed) file is ok; the same file with its signature cut off after the
    first %%EOF — the drawing before signing, never delivered — is not (hostile review: it answered ok)."""
    pki.signing_config(service.signing / f"{TENANT}.yaml")
    r = service.render(envelope(output="file", sign={"level": "B-B"}))
    assert r.status_code == 200, r.text
    (body,) = [b for b in service.records() if b["event"] == "render"
               and b.get("signed_sha256") == r.headers["x-chohyo-signed-sha256"]]
    end = r.content.index(b"%%EOF") + len(b"%%EOF")
    [drawing] = [r.content[:end + k] for k in (0, 1, 2)
                 if hashlib.sha256(r.content[:end + k]).hexdigest() == body["pdf_sha256"]]
    headers = {"X-API-Key": service.keys[TENANT], "Content-Type": "application/pdf"}
    signed = service.client.post("/v1/verify", content=r.content, headers=headers)
    assert signed.status_code == 200 and signed.json()["ok"], signed.json()["problems"]
    answer = service.client.post("/v1/verify", content=drawing, headers=headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert not report["ok"]
    [number] = report["issue_numbers"]
    assert number["unsigned_drawing"] is True and number["file_matches_record"] is False
    assert any("this copy has no signature" in p for p in report["problems"]), report["problems"]
