"""``stytch.oauth``: sign in with an OAuth provider (Google, GitHub, …) through a redirect flow.

The provider's own tokens (``provider_values`` in the response) are secrets like the session
token: this project never stores them and its reprs never show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from ..api.factor_models import OAuthAuthenticateResponse
    from ..api.models import AuthenticateResponse
    from .redirect.flows import RedirectFlow, RedirectFlows
    from .redirect.routes import RouteName
    from .runner import SessionOperations

# Stytch's consumer providers (the browser SDK's list: iOS's plus apple, minus spotify).
PROVIDERS = (
    "amazon", "apple", "bitbucket", "coinbase", "discord", "facebook", "figma", "github",
    "gitlab", "google", "linkedin", "microsoft", "salesforce", "slack", "snapchat", "spotify",
    "tiktok", "twitch", "twitter", "yahoo",
)  # fmt: skip


class OAuth:
    def __init__(self, operations: SessionOperations, flows: RedirectFlows) -> None:
        self._ops = operations
        self._flows = flows

    def start(
        self,
        provider: str,
        *,
        scopes: Iterable[str] = (),
        provider_params: Mapping[str, str] | None = None,
        route: RouteName | None = None,
        session_duration_minutes: int | None = None,
        notebook_origin: str | None = None,
    ) -> RedirectFlow[AuthenticateResponse]:
        """Start a sign-in with ``provider``: open the returned flow's ``url`` in a browser;
        the redirect signs this session in (``flow.wait()`` waits for it)."""
        if not isinstance(provider, str) or not provider.strip():
            raise ValueError("the OAuth provider must be a name such as 'google'")
        return self._flows.start_oauth(
            provider.strip().lower(),
            scopes=scopes,
            provider_params=provider_params,
            route=route,
            session_duration_minutes=session_duration_minutes,
            notebook_origin=notebook_origin,
        )

    async def _authenticate(
        self, token: str, minutes: int | None, code_verifier: str | None
    ) -> OAuthAuthenticateResponse:
        if not isinstance(token, str) or not token.strip():
            raise ValueError("the OAuth token must be a non-empty string")
        token = token.strip()
        duration = self._ops.duration(minutes)
        current = self._ops.current_token()
        response = await self._ops.sign_in(
            lambda client: client.oauth_authenticate(
                token, duration, session_token=current, code_verifier=code_verifier
            )
        )
        # sign_in hands back the response its request made: here, an OAuth one.
        return cast("OAuthAuthenticateResponse", response)

    def authenticate(
        self,
        token: str,
        session_duration_minutes: int | None = None,
        *,
        code_verifier: str | None = None,
    ) -> OAuthAuthenticateResponse:
        """Sign in with an OAuth ``token`` from a redirect (``stytch_token_type=oauth``)."""
        return self._ops.run(self._authenticate(token, session_duration_minutes, code_verifier))

    async def authenticate_async(
        self,
        token: str,
        session_duration_minutes: int | None = None,
        *,
        code_verifier: str | None = None,
    ) -> OAuthAuthenticateResponse:
        return await self._ops.run_async(
            self._authenticate(token, session_duration_minutes, code_verifier)
        )
