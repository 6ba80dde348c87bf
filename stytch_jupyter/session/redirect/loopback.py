"""The loopback way back: a short-lived HTTP listener on 127.0.0.1 inside the kernel.

Stytch redirects the browser to ``http://127.0.0.1:PORT/stytch-jupyter/callback?flow=ID&
stytch_token_type=…&token=…``. The listener serves on the session loop (no thread of its own):
each connection is a task there, so a browser's idle preconnect does not hold up the real
click, and ``deliver`` (a coroutine) authenticates right where the request arrived, with no
hop to another thread and back. The browser gets a small page with the outcome, never the
token. Whoever owns the listener closes it when its flow ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ..errors import RedirectError
from .links import CALLBACK_PATH, Redirect, redirect_from_query
from .pages import PAGE_HEADERS, plain_page, result_page

CONNECTION_TIMEOUT = 5.0  # how long a connection may sit without sending its request
MAX_HEAD = 16 * 1024  # a request line and headers; a real redirect needs far less

T = TypeVar("T")
Deliver = Callable[[Redirect], Awaitable[tuple[bool, str]]]

_open: set[LoopbackListener] = set()  # whose port is bound (no thread shows a listener now)


def open_listeners() -> int:
    """How many loopback listeners in this process still hold their port."""
    return len(_open)


class LoopRunner(Protocol):
    """Where the listener serves: the session loop (``SessionManager`` and ``LoopThread``)."""

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]: ...

    def in_session_thread(self) -> bool: ...


class LoopbackListener:
    """``start()`` → the callback URL (without the flow id); requests go to ``deliver``."""

    def __init__(
        self,
        deliver: Deliver,
        *,
        runner: LoopRunner,
        timeout: float,
        host: str = "127.0.0.1",
    ) -> None:
        self.timeout = timeout
        self._deliver = deliver
        self._runner = runner
        self._host = host
        self._port: int | None = None
        self._serving: concurrent.futures.Future[None] | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done = threading.Event()
        self._waiting: set[asyncio.Task[Any]] = set()  # connections that sent no request yet
        self._answering: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the listener is not started")
        return f"http://{self._host}:{self._port}{CALLBACK_PATH}"

    @property
    def running(self) -> bool:
        return self._serving is not None and not self._serving.done()

    @property
    def connections(self) -> int:
        """Connections open right now (idle or being answered)."""
        return len(self._waiting) + len(self._answering)

    def start(self) -> str:
        """Bind a random loopback port (``OSError`` if it cannot) and serve on the session loop.

        The port is bound here, so the URL is good at once: a request that comes before the
        loop picks the socket up waits in its backlog."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self._host, 0))
            sock.listen(16)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        _open.add(self)
        try:
            self._serving = self._runner.submit(self._serve(sock))
        except BaseException:  # the session loop is closed: nothing will serve this socket
            _open.discard(self)
            sock.close()
            raise
        return self.url

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._done.is_set():
            self._stop.set()  # closed before the loop got here
        try:
            server = await asyncio.start_server(self._connection, sock=sock, limit=MAX_HEAD)
        except BaseException:
            sock.close()
            self._done.set()
            _open.discard(self)
            raise
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.timeout)
        finally:
            self._done.set()
            server.close()  # the port is free from here on
            _open.discard(self)
            for task in self._waiting:
                task.cancel()  # a connection that never sent its request is cut, not waited
            # One being answered finishes: its sign-in completes and its page goes out.
            pending = self._waiting | self._answering
            if pending:
                await asyncio.wait(pending)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECTION_TIMEOUT)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return  # idle, or gone: nothing to answer
            except asyncio.LimitOverrunError:
                head = b""
            self._waiting.discard(task)
            self._answering.add(task)
            status, body = await self._answer(head)
            writer.write(_response(status, body))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            self._waiting.discard(task)
            self._answering.discard(task)
            writer.close()

    async def _answer(self, head: bytes) -> tuple[int, str]:
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return plain_page(400, "Bad request", "This is not a Stytch sign-in link.")
        if parts[0] != b"GET":
            return plain_page(405, "Not allowed", "This is not a Stytch sign-in link.")
        url = urlsplit(parts[1].decode("latin-1"))
        if url.path != CALLBACK_PATH or self._done.is_set():
            # A stray request (a favicon, a guess) is not a sign-in and uses nothing up.
            return plain_page(404, "Not found", "This is not a Stytch sign-in link.")
        try:
            redirect = redirect_from_query(url.query)
        except RedirectError as exc:
            return result_page(False, f"{str(exc).capitalize()}.")
        return result_page(*await self._deliver(redirect))

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening. From another thread, returns once the port is closed and every
        connection has ended (one that never sent its request is cut, not waited out); from
        the session loop itself (a request's own ``deliver``), it only asks: the page of the
        request being answered still goes out."""
        self._done.set()
        loop, stop, serving = self._loop, self._stop, self._serving
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if serving is None or self._runner.in_session_thread():
            return
        with contextlib.suppress(Exception):  # timed out, cancelled, or failed: it is over
            serving.result(timeout)


def _response(status: int, body_html: str) -> bytes:
    body = body_html.encode()
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in PAGE_HEADERS.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body
