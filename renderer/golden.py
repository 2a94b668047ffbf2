"""Golden-file regression cases: render each committed case and compare it byte for byte.

In: a golden directory laid out as ``golden/<layout-id>/<case>/`` where each case holds
``input.json`` (an envelope, renderable as-is by ``chohyo render <layout-id> input.json``), an optional
``fixtures.json`` (``{"serial_start": 11}``: the next 発行番号 serial; ``clock``, ``suppressions``, ``lifts``,
``identity_verified`` (the caller checked identity documents), ``mailing`` (the municipality mails it itself);
unknown keys are an error) and the
expected result: either ``expected.pdf`` + ``display.txt`` (the display list dump) or
``expected-error.json`` (``{"exit_code": 3, "type": "urn:chohyo:problem:refused", "rule": "..."}``,
``rule`` optional) for a case that must be refused.

Out: `discover` lists the cases (`select` picks some by id, name or layout); `render_case` renders one with a
fresh temporary state directory seeded from its fixtures and returns a `CaseOutcome`; `compare` returns a
short human summary of every difference (empty when the case passes); `write_report` writes the visual diff
of a case (committed expected.pdf against the render) into the gitignored store
``tests/.golden-store/<layout>/<case>/`` and `diff_all` those of every case with an index; `update` rewrites
only the expected files whose content differs and returns what it changed. Nothing here writes an expected
file except `update`, and `update` refuses to run in CI (``CI=true``): a missing expected file is a failure,
never created silently. Both ``pytest --update-golden`` and ``chohyo golden update`` go through `update`.

The pictures and HTML of the reports come from `renderer.goldendiff`, which knows nothing of golden cases:
`pair_of` describes a case to it as a `Pair`. This module imports that package (only inside the report
functions, so PDFium and Pillow load only when a report is wanted); it never imports this one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from renderer import jsontext
from renderer.api import TOKYO, Renderer, parse_envelope
from renderer.caller import Caller
from renderer.errors import ChohyoError
from renderer.files import write_atomic
from renderer.settings import PROJECT_ROOT, Settings, resource_dir
from renderer.state.issue_log import LogRecord
from renderer.state.registry import seed_registry

if TYPE_CHECKING:
    from renderer.goldendiff.run import AllWritten, Pair

GOLDEN_DIR = PROJECT_ROOT / "golden"

INPUT = "input.json"
FIXTURES = "fixtures.json"
EXPECTED_PDF = "expected.pdf"
DISPLAY = "display.txt"
EXPECTED_ERROR = "expected-error.json"
RENDER_FILES = (EXPECTED_PDF, DISPLAY)
ERROR_FILES = (EXPECTED_ERROR,)

STORE_DIR = PROJECT_ROOT / "tests" / ".golden-store"   # visual diff reports and renders of failing cases (gitignored)
REPORT_NAME = "report.html"
RENDERED_NAMES = {EXPECTED_PDF: "rendered.pdf", DISPLAY: "rendered-display.txt",
                  EXPECTED_ERROR: "rendered-error.json"}   # a failing case's render, kept beside its report

UPDATE_FLAG = "--update-golden"      # the pytest option (tests/conftest.py)
UPDATE_DEST = "update_golden"        # its attribute on config.option
TEST_FILE = "tests/test_golden.py"

#: the server's clock of a case without a `clock` fixture: the day the cases are dated (a fixed day keeps
#: the expected bytes; the inputs themselves carry no issued_on, so they render on any day)
DEFAULT_CLOCK = dt.datetime(2026, 11, 27, 9, 0, tzinfo=TOKYO)
FIXTURE_KEYS = frozenset({"serial_start", "clock", "suppressions", "lifts", "identity_verified", "mailing"})
ERROR_KEYS = frozenset({"exit_code", "type", "rule"})
MAX_DIFF_LINES = 20


class GoldenError(Exception):
    """A golden case is malformed (unreadable input, bad fixtures) or an update was attempted in CI."""


def is_ci() -> bool:
    """True when running under CI (``CI`` set to ``true`` or ``1``, as CI services do)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def update_command(case_id: str) -> str:
    return f"pytest {TEST_FILE} {UPDATE_FLAG} -k '{case_id}'"


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class GoldenCase:
    layout_id: str
    name: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.layout_id}/{self.name}"


