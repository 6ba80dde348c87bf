"""The B2B vertical: members of organizations and their member sessions, ``/sdk/v1/b2b/...``.

A B2B sign-in may stop half-way with an intermediate session token (IST): after a discovery
(``needs_organization``: pick or create an organization) or when the organization requires
MFA (``needs_mfa``). ``interpret`` says which; the manager holds the IST (10 minutes, as every
Stytch SDK does) instead of session tokens. Its namespaces are in ``b2b_namespaces.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api.b2b_client import B2BClient
from ..api.b2b_models import B2BAuthenticateResponse, DiscoveryResponse
from .states import IntermediateStatus
from .vertical import Authenticated, Intermediate

if TYPE_CHECKING:
    from ..api.client import StytchClient

IST_LIFETIME_SECONDS = 10 * 60.0
"""How long an IST is used here after it came: Stytch's SDKs all say 10 minutes (and so does
the server's default)."""

B2BResponse = B2BAuthenticateResponse | DiscoveryResponse


class B2BVertical:
    """``Vertical[B2BAuthenticateResponse | DiscoveryResponse]``: a ``MemberSession``, its
    ``Member`` and ``Organization``; or an IST on the way to one. ``session`` shows the member
    session too, so code written for either vertical finds it there."""

    name = "b2b"
    object_traits: tuple[str, ...] = ("member_session", "member", "organization", "session")

    def __init__(self, ist_lifetime: float = IST_LIFETIME_SECONDS) -> None:
        if not ist_lifetime > 0:
            raise ValueError("ist_lifetime must be a positive number of seconds")
        self.ist_lifetime = float(ist_lifetime)

    async def authenticate(
        self, client: StytchClient, session_token: str, minutes: int | None
    ) -> B2BAuthenticateResponse:
        return await B2BClient(client).sessions_authenticate(session_token, minutes)

    async def revoke(self, client: StytchClient, session_token: str) -> None:
        await B2BClient(client).sessions_revoke(session_token)

    def interpret(self, response: B2BResponse) -> Authenticated | Intermediate:
        if isinstance(response, DiscoveryResponse):
            if not response.intermediate_session_token:
                raise ValueError("a discovery reply without an IST leads nowhere")
            return Intermediate(
                token=response.intermediate_session_token,
                status="needs_organization",
                lifetime=self.ist_lifetime,
            )
        tokens = response.tokens
        if tokens is not None and response.member_session is not None:
            return Authenticated(
                tokens=tokens,
                session=response.member_session,
                objects={
                    "member_session": response.member_session,
                    "session": response.member_session,
                    "member": response.member,
                    "organization": response.organization,
                },
            )
        status: IntermediateStatus = (
            "needs_mfa" if response.mfa_required is not None else "needs_organization"
        )
        return Intermediate(
            token=response.intermediate_session_token,
            status=status,
            lifetime=self.ist_lifetime,
            objects={"member": response.member, "organization": response.organization},
        )

    def __repr__(self) -> str:
        return f"B2BVertical(ist_lifetime={self.ist_lifetime:g})"


B2B = B2BVertical()
