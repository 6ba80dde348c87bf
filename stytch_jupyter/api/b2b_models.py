"""Wire models for Stytch's B2B client API (``/sdk/v1/b2b/...``): members of organizations.

As in ``models.py``: unknown fields are tolerated, the objects keep their mapping in ``raw``,
and no repr shows a whole token. A B2B sign-in may end half-way: the response then carries an
intermediate session token (IST) instead of a member session, and says what is missing
(``mfa_required``, ``primary_required``, or a discovery's list of organizations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .errors import StytchResponseError
from .models import AuthenticationFactor, SessionTokens, parse_timestamp
from .secret import redact

__all__ = [
    "B2BAuthenticateResponse",
    "B2BTOTPCreated",
    "DiscoveredOrganization",
    "DiscoveryResponse",
    "IntermediateSessionToken",
    "Member",
    "MemberSession",
    "MfaRequired",
    "Organization",
    "SSOConnection",
]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StytchResponseError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise StytchResponseError(f"{where}: missing or malformed field {key!r}")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _objects(value: Any, where: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise StytchResponseError(f"{where} is not a list")
    return [_mapping(item, where) for item in value]


@dataclass(frozen=True, slots=True)
class IntermediateSessionToken:
    """The token of a sign-in that is half-way (an organization to pick, MFA to pass).

    Secret like a session token: ``value`` is the raw string and nothing else shows it.
    ``expires_at`` is when this side stops using it (Stytch's SDKs: 10 minutes after it came).
    """

    value: str = field(repr=False)
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValueError("an intermediate session token must be a non-empty string")
        if any(ch.isspace() for ch in self.value):
            raise ValueError("the intermediate session token contains whitespace")

    def expires_in(self, now: datetime | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - (now or datetime.now(timezone.utc))).total_seconds()

    def __repr__(self) -> str:
        return (
            f"IntermediateSessionToken(value={redact(self.value)!r}, "
            f"expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an intermediate session token is not pickled (it would be written whole)")


@dataclass(frozen=True)
class SSOConnection:
    connection_id: str
    display_name: str
    identity_provider: str


@dataclass(frozen=True)
class Organization:
    organization_id: str
    organization_name: str
    organization_slug: str
    mfa_policy: str = ""
    auth_methods: str = ""
    allowed_auth_methods: tuple[str, ...] = ()
    mfa_methods: str = ""
    allowed_mfa_methods: tuple[str, ...] = ()
    email_allowed_domains: tuple[str, ...] = ()
    email_jit_provisioning: str = ""
    sso_active_connections: tuple[SSOConnection, ...] = ()
    sso_default_connection_id: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def requires_mfa(self) -> bool:
        return self.mfa_policy == "REQUIRED_FOR_ALL"

    @classmethod
    def from_dict(cls, data: Any) -> Organization:
        where = "organization"
        data = _mapping(data, where)
        connections = tuple(
            SSOConnection(
                connection_id=_optional_text(item, "connection_id"),
                display_name=_optional_text(item, "display_name"),
                identity_provider=_optional_text(item, "identity_provider"),
            )
            for item in _objects(data.get("sso_active_connections"), "sso_active_connections")
        )
        return cls(
            organization_id=_text(data, "organization_id", where),
            organization_name=_optional_text(data, "organization_name"),
            organization_slug=_text(data, "organization_slug", where),
            mfa_policy=_optional_text(data, "mfa_policy"),
            auth_methods=_optional_text(data, "auth_methods"),
            allowed_auth_methods=_strings(data.get("allowed_auth_methods")),
            mfa_methods=_optional_text(data, "mfa_methods"),
            allowed_mfa_methods=_strings(data.get("allowed_mfa_methods")),
            email_allowed_domains=_strings(data.get("email_allowed_domains")),
            email_jit_provisioning=_optional_text(data, "email_jit_provisioning"),
            sso_active_connections=connections,
            sso_default_connection_id=_optional_text(data, "sso_default_connection_id"),
            raw=data,
        )


@dataclass(frozen=True)
class Member:
    member_id: str
    organization_id: str
    email_address: str
    status: str
    name: str = ""
    is_admin: bool = False
    mfa_enrolled: bool = False
    mfa_phone_number: str = ""
    mfa_phone_number_verified: bool = False
    totp_registration_id: str = ""
    default_mfa_method: str = ""
    roles: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def email(self) -> str:
        """The member's email address (as ``User.email``, for code that shows either)."""
        return self.email_address

    @classmethod
    def from_dict(cls, data: Any) -> Member:
        where = "member"
        data = _mapping(data, where)
        roles = tuple(
            _optional_text(role, "role_id") for role in _objects(data.get("roles"), "member roles")
        )
        return cls(
            member_id=_text(data, "member_id", where),
            organization_id=_text(data, "organization_id", where),
            email_address=_text(data, "email_address", where),
            status=_optional_text(data, "status"),
            name=_optional_text(data, "name"),
            is_admin=data.get("is_admin") is True,
            mfa_enrolled=data.get("mfa_enrolled") is True,
            mfa_phone_number=_optional_text(data, "mfa_phone_number"),
            mfa_phone_number_verified=data.get("mfa_phone_number_verified") is True,
            totp_registration_id=_optional_text(data, "totp_registration_id"),
            default_mfa_method=_optional_text(data, "default_mfa_method"),
            roles=tuple(r for r in roles if r),
            raw=data,
        )


@dataclass(frozen=True)
class MemberSession:
    member_session_id: str
    member_id: str
    organization_id: str
    organization_slug: str
    started_at: datetime | None
    last_accessed_at: datetime | None
    expires_at: datetime | None
    authentication_factors: tuple[AuthenticationFactor, ...]
    roles: tuple[str, ...]
    custom_claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> MemberSession:
        where = "member session"
        data = _mapping(data, where)
        factors = _objects(data.get("authentication_factors"), "authentication_factors")
        claims = data.get("custom_claims")
        return cls(
            member_session_id=_text(data, "member_session_id", where),
            member_id=_text(data, "member_id", where),
            organization_id=_text(data, "organization_id", where),
            organization_slug=_optional_text(data, "organization_slug"),
            started_at=parse_timestamp(data.get("started_at")),
            last_accessed_at=parse_timestamp(data.get("last_accessed_at")),
            expires_at=parse_timestamp(data.get("expires_at")),
            authentication_factors=tuple(AuthenticationFactor.from_dict(f) for f in factors),
            roles=_strings(data.get("roles")),
            custom_claims=claims if isinstance(claims, Mapping) else {},
            raw=data,
        )

    @property
    def session_id(self) -> str:
        """The member session's id, under the name a consumer ``Session`` uses (so code that
        shows either, like ``%stytch status``, needs no second path)."""
        return self.member_session_id

    @property
    def user_id(self) -> str:
        """The member's id, under the consumer name (see ``session_id``)."""
        return self.member_id

    def expires_in(self, now: datetime | None = None) -> float | None:
        """Seconds until ``expires_at`` (negative once past), or None if unknown."""
        if self.expires_at is None:
            return None
        return (self.expires_at - (now or datetime.now(timezone.utc))).total_seconds()


@dataclass(frozen=True)
class MfaRequired:
    """What an organization's MFA step offers: the member's phone (masked as Stytch sends it),
    whether a TOTP app is registered, and whether an SMS code was already sent."""

    mfa_phone_number: str = ""
    totp_registration_id: str = ""
    secondary_auth_initiated: str = ""

    @classmethod
    def from_dict(cls, data: Any) -> MfaRequired | None:
        if data is None:
            return None
        data = _mapping(data, "mfa_required")
        options = data.get("member_options")
        options = options if isinstance(options, Mapping) else {}
        return cls(
            mfa_phone_number=_optional_text(options, "mfa_phone_number"),
            totp_registration_id=_optional_text(options, "totp_registration_id"),
            secondary_auth_initiated=_optional_text(data, "secondary_auth_initiated"),
        )


def _primary_required(data: Any) -> tuple[str, ...] | None:
    if not isinstance(data, Mapping):
        return None
    return _strings(data.get("allowed_auth_methods"))


@dataclass(frozen=True)
class DiscoveredOrganization:
    """One organization a discovery found for the email address, and the person's place in it
    (``membership_type``: ``active_member``, ``pending_member``, ``invited_member``,
    ``eligible_to_join_by_email_domain`` or ``eligible_to_join_by_oauth_tenant``)."""

    organization: Organization
    membership_type: str
    member_authenticated: bool
    member: Member | None = None
    mfa_required: MfaRequired | None = None
    primary_required: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, data: Any) -> DiscoveredOrganization:
        where = "discovered organization"
        data = _mapping(data, where)
        membership = _mapping(data.get("membership") or {}, "membership")
        member = membership.get("member")
        return cls(
            organization=Organization.from_dict(data.get("organization")),
            membership_type=_optional_text(membership, "type"),
            member_authenticated=data.get("member_authenticated") is True,
            member=Member.from_dict(member) if isinstance(member, Mapping) else None,
            mfa_required=MfaRequired.from_dict(data.get("mfa_required")),
            primary_required=_primary_required(data.get("primary_required")),
        )


