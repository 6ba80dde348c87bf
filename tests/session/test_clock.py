"""Local expiry is a fact of the clock (issue 8, items 4 and 6): it holds with the heartbeat
stopped, and one reply with a wild clock cannot end a session (the tests' own hostile server
rewrites the emulator's real replies)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter.api.models import parse_timestamp
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from tests.conftest import EMAIL, PASSWORD
from tests.support.hostile_server import HostileServer, rewrite
from tests.support.waiting import wait_for


@pytest.fixture
def server(emulator: Emulator) -> Iterator[HostileServer]:
    with HostileServer(upstream=emulator.api_url) as running:
        yield running


@pytest.fixture
def make_manager(
    server: HostileServer, emulator: Emulator, tmp_path: Path
) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(**settings: Any) -> SessionManager:
        settings.setdefault("token_store", "file")
        settings.setdefault("data_dir", str(tmp_path / "data"))
        settings.setdefault("heartbeat_interval", 600.0)
        settings.setdefault("session_duration_minutes", 5)
        config = Stytch(api_url=server.url, public_token=emulator.public_token, **settings)
        manager = SessionManager(config, store_poll_interval=0.1)
        made.append(manager)
        manager.start()
        return manager

    yield make
    for manager in made:
        manager.close()


def sign_in(manager: SessionManager, emulator: Emulator) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    manager.passwords.authenticate(EMAIL, PASSWORD)
    assert manager.status == "signed_in"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def shift_session_clock(*, now: datetime | None = None, years: int = 0) -> Any:
    """A rewrite of an authenticate reply: its "now" set to ``now``, or every timestamp of its
    session moved by ``years`` (a reply that agrees with itself, from a clock far away)."""

    def change(payload: dict[str, Any]) -> None:
        session = payload["data"]["session"]
        if now is not None:
            session["last_accessed_at"] = _stamp(now)
        for key in ("started_at", "last_accessed_at", "expires_at") if years else ():
            moved = parse_timestamp(session[key])
            assert moved is not None
            session[key] = _stamp(moved.replace(year=moved.year + years))

    return rewrite(change)


@pytest.mark.parametrize(
    "reply",
    [
        shift_session_clock(now=datetime(2999, 1, 1)),
        shift_session_clock(now=datetime(1999, 1, 1)),
        shift_session_clock(years=974),
    ],
    ids=["now-in-2999", "now-before-the-start", "all-in-2999"],
)
def test_one_reply_with_a_wild_clock_signs_nobody_out(
    make_manager: Callable[..., SessionManager],
    emulator: Emulator,
    server: HostileServer,
    reply: Any,
) -> None:
    manager = make_manager()
    other = make_manager()  # another kernel on the same store
    sign_in(manager, emulator)
    wait_for(lambda: other.signed_in, what="the other kernel to adopt the session")
    server.arm("sessions/authenticate", reply, times=1)

    manager.sessions.authenticate()
    manager.heartbeat.now()  # a beat after it, by the same clock

    assert manager.signed_in and manager.status == "signed_in"
    expires_in = manager.session.expires_at - manager.server_now()
    assert timedelta(minutes=4) < expires_in <= timedelta(minutes=5)
    assert manager.store is not None and manager.store.load() is not None
    assert other.signed_in


def test_expiry_signs_out_with_the_heartbeat_stopped(
    make_manager: Callable[..., SessionManager], emulator: Emulator
) -> None:
    manager = make_manager()
    sign_in(manager, emulator)  # 5 minutes
    manager.heartbeat.stop()
    emulator.advance_clock(299)
    manager.sessions.authenticate()  # learns the server's clock: 1 s left
    assert manager.heartbeat_state == "stopped"
    wait_for(lambda: not manager.signed_in, timeout=15, what="the session to expire")
    wait_for(lambda: manager.status == "signed_out", timeout=5, what="the status to follow")
    assert manager.signed_out_reason == "session expired"
    assert manager.store is not None and manager.store.load() is None
