"""The ``service`` fixture: one started app for the whole session (one render worker, a few seconds to
spawn), with keys for four sample tenants. Test modules load it with ``pytest_plugins = ("svcfixtures",)``
(a conftest.py here would clash with tests/conftest.py as the module ``conftest`` under mypy).

In: pytest's tmp directories. Out: `svckit.Running`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from svckit import Running, make_keys, service_settings

from renderer.service import create_app


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = service_settings(tmp_path_factory.mktemp("service"))
    keys = make_keys(settings)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Running(app=app, client=client, keys=keys, settings=settings)
