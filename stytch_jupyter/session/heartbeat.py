"""The heartbeat: a task on the session loop that checks the session in the background.

Next check at min(``heartbeat_interval``, time to ``expires_at``); after a recoverable error
(network, 5xx, 429) it backs off exponentially with jitter, honouring ``Retry-After``.
A session is only cleared for the unrecoverable error types, or locally once it has expired.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..api.errors import StytchAPIError, StytchError

if TYPE_CHECKING:
    from .manager import SessionManager

logger = logging.getLogger("stytch_jupyter")

FIRST_RETRY_SECONDS = 1.0
EXTEND_MARGIN_SECONDS = 30.0


def backoff_delay(
    failures: int,
    interval: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after ``failures`` consecutive recoverable errors.

    Doubles from one second up to ``interval``, with "equal jitter" (half fixed, half random)
    so that many kernels that lost the network together do not retry in lockstep.
    """
    base = min(interval, FIRST_RETRY_SECONDS * 2 ** max(failures - 1, 0))
    delay = base / 2 + rand() * base / 2
    return max(delay, retry_after or 0.0)


class Heartbeat:
    """Schedules the manager's checks; its state is published on the manager's traits."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._failures = 0
        self._retry_after: float | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def failures(self) -> int:
        return self._failures

    # Called on the loop thread.
    def start(self) -> None:
        if self.running:
            return
        self._wake = asyncio.Event()
        self.publish_schedule()  # so whoever started it sees the plan at once
        self._task = asyncio.get_running_loop().create_task(self._run(), name="stytch-heartbeat")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task = None
        self._manager._set_heartbeat_state("stopped", None)

    def wake(self) -> None:
        """Recompute the schedule now (state changed, interval changed, or "beat now")."""
        if self._wake is not None:
            self._wake.set()

    def reset_failures(self) -> None:
        self._failures = 0
        self._retry_after = None

    def next_delay(self) -> float | None:
        """Seconds until the next check, 0 for now, None for "nothing to check"."""
        manager = self._manager
        if manager.status == "signed_out":
            return None
        if self._failures:
            delay = backoff_delay(
                self._failures, manager.config.heartbeat_interval, self._retry_after
            )
        elif manager.status == "unconfirmed":
            return 0.0
        else:
            delay = manager.config.heartbeat_interval
        expires_in = manager._expires_in()
        if expires_in is not None:
            if manager.config.auto_extend and manager.status == "signed_in":
                # Extend before the end, not at it: a check at expires_at finds it expired.
                expires_in -= min(EXTEND_MARGIN_SECONDS, expires_in / 2)
            delay = min(delay, max(expires_in, 0.0))
        return delay

    def publish_schedule(self) -> float | None:
        """Compute the next check and show it on the manager's traits."""
        delay = self.next_delay()
        if delay is None:
            self._manager._set_heartbeat_state("idle", None)
        elif delay > 0:
            at = datetime.now(timezone.utc) + timedelta(seconds=delay)
            state = "retrying" if self._failures else "scheduled"
            self._manager._set_heartbeat_state(state, at)
        return delay

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            delay = self.publish_schedule()
            if delay is None or delay > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                    continue  # woken: the schedule may have changed
                except asyncio.TimeoutError:
                    pass
            await self._check()

    async def beat(self) -> None:
        """One check, outside the schedule (``%stytch heartbeat now``)."""
        await self._check()
        if self.running:
            self.publish_schedule()  # so a caller reading the state right after sees the plan
            self.wake()
        else:
            self._manager._set_heartbeat_state("stopped", None)

    async def _check(self) -> None:
        manager = self._manager
        if manager.status == "signed_out":
            return
        manager._set_heartbeat_state("checking", None)
        try:
            await manager._beat()
        except StytchAPIError as exc:
            if exc.unrecoverable:
                self.reset_failures()  # the manager has cleared the session
            else:
                self._note_failure(exc, exc.retry_after)
        except StytchError as exc:
            self._note_failure(exc, None)
        except Exception as exc:  # a bug must not kill the heartbeat for good
            logger.exception("stytch heartbeat check failed unexpectedly")
            self._note_failure(exc, None)
        else:
            self.reset_failures()

    def _note_failure(self, exc: BaseException, retry_after: float | None) -> None:
        self._failures += 1
        self._retry_after = retry_after
        self._manager._note_error(exc)
        logger.info("stytch heartbeat: %s (attempt %d; session kept)", exc, self._failures)
