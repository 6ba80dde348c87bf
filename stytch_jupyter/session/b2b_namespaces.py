"""The B2B call surface, named as Stytch's SDKs name it (in snake_case):
``stytch.magic_links.email.discovery.send(email)``, ``stytch.discovery.organizations.list()``,
``stytch.discovery.intermediate_sessions.exchange("acme")``, ``stytch.totp.authenticate(code)``…
Each call has an ``_async`` twin.

Thin, as the consumer namespaces are: they reach the manager only through ``SessionOperations``
(plus the few B2B needs below). The held intermediate session token (IST) goes into the body of
every call that takes it; an organization is accepted by id or by slug; the member and
organization an MFA step is for come from the half-way sign-in, so a code is all one types.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlencode

from ..api.b2b_client import B2BClient, project_allows_organization_creation
from ..api.b2b_models import (
    B2BAuthenticateResponse,
    B2BTOTPCreated,
    DiscoveredOrganization,
    DiscoveryResponse,
    Member,
    Organization,
)
from ..api.errors import StytchAPIError
from ..api.secret import Secret
from .errors import NotSignedInError
from .namespaces import Sessions
from .redirect.links import Redirect

if TYPE_CHECKING:
    from ..api.client import StytchClient
    from .redirect.flows import RedirectFlow, RedirectFlows, TokenType
    from .redirect.routes import RouteName
    from .runner import SessionOperations

R = TypeVar("R")

# The error Stytch answers for an IST that has expired or was spent: the sign-in is over.
IST_GONE = "intermediate_session_not_found"
CANCELLED = "you started over: sign in again"
ORGANIZATION_ID_PREFIX = "organization-"
SSO_START_PATH = "/v1/public/sso/start"  # §3.6; the emulator also serves /b2b/public/sso/start


class B2BOperations(Protocol):
    """``SessionOperations`` plus what the B2B surface needs from the manager."""

    def intermediate_token(self) -> str | None: ...

    async def forget_intermediate(self, reason: str) -> None: ...

    def member(self) -> Member | None: ...

    def organization(self) -> Organization | None: ...

    def redirect_flows(self) -> RedirectFlows: ...


def _twin(
    *secret_params: str,
) -> Callable[
    [Callable[..., Coroutine[Any, Any, R]]],
    tuple[Callable[..., R], Callable[..., Awaitable[R]]],
]:
    """A sync method and its ``_async`` twin from one coroutine method. The parameters named
    in ``secret_params`` are wrapped in ``Secret`` before anything can fail, and the raw
    arguments are dropped from the frame: a verbose traceback shows neither."""

    def make(
        impl: Callable[..., Coroutine[Any, Any, R]],
    ) -> tuple[Callable[..., R], Callable[..., Awaitable[R]]]:
        signature = inspect.signature(impl)

        def coroutine(self: _Namespace, args: Any, kwargs: Any) -> Coroutine[Any, Any, R]:
            bound = signature.bind(self, *args, **kwargs)
            for name in secret_params:
                value = bound.arguments.get(name)
                if isinstance(value, str):
                    bound.arguments[name] = Secret(value)
            return impl(*bound.args, **bound.kwargs)

        @functools.wraps(impl)
        def sync(self: _Namespace, *args: Any, **kwargs: Any) -> R:
            work = coroutine(self, args, kwargs)
            del args, kwargs
            return self._ops.run(work)

        @functools.wraps(impl)
        async def twin(self: _Namespace, *args: Any, **kwargs: Any) -> R:
            work = coroutine(self, args, kwargs)
            del args, kwargs
            return await self._ops.run_async(work)

        sync.__name__ = impl.__name__.lstrip("_")
        twin.__name__ = sync.__name__ + "_async"
        return sync, twin

    return make


class _State:
    """What the B2B namespaces share: the last discovery's organizations."""

    def __init__(self) -> None:
        self.discovery: DiscoveryResponse | None = None


