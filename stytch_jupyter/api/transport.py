"""An httpx transport on asyncio itself: HTTP/1.1 through h11, connections kept alive.

httpx's own async transport (httpcore) reaches asyncio through sniffio and anyio: in a fresh
kernel that is tens of milliseconds of imports before the first request (the session's
rehydration pays them), and a few layers of cancel scopes and stream wrappers on every call.
This transport speaks to the loop directly: one ``asyncio.Protocol`` per connection, the
request written in one piece, the reply parsed by h11 (which httpx brings). What it does not
do, it leaves to httpx's transport: ``StytchClient`` uses this one only where httpx would make
a direct connection (no proxy in the environment), and HTTP/1.1 is all Stytch's client API
needs.

Certificates are verified with the context httpx would build (``tls.py``). Every wait has the
request's timeout (connect, read, write); the client around it keeps its whole-request deadline
and its reply-size cap. Errors are httpx's own exception types, so callers see no difference.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

from . import tls

# An idle connection is dropped after this long, and at most this many wait (httpx: 5 s, 10).
# A second under the 5 s after which uvicorn (the emulator's server) and Node close idle
# connections, so a request rarely goes out on one the server is closing.
KEEPALIVE_EXPIRY = 4.0
MAX_IDLE = 10
# A server may still close an idle connection just as a request goes out on it. A request of
# these methods that got no byte of reply on a reused connection is sent once more on a new
# one, as browsers do; any other (a POST: a sign-in may have happened) is not replayed.
REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
# h11's cap on a reply's status line and headers: a server sending endless headers is refused.
MAX_HEAD_BYTES = 64 * 1024
_READ_SIZE = 64 * 1024
_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]


class _Wire(asyncio.Protocol):
    """One connection's socket: bytes in as they arrive, one reader waiting at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self.received = 0  # bytes in so far, the connection's whole life
        self._closed = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._can_write: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self.received += len(data)
        self._wake()

    def eof_received(self) -> bool:
        self._closed = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._can_write is None:
            self._can_write = self._loop.create_future()

    def resume_writing(self) -> None:
        waiter, self._can_write = self._can_write, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- what a connection uses ----------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, and the server has sent nothing unasked (an idle connection it closed has)."""
        transport = self.transport
        return (
            not self._closed
            and not self._buffer
            and not (transport is None or transport.is_closing())
        )

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self, timeout: float | None) -> bytes:
        """What has arrived (waiting up to ``timeout`` for some); b"" once the server closed."""
        if not self._buffer and not self._closed:
            self._waiter = waiter = self._loop.create_future()
            await _within(waiter, timeout, httpx.ReadTimeout)
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        if self._error is not None:
            raise httpx.ReadError(_describe(self._error))
        return b""

    async def write(self, data: bytes, timeout: float | None) -> None:
        transport = self.transport
        if self._closed or transport is None or transport.is_closing():
            raise httpx.WriteError(_describe(self._error) if self._error else "connection closed")
        transport.write(data)
        if self._can_write is not None:  # the kernel's buffer is full: wait until it drains
            await _within(self._can_write, timeout, httpx.WriteTimeout)
            if self._closed:
                raise httpx.WriteError("connection closed while writing")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _within(
    future: asyncio.Future[None], timeout: float | None, error: type[httpx.TimeoutException]
) -> None:
    """Await ``future`` for at most ``timeout`` seconds (a timer on it, no extra task)."""
    if timeout is None:
        await future
        return
    handle = asyncio.get_running_loop().call_later(timeout, _expire, future, error, timeout)
    try:
        await future
    finally:
        handle.cancel()


def _expire(
    future: asyncio.Future[None], error: type[httpx.TimeoutException], after: float
) -> None:
    if not future.done():
        future.set_exception(error(f"no progress within {after:g}s"))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Connection:
    def __init__(self, wire: _Wire, origin: Origin) -> None:
        self.wire = wire
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = 0.0

    @property
    def reusable(self) -> bool:
        return self.wire.usable and time.monotonic() - self.idle_since < KEEPALIVE_EXPIRY

    async def next_event(self, timeout: float | None) -> Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if event is not h11.NEED_DATA:
                return event
            data = await self.wire.read(timeout)
            try:
                self.h11.receive_data(data)
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None


class AsyncioTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 on the running asyncio loop, keeping idle connections per origin.

    ``trust_env`` is passed to the TLS context (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), as
    ``httpx.AsyncHTTPTransport`` does; proxies are not handled here.
    """

    def __init__(self, *, trust_env: bool = True) -> None:
        self._trust_env = trust_env
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport was closed")
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _PORTS:
            raise httpx.UnsupportedProtocol(f"request URL has an unsupported scheme {scheme!r}")
        origin = (scheme, url.raw_host, url.port or _PORTS[scheme])
        timeouts = request.extensions.get("timeout", {})
        assert isinstance(request.stream, httpx.AsyncByteStream)
        body = b"".join([part async for part in request.stream])
        connection = self._take_idle(origin)
        if connection is not None:
            received = connection.wire.received
            try:
                return await self._send(connection, request, body, timeouts)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                self.drop(connection)
                if request.method not in REPLAYABLE or connection.wire.received != received:
                    raise
            except BaseException:
                self.drop(connection)
                raise
        connection = await self._connect(origin, timeouts)
        try:
            return await self._send(connection, request, body, timeouts)
        except BaseException:
            self.drop(connection)
            raise

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.reusable:
                return connection
            self.drop(connection)
        return None

    async def _connect(self, origin: Origin, timeouts: dict[str, Any]) -> _Connection:
        scheme, host, port = origin
        name = host.decode("ascii")
        timeout = timeouts.get("connect")
        context = None
        if scheme == b"https":
            try:
                context = await tls.context_async(self._trust_env)
            except (OSError, ValueError) as exc:  # a missing SSL_CERT_FILE, say
                raise httpx.ConnectError(f"no TLS context: {_describe(exc)}") from None
        loop = asyncio.get_running_loop()
        try:
            _, wire = await asyncio.wait_for(
                loop.create_connection(
                    _Wire,
                    name,
                    port,
                    ssl=context,
                    server_hostname=name if context is not None else None,
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"no connection within {timeout:g}s") from None
        except OSError as exc:  # ssl.SSLError (a certificate that does not verify) is one too
            raise httpx.ConnectError(_describe(exc)) from None
        connection = _Connection(wire, origin)
        self._open.add(connection)
        return connection

    async def _send(
        self,
        connection: _Connection,
        request: httpx.Request,
        body: bytes,
        timeouts: dict[str, Any],
    ) -> httpx.Response:
        protocol = connection.h11
        try:
            head = protocol.send(
                h11.Request(
                    method=request.method, target=request.url.raw_path, headers=request.headers.raw
                )
            )
            data = protocol.send(h11.Data(data=body)) if body else b""
            end = protocol.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from None
        # One write for the whole request: one segment on the wire for a small body.
        message = b"".join((head or b"", data or b"", end or b""))
        await connection.wire.write(message, timeouts.get("write"))
        read_timeout = timeouts.get("read")
        while True:
            event = await connection.next_event(read_timeout)
            if isinstance(event, h11.Response):
                break
            if isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the server closed the connection without a reply")
            # h11.InformationalResponse (100 Continue and the like): the reply follows.
        return httpx.Response(
            status_code=event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, connection, read_timeout),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": event.reason},
        )

    def release(self, connection: _Connection) -> None:
        """A reply read to its end: keep the connection for the next request if h11 allows."""
        protocol = connection.h11
        if (
            self._closed
            or protocol.our_state is not h11.DONE
            or protocol.their_state is not h11.DONE
        ):
            self.drop(connection)
            return
        protocol.start_next_cycle()
        idle = self._idle.setdefault(connection.origin, [])
        if len(idle) >= MAX_IDLE:
            self.drop(connection)
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    def drop(self, connection: _Connection) -> None:
        """Close ``connection`` for good."""
        self._open.discard(connection)
        connection.wire.close()

    async def aclose(self) -> None:
        self._closed = True
        for connection in list(self._open):
            self.drop(connection)
        self._idle.clear()


class _Body(httpx.AsyncByteStream):
    """A reply's body as it arrives; read to its end, the connection goes back to the pool."""

    def __init__(
        self, transport: AsyncioTransport, connection: _Connection, timeout: float | None
    ) -> None:
        self._transport = transport
        self._connection: _Connection | None = connection
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        while True:
            try:
                event = await connection.next_event(self._timeout)
            except BaseException:
                await self.aclose()
                raise
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._connection = None
                self._transport.release(connection)
                return
            else:  # ConnectionClosed before the body's end, or a reply h11 cannot frame
                await self.aclose()
                raise httpx.RemoteProtocolError("the server closed the connection mid-reply")

    async def aclose(self) -> None:
        # Closed before its end (a reply over the size cap, an error): the rest is unread, so
        # the connection cannot carry another request.
        connection, self._connection = self._connection, None
        if connection is not None:
            self._transport.drop(connection)
