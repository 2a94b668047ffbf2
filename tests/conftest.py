"""Shared pytest configuration: the golden-file update switch.

In: the command line. Out: the ``--update-golden`` option (store_true, read by tests/test_golden.py via the
``update_golden`` fixture). Under CI (``CI`` set to ``true`` or ``1``) asking for an update stops the whole
session at once: CI compares golden files, it never rewrites them.
"""

from __future__ import annotations

import os

import pytest

from renderer.golden import UPDATE_DEST, UPDATE_FLAG, is_ci


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        UPDATE_FLAG,
        action="store_true",
        default=False,
        dest=UPDATE_DEST,
        help="rewrite golden expected files that differ (local use only; refused when CI=true)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption(UPDATE_DEST) and is_ci():
        raise pytest.UsageError(
            f"{UPDATE_FLAG} is refused in CI (CI={os.environ.get('CI')!r}): CI never updates golden files. "
            f"Run the update locally, review the changed files and commit them."
        )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the session was started with the golden update switch."""
    return bool(request.config.getoption(UPDATE_DEST))
