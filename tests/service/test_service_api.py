"""In-process tests of every endpoint and every error of the HTTP service.

In: the session's started app (`conftest.service`: one render worker, keys for four sample tenants), the
fictitious sample envelopes. Out: assertions on statuses, problem+json bodies, headers, PDFs, the issue
log, the registry, metrics and logs. Tenants: A renders and lists, B shows isolation, DV holds the
suppression flow, so one test's registry records never block another's render.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx2
import pytest
from dvkit import ROOT, inspect_pdf, upsert
from svckit import NOTICE, TENANT_A, TENANT_B, TENANT_DV, Running, personal_strings, sample

from renderer.service.logs import JsonFormatter
from renderer.state.issue_log import IssueLog

pytest_plugins = ("svcfixtures",)   # the session's `service` fixture
PROBLEM = "application/problem+json"


def post(service: Running, path: str, body: Any, tenant: str = TENANT_A, role: str = "render",
         **headers: str) -> httpx2.Response:
    hdrs = {**service.keys(tenant, role), **headers}
    if isinstance(body, bytes):
        return service.client.post(path, content=body, headers={**hdrs, "Content-Type": "application/json"})
    return service.client.post(path, json=body, headers=hdrs)


def get(service: Running, path: str, tenant: str = TENANT_A, role: str = "render") -> httpx2.Response:
    return service.client.get(path, headers=service.keys(tenant, role))


def problem(r: httpx2.Response, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["type"] == f"urn:chohyo:problem:{kind}", body
    assert body["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text
    return body


def leaks(r: httpx2.Response, env: dict[str, Any]) -> list[str]:
    """Personal strings of `env` found in the response's body (unless a PDF) or headers."""
    text = "" if r.headers.get("content-type") == "application/pdf" else r.text
    text += json.dumps(dict(r.headers), ensure_ascii=False)
    return sorted(s for s in personal_strings(env) if s in text)


def sync(service: Running, tenant: str, *records: dict[str, Any]) -> httpx2.Response:
    return post(service, "/v1/suppressions", {"tenant": tenant, "records": list(records)}, tenant, "sync")


# ---------------------------------------------------------------------- operations and docs


def test_health_readiness_and_docs_need_no_key(service: Running) -> None:
    c = service.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz").json()
    assert ready["status"] == "ready" and ready["workers_ready"] == 1
    assert ready["layouts"] == len(list((ROOT / "layouts").glob("*.yaml")))
    assert c.get("/openapi.json").status_code == 200
    assert c.get("/docs").status_code == 200


def test_openapi_declares_problem_json_for_every_error_and_the_key_scheme(service: Running) -> None:
    doc = service.client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": "`chohyo keys create --tenant T --role …` prints one (once)"}
    seen: set[str] = set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for code, resp in op["responses"].items():
                if int(code) >= 400:
                    seen.add(code)
                    assert list(resp["content"]) == [PROBLEM], (path, method, code)
            if path not in ("/healthz", "/readyz"):
                assert op["security"] == [{"ApiKey": []}], (path, method)
    assert seen == {"400", "401", "403", "404", "413", "422", "423", "429", "500", "503"}
    render = doc["paths"]["/v1/render/{layout_id}"]["post"]
    assert list(render["responses"]["200"]["content"]) == ["application/pdf"]
    assert render["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RenderRequest"}



