"""The B2B project's core: organizations, members, member sessions, intermediate sessions,
discovery, and the decision every sign-in ends in.

It shares the consumer ``State``'s clock, signing key, outbox and record of issued secrets, and
holds its own lock. Methods raise ``EmulatorError`` with the error Stytch would answer.

Every sign-in ends in ``_conclude``: the organization's allowed auth methods first (else an IST
with ``primary_required``), then MFA (else an IST with ``mfa_required``), then a member session.
The factors that lead there are mixins beside it: ``b2b_email`` (magic links, email OTPs,
passwords), ``b2b_grants`` (SSO and OAuth tokens from the identity provider), ``b2b_mfa`` (SMS,
TOTP, recovery codes); ``b2b_state.B2BState`` puts them together.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import b2b_errors as e
from . import totp
from .b2b_models import (
    ALL_ALLOWED,
    AUTH_METHODS,
    MEMBER_STATUSES,
    MFA_METHODS,
    MFA_POLICIES,
    NOT_ALLOWED,
    REQUIRED_FOR_ALL,
    RESTRICTED,
    SETTING_VALUES,
    SSO_KINDS,
    B2BFactor,
    EmailToken,
    IdpGrant,
    IntermediateSession,
    Member,
    MemberSession,
    Organization,
    SmsCode,
    SsoConnection,
    Totp,
    merge_factors,
)
from .defaults import JWT_LIFETIME_SECONDS
from .errors import EmulatorError, bad_request
from .models import Message, PasswordHash, same_secret
from .session_book import SESSION_CLAIM, SessionBook, SessionLookups
from .state import Client, State

ORGANIZATION_CLAIM = "https://stytch.com/organization"
_RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", SESSION_CLAIM, ORGANIZATION_CLAIM}
)

# Stytch documents 10 minutes for an intermediate session (and every SDK expires it then).
IST_MINUTES = 10
# UNVERIFIED: an IST is spent once it has been exchanged for a session or a newer IST; listing
# organizations with it does not spend it.
IST_SINGLE_USE = True
# UNVERIFIED: SMS passcodes live as long as email ones (2 minutes by default on Stytch).
SMS_OTP_MINUTES = 2
# UNVERIFIED: Stytch texts the code by itself when MFA is required and the member's default
# MFA method is SMS; ``secondary_auth_initiated`` then says ``sms_otp``.
AUTO_SEND_SMS_WHEN_DEFAULT = True
# UNVERIFIED: how long an SSO or OAuth token from the identity provider can be redeemed.
IDP_TOKEN_MINUTES = 10
# UNVERIFIED: sessions/exchange leaves the session it came from alive.
EXCHANGE_REVOKES_SOURCE = False

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._~-]{1,127}$")
PHONE_NUMBER = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Outcome:
    """Where a sign-in step ended: a member session, or an IST with what is still missing."""

    member: Member
    organization: Organization
    session: MemberSession | None = None
    session_jwt: str = ""
    ist: IntermediateSession | None = None
    mfa_required: dict[str, Any] | None = None
    primary_required: dict[str, Any] | None = None
    member_created: bool = False

    @property
    def member_authenticated(self) -> bool:
        return self.session is not None


@dataclass
class Discovery:
    email_address: str
    ist: IntermediateSession | None
    organizations: list[dict[str, Any]] = field(default_factory=list)


def with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    return urlunsplit(parts._replace(query=urlencode([*query, *extra.items()])))


def pkce_matches(challenge: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return same_secret(expected, challenge)


def check_pkce(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier:
            raise EmulatorError(
                400, e.PKCE_DID_NOT_EXPECT, "A pkce_code_verifier was sent but no challenge."
            )
        return
    if not verifier:
        raise EmulatorError(
            400, e.PKCE_EXPECTED, "This flow was started with PKCE: send the verifier."
        )
    if not pkce_matches(challenge, verifier):
        raise EmulatorError(
            400, e.PKCE_MISMATCH, "The pkce_code_verifier does not match the challenge."
        )


def _choice(value: str | None, allowed: tuple[str, ...], name: str, default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}.")
    return value


def _subset(values: list[str] | None, allowed: tuple[str, ...], name: str) -> list[str]:
    for value in values or []:
        if value not in allowed:
            raise bad_request(f"{name} may hold only {', '.join(allowed)}.")
    return list(values or [])


def is_mfa_factor(factor: B2BFactor) -> bool:
    return factor.type in ("totp", "recovery_codes") or factor.delivery_method == "sms"


class B2BCore(SessionLookups[MemberSession]):
    """Organizations, members, intermediate and member sessions, and the decision every
    sign-in ends in; the factors themselves live in the ``b2b_*`` mixins."""

    def __init__(self, core: State) -> None:
        self.core = core
        self.clock = core.clock
        self.project_id = core.project_id
        self._env = "live" if core.project_id.startswith("project-live-") else "test"
        self._lock = threading.RLock()
        self.reset()
        core.on_reset(self.reset)

    def reset(self) -> None:
        with self._lock:
            self._orgs: dict[str, Organization] = {}
            self._members: dict[str, Member] = {}
            self._email_ids: dict[str, str] = {}
            self._sessions: SessionBook[MemberSession] = SessionBook(
                self.core.key,
                self.project_id,
                self._now,
                reserved_claims=_RESERVED_CLAIMS,
                usable=lambda session: self._members[session.member_id].status != "deleted",
            )
            self._ists: dict[str, IntermediateSession] = {}
            self._email_tokens: list[EmailToken] = []
            self._sms: list[SmsCode] = []
            self._grants: dict[str, IdpGrant] = {}

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{self._env}-{uuid.uuid4()}"

    def _now(self) -> datetime:
        return self.clock.now()

    # -- organizations and members (control API, discovery create) ----------------------

    def create_organization(
        self,
        name: str,
        slug: str | None = None,
        *,
        email_allowed_domains: list[str] | None = None,
        email_jit_provisioning: str | None = None,
        allowed_auth_methods: list[str] | None = None,
        auth_methods: str | None = None,
        mfa_policy: str | None = None,
        allowed_mfa_methods: list[str] | None = None,
        mfa_methods: str | None = None,
        sso_jit_provisioning: str | None = None,
    ) -> Organization:
        if not name.strip():
            raise bad_request("organization_name must not be empty.")
        slug = slug if slug is not None else re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        if not _SLUG.match(slug):
            raise EmulatorError(
                400,
                e.INVALID_ORGANIZATION_SLUG,
                "organization_slug must be 2-128 lowercase letters, digits or -._~.",
            )
        domains = [d.lower() for d in email_allowed_domains or []]
        for domain in domains:
            if "." not in domain or "@" in domain or " " in domain:
                raise bad_request(f"email_allowed_domains: {domain!r} is not a domain.")
        methods = _subset(allowed_auth_methods, AUTH_METHODS, "allowed_auth_methods")
        mfa = _subset(allowed_mfa_methods, MFA_METHODS, "allowed_mfa_methods")
        org = Organization(
            organization_id=self._new_id("organization"),
            organization_name=name,
            organization_slug=slug,
            created_at=self._now(),
            email_allowed_domains=domains,
            # Domains given with no setting: members of those domains may join (the point of
            # listing them in an emulator).
            email_jit_provisioning=_choice(
                email_jit_provisioning,
                (RESTRICTED, NOT_ALLOWED),
                "email_jit_provisioning",
                RESTRICTED if domains else NOT_ALLOWED,
            ),
            auth_methods=_choice(
                auth_methods,
                (ALL_ALLOWED, RESTRICTED),
                "auth_methods",
                RESTRICTED if methods else ALL_ALLOWED,
            ),
            allowed_auth_methods=methods,
            mfa_policy=_choice(mfa_policy, MFA_POLICIES, "mfa_policy", "OPTIONAL"),
            mfa_methods=_choice(
                mfa_methods,
                (ALL_ALLOWED, RESTRICTED),
                "mfa_methods",
                RESTRICTED if mfa else ALL_ALLOWED,
            ),
            allowed_mfa_methods=mfa,
            sso_jit_provisioning=_choice(
                sso_jit_provisioning, SETTING_VALUES, "sso_jit_provisioning", ALL_ALLOWED
            ),
        )
        with self._lock:
            if any(o.organization_slug == slug for o in self._orgs.values()):
                raise EmulatorError(
                    400, e.DUPLICATE_SLUG, f"An organization with slug {slug!r} already exists."
                )
            self._orgs[org.organization_id] = org
            return org

    def add_sso_connection(
        self, organization: str, display_name: str, kind: str = "saml"
    ) -> SsoConnection:
        if kind not in SSO_KINDS:
            raise bad_request(f"kind must be one of {', '.join(SSO_KINDS)}.")
        with self._lock:
            org = self.organization(organization)
            connection = SsoConnection(
                connection_id=f"{kind}-connection-{self._env}-{uuid.uuid4()}",
                organization_id=org.organization_id,
                display_name=display_name or f"{org.organization_name} {kind.upper()}",
                kind=kind,
            )
            org.sso_connections.append(connection)
            if org.sso_default_connection_id is None:
                org.sso_default_connection_id = connection.connection_id
            return connection

    def organization(self, ref: str) -> Organization:
        """By organization_id or slug (a person types the slug)."""
        with self._lock:
            found = self._orgs.get(ref) or next(
                (o for o in self._orgs.values() if o.organization_slug == ref.lower()), None
            )
            if found is None:
                raise EmulatorError(404, e.ORGANIZATION_NOT_FOUND, "Organization not found.")
            return found

    def organizations(self) -> list[Organization]:
        with self._lock:
            return list(self._orgs.values())

    def _email_id(self, email: str) -> str:
        email = email.lower()
        if email not in self._email_ids:
            self._email_ids[email] = self._new_id("member-email")
        return self._email_ids[email]

    def _find_member(self, org: Organization, email: str) -> Member | None:
        email = email.lower()
        return next(
            (
                m
                for m in self._members.values()
                if m.organization_id == org.organization_id
                and m.email_address == email
                and m.status != "deleted"
            ),
            None,
        )

    def _new_member(self, org: Organization, email: str, status: str, name: str = "") -> Member:
        member = Member(
            member_id=self._new_id("member"),
            organization_id=org.organization_id,
            email_id=self._email_id(email),
            email_address=email.lower(),
            created_at=self._now(),
            status=status,
            name=name,
        )
        self._members[member.member_id] = member
        return member

    def create_member(
        self,
        organization: str,
        email: str,
        *,
        name: str = "",
        status: str = "active",
        password: str | None = None,
        mfa_phone_number: str | None = None,
        mfa_enrolled: bool = False,
        totp: bool = False,
        is_breakglass: bool = False,
        default_mfa_method: str | None = None,
    ) -> tuple[Member, Totp | None]:
        """A member as an admin would add it; ``totp=True`` gives it a verified TOTP."""
        if status not in MEMBER_STATUSES or status == "deleted":
            raise bad_request("status must be active, pending or invited.")
        if mfa_phone_number is not None and not PHONE_NUMBER.match(mfa_phone_number):
            raise bad_request("mfa_phone_number must be in E.164 form, e.g. +15555550100.")
        with self._lock:
            org = self.organization(organization)
            if self._find_member(org, email) is not None:
                raise EmulatorError(
                    400, e.DUPLICATE_MEMBER_EMAIL, "This organization has a member with that email."
                )
            member = self._new_member(org, email, status, name)
            member.is_breakglass = is_breakglass
            member.email_address_verified = status == "active"
            if password is not None:
                member.password = PasswordHash.create(self._new_id("member-password"), password)
                self.core.record("passwords", password)
            if mfa_phone_number is not None:
                member.mfa_phone_id = self._new_id("phone-number")
                member.mfa_phone_number = mfa_phone_number
                member.mfa_phone_number_verified = True
                member.default_mfa_method = "sms_otp"
            registration = None
            if totp:
                registration = self._new_totp(member)
                registration.verified = True
                member.default_mfa_method = member.default_mfa_method or "totp"
            if default_mfa_method is not None:
                member.default_mfa_method = _choice(
                    default_mfa_method, MFA_METHODS, "default_mfa_method", ""
                )
            member.mfa_enrolled = mfa_enrolled
            return member, registration

    def member(self, organization: str, member_id: str) -> Member:
        with self._lock:
            org = self.organization(organization)
            found = self._members.get(member_id)
            if found is None or found.organization_id != org.organization_id:
                raise EmulatorError(404, e.MEMBER_NOT_FOUND, "Member not found.")
            return found

    def member_by_email(self, organization: str, email: str) -> Member:
        with self._lock:
            found = self._find_member(self.organization(organization), email)
            if found is None:
                raise EmulatorError(404, e.MEMBER_NOT_FOUND, "Member not found.")
            return found

    def members(self, organization: str | None = None) -> list[Member]:
        with self._lock:
            org_id = (
                None if organization is None else self.organization(organization).organization_id
            )
            return [
                m for m in self._members.values() if org_id is None or m.organization_id == org_id
            ]

    def delete_member(self, organization: str, member_id: str) -> Member:
        """Removed by an admin: status ``deleted``, every session of it revoked."""
        with self._lock:
            member = self.member(organization, member_id)
            if member.status == "deleted":
                raise EmulatorError(404, e.MEMBER_NOT_FOUND, "Member not found.")
            member.status = "deleted"
            for session in self._sessions:
                if session.member_id == member.member_id:
                    self._sessions.revoke(session)
            for ist in self._ists.values():
                if ist.member_id == member.member_id:
                    ist.used = True
            return member

    def _live_member(self, org: Organization, member_id: str) -> Member:
        found = self._members.get(member_id)
        if (
            found is None
            or found.organization_id != org.organization_id
            or (found.status == "deleted")
        ):
            raise EmulatorError(404, e.MEMBER_NOT_FOUND, "Member not found.")
        return found

    # -- factors -------------------------------------------------------------------------

    def _email_factor(self, kind: str, email: str, method: str) -> B2BFactor:
        return B2BFactor(
            type=kind,
            delivery_method="email" if kind != "password" else "knowledge",
            detail_name="email_factor",
            detail={"email_id": self._email_id(email), "email_address": email.lower()},
            last_authenticated_at=self._now(),
            auth_method=method,
        )

    # -- intermediate sessions -----------------------------------------------------------

    def _new_ist(
        self,
        email: str,
        factors: list[B2BFactor],
        member: Member | None = None,
    ) -> IntermediateSession:
        ist = IntermediateSession(
            token=secrets.token_urlsafe(33),
            email_address=email.lower(),
            factors=list(factors),
            expires_at=self._now() + timedelta(minutes=IST_MINUTES),
            organization_id=None if member is None else member.organization_id,
            member_id=None if member is None else member.member_id,
        )
        self._ists[ist.token] = ist
        self.core.record("intermediate_session_tokens", ist.token)
        return ist

    def _ist(self, token: str) -> IntermediateSession:
        ist = self._ists.get(token)
        if ist is None or ist.used or self._now() >= ist.expires_at:
            raise EmulatorError(
                404,
                e.INTERMEDIATE_SESSION_NOT_FOUND,
                "The intermediate session token is unknown, used or expired (10 minutes).",
            )
        return ist

    def _spend(self, ist: IntermediateSession | None) -> None:
        if ist is not None and IST_SINGLE_USE:
            ist.used = True

    def _ist_for(
        self, token: str | None, org: Organization, member: Member | None
    ) -> IntermediateSession | None:
        """An IST sent alongside a factor: it must belong to this organization (and member)."""
        if token is None:
            return None
        ist = self._ist(token)
        if ist.organization_id is not None and ist.organization_id != org.organization_id:
            raise EmulatorError(
                400,
                e.IST_FOR_OTHER_ORGANIZATION,
                "This intermediate session token belongs to another organization.",
            )
        if member is not None and ist.email_address != member.email_address:
            raise EmulatorError(
                400,
                e.IST_FOR_OTHER_ORGANIZATION,
                "This intermediate session token belongs to another member.",
            )
        return ist

    # -- the decision every sign-in ends in ---------------------------------------------

    def _primary_ok(self, org: Organization, member: Member, factors: list[B2BFactor]) -> bool:
        if member.is_breakglass:
            return True
        return any(org.allows(f.auth_method) for f in factors if f.auth_method)

    def _mfa_needed(self, org: Organization, member: Member, factors: list[B2BFactor]) -> bool:
        if any(is_mfa_factor(f) for f in factors):
            return False
        return org.mfa_policy == REQUIRED_FOR_ALL or member.mfa_enrolled

    def _conclude(
        self,
        org: Organization,
        member: Member,
        factors: list[B2BFactor],
        minutes: int,
        client: Client,
        *,
        current: MemberSession | None = None,
        spent: IntermediateSession | None = None,
        created: bool = False,
    ) -> Outcome:
        self._spend(spent)
        outcome = Outcome(member=member, organization=org, member_created=created)
        if (
            current is not None
            and current.member_id == member.member_id
            and current.live_at(self._now())
        ):
            # A step taken inside a live session (step-up MFA) counts what it already proved.
            merged = list(current.factors)
            for factor in factors:
                merged = merge_factors(merged, factor)
            factors = merged
        if not self._primary_ok(org, member, factors):
            outcome.ist = self._new_ist(member.email_address, factors, member)
            allowed = org.allowed_auth_methods
            outcome.primary_required = {"allowed_auth_methods": list(allowed)}
            return outcome
        if self._mfa_needed(org, member, factors):
            outcome.ist = self._new_ist(member.email_address, factors, member)
            initiated = None
            if (
                AUTO_SEND_SMS_WHEN_DEFAULT
                and member.default_mfa_method == "sms_otp"
                and member.mfa_phone_number_verified
                and org.allows_mfa("sms_otp")
            ):
                self._text_code(member, member.mfa_phone_number)
                initiated = "sms_otp"
            outcome.mfa_required = {
                "member_options": member.mfa_options(),
                "secondary_auth_initiated": initiated,
            }
            return outcome
        if member.status in ("pending", "invited"):
            member.status = "active"
        outcome.session = self._start_or_join(org, member, factors, minutes, client, current)
        outcome.session_jwt = self._mint_jwt(outcome.session, org)
        return outcome

    def _start_or_join(
        self,
        org: Organization,
        member: Member,
        factors: list[B2BFactor],
        minutes: int,
        client: Client,
        current: MemberSession | None,
    ) -> MemberSession:
        now = self._now()
        if current is not None and current.member_id == member.member_id and current.live_at(now):
            session = current
        else:
            session = MemberSession(
                member_session_id=self._new_id("member-session"),
                member_id=member.member_id,
                organization_id=org.organization_id,
                token=secrets.token_urlsafe(33),
                started_at=now,
                last_accessed_at=now,
                expires_at=now,
                ip_address=client.ip_address,
                user_agent=client.user_agent,
            )
            self._sessions.add(session.member_session_id, session)
            self.core.record("session_tokens", session.token)
        for factor in factors:
            session.factors = merge_factors(session.factors, factor)
        session.last_accessed_at = now
        session.expires_at = now + timedelta(minutes=minutes)
        return session

    def _mint_jwt(self, session: MemberSession, org: Organization) -> str:
        issued = int(self._now().timestamp())
        claims: dict[str, Any] = dict(session.custom_claims)
        claims.update(
            {
                "sub": session.member_id,
                "iss": f"stytch.com/{self.project_id}",
                "aud": [self.project_id],
                "iat": issued,
                "nbf": issued,
                "exp": issued + JWT_LIFETIME_SECONDS,
                SESSION_CLAIM: session.jwt_claim(),
                ORGANIZATION_CLAIM: org.claim(),
            }
        )
        minted = self.core.key.mint(claims)
        self.core.record("session_jwts", minted)
        return minted

    # -- member sessions -----------------------------------------------------------------

    def authenticate_session(
        self,
        session: MemberSession,
        minutes: int | None,
        custom_claims: dict[str, Any] | None = None,
    ) -> Outcome:
        with self._lock:
            self._sessions.touch(session, minutes, custom_claims)
            org = self._orgs[session.organization_id]
            return Outcome(
                member=self._members[session.member_id],
                organization=org,
                session=session,
                session_jwt=self._mint_jwt(session, org),
            )

    def revoke_member_sessions(self, member_id: str) -> None:
        with self._lock:
            if member_id not in self._members:
                raise EmulatorError(404, e.MEMBER_NOT_FOUND, "Member not found.")
            for session in self._sessions:
                if session.member_id == member_id:
                    self._sessions.revoke(session)

    def sessions_of(self, organization: str, member_id: str) -> list[MemberSession]:
        with self._lock:
            member = self.member(organization, member_id)
            now = self._now()
            return [s for s in self._sessions if s.member_id == member.member_id and s.live_at(now)]

    def organization_of(self, session: MemberSession) -> Organization:
        with self._lock:
            return self._orgs[session.organization_id]

    def member_of(self, session: MemberSession) -> Member:
        with self._lock:
            return self._members[session.member_id]

    # -- discovery -----------------------------------------------------------------------

    def _discovered(self, email: str, factors: list[B2BFactor]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        email = email.lower()
        for org in self._orgs.values():
            member = self._find_member(org, email)
            if member is not None:
                membership: dict[str, Any] = {
                    "type": f"{member.status}_member",
                    "details": None,
                    "member": member.to_json(),
                }
                probe = member
            elif org.jit_by_email(email):
                domain = email.rpartition("@")[2]
                membership = {
                    "type": "eligible_to_join_by_email_domain",
                    "details": {"domain": domain},
                    "member": None,
                }
                probe = Member("", org.organization_id, "", email, self._now())
            else:
                continue
            primary_ok = self._primary_ok(org, probe, factors)
            mfa = self._mfa_needed(org, probe, factors)
            found.append(
                {
                    "member_authenticated": primary_ok and not mfa,
                    "organization": org.to_json(),
                    "membership": membership,
                    "primary_required": (
                        None
                        if primary_ok
                        else {"allowed_auth_methods": list(org.allowed_auth_methods)}
                    ),
                    "mfa_required": (
                        {"member_options": probe.mfa_options(), "secondary_auth_initiated": None}
                        if mfa and primary_ok
                        else None
                    ),
                }
            )
        return found

    def _discovery(self, email: str, factor: B2BFactor) -> Discovery:
        ist = self._new_ist(email, [factor])
        return Discovery(email.lower(), ist, self._discovered(email, [factor]))

    def list_discovered(self, ist_token: str | None, session: MemberSession | None) -> Discovery:
        with self._lock:
            if ist_token is not None:
                ist = self._ist(ist_token)
                return Discovery(
                    ist.email_address, None, self._discovered(ist.email_address, ist.factors)
                )
            if session is None:
                raise EmulatorError(
                    400,
                    e.MISSING_DISCOVERY_CREDENTIAL,
                    "Send an intermediate_session_token or a member session.",
                )
            member = self._members[session.member_id]
            return Discovery(
                member.email_address,
                None,
                # MFA done for this organization proves nothing to another one.
                self._discovered(
                    member.email_address, [f for f in session.factors if not is_mfa_factor(f)]
                ),
            )

    def exchange_ist(self, token: str, organization: str, minutes: int, client: Client) -> Outcome:
        with self._lock:
            ist = self._ist(token)
            org = self.organization(organization)
            if ist.organization_id is not None and ist.organization_id != org.organization_id:
                raise EmulatorError(
                    400,
                    e.IST_FOR_OTHER_ORGANIZATION,
                    "This intermediate session token belongs to another organization.",
                )
            member, created = self._member_or_jit(org, ist.email_address)
            if created or member.status != "active":
                member.email_address_verified = True
            return self._conclude(
                org, member, ist.factors, minutes, client, spent=ist, created=created
            )

    def _member_or_jit(self, org: Organization, email: str) -> tuple[Member, bool]:
        member = self._find_member(org, email)
        if member is not None:
            return member, False
        if not org.jit_by_email(email):
            raise EmulatorError(
                403,
                e.JIT_NOT_ALLOWED,
                "This email may not join the organization: no membership and no JIT by domain.",
            )
        return self._new_member(org, email, "active"), True

    def create_organization_from_discovery(
        self, token: str, minutes: int, client: Client, **settings: Any
    ) -> Outcome:
        with self._lock:
            ist = self._ist(token)
            if ist.organization_id is not None:
                raise EmulatorError(
                    400,
                    e.IST_FOR_OTHER_ORGANIZATION,
                    "Only a discovery intermediate session token can create an organization.",
                )
            name = settings.pop("organization_name", None) or (
                ist.email_address.rpartition("@")[2].split(".")[0].title()
            )
            org = self.create_organization(
                name, settings.pop("organization_slug", None), **settings
            )
            member = self._new_member(org, ist.email_address, "active")
            member.email_address_verified = True
            member.is_admin = True
            return self._conclude(
                org, member, ist.factors, minutes, client, spent=ist, created=True
            )

    def exchange_session(
        self, session: MemberSession, organization: str, minutes: int, client: Client
    ) -> Outcome:
        """Into another organization, carrying the session's primary factors (not its MFA)."""
        with self._lock:
            self._sessions.live(session)
            source_member = self._members[session.member_id]
            org = self.organization(organization)
            if org.organization_id == session.organization_id:
                raise bad_request("The session already belongs to this organization.")
            member, created = self._member_or_jit(org, source_member.email_address)
            factors = [f for f in session.factors if not is_mfa_factor(f)]
            if EXCHANGE_REVOKES_SOURCE:
                self._sessions.revoke(session)
            return self._conclude(org, member, factors, minutes, client, created=created)

    def _post(self, message: Message) -> None:
        self.core.post(message)

    def _text_code(self, member: Member, phone: str) -> None:
        code = f"{secrets.randbelow(10**6):06d}"
        self._sms.append(
            SmsCode(member.member_id, phone, code, self._now() + timedelta(minutes=SMS_OTP_MINUTES))
        )
        self.core.record("mfa_codes", code)
        self._post(
            Message(
                self.core.new_message_id(),
                phone,
                # The kind the mailbox page shows as an SMS code.
                "sms_otp",
                member.member_id,
                self._now(),
                code=code,
            )
        )

    def _new_totp(self, member: Member) -> Totp:
        secret, codes = totp.new_secret(), totp.recovery_codes()
        registration = Totp(self._new_id("member-totp"), secret, codes)
        member.totp = registration
        self.core.record("totp_secrets", secret)
        for code in codes:
            self.core.record("recovery_codes", code)
        return registration
