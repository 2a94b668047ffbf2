"""The HTTP render service (issue 8): FastAPI app factory, API keys, worker pool, problem+json, metrics.

In: `ServiceSettings` (`renderer.service.settings`). Out: `create_app(settings)`, an ASGI app with no
module-level state; ``chohyo serve`` runs it under uvicorn. See `renderer.service.app` for the endpoints.
The names are imported lazily, so the CLI (``chohyo keys``) and the render workers do not need FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from renderer.service.app import create_app
    from renderer.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from renderer.service.app import create_app

        return create_app
    if name == "ServiceSettings":
        from renderer.service.settings import ServiceSettings

        return ServiceSettings
    raise AttributeError(name)