def test_openapi_operations_and_the_layout_ids_of_the_app(service: Running) -> None:
    """One operation per route with a stable, readable id (clients are generated from them), and every
    layout_id path parameter documented as an enum of this app's layouts."""
    doc = service.client.get("/openapi.json").json()
    operations = {(path, method): op for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert {key: op["operationId"] for key, op in operations.items()} == {
        ("/v1/render/{layout_id}", "post"): "render",
        ("/v1/validate/{layout_id}", "post"): "validate",
        ("/v1/preview/{layout_id}", "post"): "preview",
        ("/v1/verify", "post"): "verify",
        ("/v1/layouts", "get"): "listLayouts",
        ("/v1/layouts/{layout_id}", "get"): "getLayout",
        ("/v1/suppressions", "post"): "syncSuppressions",
        ("/v1/suppressions", "get"): "listSuppressions",
        ("/v1/suppressions/{person_id}/lifts", "post"): "grantLift",
        ("/healthz", "get"): "health",
        ("/readyz", "get"): "ready",
        ("/metrics", "get"): "metrics",
    }
    layouts = sorted(p.stem for p in (ROOT / "layouts").glob("*.yaml"))
    for (path, _method), op in operations.items():
        params = {p["name"]: p for p in op.get("parameters", [])}
        if "{layout_id}" in path:
            schema = params["layout_id"]["schema"]
            assert sorted(schema["enum"]) == layouts and schema["maxLength"] == 64, path


# ---------------------------------------------------------------------- keys and roles


def test_missing_malformed_wrong_and_revoked_keys_are_401(service: Running) -> None:
    c = service.client
    r = c.post("/v1/render/juminhyo-setai", json=sample())
    problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == 'ApiKey realm="chohyo", header="X-API-Key"'
    for bad in ("nope", "chohyo_000000000000_" + "A" * 43, service.keys(TENANT_A, "render")["X-API-Key"][:-1] + "x"):
        problem(c.get("/v1/layouts", headers={"X-API-Key": bad}), 401, "unauthorized")
    stored, key = service.keys.store.create(TENANT_A, ["render"], label="soon-revoked")
    assert c.get("/v1/layouts", headers={"X-API-Key": key}).status_code == 200
    service.keys.store.revoke(stored.id)
    problem(c.get("/v1/layouts", headers={"X-API-Key": key}), 401, "unauthorized")


@pytest.mark.parametrize(("method", "path", "role"), [
    ("POST", "/v1/render/juminhyo-setai", "sync"),
    ("POST", "/v1/validate/juminhyo-setai", "lift"),
    ("POST", "/v1/suppressions", "render"),
    ("GET", "/v1/suppressions", "render"),
    ("POST", "/v1/suppressions/100000002/lifts", "sync"),
    ("GET", "/metrics", "render"),
])
def test_a_key_without_the_role_is_403(service: Running, method: str, path: str, role: str) -> None:
    r = service.client.request(method, path, json={}, headers=service.keys(TENANT_A, role))
    body = problem(r, 403, "forbidden-role")
    assert "lacks the role" in body["detail"]


# ---------------------------------------------------------------------- render


def test_render_answers_a_pdf_with_counts_in_headers_after_its_issue_log_record(service: Running) -> None:
    env = sample()
    r = post(service, "/v1/render/juminhyo-setai", env)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert r.headers["cache-control"] == "no-store"
    numbers = [unquote(n) for n in r.headers["x-chohyo-issue-numbers"].split(", ")]
    assert len(numbers) == 1 and numbers[0].startswith("20261127 佐倉市 本庁1 プリンタ001 ")
    assert (r.headers["x-chohyo-copies"], r.headers["x-chohyo-sheets"], r.headers["x-chohyo-pages"]) == ("1", "1", "1")
    assert r.headers["x-chohyo-overflow"] == "0" and r.headers["x-chohyo-chars-lost"] == "0"
    assert leaks(r, env) == []
    seq = int(r.headers["x-chohyo-issue-log-seq"])
    record = next(rec for rec in IssueLog(service.settings.renderer).records() if rec["seq"] == seq)
    body = json.loads(record["body"])
    assert body["event"] == "render" and body["tenant"] == TENANT_A and body["issue_numbers"] == numbers
    assert body["pdf_sha256"] == hashlib.sha256(r.content).hexdigest()


def test_a_character_printed_other_than_given_is_counted_in_a_header(service: Running) -> None:
    """A 異体字 (IVS) the fonts lack prints as its base character: never silently (hostile review) — the answer
    counts it (counts only, never the text); a render without one has no such header."""
    assert "x-chohyo-chars-altered" not in post(service, "/v1/render/juminhyo-setai", sample()).headers
    env = sample()
    member = env["data"]["household"]["members"][0]
    member["name"] = member["name"][0] + "\U000E01EF" + member["name"][1:]   # a selector no font here maps
    r = post(service, "/v1/render/juminhyo-setai", env)
    assert r.status_code == 200, r.text
    assert r.headers["x-chohyo-chars-altered"] == "ivs_fallback=1"


def test_two_copies_get_two_issue_numbers(service: Running) -> None:
    r = post(service, "/v1/render/juminhyo-setai", sample(copies=2))
    assert r.status_code == 200, r.text
    numbers = r.headers["x-chohyo-issue-numbers"].split(", ")
    assert r.headers["x-chohyo-copies"] == "2" and len(set(numbers)) == 2


def test_a_list_reports_its_overflow_as_counts_only(service: Running) -> None:
    env = sample("ichiran-idosha")
    r = post(service, "/v1/render/ichiran-idosha", env, tenant=env["tenant"])
    assert r.status_code == 200, r.text
    assert int(r.headers["x-chohyo-overflow"]) > 0
    assert re.fullmatch(r"([a-z_]+=\d+)(, [a-z_]+=\d+)*", r.headers["x-chohyo-overflow-steps"])
    assert int(r.headers["x-chohyo-pages"]) > 1
    assert leaks(r, env) == [] and "data." not in json.dumps(dict(r.headers))


def test_two_tenants_each_get_their_own_certificate_and_notice(service: Running) -> None:
    offices = {TENANT_A: "千葉県佐倉市長", TENANT_B: "東京都千代田区長"}
    for tenant, office in offices.items():
        for layout in ("juminhyo-setai", NOTICE):
            env = sample(layout, tenant=tenant) if layout == NOTICE else sample(tenant=tenant)
            r = post(service, f"/v1/render/{layout}", env, tenant)
            assert r.status_code == 200, (tenant, layout, r.text)
            text = inspect_pdf(r.content)
            assert text.where(office), (tenant, layout)
            other = next(o for t, o in offices.items() if t != tenant)
            assert not text.where(other), (tenant, layout)


def test_a_key_cannot_render_or_validate_as_another_tenant(service: Running) -> None:
    for path in ("/v1/render/juminhyo-setai", "/v1/validate/juminhyo-setai"):
        body = problem(post(service, path, sample(tenant=TENANT_B)), 403, "forbidden-tenant")
        assert body["field"] == "tenant"


def test_unknown_layout_and_route_are_404_and_a_wrong_method_is_405(service: Running) -> None:
    problem(post(service, "/v1/render/no-such-layout", sample()), 404, "not-found")
    problem(get(service, "/v1/layouts/no-such-layout"), 404, "not-found")
    problem(service.client.get("/v2/nothing"), 404, "not-found")
    r = service.client.delete("/v1/suppressions", headers=service.keys(TENANT_A, "sync"))
    problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == "GET, POST"


def test_an_envelope_for_another_layout_is_422(service: Running) -> None:
    body = problem(post(service, "/v1/render/juminhyo-kojin", sample()), 422, "invalid-usage")
    assert body["field"] == "layout"


# ---------------------------------------------------------------------- errors without values


def test_unparsable_bodies_are_400(service: Running) -> None:
    for raw, reason in ((b"{not json", "line 1 column 2"), (b"", "line 1 column 1"), (b"NaN", "NaN is not"),
                        (b"\xff\xfe{", "not UTF-8"), (b"[" * 5000, "nested too deeply"),
                        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
                        (b'{"n": ' + b"9" * 5000 + b"}", "too many digits")):
        body = problem(post(service, "/v1/render/juminhyo-setai", raw), 400, "unparsable-body")
        assert reason in body["detail"], (reason, body["detail"])
    problem(post(service, "/v1/suppressions", b"{", role="sync"), 400, "unparsable-body")


def test_a_body_naming_a_key_twice_is_400_naming_its_path(service: Running) -> None:
    """The last `requester` won before (Python's json), so a checker reading the first disagreed about who
    asked; render, validate, preview and the registry's sync all refuse it before anything else."""
    env = sample()
    raw = json.dumps(env, ensure_ascii=False)
    again = json.dumps(env["request"]["requester"], ensure_ascii=False)
    twice = raw.replace('"request": {', f'"request": {{"requester": {again}, ', 1).encode()
    for path in ("/v1/render/juminhyo-setai", "/v1/validate/juminhyo-setai", "/v1/preview/juminhyo-setai"):
        body = problem(post(service, path, twice), 400, "unparsable-body")
        assert body["field"] == "request.requester" and "duplicate key request.requester" in body["detail"]
        assert not leaks(post(service, path, twice), env)
    body = problem(post(service, "/v1/suppressions", b'{"tenant": "x", "records": [], "records": []}', role="sync"),
                   400, "unparsable-body")
    assert body["field"] == "records"


def test_too_large_bodies_copies_persons_and_rows_are_413(service: Running) -> None:
    big = json.dumps({"layout": "juminhyo-setai", "pad": "x" * 1_000_001}).encode()
    problem(post(service, "/v1/render/juminhyo-setai", big), 413, "too-large")
    body = problem(post(service, "/v1/render/juminhyo-setai", sample(copies=4)), 413, "too-large")
    assert body["field"] == "request.copies"
    env = sample()
    env["data"]["household"]["members"] = [{"person_id": str(100 + i)} for i in range(1001)]
    problem(post(service, "/v1/validate/juminhyo-setai", env), 413, "too-large")
    env["data"]["household"]["members"] = [[0] * 10_001]
    problem(post(service, "/v1/validate/juminhyo-setai", env), 413, "too-large")


def test_invalid_data_is_422_with_paths_and_reasons_but_no_values(service: Running) -> None:
    env = sample()
    members = env["data"]["household"]["members"]
    members[0]["birth_date"] = "令和ひみつ年"
    members[1]["sex"] = "秘密の性別値"
    members[2]["unknown_key"] = "秘密の値"
    for path in ("/v1/render/juminhyo-setai", "/v1/validate/juminhyo-setai"):
        r = post(service, path, env)
        body = problem(r, 422, "invalid-input")
        paths = {e["path"] for e in body["errors"]}
        assert {"data.household.members[0].birth_date", "data.household.members[1].sex",
                "data.household.members[2].unknown_key"} <= paths
        assert all(e["message"] for e in body["errors"])
        assert leaks(r, env) == []


def test_a_character_no_font_prints_is_422_without_its_code_point(service: Running) -> None:
    env = sample()
    env["data"]["household"]["members"][0]["name"] = "見本\U000f0000一郎"   # plane-15 private use
    r = post(service, "/v1/render/juminhyo-setai", env)
    body = problem(r, 422, "glyph-not-covered")
    assert body["field"].startswith("data.household.members[0].name")
    assert "F0000" not in r.text.upper() and leaks(r, env) == []


def test_a_rule_refusal_is_403_with_the_rule_in_the_type(service: Running) -> None:
    env = sample(requester={"relation": "third_party", "purpose": "見本の請求事由"}, include=["my_number"])
    body = problem(post(service, "/v1/render/juminhyo-setai", env), 403, "rule:third-party-no-my-number")
    assert body["rule"] == "third-party-no-my-number" and body["field"] == "request.include[0]"
    yesterday = sample(issued_on="2026-11-26")
    body = problem(post(service, "/v1/render/juminhyo-setai", yesterday), 403, "rule:issued-on-today")
    assert "2026-11-26" not in json.dumps(body)


def test_fastapi_validation_errors_are_problems_without_values(service: Running) -> None:
    r = service.client.post("/v1/suppressions/秘密!/lifts", json={}, headers=service.keys(TENANT_A, "lift"))
    body = problem(r, 422, "invalid-input")
    assert body["errors"][0]["path"] == "person_id" and "秘密" not in r.text
    r = service.client.get("/v1/suppressions?tenant=秘密の番号", headers=service.keys(TENANT_A, "lift"))
    assert problem(r, 422, "invalid-input")["errors"][0]["path"] == "tenant" and "秘密" not in r.text


# ---------------------------------------------------------------------- validate and layouts


def test_validate_checks_without_spending_an_issue_number(service: Running) -> None:
    env = sample("juminhyo-kojin", terminal="shisho-1")
    first = post(service, "/v1/render/juminhyo-kojin", env)
    r = post(service, "/v1/validate/juminhyo-kojin", env)
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "layout": "juminhyo-kojin", "tenant": TENANT_A, "copies": 1,
                        "sheets_per_copy": 2, "overflow": {"fields": 0, "steps": {}, "chars_lost": 0},
                        "checked": r.json()["checked"]}
    second = post(service, "/v1/render/juminhyo-kojin", env)
    serial = [int(unquote(x.headers["x-chohyo-issue-numbers"]).rsplit(" ", 1)[1]) for x in (first, second)]
    assert serial[1] == serial[0] + 1


