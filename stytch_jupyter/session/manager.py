"""``SessionManager``: one Stytch session, kept the way Stytch's mobile SDKs keep theirs.

State lives in traits (observable from cells and widgets). Every change happens on the
session loop thread, under one lock. A sign-out is written to the token store before anyone
is told. A new session is queued for the store first, shown on the traits, then written; the
sign-in call returns, and auth-change callbacks run, once it is written. A fresh JWT for the
same session is written just after the news.

The manager keeps the traits, the transitions between states and the operations. Its parts
each have a module: the heartbeat (``heartbeat.py``), the shared store (``store_sync.py``), what
differs between consumer and B2B projects (``vertical.py``, ``consumer.py``), and the call
surface (``namespaces.py``), which reaches the manager only through ``SessionOperations``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from traitlets import All, Bool, Enum, HasTraits, Instance, Unicode
from traitlets import Union as UnionTrait
from traitlets.traitlets import EventHandler

from ..api.errors import StytchAPIError
from ..api.limits import validate_duration_minutes
from ..config import Stytch
from .consumer import CONSUMER
from .errors import ConfigurationError, NotSignedInError, TokenStoreError, WrongVerticalError
from .heartbeat import Conditions, Heartbeat, HeartbeatControl
from .loop import LoopThread
from .namespaces import MagicLinks, OTPs, Passwords, Sessions
from .runner import SignInRequest
from .states import HEARTBEAT_STATES, INTERMEDIATE_STATUSES, STATUSES, HeartbeatState, Status
from .store_sync import STORE_POLL_SECONDS, StoreSync
from .surface import B2B_NAMESPACES, CONSUMER_NAMESPACES, other_kinds_names, refusal
from .totps import TOTPs
from .traits import LazyInstance
from .users import Users
from .vertical import Intermediate

if TYPE_CHECKING:
    from ..api.b2b_models import IntermediateSessionToken, Member, Organization
    from ..api.client import StytchClient
    from ..api.models import SessionToken, SessionTokens, User
    from .auth import StytchAuth
    from .intermediate_store import HalfWay, IntermediateSlot
    from .oauth import OAuth
    from .redirect.flows import RedirectFlows
    from .store import TokenStore
    from .vertical import Authenticated, SessionClock, Vertical

logger = logging.getLogger("stytch_jupyter")

T = TypeVar("T")
# The most a server's clock may be ahead of or behind ours before its replies' clocks are
# ignored: past this, one of the two clocks is wrong, and trusting it could end every session.
MAX_CLOCK_SKEW_SECONDS = 24 * 3600.0
# A plain function, or an ``async def`` one: its coroutine is awaited on the session loop.
AuthChangeCallback = Callable[["SessionToken | None"], object]

IST_EXPIRED = "the intermediate session expired (10 minutes): sign in again"

__all__ = ["STORE_POLL_SECONDS", "AuthChangeCallback", "SessionManager"]


# The models, named for LazyInstance: ``%load_ext`` imports none of them (their dataclasses
# are a third of its time), and a consumer kernel never imports the B2B ones.
_MODELS = "stytch_jupyter.api.models."
_B2B = "stytch_jupyter.api.b2b_models."


class SessionManager(HasTraits):
    """The session of one Stytch project (public token) in this process."""

    # A consumer Session, or (B2B) the member session, also shown as member_session.
    session = UnionTrait(
        [LazyInstance(_MODELS + "Session"), LazyInstance(_B2B + "MemberSession")],
        allow_none=True,
        read_only=True,
    )
    # Annotated with the classes they hold, for mypy (imported here under TYPE_CHECKING only).
    user: Instance[User | None] = LazyInstance(_MODELS + "User", allow_none=True, read_only=True)
    member_session = LazyInstance(_B2B + "MemberSession", allow_none=True, read_only=True)
    member = LazyInstance(_B2B + "Member", allow_none=True, read_only=True)
    organization = LazyInstance(_B2B + "Organization", allow_none=True, read_only=True)
    intermediate_session_token = LazyInstance(
        _B2B + "IntermediateSessionToken",
        allow_none=True,
        read_only=True,
        help="B2B: a sign-in half-way (status needs_organization or needs_mfa)",
    )
    session_token: Instance[SessionToken | None] = LazyInstance(
        _MODELS + "SessionToken", allow_none=True, read_only=True
    )
    session_jwt: Instance[SessionToken | None] = LazyInstance(
        _MODELS + "SessionToken", allow_none=True, read_only=True
    )
    status = Enum[Status](
        list(STATUSES),
        default_value="signed_out",
        read_only=True,
        help="unconfirmed: tokens are stored but the server has not confirmed them yet",
    )
    last_validated_at = Instance(datetime, allow_none=True, read_only=True)
    last_error = Unicode("", read_only=True, help="the last recoverable error, one line")
    signed_out_reason = Unicode("", read_only=True, help="why the last session ended")
    heartbeat_state = Enum[HeartbeatState](
        list(HEARTBEAT_STATES), default_value="stopped", read_only=True
    )
    next_check_at = Instance(datetime, allow_none=True, read_only=True)
    closed = Bool(False, read_only=True, help="close() was called: this object does no more work")

    def __init__(
        self,
        config: Stytch | None = None,
        *,
        store: TokenStore | None = None,
        store_poll_interval: float = STORE_POLL_SECONDS,
        vertical: Vertical[Any] | None = None,
    ) -> None:
        super().__init__()
        self.config = config if config is not None else Stytch()
        self.vertical: Vertical[Any] = vertical or _configured_vertical(self.config)
        # "auto": the project's bootstrap says which, once, at start (consumer until then).
        self._vertical_pending = vertical is None and self.config.vertical == "auto"
        self._vertical_known = threading.Event()
        if not self._vertical_pending:
            self._vertical_known.set()
        self._starting: concurrent.futures.Future[None] | None = None
        self._resolving: asyncio.Future[None] | None = None
        self._project_generation = 0  # one more for each api_url or public_token change
        self._retiring: set[asyncio.Future[None]] = set()  # old clients, closing once idle
        self._sync = StoreSync(
            self.config,
            store=store,
            on_change=self._on_store_change,
            on_error=self._store_failed,
            poll_interval=store_poll_interval,
        )
        self._client: StytchClient | None = None
        self._loop = LoopThread()
        # The store's worker ends with the loop that feeds it, however the loop is stopped.
        self._loop.on_exit(self._sync.stop_worker)
        self._heartbeat = Heartbeat(
            conditions=self._heartbeat_conditions,
            beat=self._beat,
            publish=self._set_heartbeat_state,
            note_error=self._note_error,
        )
        self._lock = threading.RLock()
        self._generation = 0
        self._held: SessionClock | None = None  # the vertical's session object, for its expiry
        # The token observers were last told of: a SessionToken, never the bare string, so that
        # vars(stytch) shows nothing a notebook could keep.
        self._announced: SessionToken | None = None
        self._callbacks: list[AuthChangeCallback] = []
        self._callback_tasks: set[asyncio.Task[Any]] = set()  # async callbacks being awaited
        self._server_offset = 0.0  # server clock minus ours, learned from each response
        # Fires at the held session's expiry, heartbeat or not: expiry is a fact of the clock.
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._started = False
        # Set while the status is settled; clear while it is "unconfirmed" (held tokens not
        # yet checked with Stytch): what wait_until_checked() waits for.
        self._checked = threading.Event()
        self._checked.set()
        self.last_method_id: str | None = None
        operations = self._operations = _Operations(self)
        self.sessions = Sessions(operations)
        self.otps = OTPs(operations)
        self.magic_links = MagicLinks(operations)
        self.passwords = Passwords(operations)
        self.totps = TOTPs(operations)
        self.users = Users(operations)
        self._operations = operations
        self._redirect: RedirectFlows | None = None  # built on first use: %load_ext stays light
        self._oauth: OAuth | None = None  # a B2B project's own OAuth takes its place
        if self.vertical.name == "b2b":
            self._use_b2b_namespaces(operations)

    def _use_b2b_namespaces(self, operations: _Operations) -> None:
        from .b2b_namespaces import b2b_namespaces

        for name in CONSUMER_NAMESPACES:  # a B2B project has none of them (see __getattr__)
            self.__dict__.pop(name, None)
        for name, namespace in b2b_namespaces(operations).items():
            if name == "oauth":
                self._oauth = namespace  # type: ignore[assignment]
            else:
                setattr(self, name, namespace)

    def __getattr__(self, name: str) -> Any:
        # Only for a name not found: the other kind of project's namespace gets one line.
        state = self.__dict__
        if name.startswith("_") or "vertical" not in state:
            raise AttributeError(name)
        if (
            name in B2B_NAMESPACES
            and state.get("_vertical_pending")
            and state.get("_started")
            and not self._loop.in_loop_thread()
            and self.wait_for_vertical(self.config.timeout)
            and name in state
        ):
            return state[name]  # "auto" has just found a B2B project
        line = refusal(name, self.vertical.name)
        if line is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        raise WrongVerticalError(line)

    def __dir__(self) -> list[str]:
        # What tab completion offers: this kind of project's names only.
        hidden = other_kinds_names(self.vertical.name)
        return [name for name in super().__dir__() if name not in hidden]

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Rehydrate the stored session and start the heartbeat, in the background."""
        if self._started and not self.closed:
            return
        if not self.closed and self.signed_out and self._sync.may_hold_session():
            # Honest from the first moment: a session is stored and about to be read.
            self._set_status("unconfirmed")
        future = self._loop.submit(self._start())  # SessionClosedError once closed
        self._starting = future  # what the operations wait for (the project's kind, "auto")
        future.add_done_callback(_log_failure)  # nobody waits on it: say if it failed
        self._started = True
        self.config.observe(self._on_config_change)

    async def _start(self) -> None:
        from ..api import tls

        # First, so it is ready for the first https connection: the TLS context (~30 ms of
        # OpenSSL that holds no GIL) builds on the store's worker while this thread imports
        # httpx. The stored tokens are read there next: they do not depend on the project's
        # kind, so the bootstrap's answer is not waited for to read them.
        if self.config.public_token:  # without one, no request (and no worker thread) yet
            tls.prepare(run=self._sync.submit_to_worker)
        stored = asyncio.ensure_future(self._sync.load_async())
        if self._vertical_pending:
            # A task of its own: close() cancels it (and waits) rather than leave a request
            # half-open on a loop that is stopping.
            self._resolving = asyncio.ensure_future(self._resolve_vertical())
            await self._resolving
        await self._load_stored_tokens(await stored)
        self._heartbeat.start()
        if self.vertical.name == "b2b":
            self._follow_intermediate()
        self._sync.start_polling()

    async def _resolve_vertical(self) -> None:
        """``Stytch.vertical = "auto"``: ask the project's bootstrap whether it is B2B."""
        if not self.config.public_token:
            return  # asked once a public token is set (see _reconfigure)
        try:
            kind = await self._ask_project_kind()
            if kind == "b2b" and self.vertical.name != "b2b":
                from .b2b import B2B

                self.vertical = B2B
                self._use_b2b_namespaces(self._operations)
        except Exception as exc:  # offline, no public token: stay consumer, and say so
            logger.warning("stytch: could not tell the project's kind (%s); consumer assumed", exc)
        finally:
            self._vertical_pending = False
            self._vertical_known.set()

    async def _ask_project_kind(self) -> str | None:
        """The bootstrap's answer for the project configured now: asked again when
        ``api_url`` or ``public_token`` changed while it was on its way (a notebook's
        ``%config`` right after ``%load_ext``), since that answer, or failure, was about
        another project."""
        from ..api.bootstrap import project_vertical

        while True:
            asked = self._project_generation
            try:
                kind = await project_vertical(self._client_or_raise())
            except Exception:
                if asked == self._project_generation:
                    raise
                continue
            if asked == self._project_generation:
                return kind

    def close(self) -> None:
        """Stop the heartbeat and the loop thread for good; the stored session stays on disk."""
        if self.closed:
            return
        if self._started:
            self.config.unobserve(self._on_config_change)
        if self._loop.running:
            with contextlib.suppress(RuntimeError):
                self._loop.run(self._shutdown())
        self._loop.stop()
        self._sync.close()  # after the loop: writes it asked for are done first
        self.set_trait("closed", True)

    async def _shutdown(self) -> None:
        resolving = self._resolving
        if resolving is not None and not resolving.done():
            resolving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await resolving
        self._heartbeat.stop()
        self._sync.stop_polling()
        for retiring in list(self._retiring):
            retiring.cancel()  # closes its client now
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await retiring
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def __enter__(self) -> SessionManager:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def threads(self) -> list[threading.Thread]:
        """This manager's live threads (none once it is closed)."""
        thread = self._loop.thread
        alive = [thread] if thread is not None and thread.is_alive() else []
        return alive + self._sync.threads

    def _notify_observers(self, event: Any) -> None:
        # Observers run on the session thread, where nobody would see an exception: one that
        # raises is logged, and neither the other observers nor the manager's work are skipped.
        name, kind = event["name"], event["type"]
        notifiers = self._trait_notifiers
        callbacks = [
            *notifiers.get(name, {}).get(kind, []),
            *notifiers.get(name, {}).get(All, []),
            *notifiers.get(All, {}).get(kind, []),
            *notifiers.get(All, {}).get(All, []),
        ]
        for callback in callbacks:
            if isinstance(callback, EventHandler) and callback.name is not None:
                callback = getattr(self, callback.name)
            try:
                callback(event)
            except Exception:
                logger.exception("a Stytch trait observer failed: %r", callback)

    # ---- observers --------------------------------------------------------------------------

    def on_auth_change(self, callback: AuthChangeCallback) -> Callable[[], None]:
        """Call ``callback(token)`` on sign-in, sign-out (``None``) and token change.

        Not on every heartbeat. Callbacks run on the session thread; one that raises is
        logged and the others still run. An ``async def`` callback is awaited there, as a task
        of the session loop (it may await the ``_async`` calls). Returns a function that
        unsubscribes.
        """
        if not callable(callback):
            raise TypeError(f"on_auth_change needs a callable, got {type(callback).__name__}")
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def _announce(self) -> None:
        token = self.session_token if self.signed_in else None
        if token == self._announced:
            return
        self._announced = token
        for callback in list(self._callbacks):
            try:
                result = callback(token)
            except Exception:
                logger.exception("a Stytch auth-change callback failed: %r", callback)
                continue
            if inspect.isawaitable(result):
                self._await_callback(result, callback)

    def _await_callback(self, result: Awaitable[Any], callback: AuthChangeCallback) -> None:
        async def run() -> None:
            try:
                await result
            except Exception:
                logger.exception("a Stytch auth-change callback failed: %r", callback)

        task = asyncio.get_running_loop().create_task(run(), name="stytch-auth-change")
        self._callback_tasks.add(task)  # held until done: a task nobody holds may vanish
        task.add_done_callback(self._callback_tasks.discard)

    # ---- running coroutines on the session loop, from any thread (SessionRunner) ---------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the session loop and wait for it (``RuntimeError`` from that loop)."""
        return self._loop.run(coro)

    def run_async(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """The same, as an awaitable for the caller's own event loop."""
        return self._loop.run_async(coro)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the session loop; ``SessionClosedError`` once closed.

        The future's callbacks run on the session thread.
        """
        return self._loop.submit(coro)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the session thread soon; nothing once the loop has stopped."""
        self._loop.call_soon(callback)

    def in_session_thread(self) -> bool:
        """Whether the caller runs on this manager's session thread."""
        return self._loop.in_loop_thread()

    # ---- state changes (loop thread) ------------------------------------------------------------

    def _client_or_raise(self) -> StytchClient:
        if self._client is None:
            if not self.config.public_token:
                raise ConfigurationError(
                    "no Stytch public token: set STYTCH_PUBLIC_TOKEN or "
                    "%config Stytch.public_token = 'public-token-…'"
                )
            from ..api.client import StytchClient

            self._client = StytchClient(
                self.config.public_token,
                api_url=self.config.api_url or None,
                timeout=self.config.timeout,
            )
        return self._client

    def _store_failed(self, exc: TokenStoreError) -> None:
        # A broken keyring or a full disk must not lose the session held in memory. Said once
        # per cause (not on every heartbeat: it would land in every cell that runs); it stays
        # in last_error until the store works again.
        if str(exc) != self._sync.failing:
            logger.warning("stytch: %s", exc)
        self._note_error(exc)

    async def _load_stored_tokens(self, tokens: SessionTokens | None = None) -> None:
        """Hold the stored session (``tokens``, when the caller has read them already)."""
        if tokens is None:
            tokens = await self._sync.load_async()
        if tokens is not None:
            self._adopt_unconfirmed(tokens)
        elif self.vertical.name == "b2b" and await self._resume_intermediate():
            pass
        elif self.status == "unconfirmed" and self.session_token is None:
            self._set_status("signed_out")  # what looked stored was not (or not ours)

    def _set_objects(self, objects: dict[str, object] | None) -> None:
        """Set (or with None, clear) the vertical's object traits; inside held notifications."""
        for name in self.vertical.object_traits:
            self.set_trait(name, None if objects is None else objects.get(name))

    def _adopt_unconfirmed(self, tokens: SessionTokens) -> None:
        """Tokens we hold but the server has not confirmed (start-up, update, another kernel)."""
        with self._lock, self.hold_trait_notifications():
            self._generation += 1
            self._held = None
            self.set_trait("session_token", tokens.session_token)
            self.set_trait("session_jwt", tokens.session_jwt)
            self.set_trait("intermediate_session_token", None)
            self._set_objects(None)
            self._set_status("unconfirmed")
        self._heartbeat.reset_failures()
        self._heartbeat.wake()

    async def _apply(self, outcome: Authenticated | Intermediate, generation: int | None) -> bool:
        """Take an authenticate outcome as the new state, unless the session moved on."""
        if isinstance(outcome, Intermediate):
            return await self._hold_intermediate(outcome, generation)
        if generation is not None and generation != self._generation:
            logger.debug("stytch: dropped a response for a session replaced in flight")
            return False
        previous = self.session_token.value if self.session_token else None
        tokens = outcome.tokens
        same_session = previous == tokens.opaque
        # A new session is queued for the store before the traits show it, and written right
        # after, on the store's worker (write-behind, as Android's apply()): a sign-out or
        # refresh that follows is queued behind it, and a crash before the write loses only
        # what a crash a moment earlier would. The sign-in the caller awaits, and the
        # auth-change callbacks, come only once the write is done (a failed one: last_error).
        # While the store is not open yet, it is written first. A check of the same session
        # only brings a fresh JWT: that write follows the news, off the waiting caller's path.
        writing = None if same_session else self._sync.queue_write(tokens)
        stored = same_session or writing is not None or await self._sync.write_async(tokens)
        half_way = not same_session and self.intermediate_session_token is not None
        with self._lock:
            if generation is not None and generation != self._generation:
                logger.debug("stytch: dropped a response for a session replaced in flight")
                return False
            self._learn_server_clock(outcome.session)
            with self.hold_trait_notifications():
                if not same_session:
                    self._generation += 1
                    self.set_trait("session_token", tokens.session_token)
                self._held = outcome.session
                self.set_trait("session_jwt", tokens.session_jwt)
                self.set_trait("intermediate_session_token", None)
                self._set_objects(dict(outcome.objects))
                self._set_status("signed_in")
                self.set_trait("signed_out_reason", "")
                self.set_trait("last_validated_at", datetime.now(timezone.utc))
                if stored and self._sync.failing is None:
                    self.set_trait("last_error", "")
            generation = self._generation
        if same_session:
            self._background(self._store_jwt(tokens, generation))
        if half_way:  # the session replaces the stored half-way sign-in (no await before this)
            self._background(self._keep_intermediate(None))
        self._arm_expiry()
        self._heartbeat.reset_failures()
        self._heartbeat.wake()
        if writing is not None:
            # Shielded: a caller that gives up (Ctrl-C) must not take the queued write with it.
            await asyncio.shield(writing)
        # Auth-change callbacks may hand the session to other processes: they hear of it once
        # it is stored (the traits above showed it already).
        self._announce()
        return True

    async def _hold_intermediate(
        self, outcome: Intermediate, generation: int | None, *, store: bool = True
    ) -> bool:
        """B2B, half-way: hold the IST instead of any session (the two never coexist, as in
        Stytch's SDKs), until it is used or ``outcome.lifetime`` seconds have passed."""
        if generation is not None and generation != self._generation:
            return False
        if self.session_token is not None:
            await self._sync.write_async(None, replacing=self.session_token.value)
        with self._lock:
            if generation is not None and generation != self._generation:
                return False
            expires_at = self.server_now() + timedelta(seconds=outcome.lifetime)
            with self.hold_trait_notifications():
                self._generation += 1
                self._held = None
                self.set_trait("session_token", None)
                self.set_trait("session_jwt", None)
                self._set_objects(dict(outcome.objects))
                from ..api.b2b_models import IntermediateSessionToken

                ist = IntermediateSessionToken(outcome.token, expires_at=expires_at)
                self.set_trait("intermediate_session_token", ist)
                self._set_status(outcome.status)
                self.set_trait("signed_out_reason", "")
            generation = self._generation
            self._expiry_timer = asyncio.get_running_loop().call_later(
                outcome.lifetime, self._expire_intermediate, generation
            )
            member, organization = self.member, self.organization
        if store:
            from .intermediate_store import HalfWay  # B2B only: not at %load_ext

            await self._keep_intermediate(HalfWay(ist, outcome.status, member, organization))
        self._heartbeat.reset_failures()
        self._heartbeat.wake()
        self._announce()
        return True

    async def _intermediate_slot(self) -> IntermediateSlot | None:
        if self.vertical.name != "b2b":
            return None
        from .intermediate_store import IntermediateSlot

        return IntermediateSlot(await self._sync.open_async(), self.config.public_token)

    async def _keep_intermediate(self, half_way: HalfWay | None) -> None:
        """Write (or with None, clear) the stored half-way sign-in, off the loop (the key may
        come from a keyring); a failure is reported, and what is held in memory stays."""
        slot = await self._intermediate_slot()
        if slot is None:
            return
        try:
            if half_way is None:
                await asyncio.to_thread(slot.clear)
            else:
                await asyncio.to_thread(slot.save, half_way)
        except (OSError, TokenStoreError) as exc:
            self._note_error(exc)

    async def _resume_intermediate(self) -> bool:
        """At start: a half-way sign-in stored by this or another kernel, still in its time."""
        slot = await self._intermediate_slot()
        if slot is None:
            return False
        try:
            half_way = await asyncio.to_thread(slot.load, self.server_now())
        except (OSError, TokenStoreError) as exc:
            self._note_error(exc)
            return False
        if half_way is None:
            return False
        await self._hold_half_way(half_way)
        self._checked.set()
        return True

    def _follow_intermediate(self) -> None:
        """Follow the stored half-way sign-in as sessions are followed: a discovery or an MFA
        step begun in another kernel shows here, and so does its end there."""
        from .intermediate_store import IntermediateSlot

        def signature() -> Hashable | None:
            return IntermediateSlot(self._sync.store, self.config.public_token).signature()

        self._sync.watch(signature, self._on_intermediate_change)

    async def _on_intermediate_change(self) -> None:
        # A session written just before the change (an exchange in another kernel) is taken
        # first: the half-way sign-in it replaced is then not mistaken for a sign-out.
        await self._sync.poll_async()
        slot = await self._intermediate_slot()
        if slot is None:
            return
        generation = self._generation
        try:
            half_way = await asyncio.to_thread(slot.load, self.server_now())
        except (OSError, TokenStoreError) as exc:
            self._note_error(exc)
            return
        if generation != self._generation:
            return  # this kernel moved on while the file was read: what it read is old news
        held = self.intermediate_session_token
        if half_way is None:
            # The store reads an expired IST as none: if this one has expired too, that is
            # the reason (the expiry timer may not have run yet), not another process.
            if held is not None and self._intermediate_token() is not None:
                self._clear("the sign-in half-way ended in another process")
            return
        if self.session_token is not None:
            return  # a session here, and in the store: it wins, as at start
        if held is not None and (
            held.value == half_way.token.value or _not_later(half_way.token, held)
        ):
            # This kernel's own write, one it has already followed, or one it has moved past
            # (a newer IST is held, its file write still under way).
            return
        await self._hold_half_way(half_way, generation)

    async def _hold_half_way(self, half_way: HalfWay, generation: int | None = None) -> None:
        """Hold a stored half-way sign-in (for what is left of its 10 minutes), unsaved;
        with ``generation``, only if this kernel's state is still that one."""
        expires_in = half_way.token.expires_in(self.server_now()) or 0.0
        objects = {"member": half_way.member, "organization": half_way.organization}
        outcome = Intermediate(
            token=half_way.token.value,
            status=half_way.status,
            lifetime=max(expires_in, 0.001),
            objects={k: v for k, v in objects.items() if v is not None},
        )
        await self._hold_intermediate(outcome, generation, store=False)

    def _expire_intermediate(self, generation: int) -> None:
        self._expiry_timer = None
        if generation == self._generation and self.status in INTERMEDIATE_STATUSES:
            self._background(self._sign_out(IST_EXPIRED))

    def _intermediate_token(self) -> str | None:
        """The held IST, unless it has expired (then it is dropped)."""
        ist = self.intermediate_session_token
        if ist is None:
            return None
        expires_in = ist.expires_in(self.server_now())
        if expires_in is not None and expires_in <= 0:
            self._clear(IST_EXPIRED)
            self._background(self._keep_intermediate(None))
            return None
        value: str = ist.value
        return value

    async def _store_jwt(self, tokens: SessionTokens, generation: int) -> None:
        if generation == self._generation:  # not if a sign-out or new session came first
            await self._sync.write_async(tokens, replacing=tokens.opaque)

    def _background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task of the session loop, held until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    async def _sign_out(self, reason: str) -> None:
        """Forget the held session: in the store first (off the loop), then here."""
        token, generation = self.session_token, self._generation
        if token is not None:
            await self._sync.write_async(None, replacing=token.value)
        if self.intermediate_session_token is not None:
            await self._keep_intermediate(None)
        if generation == self._generation:  # not over a session that arrived meanwhile
            self._clear(reason)

    def _clear(self, reason: str) -> None:
        """The state change of a sign-out; the store is the caller's (see ``_sign_out``)."""
        with self._lock, self.hold_trait_notifications():
            self._generation += 1
            self._held = None
            self._set_objects(None)
            self.set_trait("session_token", None)
            self.set_trait("session_jwt", None)
            self.set_trait("intermediate_session_token", None)
            self._set_status("signed_out")
            self.set_trait("signed_out_reason", reason)
        logger.info("stytch: signed out (%s)", reason)
        self._heartbeat.reset_failures()
        self._heartbeat.wake()
        self._announce()

    def _set_status(self, status: Status) -> None:
        if status != "signed_in":
            self._disarm_expiry()
        if status == "unconfirmed":
            self._checked.clear()
        self.set_trait("status", status)
        if status != "unconfirmed":
            self._checked.set()

    def wait_for_vertical(self, timeout: float | None = 10.0) -> bool:
        """With ``Stytch.vertical = "auto"``: wait until the project's bootstrap has said
        whether it is consumer or B2B (and the namespaces are the right ones). True once known
        (or if it could not be asked: consumer is then assumed, and a warning logged)."""
        if self._loop.in_loop_thread():
            raise RuntimeError("wait_for_vertical() would wait for its own thread")
        if not self.config.public_token and not self._vertical_known.is_set():
            return False  # nothing asks before a public token is set (see _reconfigure)
        return self._vertical_known.wait(timeout)

    async def _until_started(self) -> None:
        # An operation queued while start-up awaits the bootstrap must not run before the
        # stored session is loaded: it would be overwritten by it.
        starting = self._starting
        if starting is not None and not starting.done():
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(starting)

    def wait_until_checked(self, timeout: float | None = 10.0) -> bool:
        """Wait until the held session has been checked with Stytch (or there is none).

        Right after ``%load_ext`` a stored session reads as "unconfirmed" until it is read and
        checked; a cell that needs to know can call this first. True once ``status`` is
        settled (signed in or out) or a check could not reach Stytch (``last_error`` says why);
        False if ``timeout`` seconds passed first.
        """
        if self._loop.in_loop_thread():
            raise RuntimeError("wait_until_checked() would wait for its own thread")
        return self._checked.wait(timeout)

    def _arm_expiry(self) -> None:
        """(Re)schedule the local sign-out at the held session's expiry (loop thread)."""
        self._disarm_expiry()
        expires_in = self._expires_in()
        if expires_in is None:
            return
        self._expiry_timer = asyncio.get_running_loop().call_later(
            max(expires_in, 0.0), self._expire, self._generation
        )

    def _disarm_expiry(self) -> None:
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None

    def _expire(self, generation: int) -> None:
        self._expiry_timer = None
        if generation != self._generation or self.status != "signed_in":
            return  # another session (or none) by now
        expires_in = self._expires_in()
        if expires_in is not None and expires_in > 0:
            self._arm_expiry()  # the server's clock, as learned since, says not yet
        else:
            self._background(self._sign_out("session expired"))

    def _note_error(self, exc: BaseException) -> None:
        self.set_trait("last_error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if self.status == "unconfirmed":
            self._checked.set()  # checked, and Stytch could not say: the tokens are kept

    def _set_heartbeat_state(self, state: HeartbeatState, next_at: datetime | None) -> None:
        with self.hold_trait_notifications():
            self.set_trait("heartbeat_state", state)
            self.set_trait("next_check_at", next_at)

    def _heartbeat_conditions(self) -> Conditions:
        return Conditions(
            # Half-way through a B2B sign-in there is no session to check: the heartbeat idles.
            status="signed_out" if self.status in INTERMEDIATE_STATUSES else self.status,
            interval=self.config.heartbeat_interval,
            auto_extend=self.config.auto_extend,
            expires_in=self._expires_in(),
        )

    def _learn_server_clock(self, session: SessionClock) -> None:
        # last_accessed_at is the server's "now" for this request: it lets local expiry
        # follow the server's clock even when this machine's clock is off. One reply must not
        # move it anywhere: it has to agree with the same reply (a live session's "now" is
        # after its start and before its expiry) and stay within a sane skew.
        now = session.last_accessed_at
        if now is None:
            return
        started = session.started_at
        expires_in = session.expires_in(now)
        offset = (now - datetime.now(timezone.utc)).total_seconds()
        if (
            (started is not None and now < started)
            or (expires_in is not None and expires_in <= 0)
            or abs(offset) > MAX_CLOCK_SKEW_SECONDS
        ):
            logger.info("stytch: ignored a reply's clock (%s), it contradicts itself", now)
            return
        self._server_offset = offset if abs(offset) > 1.0 else 0.0

    def server_now(self) -> datetime:
        """Our best estimate of the Stytch server's clock."""
        return datetime.now(timezone.utc) + timedelta(seconds=self._server_offset)

    def _expires_in(self) -> float | None:
        held = self._held
        return held.expires_in(self.server_now()) if held is not None else None

    # ---- other processes' sign-ins and sign-outs (StoreSync's on_change) -------------------------

    def _on_store_change(self, tokens: SessionTokens | None) -> None:
        mine = self.session_token.value if self.session_token else None
        if tokens is None:
            if mine is not None:
                self._clear("signed out in another process")
        elif tokens.opaque == mine:
            # Another kernel's heartbeat refreshed the JWT of the same session: no request needed.
            self.set_trait("session_jwt", tokens.session_jwt)
        else:
            self._adopt_unconfirmed(tokens)

    # ---- configuration ---------------------------------------------------------------------------

    def _on_config_change(self, change: dict[str, Any]) -> None:
        name = change["name"]
        if name in ("heartbeat_interval", "auto_extend"):
            if self._loop.running and not self._loop.in_loop_thread():
                # Wait for the new plan, so `%stytch heartbeat status` right after shows it.
                self._loop.run(self._reschedule())
            else:
                self._loop.call_soon(self._heartbeat.wake)
        elif name in ("public_token", "api_url", "timeout", "token_store", "data_dir"):
            if not self._loop.running:
                return  # nothing made yet: the next request or start() reads the new value
            work = self._reconfigure(name)
            if self._loop.in_loop_thread():
                self._loop.submit(work)
            else:
                self._loop.run(work)  # in effect when `%config` returns

    async def _reschedule(self) -> None:
        if self._heartbeat.running:
            self._heartbeat.publish_schedule()
            self._heartbeat.wake()

    async def _reconfigure(self, name: str) -> None:
        client, self._client = self._client, None  # the next request builds one afresh
        if client is not None:
            # Replies already on their way (the bootstrap's, a beat's) still arrive: the old
            # client closes once they have, or at shutdown.
            retiring = asyncio.ensure_future(client.aclose_when_idle())
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)
        if name in ("public_token", "api_url"):
            self._project_generation += 1  # an answer on its way is about another project
        resolving = self._resolving is not None and not self._resolving.done()
        if name == "public_token" and self._vertical_pending and not resolving:
            await self._resolve_vertical()
        if name == "public_token" and self._sync.configurable:
            # Another project: its sessions are not ours. Forget this one (it stays stored
            # under the old public token) and load the new project's.
            self._sync.reopen()
            if not self.signed_out:
                self._clear("the public token changed")
            await self._load_stored_tokens()
        elif name in ("token_store", "data_dir") and self._sync.configurable:
            # The same project in another place: the session moves along, it is not lost.
            self._sync.reopen()
            tokens = self._held_tokens()
            if tokens is not None:
                await self._sync.write_async(tokens)
            else:
                await self._load_stored_tokens()

    def _held_tokens(self) -> SessionTokens | None:
        if self.session_token is None or self.session_jwt is None:
            return None
        from ..api.models import SessionTokens

        return SessionTokens(opaque=self.session_token.value, jwt=self.session_jwt.value)

    # ---- the operations (coroutines on the loop thread) -------------------------------------

    def _require_token(self) -> str:
        token = self.session_token
        if token is None:
            raise NotSignedInError(
                "not signed in: sign in first (e.g. %stytch login otp --email …)"
            )
        return token.value

    async def _authenticate(self, session_duration_minutes: int | None) -> Any:
        await self._until_started()
        validate_duration_minutes(session_duration_minutes)
        token = self._require_token()
        generation = self._generation
        client = self._client_or_raise()
        try:
            response = await self.vertical.authenticate(client, token, session_duration_minutes)
        except StytchAPIError as exc:
            if exc.unrecoverable and generation == self._generation:
                await self._sign_out(f"ended by Stytch: {exc.error_type}")
            raise
        await self._apply(self.vertical.interpret(response), generation)
        return response

    async def _beat(self) -> None:
        if self.session_token is None:
            return  # nothing held (yet): the stored session is still being read
        expires_in = self._expires_in()
        if expires_in is not None and expires_in <= 0:
            await self._sign_out("session expired")
            return
        extend = self.config.auto_extend and self.signed_in
        await self._authenticate(self.config.session_duration_minutes if extend else None)

    async def _revoke(self, force_clear: bool) -> None:
        await self._until_started()
        token = self._require_token()
        generation = self._generation
        try:
            await self.vertical.revoke(self._client_or_raise(), token)
        except StytchAPIError as exc:
            if (force_clear or exc.unrecoverable) and generation == self._generation:
                await self._sign_out(
                    "revoked" if force_clear else f"ended by Stytch: {exc.error_type}"
                )
            raise
        except Exception:
            if force_clear and generation == self._generation:
                await self._sign_out("revoked locally (force_clear)")
            raise
        if generation == self._generation:
            await self._sign_out("revoked")

    async def _adopt(self, tokens: SessionTokens) -> Any:
        await self._until_started()
        self._sync.prepare()  # the store is written next: open it while the request runs
        # Checked before anything is stored or replaced: tokens Stytch refuses (a typo, a
        # revoked session) or cannot confirm (offline) leave the held session as it was, here
        # and in every kernel. What is stored is what the server sent back.
        response = await self.vertical.authenticate(self._client_or_raise(), tokens.opaque, None)
        await self._apply(self.vertical.interpret(response), None)
        return response

    async def _sign_in(self, request: SignInRequest) -> Any:
        await self._until_started()
        self._sync.prepare()  # the store is written next: open it while the request runs
        response = await request(self._client_or_raise())
        # An explicit sign-in always wins (no generation to check).
        await self._apply(self.vertical.interpret(response), None)
        return response

    def _duration(self, minutes: int | None) -> int:
        return validate_duration_minutes(minutes) or self.config.session_duration_minutes

    def _current_token(self) -> str | None:
        return self.session_token.value if self.signed_in and self.session_token else None

    # ---- read-only conveniences ------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        # Past its expiry a session is over, even in the instant before the timer clears it.
        expires_in = self._expires_in()
        return self.status == "signed_in" and (expires_in is None or expires_in > 0)

    @property
    def signed_out(self) -> bool:
        """No session held, not even an unconfirmed one."""
        return self.status == "signed_out"

    @property
    def mailbox_url(self) -> str | None:
        """The emulator's mailbox page (where its "sent" codes and links show), once a reply has
        come from a stytch-jupyter emulator; None with real Stytch, or before any request."""
        client = self._client
        return client.mailbox_url if client is not None else None

    @property
    def store(self) -> TokenStore | None:
        """The token store in use (None until first needed, or when none can be opened)."""
        return self._sync.store

    @property
    def store_sync(self) -> StoreSync:
        """How this manager follows the shared store (its methods run on the session loop)."""
        return self._sync

    @property
    def auth(self) -> StytchAuth:
        """An ``httpx.Auth`` (and ``requests`` auth) sending ``Bearer <session_jwt>``."""
        from .auth import StytchAuth

        return StytchAuth(self)

    @property
    def redirect(self) -> RedirectFlows:
        """The pending redirect flows (magic links, OAuth) and their ways back."""
        with self._lock:
            if self._redirect is None:
                from .redirect.flows import RedirectFlows

                self._redirect = RedirectFlows(self)
            return self._redirect

    @property
    def oauth(self) -> OAuth:
        """``stytch.oauth.start(provider)`` and ``.authenticate(token)``."""
        with self._lock:
            if self._oauth is None:
                from .oauth import OAuth

                self._oauth = OAuth(self._operations, self.redirect)
            return self._oauth

    @property
    def heartbeat(self) -> HeartbeatControl:
        return HeartbeatControl(self._heartbeat, self, lambda: self.heartbeat_state)

    def __repr__(self) -> str:
        person = self.user or self.member
        who = person.email if person is not None else None
        return f"<{type(self).__name__} status={self.status!r} user={who!r}>"


def _configured_vertical(config: Stytch) -> Vertical[Any]:
    if config.vertical == "b2b":
        from .b2b import B2B

        return B2B
    return CONSUMER


def _not_later(stored: IntermediateSessionToken, held: IntermediateSessionToken) -> bool:
    """Whether a stored IST came no later than the held one (by their 10-minute expiries)."""
    if stored.expires_at is None or held.expires_at is None:
        return False
    return stored.expires_at <= held.expires_at


def _log_failure(future: concurrent.futures.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("stytch: start-up failed", exc_info=future.exception())


class _Operations:
    """``SessionOperations`` over a manager: what its namespaces may do, and nothing more."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager

    @property
    def last_method_id(self) -> str | None:
        return self._manager.last_method_id

    @last_method_id.setter
    def last_method_id(self, value: str | None) -> None:
        self._manager.last_method_id = value

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._manager.run(coro)

    def run_async(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        return self._manager.run_async(coro)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return self._manager.submit(coro)

    def client(self) -> StytchClient:
        return self._manager._client_or_raise()

    def current_token(self) -> str | None:
        return self._manager._current_token()

    def duration(self, minutes: int | None) -> int:
        return self._manager._duration(minutes)

    async def sign_in(self, request: SignInRequest) -> Any:
        return await self._manager._sign_in(request)

    async def authenticate(self, minutes: int | None) -> Any:
        return await self._manager._authenticate(minutes)

    async def revoke(self, force_clear: bool) -> None:
        await self._manager._revoke(force_clear)

    async def adopt(self, tokens: SessionTokens) -> Any:
        return await self._manager._adopt(tokens)

    # -- B2B ---------------------------------------------------------------------------------

    def intermediate_token(self) -> str | None:
        return self._manager._intermediate_token()

    async def forget_intermediate(self, reason: str) -> None:
        if self._manager.intermediate_session_token is not None:
            await self._manager._sign_out(reason)

    def member(self) -> Member | None:
        member: Member | None = self._manager.member  # a LazyInstance trait reads as Any
        return member

    def organization(self) -> Organization | None:
        organization: Organization | None = self._manager.organization
        return organization

    def redirect_flows(self) -> RedirectFlows:
        return self._manager.redirect
