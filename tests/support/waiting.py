"""Waiting on a condition with a deadline: the tests' only way to wait for the session thread."""

from __future__ import annotations

import time
from collections.abc import Callable

_FIRST_POLL = 0.001
_POLL = 0.02


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    # Most conditions hold within a few milliseconds (a thread starting, a reply landing):
    # look again soon at first, then every 20 ms, rather than always sleep out 20 ms.
    pause = _FIRST_POLL
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(pause)
        pause = min(pause * 2, _POLL)