def test_layouts_are_listed_and_described_with_their_input_schema(service: Running) -> None:
    listed = get(service, "/v1/layouts").json()
    assert {x["id"] for x in listed} == {p.stem for p in (ROOT / "layouts").glob("*.yaml")}
    assert {"juminhyo-setai", "juminhyo-kojin", "ichiran-idosha", NOTICE} <= {x["id"] for x in listed}
    detail = get(service, "/v1/layouts/juminhyo-setai").json()
    assert detail["kind"] == "certificate" and "my_number" in detail["omissions"]
    schema = detail["input_schema"]
    assert schema["properties"]["layout"]["const"] == "juminhyo-setai"
    assert schema["properties"]["tenant"]["pattern"] == "^[0-9]{6}$"


# ---------------------------------------------------------------------- the DV registry over HTTP


def test_dv_block_is_423_until_a_lift_granted_over_http_covers_the_person(service: Running) -> None:
    env = sample(tenant=TENANT_DV)
    r = sync(service, TENANT_DV, upsert("100000002", case_id="C-423"))
    assert r.json() == {"tenant": TENANT_DV, "lines": 1, "applied": 1, "released": 0, "ignored": 0, "lifts_ended": 0}
    r = post(service, "/v1/render/juminhyo-setai", env, TENANT_DV)
    body = problem(r, 423, "rule:dv-block")
    assert body["rule"] == "dv-block" and "100000002" not in r.text and leaks(r, env) == []
    refusals = [json.loads(x["body"]) for x in IssueLog(service.settings.renderer).records() if x["event"] == "refusal"]
    assert any(b["rule"] == "dv-block" and b["tenant"] == TENANT_DV for b in refusals)

    lift = post(service, "/v1/suppressions/100000002/lifts",
                {"tenant": TENANT_DV, "layout": "juminhyo-setai", "minutes": 15, "reason": "審査済み（見本）"},
                TENANT_DV, "lift")
    assert lift.status_code == 201, lift.text
    key_id = next(k for k, t in service.keys.ids().items() if t == TENANT_DV and lift.json()["reviewer"] == f"key:{k}")
    assert lift.json()["person_id"] == "100000002" and key_id
    r = post(service, "/v1/render/juminhyo-setai", env, TENANT_DV)
    assert r.status_code == 200, r.text
    listing = get(service, "/v1/suppressions", TENANT_DV, "lift").json()
    assert [s["person_id"] for s in listing["suppressions"]] == ["100000002"]
    assert [x["id"] for x in listing["lifts"]] == [lift.json()["id"]]
    # a new version of the record ends the lift (it was reviewed for the record it lifted)
    r = sync(service, TENANT_DV, upsert("100000002", version=2, case_id="C-423"))
    assert r.json()["lifts_ended"] == 1
    problem(post(service, "/v1/render/juminhyo-setai", env, TENANT_DV), 423, "rule:dv-block")


