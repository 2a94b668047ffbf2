"""``chohyo batch … --print-to ID [--print-to ID2 …]``: the printers checked before the run, the run's files
printed after it.

In: the renderer, the layout, the printer ids, the run's input (the tenant is the run-level ``--request``'s, or
the first record's), the output directory and the operator's decisions. Out: `print_targets` — the checked
`PrintTarget` of each printer (tenant file and the printer's own answer), or exit 2 / exit 1 before any record
is planned; `print_run` — the run's files printed exactly once (`renderer.printing.run`: each file on the
printer its 発行番号 name, the printers side by side) under the run directory's lock, a summary per printer on
stderr (files printed, sent now, and every file waiting for the operator with the reason).
"""

from __future__ import annotations

from pathlib import Path

from renderer import jsontext
from renderer.api import Renderer
from renderer.batch.resume import RunDir, exclusive, private_umask
from renderer.cli.common import err
from renderer.errors import UsageError
from renderer.printing.journal import JOURNAL_FILE, PrintJournal
from renderer.printing.run import Decisions, PrintReport, manifest_files, print_batch
from renderer.printing.target import PrintTarget, preflight, resolve


def run_tenant(input_path: Path, request: Path | None) -> str:
    """The tenant whose printer prints the run: the run-level request's, else the first record's."""
    try:
        if request is not None:
            code = jsontext.loads(request.read_bytes()).get("tenant")
        else:
            with input_path.open("rb") as fh:
                first = next((line for line in fh if line.strip()), b"{}")
            code = jsontext.loads(first).get("tenant")
    except (OSError, ValueError, AttributeError):
        code = None
    if not isinstance(code, str):
        raise UsageError("--print-to: the tenant cannot be read from --request or the first record, so its printers "
                         "are unknown", field="--print-to")
    return code


def print_targets(renderer: Renderer, layout: str, printers: list[str], input_path: Path,
                  request: Path | None) -> list[PrintTarget]:
    if len(set(printers)) != len(printers):
        raise UsageError("--print-to: a printer is named twice", field="--print-to")
    tenant = renderer.tenant(run_tenant(input_path, request))
    spec = renderer.layout(layout)
    targets = [resolve(tenant, p, spec, field="--print-to") for p in printers]
    for t in targets:
        preflight(t, field="--print-to")
    return targets


def print_run(renderer: Renderer, targets: list[PrintTarget], out_dir: Path, decisions: Decisions, *,
              wait: float) -> PrintReport:
    with private_umask(), exclusive(RunDir(out_dir)):
        report = print_batch(out_dir, targets, issue_log=renderer.issue_log, decisions=decisions,
                             say=lambda m: err.print(m, markup=False), wait_seconds=wait)
        _, files = manifest_files(out_dir)
        journal = PrintJournal(out_dir / ".chohyo-batch" / JOURNAL_FILE)
    printed = set(report.printed)
    sent = set(report.sent)
    for t in targets:
        mine = [f.name for f in files if journal.state(f.name).printer == t.printer.id]
        err.print(f"printer {t.printer.id}: {sum(1 for n in mine if n in printed)} file(s) printed "
                  f"({sum(1 for n in mine if n in sent)} sent now); tray {t.purpose} = {t.tray.source}, {t.sides}, "
                  f"{t.paper}", markup=False)
    for name, why in report.needs_operator.items():
        err.print(f"needs the operator: {name}: {why}", markup=False)
    return report


__all__ = ["Decisions", "print_run", "print_targets", "run_tenant"]