class _Namespace:
    def __init__(self, ops: Any, state: _State) -> None:
        self._ops: SessionOperations = ops
        self._b2b_ops: B2BOperations = ops
        self._state = state

    def _client(self) -> B2BClient:
        client: StytchClient = self._ops.client()
        return B2BClient(client)

    def _ist(self) -> str | None:
        return self._b2b_ops.intermediate_token()

    def _require_ist(self) -> str:
        ist = self._ist()
        if ist is None:
            raise NotSignedInError(
                "no sign-in in progress: start with a discovery, e.g. "
                "stytch.magic_links.email.discovery.send(email)"
            )
        return ist

    async def _sign_in(self, request: Callable[[B2BClient], Awaitable[Any]]) -> Any:
        """Send ``request`` and take what it returns: a member session or a new IST. An IST
        Stytch no longer knows ends the half-way sign-in here too."""

        async def send(client: StytchClient) -> Any:
            response = await request(B2BClient(client))
            if isinstance(response, DiscoveryResponse):
                # Kept before the manager takes the IST and says ``needs_organization``: whoever
                # that wakes (a widget's picker) finds the organizations already here.
                self._state.discovery = response
            return response

        try:
            return await self._ops.sign_in(send)
        except StytchAPIError as exc:
            if exc.error_type == IST_GONE:
                await self._b2b_ops.forget_intermediate(
                    "the intermediate session expired or was used: sign in again"
                )
            raise

    async def _discovered(self, response: DiscoveryResponse) -> DiscoveryResponse:
        self._state.discovery = response
        return response

    async def _organization_id(self, organization: str) -> str:
        """An organization's id from its id or slug (the held one, the last discovery's,
        else Stytch's search by slug)."""
        if not isinstance(organization, str) or not organization.strip():
            raise ValueError("give an organization id or slug")
        organization = organization.strip()
        if organization.startswith(ORGANIZATION_ID_PREFIX):
            return organization
        slug = organization.lower()
        held = self._b2b_ops.organization()
        if held is not None and held.organization_slug == slug:
            return held.organization_id
        for found in self._discovered_organizations():
            if found.organization.organization_slug == slug:
                return found.organization.organization_id
        match = await self._client().organizations_search(slug)
        if match is None:
            raise ValueError(f"no organization has the slug {slug!r}")
        return match.organization_id

    # -- redirect flows (the PKCE pair and the way back live in ``RedirectFlows``) -----------

    def _flows(self) -> RedirectFlows:
        return self._b2b_ops.redirect_flows()

    def _pending(self, token_type: TokenType) -> bool:
        return any(flow.token_type == token_type for flow in self._flows().pending())

    async def _through_flow(self, token_type: TokenType, token: str | Secret) -> Any:
        """A token for a start made here (with no verifier given): its flow redeems it with
        the verifier it holds, and ends (a second use is refused)."""
        # No local holds the bare token: a verbose traceback shows Secret(…) and a redacted
        # Redirect only.
        redirect = Redirect(token.reveal() if isinstance(token, Secret) else token, token_type)
        return await self._flows().complete_async(redirect)

    async def _redeem(
        self,
        token_type: TokenType,
        token: str | Secret,
        verifier: Any,
        redeem: Callable[[], Awaitable[Any]],
    ) -> Any:
        """A redirect's token: with no verifier given, the flow of a start made here redeems
        it (it holds the verifier); else ``redeem()`` sends it with the verifier given."""
        if verifier is None and self._pending(token_type):
            return await self._through_flow(token_type, token)
        return await redeem()

    async def _member_sign_in(
        self,
        authenticate: Callable[..., Awaitable[B2BAuthenticateResponse]],
        token: str | Secret,
        minutes: int | None,
        verifier: Any,
    ) -> B2BAuthenticateResponse:
        """A redirect token's sign-in (``authenticate``: a ``B2BClient`` method such as
        ``B2BClient.sso_authenticate``), finishing a half-way sign-in when one is held."""
        duration = self._ops.duration(minutes)
        ist = self._ist()
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: authenticate(
                b2b, token, duration, pkce_code_verifier=verifier, intermediate_session_token=ist
            )
        )
        return response

    async def _discovery_link_sign_in(
        self, token: str | Secret, verifier: Any
    ) -> DiscoveryResponse:
        response: DiscoveryResponse = await self._sign_in(
            lambda b2b: b2b.magic_links_discovery_authenticate(token, pkce_code_verifier=verifier)
        )
        return await self._discovered(response)

    def _discovered_organizations(self) -> tuple[DiscoveredOrganization, ...]:
        discovery = self._state.discovery
        return discovery.discovered_organizations if discovery else ()

    def _mfa_target(
        self, organization_id: str | None, member_id: str | None
    ) -> tuple[str | None, str]:
        """The organization (id or slug, resolved later) and member an MFA call is for: given,
        or those of the sign-in half-way (or of the member session)."""
        member = self._b2b_ops.member()
        org = organization_id or (member.organization_id if member else None)
        who = member_id or (member.member_id if member else None)
        if org is None or who is None:
            raise NotSignedInError(
                "no member to verify: sign in to an organization first (MFA comes after)"
            )
        return org, who