def test_a_registered_adversary_is_refused_403(service: Running) -> None:
    sync(service, TENANT_DV, upsert("100000050", case_id="C-ADV", adversaries=["100000077"]))
    env = sample(tenant=TENANT_DV, requester={"relation": "self", "person_id": "100000077"})
    body = problem(post(service, "/v1/render/juminhyo-kojin", {**env, "layout": "juminhyo-kojin"}, TENANT_DV),
                   403, "rule:dv-adversary")
    assert body["field"] == "request.requester.person_id"


def test_tenant_a_can_neither_read_nor_lift_tenant_b_suppressions(service: Running) -> None:
    assert sync(service, TENANT_B, upsert("900000001", case_id="C-B")).status_code == 200
    lift_body = {"tenant": TENANT_B, "layout": "juminhyo-setai", "minutes": 10, "reason": "越権の試み"}
    # A names B: refused before anything is read
    problem(post(service, "/v1/suppressions", {"tenant": TENANT_B, "records": []}, TENANT_A, "sync"),
            403, "forbidden-tenant")
    problem(service.client.get(f"/v1/suppressions?tenant={TENANT_B}", headers=service.keys(TENANT_A, "lift")),
            403, "forbidden-tenant")
    problem(post(service, "/v1/suppressions/900000001/lifts", lift_body, TENANT_A, "lift"), 403, "forbidden-tenant")
    # A acts in its own tenant: B's person is not there
    r = post(service, "/v1/suppressions/900000001/lifts", {**lift_body, "tenant": TENANT_A}, TENANT_A, "lift")
    problem(r, 404, "not-found")
    own = get(service, "/v1/suppressions", TENANT_A, "lift").json()
    assert own["tenant"] == TENANT_A and "900000001" not in json.dumps(own)
    theirs = get(service, "/v1/suppressions", TENANT_B, "lift").json()
    assert [s["person_id"] for s in theirs["suppressions"]] == ["900000001"] and theirs["lifts"] == []


