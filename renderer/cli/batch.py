"""`chohyo batch LAYOUT_ID INPUT.jsonl -o OUTDIR`: a print run (streaming, parallel, resumable).

Exit codes: 0 every record printed; 4 the run finished and some records were refused or invalid (see
``errors.json``); 2 bad usage (unknown layout or sort key, a LAYOUT_ID outside the layouts directory,
non-empty output directory, a resume with other options or another input, a --print-to printer that cannot
serve the layout); 1 an internal failure (the run stopped; ``--resume`` finishes it); with ``--print-to``, 4 also
when some file's job was aborted, canceled or is unknown (listed for the operator; `renderer.printing.run`).
Ctrl-C, SIGTERM or SIGHUP stop the run (its workers stopped and reaped first) with exit 128 + the signal's
number (130, 143, 129) and a message naming ``--resume``, which finishes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from renderer.batch import BatchOptions, run_batch
from renderer.batch.resume import RunDir
from renderer.cli.common import MAILING_HELP, Cli, command, err, interrupted, layout_argument
from renderer.errors import OutputError
from renderer.printing.batch import Decisions, print_run, print_targets
from renderer.stopping import interruptible, stopped_by


@command()
def batch(
    cli: Cli,
    layout_id: Annotated[str, typer.Argument(help="layout id, e.g. tsuchisho-kyufu-kettei (or its .yaml file in "
                                                  "the layouts directory; nothing outside it)")],
    input_path: Annotated[Path, typer.Argument(metavar="INPUT.jsonl",
                                               help="one envelope per line (or one data object per line "
                                                    "with --request); a CSV file with --csv-map")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output directory (empty, or the run to resume)")],
    request: Annotated[Path | None, typer.Option("--request", help="the run-level {tenant, request} when each "
                                                                   "line is a data object")] = None,
    csv_map: Annotated[Path | None, typer.Option("--csv-map", help="INPUT is CSV: YAML mapping of header → data "
                                                                   "path (and type); needs --request")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="worker processes drawing files")] = 2,
    pages_per_file: Annotated[int, typer.Option("--pages-per-file", min=1,
                                                help="at most this many pages per PDF file")] = 1000,
    sort: Annotated[str | None, typer.Option("--sort", help="a sort key the layout declares, e.g. postal_code")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address tcp://HOST:PORT "
                                                                     "(workers draw; this process plans)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="finish the run in OUTDIR after a crash")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress output")] = False,
    identity_verified: Annotated[bool, typer.Option(
        "--identity-verified", help="every record's requester had their identity documents checked: a `self` "
                                    "claim for a DV-protected person is honoured (recorded in the issue log)")] = False,
    mailing: Annotated[bool, typer.Option("--mailing", help=MAILING_HELP)] = False,
    print_to: Annotated[list[str] | None, typer.Option(
        "--print-to", metavar="PRINTER", help="then print every file exactly once on this declared IPP printer; "
                                              "repeat for several printers side by side (each record's 発行番号 "
                                              "names its file's printer)")] = None,
    resubmit_aborted: Annotated[bool, typer.Option(
        "--resubmit-aborted", help="--print-to: send again every file whose job was aborted or canceled")] = False,
    resubmit: Annotated[list[str] | None, typer.Option(
        "--resubmit", metavar="FILE", help="--print-to: FILE did not print (operator checked): send again")] = None,
    mark_printed: Annotated[list[str] | None, typer.Option(
        "--mark-printed", metavar="FILE", help="--print-to: FILE (state unknown) printed, checked")] = None,
    print_wait: Annotated[float, typer.Option(
        "--print-wait", min=1, help="--print-to: seconds to wait for a stopped printer (then exit 1)")] = 3600,
) -> int:
    """Print many records: PDF files of at most --pages-per-file pages, manifest.json and errors.json."""
    try:
        with interruptible():   # Ctrl-C, SIGTERM and SIGHUP stop the run: workers reaped, then the message
            layout = layout_argument(layout_id, cli.settings.layouts_dir)   # before anything is created on disk
            renderer = cli.renderer()
            # --print-to: the printer must serve the layout, and say so, before a record is planned (issue 17)
            printing = print_targets(renderer, layout, print_to, input_path, request) if print_to else None
            summary = run_batch(renderer, BatchOptions(
                layout=layout, input=input_path, out_dir=output, request=request, csv_map=csv_map, workers=workers,
                pages_per_file=pages_per_file, sort=sort, scheduler=scheduler, resume=resume, progress=not quiet,
                identity_verified=identity_verified, mailing=mailing, printers=tuple(print_to or ())))
            err.print(f"{'resumed and finished' if summary.resumed else 'finished'} run {summary.run_id}: "
                      f"{summary.records} record(s): {summary.rendered} rendered, {summary.refused} refused, "
                      f"{summary.invalid} invalid, {summary.failed} failed; {summary.files} file(s), "
                      f"{summary.pages} page(s); manifest {summary.manifest}", markup=False)
            if summary.errors is not None:
                err.print(f"some records were not printed: see {summary.errors}", markup=False)
            if printing is None:
                return summary.exit_code
            report = print_run(renderer, printing, output, Decisions(resubmit_aborted, frozenset(resubmit or ()),
                                                                     frozenset(mark_printed or ())), wait=print_wait)
            return max(summary.exit_code, report.exit_code)
    except OutputError as exc:   # a full output disk: the run stopped, its files so far are complete
        if not RunDir(output).run_file.exists():
            raise
        raise OutputError(f"{exc.message.removesuffix('; nothing was delivered')}; the run stopped: make room, then "
                          f"finish it with the same command and --resume") from None
    except KeyboardInterrupt as exc:
        signum = stopped_by(exc)
        if RunDir(output).run_file.exists():
            detail = (f"the run in {output} stopped (its workers were stopped); what was finished is kept — finish "
                      f"it with the same command and --resume: chohyo batch {layout_id} {input_path} -o {output} "
                      f"… --resume")
        else:
            detail = f"stopped before a run was created in {output}; nothing was planned: run the command again"
        interrupted(cli.as_json, detail, signum)

