"""Wire models for the Stytch client API.

Parsing tolerates unknown fields (Stytch adds fields freely) and keeps the original
mapping in ``raw``. Nothing here ever prints a whole token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .errors import StytchResponseError
from .secret import redact

TokenKind = Literal["opaque", "jwt"]


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


def require_field(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise StytchResponseError(f"{where}: missing or malformed field {key!r}")
    return value


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
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
        data = as_mapping(data, "authentication factor")
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
        data = as_mapping(data, "session")
        factors = data.get("authentication_factors") or []
        if not isinstance(factors, list):
            raise StytchResponseError("session: authentication_factors is not a list")
        claims = data.get("custom_claims")
        return cls(
            session_id=require_field(data, "session_id", str, "session"),
            user_id=require_field(data, "user_id", str, "session"),
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
        data = as_mapping(data, "user")
        emails = []
        for item in data.get("emails") or []:
            item = as_mapping(item, "user email")
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
            for item in (
                as_mapping(i, "user phone number") for i in data.get("phone_numbers") or []
            )
        )
        totps = tuple(
            TOTPRegistration(
                totp_id=str(item.get("totp_id", "")), verified=bool(item.get("verified", False))
            )
            for item in (as_mapping(i, "user totp") for i in data.get("totps") or [])
        )
        metadata = data.get("untrusted_metadata")
        return cls(
            user_id=require_field(data, "user_id", str, "user"),
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
        data = as_mapping(data, "authenticate response")
        method_id = data.get("method_id")
        return cls(
            session=Session.from_dict(data.get("session")),
            user=User.from_dict(data.get("user")),
            session_token=require_field(data, "session_token", str, "authenticate response"),
            session_jwt=require_field(data, "session_jwt", str, "authenticate response"),
            request_id=data.get("request_id") if isinstance(data.get("request_id"), str) else None,
            method_id=method_id if isinstance(method_id, str) else None,
        )

    def __repr__(self) -> str:
        return (
            f"AuthenticateResponse(session_id={self.session.session_id!r}, "
            f"user_id={self.user.user_id!r}, session_token={redact(self.session_token)!r}, "
            f"session_jwt={redact(self.session_jwt)!r})"
        )
