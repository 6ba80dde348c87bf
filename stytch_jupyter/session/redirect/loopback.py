"""The loopback way back: a short-lived HTTP listener on 127.0.0.1 inside the kernel.

Stytch redirects the browser to ``http://127.0.0.1:PORT/stytch-jupyter/callback?flow=ID&
stytch_token_type=…&token=…``. Each request is handed to ``deliver`` on its own thread (a
browser's idle preconnect must not hold up the real click), and the browser gets a small page
with the outcome, never the token. Whoever owns the listener closes it when its flow ends.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from ..errors import RedirectError
from .links import CALLBACK_PATH, Redirect, redirect_from_query
from .pages import PAGE_HEADERS, plain_page, result_page

CONNECTION_TIMEOUT = 5.0  # how long a connection may sit without sending its request
THREAD_PREFIX = "stytch-redirect-loopback"
_POLL = 0.1

Deliver = Callable[[Redirect], tuple[bool, str]]


class _Server(socketserver.ThreadingTCPServer):
    # socketserver's, not http.server.HTTPServer: the latter resolves the host's FQDN on bind,
    # which can stall on a machine with slow DNS.
    allow_reuse_address = False
    daemon_threads = True
    block_on_close = False  # close() joins the threads itself, with a bound
    listener: LoopbackListener

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{THREAD_PREFIX}-request",
            daemon=True,
        )
        self.listener._track(request, thread)
        thread.start()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = CONNECTION_TIMEOUT  # an idle connection is dropped, not held

    def do_GET(self) -> None:
        self.server.listener._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line carries the token: never log it

    def send_page(self, status: int, body_html: str) -> None:
        body = body_html.encode()
        self.send_response(status)
        for name, value in PAGE_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class LoopbackListener:
    """``start()`` → the callback URL (without the flow id); requests go to ``deliver``."""

    def __init__(self, deliver: Deliver, *, timeout: float, host: str = "127.0.0.1") -> None:
        self.timeout = timeout
        self._deliver = deliver
        self._host = host
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._connections_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the listener is not started")
        port = self._server.server_address[1]
        return f"http://{self._host}:{port}{CALLBACK_PATH}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> str:
        """Bind a random loopback port and serve on a daemon thread (``OSError`` if it cannot)."""
        server = _Server((self._host, 0), _Handler)
        server.listener = self
        server.timeout = _POLL
        self._server = server
        self._thread = threading.Thread(target=self._serve, name=THREAD_PREFIX, daemon=True)
        self._thread.start()
        return self.url

    def _serve(self) -> None:
        assert self._server is not None
        deadline = time.monotonic() + self.timeout
        try:
            while not self._done.is_set() and time.monotonic() < deadline:
                self._server.handle_request()
        finally:
            self._server.server_close()
            self._done.set()

    def _track(self, connection: socket.socket, thread: threading.Thread) -> None:
        with self._connections_lock:
            self._connections = {c: t for c, t in self._connections.items() if t.is_alive()}
            self._connections[connection] = thread

    def _handle(self, request: _Handler) -> None:
        url = urlsplit(request.path)
        if url.path != CALLBACK_PATH or self._done.is_set():
            # A stray request (a favicon, a guess) is not a sign-in and uses nothing up.
            request.send_page(*plain_page(404, "Not found", "This is not a Stytch sign-in link."))
            return
        try:
            redirect = redirect_from_query(url.query)
        except RedirectError as exc:
            request.send_page(*result_page(False, f"{str(exc).capitalize()}."))
            return
        ok, message = self._deliver(redirect)
        request.send_page(*result_page(ok, message))

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening. Returns once the port is closed and every connection's thread has
        ended (a connection that never sent its request is cut, not waited out); safe to call
        from a request's own thread, whose page still goes out."""
        self._done.set()
        deadline = time.monotonic() + timeout
        current = threading.current_thread()
        if self._thread is not None and self._thread is not current:
            self._thread.join(timeout)
        with self._connections_lock:
            connections, self._connections = self._connections, {}
        for connection, thread in connections.items():
            if thread is current:
                continue
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD)  # reads end at once; writes still go out
        for thread in connections.values():
            if thread is not current:
                thread.join(max(deadline - time.monotonic(), 0.0))
