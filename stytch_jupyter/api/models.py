"""Wire models for the Stytch client API.

Parsing tolerates unknown fields (Stytch adds fields freely) and keeps the original
mapping in ``raw``. Nothing here ever prints a whole token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .errors import InvalidDurationError, StytchResponseError

MIN_SESSION_MINUTES = 5
MAX_SESSION_MINUTES = 527_040  # 366 days
DEFAULT_SESSION_MINUTES = 5

TokenKind = Literal["opaque", "jwt"]


def redact(secret: str | None, keep: int = 6) -> str:
    """A short, recognisable prefix of a secret, never the whole thing."""
    if not secret:
        return "<none>"
    return f"{secret[:keep]}…" if len(secret) > keep else "…"


def validate_duration_minutes(minutes: int | None) -> int | None:
    """Check a session duration before it reaches the wire."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidDurationError(f"session duration must be whole minutes, got {minutes!r}")
    if not MIN_SESSION_MINUTES <= minutes <= MAX_SESSION_MINUTES:
        raise InvalidDurationError(
            f"session duration must be {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES} minutes "
            f"(5 minutes to 366 days), got {minutes}"
        )
    return minutes


def parse_timestamp(value: Any) -> datetime | None:
    """RFC 3339 (``2024-01-01T00:00:00.123456Z``) to an aware UTC datetime."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise StytchResponseError(f"expected an RFC 3339 timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise StytchResponseError(f"malformed timestamp {value[:40]!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """An aware datetime in Stytch's wire form: UTC, microseconds, ``Z``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _require(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise StytchResponseError(f"{where}: missing or malformed field {key!r}")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StytchResponseError(f"{where}: expected an object, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)  # slots: no __dict__, so vars() cannot show the value
class SessionToken:
    """A session credential. ``value`` is the raw string; nothing else shows it."""

    value: str = field(repr=False)
    kind: TokenKind

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValueError(f"a {self.kind} session token must be a non-empty string")

    def __repr__(self) -> str:
        return f"SessionToken(kind={self.kind!r}, value={redact(self.value)!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class SessionTokens:
    """The pair a session is kept by: the opaque token and the session JWT.

    Both are required, as in the Stytch iOS SDK this project follows.
    """

    opaque: str = field(repr=False)
    jwt: str = field(repr=False)

    def __post_init__(self) -> None:
        for kind, value in (("opaque", self.opaque), ("jwt", self.jwt)):
            if isinstance(value, SessionToken):
                object.__setattr__(self, kind, value.value)
            elif not isinstance(value, str) or not value.strip():
                raise ValueError(f"SessionTokens needs a non-empty {kind} token")
            elif value.split() != [value]:  # any whitespace; at C speed (a JWT is ~1 KB)
                raise ValueError(f"the {kind} token contains whitespace; paste it whole")
        if self.jwt.count(".") != 2:
            raise ValueError("the jwt token is not a JWT (expected three dot-separated parts)")

    @property
    def session_token(self) -> SessionToken:
        return SessionToken(self.opaque, "opaque")

    @property
    def session_jwt(self) -> SessionToken:
        return SessionToken(self.jwt, "jwt")

    def __repr__(self) -> str:
        return f"SessionTokens(opaque={redact(self.opaque)!r}, jwt={redact(self.jwt)!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class AuthenticationFactor:
    type: str
    delivery_method: str
    last_authenticated_at: datetime | None
    email_address: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> AuthenticationFactor:
        data = _mapping(data, "authentication factor")
        email_factor = data.get("email_factor")
        email = email_factor.get("email_address") if isinstance(email_factor, Mapping) else None
        return cls(
            type=str(data.get("type", "")),
            delivery_method=str(data.get("delivery_method", "")),
            last_authenticated_at=parse_timestamp(data.get("last_authenticated_at")),
            email_address=email if isinstance(email, str) else None,
            raw=data,
        )


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: str
    started_at: datetime | None
    last_accessed_at: datetime | None
    expires_at: datetime | None
    authentication_factors: tuple[AuthenticationFactor, ...]
    roles: tuple[str, ...]
    custom_claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> Session:
        data = _mapping(data, "session")
        factors = data.get("authentication_factors") or []
        if not isinstance(factors, list):
            raise StytchResponseError("session: authentication_factors is not a list")
        claims = data.get("custom_claims")
        return cls(
            session_id=_require(data, "session_id", str, "session"),
            user_id=_require(data, "user_id", str, "session"),
            started_at=parse_timestamp(data.get("started_at")),
            last_accessed_at=parse_timestamp(data.get("last_accessed_at")),
            expires_at=parse_timestamp(data.get("expires_at")),
            authentication_factors=tuple(AuthenticationFactor.from_dict(f) for f in factors),
            roles=tuple(str(r) for r in data.get("roles") or ()),
            custom_claims=claims if isinstance(claims, Mapping) else {},
            raw=data,
        )

    def expires_in(self, now: datetime | None = None) -> float | None:
        """Seconds until ``expires_at`` (negative once past), or None if unknown."""
        if self.expires_at is None:
            return None
        return (self.expires_at - (now or datetime.now(timezone.utc))).total_seconds()


