"""The loopback listener on its own: real sockets, a recording ``deliver``."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from stytch_jupyter.session.redirect.links import Redirect
from stytch_jupyter.session.redirect.loopback import THREAD_PREFIX, LoopbackListener
from tests.support.waiting import wait_for


def listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def test_listener_hands_redirects_to_deliver_and_ignores_stray_requests() -> None:
    seen: list[Redirect] = []

    def deliver(redirect: Redirect) -> tuple[bool, str]:
        seen.append(redirect)
        return True, "Signed in as <script>x</script>."

    listener = LoopbackListener(deliver, timeout=10)
    url = listener.start()
    try:
        assert url.endswith("/stytch-jupyter/callback")
        base = url.rsplit("/", 1)[0]
        assert httpx.get(f"{base}/favicon.ico").status_code == 404
        assert httpx.get(url).status_code == 400  # no token
        assert seen == []
        flow = "f" * 22
        page = httpx.get(f"{url}?flow={flow}&stytch_token_type=Magic_Links&token=tok-123")
        assert page.status_code == 200 and "tok-123" not in page.text
        assert "&lt;script&gt;" in page.text and "<script>" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert seen == [Redirect("tok-123", "magic_links", flow)]
    finally:
        listener.close()
    assert not listener.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_listener_stops_by_itself_at_its_deadline() -> None:
    listener = LoopbackListener(lambda r: (False, "no"), timeout=0.3)
    listener.start()
    wait_for(lambda: not listener.running, what="the listener's deadline")
    listener.close()


def test_listener_close_cuts_an_idle_connection_and_frees_the_port() -> None:
    listener = LoopbackListener(lambda r: (False, "no"), timeout=30)
    url = listener.start()
    port = httpx.URL(url).port
    assert port is not None
    idle = socket.create_connection(("127.0.0.1", port))  # connected, never sends a request
    try:
        wait_for(lambda: len(listener_threads()) == 2, what="the idle connection's thread")
        listener.close()
        assert not listener.running
        assert not listener_threads()
        idle.settimeout(5)
        assert idle.recv(1) == b""
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        idle.close()
        listener.close()
