"""Over https the client checks the server's certificate (plain http to loopback has none)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stytch_jupyter.api import StytchNetworkError
from stytch_jupyter.api.client import StytchClient
from tests.support.certificates import self_signed
from tests.support.waiting import wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A TLS listener on loopback with a certificate no authority signed; it records how each
    handshake ended ("ok" or the error) and answers nothing."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    outcomes: list[str] = []

    def serve() -> None:
        with listener:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    with context.wrap_socket(conn, server_side=True):
                        outcomes.append("ok")
                except (ssl.SSLError, OSError) as exc:
                    outcomes.append(type(exc).__name__)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", outcomes
    listener.close()
    thread.join(5)


async def test_an_https_api_with_an_unsigned_certificate_is_refused(tls_server) -> None:
    url, outcomes = tls_server
    async with StytchClient("public-token-test-x", api_url=url, timeout=5) as client:
        with pytest.raises(StytchNetworkError, match=r"(?i)certificate"):
            await client.users_me("session-token")
    wait_for(lambda: bool(outcomes), what="the server to see the handshake end")
    assert outcomes[0] != "ok"  # the client hung up in the handshake
