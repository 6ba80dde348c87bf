"""B2B factors from the emulator's identity provider: the SSO and OAuth tokens its consent page
grants, redeemed by ``b2b/sso/authenticate`` and the B2B OAuth endpoints."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from . import b2b_errors as e
from .b2b_core import (
    IDP_TOKEN_MINUTES,
    B2BCore,
    Discovery,
    Outcome,
    check_pkce,
)
from .b2b_models import (
    B2BFactor,
    IdpGrant,
    MemberSession,
    Organization,
    SsoConnection,
    merge_factors,
)
from .errors import EmulatorError
from .state import Client


class IdpFactors(B2BCore):
    # -- the identity provider's grants (SSO and OAuth) ------------------------------------

    def sso_connection(self, connection_id: str) -> tuple[Organization, SsoConnection]:
        with self._lock:
            for org in self._orgs.values():
                connection = org.connection(connection_id)
                if connection is not None:
                    return org, connection
            raise EmulatorError(404, e.SSO_CONNECTION_NOT_FOUND, "SSO connection not found.")

    def grant(
        self,
        kind: str,
        email: str,
        *,
        organization_id: str | None = None,
        connection_id: str | None = None,
        provider: str | None = None,
        code_challenge: str | None = None,
        name: str = "",
    ) -> str:
        """A token the identity provider redirects back with, after consent."""
        with self._lock:
            grant = IdpGrant(
                kind=kind,
                token=secrets.token_urlsafe(33),
                email_address=email.lower(),
                expires_at=self._now() + timedelta(minutes=IDP_TOKEN_MINUTES),
                organization_id=organization_id,
                connection_id=connection_id,
                provider=provider,
                code_challenge=code_challenge,
                name=name,
            )
            self._grants[grant.token] = grant
            self.core.record("idp_tokens", grant.token)
            return grant.token

    def _take_grant(self, kind: str, token: str, verifier: str | None) -> IdpGrant:
        grant = self._grants.get(token)
        if grant is None or grant.kind != kind:
            not_found = e.SSO_TOKEN_NOT_FOUND if kind == "sso" else e.OAUTH_TOKEN_NOT_FOUND
            raise EmulatorError(404, not_found, f"The {kind} token could not be found.")
        if grant.used or self._now() >= grant.expires_at:
            raise EmulatorError(
                401, e.UNABLE_TO_AUTH_IDP_TOKEN, f"The {kind} token was used or has expired."
            )
        check_pkce(grant.code_challenge, verifier)
        grant.used = True
        return grant

    def authenticate_sso(
        self,
        token: str,
        verifier: str | None,
        ist_token: str | None,
        minutes: int,
        client: Client,
        current: MemberSession | None,
    ) -> Outcome:
        with self._lock:
            grant = self._take_grant("sso", token, verifier)
            assert grant.connection_id is not None
            org, connection = self.sso_connection(grant.connection_id)
            member = self._find_member(org, grant.email_address)
            created = False
            if member is None:
                if not org.jit_by_sso(connection.connection_id):
                    raise EmulatorError(
                        403,
                        e.SSO_JIT_NOT_ALLOWED,
                        "This organization does not provision new members through SSO.",
                    )
                member, created = (
                    self._new_member(org, grant.email_address, "active", grant.name),
                    True,
                )
            ist = self._ist_for(ist_token, org, member)
            external_id = (
                f"idp-user-{hashlib.sha256(member.email_address.encode()).hexdigest()[:16]}"
            )
            if not any(
                r["connection_id"] == connection.connection_id for r in member.sso_registrations
            ):
                member.sso_registrations.append(
                    {
                        "connection_id": connection.connection_id,
                        "external_id": external_id,
                        "registration_id": self._new_id("sso-registration"),
                        "sso_attributes": {},
                    }
                )
            member.email_address_verified = True
            factor = B2BFactor(
                type="sso",
                delivery_method=f"sso_{connection.kind}",
                detail_name=f"{connection.kind}_sso_factor",
                detail={
                    "id": member.sso_registrations[-1]["registration_id"],
                    "provider_id": connection.connection_id,
                    "external_id": external_id,
                },
                last_authenticated_at=self._now(),
                auth_method="sso",
            )
            factors = merge_factors(ist.factors if ist else [], factor)
            return self._conclude(
                org, member, factors, minutes, client, current=current, spent=ist, created=created
            )

    def _oauth_factor(self, provider: str, email: str, subject: str) -> B2BFactor:
        return B2BFactor(
            type="oauth",
            delivery_method=f"oauth_{provider}",
            detail_name=f"{provider}_oauth_factor",
            detail={
                "id": self._new_id("oauth-registration"),
                "provider_subject": subject,
                "email_id": self._email_id(email),
            },
            last_authenticated_at=self._now(),
            auth_method=f"{provider}_oauth",
        )

    @staticmethod
    def provider_subject(email: str) -> str:
        return f"idp-subject-{hashlib.sha256(email.lower().encode()).hexdigest()[:20]}"

    def authenticate_oauth(
        self,
        token: str,
        verifier: str | None,
        ist_token: str | None,
        minutes: int,
        client: Client,
        current: MemberSession | None,
    ) -> tuple[Outcome, IdpGrant]:
        with self._lock:
            grant = self._take_grant("oauth", token, verifier)
            assert grant.organization_id is not None and grant.provider is not None
            org = self._orgs[grant.organization_id]
            member, created = self._member_or_jit(org, grant.email_address)
            ist = self._ist_for(ist_token, org, member)
            subject = self.provider_subject(grant.email_address)
            if not any(r["provider_type"] == grant.provider for r in member.oauth_registrations):
                member.oauth_registrations.append(
                    {
                        "provider_type": grant.provider,
                        "provider_subject": subject,
                        "member_oauth_registration_id": self._new_id("oauth-registration"),
                        "profile_picture_url": "",
                        "locale": "",
                    }
                )
            member.email_address_verified = True
            factor = self._oauth_factor(grant.provider, member.email_address, subject)
            factors = merge_factors(ist.factors if ist else [], factor)
            outcome = self._conclude(
                org, member, factors, minutes, client, current=current, spent=ist, created=created
            )
            return outcome, grant

    def authenticate_discovery_oauth(
        self, token: str, verifier: str | None
    ) -> tuple[Discovery, IdpGrant]:
        with self._lock:
            grant = self._take_grant("discovery_oauth", token, verifier)
            assert grant.provider is not None
            subject = self.provider_subject(grant.email_address)
            factor = self._oauth_factor(grant.provider, grant.email_address, subject)
            return self._discovery(grant.email_address, factor), grant
