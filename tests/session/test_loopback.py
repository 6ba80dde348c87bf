"""The loopback listener on its own: real sockets, a real session loop, a recording ``deliver``."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from stytch_jupyter.session.loop import LoopThread
from stytch_jupyter.session.redirect.links import Redirect
from stytch_jupyter.session.redirect.loopback import LoopbackListener
from tests.support import emulator_http as loopback
from tests.support.waiting import wait_for

T = TypeVar("T")


class Runner:
    """A session loop of its own, as the listener sees a manager."""

    def __init__(self) -> None:
        self.loop = LoopThread("test-loopback")

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return self.loop.submit(coro)

    def in_session_thread(self) -> bool:
        return self.loop.in_loop_thread()


@pytest.fixture
def runner() -> Iterator[Runner]:
    runner = Runner()
    yield runner
    runner.loop.stop()


async def refuse(redirect: Redirect) -> tuple[bool, str]:
    return False, "no"


def test_listener_hands_redirects_to_deliver_and_ignores_stray_requests(runner: Runner) -> None:
    seen: list[tuple[Redirect, threading.Thread]] = []

    async def deliver(redirect: Redirect) -> tuple[bool, str]:
        seen.append((redirect, threading.current_thread()))
        return True, "Signed in as <script>x</script>."

    listener = LoopbackListener(deliver, runner=runner, timeout=10)
    url = listener.start()
    try:
        assert url.endswith("/stytch-jupyter/callback")
        base = url.rsplit("/", 1)[0]
        assert loopback.get(f"{base}/favicon.ico").status_code == 404
        assert loopback.post(url).status_code == 405
        assert loopback.get(url).status_code == 400  # no token
        assert seen == []
        flow = "f" * 22
        page = loopback.get(f"{url}?flow={flow}&stytch_token_type=Magic_Links&token=tok-123")
        assert page.status_code == 200 and "tok-123" not in page.text
        assert "&lt;script&gt;" in page.text and "<script>" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        # Delivered on the session loop's own thread: no hop to another thread and back.
        assert seen == [(Redirect("tok-123", "magic_links", flow), runner.loop.thread)]
    finally:
        listener.close()
    assert not listener.running
    with pytest.raises(httpx.ConnectError):
        loopback.get(url)


def test_listener_stops_by_itself_at_its_deadline(runner: Runner) -> None:
    listener = LoopbackListener(refuse, runner=runner, timeout=0.3)
    url = listener.start()
    wait_for(lambda: not listener.running, what="the listener's deadline")
    with pytest.raises(httpx.ConnectError):
        loopback.get(url)
    listener.close()


def test_listener_close_cuts_an_idle_connection_and_frees_the_port(runner: Runner) -> None:
    listener = LoopbackListener(refuse, runner=runner, timeout=30)
    url = listener.start()
    port = httpx.URL(url).port
    assert port is not None
    idle = socket.create_connection(("127.0.0.1", port))  # connected, never sends a request
    try:
        wait_for(lambda: listener.connections == 1, what="the idle connection")
        listener.close()
        assert not listener.running
        assert listener.connections == 0
        idle.settimeout(5)
        assert idle.recv(1) == b""
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        idle.close()
        listener.close()


def test_an_idle_connection_does_not_hold_up_the_real_click(runner: Runner) -> None:
    listener = LoopbackListener(refuse, runner=runner, timeout=30)
    url = listener.start()
    port = httpx.URL(url).port
    assert port is not None
    idle = socket.create_connection(("127.0.0.1", port))  # a browser's preconnect
    try:
        wait_for(lambda: listener.connections == 1, what="the idle connection")
        page = loopback.get(f"{url}?stytch_token_type=magic_links&token=tok", timeout=3)
        assert page.status_code == 400 and "no" in page.text
    finally:
        idle.close()
        listener.close()


def test_close_from_the_session_loop_lets_the_answer_go_out(runner: Runner) -> None:
    # A flow that ends inside deliver closes its listener from the loop: that must neither
    # deadlock the loop nor cut the page of the request that signed in.
    holder: list[LoopbackListener] = []

    async def deliver(redirect: Redirect) -> tuple[bool, str]:
        holder[0].close()
        return True, "done"

    listener = LoopbackListener(deliver, runner=runner, timeout=30)
    holder.append(listener)
    url = listener.start()
    page = loopback.get(f"{url}?stytch_token_type=magic_links&token=tok", timeout=5)
    assert page.status_code == 200 and "done" in page.text
    wait_for(lambda: not listener.running, what="the listener to stop")
