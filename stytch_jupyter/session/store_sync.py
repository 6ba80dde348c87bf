"""``StoreSync``: the manager's side of the token store that every kernel of the user shares.

It opens the store on first use, writes conditionally (a refresh or a sign-out writes only over
the session it is for, so kernels never undo each other), and polls the store's cheap
signature every ``poll_interval`` seconds on the session loop to hear of other processes'
sign-ins and sign-outs. What such a change means for the session is the caller's business
(``on_change``); a store that fails is reported through ``on_error`` and never loses the session
held in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, TypeVar

from ..api.models import SessionTokens
from .keys import TokenStoreError
from .store import StoreChanged

if TYPE_CHECKING:
    from ..config import Stytch
    from .store import TokenStore

logger = logging.getLogger("stytch_jupyter")

T = TypeVar("T")

STORE_POLL_SECONDS = 0.5


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

    @property
    def store(self) -> TokenStore | None:
        """The store in use; None until it is first needed (or when none can be opened)."""
        return self._store

    @property
    def configurable(self) -> bool:
        """Whether the configuration chooses the store (false when one was handed in)."""
        return self._given_store is None

    @property
    def signature(self) -> Hashable | None:
        """The store's signature as this process last saw it."""
        return self._signature

    def reopen(self) -> None:
        """Forget the open store: the next use opens the one the configuration now names."""
        if self.configurable:
            self._store = None

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
            self._on_error(exc)
            return False
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

    def start_polling(self) -> None:
        if self._task is not None and not self._task.done():
            return

        async def watch() -> None:
            while True:
                await asyncio.sleep(self.poll_interval)
                try:
                    self.poll()
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
            self._on_error(exc)
            return None
