"""Which answers end a session and which keep it, through a real manager and the emulator.

Each check is ``heartbeat.now()`` (one beat, waited for), so no test waits on the schedule.
States in flight are pinned with a latency fault, not read as "one of these".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter.api.errors import UNRECOVERABLE_ERROR_TYPES
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session.manager import SessionManager
from tests.conftest import PASSWORD
from tests.support.waiting import wait_for

SESSIONS_AUTHENTICATE = "/sdk/v1/sessions/authenticate"
STATUS_OF = {
    "session_not_found": 404,
    "unauthorized_credentials": 401,
    "user_unauthenticated": 401,
    "invalid_secret_authentication": 401,
}


@pytest.fixture
def manager(emulator: Emulator, tmp_path: Path) -> Iterator[SessionManager]:
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="file",
        data_dir=str(tmp_path / "data"),
        heartbeat_interval=900.0,  # the longest allowed: only the test's own beats
        timeout=2.0,
    )
    made = SessionManager(config, store_poll_interval=3600.0)
    made.start()
    emulator.create_user("ada@example.com", password=PASSWORD)
    made.passwords.authenticate("ada@example.com", PASSWORD)
    assert made.status == "signed_in"
    yield made
    made.close()


def test_the_table_covers_every_unrecoverable_type() -> None:
    assert set(STATUS_OF) == UNRECOVERABLE_ERROR_TYPES


@pytest.mark.parametrize("error_type", sorted(UNRECOVERABLE_ERROR_TYPES))
def test_each_unrecoverable_answer_ends_the_session_here_and_in_the_store(
    manager, emulator, error_type
) -> None:
    emulator.add_fault(
        path_prefix=SESSIONS_AUTHENTICATE, status=STATUS_OF[error_type], error_type=error_type
    )
    manager.heartbeat.now()
    assert manager.status == "signed_out"
    assert manager.signed_out_reason == f"ended by Stytch: {error_type}"
    assert manager.session is None and manager.user is None and manager.session_token is None
    assert manager.store is not None and manager.store.load() is None
    assert manager.heartbeat.failures == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 400, "error_type": "invalid_session_duration"},
        {"status": 403, "error_type": "forbidden"},
        {"status": 429, "error_type": "too_many_requests", "retry_after": 30},
        {"status": 500, "error_type": "internal_server_error"},
        {"status": 503, "error_type": "service_unavailable"},
        {"drop": True},
    ],
    ids=["400", "403", "429", "500", "503", "dropped"],
)
def test_answers_that_are_not_unrecoverable_keep_the_session(manager, emulator, fault) -> None:
    held = manager.session_token.value
    emulator.add_fault(path_prefix=SESSIONS_AUTHENTICATE, **fault)
    manager.heartbeat.now()
    assert manager.status == "signed_in" and manager.session_token.value == held
    assert manager.session is not None and manager.user is not None
    assert manager.store.load().opaque == held
    assert manager.last_error != ""
    assert manager.heartbeat.failures == 1
    manager.heartbeat.now()  # the fault is spent: the next beat succeeds
    assert manager.last_error == "" and manager.heartbeat.failures == 0


def test_retry_after_sets_the_next_check(manager, emulator) -> None:
    emulator.add_fault(
        path_prefix=SESSIONS_AUTHENTICATE,
        status=429,
        error_type="too_many_requests",
        retry_after=120,
    )
    manager.heartbeat.start()
    manager.heartbeat.now()
    assert manager.heartbeat_state == "retrying"
    left = manager.heartbeat.next_delay()
    assert left is not None and 110 < left <= 120  # not the 1 s first backoff step


def test_a_check_in_flight_says_checking(manager, emulator) -> None:
    manager.heartbeat.start()
    assert manager.heartbeat_state == "scheduled"
    emulator.add_fault(path_prefix=SESSIONS_AUTHENTICATE, latency_ms=800)
    states: list[str] = []
    manager.observe(lambda change: states.append(change["new"]), names="heartbeat_state")
    beat = threading.Thread(target=manager.heartbeat.now)
    beat.start()
    wait_for(lambda: manager.heartbeat_state == "checking", what="the check to start")
    assert manager.status == "signed_in"  # the session is kept while it is checked
    beat.join(10)
    assert states == ["checking", "scheduled"]


def test_signing_out_makes_the_heartbeat_idle(manager) -> None:
    manager.heartbeat.start()
    manager.sessions.revoke()
    wait_for(lambda: manager.heartbeat_state == "idle", what="the heartbeat to go idle")
    assert manager.next_check_at is None and manager.heartbeat.next_delay() is None


def test_stopping_the_heartbeat_says_stopped(manager) -> None:
    manager.heartbeat.start()
    manager.heartbeat.stop()
    assert manager.heartbeat_state == "stopped" and manager.next_check_at is None
    assert not manager.heartbeat.running


def test_observers_see_each_state_change_of_a_failing_beat(manager, emulator) -> None:
    manager.heartbeat.start()
    seen: list[Any] = []
    manager.observe(lambda change: seen.append(change["new"]), names="heartbeat_state")
    emulator.add_fault(path_prefix=SESSIONS_AUTHENTICATE, status=503, error_type="x")
    manager.heartbeat.now()
    assert seen == ["checking", "retrying"]
