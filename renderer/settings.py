"""Where things live: layouts, tenants, fonts and the runtime state directory.

In: environment variables (``CHOHYO_LAYOUTS_DIR``, ``CHOHYO_FONTS_DIR``, ``CHOHYO_STATE_DIR``) or explicit
values. Out: a frozen `Settings`, passed explicitly (no global configuration). Runtime state (serial
counters, later the registry and logs) never lives in the repository: the default state directory is
``$XDG_STATE_HOME/chohyo`` (``~/.local/state/chohyo``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    layouts_dir: Path
    fonts_dir: Path
    state_dir: Path

    @property
    def tenants_dir(self) -> Path:
        return self.layouts_dir / "tenants"

    @classmethod
    def from_env(cls, *, layouts_dir: Path | None = None, fonts_dir: Path | None = None,
                 state_dir: Path | None = None) -> Settings:
        env = os.environ
        xdg = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        return cls(
            layouts_dir=layouts_dir or Path(env.get("CHOHYO_LAYOUTS_DIR") or PROJECT_ROOT / "layouts"),
            fonts_dir=fonts_dir or Path(env.get("CHOHYO_FONTS_DIR") or PROJECT_ROOT / "fonts"),
            state_dir=state_dir or Path(env.get("CHOHYO_STATE_DIR") or xdg / "chohyo"),
        )
