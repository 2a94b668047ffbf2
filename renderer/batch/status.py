"""The statuses of a batch run's records and files, as the journal stores them and the manifest reports them.

In: nothing (definitions), or a stored status string / a worker's problem type. Out: `RecordStatus` and
`FileStatus` — `StrEnum`s whose values are the strings in the database (``batch_records.status``,
``batch_files.status``) and in ``manifest.json`` / ``errors.json``; those strings never change.

A record is written ``planned`` (its serials reserved) or failed (``refused``, ``invalid``, ``failed``)
when its chunk is committed, and becomes ``rendered`` when its file is complete — or failed, if drawing it
failed or, on ``--resume``, the rules now refuse it. A file is ``planned`` until it is drawn, renamed into
place and logged: then ``complete``.
"""

from __future__ import annotations

from enum import StrEnum


class RecordStatus(StrEnum):
    PLANNED = "planned"     # serials reserved, its file not complete yet
    RENDERED = "rendered"   # printed in a complete file
    REFUSED = "refused"     # refused by a rule of the standard (exit 3 for a single render)
    INVALID = "invalid"     # its input, or the layout or tenant it names, is invalid (exit 2)
    FAILED = "failed"       # anything else (an internal failure); the run went on

    @property
    def finished(self) -> bool:
        """Nothing more happens to the record in this run."""
        return self is not RecordStatus.PLANNED

    @property
    def failed(self) -> bool:
        """The record is in errors.json (and makes the run exit 4)."""
        return self in FAILURES

    @classmethod
    def of_problem(cls, problem: str) -> RecordStatus:
        """The status of a record whose drawing failed with this problem type (`renderer.errors`)."""
        if problem.startswith("invalid") or problem in {"glyph-not-covered", "text-overflow"}:
            return cls.INVALID
        return cls.REFUSED if problem == "refused" else cls.FAILED


#: the statuses of a finished record, in the order the manifest's totals list them
REPORTED: tuple[RecordStatus, ...] = (RecordStatus.RENDERED, RecordStatus.REFUSED, RecordStatus.INVALID,
                                      RecordStatus.FAILED)
FAILURES = frozenset({RecordStatus.REFUSED, RecordStatus.INVALID, RecordStatus.FAILED})


class FileStatus(StrEnum):
    PLANNED = "planned"     # its records' serials are reserved; not drawn (or not logged) yet
    COMPLETE = "complete"   # drawn, renamed into place and logged; only complete files enter the manifest


__all__ = ["FAILURES", "REPORTED", "FileStatus", "RecordStatus"]
