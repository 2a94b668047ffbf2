"""Fixtures of the signing tests (loaded with ``pytest_plugins = ("sigfixtures",)``: a conftest.py here would clash
with tests/conftest.py as the module ``conftest`` under mypy): a loopback PKI for the session, a SoftHSM2 token.

In: the machine (certomancer, pyHanko, SoftHSM2 and opensc from Debian). Out:
- ``pki``: one `signkit.LoopbackPki` for the session (CA, TSA, OCSP and CRL on 127.0.0.1);
- ``softhsm``: a SoftHSM2 token holding the PKI's valid signer — skipped locally when SoftHSM2 or opensc is not
  installed, a FAILURE under CI (``CI=true``: `.ci/run` installs them, the PKCS#11 path must run);
- ``signing_dir``: an empty private directory outside the repository, as ``CHOHYO_SIGNING_DIR`` would be;
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from signkit import LoopbackPki, SoftHsm, softhsm_missing

from renderer.golden import is_ci


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackPki]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # no access log lines in the test output
    server = LoopbackPki(tmp_path_factory.mktemp("pki"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def softhsm(pki: LoopbackPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    reason = softhsm_missing()
    if reason is not None:
        if is_ci():
            pytest.fail(f"SoftHSM2 is required under CI: {reason}", pytrace=False)
        pytest.skip(reason)
    token = SoftHsm(tmp_path_factory.mktemp("softhsm"), pki.files["signer"])
    # the module reads SOFTHSM2_CONF when python-pkcs11 first loads it in this process
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(token.conf)
    yield token
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before


@pytest.fixture
def signing_dir(tmp_path: Path) -> Path:
    d = tmp_path / "signing"
    d.mkdir(mode=0o700)
    return d
