"""A daemon thread that owns an asyncio loop: where all of a manager's network I/O runs.

The kernel's own loop is not running while an extension loads and is starved while a cell
runs, so the heartbeat and every request live here instead. Sync callers block on a
``concurrent.futures.Future``; async callers await the same future wrapped for their loop.

An exception that crosses from the loop thread to a caller leaves its frames behind: their
locals hold request bodies, tokens and codes, which a verbose traceback (``%xmode Verbose``)
would print. Its type, message and chained causes still arrive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .errors import SessionClosedError

logger = logging.getLogger("stytch_jupyter")

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "stytch-session") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._exit_callbacks: list[Callable[[], object]] = []

    def on_exit(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` on the loop thread once its loop has ended (a helper thread's stop)."""
        self._exit_callbacks.append(callback)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                # A widget or a kept reference must not quietly bring a closed session back.
                raise SessionClosedError(
                    "this Stytch session object was closed (%unload_ext or close()); "
                    "use the new `stytch` object"
                )
            if self._loop is not None and self.running:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()
                # Let cancelled tasks unwind before the loop is closed.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                for callback in self._exit_callbacks:
                    try:
                        callback()
                    except Exception:
                        logger.exception("stytch: ending a helper thread failed")

            self._thread = threading.Thread(target=run, name=self._name, daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
            return loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        try:
            loop = self.start()
        except SessionClosedError:
            coro.close()
            raise
        # A fresh context: the caller's (in a kernel, the cell that made the call) must not
        # follow the work, or ipykernel files the heartbeat's output under a long-gone cell.
        return contextvars.Context().run(asyncio.run_coroutine_threadsafe, coro, loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop thread and wait for it, from any other thread."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "a blocking Stytch call was made from an auth-change callback or the heartbeat "
                "thread; use the _async twin there (await it) instead"
            )
        future = self.submit(coro)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise
        except Exception as exc:
            without_frames(exc)
            raise

    def run_async(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """The same, as an awaitable for the caller's own loop."""
        if self.in_loop_thread():
            return coro  # already on our loop: just await it here
        return _frameless(asyncio.wrap_future(self.submit(coro)))

    def call_soon(self, callback: Callable[[], object]) -> None:
        if self._loop is not None and self.running:
            self._loop.call_soon_threadsafe(callback, context=contextvars.Context())

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = None  # the thread stays known, so callers can check that it ended
            self._closed = True
        if loop is None or thread is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            if threading.current_thread() is not thread:
                thread.join(timeout)


def without_frames(exc: BaseException) -> BaseException:
    """``exc`` and every exception chained to it, with their tracebacks dropped."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        stack.extend(getattr(current, "exceptions", ()))  # an ExceptionGroup's members
    return exc


async def _frameless(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except Exception as exc:
        without_frames(exc)
        raise
