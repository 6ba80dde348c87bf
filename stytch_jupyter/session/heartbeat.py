"""The heartbeat: a task on the session loop that checks the session in the background.

Next check at min(``heartbeat_interval``, time to ``expires_at``); after a recoverable error
(network, 5xx, 429) it backs off exponentially with jitter, honouring ``Retry-After``.
A session is only cleared for the unrecoverable error types, or locally once it has expired.

The heartbeat knows nothing of the manager (as an httpx transport knows nothing of its client):
it reads ``Conditions`` through a callable, runs the ``beat`` it is given, and publishes its
state through ``publish``. When to check is one pure function, ``plan_next_check``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..api.errors import StytchAPIError, StytchError
from ..api.limits import MAX_RETRY_AFTER_SECONDS
from .runner import SessionRunner
from .states import HeartbeatState, Status

logger = logging.getLogger("stytch_jupyter")

MAX_CHECK_GAP_SECONDS = float(MAX_RETRY_AFTER_SECONDS)  # 15 minutes
FIRST_RETRY_SECONDS = 1.0
EXTEND_MARGIN_SECONDS = 30.0

Publish = Callable[[HeartbeatState, datetime | None], None]


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
    base = min(interval, FIRST_RETRY_SECONDS * 2.0 ** max(failures - 1, 0))
    delay = base / 2 + rand() * base / 2
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True)
class Conditions:
    """What the schedule depends on, read afresh before every plan."""

    status: Status
    interval: float  # heartbeat_interval, seconds
    auto_extend: bool
    expires_in: float | None  # seconds left in the session by the server's clock, if known


@dataclass(frozen=True)
class Plan:
    """When to check next: ``delay`` seconds from now (0: now; None: nothing to check)."""

    delay: float | None
    state: HeartbeatState


def plan_next_check(
    conditions: Conditions,
    failures: int = 0,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> Plan:
    """The heartbeat's schedule, as a pure function of its inputs."""
    if conditions.status == "signed_out":
        return Plan(None, "idle")
    if failures:
        delay = backoff_delay(failures, conditions.interval, retry_after, rand)
    elif conditions.status == "unconfirmed":
        return Plan(0.0, "checking")  # tokens nobody has confirmed yet: check them at once
    else:
        delay = conditions.interval
    expires_in = conditions.expires_in
    if expires_in is not None:
        if conditions.auto_extend and conditions.status == "signed_in":
            # Extend before the end, not at it: a check at expires_at finds it expired.
            expires_in -= min(EXTEND_MARGIN_SECONDS, expires_in / 2)
        delay = min(delay, max(expires_in, 0.0))
    # However long the interval (or a server's Retry-After), a revocation is seen within this.
    delay = min(delay, MAX_CHECK_GAP_SECONDS)
    if delay <= 0:
        return Plan(0.0, "checking")
    return Plan(delay, "retrying" if failures else "scheduled")


class Heartbeat:
    """Runs ``beat`` on the schedule; every method but the properties runs on the loop thread.

    ``beat`` is one check of the session; it raises ``StytchError`` for a failed check (and
    has cleared the session itself when the error is unrecoverable). ``note_error`` hears of
    every recoverable failure; ``publish`` of every state change.
    """

    def __init__(
        self,
        *,
        conditions: Callable[[], Conditions],
        beat: Callable[[], Awaitable[None]],
        publish: Publish,
        note_error: Callable[[BaseException], None],
    ) -> None:
        self._conditions = conditions
        self._beat = beat
        self._publish = publish
        self._note_error = note_error
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._failures = 0
        self._retry_after: float | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def failures(self) -> int:
        """Recoverable failures in a row since the last good check (0 after any success)."""
        return self._failures

    @property
    def retry_after(self) -> float | None:
        """The last failure's ``Retry-After``, honoured by the next retry."""
        return self._retry_after

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
        self._publish("stopped", None)

    async def stop_and_wait(self) -> None:
        """``stop``, returning once the task has really ended (not just been asked to)."""
        task = self._task
        self.stop()
        if task is not None and task is not asyncio.current_task():
            await asyncio.gather(task, return_exceptions=True)

    def wake(self) -> None:
        """Recompute the schedule now (state changed, interval changed, or "beat now")."""
        if self._wake is not None:
            self._wake.set()

    def reset_failures(self) -> None:
        self._failures = 0
        self._retry_after = None

    def plan(self) -> Plan:
        return plan_next_check(self._conditions(), self._failures, self._retry_after)

    def next_delay(self) -> float | None:
        """Seconds until the next check, 0 for now, None for "nothing to check"."""
        return self.plan().delay

    def publish_schedule(self) -> float | None:
        """Compute the next check and publish it; returns its delay (as ``next_delay``)."""
        plan = self.plan()
        if plan.delay is None:
            self._publish(plan.state, None)
        elif plan.delay > 0:
            self._publish(plan.state, datetime.now(timezone.utc) + timedelta(seconds=plan.delay))
        return plan.delay

    async def _run(self) -> None:
        assert self._wake is not None
        # Not ``while True``: a stop() that lands just as a wake() does can be swallowed by
        # wait_for (Python 3.11), and a stopped heartbeat must not publish a plan after "stopped".
        while self._task is asyncio.current_task():
            delay = self.publish_schedule()
            if delay is None or delay > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                    continue  # woken: the schedule may have changed
                except asyncio.TimeoutError:
                    pass
            await self.check()

    async def beat_now(self) -> None:
        """One check, outside the schedule (``%stytch heartbeat now``)."""
        await self.check()
        if self.running:
            self.publish_schedule()  # so a caller reading the state right after sees the plan
            self.wake()
        else:
            self._publish("stopped", None)

    async def check(self) -> None:
        """One check of the session (nothing while signed out); failures are counted, not raised."""
        if self._conditions().status == "signed_out":
            return
        self._publish("checking", None)
        try:
            await self._beat()
        except StytchAPIError as exc:
            if exc.unrecoverable:
                self.reset_failures()  # the beat has cleared the session
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
        self._note_error(exc)
        logger.info("stytch heartbeat: %s (attempt %d; session kept)", exc, self._failures)


class HeartbeatControl:
    """``manager.heartbeat.start()/stop()/now()``, from any thread but the session's."""

    def __init__(
        self,
        heartbeat: Heartbeat,
        runner: SessionRunner,
        state: Callable[[], HeartbeatState],
    ) -> None:
        self._heartbeat = heartbeat
        self._runner = runner
        self._state = state

    @property
    def running(self) -> bool:
        return self._heartbeat.running

    @property
    def state(self) -> HeartbeatState:
        return self._state()

    @property
    def failures(self) -> int:
        """Recoverable failures in a row (the backoff's count)."""
        return self._heartbeat.failures

    def next_delay(self) -> float | None:
        """Seconds until the next check as planned now (0: now; None: nothing to check)."""
        return self._heartbeat.next_delay()

    def start(self) -> None:
        async def start() -> None:
            self._heartbeat.start()

        self._runner.run(start())

    def stop(self) -> None:
        self._runner.run(self._heartbeat.stop_and_wait())

    def now(self) -> None:
        """Check the session now and wait for the answer (errors are kept, not raised)."""
        self._runner.run(self._heartbeat.beat_now())