# -- sessions ---------------------------------------------------------------------------------


class B2BSessions(Sessions):
    """``authenticate``, ``revoke`` and ``update`` as for consumer projects, and ``exchange``."""

    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops)
        self._helper = _Namespace(ops, state)

    async def _exchange(
        self, organization: str, session_duration_minutes: int | None = None
    ) -> B2BAuthenticateResponse:
        token = self._ops.current_token()
        if token is None:
            raise NotSignedInError("not signed in: sessions.exchange needs a member session")
        organization_id = await self._helper._organization_id(organization)
        duration = self._ops.duration(session_duration_minutes)
        response: B2BAuthenticateResponse = await self._helper._sign_in(
            lambda b2b: b2b.sessions_exchange(token, organization_id, duration)
        )
        return response

    exchange, exchange_async = _twin()(_exchange)
    """Move the member session to another organization of the same person (by id or slug);
    the new organization may ask for MFA (status ``needs_mfa``)."""


# -- magic links ------------------------------------------------------------------------------


class _MagicLinkEmailDiscovery(_Namespace):
    async def _send(
        self,
        email_address: str,
        discovery_redirect_url: str | None = None,
        *,
        route: RouteName | None = None,
        notebook_origin: str | None = None,
    ) -> RedirectFlow[DiscoveryResponse]:
        """Email a PKCE discovery link; its redirect (``stytch_token_type=discovery``) comes
        back to the returned flow by the way back chosen now (``flow.wait()``), or is pasted."""

        async def launch(flow: RedirectFlow[DiscoveryResponse]) -> None:
            await self._client().magic_links_email_discovery_send(
                email_address,
                discovery_redirect_url=flow.redirect_url,
                pkce_code_challenge=flow.code_challenge,
            )

        flow: RedirectFlow[DiscoveryResponse] = await self._flows().start_async(
            "discovery",
            launch,
            lambda token, verifier, _minutes: self._discovery_link_sign_in(token, verifier),
            verdict=verdict,
            route=route,
            notebook_origin=notebook_origin,
            redirect_url=discovery_redirect_url,
        )
        return flow

    send, send_async = _twin()(_send)


class _MagicLinkEmail(_Namespace):
    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops, state)
        self.discovery = _MagicLinkEmailDiscovery(ops, state)

    async def _login_or_signup(
        self,
        organization_id: str,
        email_address: str,
        login_redirect_url: str | None = None,
        signup_redirect_url: str | None = None,
        *,
        route: RouteName | None = None,
        session_duration_minutes: int | None = None,
        notebook_origin: str | None = None,
    ) -> RedirectFlow[B2BAuthenticateResponse]:
        """Email a PKCE sign-in link for an organization (id or slug); its redirect
        (``stytch_token_type=multi_tenant_magic_links``) comes back to the returned flow."""
        org = await self._organization_id(organization_id)

        async def launch(flow: RedirectFlow[B2BAuthenticateResponse]) -> None:
            await self._client().magic_links_email_login_or_signup(
                org,
                email_address,
                login_redirect_url=flow.redirect_url,
                signup_redirect_url=signup_redirect_url or flow.redirect_url,
                pkce_code_challenge=flow.code_challenge,
            )

        flow: RedirectFlow[B2BAuthenticateResponse] = await self._flows().start_async(
            "multi_tenant_magic_links",
            launch,
            lambda token, verifier, minutes: self._member_sign_in(
                B2BClient.magic_links_authenticate, token, minutes, verifier
            ),
            verdict=verdict,
            route=route,
            session_duration_minutes=session_duration_minutes,
            notebook_origin=notebook_origin,
            redirect_url=login_redirect_url or signup_redirect_url,
        )
        return flow

    login_or_signup, login_or_signup_async = _twin()(_login_or_signup)


