"""The heartbeat on its own: its pure schedule and its states, with no server and no manager.

The heartbeat takes its inputs as callables (``Conditions``, a ``beat``, ``publish``), so these
tests hand it plain functions and a beat that answers as Stytch would (or raises Stytch's
errors) and read what it publishes. Everything runs on one ``asyncio.run`` loop: no threads,
no sleeps, no clocks to race.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from stytch_jupyter.api.errors import (
    UNRECOVERABLE_ERROR_TYPES,
    StytchAPIError,
    StytchNetworkError,
    StytchTimeoutError,
)
from stytch_jupyter.session.heartbeat import (
    EXTEND_MARGIN_SECONDS,
    FIRST_RETRY_SECONDS,
    MAX_CHECK_GAP_SECONDS,
    Conditions,
    Heartbeat,
    HeartbeatControl,
    Plan,
    backoff_delay,
    plan_next_check,
)
from stytch_jupyter.session.states import HeartbeatState

SIGNED_IN = Conditions(status="signed_in", interval=180.0, auto_extend=False, expires_in=None)
HALF = 0.5  # rand() for the middle of the jitter range


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


# ---- backoff_delay ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (8, 128.0), (9, 180.0), (50, 180.0)],
)
def test_backoff_doubles_from_one_second_up_to_the_interval(failures, expected) -> None:
    assert backoff_delay(failures, 180.0, rand=fixed(1.0)) == expected


def test_backoff_jitter_is_half_fixed_half_random() -> None:
    assert backoff_delay(3, 180.0, rand=fixed(0.0)) == 2.0
    assert backoff_delay(3, 180.0, rand=fixed(HALF)) == 3.0
    assert backoff_delay(3, 180.0, rand=fixed(1.0)) == 4.0


def test_backoff_honours_retry_after_only_when_it_is_longer() -> None:
    assert backoff_delay(1, 180.0, retry_after=30.0, rand=fixed(1.0)) == 30.0
    assert backoff_delay(4, 180.0, retry_after=3.0, rand=fixed(1.0)) == 8.0
    assert backoff_delay(4, 180.0, retry_after=8.0, rand=fixed(1.0)) == 8.0
    assert backoff_delay(1, 180.0, retry_after=0.0, rand=fixed(0.0)) == 0.5
    # Retry-After beyond the interval still wins: the server asked for it.
    assert backoff_delay(1, 10.0, retry_after=60.0, rand=fixed(1.0)) == 60.0


def test_backoff_with_a_short_interval_never_waits_longer_than_it() -> None:
    assert backoff_delay(5, 0.2, rand=fixed(1.0)) == 0.2
    assert FIRST_RETRY_SECONDS == 1.0


# ---- plan_next_check: the schedule as a pure function --------------------------------------------


def conditions(**changes: object) -> Conditions:
    return dataclasses.replace(SIGNED_IN, **changes)  # type: ignore[arg-type]


def test_signed_out_plans_nothing_whatever_the_failures() -> None:
    assert plan_next_check(conditions(status="signed_out")) == Plan(None, "idle")
    assert plan_next_check(conditions(status="signed_out"), failures=3) == Plan(None, "idle")


def test_unconfirmed_tokens_are_checked_at_once() -> None:
    assert plan_next_check(conditions(status="unconfirmed")) == Plan(0.0, "checking")
    assert plan_next_check(conditions(status="unconfirmed", expires_in=None)).delay == 0.0


def test_unconfirmed_after_a_failure_backs_off_and_says_retrying() -> None:
    plan = plan_next_check(conditions(status="unconfirmed"), failures=2, rand=fixed(1.0))
    assert plan == Plan(2.0, "retrying")


def test_signed_in_checks_at_the_interval() -> None:
    assert plan_next_check(SIGNED_IN) == Plan(180.0, "scheduled")
    assert plan_next_check(conditions(interval=0.2)) == Plan(0.2, "scheduled")


def test_the_expiry_comes_first_when_it_is_sooner() -> None:
    assert plan_next_check(conditions(expires_in=100.0)) == Plan(100.0, "scheduled")
    assert plan_next_check(conditions(expires_in=180.0)) == Plan(180.0, "scheduled")
    assert plan_next_check(conditions(expires_in=181.0)) == Plan(180.0, "scheduled")


def test_an_expired_or_expiring_session_is_checked_now() -> None:
    assert plan_next_check(conditions(expires_in=0.0)) == Plan(0.0, "checking")
    assert plan_next_check(conditions(expires_in=-5.0)) == Plan(0.0, "checking")


def test_auto_extend_checks_a_margin_before_the_end() -> None:
    extend = conditions(auto_extend=True)
    assert plan_next_check(dataclasses.replace(extend, expires_in=100.0)).delay == 70.0
    # Within twice the margin it extends halfway to the end, never at it.
    assert plan_next_check(dataclasses.replace(extend, expires_in=40.0)).delay == 20.0
    assert plan_next_check(dataclasses.replace(extend, expires_in=60.0)).delay == 30.0
    assert plan_next_check(dataclasses.replace(extend, expires_in=0.0)) == Plan(0.0, "checking")
    assert EXTEND_MARGIN_SECONDS == 30.0


def test_auto_extend_takes_no_margin_for_unconfirmed_tokens() -> None:
    plan = plan_next_check(
        conditions(status="unconfirmed", auto_extend=True, expires_in=100.0),
        failures=8,
        rand=fixed(1.0),
    )
    assert plan == Plan(100.0, "retrying")


def test_a_retry_is_capped_by_the_expiry_but_keeps_saying_retrying() -> None:
    plan = plan_next_check(conditions(expires_in=5.0), failures=6, rand=fixed(1.0))
    assert plan == Plan(5.0, "retrying")
    plan = plan_next_check(conditions(expires_in=5.0), failures=6, retry_after=60.0)
    assert plan == Plan(5.0, "retrying")


def test_retry_after_sets_the_retry() -> None:
    plan = plan_next_check(SIGNED_IN, failures=1, retry_after=42.0, rand=fixed(1.0))
    assert plan == Plan(42.0, "retrying")


def test_a_success_after_failures_plans_the_interval_again() -> None:
    assert plan_next_check(SIGNED_IN, failures=0, retry_after=42.0) == Plan(180.0, "scheduled")


# ---- the Heartbeat: states, failures, Retry-After ---------------------------------------------


class Session:
    """What the heartbeat sees of a session: plain state the test changes, and a scripted beat."""

    def __init__(self, status: str = "signed_in", interval: float = 180.0) -> None:
        self.conditions = conditions(status=status, interval=interval)
        self.answers: list[BaseException | None] = []  # what the next beats do (None: succeed)
        self.beats = 0
        self.published: list[tuple[HeartbeatState, datetime | None]] = []
        self.errors: list[BaseException] = []
        self.beaten = asyncio.Event()
        self.heartbeat = Heartbeat(
            conditions=lambda: self.conditions,
            beat=self.beat,
            publish=lambda state, at: self.published.append((state, at)),
            note_error=self.errors.append,
        )

    async def beat(self) -> None:
        self.beats += 1
        self.beaten.set()
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.conditions = dataclasses.replace(self.conditions, status="signed_in")

    @property
    def states(self) -> list[HeartbeatState]:
        return [state for state, _ in self.published]

    @property
    def last(self) -> tuple[HeartbeatState, datetime | None]:
        return self.published[-1]


def api_error(status: int, error_type: str, retry_after: float | None = None) -> StytchAPIError:
    return StytchAPIError(status, error_type, "from the test", retry_after=retry_after)


def seconds_until(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - datetime.now(timezone.utc)).total_seconds()


def run(coro_function: Callable[[], object]) -> None:
    async def main() -> None:
        await coro_function()  # type: ignore[misc]

    asyncio.run(main())


def test_start_publishes_the_plan_before_it_returns_and_stop_says_stopped() -> None:
    session = Session(interval=120.0)

    async def main() -> None:
        session.heartbeat.start()
        assert session.heartbeat.running
        state, at = session.last
        assert state == "scheduled" and 119.0 < seconds_until(at) <= 120.0
        session.heartbeat.start()  # a second start changes nothing
        assert len(session.published) == 1
        session.heartbeat.stop()
        assert not session.heartbeat.running
        assert session.last == ("stopped", None)

    run(main)
    assert session.beats == 0


def test_signed_out_is_idle_and_checks_nothing() -> None:
    session = Session(status="signed_out")

    async def main() -> None:
        session.heartbeat.start()
        assert session.last == ("idle", None)
        await session.heartbeat.check()
        session.heartbeat.stop()

    run(main)
    assert session.beats == 0 and "checking" not in session.states


def test_a_check_says_checking_while_it_is_in_flight() -> None:
    session = Session()
    seen: list[HeartbeatState] = []

    async def beat() -> None:
        seen.append(session.last[0])

    session.heartbeat = Heartbeat(
        conditions=lambda: session.conditions,
        beat=beat,
        publish=lambda state, at: session.published.append((state, at)),
        note_error=session.errors.append,
    )
    run(session.heartbeat.check)
    assert seen == ["checking"] and session.last == ("checking", None)


def test_unconfirmed_tokens_are_checked_at_start_then_scheduled() -> None:
    session = Session(status="unconfirmed", interval=90.0)

    async def main() -> None:
        session.heartbeat.start()
        await session.beaten.wait()
        session.heartbeat.wake()
        while session.last[0] != "scheduled":
            await asyncio.sleep(0)  # let the heartbeat's task take its next step
        session.heartbeat.stop()

    run(main)
    assert session.beats == 1
    assert session.states[:2] == ["checking", "scheduled"]


def test_a_recoverable_failure_counts_keeps_retry_after_and_says_retrying() -> None:
    session = Session()
    session.answers = [api_error(503, "service_unavailable", retry_after=7.0)]

    async def main() -> None:
        await session.heartbeat.check()
        session.heartbeat.publish_schedule()

    run(main)
    assert session.heartbeat.failures == 1
    assert session.heartbeat.retry_after == 7.0
    assert [str(e) for e in session.errors] == ["service_unavailable (503): from the test"]
    state, at = session.last
    assert state == "retrying" and 6.0 < seconds_until(at) <= 7.0


def test_failures_add_up_and_one_success_resets_them() -> None:
    session = Session()
    session.answers = [
        StytchNetworkError("connection refused"),
        StytchTimeoutError("timed out"),
        api_error(429, "too_many_requests", retry_after=3.0),
        None,
    ]

    async def main() -> None:
        counts = []
        for _ in range(3):
            await session.heartbeat.check()
            counts.append(session.heartbeat.failures)
        assert counts == [1, 2, 3]
        assert session.heartbeat.retry_after == 3.0
        # The backoff follows the count: the third failure waits 4 s (rand fixed at 1).
        plan = plan_next_check(
            session.conditions, session.heartbeat.failures, None, rand=fixed(1.0)
        )
        assert plan.delay == 4.0
        await session.heartbeat.check()
        assert session.heartbeat.failures == 0 and session.heartbeat.retry_after is None
        session.heartbeat.publish_schedule()

    run(main)
    assert len(session.errors) == 3
    state, at = session.last
    assert state == "scheduled" and 179.0 < seconds_until(at) <= 180.0


def test_a_network_error_retries_without_a_retry_after() -> None:
    session = Session()
    session.answers = [api_error(503, "x", retry_after=9.0), StytchNetworkError("dropped")]

    async def main() -> None:
        await session.heartbeat.check()
        await session.heartbeat.check()

    run(main)
    assert session.heartbeat.failures == 2 and session.heartbeat.retry_after is None


@pytest.mark.parametrize("error_type", sorted(UNRECOVERABLE_ERROR_TYPES))
def test_an_unrecoverable_answer_resets_the_count_and_is_not_a_retry(error_type) -> None:
    status = 404 if error_type == "session_not_found" else 401
    session = Session()
    session.answers = [StytchNetworkError("first a failure"), api_error(status, error_type)]

    async def main() -> None:
        await session.heartbeat.check()
        assert session.heartbeat.failures == 1
        await session.heartbeat.check()

    run(main)
    assert session.heartbeat.failures == 0 and session.heartbeat.retry_after is None
    assert len(session.errors) == 1  # only the network error: the beat handled the other


def test_a_bug_in_a_beat_is_logged_counted_and_does_not_stop_the_heartbeat(caplog) -> None:
    session = Session()
    session.answers = [RuntimeError("a bug")]

    async def main() -> None:
        session.heartbeat.start()
        with caplog.at_level(logging.ERROR, logger="stytch_jupyter"):
            await session.heartbeat.check()
        assert session.heartbeat.running
        session.heartbeat.stop()

    run(main)
    assert session.heartbeat.failures == 1
    assert "failed unexpectedly" in caplog.text


def test_wake_publishes_a_changed_interval_at_once() -> None:
    session = Session(interval=180.0)

    async def main() -> None:
        session.heartbeat.start()
        session.conditions = dataclasses.replace(session.conditions, interval=60.0)
        session.heartbeat.wake()
        while seconds_until(session.last[1]) > 61.0:
            await asyncio.sleep(0)
        session.heartbeat.stop()

    run(main)
    assert session.beats == 0
    assert [s for s in session.states if s != "stopped"] == ["scheduled", "scheduled"]


def test_beat_now_when_stopped_checks_once_and_says_stopped() -> None:
    session = Session()
    run(session.heartbeat.beat_now)
    assert session.beats == 1
    assert session.states == ["checking", "stopped"]


def test_beat_now_when_running_publishes_the_next_plan() -> None:
    session = Session(interval=50.0)

    async def main() -> None:
        session.heartbeat.start()
        await session.heartbeat.beat_now()
        state, at = session.last
        assert state == "scheduled" and 49.0 < seconds_until(at) <= 50.0
        session.heartbeat.stop()

    run(main)
    assert session.beats == 1
    assert session.states == ["scheduled", "checking", "scheduled", "stopped"]


def test_the_run_loop_checks_when_the_plan_comes_due() -> None:
    session = Session(interval=0.01)
    session.answers = [StytchNetworkError("once")]

    async def main() -> None:
        session.heartbeat.start()
        while session.beats < 2:
            session.beaten.clear()
            await session.beaten.wait()
        session.heartbeat.stop()

    run(main)
    assert "retrying" in session.states and session.heartbeat.failures == 0


# ---- HeartbeatControl: the user's buttons ----------------------------------------------------


class Runner:
    """A ``SessionRunner`` over a loop of the test's own (what the manager does on its thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.calls = 0

    def run(self, coro):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.loop.run_until_complete(coro)

    def run_async(self, coro):  # type: ignore[no-untyped-def]
        return coro

    def submit(self, coro):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_heartbeat_control_drives_the_heartbeat_through_the_runner() -> None:
    session = Session(interval=30.0)
    runner = Runner()
    control = HeartbeatControl(session.heartbeat, runner, lambda: session.last[0])
    try:
        control.start()
        assert control.running and control.state == "scheduled"
        assert control.next_delay() == 30.0
        control.now()
        assert session.beats == 1 and control.failures == 0
        control.stop()
        assert not control.running and control.state == "stopped"
        assert runner.calls == 3
        runner.loop.run_until_complete(asyncio.sleep(0))  # the stopped task takes its step
        assert control.state == "stopped"  # and publishes nothing after "stopped"
    finally:
        runner.loop.close()


