"""A finished batch run's reports: ``manifest.json`` (every file and every record) and ``errors.json``.

In: the run's `Journal` (read in pages, printing order), its `BatchSummary`, options, id and input index.
Out: both files, streamed to temp names in the state directory, fsynced and renamed into the output
directory — ``errors.json`` only when some record failed (else any old one is removed) — and the summary's
counts, files and pages filled in. A record still ``planned`` after the run, or a journal that does not
account for every record, raises `ChohyoError` before anything is renamed (``--resume`` finishes the run).
Entries hold line numbers, positions, statuses, rule names, field paths and 発行番号: never resident data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from renderer.batch.journal import FileRow, Journal, RecordRow
from renderer.batch.options import BatchOptions, BatchSummary
from renderer.batch.status import REPORTED, FileStatus, RecordStatus
from renderer.errors import ChohyoError
from renderer.files import cannot_write

MANIFEST = "manifest.json"
ERRORS = "errors.json"


@dataclass
class _Tally:
    counts: dict[RecordStatus, int] = field(default_factory=lambda: dict.fromkeys(REPORTED, 0))
    first_last: dict[str, list[int]] = field(default_factory=dict)   # file → [first line, last line]
    printers: dict[str, set[str]] = field(default_factory=dict)      # file → printers its 発行番号 name


def write_reports(journal: Journal, summary: BatchSummary, opts: BatchOptions, *, run_id: str, input_sha256: str,
                  state_dir: Path) -> None:
    """manifest.json (every file and every record) and errors.json (failed records), streamed."""
    s = summary
    files = [f for f in journal.files(FileStatus.COMPLETE) if f.pages]
    s.files, s.pages = len(files), sum(f.pages or 0 for f in files)
    manifest_tmp = state_dir / (MANIFEST + ".part")
    errors_tmp = state_dir / (ERRORS + ".part")
    try:
        counts = _write_parts(journal, s, opts, manifest_tmp, errors_tmp, run_id=run_id, input_sha256=input_sha256,
                              files=files)
    except OSError as exc:   # a full disk: the run's files are complete, only its reports are missing
        raise cannot_write(opts.out_dir / MANIFEST, exc, "no manifest was written (run again with --resume)") from None
    if sum(counts.values()) != s.records:
        raise ChohyoError(f"the journal accounts for {sum(counts.values())} of {s.records} records; "
                          f"no manifest was written (run again with --resume)")
    try:
        _publish(s, manifest_tmp, errors_tmp, opts.out_dir)
    except OSError as exc:
        raise cannot_write(opts.out_dir / MANIFEST, exc, "no manifest was written (run again with --resume)") from None


def _write_parts(journal: Journal, s: BatchSummary, opts: BatchOptions, manifest_tmp: Path, errors_tmp: Path, *,
                 run_id: str, input_sha256: str, files: list[FileRow]) -> dict[RecordStatus, int]:
    with manifest_tmp.open("w", encoding="utf-8") as mf, errors_tmp.open("w", encoding="utf-8") as ef:
        mf.write('{\n"records": [\n')
        ef.write('{\n"errors": [\n')
        tally = _stream_records(journal, mf, ef)
        counts = tally.counts
        s.rendered, s.refused, s.invalid, s.failed = (counts[k] for k in REPORTED)
        totals = {"records": s.records, **{k.value: n for k, n in counts.items()}, "files": s.files,
                  "pages": s.pages}
        head = {"run_id": run_id, "layout": opts.layout,
                "input": {"name": opts.input.name, "sha256": input_sha256},
                "options": opts.fingerprint(), "files": _file_entries(files, tally, opts.pages_per_file),
                "totals": totals}
        mf.write("\n],\n" + json.dumps(head, ensure_ascii=False, indent=1)[1:] + "\n")
        ef.write("\n],\n" + json.dumps({"totals": totals}, ensure_ascii=False)[1:] + "\n")
        for fh in (mf, ef):
            fh.flush()
            os.fsync(fh.fileno())
    return counts


def _stream_records(journal: Journal, mf: IO[str], ef: IO[str]) -> _Tally:
    """Every record into the manifest, every failed one into errors.json, counting as it goes."""
    tally = _Tally()
    first_rec, first_err = True, True
    for r in journal.records():
        entry = manifest_entry(r)
        if r.status not in tally.counts:
            raise ChohyoError(f"record {r.line} is still {r.status.value} after the run; nothing was reported")
        tally.counts[r.status] += 1
        mf.write(("" if first_rec else ",\n") + json.dumps(entry, ensure_ascii=False))
        first_rec = False
        if r.status is RecordStatus.RENDERED and r.file:
            tally.first_last.setdefault(r.file, [r.line, r.line])[1] = r.line
            if r.printer:
                tally.printers.setdefault(r.file, set()).add(r.printer)
        else:
            err = {**entry, "message": r.message}
            ef.write(("" if first_err else ",\n") + json.dumps(err, ensure_ascii=False))
            first_err = False
    return tally


def _file_entries(files: list[FileRow], tally: _Tally, pages_per_file: int) -> list[dict[str, Any]]:
    return [{"name": f.name, "sha256": f.sha256, "pages": f.pages,
             "first_record": tally.first_last.get(f.name, [None, None])[0],
             "last_record": tally.first_last.get(f.name, [None, None])[1],
             # the printers its records' 発行番号 name (one for a run with --print-to): where it may print
             "printers": sorted(tally.printers.get(f.name, ())),
             # one record longer than --pages-per-file gets a file of its own (never split)
             **({"over_page_limit": True} if (f.pages or 0) > pages_per_file else {})}
            for f in files]


def _publish(s: BatchSummary, manifest_tmp: Path, errors_tmp: Path, out_dir: Path) -> None:
    manifest_tmp.replace(out_dir / MANIFEST)
    errors_path = out_dir / ERRORS
    if s.exit_code:
        errors_tmp.replace(errors_path)
        s.errors = errors_path
    else:
        errors_tmp.unlink()
        errors_path.unlink(missing_ok=True)
    s.manifest = out_dir / MANIFEST


def manifest_entry(r: RecordRow) -> dict[str, Any]:
    if r.status is RecordStatus.RENDERED:
        return {"record": r.line, "position": r.position, "status": r.status.value, "file": r.file,
                "first_page": r.first_page, "pages": r.pages, "issue_numbers": list(r.issue_numbers)}
    entry: dict[str, Any] = {"record": r.line, "position": r.position, "status": r.status.value,
                             "problem": r.problem, "rule": r.rule, "field": r.field}
    if r.issue_numbers:   # serials reserved before the record failed in drawing: spent, never printed
        entry["unused_issue_numbers"] = list(r.issue_numbers)
    return entry


__all__ = ["ERRORS", "MANIFEST", "manifest_entry", "write_reports"]
