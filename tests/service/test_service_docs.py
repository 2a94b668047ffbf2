"""The API documentation offline (issue 16, item 5): Swagger UI from the installed swagger-ui-bundle, the
``docs`` setting (on, key, off), and an OpenAPI document integrators can generate a client from (the
envelope typed per layout, the samples as examples, every error as problem+json).

In: the session's started app (`svcfixtures.service`) and apps made here with other ``docs`` settings (not
started: the documentation needs no workers); for the browser test a uvicorn server on a loopback port and
Debian's /usr/bin/chromium with every non-loopback host unresolvable and every non-loopback request aborted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dvkit import ROOT
from starlette.testclient import TestClient
from svckit import TENANT_A, Running, make_keys, sample, service_settings

from renderer.service import create_app
from renderer.service.settings import ServiceSettings

pytest_plugins = ("svcfixtures",)   # the session's `service` fixture
PROBLEM = "application/problem+json"
CHROMIUM = Path("/usr/bin/chromium")
LAYOUT_IDS = sorted(p.stem for p in (ROOT / "layouts").glob("*.yaml"))


def page_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href|data-openapi)="([^"]*)"', html)


def test_docs_reference_only_same_origin_assets_that_are_served(service: Running) -> None:
    page = service.client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "//" not in "".join(page_urls(page.text))
    urls = page_urls(page.text)
    assert urls and all(u.startswith("/") for u in urls), urls
    expected = {".css": "text/css", ".js": "text/javascript", ".png": "image/png", ".json": "application/json"}
    for url in urls:
        r = service.client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith(expected[Path(url).suffix]), (url, r.headers["content-type"])
    assert "SwaggerUIBundle" in service.client.get("/docs/assets/swagger-ui-bundle.js").text
    missing = service.client.get("/docs/assets/index.html")   # only the listed files of the package
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_docs_can_need_a_key_or_be_off(tmp_path: Path) -> None:
    keyed = service_settings(tmp_path / "key", docs="key")
    keys = make_keys(keyed)
    client = TestClient(create_app(keyed), raise_server_exceptions=False)
    r = client.get("/openapi.json")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert client.get("/openapi.json", headers=keys(TENANT_A, "render")).json()["openapi"].startswith("3.")
    page = client.get("/docs")
    assert page.status_code == 200 and 'data-key="required"' in page.text
    off = TestClient(create_app(service_settings(tmp_path / "off", docs="off")), raise_server_exceptions=False)
    for path in ("/openapi.json", "/docs", "/docs/assets/swagger-ui.css", "/redoc"):
        r = off.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, path
    with pytest.raises(ValueError, match="docs"):
        service_settings(tmp_path / "bad", docs="maybe")


def _resolve(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    found: dict[str, Any] = doc["components"]["schemas"][ref.removeprefix("#/components/schemas/")]
    return found


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_the_envelope_is_a_union_discriminated_by_layout_with_the_samples(service: Running) -> None:
    doc = service.client.get("/openapi.json").json()
    union = doc["components"]["schemas"]["RenderRequest"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "layout" and sorted(mapping) == LAYOUT_IDS
    assert sorted(v["$ref"] for v in union["oneOf"]) == sorted(mapping.values())
    for layout_id, ref in mapping.items():
        envelope = _resolve(doc, ref)
        assert envelope["properties"]["layout"]["const"] == layout_id
        assert set(envelope["required"]) == {"layout", "tenant", "request", "data"}
        data = _resolve(doc, envelope["properties"]["data"]["$ref"])
        assert data["type"] == "object" and data["properties"], layout_id   # typed, not an open object
    for ref in set(_refs(doc)):   # every reference resolves
        _resolve(doc, ref)
    for operation in ("render", "validate"):
        op = next(o for ops in doc["paths"].values() for o in ops.values() if o["operationId"] == operation)
        body = op["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/RenderRequest"}
        assert sorted(body["examples"]) == LAYOUT_IDS
        for layout_id, example in body["examples"].items():
            sample = json.loads((ROOT / "layouts" / "samples" / f"{layout_id}.json").read_text(encoding="utf-8"))
            assert example["value"] == sample and sample["layout"] == layout_id


def test_every_error_a_route_can_answer_is_documented(service: Running) -> None:
    doc = service.client.get("/openapi.json").json()
    ops = {o["operationId"]: o for ops in doc["paths"].values() for o in ops.values()}
    want = {
        "render": {400, 401, 403, 404, 413, 422, 423, 429, 500, 503},
        "validate": {400, 401, 403, 404, 413, 422, 429, 500, 503},
        "listLayouts": {401, 429, 500, 503},
        "getLayout": {401, 404, 422, 429, 500, 503},
        "syncSuppressions": {400, 401, 403, 413, 422, 429, 500},
        "listSuppressions": {401, 403, 422, 429, 500},
        "grantLift": {400, 401, 403, 404, 413, 422, 429, 500},
        "ready": {503},
        "metrics": {401, 403, 429},
    }
    for name, codes in want.items():
        documented = {int(c) for c in ops[name]["responses"] if int(c) >= 400}
        assert codes <= documented, (name, codes - documented)
        for code in documented:
            content = ops[name]["responses"][str(code)]["content"]
            assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, (name, code)


# ---------------------------------------------------------------------- a real browser, no network


@contextlib.contextmanager
def serving(settings: ServiceSettings, *, lifespan: str) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    uvicorn = pytest.importorskip("uvicorn")
    app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan=lifespan, log_config=None,
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serving(service_settings(tmp_path), lifespan="off") as url:   # the docs need no workers
        yield url


@pytest.mark.browser
@pytest.mark.slow
def test_swagger_ui_renders_the_operations_with_the_network_blocked(served: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import Route, sync_playwright

    blocked: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route) -> None:
        if route.request.url.startswith(served + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            page = browser.new_page()
            page.route("**/*", only_loopback)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(served + "/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            ids = set(page.locator(".opblock").evaluate_all("els => els.map(e => e.id)"))
            # the render operation opened as an integrator would: its body is the typed union of the layouts'
            # envelopes, with every sample as an example (the page-wide Schemas list, ~100 models, is not read:
            # Swagger UI stops listing it past a size, which says nothing about the document)
            render = page.locator("#operations-render-render")
            render.locator(".opblock-summary").click()
            render.get_by_text("Schema", exact=True).first.click()
            render.get_by_text("RenderRequest").first.wait_for(timeout=30_000)
            text = render.inner_text()
        finally:
            browser.close()
    assert blocked == [] and errors == [], (blocked, errors)
    assert {"operations-render-render", "operations-render-validate", "operations-layouts-listLayouts",
            "operations-suppressions-grantLift"} <= ids, ids
    assert "/v1/render/{layout_id}" in text and "RenderRequest" in text and "One of" in text
    assert "住民票の写し（世帯連記式） (layouts/samples/juminhyo-setai.json)" in text


# ---------------------------------------------------------------------- a generated client against the server

#: an interpreter with openapi-python-client installed (it needs typer<0.28, so it lives in its own virtual
#: environment: ``python3 -m venv V && V/bin/pip install openapi-python-client``, as .ci/run does); unset: the
#: test is skipped locally and fails in CI
CLIENTGEN_PYTHON = os.environ.get("CHOHYO_CLIENTGEN_PYTHON", "")

CLIENT_CALLS = """
import json, sys
from chohyo_client import AuthenticatedClient
from chohyo_client.api.render import render, validate
from chohyo_client.models import JuminhyoSetaiEnvelope, RenderLayoutId, ValidateLayoutId, ValidateResult, Problem