@dataclass(frozen=True)
class Email:
    email_id: str
    email: str
    verified: bool


@dataclass(frozen=True)
class PhoneNumber:
    phone_id: str
    phone_number: str
    verified: bool


@dataclass(frozen=True)
class TOTPRegistration:
    """An authenticator app on the user (``user.totps``); its secret is never in a User."""

    totp_id: str
    verified: bool


@dataclass(frozen=True)
class User:
    user_id: str
    emails: tuple[Email, ...]
    status: str
    name: str | None
    created_at: datetime | None
    roles: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    phone_numbers: tuple[PhoneNumber, ...] = ()
    totps: tuple[TOTPRegistration, ...] = ()
    untrusted_metadata: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def email(self) -> str | None:
        """The user's first email address, the one a sign-in shows."""
        return self.emails[0].email if self.emails else None

    @classmethod
    def from_dict(cls, data: Any) -> User:
        data = _mapping(data, "user")
        emails = []
        for item in data.get("emails") or []:
            item = _mapping(item, "user email")
            emails.append(
                Email(
                    email_id=str(item.get("email_id", "")),
                    email=str(item.get("email", "")),
                    verified=bool(item.get("verified", False)),
                )
            )
        name_parts = data.get("name")
        name = None
        if isinstance(name_parts, Mapping):
            joined = " ".join(
                str(name_parts[k])
                for k in ("first_name", "middle_name", "last_name")
                if name_parts.get(k)
            )
            name = joined or None
        phones = tuple(
            PhoneNumber(
                phone_id=str(item.get("phone_id", "")),
                phone_number=str(item.get("phone_number", "")),
                verified=bool(item.get("verified", False)),
            )
            for item in (_mapping(i, "user phone number") for i in data.get("phone_numbers") or [])
        )
        totps = tuple(
            TOTPRegistration(
                totp_id=str(item.get("totp_id", "")), verified=bool(item.get("verified", False))
            )
            for item in (_mapping(i, "user totp") for i in data.get("totps") or [])
        )
        metadata = data.get("untrusted_metadata")
        return cls(
            user_id=_require(data, "user_id", str, "user"),
            emails=tuple(emails),
            status=str(data.get("status", "")),
            name=name,
            created_at=parse_timestamp(data.get("created_at")),
            roles=tuple(str(r) for r in data.get("roles") or ()),
            raw=data,
            phone_numbers=phones,
            totps=totps,
            untrusted_metadata=metadata if isinstance(metadata, Mapping) else {},
        )


@dataclass(frozen=True)
class AuthenticateResponse:
    """What every authenticate endpoint returns: the session, its tokens and the user."""

    session: Session
    user: User
    session_token: str = field(repr=False)
    session_jwt: str = field(repr=False)
    request_id: str | None = None
    method_id: str | None = None

    @property
    def tokens(self) -> SessionTokens:
        return SessionTokens(opaque=self.session_token, jwt=self.session_jwt)

    @classmethod
    def from_dict(cls, data: Any) -> AuthenticateResponse:
        data = _mapping(data, "authenticate response")
        method_id = data.get("method_id")
        return cls(
            session=Session.from_dict(data.get("session")),
            user=User.from_dict(data.get("user")),
            session_token=_require(data, "session_token", str, "authenticate response"),
            session_jwt=_require(data, "session_jwt", str, "authenticate response"),
            request_id=data.get("request_id") if isinstance(data.get("request_id"), str) else None,
            method_id=method_id if isinstance(method_id, str) else None,
        )

    def __repr__(self) -> str:
        return (
            f"AuthenticateResponse(session_id={self.session.session_id!r}, "
            f"user_id={self.user.user_id!r}, session_token={redact(self.session_token)!r}, "
            f"session_jwt={redact(self.session_jwt)!r})"
        )


