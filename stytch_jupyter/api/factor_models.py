"""Models of the factors beyond the sign-in core: OAuth provider values, password strength,
TOTP enrolment and recovery codes. Apart from ``models.py`` so that ``%load_ext``, which needs the
session models at once, does not build these dataclasses until a call returns one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import StytchResponseError
from .models import (
    AuthenticateResponse,
    User,
    as_mapping,
    parse_timestamp,
    require_field,
)
from .secret import redact


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
        data = as_mapping(data, "provider_values")
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
        data = as_mapping(data, "oauth authenticate response")
        return cls(
            session=base.session,
            user=base.user,
            session_token=base.session_token,
            session_jwt=base.session_jwt,
            request_id=base.request_id,
            method_id=base.method_id,
            provider_type=require_field(data, "provider_type", str, "oauth authenticate response"),
            provider_subject=require_field(
                data, "provider_subject", str, "oauth authenticate response"
            ),
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
        data = as_mapping(data, "strength check")
        feedback = data.get("feedback")
        feedback = feedback if isinstance(feedback, Mapping) else {}
        suggestions = feedback.get("suggestions")
        return cls(
            valid_password=require_field(data, "valid_password", bool, "strength check"),
            score=int(require_field(data, "score", int, "strength check")),
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
        data = as_mapping(data, "totp create response")
        codes = data.get("recovery_codes")
        return cls(
            totp_id=require_field(data, "totp_id", str, "totp create response"),
            secret=require_field(data, "secret", str, "totp create response"),
            qr_code=require_field(data, "qr_code", str, "totp create response"),
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
        data = as_mapping(data, "totp recovery codes response")
        items = data.get("totps")
        if not isinstance(items, list):
            raise StytchResponseError("totp recovery codes response: totps is not a list")
        found = []
        for item in items:
            item = as_mapping(item, "totp")
            codes = item.get("recovery_codes")
            found.append(
                cls(
                    totp_id=require_field(item, "totp_id", str, "totp"),
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
        data = as_mapping(data, "totp authenticate response")
        return cls(
            session=base.session,
            user=base.user,
            session_token=base.session_token,
            session_jwt=base.session_jwt,
            request_id=base.request_id,
            method_id=base.method_id,
            totp_id=require_field(data, "totp_id", str, "totp authenticate response"),
        )

    def __repr__(self) -> str:
        return (
            f"TOTPAuthenticateResponse(totp_id={self.totp_id!r}, "
            f"session_id={self.session.session_id!r}, user_id={self.user.user_id!r}, "
            f"session_token={redact(self.session_token)!r}, "
            f"session_jwt={redact(self.session_jwt)!r})"
        )
