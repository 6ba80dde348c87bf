"""The server mailbox's kernel side on its own: a real Unix socket on a real session loop."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stytch_jupyter.session.redirect.links import Redirect
from stytch_jupyter.session.redirect.mailbox import MAX_MESSAGE, MailboxReceiver, hand_over
from tests.session.test_loopback import Runner

FLOW = "m" * 22


@pytest.fixture
def runner() -> Iterator[Runner]:
    runner = Runner()
    yield runner
    runner.loop.stop()


@pytest.fixture
def mailbox() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sj-mb-") as where:
        os.chmod(where, 0o700)
        yield Path(where)


def test_the_handover_signs_in_on_the_session_loop_and_close_removes_the_socket(
    runner: Runner, mailbox: Path
) -> None:
    seen: list[tuple[Redirect, threading.Thread]] = []

    async def deliver(redirect: Redirect) -> tuple[bool, str]:
        seen.append((redirect, threading.current_thread()))
        return True, "Signed in."

    receiver = MailboxReceiver(mailbox, FLOW, deliver, runner=runner)
    receiver.start()
    try:
        assert oct(receiver.path.stat().st_mode & 0o777) == "0o600"
        verdict = asyncio.run(hand_over(mailbox, Redirect("tok-1", "magic_links", FLOW)))
        assert verdict == (True, "Signed in.")
        # Delivered where the session's requests run: no thread of its own, no hop back.
        assert seen == [(Redirect("tok-1", "magic_links", FLOW), runner.loop.thread)]
    finally:
        receiver.close()
    assert not receiver.running and not receiver.path.exists()
    verdict = asyncio.run(hand_over(mailbox, Redirect("tok-1", "magic_links", FLOW)))
    assert verdict[0] is False and "No sign-in is waiting" in verdict[1]


def test_a_bad_message_is_answered_and_delivers_nothing(runner: Runner, mailbox: Path) -> None:
    seen: list[Redirect] = []

    async def deliver(redirect: Redirect) -> tuple[bool, str]:
        seen.append(redirect)
        return True, "Signed in."

    receiver = MailboxReceiver(mailbox, FLOW, deliver, runner=runner)
    receiver.start()
    try:
        for message in (b"not json\n", b'{"flow": "' + b"x" * MAX_MESSAGE + b'"}\n'):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(5)
                client.connect(str(receiver.path))
                client.sendall(message)
                assert client.recv(4096) == b'{"ok": false, "message": "bad request"}\n'
        other = asyncio.run(hand_over(mailbox, Redirect("tok", "magic_links", FLOW)))
        assert other == (True, "Signed in.")  # still serving after the bad ones
        assert len(seen) == 1
    finally:
        receiver.close()