class _MagicLinkDiscovery(_Namespace):
    async def _authenticate(
        self, discovery_magic_links_token: str | Secret, *, pkce_code_verifier: Any = None
    ) -> DiscoveryResponse:
        found: DiscoveryResponse = await self._redeem(
            "discovery",
            discovery_magic_links_token,
            pkce_code_verifier,
            lambda: self._discovery_link_sign_in(discovery_magic_links_token, pkce_code_verifier),
        )
        return found

    authenticate, authenticate_async = _twin("discovery_magic_links_token", "pkce_code_verifier")(
        _authenticate
    )


class B2BMagicLinks(_Namespace):
    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops, state)
        self.email = _MagicLinkEmail(ops, state)
        self.discovery = _MagicLinkDiscovery(ops, state)

    async def _authenticate(
        self,
        magic_links_token: str | Secret,
        session_duration_minutes: int | None = None,
        *,
        pkce_code_verifier: Any = None,
    ) -> B2BAuthenticateResponse:
        signed: B2BAuthenticateResponse = await self._redeem(
            "multi_tenant_magic_links",
            magic_links_token,
            pkce_code_verifier,
            lambda: self._member_sign_in(
                B2BClient.magic_links_authenticate,
                magic_links_token,
                session_duration_minutes,
                pkce_code_verifier,
            ),
        )
        return signed

    authenticate, authenticate_async = _twin("magic_links_token", "pkce_code_verifier")(
        _authenticate
    )


# -- email one-time codes -----------------------------------------------------------------------


class _OTPEmailDiscovery(_Namespace):
    async def _send(self, email_address: str) -> None:
        await self._client().otps_email_discovery_send(email_address)

    send, send_async = _twin()(_send)

    async def _authenticate(self, email_address: str, code: str | Secret) -> DiscoveryResponse:
        response: DiscoveryResponse = await self._sign_in(
            lambda b2b: b2b.otps_email_discovery_authenticate(email_address, code)
        )
        return await self._discovered(response)

    authenticate, authenticate_async = _twin("code")(_authenticate)


class _OTPEmail(_Namespace):
    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops, state)
        self.discovery = _OTPEmailDiscovery(ops, state)

    async def _login_or_signup(self, organization_id: str, email_address: str) -> None:
        org = await self._organization_id(organization_id)
        await self._client().otps_email_login_or_signup(org, email_address)

    login_or_signup, login_or_signup_async = _twin()(_login_or_signup)

    async def _authenticate(
        self,
        organization_id: str,
        email_address: str,
        code: str | Secret,
        session_duration_minutes: int | None = None,
    ) -> B2BAuthenticateResponse:
        org = await self._organization_id(organization_id)
        duration = self._ops.duration(session_duration_minutes)
        ist = self._ist()
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: b2b.otps_email_authenticate(
                org, email_address, code, duration, intermediate_session_token=ist
            )
        )
        return response

    authenticate, authenticate_async = _twin("code")(_authenticate)


class _OTPSms(_Namespace):
    async def _send(
        self,
        organization_id: str | None = None,
        member_id: str | None = None,
        *,
        mfa_phone_number: str | None = None,
    ) -> None:
        """Text an MFA code to the member's phone (``mfa_phone_number`` enrols one)."""
        org, member = self._mfa_target(organization_id, member_id)
        org_id = await self._organization_id(org or "")
        await self._client().otps_sms_send(
            org_id,
            member,
            mfa_phone_number=mfa_phone_number,
            intermediate_session_token=self._ist(),
            session_token=self._ops.current_token(),
        )

    send, send_async = _twin()(_send)

    async def _authenticate(
        self,
        code: str | Secret,
        organization_id: str | None = None,
        member_id: str | None = None,
        session_duration_minutes: int | None = None,
    ) -> B2BAuthenticateResponse:
        org, member = self._mfa_target(organization_id, member_id)
        org_id = await self._organization_id(org or "")
        duration = self._ops.duration(session_duration_minutes)
        ist, token = self._ist(), self._ops.current_token()
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: b2b.otps_sms_authenticate(
                org_id,
                member,
                code,
                duration,
                intermediate_session_token=ist,
                session_token=token,
            )
        )
        return response

    authenticate, authenticate_async = _twin("code")(_authenticate)


