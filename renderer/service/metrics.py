"""Prometheus metrics of one app (its own `CollectorRegistry`: no process-global collectors).

In: observations from the request middleware, the render handlers and the pool. Out: the text exposition
for ``GET /metrics``. Labels are bounded: route templates (never raw paths, which may hold a person_id),
tenants from authenticated keys (never from request bodies), known layout ids, fixed outcome names.
A tenant's ``admin`` key sees the series without a tenant label and those of its own tenant only
(per-tenant refusal counts would reveal DV activity of another 団体).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric

OUTCOMES = ("ok", "invalid", "refused", "dv_blocked", "timeout", "busy", "error")   # chohyo_renders{outcome}


class Metrics:
    def __init__(self, pool_stats: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("chohyo_http_requests",
                                "HTTP requests by route template, method, status and the key's tenant (\"\" before "
                                "a key was accepted): a 423 count is DV activity, so it is per tenant",
                                ["route", "method", "status", "tenant"], registry=r)
        self.latency = Histogram("chohyo_http_request_seconds", "HTTP request latency by route template",
                                 ["route"], registry=r,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.renders = Counter("chohyo_renders", "render and validate jobs by tenant, layout, op and outcome",
                               ["tenant", "layout", "op", "outcome"], registry=r)
        self.render_seconds = Histogram("chohyo_render_seconds", "time in the render pool (queue + render)",
                                        ["layout"], registry=r,
                                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.pages = Counter("chohyo_pages", "pages delivered", ["tenant", "layout"], registry=r)
        self.auth_failures = Counter("chohyo_auth_failures", "requests refused before a key was accepted",
                                     ["reason"], registry=r)
        self.rate_limited = Counter("chohyo_rate_limited", "requests refused by the per-key rate limit",
                                    ["tenant"], registry=r)
        self.registry_events = Counter("chohyo_registry_events", "suppression syncs, lifts and listings",
                                       ["tenant", "event", "outcome"], registry=r)
        pool = Gauge("chohyo_pool", "render pool state (workers, busy, waiting, restarting, restarts, timeouts)",
                     ["state"], registry=r)
        for state in ("workers", "busy", "waiting", "restarting", "restarts", "timeouts"):
            pool.labels(state).set_function(_stat(pool_stats, state))

    def exposition(self, tenant: str | None) -> bytes:
        """The text format; with a tenant, only untagged series and that tenant's."""
        if tenant is None:
            return generate_latest(self.registry)
        return generate_latest(_Filtered(self.registry, tenant))


def _stat(stats: Callable[[], dict[str, int]], name: str) -> Callable[[], float]:
    return lambda: float(stats().get(name, 0))


class _Filtered:
    def __init__(self, registry: CollectorRegistry, tenant: str) -> None:
        self.registry = registry
        self.tenant = tenant

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            kept = Metric(family.name, family.documentation, family.type, family.unit)
            kept.samples = [s for s in family.samples if s.labels.get("tenant", self.tenant) == self.tenant]
            yield kept
