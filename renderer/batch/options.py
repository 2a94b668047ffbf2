"""What a batch run is asked to do, checked before anything is created on disk.

In: `BatchOptions` (from ``chohyo batch`` or a caller of `renderer.batch.run_batch`) and the `Renderer`
(its layouts). Out: the run's input `Source` (JSONL, or CSV with a declared column mapping, each record wrapped
in the run-level request when there is one), or `UsageError` (exit 2) naming the option at fault; the
options' fingerprint (what a resumed run must share with the run it finishes); the run's `Caller`; and
`BatchSummary`, what a finished run reports (exit code 0, or 4 when some records were not printed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer import jsontext
from renderer.api import Renderer
from renderer.batch.source import CsvSource, Source, file_sha256, load_csv_mapping
from renderer.caller import Caller
from renderer.errors import UsageError


@dataclass(frozen=True)
class BatchOptions:
    layout: str
    input: Path
    out_dir: Path
    request: Path | None = None
    csv_map: Path | None = None
    workers: int = 2
    pages_per_file: int = 1000
    sort: str | None = None
    scheduler: str | Any | None = None   # "tcp://host:port", or a distributed Client/cluster (tests)
    resume: bool = False
    progress: bool = True
    #: the operator checked identity documents (``--identity-verified``): see `renderer.caller`
    identity_verified: bool = False
    #: the municipality mails the run itself (``--mailing``): see `renderer.caller`
    mailing: bool = False
    #: the printers the run prints on (``--print-to``, checked beforehand): every record's ``request.printer``
    #: is one of them, a record naming none is given its file's printer, and each file prints on one printer
    printers: tuple[str, ...] = ()

    def caller(self) -> Caller:
        return Caller.local("batch", identity_verified=self.identity_verified, mailing=self.mailing)

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the run it finishes (workers may differ)."""
        return {"layout": self.layout, "sort": self.sort, "pages_per_file": self.pages_per_file,
                "request": file_sha256(self.request) if self.request else None,
                "csv_map": file_sha256(self.csv_map) if self.csv_map else None}


@dataclass
class BatchSummary:
    run_id: str
    records: int
    rendered: int = 0
    refused: int = 0
    invalid: int = 0
    failed: int = 0
    files: int = 0
    pages: int = 0
    manifest: Path | None = None
    errors: Path | None = None
    resumed: bool = False

    @property
    def exit_code(self) -> int:
        return 4 if self.refused or self.invalid or self.failed else 0


def checked_source(renderer: Renderer, opts: BatchOptions, *, run_file: Path) -> Source:
    """Check the options (the layout and its sort key, the page limit, the input, that a run to resume
    exists at `run_file`, the run-level request and the CSV mapping) and open the input."""
    spec = renderer.layout(opts.layout)   # unknown layout: UsageError naming the known ones
    if opts.sort is not None and opts.sort not in spec.sort_keys:
        declared = ", ".join(sorted(spec.sort_keys)) or "none"
        raise UsageError(f"--sort {opts.sort!r} is not a sort key of {opts.layout} (declared: {declared})",
                         field="--sort")
    if opts.pages_per_file < 1:
        raise UsageError("--pages-per-file must be at least 1", field="--pages-per-file")
    if not opts.input.is_file():
        raise UsageError(f"cannot read {opts.input}: no such file", field="INPUT")
    if opts.resume and not run_file.exists():
        raise UsageError(f"there is no batch run to resume in {opts.out_dir}", field="--resume")
    request = run_request(opts)
    if opts.csv_map is None:
        return Source(opts.input, request=request, layout_id=opts.layout)
    if request is None:
        raise UsageError("CSV rows are data: --csv-map needs --request {tenant, request}", field="--request")
    return CsvSource(opts.input, load_csv_mapping(opts.csv_map), request=request, layout_id=opts.layout)


def run_request(opts: BatchOptions) -> dict[str, Any] | None:
    """The run-level ``--request`` {tenant, request} (its optional layout must be the run's), or None."""
    path = opts.request
    if path is None:
        return None
    try:
        value = jsontext.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.__class__.__name__})", field="--request") from None
    except jsontext.NotJson as exc:
        raise UsageError(f"{path} is not JSON ({exc.reason})", field="--request") from None
    if not isinstance(value, dict) or set(value) - {"tenant", "request", "layout"} or "data" in value:
        raise UsageError("--request must be a JSON object {tenant, request} (each input line is the data)",
                         field="--request")
    if value.get("layout", opts.layout) != opts.layout:
        raise UsageError(f"--request names layout {value['layout']!r}, not {opts.layout!r}",
                         field="--request.layout")
    return {k: v for k, v in value.items() if k != "layout"}


__all__ = ["BatchOptions", "BatchSummary", "checked_source", "run_request"]
