"""B2B MFA factors: SMS passcodes, TOTP (RFC 6238 on the emulator's clock) and recovery codes.

Each step needs the member's intermediate session token, or a live session of the same member
(step-up); what it proves is added to the factors already proven."""

from __future__ import annotations

from . import b2b_errors as e
from . import errors, totp
from .b2b_core import (
    PHONE_NUMBER,
    B2BCore,
    Outcome,
)
from .b2b_models import (
    B2BFactor,
    IntermediateSession,
    Member,
    MemberSession,
    Organization,
    Totp,
    merge_factors,
)
from .errors import EmulatorError, bad_request
from .models import same_secret
from .state import Client


class MfaFactors(B2BCore):
    # -- MFA: SMS, TOTP, recovery codes --------------------------------------------------

    def _mfa_context(
        self,
        organization: str,
        member_id: str,
        ist_token: str | None,
        current: MemberSession | None,
    ) -> tuple[Organization, Member, IntermediateSession | None, MemberSession | None]:
        """MFA steps need this member's IST, or a live session of the same member."""
        org = self.organization(organization)
        member = self._live_member(org, member_id)
        if ist_token is not None:
            ist = self._ist(ist_token)
            if ist.member_id != member.member_id:
                raise EmulatorError(
                    400,
                    e.IST_FOR_OTHER_ORGANIZATION,
                    "This intermediate session token belongs to another member or organization.",
                )
            return org, member, ist, None
        if (
            current is not None
            and current.member_id == member.member_id
            and current.live_at(self._now())
        ):
            return org, member, None, current
        raise EmulatorError(
            401,
            e.UNAUTHORIZED_CREDENTIALS,
            "Send this member's intermediate_session_token or a session of the member.",
        )

    def _mfa_finish(
        self,
        org: Organization,
        member: Member,
        ist: IntermediateSession | None,
        current: MemberSession | None,
        factor: B2BFactor,
        minutes: int,
        client: Client,
    ) -> Outcome:
        factors = merge_factors(ist.factors if ist else [], factor)
        outcome = self._conclude(org, member, factors, minutes, client, current=current, spent=ist)
        if outcome.session is None:
            # The IST lacked an allowed primary factor: MFA alone does not make a session.
            raise EmulatorError(
                400,
                e.INSUFFICIENT_FACTORS,
                "A primary factor the organization allows is still missing.",
            )
        return outcome

    def send_sms(
        self,
        organization: str,
        member_id: str,
        phone: str | None,
        ist_token: str | None,
        current: MemberSession | None,
    ) -> None:
        with self._lock:
            org, member, _, _ = self._mfa_context(organization, member_id, ist_token, current)
            if not org.allows_mfa("sms_otp"):
                raise EmulatorError(400, e.MFA_METHOD_NOT_ALLOWED, "SMS OTP is not allowed here.")
            if phone is not None:
                if not PHONE_NUMBER.match(phone):
                    raise EmulatorError(
                        400, e.INVALID_PHONE_NUMBER, "mfa_phone_number must be in E.164 form."
                    )
                if member.mfa_phone_number_verified and phone != member.mfa_phone_number:
                    raise EmulatorError(
                        400,
                        e.INVALID_PHONE_NUMBER,
                        "The member already has a verified MFA phone number.",
                    )
                member.mfa_phone_number = phone
            if not member.mfa_phone_number:
                raise EmulatorError(
                    400, e.INVALID_PHONE_NUMBER, "The member has no MFA phone number: send one."
                )
            self._text_code(member, member.mfa_phone_number)

    def authenticate_sms(
        self,
        organization: str,
        member_id: str,
        code: str,
        ist_token: str | None,
        current: MemberSession | None,
        minutes: int,
        client: Client,
        set_mfa_enrollment: str | None,
    ) -> Outcome:
        with self._lock:
            org, member, ist, session = self._mfa_context(
                organization, member_id, ist_token, current
            )
            match = next(
                (
                    s
                    for s in self._sms
                    if s.member_id == member.member_id and not s.used and same_secret(code, s.code)
                ),
                None,
            )
            if match is None:
                raise EmulatorError(404, e.OTP_CODE_NOT_FOUND, "The passcode is wrong or used.")
            if self._now() >= match.expires_at:
                raise EmulatorError(401, e.UNABLE_TO_AUTH_OTP_CODE, "The passcode has expired.")
            match.used = True
            if not member.mfa_phone_id:
                member.mfa_phone_id = self._new_id("phone-number")
            member.mfa_phone_number_verified = True
            member.default_mfa_method = member.default_mfa_method or "sms_otp"
            self._enroll(member, set_mfa_enrollment)
            factor = B2BFactor(
                type="otp",
                delivery_method="sms",
                detail_name="phone_number_factor",
                detail={"phone_id": member.mfa_phone_id, "phone_number": match.phone_number},
                last_authenticated_at=self._now(),
            )
            return self._mfa_finish(org, member, ist, session, factor, minutes, client)

    @staticmethod
    def _enroll(member: Member, setting: str | None) -> None:
        if setting == "enroll":
            member.mfa_enrolled = True
        elif setting == "unenroll":
            member.mfa_enrolled = False
        elif setting is not None:
            raise bad_request("set_mfa_enrollment must be enroll or unenroll.")

    def create_totp(
        self,
        organization: str,
        member_id: str,
        ist_token: str | None,
        current: MemberSession | None,
    ) -> tuple[Organization, Member, Totp]:
        with self._lock:
            org, member, _, _ = self._mfa_context(organization, member_id, ist_token, current)
            if not org.allows_mfa("totp"):
                raise EmulatorError(400, e.MFA_METHOD_NOT_ALLOWED, "TOTP is not allowed here.")
            if member.totp is not None and member.totp.verified:
                raise EmulatorError(
                    400, e.TOTP_ALREADY_EXISTS, "The member already has a TOTP registration."
                )
            return org, member, self._new_totp(member)

    def current_totp_code(self, organization: str, member_id: str) -> str:
        """For tests and the control API: what the member's authenticator app shows now."""
        with self._lock:
            member = self.member(organization, member_id)
            if member.totp is None:
                raise EmulatorError(404, e.TOTP_NOT_FOUND, "The member has no TOTP registration.")
            code = totp.code_at(member.totp.secret, totp.step_of(self._now()))
            self.core.record("mfa_codes", code)
            return code

    def authenticate_totp(
        self,
        organization: str,
        member_id: str,
        code: str,
        ist_token: str | None,
        current: MemberSession | None,
        minutes: int,
        client: Client,
        set_mfa_enrollment: str | None,
        set_default_mfa: bool,
    ) -> Outcome:
        with self._lock:
            org, member, ist, session = self._mfa_context(
                organization, member_id, ist_token, current
            )
            if member.totp is None:
                raise EmulatorError(404, e.TOTP_NOT_FOUND, "The member has no TOTP registration.")
            now = self._now()
            step = totp.matching_step(member.totp.secret, code, now)
            if step is None:
                raise EmulatorError(401, e.UNABLE_TO_AUTH_TOTP, "The TOTP code is wrong.")
            if step <= member.totp.last_step:
                raise EmulatorError(
                    400,
                    errors.TOTP_CODE_ALREADY_AUTHENTICATED,
                    "This code was already used: wait for the next one.",
                )
            member.totp.last_step = step
            member.totp.verified = True
            if set_default_mfa or not member.default_mfa_method:
                member.default_mfa_method = "totp"
            self._enroll(member, set_mfa_enrollment)
            factor = B2BFactor(
                type="totp",
                delivery_method="authenticator_app",
                detail_name="authenticator_app_factor",
                detail={"totp_id": member.totp.totp_registration_id},
                last_authenticated_at=now,
            )
            return self._mfa_finish(org, member, ist, session, factor, minutes, client)

    def recover(
        self,
        organization: str,
        member_id: str,
        recovery_code: str,
        ist_token: str | None,
        current: MemberSession | None,
        minutes: int,
        client: Client,
    ) -> tuple[Outcome, int]:
        with self._lock:
            org, member, ist, session = self._mfa_context(
                organization, member_id, ist_token, current
            )
            self.core.record("recovery_codes", recovery_code)
            registration = member.totp
            match = next(
                (
                    c
                    for c in (registration.recovery_codes if registration else [])
                    if same_secret(recovery_code, c)
                ),
                None,
            )
            if registration is None or match is None:
                raise EmulatorError(
                    401, e.UNABLE_TO_AUTH_RECOVERY_CODE, "The recovery code is wrong or used."
                )
            registration.recovery_codes.remove(match)
            factor = B2BFactor(
                type="recovery_codes",
                delivery_method="recovery_code",
                detail_name="recovery_code_factor",
                detail={"totp_recovery_code_id": registration.totp_registration_id},
                last_authenticated_at=self._now(),
            )
            outcome = self._mfa_finish(org, member, ist, session, factor, minutes, client)
            return outcome, len(registration.recovery_codes)
