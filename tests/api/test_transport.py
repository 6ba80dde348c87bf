"""The asyncio transport (api/transport.py) against real loopback servers of the test's own.

A scripted server answers each request the way a test asks (keep-alive, close, cut short,
garbage, silence) and counts connections; TLS runs against a server with a certificate made
here. The emulator serves the end-to-end cases (StytchClient, a fresh process).
"""

from __future__ import annotations

import asyncio
import json
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from stytch_jupyter.api import StytchNetworkError, tls
from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.api.transport import MAX_HEAD_BYTES, AsyncioTransport
from stytch_jupyter.emulator import Emulator
from tests.support.certificates import self_signed

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"data":{}}'
# What a handler does with one connection's socket after reading a request: True keeps it open.
Script = Callable[[socket.socket, int], bool]


def keep_alive(conn: socket.socket, n: int) -> bool:
    conn.sendall(OK)
    return True


class ScriptedServer:
    """A loopback HTTP/1.1 server: reads each request head, then runs ``script`` on the socket."""

    def __init__(self, script: Script = keep_alive, context: ssl.SSLContext | None = None):
        self.script = script
        self.connections = 0
        self.closed = 0
        self.requests: list[bytes] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                if context is not None:
                    try:
                        conn = context.wrap_socket(conn, server_side=True)
                    except (ssl.SSLError, OSError):
                        return
                owner.connections += 1
                try:
                    buffer = b""
                    while True:
                        while b"\r\n\r\n" not in buffer:
                            data = conn.recv(65536)
                            if not data:
                                return
                            buffer += data
                        head, _, buffer = buffer.partition(b"\r\n\r\n")
                        length = 0
                        for line in head.split(b"\r\n")[1:]:
                            name, _, value = line.partition(b":")
                            if name.strip().lower() == b"content-length":
                                length = int(value)
                        while len(buffer) < length:
                            buffer += conn.recv(65536)
                        buffer = buffer[length:]
                        owner.requests.append(head)
                        if not owner.script(conn, len(owner.requests)):
                            return
                except OSError:
                    return
                finally:
                    conn.close()
                    owner.closed += 1

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        # serve_forever looks for shutdown() every poll_interval (0.5 s by default).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def get(url: str, timeout: float = 5.0, **kwargs: object) -> list[httpx.Response]:
    """GET ``url`` once per kwargs-less call, in one client, on one asyncio loop."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=AsyncioTransport(), timeout=timeout) as client:
            return [await client.get(url)]

    return asyncio.run(run())


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[ScriptedServer]:
    with ScriptedServer(getattr(request, "param", keep_alive)) as running:
        yield running


def test_sequential_requests_share_one_connection(server: ScriptedServer) -> None:
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            replies = [
                await client.post(f"http://127.0.0.1:{server.port}/x", json={"n": n})
                for n in range(3)
            ]
        return [r.status_code for r in replies]

    assert asyncio.run(run()) == [200, 200, 200]
    assert server.connections == 1 and len(server.requests) == 3
    assert all(
        b"POST /x HTTP/1.1" in head and b"host: 127.0.0.1" in head.lower()
        for head in server.requests
    )


def test_concurrent_requests_open_a_connection_each(server: ScriptedServer) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            await asyncio.gather(client.get(url), client.get(url))
            await client.get(url)  # one of the two idle ones

    asyncio.run(run())
    assert server.connections == 2 and len(server.requests) == 3


def closes_after_reply(conn: socket.socket, n: int) -> bool:
    conn.sendall(OK)  # no "Connection: close": the client learns it from the socket
    return False


@pytest.mark.parametrize("server", [closes_after_reply], indirect=True)
def test_an_idle_connection_the_server_closed_is_not_reused(server: ScriptedServer) -> None:
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            first = await client.post(url)
            await until(lambda: server.closed == 1)
            await asyncio.sleep(0.05)  # the loop takes in the server's EOF
            # A POST, which is never sent twice: it succeeds only on a fresh connection.
            second = await client.post(url)
        return [first.status_code, second.status_code]

    assert asyncio.run(run()) == [200, 200]
    assert server.connections == 2 and len(server.requests) == 2


def closes_the_second_request(conn: socket.socket, n: int) -> bool:
    """The keep-alive race as the client meets it: the server closes the idle connection just
    as the next request arrives on it, with no byte of reply."""
    return n != 2 and keep_alive(conn, n)


@pytest.mark.parametrize("server", [closes_the_second_request], indirect=True)
def test_a_get_the_server_closed_on_a_reused_connection_is_sent_again(
    server: ScriptedServer,
) -> None:
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            return [(await client.get(url)).status_code for _ in range(2)]

    assert asyncio.run(run()) == [200, 200]
    assert len(server.requests) == 3 and server.connections == 2  # once more, on a new one


@pytest.mark.parametrize("server", [closes_the_second_request], indirect=True)
def test_a_post_the_server_closed_is_not_sent_again(server: ScriptedServer) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            assert (await client.post(url, json={})).status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(url, json={})  # a sign-in may have happened: not replayed

    asyncio.run(run())
    assert len(server.requests) == 2


def cut_short(conn: socket.socket, n: int) -> bool:
    if n == 1:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"data"')
        return False
    return keep_alive(conn, n)


@pytest.mark.parametrize("server", [cut_short], indirect=True)
def test_a_reply_cut_short_is_an_error_and_its_connection_is_dropped(
    server: ScriptedServer,
) -> None:
    async def run() -> int:
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(url)
            return (await client.get(url)).status_code

    assert asyncio.run(run()) == 200
    assert server.connections == 2


def test_a_reply_left_unread_closes_its_connection(server: ScriptedServer) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            async with client.stream("GET", url) as response:
                assert response.status_code == 200  # closed without reading the body
            assert (await client.get(url)).json() == {"data": {}}

    asyncio.run(run())
    assert server.connections == 2


def silent(conn: socket.socket, n: int) -> bool:
    conn.recv(1)  # until the client hangs up
    return False


@pytest.mark.parametrize("server", [silent], indirect=True)
def test_no_reply_within_the_read_timeout(server: ScriptedServer) -> None:
    with pytest.raises(httpx.ReadTimeout):
        get(f"http://127.0.0.1:{server.port}/", timeout=0.2)


def garbage(conn: socket.socket, n: int) -> bool:
    conn.sendall(b"SMTP ready\r\n\r\n")
    return False


def endless_headers(conn: socket.socket, n: int) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n")
    conn.recv(1)
    return False


@pytest.mark.parametrize("server", [garbage, endless_headers], indirect=True)
def test_a_reply_that_is_not_http_is_a_protocol_error(server: ScriptedServer) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        get(f"http://127.0.0.1:{server.port}/")


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        get(f"http://127.0.0.1:{port}/")


# ---- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[ScriptedServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with ScriptedServer(keep_alive, context) as running:
        yield running


def test_an_unknown_certificate_is_refused(tls_server: ScriptedServer) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get(f"https://localhost:{tls_server.port}/")


def test_a_certificate_trusted_through_ssl_cert_file_is_accepted(
    tls_server: ScriptedServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    assert get(f"https://localhost:{tls_server.port}/")[0].json() == {"data": {}}
    # The name is checked as well: the certificate does not name 127.0.0.2.
    with pytest.raises(httpx.ConnectError):
        get(f"https://127.0.0.2:{tls_server.port}/")


def test_ssl_cert_file_is_ignored_when_the_environment_is_not_trusted(
    tls_server: ScriptedServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))

    async def run() -> None:
        transport = AsyncioTransport(trust_env=False)
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(f"https://localhost:{tls_server.port}/")

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(run())


def _context_facts(context: ssl.SSLContext) -> object:
    return (
        context.protocol,
        context.verify_mode,
        context.check_hostname,
        context.options,
        context.minimum_version,
        context.maximum_version,
        context.verify_flags,
        sorted(json.dumps(c, sort_keys=True) for c in context.get_ca_certs()),
    )


@pytest.mark.parametrize("trust_env", [True, False])
@pytest.mark.parametrize("env", [None, "SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_the_context_is_the_one_httpx_builds(
    env: str | None,
    trust_env: bool,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    if env == "SSL_CERT_FILE":
        monkeypatch.setenv(env, str(certificate[0]))
    elif env == "SSL_CERT_DIR":
        monkeypatch.setenv(env, str(certificate[0].parent))
    ours = tls.default_context(trust_env)
    theirs = httpx.create_ssl_context(trust_env=trust_env)
    assert _context_facts(ours) == _context_facts(theirs)


def test_a_prepared_context_is_built_once_and_shared() -> None:
    built: list[int] = []

    def run(build: Callable[[], ssl.SSLContext]) -> object:
        built.append(1)
        from concurrent.futures import Future

        future: Future[ssl.SSLContext] = Future()
        future.set_result(build())
        return future

    tls.prepare(run=run)  # type: ignore[arg-type]
    tls.prepare(run=run)  # type: ignore[arg-type]
    first = asyncio.run(tls.context_async())
    assert asyncio.run(tls.context_async()) is first
    assert len(built) <= 1  # none if an earlier test built it already


def test_a_build_that_never_ran_is_redone() -> None:
    from concurrent.futures import Future

    def refuse(build: Callable[[], ssl.SSLContext]) -> Future[ssl.SSLContext]:
        future: Future[ssl.SSLContext] = Future()
        future.set_exception(RuntimeError("the worker was closed"))
        return future

    tls.forget()
    tls.prepare(run=refuse)
    assert isinstance(asyncio.run(tls.context_async()), ssl.SSLContext)


# ---- through StytchClient -------------------------------------------------------------------


class RecordingProxy:
    """A loopback "proxy" that notes the first line it is sent and refuses the tunnel."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner.lines.append(self.rfile.readline().strip())
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_proxy_in_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RecordingProxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    try:
        client = StytchClient("public-token-test-00000000-0000-4000-8000-000000000000")

        async def run() -> None:
            try:
                await client.sessions_authenticate("a-session-token")
            finally:
                await client.aclose()

        with pytest.raises(StytchNetworkError):
            asyncio.run(run())
    finally:
        proxy.close()
    assert proxy.lines == [b"CONNECT test.stytch.com:443 HTTP/1.1"]


def test_a_session_request_imports_no_anyio_in_a_fresh_process(emulator: Emulator) -> None:
    code = f"""
import asyncio, sys
from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.api import StytchAPIError

async def main():
    async with StytchClient({emulator.public_token!r}, api_url={emulator.api_url!r}) as client:
        try:
            await client.sessions_authenticate("not-a-session-token")
        except StytchAPIError as exc:
            print("status", exc.status_code)

asyncio.run(main())
print(sorted(m for m in sys.modules if m == "sniffio" or m == "httpcore._backends.anyio"
      or m.startswith(("anyio._backends", "anyio._core", "anyio.streams"))))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    status, modules = done.stdout.splitlines()
    assert status.startswith("status 4")
    assert modules == "[]"