def discover(golden_dir: Path = GOLDEN_DIR) -> list[GoldenCase]:
    """Every case folder ``<golden_dir>/<layout-id>/<case>/``, sorted; hidden folders are skipped.

    A folder at case depth without ``input.json`` is still listed, so that it fails loudly instead of
    being skipped.
    """
    cases: list[GoldenCase] = []
    if not golden_dir.is_dir():
        return cases
    for layout_dir in sorted(p for p in golden_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for case_dir in sorted(p for p in layout_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            cases.append(GoldenCase(layout_dir.name, case_dir.name, case_dir))
    return cases


def case_of(case_dir: Path) -> GoldenCase:
    return GoldenCase(case_dir.parent.name, case_dir.name, case_dir)


def select(cases: list[GoldenCase], names: list[str]) -> list[GoldenCase]:
    """The cases named by id (``layout/case``), case name or layout id, in discovery order; all when none.

    An unknown name is an error listing the known ids (nothing is selected silently by a typo).
    """
    if not names:
        return list(cases)
    unknown = [n for n in names if not any(n in (c.id, c.name, c.layout_id) for c in cases)]
    if unknown:
        raise GoldenError(f"unknown golden case(s) {', '.join(unknown)}; known: {', '.join(c.id for c in cases)}")
    return [c for c in cases if any(n in (c.id, c.name, c.layout_id) for n in names)]


@dataclass(frozen=True)
class Fixtures:
    serial_start: int = 1
    #: the caller checked the requester's identity documents (CLI ``--identity-verified``)
    identity_verified: bool = False
    #: the municipality mails the notice itself (CLI ``--mailing``)
    mailing: bool = False
    #: the server's clock during the render (ISO datetime with offset); default `DEFAULT_CLOCK`. Golden
    #: inputs carry no `request.issued_on`: they are issued on the clock's day, so `chohyo render` takes
    #: the same input on any day (with today's date)
    clock: dt.datetime | None = None
    #: DV registry records imported for tenant of the envelope before the render (as `chohyo suppressions
    #: import` lines: {"op": "upsert", "person_id": …, "version": …, …})
    suppressions: tuple[dict[str, Any], ...] = ()
    #: 一時解除 granted at the clock before the render: {"person_id": …, "layout": …, "minutes": …}
    lifts: tuple[dict[str, Any], ...] = ()


def load_fixtures(case_dir: Path) -> Fixtures:
    path = case_dir / FIXTURES
    if not path.exists():
        return Fixtures()
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise GoldenError(f"{path}: must be a JSON object")
    unknown = sorted(set(raw) - FIXTURE_KEYS)
    if unknown:
        raise GoldenError(f"{path}: unknown fixture key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(FIXTURE_KEYS))}")
    start = raw.get("serial_start", 1)
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        raise GoldenError(f"{path}: serial_start must be an integer ≥ 1")
    clock = raw.get("clock")
    when: dt.datetime | None = None
    if clock is not None:
        try:
            when = dt.datetime.fromisoformat(str(clock))
        except ValueError:
            raise GoldenError(f"{path}: clock must be an ISO datetime with offset") from None
        if when.tzinfo is None:
            raise GoldenError(f"{path}: clock must carry its UTC offset (e.g. +09:00)")
    lists = {name: raw.get(name, []) for name in ("suppressions", "lifts")}
    for name, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise GoldenError(f"{path}: {name} must be a list of objects")
    grants = {name: raw.get(name, False) for name in ("identity_verified", "mailing")}
    for name, value in grants.items():
        if not isinstance(value, bool):
            raise GoldenError(f"{path}: {name} must be true or false")
    return Fixtures(serial_start=start, clock=when, suppressions=tuple(lists["suppressions"]),
                    lifts=tuple(lists["lifts"]), **grants)


def _read_json(path: Path) -> Any:
    try:
        return jsontext.loads(path.read_bytes())   # as the CLI reads an input: no duplicate key, no NaN
    except FileNotFoundError:
        raise GoldenError(f"{path} is missing") from None
    except (OSError, jsontext.NotJson) as exc:
        raise GoldenError(f"{path}: cannot read JSON ({exc})") from None


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class CaseOutcome:
    """What one render produced: a PDF and its display list, or a refusal/error."""

    pdf: bytes | None = None
    display: str | None = None
    pages: int = 0
    error: Mapping[str, Any] | None = None   # exit_code, type and (when the error has one) rule
    detail: str = ""                         # the error's message, for humans only (never stored)

    @property
    def is_error(self) -> bool:
        return self.error is not None

    def files(self) -> dict[str, bytes]:
        """The expected files this outcome corresponds to, by name."""
        if self.error is not None:
            return {EXPECTED_ERROR: _error_bytes(self.error)}
        assert self.pdf is not None and self.display is not None
        return {EXPECTED_PDF: self.pdf, DISPLAY: self.display.encode("utf-8")}

    def describe(self) -> str:
        if self.error is not None:
            rule = f" rule {self.error['rule']}" if "rule" in self.error else ""
            return f"error exit {self.error['exit_code']} {self.error['type']}{rule}: {self.detail}"
        return f"a PDF of {self.pages} page(s)"


def _error_bytes(error: Mapping[str, Any]) -> bytes:
    ordered = {k: error[k] for k in ("exit_code", "type", "rule") if k in error}
    return (json.dumps(ordered, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def default_settings() -> Settings:
    """The project's own layouts and fonts (environment overrides ignored); the state dir is replaced."""
    return Settings.from_env(layouts_dir=resource_dir("layouts"), fonts_dir=resource_dir("fonts"))


def render_case(case_dir: Path, settings_template: Settings | None = None) -> CaseOutcome:
    """Render one case with a fresh temporary state directory seeded from its fixtures."""
    case = case_of(case_dir)
    template = settings_template or default_settings()
    raw = _read_json(case_dir / INPUT)
    fixtures = load_fixtures(case_dir)
    with tempfile.TemporaryDirectory(prefix="chohyo-golden-") as tmp:
        settings = dataclasses.replace(template, state_dir=Path(tmp) / "state", database_url=None)
        try:
            when = fixtures.clock or DEFAULT_CLOCK
            settings = dataclasses.replace(settings, clock=lambda: when)
            envelope = parse_envelope(raw, today=when.astimezone(TOKYO).date())
            request = envelope.request
            renderer = Renderer(settings)
            if fixtures.serial_start > 1:
                renderer.issue_log.set_counter(LogRecord("counter", when, {"operator": "golden-fixture"}),
                                               envelope.tenant, request.issued_on, request.terminal,
                                               request.printer, fixtures.serial_start)
            seed_registry(settings, envelope.tenant, fixtures.suppressions, fixtures.lifts)
            caller = Caller.local("cli", identity_verified=fixtures.identity_verified, mailing=fixtures.mailing)
            result = renderer.render(raw, layout_id=case.layout_id, caller=caller)
        except ChohyoError as exc:
            problem = exc.problem_object()
            error: dict[str, Any] = {"exit_code": problem["exit_code"], "type": problem["type"]}
            if "rule" in problem:
                error["rule"] = problem["rule"]
            return CaseOutcome(error=error, detail=exc.message)
    return CaseOutcome(pdf=result.pdf, display=result.display, pages=result.pages)


# --------------------------------------------------------------------------- comparing


def _missing(case_dir: Path, name: str) -> str:
    case_id = case_of(case_dir).id
    if is_ci():
        return (f"{name} is missing; CI never creates expected files: run `{update_command(case_id)}` "
                f"locally, review the result and commit it")
    return f"{name} is missing (new case?): run `{update_command(case_id)}` and review the result"


def _error_differences(path: Path, actual: Mapping[str, Any]) -> list[str]:
    """Compare expected-error.json by meaning: exit_code and type always, rule when the file names one."""
    try:
        expected = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"{EXPECTED_ERROR} is not readable JSON ({exc.__class__.__name__})"]
    if not isinstance(expected, dict):
        return [f"{EXPECTED_ERROR} must be a JSON object"]
    out: list[str] = []
    unknown = sorted(set(expected) - ERROR_KEYS)
    if unknown:
        out.append(f"{EXPECTED_ERROR} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(ERROR_KEYS))}")
    for key in ("exit_code", "type", "rule"):
        if key == "rule" and key not in expected:
            continue
        if expected.get(key) != actual.get(key):
            out.append(f"{EXPECTED_ERROR}: {key} expected {expected.get(key)!r}, got {actual.get(key)!r}")
    return out


def _display_diff(expected: bytes, actual: bytes) -> list[str]:
    exp = expected.decode("utf-8", errors="replace").splitlines()
    act = actual.decode("utf-8", errors="replace").splitlines()
    diff = list(difflib.unified_diff(exp, act, f"expected {DISPLAY}", f"rendered {DISPLAY}", n=1, lineterm=""))
    shown = diff[:MAX_DIFF_LINES]
    out = [f"{DISPLAY} differs:"] + ["    " + line for line in shown]
    if len(diff) > len(shown):
        out.append(f"    … {len(diff) - len(shown)} more diff line(s)")
    return out


def _pdf_difference(expected: bytes, actual: bytes, display_same: bool) -> list[str]:
    delta = len(actual) - len(expected)
    first = next((i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
                 min(len(expected), len(actual)))
    line = (f"{EXPECTED_PDF} differs: expected {len(expected)} bytes, rendered {len(actual)} bytes "
            f"({delta:+d}); first difference at byte {first}")
    out = [line]
    if display_same:
        out.append("    the display list is identical: the difference is in drawing or PDF writing "
                   "(e.g. a ReportLab or font change)")
    return out


def compare(case_dir: Path, outcome: CaseOutcome) -> list[str]:
    """A short human summary of how the committed expected files differ from `outcome` (empty: pass)."""
    out: list[str] = []
    if outcome.error is not None:
        stale = [n for n in RENDER_FILES if (case_dir / n).exists()]
        if stale:
            out.append(f"the case expects a PDF, but the render gave {outcome.describe()}; "
                       f"stale file(s): {', '.join(stale)}")
        path = case_dir / EXPECTED_ERROR
        if path.exists():
            out.extend(_error_differences(path, outcome.error))
        else:
            out.append(_missing(case_dir, EXPECTED_ERROR))
        return out

    if (case_dir / EXPECTED_ERROR).exists():
        out.append(f"the case expects a refusal ({EXPECTED_ERROR}), but the render gave {outcome.describe()}; "
                   f"stale file: {EXPECTED_ERROR}")
    files = outcome.files()
    display_path = case_dir / DISPLAY
    display_same = False
    if display_path.exists():
        expected_display = display_path.read_bytes()
        display_same = expected_display == files[DISPLAY]
        if not display_same:
            out.extend(_display_diff(expected_display, files[DISPLAY]))
    else:
        out.append(_missing(case_dir, DISPLAY))
    pdf_path = case_dir / EXPECTED_PDF
    if pdf_path.exists():
        expected_pdf = pdf_path.read_bytes()
        if expected_pdf != files[EXPECTED_PDF]:
            out.extend(_pdf_difference(expected_pdf, files[EXPECTED_PDF], display_same))
    else:
        out.append(_missing(case_dir, EXPECTED_PDF))
    return out


# --------------------------------------------------------------------------- the visual diff report


def store_dir(case: GoldenCase, store: Path = STORE_DIR) -> Path:
    """Where the report and the render of a failing case go: ``<store>/<layout-id>/<case>/``."""
    return store / case.layout_id / case.name


@dataclass(frozen=True)
class Report:
    path: Path
    lines: tuple[str, ...]   # one per changed page: status, changed-pixel count, box
    size: int                # bytes


def pair_of(case: GoldenCase, outcome: CaseOutcome, problems: list[str]) -> Pair:
    """The case as the visual diff sees it: committed expected.pdf and display.txt against the render."""
    from renderer.goldendiff.run import Pair

    expected, display = case.path / EXPECTED_PDF, case.path / DISPLAY
    return Pair(title=case.id, old=expected.read_bytes() if expected.exists() else None, new=outcome.pdf,
                old_label=EXPECTED_PDF, new_label="rendered", old_name=f"{case.id}/{EXPECTED_PDF} (committed)",
                new_name="working tree render", problems=tuple(problems), unchanged="no difference: the case passes",
                old_display=display.read_text(encoding="utf-8", errors="replace") if display.exists() else None,
                new_display=outcome.display, meta=outcome.describe())


def write_report(case: GoldenCase, outcome: CaseOutcome, problems: list[str], store: Path = STORE_DIR) -> Report:
    """Write ``<store>/<layout>/<case>/report.html`` (and the rendered files beside it) for a case that differs.

    The report shows the committed expected.pdf against `outcome`'s PDF page by page (pictures from worker
    processes), the ``display.txt`` diff and `problems`. Never touches the case folder.
    """
    from renderer.goldendiff.run import pair_report

    dest = store_dir(case, store)
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in outcome.files().items():
        write_atomic(dest / RENDERED_NAMES[name], data, mode=0o644)
    written = pair_report(pair_of(case, outcome, problems), dest / REPORT_NAME)
    return Report(written.path, written.lines, written.size)


def diff_all(out_dir: Path, *, golden_dir: Path = GOLDEN_DIR, dpi: int | None = None,
             max_pictures: int | None = None) -> AllWritten:
    """Every case's committed expected.pdf against the working tree's render: ``out_dir/<layout>/<case>/
    report.html`` each and ``out_dir/index.html`` (`chohyo golden diff --all`). Nothing is written to the
    case folders."""
    from renderer.goldendiff.run import Item, pairs_report
    from renderer.goldendiff.worker import DEFAULT_DPI, MAX_PICTURES

    started = time.perf_counter()
    items: list[Item] = []
    for case in discover(golden_dir):
        href = f"{case.layout_id}/{case.name}/{REPORT_NAME}"
        try:
            outcome = render_case(case.path)
        except GoldenError as exc:
            items.append(Item(case.id, "malformed case", href, None, (str(exc),)))
            continue
        problems = compare(case.path, outcome)
        kind = "error case" if outcome.is_error else "render"
        items.append(Item(case.id, f"{kind} changed" if problems else f"{kind} unchanged", href,
                          pair_of(case, outcome, problems), tuple(problems)))
    return pairs_report(items, out_dir, f"golden diff — {golden_dir.name}/ ({len(items)} cases)",
                        dpi=DEFAULT_DPI if dpi is None else dpi,
                        max_pictures=MAX_PICTURES if max_pictures is None else max_pictures, started=started)


def clear_report(case: GoldenCase, store: Path = STORE_DIR) -> None:
    """Remove a stale report of a case that passes now (so an old picture never misleads)."""
    dest = store_dir(case, store)
    for name in (REPORT_NAME, *RENDERED_NAMES.values()):
        (dest / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        dest.rmdir()


# --------------------------------------------------------------------------- updating


def update(case_dir: Path, outcome: CaseOutcome) -> list[str]:
    """Make the expected files match `outcome`, touching only files whose content differs.

    Removes ``expected.pdf``/``display.txt`` when the case became an error case and ``expected-error.json``
    when it became a rendering case. Returns one line per change (empty: nothing changed). Refuses in CI.
    """
    if is_ci():
        raise GoldenError(f"golden files are never updated in CI (CI={os.environ.get('CI')!r})")
    changes: list[str] = []
    stale = RENDER_FILES if outcome.is_error else ERROR_FILES
    for name in stale:
        path = case_dir / name
        if path.exists():
            path.unlink()
            changes.append(f"removed {name}")
    for name, data in outcome.files().items():
        path = case_dir / name
        if not path.exists():
            write_atomic(path, data, mode=0o644)   # expected files are ordinary repository files
            changes.append(f"created {name}")
            continue
        if name == EXPECTED_ERROR and outcome.error is not None:
            same = not _error_differences(path, outcome.error)
        else:
            same = path.read_bytes() == data
        if not same:
            write_atomic(path, data, mode=0o644)   # expected files are ordinary repository files
            changes.append(f"rewrote {name}")
    return changes
