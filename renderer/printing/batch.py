"""``chohyo batch … --print-to ID``: the printer checked before the run, the run's files printed after it.

In: the renderer, the layout, the printer id, the run's input (the tenant is the run-level ``--request``'s, or
the first record's), the output directory and the operator's decisions. Out: `print_target` — the checked
`PrintTarget` (tenant file and the printer's own answer), or exit 2 / exit 1 before any record is planned;
`print_run` — the run's files printed exactly once (`renderer.printing.run`) under the run directory's lock,
a summary on stderr (files printed, sent now, and every file waiting for the operator with the reason).
"""

from __future__ import annotations

import json
from pathlib import Path

from renderer.api import Renderer
from renderer.batch.resume import RunDir, exclusive, private_umask
from renderer.cli.common import err
from renderer.errors import UsageError
from renderer.printing.run import Decisions, PrintReport, print_batch
from renderer.printing.target import PrintTarget, preflight, resolve


def run_tenant(input_path: Path, request: Path | None) -> str:
    """The tenant whose printer prints the run: the run-level request's, else the first record's."""
    try:
        if request is not None:
            code = json.loads(request.read_text(encoding="utf-8")).get("tenant")
        else:
            with input_path.open("rb") as fh:
                first = next((line for line in fh if line.strip()), b"{}")
            code = json.loads(first).get("tenant")
    except (OSError, ValueError, AttributeError):
        code = None
    if not isinstance(code, str):
        raise UsageError("--print-to: the tenant cannot be read from --request or the first record, so its printers "
                         "are unknown", field="--print-to")
    return code


def print_target(renderer: Renderer, layout: str, printer: str, input_path: Path, request: Path | None) -> PrintTarget:
    target = resolve(renderer.tenant(run_tenant(input_path, request)), printer, renderer.layout(layout),
                     field="--print-to")
    preflight(target, field="--print-to")
    return target


def print_run(renderer: Renderer, target: PrintTarget, out_dir: Path, decisions: Decisions, *,
              wait: float) -> PrintReport:
    with private_umask(), exclusive(RunDir(out_dir)):
        report = print_batch(out_dir, target, issue_log=renderer.issue_log, decisions=decisions,
                             say=lambda m: err.print(m, markup=False), wait_seconds=wait)
    err.print(f"printer {target.printer.id}: {len(report.printed)} file(s) printed ({len(report.sent)} sent now); "
              f"tray {target.purpose} = {target.tray.source}, {target.sides}, {target.paper}", markup=False)
    for name, why in report.needs_operator.items():
        err.print(f"needs the operator: {name}: {why}", markup=False)
    return report


__all__ = ["Decisions", "print_run", "print_target", "run_tenant"]
