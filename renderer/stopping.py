"""Stopping a long command on Ctrl-C, SIGTERM or SIGHUP, at a point where stopping is safe.

In: the signals, while `interruptible` (the CLI's ``chohyo batch``) is active. Out: `Interrupted`, a
`KeyboardInterrupt` carrying the signal's number, raised in the main thread.

Python raises `KeyboardInterrupt` wherever the main thread happens to be — inside the process pool's own code too,
where a half-sent wake-up message or a future's lock left held can hang the pool's shutdown for ever (and with it
the exit, leaving the workers running). So while a caller polls (`safe_points`: the batch coordinator between
records and while it waits for its workers, every 0.2 s at most), the first signal only records a request and
`check` raises it there; a second signal raises at once (a run stuck in a database call can still be stopped);
further ones are ignored while the stop takes its course (SIGKILL still ends it). Where nobody polls, the first
signal raises at once, as Ctrl-C always did. Outside the main thread nothing is installed (Python delivers
signals to the main thread only).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: the signals that stop a command as Ctrl-C does: Ctrl-C, a service manager's stop, a closed terminal
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP (`signum`), raised in the main thread."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _State:
    def __init__(self) -> None:
        self.active = False          # inside `interruptible`
        self.polling = 0             # inside `safe_points` (nested)
        self.requested: int | None = None
        self.signals = 0


_state = _State()


def _on_signal(signum: int, _frame: object) -> None:
    _state.signals += 1
    if _state.signals == 1 and _state.polling:
        _state.requested = signum    # raised by `check` at the next safe point
        return
    if _state.signals <= 2:
        _state.requested = None
        raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """While the block runs, Ctrl-C, SIGTERM and SIGHUP raise `Interrupted` (at the next safe point while one is
    polled), so ``finally`` blocks run: a batch run stops and reaps its workers (`renderer.batch.run`)."""
    if threading.current_thread() is not threading.main_thread() or _state.active:
        yield
        return
    previous = {signum: signal.signal(signum, _on_signal) for signum in STOP_SIGNALS}
    _state.active, _state.requested, _state.signals = True, None, 0
    try:
        yield
    finally:
        _state.active, _state.requested = False, None
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def safe_points() -> Iterator[None]:
    """The block calls `check` often (at least every fraction of a second): the first signal waits for it. A failure
    leaving the block while a stop is requested is reported as the stop: a SIGTERM to the whole process group (a
    service manager's stop) ends the workers too, and the pool then breaks before the coordinator's next check."""
    _state.polling += 1
    try:
        yield
    except Exception:
        check()
        raise
    finally:
        _state.polling -= 1
    check()   # a stop requested at the very end of the block is not lost


def check() -> None:
    """Raise the stop a signal requested (`Interrupted`), if any: call it where stopping is safe."""
    if _state.requested is not None:
        signum, _state.requested = _state.requested, None
        raise Interrupted(signum)


def stopped_by(exc: KeyboardInterrupt) -> signal.Signals:
    """The signal behind an interruption: that of `Interrupted`, else Ctrl-C's SIGINT."""
    return signal.Signals(exc.signum) if isinstance(exc, Interrupted) else signal.SIGINT