def _str_field(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class ProviderValues:
    """The identity provider's own tokens from an OAuth sign-in: secrets like a session token,
    so the repr shows none of them."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    id_token: str = field(repr=False)
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Any) -> ProviderValues:
        data = _mapping(data, "provider_values")
        scopes = data.get("scopes")
        return cls(
            access_token=_str_field(data, "access_token"),
            refresh_token=_str_field(data, "refresh_token"),
            id_token=_str_field(data, "id_token"),
            scopes=tuple(s for s in scopes if isinstance(s, str))
            if isinstance(scopes, list)
            else (),
            expires_at=parse_timestamp(data.get("expires_at")),
        )

    def __repr__(self) -> str:
        return (
            f"ProviderValues(access_token={redact(self.access_token)!r}, "
            f"refresh_token={redact(self.refresh_token)!r}, id_token={redact(self.id_token)!r}, "
            f"scopes={self.scopes!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class OAuthAuthenticateResponse(AuthenticateResponse):
    """``oauth/authenticate``: the session as for any factor, plus who the provider says it is."""

    provider_type: str = ""
    provider_subject: str = ""
    provider_values: ProviderValues = field(
        default_factory=lambda: ProviderValues("", "", ""), repr=False
    )
    oauth_user_registration_id: str = ""

    @classmethod
    def from_dict(cls, data: Any) -> OAuthAuthenticateResponse:
        base = AuthenticateResponse.from_dict(data)
        data = _mapping(data, "oauth authenticate response")
        return cls(
            session=base.session,
            user=base.user,
            session_token=base.session_token,
            session_jwt=base.session_jwt,
            request_id=base.request_id,
            method_id=base.method_id,
            provider_type=_require(data, "provider_type", str, "oauth authenticate response"),
            provider_subject=_require(data, "provider_subject", str, "oauth authenticate response"),
            provider_values=ProviderValues.from_dict(data.get("provider_values") or {}),
            oauth_user_registration_id=_str_field(data, "oauth_user_registration_id"),
        )

    def __repr__(self) -> str:
        return (
            f"OAuthAuthenticateResponse(provider_type={self.provider_type!r}, "
            f"session_id={self.session.session_id!r}, user_id={self.user.user_id!r}, "
            f"session_token={redact(self.session_token)!r}, "
            f"session_jwt={redact(self.session_jwt)!r}, provider_values={self.provider_values!r})"
        )


@dataclass(frozen=True)
class PasswordStrength:
    """``passwords/strength_check``: whether Stytch would accept the password, and why not."""

    valid_password: bool
    score: int
    breached_password: bool
    strength_policy: str
    warning: str = ""
    suggestions: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> PasswordStrength:
        data = _mapping(data, "strength check")
        feedback = data.get("feedback")
        feedback = feedback if isinstance(feedback, Mapping) else {}
        suggestions = feedback.get("suggestions")
        return cls(
            valid_password=_require(data, "valid_password", bool, "strength check"),
            score=int(_require(data, "score", int, "strength check")),
            breached_password=bool(data.get("breached_password", False)),
            strength_policy=str(data.get("strength_policy", "")),
            warning=_str_field(feedback, "warning"),
            suggestions=tuple(str(x) for x in suggestions) if isinstance(suggestions, list) else (),
            raw=data,
        )


@dataclass(frozen=True)
class TOTPCreated:
    """A new authenticator registration. ``secret`` and ``recovery_codes`` are secrets: the repr
    shows neither; ``qr_code`` is a ``data:image/png;base64,…`` URL to show the user once."""

    totp_id: str
    secret: str = field(repr=False)
    qr_code: str = field(repr=False)
    recovery_codes: tuple[str, ...] = field(repr=False)
    user: User | None = None

    @classmethod
    def from_dict(cls, data: Any) -> TOTPCreated:
        data = _mapping(data, "totp create response")
        codes = data.get("recovery_codes")
        return cls(
            totp_id=_require(data, "totp_id", str, "totp create response"),
            secret=_require(data, "secret", str, "totp create response"),
            qr_code=_require(data, "qr_code", str, "totp create response"),
            recovery_codes=tuple(str(c) for c in codes) if isinstance(codes, list) else (),
            user=User.from_dict(data["user"]) if isinstance(data.get("user"), Mapping) else None,
        )

    def __repr__(self) -> str:
        return (
            f"TOTPCreated(totp_id={self.totp_id!r}, secret={redact(self.secret, 0)!r}, "
            f"recovery_codes=<{len(self.recovery_codes)} hidden>)"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class TOTPRecoveryCodes:
    """One registration's unused recovery codes (secrets: hidden from the repr)."""

    totp_id: str
    verified: bool
    recovery_codes: tuple[str, ...] = field(repr=False)

    @classmethod
    def list_from_dict(cls, data: Any) -> tuple[TOTPRecoveryCodes, ...]:
        data = _mapping(data, "totp recovery codes response")
        items = data.get("totps")
        if not isinstance(items, list):
            raise StytchResponseError("totp recovery codes response: totps is not a list")
        found = []
        for item in items:
            item = _mapping(item, "totp")
            codes = item.get("recovery_codes")
            found.append(
                cls(
                    totp_id=_require(item, "totp_id", str, "totp"),
                    verified=bool(item.get("verified", False)),
                    recovery_codes=tuple(str(c) for c in codes) if isinstance(codes, list) else (),
                )
            )
        return tuple(found)


@dataclass(frozen=True, repr=False)
class TOTPAuthenticateResponse(AuthenticateResponse):
    """``totps/authenticate`` and ``totps/recover``: the session, and which TOTP it used."""

    totp_id: str = ""

    @classmethod
    def from_dict(cls, data: Any) -> TOTPAuthenticateResponse:
        base = AuthenticateResponse.from_dict(data)
        data = _mapping(data, "totp authenticate response")
        return cls(
            session=base.session,
            user=base.user,
            session_token=base.session_token,
            session_jwt=base.session_jwt,
            request_id=base.request_id,
            method_id=base.method_id,
            totp_id=_require(data, "totp_id", str, "totp authenticate response"),
        )

    def __repr__(self) -> str:
        return (
            f"TOTPAuthenticateResponse(totp_id={self.totp_id!r}, "
            f"session_id={self.session.session_id!r}, user_id={self.user.user_id!r}, "
            f"session_token={redact(self.session_token)!r}, "
            f"session_jwt={redact(self.session_jwt)!r})"
        )