class B2BOTPs(_Namespace):
    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops, state)
        self.email = _OTPEmail(ops, state)
        self.sms = _OTPSms(ops, state)


# -- passwords --------------------------------------------------------------------------------


class _PasswordDiscovery(_Namespace):
    async def _authenticate(self, email_address: str, password: str | Secret) -> DiscoveryResponse:
        response: DiscoveryResponse = await self._sign_in(
            lambda b2b: b2b.passwords_discovery_authenticate(email_address, password)
        )
        return await self._discovered(response)

    authenticate, authenticate_async = _twin("password")(_authenticate)


class B2BPasswords(_Namespace):
    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops, state)
        self.discovery = _PasswordDiscovery(ops, state)

    async def _authenticate(
        self,
        organization_id: str,
        email_address: str,
        password: str | Secret,
        session_duration_minutes: int | None = None,
    ) -> B2BAuthenticateResponse:
        org = await self._organization_id(organization_id)
        duration = self._ops.duration(session_duration_minutes)
        ist = self._ist()
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: b2b.passwords_authenticate(
                org, email_address, password, duration, intermediate_session_token=ist
            )
        )
        return response

    authenticate, authenticate_async = _twin("password")(_authenticate)


# -- discovery --------------------------------------------------------------------------------


class _DiscoveryOrganizations(_Namespace):
    async def _list(self) -> tuple[DiscoveredOrganization, ...]:
        """The organizations the person may enter: by the discovery's IST, or (signed in) by
        the member session."""
        ist = self._ist()
        token = None if ist else self._ops.current_token()
        if ist is None and token is None:
            raise NotSignedInError(
                "nothing to list: start with a discovery, e.g. "
                "stytch.magic_links.email.discovery.send(email)"
            )
        try:
            response = await self._client().discovery_organizations(
                intermediate_session_token=ist, session_token=token
            )
        except StytchAPIError as exc:
            if exc.error_type == IST_GONE:
                await self._b2b_ops.forget_intermediate(
                    "the intermediate session expired or was used: sign in again"
                )
            raise
        await self._discovered(response)
        return response.discovered_organizations

    list, list_async = _twin()(_list)

    async def _create(
        self,
        organization_name: str | None = None,
        organization_slug: str | None = None,
        session_duration_minutes: int | None = None,
        **settings: Any,
    ) -> B2BAuthenticateResponse:
        """Create an organization with the discovered person as its first admin member."""
        ist = self._require_ist()
        duration = self._ops.duration(session_duration_minutes)
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: b2b.discovery_organizations_create(
                ist,
                duration,
                organization_name=organization_name,
                organization_slug=organization_slug,
                settings=settings,
            )
        )
        return response

    create, create_async = _twin()(_create)


class _IntermediateSessions(_Namespace):
    async def _exchange(
        self, organization: str, session_duration_minutes: int | None = None
    ) -> B2BAuthenticateResponse:
        """Enter an organization (id or slug) of the discovery: a member session, or MFA to
        pass first (status ``needs_mfa``)."""
        ist = self._require_ist()
        organization_id = await self._organization_id(organization)
        duration = self._ops.duration(session_duration_minutes)
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: b2b.discovery_intermediate_sessions_exchange(ist, organization_id, duration)
        )
        return response

    exchange, exchange_async = _twin()(_exchange)


class B2BDiscovery(_Namespace):
    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops, state)
        self.organizations = _DiscoveryOrganizations(ops, state)
        self.intermediate_sessions = _IntermediateSessions(ops, state)

    @property
    def discovered(self) -> tuple[DiscoveredOrganization, ...]:
        """The organizations of the last discovery (or list), in Stytch's order."""
        return self._discovered_organizations()

    async def _cancel(self) -> None:
        await self._b2b_ops.forget_intermediate(CANCELLED)

    cancel, cancel_async = _twin()(_cancel)
    """Give up a sign-in that is half-way (an organization to pick, MFA to pass): the
    intermediate session token is forgotten here and in the store. Nothing else changes."""

    async def _creation_allowed(self) -> bool:
        return await project_allows_organization_creation(self._ops.client())

    creation_allowed, creation_allowed_async = _twin()(_creation_allowed)
    """Whether the project lets a discovered person create an organization (its bootstrap's
    ``create_organization_enabled``)."""


