"""The consumer vertical: users and their sessions, ``/sdk/v1/sessions/...``.

Its namespaces (``stytch.sessions``, ``stytch.otps``, …) are in ``namespaces.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .vertical import Authenticated

if TYPE_CHECKING:
    from ..api.client import StytchClient
    from ..api.models import AuthenticateResponse


class ConsumerVertical:
    """``Vertical[AuthenticateResponse]``: a ``Session`` and its ``User``."""

    name = "consumer"
    object_traits: tuple[str, ...] = ("session", "user")

    async def authenticate(
        self, client: StytchClient, session_token: str, minutes: int | None
    ) -> AuthenticateResponse:
        return await client.sessions_authenticate(session_token, minutes)

    async def revoke(self, client: StytchClient, session_token: str) -> None:
        await client.sessions_revoke(session_token)

    def interpret(self, response: AuthenticateResponse) -> Authenticated:
        return Authenticated(
            tokens=response.tokens,
            session=response.session,
            objects={"session": response.session, "user": response.user},
        )

    def __repr__(self) -> str:
        return "ConsumerVertical()"


CONSUMER = ConsumerVertical()
