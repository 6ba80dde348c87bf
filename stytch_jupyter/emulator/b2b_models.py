"""The B2B project's records (organizations, members, member sessions, intermediate sessions)
and their Stytch wire form.

Field lists and required sets follow Stytch's client OpenAPI spec (``api_organization_v1_*``,
``api_b2b_session_v1_MemberSession``); ``stytch`` 15.3.0's pydantic models require the same sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import rfc3339
from .models import PasswordHash

# Organization setting values Stytch documents.
ALL_ALLOWED = "ALL_ALLOWED"
RESTRICTED = "RESTRICTED"
NOT_ALLOWED = "NOT_ALLOWED"
OPTIONAL = "OPTIONAL"
REQUIRED_FOR_ALL = "REQUIRED_FOR_ALL"
SETTING_VALUES = (ALL_ALLOWED, RESTRICTED, NOT_ALLOWED)
MFA_POLICIES = (OPTIONAL, REQUIRED_FOR_ALL)
# ``allowed_auth_methods`` values Stytch documents.
AUTH_METHODS = (
    "sso",
    "magic_link",
    "email_otp",
    "password",
    "google_oauth",
    "microsoft_oauth",
    "slack_oauth",
    "github_oauth",
    "hubspot_oauth",
)
MFA_METHODS = ("sms_otp", "totp")
MEMBER_STATUSES = ("active", "pending", "invited", "deleted")
SSO_KINDS = ("saml", "oidc")
# The role every member holds (Stytch's default member role).
DEFAULT_MEMBER_ROLE = "stytch_member"


@dataclass
class SsoConnection:
    connection_id: str
    organization_id: str
    display_name: str
    kind: str  # saml | oidc
    identity_provider: str = "generic"

    def to_json(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "display_name": self.display_name,
            "identity_provider": self.identity_provider,
        }


@dataclass
class Organization:
    organization_id: str
    organization_name: str
    organization_slug: str
    created_at: datetime
    email_allowed_domains: list[str] = field(default_factory=list)
    email_jit_provisioning: str = NOT_ALLOWED
    email_invites: str = ALL_ALLOWED
    auth_methods: str = ALL_ALLOWED
    allowed_auth_methods: list[str] = field(default_factory=list)
    mfa_policy: str = OPTIONAL
    mfa_methods: str = ALL_ALLOWED
    allowed_mfa_methods: list[str] = field(default_factory=list)
    sso_jit_provisioning: str = ALL_ALLOWED
    sso_jit_provisioning_allowed_connections: list[str] = field(default_factory=list)
    sso_connections: list[SsoConnection] = field(default_factory=list)
    sso_default_connection_id: str | None = None
    organization_logo_url: str = ""

    def allows(self, auth_method: str) -> bool:
        return self.auth_methods != RESTRICTED or auth_method in self.allowed_auth_methods

    def allows_mfa(self, mfa_method: str) -> bool:
        return self.mfa_methods != RESTRICTED or mfa_method in self.allowed_mfa_methods

    def jit_by_email(self, email: str) -> bool:
        domain = email.rpartition("@")[2].lower()
        return self.email_jit_provisioning == RESTRICTED and domain in self.email_allowed_domains

    def jit_by_sso(self, connection_id: str) -> bool:
        if self.sso_jit_provisioning == ALL_ALLOWED:
            return True
        return (
            self.sso_jit_provisioning == RESTRICTED
            and connection_id in self.sso_jit_provisioning_allowed_connections
        )

    def connection(self, connection_id: str) -> SsoConnection | None:
        return next((c for c in self.sso_connections if c.connection_id == connection_id), None)

    def public_json(self) -> dict[str, Any]:
        """What anyone with the public token may see (``b2b/organizations/search`` by slug):
        enough to show the organization and start its sign-in."""
        return {
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "organization_logo_url": self.organization_logo_url,
            "organization_slug": self.organization_slug,
            "sso_active_connections": [c.to_json() for c in self.sso_connections],
            "sso_default_connection_id": self.sso_default_connection_id,
            "email_jit_provisioning": self.email_jit_provisioning,
            "email_allowed_domains": list(self.email_allowed_domains),
            "auth_methods": self.auth_methods,
            "allowed_auth_methods": list(self.allowed_auth_methods),
            "mfa_policy": self.mfa_policy,
        }

    def claim(self) -> dict[str, str]:
        """The ``https://stytch.com/organization`` JWT claim."""
        return {"organization_id": self.organization_id, "slug": self.organization_slug}

    def to_json(self) -> dict[str, Any]:
        stamp = rfc3339(self.created_at)
        return {
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "organization_logo_url": self.organization_logo_url,
            "organization_slug": self.organization_slug,
            "trusted_metadata": {},
            "sso_default_connection_id": self.sso_default_connection_id,
            "sso_jit_provisioning": self.sso_jit_provisioning,
            "sso_jit_provisioning_allowed_connections": list(
                self.sso_jit_provisioning_allowed_connections
            ),
            "sso_active_connections": [c.to_json() for c in self.sso_connections],
            "email_allowed_domains": list(self.email_allowed_domains),
            "email_jit_provisioning": self.email_jit_provisioning,
            "email_invites": self.email_invites,
            "auth_methods": self.auth_methods,
            "allowed_auth_methods": list(self.allowed_auth_methods),
            "mfa_policy": self.mfa_policy,
            "rbac_email_implicit_role_assignments": [],
            "mfa_methods": self.mfa_methods,
            "allowed_mfa_methods": list(self.allowed_mfa_methods),
            "oauth_tenant_jit_provisioning": NOT_ALLOWED,
            "allowed_oauth_tenants": {},
            "claimed_email_domains": [],
            "first_party_connected_apps_allowed_type": ALL_ALLOWED,
            "allowed_first_party_connected_apps": [],
            "third_party_connected_apps_allowed_type": ALL_ALLOWED,
            "allowed_third_party_connected_apps": [],
            "custom_roles": [],
            "created_at": stamp,
            "updated_at": stamp,
        }


