"""Helpers and fixtures for the service tests: settings with the fixed clock of the DV tests, API keys per
tenant and role, envelopes (住民票の写し, 支給決定通知書, lists) for several sample tenants, and the
``service`` fixture: one started app for the session (one render worker; a few seconds to spawn).
Test modules load this file as a plugin (``pytest_plugins = ("svckit",)``).

In: the committed layouts, tenants and the fictitious sample envelopes. Out: helpers; state goes to
pytest's tmp directories, never into the repository.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvkit import ROOT, Clock, strings_in
from fastapi import FastAPI
from starlette.testclient import TestClient

from renderer.service.keys import KeyStore
from renderer.service.settings import ServiceSettings
from renderer.settings import Settings

TENANT_A = "122122"   # 千葉県佐倉市 (sample)
TENANT_B = "131016"   # 東京都千代田区 (sample)
TENANT_DV = "281107"  # 兵庫県神戸市中央区 (sample): the DV flow, so A's and B's registries stay empty
TENANT_FUZZ = "281000"  # 兵庫県神戸市 (sample): the fuzzer's key, whatever it syncs stays there
SAMPLES = ROOT / "layouts" / "samples"
NOTICE = "tsuchisho-kyufu-kettei"   # a notice (給付金 支給決定通知書), mailed


def service_settings(tmp: Path, **overrides: Any) -> ServiceSettings:
    renderer = Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=tmp / "state", clock=Clock())
    values: dict[str, Any] = {"workers": 1, "queue_size": 8, "render_timeout_s": 60.0,
                              "worker_start_timeout_s": 120.0, "rate_per_second": 1000.0, "rate_burst": 1000,
                              "max_copies": 3}
    values.update(overrides)
    return ServiceSettings(renderer=renderer, **values)


@dataclass
class Keys:
    """key strings by (tenant, role name); role name ``all`` has every role."""

    store: KeyStore
    by: dict[tuple[str, str], str] = field(default_factory=dict)

    def __call__(self, tenant: str, role: str = "all") -> dict[str, str]:
        return {"X-API-Key": self.by[(tenant, role)]}

    def ids(self) -> dict[str, str]:
        return {k.id: k.tenant for k in self.store.all()}


def make_keys(settings: ServiceSettings) -> Keys:
    store = KeyStore(settings.keys_path)
    keys = Keys(store)
    for tenant in (TENANT_A, TENANT_B, TENANT_DV, TENANT_FUZZ):
        for role in ("render", "lift", "sync", "admin"):
            keys.by[(tenant, role)] = store.create(tenant, [role], label=f"test-{role}")[1]
        keys.by[(tenant, "all")] = store.create(tenant, ["render", "lift", "sync", "admin"], label="test-all")[1]
        keys.by[(tenant, "verified")] = store.create(tenant, ["render", "identity-verified"], label="test-counter")[1]
        keys.by[(tenant, "mailer")] = store.create(tenant, ["render", "mailing"], label="test-mailer")[1]
    return keys


def sample(name: str = "juminhyo-setai", *, tenant: str | None = None, layout: str | None = None,
           **request: Any) -> dict[str, Any]:
    env: dict[str, Any] = copy.deepcopy(json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8")))
    if tenant is not None:
        env["tenant"] = tenant
    if layout is not None:
        env["layout"] = layout
    env["request"].update(request)
    return env



def personal_strings(env: dict[str, Any]) -> set[str]:
    """The values of the data and of the requester: what must never appear in a problem, header or log."""
    found = strings_in(env.get("data")) | strings_in(env["request"].get("requester"))
    return {s for s in found if len(s) >= 2}


@dataclass
class Running:
    app: FastAPI
    client: TestClient
    keys: Keys
    settings: ServiceSettings

