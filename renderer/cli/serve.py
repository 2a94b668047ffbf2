"""`chohyo serve`: the HTTP render service under uvicorn (needs the ``service`` extra).

In: options (or their ``CHOHYO_SERVICE_*`` environment variables) and the usual layouts/fonts/state
directories. Out: a server on HOST:PORT until interrupted; JSON logs on stderr (no access log of raw
paths). Keys: `chohyo keys create`. Exit codes: 0 stopped, 2 invalid usage, the extra is missing or the
database is at another schema revision (`chohyo db upgrade`; see `renderer.state.migrations`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from renderer.cli.common import Cli, command
from renderer.errors import UsageError

DocsMode = Literal["on", "key", "off"]
DOCS_MODES: tuple[DocsMode, ...] = ("on", "key", "off")   # as renderer.service.docs (not imported: it needs FastAPI)


def _opt(name: str, env: str, text: str) -> typer.models.OptionInfo:
    info: typer.models.OptionInfo = typer.Option(name, envvar=f"CHOHYO_SERVICE_{env}", help=text)
    return info


@command(("--layouts-dir", "--fonts-dir", "--state-dir"))
def serve(
    cli: Cli,
    host: Annotated[str, _opt("--host", "HOST", "address to listen on")] = "127.0.0.1",
    port: Annotated[int, _opt("--port", "PORT", "port to listen on")] = 8000,
    workers: Annotated[int, _opt("--workers", "WORKERS", "render worker processes")] = 2,
    queue: Annotated[int, _opt("--queue", "QUEUE", "renders that may wait beyond those running (then 503)")] = 16,
    render_timeout: Annotated[float, _opt("--render-timeout", "RENDER_TIMEOUT", "seconds per render")] = 30.0,
    max_body: Annotated[int, _opt("--max-body-bytes", "MAX_BODY_BYTES", "largest envelope (413)")] = 1_000_000,
    max_copies: Annotated[int, _opt("--max-copies", "MAX_COPIES", "copies per request (413)")] = 10,
    max_persons: Annotated[int, _opt("--max-persons", "MAX_PERSONS", "persons per document (413)")] = 1000,
    max_rows: Annotated[int, _opt("--max-rows", "MAX_ROWS", "list items per document (413)")] = 10_000,
    rate: Annotated[float, _opt("--rate", "RATE", "requests per second per API key (429)")] = 10.0,
    burst: Annotated[int, _opt("--burst", "BURST", "burst per API key")] = 20,
    log_level: Annotated[str, _opt("--log-level", "LOG_LEVEL", "debug, info, warning, error")] = "info",
    docs: Annotated[str, _opt("--docs", "DOCS", "API docs (/openapi.json, /docs): on, key (the document needs an "
                                                "API key) or off; production: key or off")] = "on",
) -> int:
    """Run the HTTP render service (POST /v1/render/{layout_id}, …; OpenAPI at /docs)."""
    if docs not in DOCS_MODES:
        raise UsageError(f"--docs must be one of {', '.join(DOCS_MODES)}", field="--docs")
    try:
        import uvicorn

        from renderer.service import ServiceSettings, create_app
        from renderer.service.logs import configure_logging
    except ImportError as exc:
        raise UsageError(f"the service extra is not installed ({exc.name}): "
                         f"python3 -m pip install -e '.[service]'", field="serve") from None
    settings = ServiceSettings(
        renderer=cli.settings, workers=workers, queue_size=queue,
        render_timeout_s=render_timeout, max_body_bytes=max_body, max_copies=max_copies,
        max_persons=max_persons, max_rows=max_rows, rate_per_second=rate, rate_burst=burst, docs=docs)
    cli.renderer().layout_ids()   # a layouts directory with no layout: exit 2 naming it, before any worker starts
    _refuse_foreign_schema(cli)
    configure_logging(log_level)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False,
                server_header=False, timeout_graceful_shutdown=30)
    return 0


def _refuse_foreign_schema(cli: Cli) -> None:
    """Do not start on a database at another schema revision (`SchemaError`, exit 2: the message names the
    revisions and ``chohyo db upgrade``), nor with a database URL or a state directory that can never work
    (`UsageError`, exit 2: a mistyped scheme, a file where the directory should be); an empty one is created
    at head. A database not reachable yet is
    left to ``/readyz``, which reports it (and the revision) until it is."""
    from renderer.state.db import open_database
    from renderer.state.migrations import SchemaError

    try:
        open_database(cli.settings)
    except (SchemaError, UsageError):   # another revision; a URL or state directory that can never work
        raise
    except Exception:   # not reachable now: /readyz answers 503 (with the class of error) until it is
        return