@dataclass
class Totp:
    totp_registration_id: str
    secret: str = field(repr=False)
    recovery_codes: list[str] = field(repr=False)
    verified: bool = False
    last_step: int = -1  # the last time step whose code was used: a code works once


@dataclass
class Member:
    member_id: str
    organization_id: str
    email_id: str
    email_address: str
    created_at: datetime
    status: str = "active"
    name: str = ""
    email_address_verified: bool = False
    is_admin: bool = False
    is_breakglass: bool = False
    password: PasswordHash | None = None
    mfa_phone_id: str = ""
    mfa_phone_number: str = ""
    mfa_phone_number_verified: bool = False
    totp: Totp | None = None
    mfa_enrolled: bool = False
    default_mfa_method: str = ""
    sso_registrations: list[dict[str, Any]] = field(default_factory=list)
    oauth_registrations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def totp_registration_id(self) -> str:
        return self.totp.totp_registration_id if self.totp and self.totp.verified else ""

    def mfa_options(self) -> dict[str, str] | None:
        """``mfa_required.member_options``, once the member has a phone or a TOTP."""
        if not (self.mfa_phone_number or self.totp_registration_id):
            return None
        return {
            "mfa_phone_number": self.mfa_phone_number,
            "totp_registration_id": self.totp_registration_id,
        }

    def to_json(self) -> dict[str, Any]:
        stamp = rfc3339(self.created_at)
        return {
            "organization_id": self.organization_id,
            "member_id": self.member_id,
            "email_address": self.email_address,
            "status": self.status,
            "name": self.name,
            "sso_registrations": [dict(r) for r in self.sso_registrations],
            "is_breakglass": self.is_breakglass,
            "member_password_id": "" if self.password is None else self.password.password_id,
            "oauth_registrations": [dict(r) for r in self.oauth_registrations],
            "email_address_verified": self.email_address_verified,
            "mfa_phone_number_verified": self.mfa_phone_number_verified,
            "is_admin": self.is_admin,
            "totp_registration_id": self.totp_registration_id,
            "retired_email_addresses": [],
            "is_locked": False,
            "mfa_enrolled": self.mfa_enrolled,
            "mfa_phone_number": self.mfa_phone_number,
            "default_mfa_method": self.default_mfa_method,
            "roles": [
                {
                    "role_id": DEFAULT_MEMBER_ROLE,
                    "sources": [{"type": "direct_assignment", "details": {}}],
                }
            ],
            "trusted_metadata": {},
            "untrusted_metadata": {},
            "created_at": stamp,
            "updated_at": stamp,
            "external_id": "",
        }


