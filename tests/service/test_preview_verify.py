"""``POST /v1/preview/{layout_id}`` and ``POST /v1/verify`` in-process (the session's started app).

In: the sample envelopes (fictitious 見本 data) and the app's keys. Out: a preview answers a PDF or a PNG with
「プレビュー」 and no 発行番号, spends no serial and logs one ``preview`` record; a rendered certificate uploaded
to verify is found in the log (its tenant's key only), a non-PDF is 422, an oversized body 413, every error
problem+json; a hostile PDF (a stream bomb) is 422, not 500, and a signature field that cannot be parsed is a
reported problem (tests/verifykit.py).
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx2
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select, update
from svckit import TENANT_A, TENANT_B, Running, sample
from verifykit import signature_v_integer, stream_bomb

from renderer.state.db import issue_log, open_database
from renderer.state.issue_log import IssueLog, canonical
from renderer.verify import MAX_BYTES

pytest_plugins = ("svcfixtures",)
PROBLEM = "application/problem+json"
NUMBER = re.compile(r"\d{8} \S+ .*\d{6} \d+/\d+")


def post(service: Running, path: str, tenant: str = TENANT_A, **kwargs: Any) -> httpx2.Response:
    headers = {**service.keys(tenant, "render"), **kwargs.pop("headers", {})}
    return service.client.post(path, headers=headers, **kwargs)


def log_events(service: Running) -> list[str]:
    return [str(r["event"]) for r in IssueLog(service.settings.renderer).records()]


def test_preview_pdf_issues_nothing(service: Running) -> None:
    before = log_events(service)
    r = post(service, "/v1/preview/juminhyo-setai", json=sample())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    text = " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "プレビュー" in text and NUMBER.search(" ".join(text.split())) is None
    after = log_events(service)
    assert after[:len(before)] == before and after[len(before):] == ["preview"]
    assert int(r.headers["x-chohyo-issue-log-seq"]) == len(after)
    body = json.loads(IssueLog(service.settings.renderer).records()[-1]["body"])
    assert "person_ids" not in body and "serials" not in body and body["output"] == "preview"


def test_preview_png_decodes(service: Running) -> None:
    r = post(service, "/v1/preview/juminhyo-setai?format=png&page=1&outline=true", json=sample())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    image.load()
    assert image.width > 500


def test_preview_errors_are_problems(service: Running) -> None:
    r = post(service, "/v1/preview/juminhyo-setai?format=png&page=9", json=sample())
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    bad = sample()
    del bad["data"]["household"]["address"]["prefecture"]
    r = post(service, "/v1/preview/juminhyo-setai", json=bad)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    r = post(service, "/v1/preview/juminhyo-setai", json=sample(), tenant=TENANT_B)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    r = service.client.post("/v1/preview/juminhyo-setai", json=sample())
    assert r.status_code == 401


def test_verify_finds_a_rendered_certificate_for_its_tenant_only(service: Running) -> None:
    rendered = post(service, "/v1/render/juminhyo-setai", json=sample(pdf_profile="pdfa-2b"))
    assert rendered.status_code == 200, rendered.text
    headers = {"Content-Type": "application/pdf"}
    r = post(service, "/v1/verify", content=rendered.content, headers=headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ok"], report["problems"]
    [number] = report["issue_numbers"]
    assert number["status"] == "rendered" and number["file_matches_record"] is True
    assert report["pdfa"]["claim"] == "2U" and report["pdfa"]["ok"]
    other = post(service, "/v1/verify", tenant=TENANT_B, content=rendered.content, headers=headers).json()
    assert other["issue_numbers"][0]["status"] == "unknown" and other["issue_numbers"][0]["serial"] is None
    assert not other["ok"]


def test_verify_reports_a_render_record_that_fails_its_mac(service: Running) -> None:
    """Someone with the database repoints the render record at another file: the service says the record fails
    its MAC (found by a hostile review: it answered ok). The record is put back afterwards (a shared service)."""
    rendered = post(service, "/v1/render/juminhyo-setai", json=sample())
    assert rendered.status_code == 200, rendered.text
    db = open_database(service.settings.renderer)
    with db.engine.begin() as conn:
        row = conn.execute(select(issue_log.c.seq, issue_log.c.body)
                           .where(issue_log.c.event == "render").order_by(issue_log.c.seq.desc())).first()
        assert row is not None
        seq, body = row
        record = json.loads(body)
        record["pdf_sha256"] = "0" * 64
        conn.execute(update(issue_log).where(issue_log.c.seq == seq).values(body=canonical(record).decode()))
    try:
        r = post(service, "/v1/verify", content=rendered.content, headers={"Content-Type": "application/pdf"})
    finally:
        with db.engine.begin() as conn:
            conn.execute(update(issue_log).where(issue_log.c.seq == seq).values(body=body))
    assert r.status_code == 200 and not r.json()["ok"]
    [number] = r.json()["issue_numbers"]
    assert number["status"] == "rendered" and number["record_mac_ok"] is False
    assert any("its render record fails its MAC" in p for p in r.json()["problems"]), r.json()["problems"]


def test_verify_does_not_vouch_for_a_preview(service: Running) -> None:
    """A preview prints no 発行番号: verify says nothing ties it to an issued document (ok false)."""
    preview = post(service, "/v1/preview/juminhyo-setai", json=sample())
    assert preview.status_code == 200
    r = post(service, "/v1/verify", content=preview.content, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 200 and r.json()["issue_numbers"] == []
    assert not r.json()["ok"] and r.json()["problems"][0].startswith("発行番号: none found")


def test_verify_rejects_what_is_not_a_pdf_or_too_large(service: Running) -> None:
    headers = {"Content-Type": "application/pdf"}
    r = post(service, "/v1/verify", content=b"GIF89a", headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM and r.json()["field"] == "file"
    r = post(service, "/v1/verify", content=b"%PDF-1.7\n" + b"0" * MAX_BYTES, headers=headers)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    r = post(service, "/v1/verify", content=b"%PDF-1.7\n%%EOF\n", headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_verify_of_hostile_pdfs_is_no_internal_failure(service: Running) -> None:
    """Found by a hostile review: both answered 500 (LimitReachedError, AttributeError)."""
    headers = {"Content-Type": "application/pdf"}
    r = post(service, "/v1/verify", content=stream_bomb(), headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert r.json()["field"] == "file" and r.json()["status"] == 422
    r = post(service, "/v1/verify", content=signature_v_integer(), headers=headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert not report["ok"] and report["signatures"][0]["readable"] is False
    assert any(p.startswith("signature Sig1: cannot be checked") for p in report["problems"]), report["problems"]
