"""Shared pieces of the `chohyo` commands: consoles, options, error mapping, safe file writes.

In: command bodies. Out: exit codes (0 done, 1 internal, 2 invalid, 3 refused, 4 batch with failures)
and problem+json on stderr with ``--json``. Messages carry paths and rule names, never personal data.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from renderer.errors import ChohyoError, UsageError
from renderer.settings import Settings

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

LayoutsDir = Annotated[Path | None, typer.Option("--layouts-dir", envvar="CHOHYO_LAYOUTS_DIR",
                                                 help="layouts directory (default: the project's layouts/)")]
FontsDir = Annotated[Path | None, typer.Option("--fonts-dir", envvar="CHOHYO_FONTS_DIR",
                                               help="fonts directory (default: the project's fonts/)")]
StateDir = Annotated[Path | None, typer.Option("--state-dir", envvar="CHOHYO_STATE_DIR",
                                               help="runtime state (serials); never inside the repository")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print errors as one problem+json object on stderr")]


def fail(exc: ChohyoError, as_json: bool) -> NoReturn:
    if as_json:
        sys.stderr.write(json.dumps(exc.problem_object(), ensure_ascii=False) + "\n")
    else:
        err.print(f"[bold red]error[/] ({exc.problem}, exit {exc.exit_code}): ", end="")
        err.print(str(exc), markup=False)
    raise typer.Exit(exc.exit_code)


def guard(as_json: bool, body: Callable[[], int | None]) -> None:
    """Run a command body and map every failure to its exit code (no tracebacks for users)."""
    try:
        code = body()
    except ChohyoError as exc:
        fail(exc, as_json)
    except typer.Exit:
        raise
    except Exception as exc:   # an internal failure: say what kind, never the data
        fail(ChohyoError(f"internal failure ({exc.__class__.__name__}); nothing was delivered"), as_json)
    raise typer.Exit(code or 0)


_LAYOUT_ID = re.compile(r"^[a-z][a-z0-9-]{2,63}$")   # the same pattern as LayoutSpec.id


def layout_argument(value: str, layouts_dir: Path, *, name: str = "LAYOUT_ID") -> str:
    """The layout id a LAYOUT_ID argument names, checked before anything is opened or created.

    A plain id (``tsuchisho-kyufu-kettei``) is taken as it is. A path (one with a ``/`` or ending in
    ``.yaml``) is accepted only when it resolves, symlinks followed, to a ``.yaml`` file directly in the
    layouts directory, and then stands for that file's id. Anything else — ``../x``, ``/tmp/evil.yaml``,
    ``layouts/../../etc`` — is a `UsageError` (exit 2) naming the argument: a layout outside the layouts
    directory is never loaded.
    """
    if _LAYOUT_ID.fullmatch(value):
        return value
    shown = value if len(value) <= 200 else value[:200] + "…"
    if "/" in value or value.endswith(".yaml"):
        try:
            resolved: Path | None = Path(value).resolve()
            base = layouts_dir.resolve()
        except (OSError, RuntimeError):
            resolved = None
        if (resolved is not None and resolved.parent == base and resolved.suffix == ".yaml"
                and _LAYOUT_ID.fullmatch(resolved.stem)):
            return resolved.stem
        raise UsageError(f"{name} {shown!r} resolves outside the layouts directory {layouts_dir}: give a layout id "
                         f"(e.g. tsuchisho-kyufu-kettei) or a .yaml file directly in that directory", field=name)
    raise UsageError(f"{name} {shown!r} is not a layout id: lower-case letters, digits and '-', 3 to 64 characters "
                     f"(e.g. tsuchisho-kyufu-kettei)", field=name)


def settings_from(layouts_dir: Path | None, fonts_dir: Path | None, state_dir: Path | None) -> Settings:
    return Settings.from_env(layouts_dir=layouts_dir, fonts_dir=fonts_dir, state_dir=state_dir)


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc.__class__.__name__}", field="INPUT") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}",
                         field="INPUT") from None


