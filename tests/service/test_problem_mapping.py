"""How a worker's failure becomes the HTTP answer (renderer/service/problems.py `from_job_error`).

In: `JobError`s made from the renderer's own exceptions. Out: assertions on status, type and headers — in
particular that a database at the wrong schema revision is the server's problem (503, retry elsewhere), never
the caller's (422).
"""

from __future__ import annotations

from renderer.errors import UsageError
from renderer.service.problems import Scrubber, from_job_error
from renderer.service.work import JobError
from renderer.state.migrations import SchemaError

scrub = Scrubber()


def test_a_database_at_the_wrong_revision_is_a_503_not_the_callers_fault() -> None:
    err = JobError.of(SchemaError("the database is at revision 0001_initial; this release needs 0002"))
    problem = from_job_error(err, scrub)
    assert problem.status == 503
    assert problem.headers == {"Retry-After": "30"}
    assert problem.detail is not None and "0001" not in problem.detail    # no database internals in the answer


def test_an_invalid_input_is_still_a_422() -> None:
    problem = from_job_error(JobError.of(UsageError("bad", field="data.x")), scrub)
    assert problem.status == 422
