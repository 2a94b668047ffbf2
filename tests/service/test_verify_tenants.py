"""``POST /v1/verify`` found lying by a hostile review, in-process with its own app (one worker).

- Two tenants with the same 市区町村名 (東京都府中市 132063, 広島県府中市 342084) print the same 発行番号: each key's
  genuine certificate is found by its own tenant's record (the lookup kept the lowest-seq record of any tenant,
  then hid it from the second tenant's key: "unknown"); the other 府中市's key sees its own record of the
  number, which names another file; an unrelated tenant's key reads ``unknown``.
- A render record whose MAC cannot be checked (the key file readable by others, so refused) is a problem
  naming why (it answered ``ok: true``).

In: a copy of the layouts with the two 府中市 tenants (tests/verifykit.py), the sample 住民票 envelope (fictitious
見本 data). Out: HTTP answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from svckit import TENANT_B, Running, make_keys, sample, service_settings
from verifykit import FUCHU, same_name_layouts

from renderer.service import create_app
from renderer.service.keys import KeyStore
from renderer.state.issue_log import KEY_FILE

TOKYO, HIROSHIMA = FUCHU


@pytest.fixture(scope="module")
def fuchu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("verify-tenants")
    settings = service_settings(tmp)
    settings = dataclasses.replace(settings, renderer=dataclasses.replace(
        settings.renderer, layouts_dir=same_name_layouts(tmp)))
    keys = make_keys(settings)
    store = KeyStore(settings.keys_path)
    by_tenant = {code: store.create(code, ["render"], label="test-fuchu")[1] for code in FUCHU}
    by_tenant[TENANT_B] = keys.by[(TENANT_B, "render")]
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Running(app=app, client=client, keys=keys, settings=settings), by_tenant


def verify(service: Running, key: str, pdf: bytes) -> dict[str, Any]:
    r = service.client.post("/v1/verify", content=pdf, headers={"X-API-Key": key, "Content-Type": "application/pdf"})
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def render(service: Running, key: str, tenant: str) -> bytes:
    r = service.client.post("/v1/render/juminhyo-setai", json=sample(tenant=tenant), headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    return r.content


def test_each_tenant_finds_its_own_certificate_of_the_same_number(fuchu: tuple[Running, dict[str, str]]) -> None:
    service, keys = fuchu
    pdfs = {code: render(service, keys[code], code) for code in (TOKYO, HIROSHIMA)}
    printed = set()
    for code, other in ((HIROSHIMA, TOKYO), (TOKYO, HIROSHIMA)):
        report = verify(service, keys[code], pdfs[code])
        assert report["ok"], report["problems"]
        [number] = report["issue_numbers"]
        assert number["tenant"] == code and number["file_matches_record"] is True and number["record_mac_ok"]
        printed.add(number["printed"])
        seen_by_other = verify(service, keys[other], pdfs[code])
        [number] = seen_by_other["issue_numbers"]
        assert not seen_by_other["ok"] and number["tenant"] == other and number["file_matches_record"] is False
        unrelated = verify(service, keys[TENANT_B], pdfs[code])
        [number] = unrelated["issue_numbers"]
        assert not unrelated["ok"] and number["status"] == "unknown" and number["tenant"] is None
    assert len(printed) == 1 and "府中市" in printed.pop()   # the reviewer's premise: one 発行番号, two certificates


def test_a_mac_that_cannot_be_checked_is_a_problem(fuchu: tuple[Running, dict[str, str]]) -> None:
    service, keys = fuchu
    pdf = render(service, keys[TOKYO], TOKYO)
    key_file = service.settings.renderer.state_dir / KEY_FILE
    key_file.chmod(0o644)   # refused: readable by others
    try:
        report = verify(service, keys[TOKYO], pdf)
    finally:
        key_file.chmod(0o600)
    assert not report["ok"]
    [number] = report["issue_numbers"]
    assert number["record_mac_ok"] is None and "readable by others" in number["record_mac_unchecked"]
    [problem] = report["problems"]
    assert "MAC cannot be checked" in problem and KEY_FILE in problem, problem
    assert str(service.settings.renderer.state_dir) not in problem
    assert verify(service, keys[TOKYO], pdf)["ok"]   # the key readable again: the record vouches for the file
