"""A loopback HTTP server of the tests' own that answers the way a hostile or broken server would.

By default it forwards every request to an upstream (the emulator), so a session can sign in
through it; a test then arms a reply for the requests whose path ends with a suffix:

    with HostileServer(upstream=emulator.api_url) as server:
        server.arm("sessions/authenticate", trickle(b"{}", every=1.0))

Replies it can give (each a function of the request handler):

- ``json_reply`` / ``raw_reply``: any status, headers and body (a 5xx with an unrecoverable
  ``error_type``, garbage, deeply nested JSON, huge integers);
- ``trickle``: a valid status line, then the body one byte every ``every`` seconds;
- ``huge``: a body of ``size`` bytes, streamed; ``server.sent`` says how much got out before the
  client hung up;
- ``hang``: no answer at all, for as long as the server runs;
- ``rewrite``: the upstream's real answer with its JSON changed by a function (a clock in 2999).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .emulator_http import loopback_client

Reply = Callable[["_Handler"], None]


@dataclass
class _Armed:
    suffix: str
    reply: Reply
    times: int | None  # None: every matching request


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        owner.requests.append(self.path)
        reply = owner.take(self.path)
        try:
            if reply is None:
                forward(self)
            else:
                reply(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what a hostile reply is for
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def send_bytes(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HostileServer


class HostileServer:
    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream.rstrip("/") if upstream else None
        self.requests: list[str] = []
        self.sent = 0  # body bytes a streaming reply got out
        self._armed: list[_Armed] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        # serve_forever looks for shutdown() every poll_interval (0.5 s by default): each test
        # using a server waited that out at its end.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def arm(self, suffix: str, reply: Reply, times: int | None = None) -> None:
        """Answer requests whose path ends with ``suffix`` with ``reply`` (``times`` times)."""
        with self._lock:
            self._armed.append(_Armed(suffix, reply, times))

    def disarm(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, path: str) -> Reply | None:
        with self._lock:
            for armed in self._armed:
                if path.split("?")[0].endswith(armed.suffix):
                    if armed.times is not None:
                        armed.times -= 1
                        if armed.times <= 0:
                            self._armed.remove(armed)
                    return armed.reply
        return None

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def forward(handler: _Handler) -> None:
    status, headers, body = _upstream(handler)
    handler.send_bytes(status, body, headers)


def _upstream(handler: _Handler) -> tuple[int, dict[str, str], bytes]:
    owner = handler.server.owner
    if owner.upstream is None:
        return 404, {"Content-Type": "application/json"}, b'{"error_type":"no_upstream"}'
    keep = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
    with loopback_client() as http:
        answer = http.request(
            handler.command, owner.upstream + handler.path, headers=keep, content=handler.body
        )
    kept = {"Content-Type": answer.headers.get("content-type", "application/json")}
    return answer.status_code, kept, answer.content


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload).encode()
    return raw_reply(status, body, headers)


def raw_reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Reply:
    def reply(handler: _Handler) -> None:
        handler.send_bytes(status, body, {"Content-Type": "application/json", **(headers or {})})

    return reply


def trickle(body: bytes, every: float = 1.0, status: int = 200) -> Reply:
    """A valid start, then one byte every ``every`` seconds: each read returns in time."""

    def reply(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for byte in body:
            if handler.server.owner.stopping.wait(every):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            handler.server.owner.sent += 1

    return reply


def huge(size: int, chunk: int = 64 * 1024, declare_length: bool = True) -> Reply:
    """A ``size``-byte body (one JSON string), streamed; without a length it is chunked."""

    def reply(handler: _Handler) -> None:
        owner = handler.server.owner
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(size))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        block = b'"' + b"x" * (chunk - 1)
        left = size
        while left > 0 and not owner.stopping.is_set():
            piece = block[: min(chunk, left)]
            if declare_length:
                handler.wfile.write(piece)
            else:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            owner.sent += len(piece)
            left -= len(piece)
        if not declare_length:
            handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    return reply


def hang() -> Reply:
    """Never answer (until the server stops): a request that is still in flight."""

    def reply(handler: _Handler) -> None:
        handler.server.owner.stopping.wait()

    return reply


def rewrite(change: Callable[[dict[str, Any]], None]) -> Reply:
    """The upstream's answer, its JSON object changed in place by ``change``."""

    def reply(handler: _Handler) -> None:
        status, headers, body = _upstream(handler)
        payload = json.loads(body)
        change(payload)
        handler.send_bytes(status, json.dumps(payload).encode(), headers)

    return reply
