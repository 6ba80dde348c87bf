"""``KeyringProcess``: the kernel's side of the keyring helper process (``keyring_child``).

Started on first use and reused for every keyring call of this process; one call at a time.
The calling thread waits for the answer itself (``select`` on the pipe, with a deadline): no
thread of ours is ever left waiting on the helper. At a deadline the helper is killed and
reaped (a keyring call that never returns ends with it); ``close()`` does the same at once.
What fails is one ``TokenStoreError`` line; the request (which may hold the key) is never
quoted, logged or put on the helper's command line or in its environment.

POSIX only (``select`` on pipes): elsewhere keyring is asked in this process (``keys``).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

from .errors import TokenStoreError

SUPPORTED = os.name == "posix"
CHILD_MODULE = "stytch_jupyter.session.keyring_child"
# How long the helper may take to start (an interpreter, then keyring's import) on a busy
# machine; a call's own deadline starts once it has.
STARTUP_TIMEOUT = 10.0
MAX_LINE = 64 * 1024  # an answer is a few hundred bytes
REAP_TIMEOUT = 5.0


class KeyringTimeout(TimeoutError):
    """The helper did not answer a call within its deadline; it was killed."""


class HelperUnavailable(TokenStoreError):
    """The helper could not be started here, or died or misbehaved before it was ready (an
    embedded interpreter whose ``sys.executable`` is not Python, a broken environment)."""


class KeyringProcess:
    """One helper process, started lazily, killed on a deadline and on ``close()``."""

    def __init__(
        self, command: Sequence[str] | None = None, *, startup_timeout: float = STARTUP_TIMEOUT
    ) -> None:
        # This interpreter, so that keyring and its backends resolve as they do here.
        self.command = tuple(command or (sys.executable, "-m", CHILD_MODULE))
        self.startup_timeout = startup_timeout
        self._calls = threading.Lock()  # one call at a time
        self._state = threading.Lock()  # guards _proc (close() may come from another thread)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._buffer = bytearray()

    @property
    def pid(self) -> int | None:
        """The running helper's process id; None when there is none."""
        proc = self._proc
        return None if proc is None or proc.poll() is not None else proc.pid

    def _spawn(self) -> subprocess.Popen[bytes]:
        """The running helper, started now if there is none (or it ended)."""
        with self._state:
            if self._proc is not None and self._proc.poll() is None:
                return self._proc
            if self._proc is not None:
                self._reap(self._proc)
            self._buffer.clear()
            self._ready = False
            try:
                self._proc = subprocess.Popen(
                    self.command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    bufsize=0,
                    close_fds=True,
                    # Its own session: a Ctrl-C or a kernel interrupt sent to our process group
                    # does not kill it mid-call, and it has no terminal to prompt on.
                    start_new_session=True,
                )
            except OSError as exc:
                self._proc = None
                raise HelperUnavailable(
                    f"cannot start the keyring helper process: {exc.strerror or exc}"
                ) from None
            return self._proc

    def call(
        self,
        request: dict[str, Any],
        timeout: float,
        *,
        before: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Send ``request``; its answer within ``timeout`` seconds (after the helper started).

        ``before`` runs once this call has the helper to itself, and may raise to cancel it.
        Raises ``KeyringTimeout`` when the answer is late (the helper is killed),
        ``HelperUnavailable`` when it did not start, else ``TokenStoreError`` (it died, or
        sent something that is not an answer).
        """
        line = (json.dumps(request) + "\n").encode("utf-8")
        with self._calls:
            if before is not None:
                before()
            proc = self._spawn()  # close() may clear _proc from now on: this call keeps it
            assert proc.stdin is not None
            with contextlib.suppress(OSError):  # it died: reading says how
                proc.stdin.write(line)
            if not self._ready:
                try:
                    hello = self._read(proc, self.startup_timeout, "start")
                except TokenStoreError as exc:
                    raise HelperUnavailable(str(exc)) from None
                if hello != {"ready": True}:
                    self._kill(proc)
                    raise HelperUnavailable("the keyring helper process did not start properly")
                self._ready = True
            answer = self._read(proc, timeout, "answer")
            if not isinstance(answer.get("ok"), bool):
                self._fail(proc, "the keyring helper process sent a garbled reply")
            return answer

    def close(self) -> None:
        """Kill and reap the helper now. A call waiting on it fails at once, and reaps it: only
        the thread that holds the helper touches its pipes."""
        with self._state:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._calls.acquire(blocking=False):
            try:
                self._reap(proc)
            finally:
                self._calls.release()
        else:
            with contextlib.suppress(OSError):  # it ended on its own meanwhile
                proc.kill()

    def _read(self, proc: subprocess.Popen[bytes], timeout: float, what: str) -> dict[str, Any]:
        """The next line from the helper as a JSON object, within ``timeout`` seconds."""
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if len(self._buffer) > MAX_LINE:
                    self._fail(proc, "the keyring helper process sent a garbled reply")
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    if self._proc is not proc:
                        self._fail(proc, "the keyring helper process was closed")
                    if what == "start":  # not the keyring's doing: nothing to remember
                        self._fail(
                            proc,
                            f"the keyring helper process did not start within {timeout:g} s",
                        )
                    self._kill(proc)
                    raise KeyringTimeout(f"did not answer within {timeout:g} s")
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    if self._proc is not proc:
                        self._fail(proc, "the keyring helper process was closed")
                    code = self._reap(proc, grace=1.0)
                    self._fail(proc, f"the keyring helper process exited (status {code})")
                self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        try:
            answer = json.loads(line)
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict):
            self._fail(proc, "the keyring helper process sent a garbled reply")
        return cast("dict[str, Any]", answer)

    def _fail(self, proc: subprocess.Popen[bytes], message: str) -> NoReturn:
        self._kill(proc)
        raise TokenStoreError(message)

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        with self._state:
            if self._proc is proc:
                self._proc = None
        self._buffer.clear()  # a part of an answer (it may hold the key) is not kept
        self._reap(proc)

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes], grace: float = 0.0) -> int | None:
        """Kill ``proc`` if it still runs (after ``grace`` seconds to end on its own), wait for
        it, close its pipes; its exit status."""
        if grace:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
        if proc.poll() is None:
            with contextlib.suppress(OSError):  # it ended on its own meanwhile
                proc.kill()
        try:
            code = proc.wait(REAP_TIMEOUT)
        except subprocess.TimeoutExpired:  # unkillable (stuck in the kernel): stop waiting
            code = None
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return code
