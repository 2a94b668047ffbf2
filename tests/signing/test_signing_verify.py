"""`chohyo verify` of a signed certificate and of its signature stripped (found by a hostile review).

A signed render's record names two files: ``signed_sha256`` (the delivered file) and ``pdf_sha256`` (the
drawing before signing, never delivered). The delivered file is "this exact file was issued" (exit 0); the
drawing — what is left when the signature's incremental update is cut off after the first ``%%EOF`` — was
also accepted as issued (exit 0), and is now reported as the unsigned drawing of a signed file (exit 1).

In: the sample 住民票 (fictitious 見本 data) rendered for tenant 122122 with the loopback PKI's signer, into a
scratch state directory. Out: exit codes and the JSON report of `chohyo verify --json`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from signkit import ROOT, LoopbackPki
from typer.testing import CliRunner

from renderer.api import Renderer
from renderer.cli import app
from renderer.settings import Settings

pytest_plugins = ("sigfixtures",)

SAMPLE: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / "juminhyo-setai.json").read_text("utf-8"))


def unsigned_drawing(signed: bytes, pdf_sha256: str) -> bytes:
    """The signed file cut after its first %%EOF (and the end-of-line the drawing ended with): the drawing."""
    end = signed.index(b"%%EOF") + len(b"%%EOF")
    [drawing] = [signed[:end + k] for k in (0, 1, 2) if hashlib.sha256(signed[:end + k]).hexdigest() == pdf_sha256]
    return drawing


def verify(pdf: Path, state: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["verify", str(pdf), "--state-dir", str(state), "--json"], env={})
    return result.exit_code, json.loads(result.stdout)


def test_the_unsigned_drawing_of_a_signed_certificate_is_not_the_file_issued(
        pki: LoopbackPki, signing_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHOHYO_LOG_KEY", "CHOHYO_DATABASE_URL", "CHOHYO_LAYOUTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    pki.signing_config(signing_dir / "122122.yaml")
    state = tmp_path / "state"
    r = Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=state,
                          signing_dir=signing_dir))
    env = copy.deepcopy(SAMPLE)
    env["request"].update(output="file", sign={"level": "B-T"})
    result = r.render(env)
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(result.pdf)
    code, report = verify(signed, state)
    assert code == 0 and report["ok"], report["problems"]
    [found] = report["issue_numbers"]
    assert found["file_matches_record"] is True and found["record_mac_ok"] is True
    assert [s["integrity_ok"] for s in report["signatures"]] == [True]

    stripped = tmp_path / "stripped.pdf"
    stripped.write_bytes(unsigned_drawing(result.pdf, result.pdf_sha256))
    code, report = verify(stripped, state)
    assert code == 1 and not report["ok"]
    assert report["signatures"] == []
    [found] = report["issue_numbers"]
    assert found["status"] == "rendered" and found["record_mac_ok"] is True
    assert found["unsigned_drawing"] is True and found["file_matches_record"] is False
    [problem] = report["problems"]
    assert "issued signed; this copy has no signature" in problem and "never delivered" in problem, problem
    text = CliRunner().invoke(app, ["verify", str(stripped), "--state-dir", str(state)], env={})
    assert text.exit_code == 1 and "this exact file was issued" not in text.stdout
    assert "unsigned drawing" in text.stdout, text.stdout