def test_sync_rejects_a_bad_record_whole_and_names_its_path(service: Running) -> None:
    good = upsert("900000002", case_id="C-B2")
    bad = {**upsert("900000003"), "continuation_end": 0}   # a number is not a date (strict)
    r = sync(service, TENANT_B, good, bad)
    body = problem(r, 422, "invalid-input")
    assert body["errors"][0]["path"].startswith("records[1]")
    assert "900000002" not in json.dumps(get(service, "/v1/suppressions", TENANT_B, "lift").json())


def test_lift_limits_are_422_and_an_unprotected_person_is_404(service: Running) -> None:
    base = {"tenant": TENANT_A, "layout": "juminhyo-setai", "minutes": 10, "reason": "見本"}
    path = "/v1/suppressions/100000001/lifts"
    too_long = problem(post(service, path, {**base, "minutes": 31}, role="lift"), 422, "invalid-input")
    assert too_long["field"] == "minutes"
    assert problem(post(service, path, {**base, "layout": "no-such"}, role="lift"), 422, "invalid-input")
    assert problem(post(service, path, {**base, "reason": ""}, role="lift"), 422, "invalid-input")
    problem(post(service, path, base, role="lift"), 404, "not-found")


# ---------------------------------------------------------------------- metrics and logs


def test_metrics_need_admin_and_show_only_the_keys_tenant(service: Running) -> None:
    assert post(service, "/v1/render/juminhyo-setai", sample(tenant=TENANT_B), TENANT_B).status_code == 200
    r = get(service, "/metrics", TENANT_A, "admin")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert f'tenant="{TENANT_A}"' in r.text
    assert f'tenant="{TENANT_B}"' not in r.text and f'tenant="{TENANT_DV}"' not in r.text
    assert re.search(r'chohyo_http_requests_total\{method="POST",route="/v1/render/\{layout_id\}",status="200",'
                     f'tenant="{TENANT_A}"' + r'\} [1-9]', r.text)
    assert 'status="423"' not in r.text   # the DV tenant's refusals are not A's to see
    assert 'chohyo_pool{state="workers"} 1.0' in r.text
    assert "100000002" not in r.text and "900000001" not in r.text


