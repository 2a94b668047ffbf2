"""renderer.gcpolicy: the collector paused while a block loads what the process keeps, then frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from renderer.gcpolicy import loading


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()   # give the objects frozen by a test back to the collector
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_paused_inside_and_what_was_loaded_is_frozen_after() -> None:
    gc.enable()
    before = gc.get_freeze_count()
    with loading():
        assert not gc.isenabled()
        kept = [[i] for i in range(1000)]   # long-lived containers, as a module's tables are
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept)


def test_a_failing_block_still_restores_the_collector() -> None:
    gc.enable()
    with pytest.raises(ValueError), loading():
        raise ValueError("import failed")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    with loading():
        pass
    assert not gc.isenabled()