base, key, sample_path = sys.argv[1:4]
sample = json.load(open(sample_path, encoding="utf-8"))
client = AuthenticatedClient(base_url=base, token=key, prefix="", auth_header_name="X-API-Key", timeout=120)
out = {}
checked = validate.sync(layout_id=ValidateLayoutId("juminhyo-setai"), client=client,
                        body=JuminhyoSetaiEnvelope.from_dict(sample))
out["validate"] = checked.to_dict() if isinstance(checked, ValidateResult) else repr(checked)
made = render.sync_detailed(layout_id=RenderLayoutId("juminhyo-setai"), client=client,
                            body=JuminhyoSetaiEnvelope.from_dict(sample))
out["render"] = [int(made.status_code), made.content[:5].decode("latin-1"), made.headers.get("x-chohyo-pages")]
bad = dict(sample, request=dict(sample["request"], copies=0))
invalid = validate.sync(layout_id=ValidateLayoutId("juminhyo-setai"), client=client,
                        body=JuminhyoSetaiEnvelope.from_dict(bad))
out["invalid"] = invalid.to_dict() if isinstance(invalid, Problem) else repr(invalid)
other = dict(sample, tenant="131016")
refused = render.sync(layout_id=RenderLayoutId("juminhyo-setai"), client=client,
                      body=JuminhyoSetaiEnvelope.from_dict(other))
out["refused"] = refused.to_dict() if isinstance(refused, Problem) else repr(refused)
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.slow
def test_a_generated_python_client_round_trips(tmp_path: Path) -> None:
    if not CLIENTGEN_PYTHON:   # .ci/run sets it up: in CI a missing generator is a failure, never a skip
        message = "CHOHYO_CLIENTGEN_PYTHON is not set (an interpreter with openapi-python-client installed)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    generator = Path(CLIENTGEN_PYTHON).with_name("openapi-python-client")
    settings = service_settings(tmp_path / "state")
    key = make_keys(settings)(TENANT_A, "render")["X-API-Key"]
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(create_app(settings).openapi(), ensure_ascii=False), encoding="utf-8")
    made = subprocess.run([str(generator), "generate", "--path", str(document), "--meta", "none",
                           "--output-path", str(tmp_path / "chohyo_client")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Unable to process schema" not in made.stdout + made.stderr   # every layout's model was generated
    env_path = tmp_path / "sample.json"
    env_path.write_text(json.dumps(sample(), ensure_ascii=False), encoding="utf-8")
    script = tmp_path / "calls.py"
    script.write_text(CLIENT_CALLS, encoding="utf-8")
    with serving(settings, lifespan="on") as url:
        done = subprocess.run([CLIENTGEN_PYTHON, str(script), url, key, str(env_path)], capture_output=True,
                              text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["validate"]["valid"] is True and out["validate"]["layout"] == "juminhyo-setai", out
    assert out["render"] == [200, "%PDF-", "1"], out
    assert out["invalid"]["status"] == 422 and out["invalid"]["type"] == "urn:chohyo:problem:invalid-input", out
    assert any(e["path"].startswith("request.copies") for e in out["invalid"]["errors"]), out
    assert out["refused"]["status"] == 403, out