@dataclass
class B2BFactor:
    """One authentication factor: ``type``/``delivery_method`` plus its ``*_factor`` object."""

    type: str
    delivery_method: str
    detail_name: str  # email_factor, phone_number_factor, saml_sso_factor, ...
    detail: dict[str, str]
    last_authenticated_at: datetime
    auth_method: str = ""  # the allowed_auth_methods name, for primary factors

    def same_as(self, other: B2BFactor) -> bool:
        return (self.type, self.delivery_method) == (other.type, other.delivery_method)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "delivery_method": self.delivery_method,
            "last_authenticated_at": rfc3339(self.last_authenticated_at),
            self.detail_name: dict(self.detail),
        }


def merge_factors(factors: list[B2BFactor], new: B2BFactor) -> list[B2BFactor]:
    """``factors`` with ``new`` replacing one of its kind, or added."""
    kept = [f for f in factors if not f.same_as(new)]
    return [*kept, new]


@dataclass
class MemberSession:
    member_session_id: str
    member_id: str
    organization_id: str
    token: str = field(repr=False)
    started_at: datetime
    last_accessed_at: datetime
    expires_at: datetime
    ip_address: str = ""
    user_agent: str = ""
    factors: list[B2BFactor] = field(default_factory=list)
    custom_claims: dict[str, Any] = field(default_factory=dict)
    revoked: bool = False

    def live_at(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at

    def to_json(self, organization: Organization) -> dict[str, Any]:
        return {
            "member_session_id": self.member_session_id,
            "member_id": self.member_id,
            "started_at": rfc3339(self.started_at),
            "last_accessed_at": rfc3339(self.last_accessed_at),
            "expires_at": rfc3339(self.expires_at),
            "authentication_factors": [f.to_json() for f in self.factors],
            "organization_id": self.organization_id,
            "roles": [DEFAULT_MEMBER_ROLE],
            "organization_slug": organization.organization_slug,
            "custom_claims": dict(self.custom_claims),
        }

    def jwt_claim(self) -> dict[str, Any]:
        """The ``https://stytch.com/session`` claim."""
        return {
            "id": self.member_session_id,
            "started_at": rfc3339(self.started_at),
            "last_accessed_at": rfc3339(self.last_accessed_at),
            "expires_at": rfc3339(self.expires_at),
            "attributes": {"ip_address": self.ip_address, "user_agent": self.user_agent},
            "authentication_factors": [f.to_json() for f in self.factors],
            "roles": [DEFAULT_MEMBER_ROLE],
        }


@dataclass
class IntermediateSession:
    """An IST: the factors proven so far, for an email (discovery) or one member (MFA)."""

    token: str = field(repr=False)
    email_address: str
    factors: list[B2BFactor]
    expires_at: datetime
    organization_id: str | None = None  # None: a discovery IST, good for any organization
    member_id: str | None = None
    used: bool = False


@dataclass
class EmailToken:
    """A B2B magic link, discovery link or emailed passcode, waiting to be used."""

    kind: str  # magic_link | discovery_magic_link | otp | discovery_otp
    email_address: str
    secret: str = field(repr=False)
    expires_at: datetime
    organization_id: str | None = None
    member_id: str | None = None
    code_challenge: str | None = None
    used: bool = False


@dataclass
class SmsCode:
    member_id: str
    phone_number: str
    code: str = field(repr=False)
    expires_at: datetime
    used: bool = False


@dataclass
class IdpGrant:
    """What the emulator's identity provider hands back: an SSO or OAuth token to redeem."""

    kind: str  # sso | oauth | discovery_oauth
    token: str = field(repr=False)
    email_address: str
    expires_at: datetime
    organization_id: str | None = None
    connection_id: str | None = None
    provider: str | None = None
    code_challenge: str | None = None
    name: str = ""
    used: bool = False
