"""``StoreSync``: the manager's side of the token store that every kernel of the user shares.

It opens the store on first use, writes conditionally (a refresh or a sign-out writes only over
the session it is for, so kernels never undo each other), and polls the store's cheap
signature every ``poll_interval`` seconds on the session loop to hear of other processes'
sign-ins and sign-outs; files kept beside the store (B2B's half-way sign-in) are followed the
same way, each by a signature of its own (``watch``). What such a change means for the session
is the caller's business (``on_change``); a store that fails is reported through ``on_error``
and never loses the session held in memory.

The store's own work (a keyring call, a lock, an fsync) runs on one worker thread of its own,
in the order it was asked for: the session loop, which serves requests and the heartbeat, never
waits on a slow or hung keyring. ``close()`` ends that thread, then the keyring helper process
(``keys.close_keyring_helper``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .errors import StoreChanged, TokenStoreError

if TYPE_CHECKING:
    from ..api.models import SessionTokens
    from ..config import Stytch
    from .store import TokenStore

logger = logging.getLogger("stytch_jupyter")

T = TypeVar("T")

STORE_POLL_SECONDS = 0.5
# How long close() waits for a store call under way (a keyring call gives up after 10 s).
WORKER_JOIN_SECONDS = 15.0


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.debug("stytch: opening the token store failed", exc_info=future.exception())


class StoreWorker:
    """One thread that runs store calls in order; started on first use, ended by ``stop``."""

    def __init__(self, name: str = "stytch-store") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._stopped:
                future.set_exception(TokenStoreError("the token store was closed"))
                return future
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.put((fn, future))
        return future

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)

    def stop(self, timeout: float = WORKER_JOIN_SECONDS) -> None:
        """Finish what is queued, then end the thread (waiting up to ``timeout`` seconds)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        if thread is not threading.current_thread():
            thread.join(timeout)


class _Watched:
    """A file beside the store, followed by its signature (see ``StoreSync.watch``)."""

    def __init__(
        self, signature: Callable[[], Hashable | None], on_change: Callable[[], Awaitable[None]]
    ) -> None:
        self.signature = signature
        self.on_change = on_change
        self.seen = signature()


