"""The emulator's records and their Stytch wire form."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import rfc3339
from .defaults import DEFAULT_ROLES

# An emulator, not a vault: enough rounds that no password sits in memory in the clear.
_PASSWORD_ROUNDS = 1000


def same_secret(given: str, expected: str) -> bool:
    """A constant-time comparison any text can go through (``hmac.compare_digest`` raises on
    non-ASCII ``str``)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8", "surrogatepass"), salt, _PASSWORD_ROUNDS
    )


@dataclass
class PasswordHash:
    password_id: str
    salt: bytes
    digest: bytes

    @classmethod
    def create(cls, password_id: str, password: str) -> PasswordHash:
        salt = secrets.token_bytes(16)
        return cls(password_id, salt, _hash_password(password, salt))

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(self.digest, _hash_password(password, self.salt))

    def __repr__(self) -> str:
        return f"PasswordHash(password_id={self.password_id!r})"


@dataclass
class OAuthRegistration:
    """A user's link to an identity provider (``user.providers[]`` on the wire)."""

    provider: str  # google, github, ...
    provider_type: str  # Google, GitHub, ...
    provider_subject: str
    registration_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "provider_type": self.provider_type,
            "provider_subject": self.provider_subject,
            "profile_picture_url": "",
            "locale": "",
            "oauth_user_registration_id": self.registration_id,
        }


@dataclass
class Phone:
    phone_id: str
    phone_number: str
    verified: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "phone_id": self.phone_id,
            "phone_number": self.phone_number,
            "verified": self.verified,
        }


@dataclass
class Totp:
    """An authenticator-app registration: its secret and recovery codes (used ones dropped)."""

    totp_id: str
    secret: str = field(repr=False)
    recovery_codes: list[str] = field(repr=False)
    verified: bool = False
    last_step: int = -1  # the newest time step a code was accepted for: no replays

    def to_json(self) -> dict[str, Any]:
        return {"totp_id": self.totp_id, "verified": self.verified}


@dataclass
class User:
    user_id: str
    email_id: str
    email: str
    created_at: datetime
    status: str = "pending"
    email_verified: bool = False
    name: dict[str, str] = field(
        default_factory=lambda: {"first_name": "", "middle_name": "", "last_name": ""}
    )
    password: PasswordHash | None = None
    providers: list[OAuthRegistration] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    totps: list[Totp] = field(default_factory=list)
    untrusted_metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "emails": (
                [{"email_id": self.email_id, "email": self.email, "verified": self.email_verified}]
                if self.email
                else []
            ),
            "status": self.status,
            "phone_numbers": [phone.to_json() for phone in self.phones],
            "webauthn_registrations": [],
            "providers": [p.to_json() for p in self.providers],
            "totps": [totp.to_json() for totp in self.totps],
            "crypto_wallets": [],
            "biometric_registrations": [],
            "is_locked": False,
            "roles": list(DEFAULT_ROLES),
            "name": dict(self.name),
            "created_at": rfc3339(self.created_at),
            "password": (
                None
                if self.password is None
                else {"password_id": self.password.password_id, "requires_reset": False}
            ),
            "trusted_metadata": {},
            "untrusted_metadata": dict(self.untrusted_metadata),
            "external_id": None,
            "lock_created_at": None,
            "lock_expires_at": None,
        }


@dataclass
class Factor:
    type: str  # otp | magic_link | password | oauth | totp
    delivery_method: str  # email | sms | knowledge | oauth_google | authenticator_app
    email_id: str
    email_address: str
    last_authenticated_at: datetime
    # The factor's detail object when it is not ``email_factor``, e.g.
    # ``("google_oauth_factor", {...})`` or ``("phone_number_factor", {...})``.
    detail: tuple[str, dict[str, str]] | None = None

    def same_as(self, other: Factor) -> bool:
        return (self.type, self.delivery_method, self.email_id) == (
            other.type,
            other.delivery_method,
            other.email_id,
        )

    def to_json(self) -> dict[str, Any]:
        name, detail = self.detail or (
            "email_factor",
            {"email_id": self.email_id, "email_address": self.email_address},
        )
        return {
            "type": self.type,
            "delivery_method": self.delivery_method,
            "last_authenticated_at": rfc3339(self.last_authenticated_at),
            name: dict(detail),
        }


