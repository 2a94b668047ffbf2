"""`describe_signatures`: what `chohyo verify` prints about a PDF's signatures, checked on real signed files.

Files are signed at each level by the loopback PKI's signer; the description must say who signed, when, the
timestamp and its TSA, the coverage, integrity, the chain (only when trust roots are given), whether LTV data is
present and validates offline, and the modification level — and turn false, with a problem, for a tampered byte
or a foreign root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from signkit import GOLDEN, LoopbackPki

from renderer.errors import InputError
from renderer.signing.config import load_signing_config
from renderer.signing.inspect import describe_signatures
from renderer.signing.policy import SignatureLevel
from renderer.signing.sign import sign_pdf

pytest_plugins = ("sigfixtures",)


@pytest.fixture(scope="module")
def signed(pki: LoopbackPki, tmp_path_factory: pytest.TempPathFactory) -> dict[SignatureLevel, bytes]:
    d = tmp_path_factory.mktemp("signing")
    d.chmod(0o700)
    pki.signing_config(d / "122122.yaml")
    config = load_signing_config(d, "122122")
    assert config is not None
    pdf = GOLDEN["juminhyo"].read_bytes()
    return {level: sign_pdf(pdf, config, level).pdf for level in ("B-B", "B-T", "B-LT")}


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT"])
def test_describes_each_level(pki: LoopbackPki, signed: dict[SignatureLevel, bytes], level: SignatureLevel) -> None:
    (entry,) = describe_signatures(signed[level], trust_roots=[pki.root_pem])
    json.dumps(entry)   # JSON-able as it is
    assert entry["level"] == level
    assert entry["field"] == "ChohyoSignature"
    assert "Test Signer" in entry["signer_subject"] and len(entry["signer_fingerprint"]) == 64
    assert entry["signing_time"] is not None
    assert entry["integrity_ok"] is True and entry["trusted_chain"] is True
    assert entry["problems"] == []
    assert entry["coverage"] == "entire file"   # B-LT too: its DSS is written in the signature's revision
    assert entry["modification_level"] == "none"
    if level == "B-B":
        assert entry["timestamp"] is None
    else:
        ts = entry["timestamp"]
        assert ts["valid"] and ts["trusted"] and "Time Stamping Authority" in ts["tsa"]
        assert ts["time"] >= entry["signing_time"]
    if level == "B-LT":
        assert entry["ltv"] == {"present": True, "validates_offline": True}
    else:
        assert entry["ltv"] == {"present": False, "validates_offline": None}


def test_without_trust_roots_nothing_is_called_trusted(signed: dict[SignatureLevel, bytes]) -> None:
    (entry,) = describe_signatures(signed["B-LT"])
    assert entry["integrity_ok"] is True
    assert entry["trusted_chain"] is None and entry["ltv"]["validates_offline"] is None
    assert entry["timestamp"]["trusted"] is None


def test_a_foreign_root_is_not_trusted(signed: dict[SignatureLevel, bytes], tmp_path: Path) -> None:
    other = LoopbackPki(tmp_path / "other")   # another CA with the same names
    other.stop()
    (entry,) = describe_signatures(signed["B-LT"], trust_roots=[other.root_pem.read_bytes()])
    assert entry["integrity_ok"] is True
    assert entry["trusted_chain"] is False and entry["ltv"]["validates_offline"] is False
    assert any(p.startswith("chain:") for p in entry["problems"])


def test_a_tampered_byte_is_reported(pki: LoopbackPki, signed: dict[SignatureLevel, bytes]) -> None:
    pdf = signed["B-LT"]
    at = pdf.index(b"/Lang (ja-JP)") + len(b"/Lang (ja-J")
    tampered = pdf[:at] + b"Q" + pdf[at + 1:]
    (entry,) = describe_signatures(tampered, trust_roots=[pki.root_pem])
    assert entry["integrity_ok"] is False
    assert any(p.startswith("integrity:") for p in entry["problems"])


def test_unsigned_and_unreadable_files(pki: LoopbackPki) -> None:
    assert describe_signatures(GOLDEN["notice"].read_bytes(), trust_roots=[pki.root_pem]) == []
    with pytest.raises(InputError) as exc:
        describe_signatures(b"%PDF-1.7\nnot really\n")
    assert exc.value.exit_code == 2 and exc.value.field == "file"


def test_chohyo_verify_reports_a_tampered_signed_file_and_exits_1(signed: dict[SignatureLevel, bytes],
                                                                  tmp_path: Path) -> None:
    """The clerk's command end to end: the intact B-LT file's signature is whole; one changed byte makes
    `chohyo verify` say the integrity fails and exit 1."""
    from typer.testing import CliRunner

    from renderer.cli import app

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    intact, tampered = tmp_path / "intact.pdf", tmp_path / "tampered.pdf"
    pdf = signed["B-LT"]
    intact.write_bytes(pdf)
    at = pdf.index(b"/Lang (ja-JP)") + len(b"/Lang (ja-J")
    tampered.write_bytes(pdf[:at] + b"Q" + pdf[at + 1:])

    def verify(path: Path) -> tuple[int, list[dict[str, Any]]]:
        result = CliRunner().invoke(app, ["verify", str(path), "--state-dir", str(state), "--json"])
        report: dict[str, Any] = json.loads(result.stdout)
        return result.exit_code, report["signatures"]

    _, good = verify(intact)
    assert [s["integrity_ok"] for s in good] == [True]
    code, bad = verify(tampered)
    assert code == 1
    assert [s["integrity_ok"] for s in bad] == [False]
