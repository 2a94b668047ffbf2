"""Shared pieces of the `chohyo` commands: the `command` decorator and its `Cli` context, consoles, error
mapping, the LAYOUT_ID check and JSON input files.

In: command bodies. Out: exit codes (0 done, 1 internal, 2 invalid, 3 refused, 4 batch with failures)
and problem+json on stderr with ``--json``. Messages carry paths and rule names, never personal data.

Every command is a body ``def name(cli: Cli, <its own options>) -> int | None`` under `command(...)`,
which appends the shared options it asks for (``--layouts-dir``, ``--fonts-dir``, ``--state-dir``,
``--json``, in that order, after the command's own), builds one `Cli` from them and runs the body under
`guard`. The options stay on each command (``chohyo render … --state-dir S --json``), as scripts and the
tests place them: Click parses a group's options only before the subcommand's name, so one root callback
would break every existing call that puts them after it.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, get_type_hints

import typer

from renderer import jsontext
from renderer.errors import PROBLEM_BASE, ChohyoError, UsageError

if TYPE_CHECKING:   # imported when first used: `chohyo keys list` or `--help` need no renderer
    from rich.console import Console

    from renderer.api import Renderer
    from renderer.settings import Settings


class _Console:
    """A rich `Console` made on first use: a render that only says what it wrote never imports rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


if TYPE_CHECKING:
    err: Console
    out: Console
else:
    err = _Console(stderr=True, highlight=False, soft_wrap=True)
    out = _Console(highlight=False, soft_wrap=True)


def say(line: str) -> None:
    """One line of plain text on stderr, as written (no markup, no emoji codes, no rich import)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()

_DEFAULT_DIR = "(default: the checkout's {}/, else the installed package's own copy)"
LayoutsDir = Annotated[Path | None, typer.Option("--layouts-dir", envvar="CHOHYO_LAYOUTS_DIR",
                                                 help="layouts directory " + _DEFAULT_DIR.format("layouts"))]
FontsDir = Annotated[Path | None, typer.Option("--fonts-dir", envvar="CHOHYO_FONTS_DIR",
                                               help="fonts directory " + _DEFAULT_DIR.format("fonts"))]
StateDir = Annotated[Path | None, typer.Option("--state-dir", envvar="CHOHYO_STATE_DIR",
                                               help="runtime state (serials); never inside the repository")]
JSON_HELP = "print errors as one problem+json object on stderr"
#: ``--mailing`` of render, print, preview and batch (`renderer.caller.MAILING`)
MAILING_HELP = ("the municipality mails this itself: a notice whose request says public_office by mail prints its "
                "DV-protected addressee's own address (without the flag such a notice is refused; recorded in the "
                "issue log)")
JsonFlag = Annotated[bool, typer.Option("--json", help=JSON_HELP)]

SharedOption = Literal["--layouts-dir", "--fonts-dir", "--state-dir", "--json"]
EVERY: tuple[SharedOption, ...] = ("--layouts-dir", "--fonts-dir", "--state-dir", "--json")
_PARAMETERS: dict[SharedOption, tuple[str, Any, Any]] = {   # option → (parameter name, annotation, default)
    "--layouts-dir": ("layouts_dir", LayoutsDir, None),
    "--fonts-dir": ("fonts_dir", FontsDir, None),
    "--state-dir": ("state_dir", StateDir, None),
    "--json": ("as_json", JsonFlag, False),
}


@dataclass(frozen=True)
class Cli:
    """What a command gets from the shared options: the directories given (None: the environment's or the
    project's default) and whether errors go to stderr as problem+json. Settings are built on first use."""

    layouts_dir: Path | None = None
    fonts_dir: Path | None = None
    state_dir: Path | None = None
    as_json: bool = False

    @cached_property
    def settings(self) -> Settings:
        from renderer.settings import Settings

        return Settings.from_env(layouts_dir=self.layouts_dir, fonts_dir=self.fonts_dir, state_dir=self.state_dir)

    def renderer(self) -> Renderer:
        from renderer.api import Renderer

        return Renderer(self.settings)


Body = Callable[..., int | None]


def command(options: Iterable[SharedOption] = EVERY, *,
            json_help: str = JSON_HELP) -> Callable[[Body], Callable[..., None]]:
    """Turn ``body(cli, **own_options) -> exit code`` into a Typer command with the shared `options` after
    its own (``json_help`` replaces the help of ``--json``, e.g. where it also selects the output format).
    The body's failures map to exit codes through `guard`; 0 or None is success."""
    wanted = set(options)

    def decorate(body: Body) -> Callable[..., None]:
        own = inspect.signature(body)
        hints = get_type_hints(body, include_extras=True)
        params = [p.replace(annotation=hints[p.name]) for p in own.parameters.values() if p.name != "cli"]
        for option in EVERY:
            if option in wanted:
                name, annotation, default = _PARAMETERS[option]
                if option == "--json" and json_help != JSON_HELP:
                    annotation = Annotated[bool, typer.Option("--json", help=json_help)]
                params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                                annotation=annotation))

        @functools.wraps(body)
        def run(**values: Any) -> None:
            cli = Cli(**{name: values.pop(name) for name, _, _ in _PARAMETERS.values() if name in values})
            guard(cli.as_json, lambda: body(cli, **values))

        run.__signature__ = own.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return run

    return decorate


def fail(exc: ChohyoError, as_json: bool) -> NoReturn:
    if as_json:
        sys.stderr.write(json.dumps(exc.problem_object(), ensure_ascii=False) + "\n")
    else:
        err.print(f"[bold red]error[/] ({exc.problem}, exit {exc.exit_code}): ", end="")
        err.print(str(exc), markup=False)
    raise typer.Exit(exc.exit_code)


def guard(as_json: bool, body: Callable[[], int | None]) -> None:
    """Run a command body and map every failure to its exit code (no tracebacks for users). Success (0 or
    None) returns, so a group's callback can let its subcommand run."""
    try:
        code = body()
    except ChohyoError as exc:
        fail(exc, as_json)
    except typer.Exit:
        raise
    except Exception as exc:   # an internal failure: say what kind, never the data
        fail(ChohyoError(f"internal failure ({exc.__class__.__name__}); nothing was delivered"), as_json)
    if code:
        raise typer.Exit(code)


def interrupted(as_json: bool, detail: str, signum: signal.Signals) -> NoReturn:
    """Report an interrupted command and exit 128 + the signal's number — 130 for Ctrl-C (what Click gives a
    `KeyboardInterrupt`), 143 for SIGTERM, 129 for SIGHUP: what a shell reports for a process the signal ended."""
    code = 128 + int(signum)
    if as_json:
        sys.stderr.write(json.dumps({"type": PROBLEM_BASE + "interrupted", "title": "Interrupted; the run stopped",
                                     "detail": detail, "exit_code": code}, ensure_ascii=False) + "\n")
    else:
        say(f"interrupted ({signum.name}, exit {code}): {detail}")
    raise typer.Exit(code)


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


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc.__class__.__name__}", field="INPUT") from None
    try:
        return jsontext.loads(text)
    except jsontext.NotJson as exc:
        raise UsageError(f"{path} is not JSON: {exc.reason}", field=exc.path or "INPUT") from None