@dataclass
class Session:
    session_id: str
    user_id: str
    token: str = field(repr=False)
    started_at: datetime
    last_accessed_at: datetime
    expires_at: datetime
    ip_address: str
    user_agent: str
    factors: list[Factor] = field(default_factory=list)
    custom_claims: dict[str, Any] = field(default_factory=dict)
    revoked: bool = False

    def live_at(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at

    def add_factor(self, factor: Factor) -> None:
        for i, existing in enumerate(self.factors):
            if existing.same_as(factor):
                self.factors[i] = factor
                return
        self.factors.append(factor)

    def _attributes(self) -> dict[str, str]:
        return {"ip_address": self.ip_address, "user_agent": self.user_agent}

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "started_at": rfc3339(self.started_at),
            "last_accessed_at": rfc3339(self.last_accessed_at),
            "expires_at": rfc3339(self.expires_at),
            "attributes": self._attributes(),
            "authentication_factors": [f.to_json() for f in self.factors],
            "roles": list(DEFAULT_ROLES),
            "custom_claims": dict(self.custom_claims),
        }

    def jwt_claim(self) -> dict[str, Any]:
        """The ``https://stytch.com/session`` claim."""
        return {
            "id": self.session_id,
            "started_at": rfc3339(self.started_at),
            "last_accessed_at": rfc3339(self.last_accessed_at),
            "expires_at": rfc3339(self.expires_at),
            "attributes": self._attributes(),
            "authentication_factors": [f.to_json() for f in self.factors],
            "roles": list(DEFAULT_ROLES),
        }


@dataclass
class Otp:
    method_id: str  # the email_id or phone_id it was sent to
    user_id: str
    code: str = field(repr=False)
    expires_at: datetime
    used: bool = False
    channel: str = "email"  # email | sms


@dataclass
class MagicLink:
    """An emailed link's token: a magic link, or a password reset (``purpose``)."""

    user_id: str
    token: str = field(repr=False)
    expires_at: datetime
    code_challenge: str | None = None
    used: bool = False
    purpose: str = "magic_link"  # magic_link | reset_password


_MESSAGE_LINES = {
    "otp": "code",
    "sms_otp": "code",
    "magic_link": "magic link",
    "password_reset": "password reset link",
}


@dataclass
class OAuthStart:
    """A consent page waiting for its user: what ``/v1/public/oauth/{provider}/start`` asked."""

    flow_id: str = field(repr=False)
    provider: str
    login_redirect_url: str
    signup_redirect_url: str
    code_challenge: str | None
    scopes: list[str]
    expires_at: datetime
    used: bool = False


@dataclass
class OAuthToken:
    """The ``token`` an approved consent redirects with, for ``oauth/authenticate``."""

    token: str = field(repr=False)
    user_id: str
    registration: OAuthRegistration
    code_challenge: str | None
    scopes: list[str]
    expires_at: datetime
    used: bool = False


@dataclass
class Message:
    """An email the emulator would have sent, kept in its outbox."""

    id: str
    to: str
    kind: str  # otp | magic_link
    method_id: str
    sent_at: datetime
    code: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    url: str | None = field(default=None, repr=False)

    def one_line(self) -> str:
        """What the command line prints as it "sends" it: ``code for ada@example.com: 874903``."""
        what = _MESSAGE_LINES.get(self.kind, self.kind.replace("_", " "))
        return f"{what} for {self.to}: {self.code or self.url}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "to": self.to,
            "kind": self.kind,
            "method_id": self.method_id,
            "code": self.code,
            "token": self.token,
            "url": self.url,
            "sent_at": rfc3339(self.sent_at),
        }
