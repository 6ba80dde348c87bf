"""A one-shot loopback HTTP listener that catches a magic link's redirect in the kernel.

``%stytch login magic-link`` asks Stytch to redirect the emailed link to
``http://127.0.0.1:PORT/stytch-jupyter/NONCE``; the browser that opens the link lands here with
``?stytch_token_type=magic_links&token=...``. The listener hands the token to the kernel, waits
for the kernel to say how the sign-in went, answers the browser with a small page (never the
token), and shuts down. The random nonce in the path keeps any other local page from feeding
the kernel a token of its own choosing.
"""

from __future__ import annotations

import contextlib
import html
import queue
import secrets
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import MagicLinkError

DEFAULT_TIMEOUT = 300.0  # how long a user plausibly takes to open their email
RESPONSE_TIMEOUT = 60.0  # how long the browser waits for the kernel's verdict
CONNECTION_TIMEOUT = 5.0  # how long a connection may sit without sending its request
_POLL = 0.1

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="referrer" content="no-referrer"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32em; margin: 4em auto;">
<h1>{title}</h1><p>{message}</p></body></html>
"""


def token_from_link(text: str) -> str:
    """The ``token`` of a magic link URL, or ``text`` itself when it is a bare token."""
    text = text.strip()
    if not text:
        raise MagicLinkError("nothing was pasted")
    if "?" in text or "://" in text:
        return _token_from_query(urlsplit(text).query)
    return _check_token(text)


def _token_from_query(query: str) -> str:
    fields = parse_qs(query)
    kind = fields.get("stytch_token_type", ["magic_links"])[0]
    if kind != "magic_links":
        raise MagicLinkError(f"that link is for {kind[:30]!r}, not a magic link")
    tokens = fields.get("token")
    if not tokens or not tokens[0].strip():
        raise MagicLinkError("that link has no token=… in it; paste the whole link")
    return _check_token(tokens[0].strip())


def _check_token(token: str) -> str:
    if any(ch.isspace() for ch in token) or len(token) > 512:
        raise MagicLinkError("that does not look like a magic link or its token")
    return token


class _Server(socketserver.ThreadingTCPServer):
    # socketserver's, not http.server.HTTPServer: the latter resolves the host's FQDN on bind,
    # which can stall on a machine with slow DNS. A thread per connection: a browser opens
    # speculative connections that may never send a request, and one of those must not hold
    # up the real one.
    allow_reuse_address = False
    daemon_threads = True
    block_on_close = False  # close() joins the threads itself, with a bound
    listener: MagicLinkListener

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="stytch-magic-link-request",
            daemon=True,
        )
        self.listener._track(request, thread)
        thread.start()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Socket reads and writes give up after this long: an idle connection is dropped, not held.
    timeout = CONNECTION_TIMEOUT

    def do_GET(self) -> None:
        self.server.listener._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line carries the token: never log it

    def send_page(self, status: int, title: str, message: str) -> None:
        body = _PAGE.format(title=html.escape(title), message=html.escape(message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class MagicLinkListener:
    """``start()`` → URL for ``login_magic_link_url``; ``wait()`` → token; ``respond(ok, msg)``."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, host: str = "127.0.0.1") -> None:
        self.timeout = timeout
        self._host = host
        self._nonce = secrets.token_urlsafe(18)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tokens: queue.Queue[str] = queue.Queue(maxsize=1)
        self._verdict: queue.Queue[tuple[bool, str]] = queue.Queue(maxsize=1)
        self._done = threading.Event()
        self._connections_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    @property
    def path(self) -> str:
        return f"/stytch-jupyter/{self._nonce}"

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the listener is not started")
        port = self._server.server_address[1]
        return f"http://{self._host}:{port}{self.path}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> str:
        """Bind a random loopback port and serve on a daemon thread (``OSError`` if it cannot)."""
        server = _Server((self._host, 0), _Handler)
        server.listener = self
        server.timeout = _POLL
        self._server = server
        self._thread = threading.Thread(target=self._serve, name="stytch-magic-link", daemon=True)
        self._thread.start()
        return self.url

    def _serve(self) -> None:
        assert self._server is not None
        deadline = time.monotonic() + self.timeout + RESPONSE_TIMEOUT
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
        if url.path != self.path or self._done.is_set():
            # A stray request (a favicon, a guess) must not use up the one sign-in.
            request.send_page(404, "Not found", "This is not a Stytch sign-in link.")
            return
        try:
            token = _token_from_query(url.query)
        except MagicLinkError as exc:
            request.send_page(400, "Not signed in", f"{str(exc).capitalize()}.")
            return
        try:
            self._tokens.put_nowait(token)
        except queue.Full:
            request.send_page(409, "Already used", "This sign-in link was already opened.")
            return
        try:
            ok, message = self._verdict.get(timeout=RESPONSE_TIMEOUT)
        except queue.Empty:
            ok, message = False, "The notebook did not answer. Return to it and try again."
        title = "You're signed in" if ok else "Not signed in"
        request.send_page(200 if ok else 400, title, message)
        self._done.set()

    def wait(self, timeout: float | None = None) -> str:
        """The token, once a browser opens the link; ``TimeoutError`` after ``timeout``.

        Waits in short slices so that Ctrl-C (KeyboardInterrupt) gets through at once.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                return self._tokens.get(timeout=_POLL)
            except queue.Empty:
                if time.monotonic() >= deadline or self._done.is_set():
                    raise TimeoutError("no browser opened the sign-in link in time") from None

    def respond(self, ok: bool, message: str) -> None:
        """Tell the waiting browser how the sign-in went (``message`` is shown on its page)."""
        with contextlib.suppress(queue.Full):  # a verdict was given already
            self._verdict.put_nowait((ok, message))

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening (after answering a browser still waiting for a verdict).

        Returns once the port is closed and every connection's thread has ended: a connection
        that never sent its request (a browser's preconnect) is cut, not waited out.
        """
        self.respond(False, "Sign-in was cancelled in the notebook.")
        self._done.set()
        deadline = time.monotonic() + timeout
        current = threading.current_thread()
        if self._thread is not None and self._thread is not current:
            self._thread.join(timeout)
        with self._connections_lock:
            connections, self._connections = self._connections, {}
        for connection in connections:
            # Reads end at once (EOF); a page being written still goes out.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD)
        for thread in connections.values():
            if thread is not current:
                thread.join(max(deadline - time.monotonic(), 0.0))

    def __enter__(self) -> MagicLinkListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
