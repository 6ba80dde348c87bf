"""The Jupyter server's way back: a Unix socket per flow in a 0700 directory of the server's.

The server extension makes the directory and tells its kernels where it is (and which URL the
browser is sent to) through their inherited environment. A kernel with a flow pending listens
on ``<mailbox>/<flow id>.sock``; the server's authenticated callback handler connects, sends one
JSON line ``{"flow", "stytch_token_type", "token"}`` and reads one back ``{"ok", "message"}``.
Only the user who owns the directory can reach the sockets in it, and only that user's
browser can reach the handler: the token never crosses to anyone else. No polling: the
handover costs one local connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import socket
import stat
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import RedirectError
from .links import Redirect, is_flow_id, redirect_from_query
from .loopback import LoopRunner

MAILBOX_ENV = "STYTCH_JUPYTER_MAILBOX"
CALLBACK_URL_ENV = "STYTCH_JUPYTER_CALLBACK_URL"
# Under a hub that does not know its public address: the callback's path on the hub's origin,
# which the notebook page knows (the widget reports it), though the server does not.
CALLBACK_PATH_ENV = "STYTCH_JUPYTER_CALLBACK_PATH"
HUB_ADDRESS_HINT = f"set c.JupyterHub.public_url (or {CALLBACK_URL_ENV} in the users' servers)"
UNKNOWN_HUB_ADDRESS = f"the hub's public address is unknown here: {HUB_ADDRESS_HINT}"
MAX_MESSAGE = 4096
REPLY_TIMEOUT = 60.0

Deliver = Callable[[Redirect], Awaitable[tuple[bool, str]]]


def socket_path(mailbox: str | Path, flow_id: str) -> Path:
    if not is_flow_id(flow_id):
        raise RedirectError("not a flow id this package makes")
    return Path(mailbox) / f"{flow_id}.sock"


def usable_mailbox(environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The server's mailbox, if this kernel was started by a server that has one, and why not."""
    env = os.environ if environ is None else environ
    if not hasattr(socket, "AF_UNIX"):
        return None, f"no Unix sockets on {sys.platform}"
    where = env.get(MAILBOX_ENV, "")
    if not where or not (env.get(CALLBACK_URL_ENV) or env.get(CALLBACK_PATH_ENV)):
        return None, "the Jupyter server has no stytch_jupyter.server extension"
    path = Path(where)
    try:
        info = path.stat()
    except OSError:
        return None, f"the server's mailbox {where} is gone"
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None, f"the server's mailbox {where} is not a private directory of this user"
    return path, "the Jupyter server has the stytch_jupyter.server extension"


def server_callback_url(
    environ: Mapping[str, str] | None = None, origin: str | None = None
) -> str | None:
    """Where a browser reaches the server's callback: the address the server gave, else its
    path on ``origin`` (the notebook page's own, when a widget reports it); None if neither."""
    env = os.environ if environ is None else environ
    url = env.get(CALLBACK_URL_ENV, "")
    if url:
        return url
    path = env.get(CALLBACK_PATH_ENV, "")
    if origin and path.startswith("/"):
        return origin.rstrip("/") + path
    return None


class MailboxReceiver:
    """Listens for one flow's redirect on ``<mailbox>/<flow id>.sock``, on the session loop:
    the handover is a task there and ``deliver`` (a coroutine) authenticates where it lands."""

    def __init__(
        self, mailbox: Path, flow_id: str, deliver: Deliver, *, runner: LoopRunner
    ) -> None:
        self.path = socket_path(mailbox, flow_id)
        self._flow_id = flow_id
        self._deliver = deliver
        self._runner = runner
        self._serving: concurrent.futures.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._closed = threading.Event()
        self._answering: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        return self._serving is not None and not self._serving.done()

    def start(self) -> None:
        """Bind the socket here (``OSError`` if it cannot), then serve on the session loop."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            os.chmod(self.path, 0o600)
            sock.listen(4)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        try:
            self._serving = self._runner.submit(self._serve(sock))
        except BaseException:  # the session loop is closed: nothing will serve this socket
            sock.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._closed.is_set():
            self._stop.set()
        try:
            server = await asyncio.start_unix_server(self._answer, sock=sock, limit=MAX_MESSAGE)
        except BaseException:
            sock.close()
            raise
        try:
            await self._stop.wait()
        finally:
            server.close()
            if self._answering:
                await asyncio.wait(self._answering)  # a handover in progress gets its answer

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._answering.add(task)
        try:
            try:
                line = await asyncio.wait_for(reader.readline(), 5.0)
                message = json.loads(line)
                if not isinstance(message, dict) or message.get("flow") != self._flow_id:
                    raise RedirectError("this mailbox is for another sign-in")
                fields = {k: [str(v)] for k, v in message.items() if isinstance(v, str)}
                ok, text = await self._deliver(redirect_from_query(fields))
            except (OSError, ValueError, asyncio.TimeoutError) as exc:
                # RedirectError, bad JSON and a line past MAX_MESSAGE are ValueErrors.
                ok, text = False, str(exc) if isinstance(exc, RedirectError) else "bad request"
            writer.write(json.dumps({"ok": ok, "message": text}).encode() + b"\n")
            with contextlib.suppress(OSError):
                await writer.drain()
        finally:
            self._answering.discard(task)
            writer.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening and remove the socket. From another thread, returns once a handover
        in progress has been answered; from the session loop, only asks."""
        self._closed.set()
        loop, stop, serving = self._loop, self._stop, self._serving
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        with contextlib.suppress(OSError):
            self.path.unlink()  # no new handover can find it
        if serving is None or self._runner.in_session_thread():
            return
        with contextlib.suppress(Exception):  # timed out, cancelled, or failed: it is over
            serving.result(timeout)


async def hand_over(mailbox: str | Path, redirect: Redirect) -> tuple[bool, str]:
    """The server's half: give ``redirect`` to the kernel waiting for its flow; its verdict."""
    if redirect.flow_id is None:
        return False, "This link names no sign-in (no flow=…): paste it in the notebook instead."
    path = socket_path(mailbox, redirect.flow_id)
    message = {"flow": redirect.flow_id, "token": redirect.token}
    if redirect.token_type is not None:
        message["stytch_token_type"] = redirect.token_type
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return False, (
            "No sign-in is waiting for this link in this Jupyter server (used, cancelled, "
            "expired, or started by another user or server): nothing changed."
        )
    try:
        writer.write(json.dumps(message).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        return False, "The notebook did not answer. Return to it and try again."
    finally:
        writer.close()
    try:
        reply = json.loads(line)
        return bool(reply["ok"]), str(reply["message"])
    except (ValueError, KeyError, TypeError):
        return False, "The notebook's answer was garbled. Return to it and try again."
