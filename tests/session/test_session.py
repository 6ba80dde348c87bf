"""The session core against the emulator over loopback: the fault matrix of issue 3."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter.api.errors import StytchAPIError, StytchNetworkError
from stytch_jupyter.api.models import SessionToken, SessionTokens
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import NotSignedInError, SessionManager
from stytch_jupyter.session.errors import SessionClosedError
from stytch_jupyter.session.heartbeat import backoff_delay
from stytch_jupyter.session.keys import TokenStoreError
from tests.conftest import PASSWORD
from tests.support.waiting import wait_for


@pytest.fixture
def make_manager(emulator: Emulator, tmp_path: Path) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(*, store_poll_interval: float = 0.1, **settings: Any) -> SessionManager:
        settings.setdefault("token_store", "file")
        settings.setdefault("data_dir", str(tmp_path / "data"))
        settings.setdefault("heartbeat_interval", 30.0)
        settings.setdefault("timeout", 2.0)
        # Stytch's mobile default: short enough for the emulator clock to expire it in a test.
        settings.setdefault("session_duration_minutes", 5)
        config = Stytch(api_url=emulator.api_url, public_token=emulator.public_token, **settings)
        manager = SessionManager(config, store_poll_interval=store_poll_interval)
        made.append(manager)
        manager.start()
        return manager

    yield make
    for manager in made:
        manager.close()


def sign_in(manager: SessionManager, emulator: Emulator, email: str = "ada@example.com") -> None:
    emulator.create_user(email, password=PASSWORD)
    manager.passwords.authenticate(email, PASSWORD)
    assert manager.status == "signed_in"


# ---- the basics ---------------------------------------------------------------------------------


def test_sign_in_sets_every_trait_and_persists(make_manager, emulator) -> None:
    manager = make_manager()
    seen: list[str] = []
    manager.observe(lambda change: seen.append(change["new"]), names="status")
    sign_in(manager, emulator)
    assert manager.user is not None and manager.user.email == "ada@example.com"
    assert manager.session is not None and manager.session.user_id == manager.user.user_id
    assert isinstance(manager.session_token, SessionToken)
    assert manager.session_token.kind == "opaque" and manager.session_jwt.kind == "jwt"
    assert manager.last_validated_at is not None
    assert seen == ["signed_in"]
    # A fresh manager on the same store rehydrates the session in the background.
    other = make_manager()
    wait_for(lambda: other.status == "signed_in", what="rehydration")
    assert other.session.session_id == manager.session.session_id


def test_factor_sign_in_lasts_the_configured_duration(make_manager, emulator) -> None:
    default = Stytch().session_duration_minutes
    assert default == 60  # notebooks sit idle for long stretches: an hour, not the SDKs' 5
    manager = make_manager(session_duration_minutes=default)
    sign_in(manager, emulator)
    lifetime = manager.session.expires_at - manager.session.started_at
    assert abs(lifetime.total_seconds() - default * 60) < 2


def test_authenticate_without_duration_only_checks(make_manager, emulator) -> None:
    manager = make_manager(session_duration_minutes=5)
    sign_in(manager, emulator)
    expires = manager.session.expires_at
    opaque = manager.session_token.value
    manager.sessions.authenticate()
    assert manager.session.expires_at == expires
    manager.sessions.authenticate(session_duration_minutes=60)
    assert (manager.session.expires_at - expires).total_seconds() > 50 * 60
    assert manager.session_token.value == opaque  # the opaque token is stable


def test_bad_duration_changes_nothing(make_manager, emulator) -> None:
    manager = make_manager()
    sign_in(manager, emulator)
    before = manager.session
    for bad in (4, 527041, 0, -1):
        with pytest.raises(ValueError, match="session duration"):
            manager.sessions.authenticate(session_duration_minutes=bad)
    assert manager.session == before and manager.status == "signed_in"


def test_calls_without_a_session_say_so(make_manager) -> None:
    manager = make_manager()
    with pytest.raises(NotSignedInError, match="not signed in"):
        manager.sessions.authenticate()
    with pytest.raises(NotSignedInError):
        manager.sessions.revoke()


def test_otp_flow_remembers_the_method_id(make_manager, emulator) -> None:
    manager = make_manager()
    manager.otps.email.login_or_create("grace@example.com")
    _, code = emulator.last_otp("grace@example.com")
    manager.otps.authenticate(code, session_duration_minutes=30)
    assert manager.user.email == "grace@example.com"
    assert abs((manager.session.expires_at - manager.session.started_at).total_seconds() - 1800) < 2


def test_update_adopts_tokens_once_stytch_confirms_them(make_manager, emulator) -> None:
    first = make_manager(token_store="memory")
    sign_in(first, emulator)
    tokens = SessionTokens(opaque=first.session_token.value, jwt=first.session_jwt.value)
    second = make_manager(token_store="memory")
    second.sessions.update(tokens)
    assert second.status == "signed_in"  # checked before update() returned
    assert second.session.session_id == first.session.session_id


def test_update_rejects_incomplete_tokens() -> None:
    with pytest.raises(ValueError, match="jwt"):
        SessionTokens(opaque="abc", jwt="")
    with pytest.raises(ValueError, match="JWT"):
        SessionTokens(opaque="abc", jwt="not-a-jwt")


def test_sync_calls_work_inside_a_running_event_loop(make_manager, emulator) -> None:
    manager = make_manager()
    sign_in(manager, emulator)

    async def cell() -> tuple[str, str]:
        # A notebook cell: a loop is running on this thread, and sync calls must not deadlock.
        sync = manager.sessions.authenticate().session.session_id
        twin = (await manager.sessions.authenticate_async()).session.session_id
        return sync, twin

    sync, twin = asyncio.run(cell())
    assert sync == twin == manager.session.session_id


# ---- observers ----------------------------------------------------------------------------------


def test_auth_change_fires_on_sign_in_and_out_only(make_manager, emulator, caplog) -> None:
    manager = make_manager()
    events: list[SessionToken | None] = []

    def broken(token: SessionToken | None) -> None:
        raise RuntimeError("observer bug")

    manager.on_auth_change(broken)
    unsubscribe = manager.on_auth_change(events.append)
    with caplog.at_level(logging.ERROR, logger="stytch_jupyter"):
        sign_in(manager, emulator)
    assert len(events) == 1 and events[0] == manager.session_token
    assert "callback failed" in caplog.text  # the broken one was logged, the other still ran
    manager.sessions.authenticate()
    manager.heartbeat.now()
    assert len(events) == 1  # checks and JWT refreshes are not auth changes
    manager.sessions.revoke()
    assert events[-1] is None and len(events) == 2
    unsubscribe()
    sign_in(manager, emulator, "b@example.com")
    assert len(events) == 2


def test_blocking_call_from_a_callback_is_refused_with_a_clear_error(make_manager, emulator):
    manager = make_manager()
    errors: list[BaseException] = []

    def callback(token: SessionToken | None) -> None:
        try:
            manager.sessions.authenticate()
        except RuntimeError as exc:
            errors.append(exc)

    manager.on_auth_change(callback)
    sign_in(manager, emulator)
    assert errors and "_async" in str(errors[0])


def test_observers_see_the_store_already_written(make_manager, emulator, tmp_path) -> None:
    manager = make_manager()
    seen: list[str | None] = []

    def on_token(token: SessionToken | None) -> None:
        stored = manager.store.load()  # what another process would read right now
        seen.append(stored.opaque if stored else None)

    manager.on_auth_change(on_token)
    sign_in(manager, emulator)
    manager.sessions.revoke()
    assert seen[0] is not None and seen[1] is None


def test_a_response_for_a_replaced_session_is_not_applied(make_manager, emulator, caplog) -> None:
    manager = make_manager()
    sign_in(manager, emulator, "old@example.com")
    emulator.create_user("new@example.com", password=PASSWORD)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", latency_ms=600, times=1)
    # The session loop runs coroutines in order: the slow check takes note of the session it
    # is for and is in flight before the sign-in below starts. No sleep, no race.
    slow = manager.submit(manager.sessions.authenticate_async())
    with caplog.at_level(logging.DEBUG, logger="stytch_jupyter"):
        manager.passwords.authenticate("new@example.com", PASSWORD)
        slow.result(10)
    assert "dropped a response for a session replaced in flight" in caplog.text
    assert manager.user.email == "new@example.com"


# ---- the heartbeat and the fault matrix ----------------------------------------------------------


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    assert backoff_delay(1, 180, rand=lambda: 0.0) == 0.5
    assert backoff_delay(1, 180, rand=lambda: 1.0) == 1.0
    assert backoff_delay(4, 180, rand=lambda: 1.0) == 8.0
    assert backoff_delay(20, 180, rand=lambda: 1.0) == 180.0  # capped at the interval
    assert backoff_delay(1, 180, retry_after=30, rand=lambda: 1.0) == 30.0


def test_next_check_is_at_the_interval_or_the_expiry(make_manager, emulator) -> None:
    manager = make_manager(heartbeat_interval=900, session_duration_minutes=5)
    sign_in(manager, emulator)  # 5-minute session
    delay = manager.heartbeat.next_delay()
    assert delay is not None and 290 < delay <= 300
    manager.config.heartbeat_interval = 60
    assert manager.heartbeat.next_delay() == 60
    # Setting the interval returns with the new plan already published.
    assert manager.heartbeat_state == "scheduled"
    assert 55 < (manager.next_check_at - datetime.now(timezone.utc)).total_seconds() <= 60
    manager.heartbeat.now()
    assert manager.heartbeat_state == "scheduled" and manager.last_error == ""


def test_server_side_revoke_is_noticed_within_an_interval(make_manager, emulator) -> None:
    manager = make_manager(heartbeat_interval=0.5)
    sign_in(manager, emulator)
    emulator.revoke_session(session_token=manager.session_token.value)
    wait_for(lambda: manager.status == "signed_out", timeout=5, what="the heartbeat to clear")
    assert manager.session is None and manager.session_token is None
    assert manager.store.load() is None


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503},
        {"status": 429, "retry_after": 0.5},
        {"drop": True},
        {"latency_ms": 800},  # past the client timeout the test sets
    ],
    ids=["500", "503", "429", "dropped", "timeout"],
)
def test_recoverable_errors_during_beats_keep_the_session(make_manager, emulator, fault) -> None:
    manager = make_manager(heartbeat_interval=0.5)
    sign_in(manager, emulator)
    if "latency_ms" in fault:
        manager.config.timeout = 0.3  # each timed-out beat waits this out, twice
    session_id = manager.session.session_id
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", times=2, **fault)
    manager.heartbeat.now()  # a failed beat, without waiting out an interval for it
    assert manager.last_error != ""
    assert manager.status == "signed_in" and manager.session.session_id == session_id
    assert manager.store.load() is not None
    wait_for(lambda: manager.last_error == "", timeout=15, what="recovery")
    assert manager.status == "signed_in"


@pytest.mark.parametrize("error", ["session_not_found", "unauthorized_credentials"])
def test_unrecoverable_errors_clear_the_session(make_manager, emulator, error) -> None:
    manager = make_manager(heartbeat_interval=0.5)
    sign_in(manager, emulator)
    status = 404 if error == "session_not_found" else 401
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=status, error_type=error)
    wait_for(lambda: manager.status == "signed_out", what=f"{error} to clear the session")
    assert manager.store.load() is None


def test_emulator_down_at_start_keeps_tokens_until_it_answers(make_manager, emulator) -> None:
    first = make_manager()
    sign_in(first, emulator)
    first.close()
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", drop=True, times=3)
    # The backoff is capped at the interval: the shortest allowed keeps the retries short.
    second = make_manager(heartbeat_interval=0.5)
    wait_for(lambda: second.last_error != "", what="the failed rehydration")
    assert second.status == "unconfirmed" and second.session_token is not None
    wait_for(lambda: second.status == "signed_in", timeout=20, what="the session to come back")


def test_unreachable_api_keeps_stored_tokens(make_manager, emulator, tmp_path) -> None:
    first = make_manager()
    sign_in(first, emulator)
    first.close()
    config = Stytch(
        api_url="http://127.0.0.1:9",  # nothing listens on the discard port
        public_token=emulator.public_token,
        data_dir=str(tmp_path / "data"),
        token_store="file",
        timeout=1,
    )
    with SessionManager(config) as offline:
        wait_for(lambda: offline.last_error != "", what="a failed rehydration")
        assert offline.status == "unconfirmed"
        assert offline.store.load() is not None


def test_expiry_clears_locally_even_with_the_network_down(make_manager, emulator) -> None:
    manager = make_manager(heartbeat_interval=60, session_duration_minutes=5)
    sign_in(manager, emulator)  # 5 minutes
    emulator.advance_clock(299)
    manager.sessions.authenticate()  # learns the server's clock: 1 s left
    emulator.add_fault(path_prefix="/sdk/v1", drop=True, times=1000)
    wait_for(lambda: manager.status == "signed_out", timeout=10, what="local expiry")
    assert manager.store.load() is None


def test_revoke_offline_keeps_the_session_unless_forced(make_manager, emulator) -> None:
    manager = make_manager()
    sign_in(manager, emulator)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", drop=True, times=2)
    with pytest.raises(StytchNetworkError):
        manager.sessions.revoke()
    assert manager.status == "signed_in"
    with pytest.raises(StytchNetworkError):
        manager.sessions.revoke(force_clear=True)
    assert manager.status == "signed_out" and manager.store.load() is None


def test_revoke_of_a_session_already_gone_clears_it(make_manager, emulator) -> None:
    manager = make_manager()
    sign_in(manager, emulator)
    emulator.revoke_session(session_token=manager.session_token.value)
    with pytest.raises(StytchAPIError) as info:
        manager.sessions.revoke()
    assert info.value.error_type == "session_not_found"
    assert manager.status == "signed_out"


def test_auto_extend_moves_the_expiry(make_manager, emulator) -> None:
    manager = make_manager(heartbeat_interval=0.5, auto_extend=True, session_duration_minutes=60)
    sign_in(manager, emulator)  # 5 minutes
    wait_for(
        lambda: manager.session.expires_in(manager.server_now()) > 50 * 60,
        what="a beat to extend the session",
    )


def test_heartbeat_start_stop_and_close_leave_no_thread(make_manager, emulator) -> None:
    manager = make_manager(heartbeat_interval=0.5)
    sign_in(manager, emulator)
    manager.heartbeat.stop()
    assert manager.heartbeat_state == "stopped" and not manager.heartbeat.running
    emulator.revoke_session(session_token=manager.session_token.value)
    # No sleep to watch nothing happen: a stopped heartbeat has no task left to check with.
    assert "stytch-heartbeat" not in manager.run(_task_names())
    assert manager.status == "signed_in"
    manager.heartbeat.start()
    wait_for(lambda: manager.status == "signed_out")
    manager.close()
    wait_for(lambda: not manager.threads, what="the session thread to end")


def test_memory_store_writes_nothing(make_manager, emulator, tmp_path) -> None:
    manager = make_manager(token_store="memory", data_dir=str(tmp_path / "unused"))
    sign_in(manager, emulator)
    assert not (tmp_path / "unused").exists()


class BrokenStore:
    """A store whose disk (or keyring) has gone away: the one thing here that cannot be real."""

    description = "broken"

    def load(self) -> None:
        raise TokenStoreError("cannot read the token store: keyring locked")

    def save(self, tokens: SessionTokens, *, replacing: str | None = None) -> None:
        raise TokenStoreError("cannot write the token store: disk full")

    def clear(self, *, replacing: str | None = None) -> None:
        raise TokenStoreError("cannot clear the token store: disk full")

    def signature(self) -> None:
        return None


def test_a_failing_store_never_loses_the_session_in_memory(emulator) -> None:
    config = Stytch(api_url=emulator.api_url, public_token=emulator.public_token)
    with SessionManager(config, store=BrokenStore()) as manager:
        sign_in(manager, emulator)
        assert manager.session is not None
        assert "disk full" in manager.last_error
        manager.sessions.revoke()
        assert manager.status == "signed_out"


def test_token_store_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("STYTCH_JUPYTER_TOKEN_STORE", "memory")
    assert Stytch().token_store == "memory"
    monkeypatch.setenv("STYTCH_JUPYTER_TOKEN_STORE", "bogus")
    assert Stytch().token_store == "auto"


# ---- review findings: kernels sharing a store, closing, observers, config ----------------------


def test_a_stale_kernel_never_undoes_another_kernels_sign_in(make_manager, emulator) -> None:
    kernel_a = make_manager()
    kernel_a.store_sync.poll_interval = 3600  # A has not looked at the store since
    sign_in(kernel_a, emulator, "a@example.com")
    kernel_b = make_manager()
    sign_in(kernel_b, emulator, "b@example.com")
    newest = kernel_b.session_token.value
    kernel_a.heartbeat.now()  # A's check of its old session brings a fresh JWT to store
    assert kernel_a.store.load().opaque == newest
    emulator.revoke_session(session_token=kernel_a.session_token.value)
    kernel_a.heartbeat.now()  # A learns its session is gone, and clears only its own
    assert kernel_a.status == "signed_out"
    assert kernel_a.store.load().opaque == newest
    kernel_a.close()
    assert kernel_b.status == "signed_in"


def test_a_write_landing_during_a_store_read_is_not_missed(make_manager, emulator) -> None:
    # The test makes each look itself: from the start, or a look of the watcher's own may
    # land after the first change below and leave nothing for the test's looks to see.
    watcher = make_manager(store_poll_interval=3600)
    with pytest.raises(NotSignedInError):  # an operation waits for start-up to read the store
        watcher.sessions.authenticate()
    signer = make_manager()
    sign_in(signer, emulator)  # a first change for the watcher to see
    emulator.create_user("late@example.com", password=PASSWORD)
    store = watcher.run(watcher.store_sync.open_async())  # the one start-up opened, if it did
    assert store is not None
    real_load = store.load
    landed: list[bool] = []

    def load_then_another_kernel_signs_in() -> SessionTokens | None:
        found = real_load()
        if not landed:  # another kernel's sign-in lands between the read and the bookkeeping
            landed.append(True)
            signer.passwords.authenticate("late@example.com", PASSWORD)
        return found

    store.load = load_then_another_kernel_signs_in  # type: ignore[method-assign]
    watcher.run(_run_sync(watcher.store_sync.poll))
    store.load = real_load  # type: ignore[method-assign]
    watcher.run(_run_sync(watcher.store_sync.poll))  # the next look sees the late write
    wait_for(
        lambda: watcher.user is not None and watcher.user.email == "late@example.com",
        what="the watcher to adopt the late session",
    )


async def _run_sync(function: Callable[[], object]) -> None:
    function()


async def _task_names() -> list[str]:
    return [task.get_name() for task in asyncio.all_tasks()]


def test_a_closed_manager_refuses_work_instead_of_restarting(make_manager, emulator) -> None:
    manager = make_manager()
    sign_in(manager, emulator)
    manager.close()
    assert manager.closed and manager.threads == []
    with pytest.raises(SessionClosedError, match="closed"):
        manager.sessions.authenticate()
    assert manager.threads == []


def test_a_failing_observer_breaks_nothing(make_manager, emulator, caplog) -> None:
    manager = make_manager()
    events: list[SessionToken | None] = []
    manager.observe(lambda change: 1 / 0, names="session")
    manager.on_auth_change(events.append)
    with caplog.at_level(logging.ERROR, logger="stytch_jupyter"):
        sign_in(manager, emulator)
    assert "observer failed" in caplog.text
    assert events == [manager.session_token]
    assert manager.heartbeat_state == "scheduled"


def test_auto_extend_extends_before_the_expiry(make_manager, emulator) -> None:
    manager = make_manager(heartbeat_interval=900, auto_extend=True)
    sign_in(manager, emulator)  # 5 minutes
    emulator.advance_clock(297)
    manager.sessions.authenticate()  # 3 s left on the server's clock: it extends at 1.5 s
    wait_for(
        lambda: (
            manager.session is not None and manager.session.expires_in(manager.server_now()) > 60
        ),
        timeout=15,
        what="the heartbeat to extend the session before it ends",
    )
    assert manager.status == "signed_in"


def test_a_new_public_token_takes_effect_when_set(make_manager, emulator) -> None:
    manager = make_manager()
    sign_in(manager, emulator)
    manager.config.public_token = "public-token-test-another-project"
    assert manager.status == "signed_out"
    assert manager.signed_out_reason == "the public token changed"


def test_moving_the_store_keeps_the_session(make_manager, emulator, tmp_path) -> None:
    manager = make_manager(token_store="memory")
    sign_in(manager, emulator)
    manager.config.token_store = "file"
    assert manager.status == "signed_in"
    assert manager.store.load().opaque == manager.session_token.value


def test_a_closed_manager_cannot_be_started_again(make_manager) -> None:
    manager = make_manager()
    manager.close()
    with pytest.raises(SessionClosedError):
        manager.start()
    manager.config.heartbeat_interval = 5  # nobody listens any more: nothing to run
    assert manager.threads == []