def test_heartbeat_control_reports_the_failure_count() -> None:
    session = Session()
    session.answers = [StytchNetworkError("down")]
    runner = Runner()
    control = HeartbeatControl(session.heartbeat, runner, lambda: session.last[0])
    try:
        control.now()
        assert control.failures == 1 and control.state == "stopped"
        assert 0 < (control.next_delay() or 0) <= 1.0
        runner.loop.run_until_complete(asyncio.sleep(0))
    finally:
        runner.loop.close()


def test_a_plan_moment_is_in_utc() -> None:
    session = Session()
    session.heartbeat.publish_schedule()
    _, at = session.last
    assert at is not None and at.utcoffset() == timedelta(0)


# ---- the loop's own life: what the user cannot see until it goes wrong -------------------------


def _heartbeat_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "stytch-heartbeat"]


def test_the_task_is_named_and_ends_when_stopped() -> None:
    session = Session()

    async def main() -> None:
        session.heartbeat.start()
        (task,) = _heartbeat_tasks()
        await asyncio.sleep(0)  # it is waiting for its plan
        session.heartbeat.stop()
        await asyncio.wait([task], timeout=5)
        assert task.cancelled()

    run(main)


def test_a_signed_out_heartbeat_keeps_running_and_checks_after_a_sign_in() -> None:
    session = Session(status="signed_out", interval=0.01)

    async def main() -> None:
        session.heartbeat.start()
        for _ in range(5):
            await asyncio.sleep(0)
        assert session.heartbeat.running  # idle, not dead
        session.conditions = dataclasses.replace(session.conditions, status="signed_in")
        session.heartbeat.wake()
        await asyncio.wait_for(session.beaten.wait(), timeout=5)
        session.heartbeat.stop()

    run(main)
    assert session.beats >= 1