class StoreSync:
    """One manager's view of the shared store. Every method runs on the session loop thread."""

    def __init__(
        self,
        config: Stytch,
        *,
        store: TokenStore | None = None,
        on_change: Callable[[SessionTokens | None], None],
        on_error: Callable[[TokenStoreError], None],
        poll_interval: float = STORE_POLL_SECONDS,
    ) -> None:
        self._config = config
        self._given_store = store  # a store handed in stays, whatever the configuration says
        self._store: TokenStore | None = store
        self._signature: Hashable | None = None  # of what this process last read or wrote
        self._on_change = on_change
        self._on_error = on_error
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self._failing: str | None = None  # the store's last failure, until it works again
        self._worker = StoreWorker()
        self._opening = 0  # bumped by reopen(): a store opened for older settings is dropped
        self._open_task: asyncio.Future[TokenStore | None] | None = None
        self._watched: list[_Watched] = []

    @property
    def threads(self) -> list[threading.Thread]:
        """The store worker's thread while it runs."""
        thread = self._worker.thread
        return [thread] if thread is not None and thread.is_alive() else []

    def close(self) -> None:
        """Stop polling, end the worker thread (after the writes already asked for), then the
        keyring helper process (one per process: another manager's next call starts another)."""
        from .keys import close_keyring_helper

        self.stop_polling()
        self.stop_worker()
        close_keyring_helper()

    def stop_worker(self) -> None:
        """End the worker thread once the writes already asked for are done."""
        self._worker.stop()

    def submit_to_worker(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn`` on the store's worker thread, after the store calls already asked for
        (blocking work that must not hold the session loop: the TLS context's build)."""
        return self._worker.submit(fn)

    async def _off_loop(self, fn: Callable[[], T]) -> tuple[bool, Any]:
        """Run ``fn`` on the worker; (True, result) or (False, the store error it raised)."""

        def attempt() -> tuple[bool, Any]:
            try:
                return True, fn()
            except (TokenStoreError, StoreChanged) as exc:
                return False, exc

        return await asyncio.wrap_future(self._worker.submit(attempt))

    async def open_async(self) -> TokenStore | None:
        """``open``, off the session loop (opening may probe the keyring). Callers that come
        while an open is under way wait for that one."""
        if self._store is not None or not self._config.public_token:
            return self._store
        return await asyncio.shield(self._opener())  # a caller given up on leaves it running

    def _opener(self) -> asyncio.Future[TokenStore | None]:
        """The open under way on this loop, started if there is none."""
        pending = self._open_task
        if (
            pending is None
            or pending.done()
            or pending.get_loop() is not asyncio.get_running_loop()
        ):
            pending = self._open_task = asyncio.ensure_future(self._open())
            pending.add_done_callback(_retrieve)  # prepare()'s open may have no one awaiting it
        return pending

    async def _open(self) -> TokenStore | None:
        from .store import open_token_store

        while self._store is None and self._config.public_token:
            opening = self._opening
            ok, value = await self._off_loop(lambda: open_token_store(self._config))
            if opening != self._opening:
                continue  # the settings changed while it opened: open what they say now
            if not ok:
                self._report(value)
                return None
            self._store = value
        return self._store

    def prepare(self) -> None:
        """Start opening the store in the background, on the session loop, if opening asks the
        keyring: a write or a read is coming (a sign-in under way, a stored session), and the
        keyring's probe (and its helper process's start) can then overlap the request."""
        from .store_files import asks_keyring

        config = self._config
        if (
            self._store is None
            and config.public_token
            and asks_keyring(config.token_store, config.data_path)
        ):
            self._opener()

    async def load_async(self) -> SessionTokens | None:
        """``load``, off the session loop."""
        store = await self.open_async()
        if store is None:
            return None

        def read() -> tuple[Hashable | None, SessionTokens | None]:
            signature = store.signature()  # before the read: a write in between is seen next
            return signature, store.load()

        ok, value = await self._off_loop(read)
        if not ok:
            self._report(value)
            return None
        signature, tokens = cast("tuple[Hashable | None, SessionTokens | None]", value)
        self._signature = signature
        return tokens

    async def write_async(
        self, tokens: SessionTokens | None, *, replacing: str | None = None
    ) -> bool:
        """``write``, off the session loop; in the order asked for. False if the store failed."""
        store = await self.open_async()
        if store is None:
            return self._config.public_token == "" or self._failing is None
        return await self._written(self._submit_write(store, tokens, replacing))

    def queue_write(self, tokens: SessionTokens) -> asyncio.Task[bool] | None:
        """Queue a write of ``tokens`` on the worker now, behind the calls already asked for and
        ahead of every later one; the task says (as ``write_async``) whether it worked. None
        while the store is not open yet: then ``write_async`` it (it opens the store first)."""
        store = self._store
        if store is None:
            return None
        return asyncio.get_running_loop().create_task(
            self._written(self._submit_write(store, tokens, None)), name="stytch-store-write"
        )

    def _submit_write(
        self, store: TokenStore, tokens: SessionTokens | None, replacing: str | None
    ) -> concurrent.futures.Future[tuple[bool, Any]]:
        def save() -> tuple[bool, Any]:
            try:
                if tokens is None:
                    return True, store.clear(replacing=replacing)
                return True, store.save(tokens, replacing=replacing)
            except (TokenStoreError, StoreChanged) as exc:
                return False, exc

        return self._worker.submit(save)

    async def _written(self, submitted: concurrent.futures.Future[tuple[bool, Any]]) -> bool:
        ok, value = await asyncio.wrap_future(submitted)
        if ok:
            self._signature = value
        elif isinstance(value, StoreChanged):
            logger.debug("stytch: the store moved on in another process; left as it is")
        else:
            self._report(value)
            return False
        self._failing = None
        return True

    @property
    def store(self) -> TokenStore | None:
        """The store in use; None until it is first needed (or when none can be opened)."""
        return self._store

    @property
    def configurable(self) -> bool:
        """Whether the configuration chooses the store (false when one was handed in)."""
        return self._given_store is None

    @property
    def failing(self) -> str | None:
        """The last failure's message while the store keeps failing; None once it works.

        ``on_error`` is called before this changes, so it can tell a new cause from a repeat.
        """
        return self._failing

    @property
    def signature(self) -> Hashable | None:
        """The store's signature as this process last saw it."""
        return self._signature

    def may_hold_session(self) -> bool:
        """Cheap, from any thread: whether a stored session may be there to read.

        A folder listing (or the open store's signature): nothing is decrypted, no keyring is
        asked. What ``%load_ext`` uses to say "checking" rather than "signed out".
        """
        if self._store is not None:
            return self._store.signature() is not None
        config = self._config
        public_token = config.public_token.strip()
        if config.token_store == "memory" or not public_token:
            return False
        from .store_files import may_hold_session

        return may_hold_session(config.data_path, public_token)

    def reopen(self) -> None:
        """Forget the open store: the next use opens the one the configuration now names."""
        if self.configurable:
            self._store = None
            self._opening += 1

    def open(self) -> TokenStore | None:
        if self._store is None and self._config.public_token:
            from .store import open_token_store

            self._store = self._call(open_token_store, self._config)
        return self._store

    def load(self) -> SessionTokens | None:
        """The stored tokens (None if none, or if the store fails: that is reported)."""
        store = self.open()
        if store is None:
            return None
        signature = store.signature()  # before the read: a write in between is seen next time
        tokens = self._call(store.load)
        self._signature = signature
        return tokens

    def write(self, tokens: SessionTokens | None, *, replacing: str | None = None) -> bool:
        """Write (or with None, clear) the store; with ``replacing``, only over that session.

        Only a new sign-in overwrites whatever is stored. Refreshes and sign-outs are for the
        session this kernel holds, and must not undo another kernel's newer sign-in: when the
        store has moved on, the write is skipped (and the poll brings the news). False only
        when the store failed.
        """
        store = self.open()
        if store is None:
            return True
        try:
            if tokens is None:
                self._signature = store.clear(replacing=replacing)
            else:
                self._signature = store.save(tokens, replacing=replacing)
        except StoreChanged:
            logger.debug("stytch: the store moved on in another process; left as it is")
        except TokenStoreError as exc:
            self._report(exc)
            return False
        self._failing = None
        return True

    def poll(self) -> None:
        """Look once: if another process changed the store, tell ``on_change`` what it holds."""
        store = self._store
        if store is None:
            return
        signature = store.signature()
        if signature == self._signature:
            return
        tokens = self._call(store.load)
        self._signature = signature  # as read before the load: a later write is seen later
        self._on_change(tokens)

    async def poll_async(self) -> None:
        """``poll``: the signature is a stat on the loop; a changed store is read off it."""
        store = self._store
        if store is None:
            return
        if store.signature() == self._signature:
            return
        previous = self._signature
        tokens = await self.load_async()
        if self._signature != previous:
            self._on_change(tokens)

    def watch(
        self, signature: Callable[[], Hashable | None], on_change: Callable[[], Awaitable[None]]
    ) -> None:
        """Also follow another file of the shared store (B2B: the half-way sign-in): each poll,
        once the store itself has been looked at, ``on_change()`` is awaited on the session
        loop if ``signature()`` (a stat: cheap) differs from the last look. What this process
        wrote itself is seen too; ``on_change`` finds nothing new then."""
        self._watched.append(_Watched(signature, on_change))

    async def poll_watched(self) -> None:
        """Look once at the watched files; tell each one's ``on_change`` if it changed."""
        for watched in list(self._watched):
            signature = watched.signature()
            if signature != watched.seen:
                watched.seen = signature  # before the read: a later write is seen next time
                await watched.on_change()

    def start_polling(self) -> None:
        if self._task is not None and not self._task.done():
            return

        async def watch() -> None:
            while True:
                await asyncio.sleep(self.poll_interval)
                try:
                    await self.poll_async()
                    await self.poll_watched()
                except Exception:
                    logger.exception("stytch: reading the token store failed")

        self._task = asyncio.get_running_loop().create_task(watch(), name="stytch-store-watch")

    def stop_polling(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _call(self, operation: Callable[..., T], *args: object) -> T | None:
        try:
            return operation(*args)
        except TokenStoreError as exc:
            self._report(exc)
            return None

    def _report(self, exc: TokenStoreError) -> None:
        self._on_error(exc)
        self._failing = str(exc)