def test_logs_are_json_lines_with_request_ids_and_no_personal_data(service: Running,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    env = sample()
    bad = sample()
    bad["data"]["household"]["members"][0]["birth_date"] = "令和ひみつ年"
    with caplog.at_level(logging.INFO, logger="chohyo.service"):
        ok = post(service, "/v1/render/juminhyo-setai", env, **{"X-Request-ID": "test-request-0001"})
        post(service, "/v1/render/juminhyo-setai", bad)
        post(service, "/v1/suppressions/100000001/lifts",
             {"tenant": TENANT_A, "layout": "juminhyo-setai", "minutes": 5, "reason": "見本の理由"}, role="lift")
    assert ok.headers["x-request-id"] == "test-request-0001"
    lines = [JsonFormatter().format(rec) for rec in caplog.records if rec.name == "chohyo.service"]
    entries = [json.loads(line) for line in lines]
    assert [e["status"] for e in entries] == [200, 422, 404]
    assert entries[0]["request_id"] == "test-request-0001" and entries[0]["pages"] == 1
    assert entries[0]["tenant"] == TENANT_A and entries[0]["layout"] == "juminhyo-setai"
    assert entries[1]["problem"] == "invalid-input"
    assert entries[2]["route"] == "/v1/suppressions/{person_id}/lifts"
    secrets = personal_strings(env) | personal_strings(bad) | {"見本の理由", "100000001"}
    assert [s for s in secrets if any(s in line for line in lines)] == []


# ---------------------------------------------------------------------- resilience


def test_a_worker_that_died_while_idle_is_replaced_and_the_next_render_succeeds(service: Running) -> None:
    pool = service.app.state.service.pool
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and b"zombie" not in _state(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    r = post(service, "/v1/render/juminhyo-setai", sample())
    assert r.status_code == 200, r.text
    assert pool.worker_pids() != [pid]
    assert service.client.get("/readyz").status_code == 200



def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/status").read_bytes()
    except OSError:
        return b"zombie"


def test_a_mailing_to_a_protected_addressee_needs_a_mailing_key(service: Running) -> None:
    """"The municipality mails this" (public_office by mail) prints a protected addressee's address: a plain
    render key saying so is refused 403 and logged, in a file or a preview alike (found by a hostile review);
    the mailing system's key gets the notice with the address."""
    addressee = "500000778"
    sync(service, TENANT_DV, upsert(addressee, case_id="C-MAIL"))
    env = sample(NOTICE, tenant=TENANT_DV, requester={"relation": "public_office"}, channel="mail", output="file")
    env["data"]["addressee"]["person_id"] = addressee
    town = env["data"]["addressee"]["address"]["town"]
    for path in (f"/v1/render/{NOTICE}", f"/v1/preview/{NOTICE}"):
        body = problem(post(service, path, env, TENANT_DV), 403, "rule:dv-unverified-claim")
        assert body["field"] == "request.requester.relation" and town not in json.dumps(body, ensure_ascii=False)
    refusal = [json.loads(x["body"]) for x in IssueLog(service.settings.renderer).records()
               if "dv-unverified-claim" in x["body"]][-1]
    assert refusal["caller"]["mailing"] is False and refusal["relation"] == "public_office"

    r = post(service, f"/v1/render/{NOTICE}", env, TENANT_DV, "mailer")
    assert r.status_code == 200, r.text
    assert inspect_pdf(r.content).where(town)   # the addressee's own address, in full


def test_a_self_claim_for_a_protected_person_needs_an_identity_verified_key(service: Running) -> None:
    """A plain render key claiming to be the protected addressee is refused 403 and logged with the key;
    the counter system's identity-verified key gets the person's own notice, address included."""
    addressee = "500000777"
    sync(service, TENANT_DV, upsert(addressee, case_id="C-CLAIM"))
    env = sample(NOTICE, tenant=TENANT_DV, operator="mayor",
                 requester={"relation": "self", "person_id": addressee}, channel="counter")
    env["data"]["addressee"]["person_id"] = addressee
    body = problem(post(service, f"/v1/render/{NOTICE}", env, TENANT_DV), 403, "rule:dv-unverified-claim")
    assert body["rule"] == "dv-unverified-claim" and addressee not in json.dumps(body)
    records = [json.loads(x["body"]) for x in IssueLog(service.settings.renderer).records()]
    refusal = [b for b in records if b.get("rule") == "dv-unverified-claim"][-1]
    plain_key = service.keys.by[(TENANT_DV, "render")].split("_")[1]
    assert refusal["caller"] == {"kind": "api-key", "id": f"key:{plain_key}", "identity_verified": False,
                                 "mailing": False}
    assert refusal["operator"] == "mayor" and refusal["requester_person_id"] == addressee

    r = post(service, f"/v1/render/{NOTICE}", env, TENANT_DV, "verified")
    assert r.status_code == 200, r.text
    records = [json.loads(x["body"]) for x in IssueLog(service.settings.renderer).records()]
    render = [b for b in records if b["event"] == "render" and b.get("requester_person_id") == addressee][-1]
    verified_key = service.keys.by[(TENANT_DV, "verified")].split("_")[1]
    assert render["caller"] == {"kind": "api-key", "id": f"key:{verified_key}", "identity_verified": True,
                                "mailing": False}
    assert render["operator"] == "mayor"
    town = env["data"]["addressee"]["address"]["town"]
    assert inspect_pdf(r.content).where(town)   # the person's own address, in full
