"""A new session shows on the traits before its store write is done (write-behind); the sign-in
call and the auth-change callbacks wait for the write, and later writes queue behind it.

The store is a real ``MemoryTokenStore`` behind a gate that holds each save until the test
opens it: a disk slow on cue, the one thing here that cannot be real.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator

import httpx
import pytest

from stytch_jupyter.api.models import SessionTokens
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session.store import MemoryTokenStore
from tests.conftest import EMAIL, PASSWORD
from tests.support.waiting import wait_for


class GatedStore:
    """A memory store whose saves wait for ``gate``; ``saving`` is set once one is waiting."""

    description = "gated memory"

    def __init__(self) -> None:
        self.inner = MemoryTokenStore()
        self.gate = threading.Event()
        self.saving = threading.Event()

    def load(self) -> SessionTokens | None:
        return self.inner.load()

    def save(self, tokens: SessionTokens, *, replacing: str | None = None) -> Hashable | None:
        self.saving.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return self.inner.save(tokens, replacing=replacing)

    def clear(self, *, replacing: str | None = None) -> Hashable | None:
        return self.inner.clear(replacing=replacing)

    def signature(self) -> Hashable | None:
        return self.inner.signature()


@pytest.fixture
def gated(emulator: Emulator) -> Iterator[tuple[SessionManager, GatedStore]]:
    store = GatedStore()
    config = Stytch(
        api_url=emulator.api_url, public_token=emulator.public_token, heartbeat_interval=600
    )
    emulator.create_user(EMAIL, password=PASSWORD)
    manager = SessionManager(config, store=store)
    manager.start()
    try:
        yield manager, store
    finally:
        store.gate.set()
        manager.close()


def in_thread(fn: object) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)  # type: ignore[operator]
    thread.start()
    return thread, out


def test_signed_in_shows_while_the_write_waits_and_the_call_returns_after_it(
    gated: tuple[SessionManager, GatedStore],
) -> None:
    manager, store = gated
    heard: list[object] = []
    manager.on_auth_change(heard.append)
    call, result = in_thread(lambda: manager.passwords.authenticate(EMAIL, PASSWORD))
    # The gate is shut, so once the write is waiting at it, both must hold at the same time.
    wait_for(
        lambda: manager.status == "signed_in" and store.saving.is_set(),
        what="the traits to show the session while its write waits",
    )
    assert store.inner.load() is None  # queued, not yet written
    assert call.is_alive() and not result  # the sign-in call waits for the write
    assert heard == []  # so do the auth-change callbacks
    store.gate.set()
    call.join(10)
    assert result and not call.is_alive()
    stored = store.inner.load()
    assert stored is not None and manager.session_token is not None
    assert stored.opaque == manager.session_token.value
    assert heard == [manager.session_token] and manager.last_error == ""


def gone_at_stytch(emulator: Emulator, session_token: str) -> bool:
    reply = httpx.post(
        f"{emulator.api_url}/sdk/v1/sessions/authenticate",
        auth=(emulator.public_token, session_token),
        json={},
    )
    return reply.status_code == 404


def test_a_sign_out_right_after_is_queued_behind_the_write(
    gated: tuple[SessionManager, GatedStore], emulator: Emulator
) -> None:
    manager, store = gated
    call, _ = in_thread(lambda: manager.passwords.authenticate(EMAIL, PASSWORD))
    wait_for(lambda: manager.status == "signed_in", what="the traits to show the session")
    token = manager.session_token
    assert token is not None
    revoke, _ = in_thread(lambda: manager.sessions.revoke())
    wait_for(lambda: gone_at_stytch(emulator, token.value), what="Stytch to end the session")
    # The sign-out is written before it is told, and its write waits behind the sign-in's.
    assert manager.status == "signed_in" and revoke.is_alive()
    store.gate.set()
    call.join(10)
    revoke.join(10)
    assert manager.status == "signed_out"
    assert store.inner.load() is None  # the store ends as the session did