# -- SSO and OAuth: a browser start, then the token its redirect brings back ----------------------


class _Redirected(_Namespace):
    """Starts a redirect flow whose ``url`` is the address to open: the flow holds the PKCE
    pair (the verifier never leaves the process) and the way back; the token its redirect
    brings back is redeemed with the verifier. A new start of the same kind replaces the last
    one, as a new sign-in attempt does."""

    async def _start_flow(
        self,
        token_type: TokenType,
        path: str,
        params: dict[str, str | None],
        redirect_params: tuple[str, ...],
        finish: Callable[[Secret, Secret, int | None], Awaitable[Any]],
        *,
        route: RouteName | None,
        session_duration_minutes: int | None,
        notebook_origin: str | None,
        redirect_url: str | None,
        open_browser: bool | None = False,
    ) -> RedirectFlow[Any]:
        client: StytchClient = self._ops.client()
        if session_duration_minutes is not None:
            self._ops.duration(session_duration_minutes)  # a bad one fails before anything opens

        async def launch(flow: RedirectFlow[Any]) -> None:
            # The way back's URL where the caller gave none of their own.
            back = {name: flow.redirect_url for name in redirect_params if not params.get(name)}
            query = {
                "public_token": client.public_token,
                "pkce_code_challenge": flow.code_challenge,
                **{key: value for key, value in {**params, **back}.items() if value},
            }
            flow.url = f"{client.api_url}{path}?{urlencode(query)}"

        flow: RedirectFlow[Any] = await self._flows().start_async(
            token_type,
            launch,
            finish,
            verdict=verdict,
            route=route,
            session_duration_minutes=session_duration_minutes,
            notebook_origin=notebook_origin,
            redirect_url=redirect_url,
        )
        self._flows().offer_browser(flow, open_browser)
        return flow


class B2BSSO(_Redirected):
    async def _start(
        self,
        connection_id: str | None = None,
        organization_slug: str | None = None,
        *,
        login_redirect_url: str | None = None,
        signup_redirect_url: str | None = None,
        route: RouteName | None = None,
        session_duration_minutes: int | None = None,
        notebook_origin: str | None = None,
        open_browser: bool | None = None,
    ) -> RedirectFlow[B2BAuthenticateResponse]:
        """Single sign-on with a connection (or an organization's default one, by slug): open
        the returned flow's ``url``; the redirect (``stytch_token_type=sso``) comes back to it
        by the way back chosen now, and ``flow.wait()`` waits for the sign-in (or paste the
        address it lands on: ``stytch.redirect.resume(link)``).

        ``open_browser``: None (the default) opens ``url`` in this machine's browser when the
        kernel is local and ``Stytch.open_browser`` is on; True always tries, False never."""
        if bool(connection_id) == bool(organization_slug):
            raise ValueError("give connection_id or organization_slug (one of them)")
        flow: RedirectFlow[B2BAuthenticateResponse] = await self._start_flow(
            "sso",
            SSO_START_PATH,
            {
                "connection_id": connection_id,
                "organization_slug": organization_slug,
                "login_redirect_url": login_redirect_url,
                "signup_redirect_url": signup_redirect_url,
            },
            ("login_redirect_url", "signup_redirect_url"),
            lambda token, verifier, minutes: self._member_sign_in(
                B2BClient.sso_authenticate, token, minutes, verifier
            ),
            route=route,
            session_duration_minutes=session_duration_minutes,
            notebook_origin=notebook_origin,
            redirect_url=login_redirect_url or signup_redirect_url,
            open_browser=open_browser,
        )
        return flow

    start, start_async = _twin()(_start)

    async def _authenticate(
        self,
        sso_token: str | Secret,
        session_duration_minutes: int | None = None,
        *,
        pkce_code_verifier: Any = None,
    ) -> B2BAuthenticateResponse:
        signed: B2BAuthenticateResponse = await self._redeem(
            "sso",
            sso_token,
            pkce_code_verifier,
            lambda: self._member_sign_in(
                B2BClient.sso_authenticate, sso_token, session_duration_minutes, pkce_code_verifier
            ),
        )
        return signed

    authenticate, authenticate_async = _twin("sso_token", "pkce_code_verifier")(_authenticate)


