"""Where things live, and what time it is: layouts, tenants, fonts, runtime state, database, clock.

In: environment variables (``CHOHYO_LAYOUTS_DIR``, ``CHOHYO_FONTS_DIR``, ``CHOHYO_STATE_DIR``,
``CHOHYO_DATABASE_URL``, ``CHOHYO_LOG_KEY``, ``CHOHYO_DB_AUTO_UPGRADE``, ``CHOHYO_SIGNING_DIR``) or explicit values.
Out: a frozen `Settings`, passed explicitly (no global configuration).

The standard layouts (with tenants, parts, samples and schemas) and the vendored fonts come from
`resource_dir`, the one place that knows where an installation keeps them: an installed wheel carries them
inside the package (``renderer/bundled/layouts``, ``renderer/bundled/fonts``, mapped there from the top-level
folders by the build, see pyproject.toml); a checkout (an editable install) has no ``renderer/bundled`` and
uses its top-level ``layouts/`` and ``fonts/``. ``CHOHYO_LAYOUTS_DIR`` / ``CHOHYO_FONTS_DIR`` (or the CLI
options) override either. Runtime state (serial counters, the DV suppression registry, the
issue log and its key) never lives in the repository: the default state directory is
``$XDG_STATE_HOME/chohyo`` (``~/.local/state/chohyo``) and the default database is the SQLite file
``chohyo.sqlite3`` inside it; ``CHOHYO_DATABASE_URL`` (e.g. ``postgresql+psycopg://…``) points several
servers at one shared database instead.

Time: `Settings.now()` is the server's clock (aware, UTC). Tests and golden fixtures inject a fixed
clock through `Settings.clock`; there is deliberately no environment variable or option that sets the
clock, so a caller cannot move time to revive an expired 一時解除 or to back-date a certificate.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from renderer.errors import UsageError

PACKAGE_DIR = Path(__file__).resolve().parent
#: a checkout's top level (golden files, tests); in an installed package this is site-packages: use
#: `resource_dir` for layouts and fonts
PROJECT_ROOT = PACKAGE_DIR.parent
#: where a wheel puts the top-level ``layouts/`` and ``fonts/`` (absent in a checkout)
BUNDLED_DIR = PACKAGE_DIR / "bundled"

Resource = Literal["layouts", "fonts"]


def resource_dir(name: Resource) -> Path:
    """The standard layouts or the vendored fonts of this installation (before any override): the copy
    inside the installed package when there is one, else the checkout's top-level folder. The bundled copy
    is looked for first, so a stray ``layouts/`` beside an installed package is never picked up."""
    bundled = BUNDLED_DIR / name
    return bundled if bundled.is_dir() else PROJECT_ROOT / name

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The server's clock, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Settings:
    layouts_dir: Path
    fonts_dir: Path
    state_dir: Path
    #: SQLAlchemy URL of the runtime database; None = SQLite file ``<state_dir>/chohyo.sqlite3``
    database_url: str | None = None
    #: the issue log's HMAC key (``CHOHYO_LOG_KEY``, hex); None = the key file ``<state_dir>/issue-log.key``
    log_key: bytes | None = field(default=None, repr=False)
    #: upgrade an older database schema when it is opened (``CHOHYO_DB_AUTO_UPGRADE``); off: refused, exit 2
    db_auto_upgrade: bool = False
    #: None = the server's clock (`system_clock`); tests inject a fixed one
    clock: Clock | None = field(default=None, compare=False)
    #: per-tenant signing configurations ``<signing_dir>/<code>.yaml`` (``CHOHYO_SIGNING_DIR``; outside the
    #: repository and the layouts); None = no tenant can sign (`renderer.signing`)
    signing_dir: Path | None = None
    #: where `chohyo audit anchor` appends the chain head (``CHOHYO_AUDIT_ANCHOR``: a file path or an http(s)
    #: URL); a file's last line is also checked before every append (`renderer.state.issue_log`)
    audit_anchor: str | None = None

    @property
    def tenants_dir(self) -> Path:
        return self.layouts_dir / "tenants"

    def now(self) -> dt.datetime:
        """The current time (aware, UTC) by the injected clock, else the server's clock."""
        value = (self.clock or system_clock)()
        if value.tzinfo is None:
            raise ValueError("the clock must return an aware datetime")
        return value.astimezone(dt.UTC)

    @classmethod
    def from_env(cls, *, layouts_dir: Path | None = None, fonts_dir: Path | None = None,
                 state_dir: Path | None = None) -> Settings:
        env = os.environ
        xdg = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        key = env.get("CHOHYO_LOG_KEY")
        return cls(
            layouts_dir=layouts_dir or Path(env.get("CHOHYO_LAYOUTS_DIR") or resource_dir("layouts")),
            fonts_dir=fonts_dir or Path(env.get("CHOHYO_FONTS_DIR") or resource_dir("fonts")),
            state_dir=state_dir or Path(env.get("CHOHYO_STATE_DIR") or xdg / "chohyo"),
            database_url=env.get("CHOHYO_DATABASE_URL") or None,
            log_key=parse_log_key(key) if key else None,
            signing_dir=signing_dir_from(env.get("CHOHYO_SIGNING_DIR")),
            db_auto_upgrade=parse_flag(env.get("CHOHYO_DB_AUTO_UPGRADE"), "CHOHYO_DB_AUTO_UPGRADE"),
            audit_anchor=env.get("CHOHYO_AUDIT_ANCHOR") or None,
        )


def parse_flag(text: str | None, name: str) -> bool:
    """An on/off environment variable: 1/true/yes/on or 0/false/no/off (unset or empty: off)."""
    value = (text or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise UsageError(f"{name} must be 1/true/yes/on or 0/false/no/off", field=name)


def signing_dir_from(text: str | None) -> Path | None:
    """``CHOHYO_SIGNING_DIR``: where the tenants' signing configurations live — never inside the bundled or checked-out
    layouts or the checkout itself (keys and their locations are not repository content)."""
    if not text:
        return None
    path = Path(text).expanduser().resolve()
    inside = [resource_dir("layouts").resolve()]
    if (PROJECT_ROOT / ".git").exists():
        inside.append(PROJECT_ROOT.resolve())
    for root in inside:
        if path == root or root in path.parents:
            raise UsageError(f"CHOHYO_SIGNING_DIR must be outside {root} (signing keys and their configuration are "
                             f"never repository content)", field="CHOHYO_SIGNING_DIR")
    return path


MIN_KEY_BYTES = 32


def parse_log_key(text: str, *, source: str = "CHOHYO_LOG_KEY") -> bytes:
    """A hex key of at least 32 bytes from `source` (``CHOHYO_LOG_KEY`` or the key file's path), named in the
    message; the message never echoes the key."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise UsageError(f"{source}: the issue log key must be hex digits", field="CHOHYO_LOG_KEY") from None
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(f"{source}: the issue log key must be at least {MIN_KEY_BYTES} bytes ({2 * MIN_KEY_BYTES} "
                         f"hex digits)", field="CHOHYO_LOG_KEY")
    return key
