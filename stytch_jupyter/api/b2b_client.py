"""Stytch's B2B client API (``/sdk/v1/b2b/...``): members of organizations, discovery, MFA.

``B2BClient`` wraps a ``StytchClient`` and sends through its public ``request``: one connection
pool, one set of limits, deadlines and errors for both kinds of project. Stateless like it:
every call takes the credentials it acts with. Those are the member session (``session_token``,
sent in the ``Authorization`` header) and, for a sign-in that is half-way, the intermediate
session token (``intermediate_session_token``, sent in the request body, as Stytch's SDKs do).
PKCE names are B2B's: ``pkce_code_challenge``/``pkce_code_verifier``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .b2b_models import (
    B2BAuthenticateResponse,
    B2BTOTPCreated,
    DiscoveryResponse,
    Member,
    Organization,
)
from .bootstrap import bootstrap, project_vertical
from .errors import StytchResponseError
from .limits import DEFAULT_SESSION_MINUTES, validate_duration_minutes
from .secret import Secret, reveal

if TYPE_CHECKING:
    from .client import StytchClient

__all__ = ["B2BClient", "project_vertical"]

Text = str | Secret
M = TypeVar("M", Member, Organization)
# The body fields that carry secrets: kept out of every error message.
SECRET_FIELDS = frozenset(
    {
        "magic_links_token",
        "discovery_magic_links_token",
        "pkce_code_verifier",
        "intermediate_session_token",
        "code",
        "password",
        "sso_token",
        "oauth_token",
        "discovery_oauth_token",
        "recovery_code",
    }
)


def _text(value: Any, what: str) -> str:
    raw = reveal(value) if isinstance(value, Secret) else value
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return raw.strip()


def _optional(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _minutes(minutes: int | None) -> int:
    # Every official client SDK asks for 5 minutes when a factor call gives no duration.
    checked = validate_duration_minutes(minutes)
    return DEFAULT_SESSION_MINUTES if checked is None else checked


def _with(body: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """``body`` plus each optional field that was given (checked as non-empty text)."""
    for key, value in optional.items():
        if value is not None:
            body[key] = _text(value, key)
    return body


class B2BClient:
    """The B2B endpoints of one project, over ``client``'s connection pool."""

    def __init__(self, client: StytchClient) -> None:
        self.client = client

    def __repr__(self) -> str:
        return f"B2BClient({self.client!r})"

    async def _data(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        session_token: str | None = None,
        method: str = "POST",
    ) -> tuple[int, dict[str, Any]]:
        # No secret of the body may appear in an error's text (an echo of the server's).
        secrets = tuple(
            value
            for key, value in (body or {}).items()
            if key in SECRET_FIELDS and isinstance(value, str)
        )
        token = None if session_token is None else _text(session_token, "session_token")
        return await self.client.request(
            method, f"b2b/{path}", body, session_token=token, secrets=secrets
        )

    async def _authenticate(
        self, path: str, body: Mapping[str, Any], session_token: str | None = None
    ) -> B2BAuthenticateResponse:
        status, data = await self._data(path, body, session_token=session_token)
        return self.client.parse(
            f"POST b2b/{path}", status, B2BAuthenticateResponse.from_dict, data
        )

    async def _discovery(self, path: str, body: Mapping[str, Any]) -> DiscoveryResponse:
        status, data = await self._data(path, body)
        return self.client.parse(f"POST b2b/{path}", status, DiscoveryResponse.from_dict, data)

    # -- sessions ----------------------------------------------------------------------------

    async def sessions_authenticate(
        self, session_token: str, session_duration_minutes: int | None = None
    ) -> B2BAuthenticateResponse:
        """Check a member session; with a duration, also extend it to now + duration."""
        minutes = validate_duration_minutes(session_duration_minutes)
        body = {} if minutes is None else {"session_duration_minutes": minutes}
        return await self._authenticate("sessions/authenticate", body, session_token)

    async def sessions_revoke(self, session_token: str) -> None:
        await self._data("sessions/revoke", {}, session_token=session_token)

    async def sessions_exchange(
        self,
        session_token: str,
        organization_id: str,
        session_duration_minutes: int | None = None,
        *,
        locale: str | None = None,
    ) -> B2BAuthenticateResponse:
        """Trade the member session for one in another organization of the same person (MFA
        is asked for, with an IST, if that organization requires it)."""
        body = _with(
            {
                "organization_id": _text(organization_id, "organization_id"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            locale=locale,
        )
        return await self._authenticate("sessions/exchange", body, session_token)

    # -- magic links -------------------------------------------------------------------------

    async def magic_links_email_login_or_signup(
        self,
        organization_id: str,
        email_address: str,
        *,
        login_redirect_url: str | None = None,
        signup_redirect_url: str | None = None,
        pkce_code_challenge: str | None = None,
        locale: str | None = None,
    ) -> None:
        body = _with(
            {
                "organization_id": _text(organization_id, "organization_id"),
                "email_address": _text(email_address, "email_address"),
            },
            login_redirect_url=login_redirect_url,
            signup_redirect_url=signup_redirect_url,
            pkce_code_challenge=pkce_code_challenge,
            locale=locale,
        )
        await self._data("magic_links/email/login_or_signup", body)

    async def magic_links_authenticate(
        self,
        magic_links_token: Text,
        session_duration_minutes: int | None = None,
        *,
        pkce_code_verifier: Text | None = None,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                "magic_links_token": _text(magic_links_token, "magic_links_token"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            pkce_code_verifier=pkce_code_verifier,
            intermediate_session_token=intermediate_session_token,
        )
        return await self._authenticate("magic_links/authenticate", body, session_token)

    async def magic_links_email_discovery_send(
        self,
        email_address: str,
        *,
        discovery_redirect_url: str | None = None,
        pkce_code_challenge: str | None = None,
        locale: str | None = None,
    ) -> None:
        body = _with(
            {"email_address": _text(email_address, "email_address")},
            discovery_redirect_url=discovery_redirect_url,
            pkce_code_challenge=pkce_code_challenge,
            locale=locale,
        )
        await self._data("magic_links/email/discovery/send", body)

    async def magic_links_discovery_authenticate(
        self, discovery_magic_links_token: Text, *, pkce_code_verifier: Text | None = None
    ) -> DiscoveryResponse:
        body = _with(
            {
                "discovery_magic_links_token": _text(
                    discovery_magic_links_token, "discovery_magic_links_token"
                )
            },
            pkce_code_verifier=pkce_code_verifier,
        )
        return await self._discovery("magic_links/discovery/authenticate", body)

    # -- discovery ---------------------------------------------------------------------------

    async def discovery_organizations(
        self,
        *,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> DiscoveryResponse:
        """The organizations the person may enter: by the IST of a discovery, or by the
        member session (then the reply carries no IST)."""
        if intermediate_session_token is None and session_token is None:
            raise ValueError("discovery needs an intermediate session token or a member session")
        body = _with({}, intermediate_session_token=intermediate_session_token)
        status, data = await self._data(
            "discovery/organizations", body, session_token=session_token
        )
        return self.client.parse(
            "POST b2b/discovery/organizations", status, DiscoveryResponse.from_dict, data
        )

    async def discovery_intermediate_sessions_exchange(
        self,
        intermediate_session_token: Text,
        organization_id: str,
        session_duration_minutes: int | None = None,
        *,
        locale: str | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                "intermediate_session_token": _text(
                    intermediate_session_token, "intermediate_session_token"
                ),
                "organization_id": _text(organization_id, "organization_id"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            locale=locale,
        )
        return await self._authenticate("discovery/intermediate_sessions/exchange", body)

    async def discovery_organizations_create(
        self,
        intermediate_session_token: Text,
        session_duration_minutes: int | None = None,
        *,
        organization_name: str | None = None,
        organization_slug: str | None = None,
        organization_logo_url: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> B2BAuthenticateResponse:
        """Create an organization with the discovered person as its first (admin) member.
        ``settings``: further fields of the request (JIT, allowed auth methods, MFA policy)."""
        body: dict[str, Any] = dict(settings or {})
        body.update(
            intermediate_session_token=_text(
                intermediate_session_token, "intermediate_session_token"
            ),
            session_duration_minutes=_minutes(session_duration_minutes),
        )
        _with(
            body,
            organization_name=organization_name,
            organization_slug=organization_slug,
            organization_logo_url=organization_logo_url,
        )
        return await self._authenticate("discovery/organizations/create", body)

    # -- email one-time codes ------------------------------------------------------------------

    async def otps_email_login_or_signup(
        self, organization_id: str, email_address: str, *, locale: str | None = None
    ) -> None:
        body = _with(
            {
                "organization_id": _text(organization_id, "organization_id"),
                "email_address": _text(email_address, "email_address"),
            },
            locale=locale,
        )
        await self._data("otps/email/login_or_signup", body)

    async def otps_email_authenticate(
        self,
        organization_id: str,
        email_address: str,
        code: Text,
        session_duration_minutes: int | None = None,
        *,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                "organization_id": _text(organization_id, "organization_id"),
                "email_address": _text(email_address, "email_address"),
                "code": _text(code, "code"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            intermediate_session_token=intermediate_session_token,
        )
        return await self._authenticate("otps/email/authenticate", body, session_token)

    async def otps_email_discovery_send(
        self, email_address: str, *, locale: str | None = None
    ) -> None:
        body = _with({"email_address": _text(email_address, "email_address")}, locale=locale)
        await self._data("otps/email/discovery/send", body)

    async def otps_email_discovery_authenticate(
        self, email_address: str, code: Text
    ) -> DiscoveryResponse:
        body = {
            "email_address": _text(email_address, "email_address"),
            "code": _text(code, "code"),
        }
        return await self._discovery("otps/email/discovery/authenticate", body)

    # -- passwords ---------------------------------------------------------------------------

    async def passwords_authenticate(
        self,
        organization_id: str,
        email_address: str,
        password: Text,
        session_duration_minutes: int | None = None,
        *,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                "organization_id": _text(organization_id, "organization_id"),
                "email_address": _text(email_address, "email_address"),
                # A password is sent as typed: its spaces are part of it.
                "password": _password(password),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            intermediate_session_token=intermediate_session_token,
        )
        return await self._authenticate("passwords/authenticate", body, session_token)

    async def passwords_discovery_authenticate(
        self, email_address: str, password: Text
    ) -> DiscoveryResponse:
        body = {
            "email_address": _text(email_address, "email_address"),
            "password": _password(password),
        }
        return await self._discovery("passwords/discovery/authenticate", body)

    # -- SSO and OAuth (the redirect's token, after a browser start) --------------------------

    async def sso_authenticate(
        self,
        sso_token: Text,
        session_duration_minutes: int | None = None,
        *,
        pkce_code_verifier: Text | None = None,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                "sso_token": _text(sso_token, "sso_token"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            pkce_code_verifier=pkce_code_verifier,
            intermediate_session_token=intermediate_session_token,
        )
        return await self._authenticate("sso/authenticate", body, session_token)

    async def oauth_authenticate(
        self,
        oauth_token: Text,
        session_duration_minutes: int | None = None,
        *,
        pkce_code_verifier: Text | None = None,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                "oauth_token": _text(oauth_token, "oauth_token"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            pkce_code_verifier=pkce_code_verifier,
            intermediate_session_token=intermediate_session_token,
        )
        return await self._authenticate("oauth/authenticate", body, session_token)

    async def oauth_discovery_authenticate(
        self, discovery_oauth_token: Text, *, pkce_code_verifier: Text | None = None
    ) -> DiscoveryResponse:
        body = _with(
            {"discovery_oauth_token": _text(discovery_oauth_token, "discovery_oauth_token")},
            pkce_code_verifier=pkce_code_verifier,
        )
        return await self._discovery("oauth/discovery/authenticate", body)

    # -- MFA: SMS codes, TOTP, recovery codes --------------------------------------------------

    async def otps_sms_send(
        self,
        organization_id: str,
        member_id: str,
        *,
        mfa_phone_number: str | None = None,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> None:
        body = _with(
            _member(organization_id, member_id),
            mfa_phone_number=mfa_phone_number,
            intermediate_session_token=intermediate_session_token,
        )
        await self._data("otps/sms/send", body, session_token=session_token)

    async def otps_sms_authenticate(
        self,
        organization_id: str,
        member_id: str,
        code: Text,
        session_duration_minutes: int | None = None,
        *,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
        set_mfa_enrollment: str | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                **_member(organization_id, member_id),
                "code": _text(code, "code"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            intermediate_session_token=intermediate_session_token,
            set_mfa_enrollment=set_mfa_enrollment,
        )
        return await self._authenticate("otps/sms/authenticate", body, session_token)

    async def totp_create(
        self,
        organization_id: str,
        member_id: str,
        *,
        expiration_minutes: int | None = None,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> B2BTOTPCreated:
        """Register an authenticator app for the member (its secret, QR code and recovery
        codes); the first ``totp_authenticate`` confirms it."""
        body: dict[str, Any] = _with(
            _member(organization_id, member_id),
            intermediate_session_token=intermediate_session_token,
        )
        if expiration_minutes is not None:
            if isinstance(expiration_minutes, bool) or not isinstance(expiration_minutes, int):
                raise ValueError("expiration_minutes must be a whole number of minutes")
            if expiration_minutes <= 0:
                raise ValueError("expiration_minutes must be positive")
            body["expiration_minutes"] = expiration_minutes
        status, data = await self._data("totp", body, session_token=session_token)
        return self.client.parse("POST b2b/totp", status, B2BTOTPCreated.from_dict, data)

    async def totp_authenticate(
        self,
        organization_id: str,
        member_id: str,
        code: Text,
        session_duration_minutes: int | None = None,
        *,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
        set_mfa_enrollment: str | None = None,
        set_default_mfa: bool | None = None,
    ) -> B2BAuthenticateResponse:
        body = _with(
            {
                **_member(organization_id, member_id),
                "code": _text(code, "code"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            intermediate_session_token=intermediate_session_token,
            set_mfa_enrollment=set_mfa_enrollment,
        )
        if set_default_mfa is not None:
            body["set_default_mfa"] = bool(set_default_mfa)
        return await self._authenticate("totp/authenticate", body, session_token)

    async def recovery_codes_recover(
        self,
        organization_id: str,
        member_id: str,
        recovery_code: Text,
        session_duration_minutes: int | None = None,
        *,
        intermediate_session_token: Text | None = None,
        session_token: str | None = None,
    ) -> B2BAuthenticateResponse:
        """Pass MFA with one of the member's recovery codes (each works once)."""
        body = _with(
            {
                **_member(organization_id, member_id),
                "recovery_code": _text(recovery_code, "recovery_code"),
                "session_duration_minutes": _minutes(session_duration_minutes),
            },
            intermediate_session_token=intermediate_session_token,
        )
        return await self._authenticate("recovery_codes/recover", body, session_token)

    # -- the signed-in member and organization -------------------------------------------------

    async def organizations_members_me(self, session_token: str) -> Member:
        status, data = await self._data(
            "organizations/members/me", None, session_token=session_token, method="GET"
        )
        return self.client.parse(
            "GET b2b/organizations/members/me", status, _field(Member, "member"), data
        )

    async def organizations_me(self, session_token: str) -> Organization:
        status, data = await self._data(
            "organizations/me", None, session_token=session_token, method="GET"
        )
        return self.client.parse(
            "GET b2b/organizations/me", status, _field(Organization, "organization"), data
        )

    async def organizations_search(self, organization_slug: str) -> Organization | None:
        """The organization with this slug (its public fields), or None if there is none."""
        body = {"organization_slug": _text(organization_slug, "organization_slug")}
        status, data = await self._data("organizations/search", body)
        if data.get("organization") is None:
            return None
        return self.client.parse(
            "POST b2b/organizations/search",
            status,
            _field(Organization, "organization"),
            data,
        )


async def project_allows_organization_creation(client: StytchClient) -> bool:
    """Whether people may create organizations from a discovery (bootstrap's
    ``create_organization_enabled``; a project that does not say is taken to refuse)."""
    data = await bootstrap(client)
    return data.get("create_organization_enabled") is True


def _member(organization_id: str, member_id: str) -> dict[str, Any]:
    return {
        "organization_id": _text(organization_id, "organization_id"),
        "member_id": _text(member_id, "member_id"),
    }


def _password(password: Text) -> str:
    raw = reveal(password) if isinstance(password, Secret) else password
    if not isinstance(raw, str) or not raw:
        raise ValueError("the password must be a non-empty string")
    return raw


def _field(model: type[M], key: str) -> Callable[[Mapping[str, Any]], M]:
    def parse(data: Mapping[str, Any]) -> M:
        value = data.get(key)
        if not isinstance(value, Mapping):
            raise StytchResponseError(f"no {key!r} object in the reply")
        return model.from_dict(value)

    return parse
