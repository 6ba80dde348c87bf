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

import contextlib
import json
import os
import socket
import stat
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import RedirectError
from .links import Redirect, is_flow_id, redirect_from_query

MAILBOX_ENV = "STYTCH_JUPYTER_MAILBOX"
CALLBACK_URL_ENV = "STYTCH_JUPYTER_CALLBACK_URL"
THREAD_PREFIX = "stytch-redirect-mailbox"
MAX_MESSAGE = 4096
REPLY_TIMEOUT = 60.0

Deliver = Callable[[Redirect], tuple[bool, str]]


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
    if not where or not env.get(CALLBACK_URL_ENV):
        return None, "the Jupyter server has no stytch_jupyter.server extension"
    path = Path(where)
    try:
        info = path.stat()
    except OSError:
        return None, f"the server's mailbox {where} is gone"
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None, f"the server's mailbox {where} is not a private directory of this user"
    return path, "the Jupyter server has the stytch_jupyter.server extension"


class MailboxReceiver:
    """Listens for one flow's redirect on ``<mailbox>/<flow id>.sock``."""

    def __init__(self, mailbox: Path, flow_id: str, deliver: Deliver) -> None:
        self.path = socket_path(mailbox, flow_id)
        self._flow_id = flow_id
        self._deliver = deliver
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            os.chmod(self.path, 0o600)
            sock.listen(4)
            sock.settimeout(0.1)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name=THREAD_PREFIX, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._closed.is_set():
            try:
                connection, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            threading.Thread(
                target=self._answer,
                args=(connection,),
                name=f"{THREAD_PREFIX}-request",
                daemon=True,
            ).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5.0)
            try:
                line = _read_line(connection)
                message = json.loads(line)
                if not isinstance(message, dict) or message.get("flow") != self._flow_id:
                    raise RedirectError("this mailbox is for another sign-in")
                fields = {k: [str(v)] for k, v in message.items() if isinstance(v, str)}
                ok, text = self._deliver(redirect_from_query(fields))
            except (OSError, ValueError) as exc:  # RedirectError and bad JSON are ValueErrors
                ok, text = False, str(exc) if isinstance(exc, RedirectError) else "bad request"
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps({"ok": ok, "message": text}).encode() + b"\n")

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        if self._sock is not None:
            self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(MAX_MESSAGE)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ValueError("message too long")
    return data


async def hand_over(mailbox: str | Path, redirect: Redirect) -> tuple[bool, str]:
    """The server's half: give ``redirect`` to the kernel waiting for its flow; its verdict."""
    import asyncio

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
