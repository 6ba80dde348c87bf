"""``on_auth_change`` with ``async def`` callbacks: awaited on the session loop (issue 8,
item 16), with the emulator over loopback."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter.api.models import SessionToken
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from tests.conftest import EMAIL, PASSWORD
from tests.support.waiting import wait_for


@pytest.fixture
def manager(emulator: Emulator, tmp_path: Path) -> Any:
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="memory",
        data_dir=str(tmp_path),
    )
    with SessionManager(config) as made:
        yield made


def test_an_async_callback_is_awaited_on_the_session_loop(
    manager: SessionManager, emulator: Emulator
) -> None:
    seen: list[tuple[str, str | None, str]] = []

    async def on_change(token: SessionToken | None) -> None:
        await asyncio.sleep(0)  # really a coroutine, suspended once
        # It may await the session's own _async calls from here.
        if token is not None:
            await manager.sessions.authenticate_async()
        seen.append(("done", token.kind if token else None, threading.current_thread().name))

    manager.on_auth_change(on_change)
    emulator.create_user(EMAIL, password=PASSWORD)
    manager.passwords.authenticate(EMAIL, PASSWORD)
    wait_for(lambda: len(seen) == 1, what="the async callback to finish")
    manager.sessions.revoke()
    wait_for(lambda: len(seen) == 2, what="the second run")
    assert seen == [("done", "opaque", "stytch-session"), ("done", None, "stytch-session")]


def test_an_async_callback_that_fails_is_logged_and_breaks_nothing(
    manager: SessionManager, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def broken(token: SessionToken | None) -> None:
        raise RuntimeError("callback bug")

    manager.on_auth_change(broken)
    manager.on_auth_change(lambda token: calls.append("plain"))
    emulator.create_user(EMAIL, password=PASSWORD)
    with caplog.at_level(logging.ERROR, logger="stytch_jupyter"):
        manager.passwords.authenticate(EMAIL, PASSWORD)
        wait_for(lambda: "callback bug" in caplog.text, what="the failure to be logged")
    assert calls == ["plain"] and manager.signed_in


def test_a_non_callable_is_refused_at_once(manager: SessionManager) -> None:
    with pytest.raises(TypeError, match="callable"):
        manager.on_auth_change("not a function")  # type: ignore[arg-type]