class _OAuthDiscovery(_Redirected):
    async def _start(
        self,
        provider: str,
        *,
        discovery_redirect_url: str | None = None,
        route: RouteName | None = None,
        notebook_origin: str | None = None,
        open_browser: bool | None = None,
    ) -> RedirectFlow[DiscoveryResponse]:
        """Find your organizations through ``provider``'s sign-in: open the flow's ``url``;
        its redirect (``stytch_token_type=discovery_oauth``) comes back to the flow
        (``open_browser`` as for ``stytch.sso.start``)."""
        flow: RedirectFlow[DiscoveryResponse] = await self._start_flow(
            "discovery_oauth",
            f"/v1/b2b/public/oauth/{_provider(provider)}/discovery/start",
            {},
            ("discovery_redirect_url",),
            lambda token, verifier, _minutes: self._discovery_sign_in(token, verifier),
            route=route,
            session_duration_minutes=None,
            notebook_origin=notebook_origin,
            redirect_url=discovery_redirect_url,
            open_browser=open_browser,
        )
        return flow

    start, start_async = _twin()(_start)

    async def _authenticate(
        self, discovery_oauth_token: str | Secret, *, pkce_code_verifier: Any = None
    ) -> DiscoveryResponse:
        found: DiscoveryResponse = await self._redeem(
            "discovery_oauth",
            discovery_oauth_token,
            pkce_code_verifier,
            lambda: self._discovery_sign_in(discovery_oauth_token, pkce_code_verifier),
        )
        return found

    async def _discovery_sign_in(self, token: str | Secret, verifier: Any) -> DiscoveryResponse:
        response: DiscoveryResponse = await self._sign_in(
            lambda b2b: b2b.oauth_discovery_authenticate(token, pkce_code_verifier=verifier)
        )
        return await self._discovered(response)

    authenticate, authenticate_async = _twin("discovery_oauth_token", "pkce_code_verifier")(
        _authenticate
    )


class B2BOAuth(_Redirected):
    def __init__(self, ops: Any, state: _State) -> None:
        super().__init__(ops, state)
        self.discovery = _OAuthDiscovery(ops, state)

    async def _start(
        self,
        provider: str,
        organization_id: str | None = None,
        *,
        organization_slug: str | None = None,
        login_redirect_url: str | None = None,
        signup_redirect_url: str | None = None,
        route: RouteName | None = None,
        session_duration_minutes: int | None = None,
        notebook_origin: str | None = None,
        open_browser: bool | None = None,
    ) -> RedirectFlow[B2BAuthenticateResponse]:
        """Sign in to an organization (id, or slug) with ``provider``: open the flow's
        ``url``; its redirect (``stytch_token_type=oauth``) comes back to the flow
        (``open_browser`` as for ``stytch.sso.start``)."""
        if bool(organization_id) == bool(organization_slug):
            raise ValueError("give organization_id or organization_slug (one of them)")
        flow: RedirectFlow[B2BAuthenticateResponse] = await self._start_flow(
            "oauth",
            f"/v1/b2b/public/oauth/{_provider(provider)}/start",
            {
                "organization_id": organization_id,
                "slug": organization_slug,
                "login_redirect_url": login_redirect_url,
                "signup_redirect_url": signup_redirect_url,
            },
            ("login_redirect_url", "signup_redirect_url"),
            lambda token, verifier, minutes: self._member_sign_in(
                B2BClient.oauth_authenticate, token, minutes, verifier
            ),
            route=route,
            session_duration_minutes=session_duration_minutes,
            notebook_origin=notebook_origin,
            redirect_url=login_redirect_url or signup_redirect_url,
            open_browser=open_browser,
        )
        return flow

    start, start_async = _twin()(_start)

    async def _authenticate(
        self,
        oauth_token: str | Secret,
        session_duration_minutes: int | None = None,
        *,
        pkce_code_verifier: Any = None,
    ) -> B2BAuthenticateResponse:
        signed: B2BAuthenticateResponse = await self._redeem(
            "oauth",
            oauth_token,
            pkce_code_verifier,
            lambda: self._member_sign_in(
                B2BClient.oauth_authenticate,
                oauth_token,
                session_duration_minutes,
                pkce_code_verifier,
            ),
        )
        return signed

    authenticate, authenticate_async = _twin("oauth_token", "pkce_code_verifier")(_authenticate)


