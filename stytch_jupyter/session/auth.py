"""``StytchAuth``: call your own backend with the session JWT, refreshed when about to expire.

Works as an ``httpx.Auth`` (sync and async clients) and as a ``requests`` auth callable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

import httpx

from .errors import NotSignedInError

if TYPE_CHECKING:
    from .manager import SessionManager

# Refresh a JWT this many seconds before it expires (Stytch JWTs live 5 minutes).
REFRESH_MARGIN_SECONDS = 30.0


def jwt_expiry(jwt: str) -> float | None:
    """The ``exp`` claim (Unix seconds) of a JWT, read without verifying it.

    Only used to decide when to refresh; the server verifies the JWT itself.
    """
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
        return float(exp) if isinstance(exp, int | float) else None
    except (IndexError, ValueError, AttributeError, TypeError):
        return None


class StytchAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <session_jwt>`` to each request."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager

    def _needs_refresh(self) -> bool:
        jwt = self._manager.session_jwt
        if jwt is None:
            raise NotSignedInError("not signed in: no session JWT to send")
        exp = jwt_expiry(jwt.value)
        now = self._manager.server_now().timestamp()
        return exp is None or exp - now < REFRESH_MARGIN_SECONDS

    def _header(self) -> str:
        jwt = self._manager.session_jwt
        if jwt is None:
            raise NotSignedInError("not signed in: no session JWT to send")
        return f"Bearer {jwt.value}"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if self._needs_refresh():
            self._manager.sessions.authenticate()
        request.headers["Authorization"] = self._header()
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._needs_refresh():
            await self._manager.sessions.authenticate_async()
        request.headers["Authorization"] = self._header()
        yield request

    def __call__(self, request: Any) -> Any:
        """``requests`` calls its auth with the prepared request."""
        if self._needs_refresh():
            self._manager.sessions.authenticate()
        request.headers["Authorization"] = self._header()
        return request

    def __repr__(self) -> str:
        return f"<StytchAuth for {self._manager!r}>"
