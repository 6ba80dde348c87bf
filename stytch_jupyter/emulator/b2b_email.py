"""B2B email factors: magic links (organization and discovery), email OTPs (organization and
discovery) and passwords (organization and discovery)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from . import b2b_errors as e
from .b2b_core import (
    B2BCore,
    Discovery,
    Outcome,
    check_pkce,
    with_query,
)
from .b2b_models import (
    EmailToken,
    Member,
    MemberSession,
    Organization,
    merge_factors,
)
from .errors import EmulatorError
from .models import Message, same_secret
from .state import Client


class EmailFactors(B2BCore):
    # -- email magic links ---------------------------------------------------------------

    def send_magic_link(
        self,
        organization: str,
        email: str,
        *,
        login_url: str,
        signup_url: str,
        minutes: int,
        code_challenge: str | None,
    ) -> tuple[Member, bool, Organization]:
        with self._lock:
            org = self.organization(organization)
            member = self._find_member(org, email)
            created = False
            if member is None:
                if not org.jit_by_email(email):
                    raise EmulatorError(
                        403, e.JIT_NOT_ALLOWED, "This email may not join the organization."
                    )
                member, created = self._new_member(org, email, "pending"), True
            signup = created or member.status == "pending"
            token = self._email_token(
                "magic_link", email, minutes, org.organization_id, member.member_id, code_challenge
            )
            self._mail_link(
                email,
                member.email_id,
                signup_url if signup else login_url,
                "multi_tenant_magic_links",
                token,
            )
            return member, created, org

    def _email_token(
        self,
        kind: str,
        email: str,
        minutes: int,
        org_id: str | None = None,
        member_id: str | None = None,
        code_challenge: str | None = None,
        secret: str | None = None,
    ) -> str:
        value = secret or secrets.token_urlsafe(33)
        self._email_tokens.append(
            EmailToken(
                kind=kind,
                email_address=email.lower(),
                secret=value,
                expires_at=self._now() + timedelta(minutes=minutes),
                organization_id=org_id,
                member_id=member_id,
                code_challenge=code_challenge,
            )
        )
        return value

    def _mail_link(
        self, email: str, method_id: str, base: str, token_type: str, token: str
    ) -> None:
        url = with_query(base, {"stytch_token_type": token_type, "token": token})
        self._post(
            Message(
                self.core.new_message_id(),
                email.lower(),
                "magic_link",
                method_id,
                self._now(),
                token=token,
                url=url,
            )
        )

    def _take_email_token(self, kinds: tuple[str, ...], secret: str) -> EmailToken:
        for token in self._email_tokens:
            if token.kind in kinds and same_secret(secret, token.secret):
                if token.used or self._now() >= token.expires_at:
                    raise EmulatorError(
                        401,
                        e.UNABLE_TO_AUTH_MAGIC_LINK,
                        "The magic link has already been used or has expired.",
                    )
                return token
        raise EmulatorError(404, e.MAGIC_LINK_NOT_FOUND, "The magic link could not be found.")

    def authenticate_magic_link(
        self,
        token: str,
        verifier: str | None,
        ist_token: str | None,
        minutes: int,
        client: Client,
        current: MemberSession | None,
    ) -> Outcome:
        with self._lock:
            link = self._take_email_token(("magic_link",), token)
            check_pkce(link.code_challenge, verifier)
            assert link.organization_id is not None and link.member_id is not None
            org = self._orgs[link.organization_id]
            member = self._live_member(org, link.member_id)
            ist = self._ist_for(ist_token, org, member)
            link.used = True
            member.email_address_verified = True
            factor = self._email_factor("magic_link", member.email_address, "magic_link")
            factors = merge_factors(ist.factors if ist else [], factor)
            return self._conclude(org, member, factors, minutes, client, current=current, spent=ist)

    def send_discovery_magic_link(
        self, email: str, url: str, minutes: int, code_challenge: str | None
    ) -> None:
        with self._lock:
            token = self._email_token(
                "discovery_magic_link", email, minutes, code_challenge=code_challenge
            )
            self._mail_link(email, self._email_id(email), url, "discovery", token)

    def authenticate_discovery_magic_link(self, token: str, verifier: str | None) -> Discovery:
        with self._lock:
            link = self._take_email_token(("discovery_magic_link",), token)
            check_pkce(link.code_challenge, verifier)
            link.used = True
            factor = self._email_factor("magic_link", link.email_address, "magic_link")
            return self._discovery(link.email_address, factor)

    # -- email OTPs ----------------------------------------------------------------------

    def _mail_code(self, email: str, method_id: str, code: str) -> None:
        self._post(
            Message(
                self.core.new_message_id(), email.lower(), "otp", method_id, self._now(), code=code
            )
        )

    def send_email_otp(self, organization: str, email: str, minutes: int) -> tuple[Member, bool]:
        with self._lock:
            org = self.organization(organization)
            member = self._find_member(org, email)
            created = False
            if member is None:
                if not org.jit_by_email(email):
                    raise EmulatorError(
                        403, e.JIT_NOT_ALLOWED, "This email may not join the organization."
                    )
                member, created = self._new_member(org, email, "pending"), True
            code = f"{secrets.randbelow(10**6):06d}"
            self._email_token(
                "otp", email, minutes, org.organization_id, member.member_id, secret=code
            )
            self._mail_code(email, member.email_id, code)
            return member, created

    def _find_code(self, kind: str, email: str, code: str, org_id: str | None) -> EmailToken:
        """The live passcode matching ``code``; the caller marks it used once all else passed."""
        candidates = [
            t
            for t in self._email_tokens
            if t.kind == kind
            and t.email_address == email.lower()
            and t.organization_id == org_id
            and not t.used
        ]
        match = next((t for t in candidates if same_secret(code, t.secret)), None)
        if match is None:
            raise EmulatorError(404, e.OTP_CODE_NOT_FOUND, "The passcode is wrong or already used.")
        if self._now() >= match.expires_at:
            raise EmulatorError(401, e.UNABLE_TO_AUTH_OTP_CODE, "The passcode has expired.")
        return match

    def authenticate_email_otp(
        self,
        organization: str,
        email: str,
        code: str,
        ist_token: str | None,
        minutes: int,
        client: Client,
        current: MemberSession | None,
    ) -> Outcome:
        with self._lock:
            org = self.organization(organization)
            token = self._find_code("otp", email, code, org.organization_id)
            assert token.member_id is not None
            member = self._live_member(org, token.member_id)
            ist = self._ist_for(ist_token, org, member)
            token.used = True
            member.email_address_verified = True
            factor = self._email_factor("otp", member.email_address, "email_otp")
            factors = merge_factors(ist.factors if ist else [], factor)
            return self._conclude(org, member, factors, minutes, client, current=current, spent=ist)

    def send_discovery_otp(self, email: str, minutes: int) -> None:
        with self._lock:
            code = f"{secrets.randbelow(10**6):06d}"
            self._email_token("discovery_otp", email, minutes, secret=code)
            self._mail_code(email, self._email_id(email), code)

    def authenticate_discovery_otp(self, email: str, code: str) -> Discovery:
        with self._lock:
            self._find_code("discovery_otp", email, code, None).used = True
            return self._discovery(email, self._email_factor("otp", email, "email_otp"))

    # -- passwords -----------------------------------------------------------------------

    def _wrong_password(self) -> EmulatorError:
        return EmulatorError(401, e.UNAUTHORIZED_CREDENTIALS, "The email or password is wrong.")

    def authenticate_password(
        self,
        organization: str,
        email: str,
        password: str,
        ist_token: str | None,
        minutes: int,
        client: Client,
        current: MemberSession | None,
    ) -> Outcome:
        with self._lock:
            self.core.record("passwords", password)
            org = self.organization(organization)
            member = self._find_member(org, email)
            if member is None or member.password is None or not member.password.matches(password):
                raise self._wrong_password()
            ist = self._ist_for(ist_token, org, member)
            factor = self._email_factor("password", member.email_address, "password")
            factors = merge_factors(ist.factors if ist else [], factor)
            return self._conclude(org, member, factors, minutes, client, current=current, spent=ist)

    def authenticate_discovery_password(self, email: str, password: str) -> Discovery:
        with self._lock:
            self.core.record("passwords", password)
            email = email.lower()
            if not any(
                m.email_address == email
                and m.status != "deleted"
                and m.password is not None
                and m.password.matches(password)
                for m in self._members.values()
            ):
                raise self._wrong_password()
            return self._discovery(email, self._email_factor("password", email, "password"))