def verdict(response: B2BAuthenticateResponse | DiscoveryResponse) -> str:
    """The line the browser's page shows once a B2B redirect's token was redeemed."""
    if isinstance(response, DiscoveryResponse):
        count = len(response.discovered_organizations)
        plural = "" if count == 1 else "s"
        return (
            f"Found {count} organization{plural} for {response.email_address}. "
            "Return to your notebook to pick one."
        )
    slug = response.organization.organization_slug
    if response.member_session is not None:
        return f"Signed in as {response.member.email_address} in {slug}. Return to your notebook."
    if response.mfa_required is not None:
        return f"{slug} asks for a second factor: return to your notebook to give it."
    return f"{slug} asks for another way to sign in: return to your notebook."


def _provider(provider: str) -> str:
    if not isinstance(provider, str) or not provider.isalnum():
        raise ValueError("provider must be a name like google or microsoft")
    return provider.lower()


# -- MFA: TOTP and recovery codes ---------------------------------------------------------------


class B2BTOTP(_Namespace):
    async def _create(
        self, organization_id: str | None = None, member_id: str | None = None
    ) -> B2BTOTPCreated:
        """Register an authenticator app for the member (during MFA, or signed in)."""
        org, member = self._mfa_target(organization_id, member_id)
        org_id = await self._organization_id(org or "")
        return await self._client().totp_create(
            org_id,
            member,
            intermediate_session_token=self._ist(),
            session_token=self._ops.current_token(),
        )

    create, create_async = _twin()(_create)

    async def _authenticate(
        self,
        code: str | Secret,
        organization_id: str | None = None,
        member_id: str | None = None,
        session_duration_minutes: int | None = None,
    ) -> B2BAuthenticateResponse:
        org, member = self._mfa_target(organization_id, member_id)
        org_id = await self._organization_id(org or "")
        duration = self._ops.duration(session_duration_minutes)
        ist, token = self._ist(), self._ops.current_token()
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: b2b.totp_authenticate(
                org_id, member, code, duration, intermediate_session_token=ist, session_token=token
            )
        )
        return response

    authenticate, authenticate_async = _twin("code")(_authenticate)


class B2BRecoveryCodes(_Namespace):
    async def _recover(
        self,
        recovery_code: str | Secret,
        organization_id: str | None = None,
        member_id: str | None = None,
        session_duration_minutes: int | None = None,
    ) -> B2BAuthenticateResponse:
        org, member = self._mfa_target(organization_id, member_id)
        org_id = await self._organization_id(org or "")
        duration = self._ops.duration(session_duration_minutes)
        ist = self._ist()
        response: B2BAuthenticateResponse = await self._sign_in(
            lambda b2b: b2b.recovery_codes_recover(
                org_id, member, recovery_code, duration, intermediate_session_token=ist
            )
        )
        return response

    recover, recover_async = _twin("recovery_code")(_recover)


def b2b_namespaces(ops: Any) -> dict[str, object]:
    """The B2B namespaces by the attribute name they take on the ``stytch`` object."""
    state = _State()
    return {
        "sessions": B2BSessions(ops, state),
        "magic_links": B2BMagicLinks(ops, state),
        "otps": B2BOTPs(ops, state),
        "passwords": B2BPasswords(ops, state),
        "discovery": B2BDiscovery(ops, state),
        "sso": B2BSSO(ops, state),
        "oauth": B2BOAuth(ops, state),
        "totp": B2BTOTP(ops, state),
        "recovery_codes": B2BRecoveryCodes(ops, state),
    }
