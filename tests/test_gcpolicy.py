"""renderer.gcpolicy: the collector paused while a block loads what the process keeps, then frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from renderer.gcpolicy import fewer_collections, loading


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


def test_fewer_collections_raises_the_youngest_threshold_inside_and_restores_it() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with fewer_collections(20_000):
            assert gc.get_threshold() == (20_000, 10, 10)
        assert gc.get_threshold() == (700, 10, 10)
        with pytest.raises(RuntimeError), fewer_collections(20_000):
            raise RuntimeError("a failed batch")
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(50_000, 5, 5)   # a caller who asked for rarer collections keeps them
        with fewer_collections(20_000):
            assert gc.get_threshold() == (50_000, 5, 5)
    finally:
        gc.set_threshold(*before)


def test_fewer_collections_still_collects_cycles() -> None:
    collected: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.append(info["collected"])

    gc.enable()
    gc.callbacks.append(seen)
    try:
        with fewer_collections(1_000):
            for _ in range(50):   # 100,000 self-referencing lists: far past the raised threshold
                chunk: list[list[object]] = [[] for _ in range(2_000)]
                for item in chunk:
                    item.append(item)
                del chunk
    finally:
        gc.callbacks.remove(seen)
    assert sum(collected) >= 50_000   # unreachable cycles were collected while the block ran