@dataclass(frozen=True)
class DiscoveryResponse:
    """A discovery's result: who signed in, where they may go, and the IST to go there with
    (``intermediate_session_token``: empty when the list was read with a member session)."""

    email_address: str
    discovered_organizations: tuple[DiscoveredOrganization, ...]
    intermediate_session_token: str = field(repr=False, default="")
    organization_id_hint: str = ""
    request_id: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> DiscoveryResponse:
        where = "discovery response"
        data = _mapping(data, where)
        found = _objects(data.get("discovered_organizations"), "discovered_organizations")
        request_id = data.get("request_id")
        return cls(
            email_address=_text(data, "email_address", where),
            discovered_organizations=tuple(DiscoveredOrganization.from_dict(d) for d in found),
            intermediate_session_token=_optional_text(data, "intermediate_session_token"),
            organization_id_hint=_optional_text(data, "organization_id_hint"),
            request_id=request_id if isinstance(request_id, str) else None,
        )

    def __repr__(self) -> str:
        slugs = [d.organization.organization_slug for d in self.discovered_organizations]
        return (
            f"DiscoveryResponse(email_address={self.email_address!r}, organizations={slugs!r}, "
            f"intermediate_session_token={redact(self.intermediate_session_token)!r})"
        )


@dataclass(frozen=True)
class B2BAuthenticateResponse:
    """What a B2B sign-in step returns. Either a member session (``member_session`` with
    ``session_token``/``session_jwt``) or, when the organization wants more, an
    ``intermediate_session_token`` and what is missing (``mfa_required``, ``primary_required``)."""

    member_id: str
    member: Member
    organization: Organization
    member_session: MemberSession | None
    session_token: str = field(repr=False, default="")
    session_jwt: str = field(repr=False, default="")
    intermediate_session_token: str = field(repr=False, default="")
    mfa_required: MfaRequired | None = None
    primary_required: tuple[str, ...] | None = None
    method_id: str = ""
    request_id: str | None = None
    recovery_codes_remaining: int | None = None

    @property
    def member_authenticated(self) -> bool:
        return self.member_session is not None

    @property
    def tokens(self) -> SessionTokens | None:
        """The member session's tokens, or None when the sign-in is half-way (an IST)."""
        if self.member_session is None:
            return None
        return SessionTokens(opaque=self.session_token, jwt=self.session_jwt)

    @classmethod
    def from_dict(cls, data: Any) -> B2BAuthenticateResponse:
        where = "B2B authenticate response"
        data = _mapping(data, where)
        raw_session = data.get("member_session")
        member_session = MemberSession.from_dict(raw_session) if raw_session else None
        session_token = _optional_text(data, "session_token")
        session_jwt = _optional_text(data, "session_jwt")
        ist = _optional_text(data, "intermediate_session_token")
        if member_session is not None and not (session_token and session_jwt):
            raise StytchResponseError(f"{where}: a member session without its tokens")
        if member_session is None and not ist:
            raise StytchResponseError(f"{where}: neither a member session nor an IST")
        member = Member.from_dict(data.get("member"))
        remaining = data.get("recovery_codes_remaining")
        request_id = data.get("request_id")
        return cls(
            member_id=_optional_text(data, "member_id") or member.member_id,
            member=member,
            organization=Organization.from_dict(data.get("organization")),
            member_session=member_session,
            session_token=session_token if member_session else "",
            session_jwt=session_jwt if member_session else "",
            intermediate_session_token="" if member_session else ist,
            mfa_required=MfaRequired.from_dict(data.get("mfa_required")),
            primary_required=_primary_required(data.get("primary_required")),
            method_id=_optional_text(data, "method_id"),
            request_id=request_id if isinstance(request_id, str) else None,
            recovery_codes_remaining=remaining
            if isinstance(remaining, int) and not isinstance(remaining, bool)
            else None,
        )

    def __repr__(self) -> str:
        session = self.member_session.member_session_id if self.member_session else None
        return (
            f"B2BAuthenticateResponse(member_id={self.member_id!r}, "
            f"organization_slug={self.organization.organization_slug!r}, "
            f"member_session_id={session!r}, session_token={redact(self.session_token)!r}, "
            f"session_jwt={redact(self.session_jwt)!r}, "
            f"intermediate_session_token={redact(self.intermediate_session_token)!r}, "
            f"mfa_required={self.mfa_required is not None}, "
            f"primary_required={self.primary_required!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class B2BTOTPCreated:
    """A member's new authenticator app. ``secret`` and ``recovery_codes`` are secrets (hidden
    from the repr); ``qr_code`` is a ``data:image/png;base64,…`` URL to show once."""

    totp_registration_id: str
    member_id: str
    secret: str = field(repr=False)
    qr_code: str = field(repr=False)
    recovery_codes: tuple[str, ...] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> B2BTOTPCreated:
        where = "B2B totp create response"
        data = _mapping(data, where)
        return cls(
            totp_registration_id=_text(data, "totp_registration_id", where),
            member_id=_optional_text(data, "member_id"),
            secret=_text(data, "secret", where),
            qr_code=_optional_text(data, "qr_code"),
            recovery_codes=_strings(data.get("recovery_codes")),
        )

    def __repr__(self) -> str:
        return (
            f"B2BTOTPCreated(totp_registration_id={self.totp_registration_id!r}, "
            f"member_id={self.member_id!r}, secret='…', "
            f"recovery_codes=<{len(self.recovery_codes)} hidden>)"
        )

    __str__ = __repr__