def test_beat_now_while_running_moves_the_loop_to_the_new_plan() -> None:
    session = Session(interval=1000.0)

    async def main() -> None:
        session.heartbeat.start()
        await asyncio.sleep(0)  # the loop now waits 1000 s
        session.conditions = dataclasses.replace(session.conditions, interval=0.01)
        await session.heartbeat.beat_now()
        session.beaten.clear()
        await asyncio.wait_for(session.beaten.wait(), timeout=5)  # the loop's own check
        session.heartbeat.stop()

    run(main)
    assert session.beats == 2


def test_wake_before_start_does_nothing() -> None:
    session = Session()
    session.heartbeat.wake()
    assert not session.heartbeat.running and session.published == []


def test_a_failure_is_logged_as_kept_on_the_package_logger(caplog) -> None:
    session = Session()
    session.answers = [StytchNetworkError("the network is down")]
    with caplog.at_level(logging.INFO, logger="stytch_jupyter"):
        run(session.heartbeat.check)
    (record,) = [r for r in caplog.records if "heartbeat" in r.getMessage()]
    assert record.name == "stytch_jupyter"
    assert record.getMessage() == (
        "stytch heartbeat: the network is down (attempt 1; session kept)"
    )


def test_conditions_and_plans_are_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SIGNED_IN.status = "signed_out"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Plan(1.0, "scheduled").delay = 2.0  # type: ignore[misc]
    assert len({Plan(1.0, "scheduled"), Plan(1.0, "scheduled")}) == 1


def test_no_plan_waits_longer_than_the_longest_check_gap() -> None:
    assert MAX_CHECK_GAP_SECONDS == 900.0
    assert plan_next_check(conditions(interval=3600.0)) == Plan(900.0, "scheduled")
    plan = plan_next_check(SIGNED_IN, failures=1, retry_after=5000.0, rand=fixed(1.0))
    assert plan == Plan(900.0, "retrying")
    assert plan_next_check(conditions(interval=900.0)) == Plan(900.0, "scheduled")


def test_stopping_through_the_control_returns_once_the_task_has_ended() -> None:
    session = Session(interval=30.0)
    runner = Runner()
    control = HeartbeatControl(session.heartbeat, runner, lambda: session.last[0])
    try:
        control.start()
        (task,) = [t for t in asyncio.all_tasks(runner.loop) if t.get_name() == "stytch-heartbeat"]
        control.stop()
        assert task.done() and control.state == "stopped"
    finally:
        runner.loop.close()
