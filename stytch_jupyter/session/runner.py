"""The contracts between the session core and what is built on it (namespaces, controls, widgets).

``SessionRunner`` runs coroutines on the session loop thread from any other thread: the
manager is one (``SessionManager.run/run_async/submit``), ``LoopThread`` another.
``SessionOperations`` is what a vertical's namespaces (``stytch.otps``, ``stytch.sessions``, …)
need from the manager: they hold one, never the manager itself.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..api.client import StytchClient
    from ..api.models import AuthenticateResponse, SessionTokens

T = TypeVar("T")

SignInRequest = Callable[["StytchClient"], Awaitable["AuthenticateResponse"]]


class SessionRunner(Protocol):
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the session loop and wait for its result (not from that loop)."""
        ...

    def run_async(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """The same, as an awaitable for the caller's own event loop."""
        ...

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the session loop; the future completes on the session thread."""
        ...


class SessionOperations(SessionRunner, Protocol):
    """The session core as the namespaces see it. The coroutines run on the session loop."""

    last_method_id: str | None

    def client(self) -> StytchClient:
        """The API client (built on first use); ``ConfigurationError`` without a public token."""
        ...

    def current_token(self) -> str | None:
        """The signed-in session's opaque token, sent along so a sign-in adds a factor to it."""
        ...

    def duration(self, minutes: int | None) -> int:
        """``minutes`` checked, or the configured ``session_duration_minutes``."""
        ...

    async def sign_in(self, request: SignInRequest) -> AuthenticateResponse:
        """Send ``request`` and take its session as the new one (an explicit sign-in wins)."""
        ...

    async def authenticate(self, minutes: int | None) -> AuthenticateResponse:
        """Check the held session with Stytch (and extend it, with ``minutes``)."""
        ...

    async def revoke(self, force_clear: bool) -> None:
        """End the held session at Stytch and here."""
        ...

    async def adopt(self, tokens: SessionTokens) -> AuthenticateResponse:
        """Check ``tokens`` obtained elsewhere with Stytch; only once confirmed, take them as
        the session (stored as the server sent them back). Refused: nothing changes."""
        ...
