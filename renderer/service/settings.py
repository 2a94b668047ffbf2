"""Settings of the HTTP render service: the renderer's `Settings` plus pool, limits and rate limits.

In: explicit values (from `chohyo serve` options, their ``CHOHYO_SERVICE_*`` environment variables, or a
test). Out: a frozen `ServiceSettings`, passed to `renderer.service.create_app` (no global configuration).
The renderer's clock stays in `Settings` and is never settable from a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from renderer.settings import Settings

KEYS_FILE = "api-keys.json"


@dataclass(frozen=True)
class ServiceSettings:
    renderer: Settings
    #: render worker processes (each registers the fonts once and renders one document at a time)
    workers: int = 2
    #: renders that may wait for a worker beyond those running; one more is answered 503 at once
    #: (waiting renders hold a thread of the event loop's pool, 40 by default: keep workers + queue below it)
    queue_size: int = 16
    #: a render still running after this many seconds is killed (its worker is replaced): 503
    render_timeout_s: float = 30.0
    #: a render that waited this long for a free worker is answered 503
    queue_timeout_s: float = 30.0
    #: how long a new worker may take to load fonts and layouts
    worker_start_timeout_s: float = 120.0
    #: request bodies (envelopes, lifts) larger than this are refused with 413
    max_body_bytes: int = 1_000_000
    #: suppression sync bodies (deltas from 住民記録) may be larger
    max_sync_body_bytes: int = 16_000_000
    #: at most this many copies per request (the envelope's own maximum is 20)
    max_copies: int = 10
    #: at most this many persons (objects carrying a person_id) in one document's data
    max_persons: int = 1000
    #: at most this many list items (rows, members, …: every array element) in one document's data
    max_rows: int = 10_000
    #: per API key: sustained requests per second and burst (token bucket, in this process)
    rate_per_second: float = 10.0
    rate_burst: int = 20
    #: the hashed API keys; None = ``<state_dir>/api-keys.json``
    keys_file: Path | None = None
    #: the API documentation (``/openapi.json``, Swagger UI at ``/docs``): ``on`` open to anyone, ``key`` the
    #: document needs an API key (any role), ``off`` not served (see `renderer.service.docs`)
    docs: Literal["on", "key", "off"] = "on"

    def __post_init__(self) -> None:
        if self.workers < 1 or self.queue_size < 0:
            raise ValueError("workers must be ≥ 1 and queue_size ≥ 0")
        if min(self.render_timeout_s, self.queue_timeout_s, self.rate_per_second) <= 0 or self.rate_burst < 1:
            raise ValueError("timeouts and rates must be positive")
        if self.docs not in ("on", "key", "off"):
            raise ValueError("docs must be on, key or off")

    @property
    def keys_path(self) -> Path:
        return self.keys_file or self.renderer.state_dir / KEYS_FILE
