"""The B2B client (frontend SDK) API under ``/sdk/v1/b2b``.

Same conventions as the consumer client API: ``Basic public_token:session`` (the public token
again when signed out), success bodies wrapped in ``data``, errors not. The intermediate session
token travels in the body. The handlers are shared with the backend API (``b2b_backend_api``),
which only differs in how the caller and its session are named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import b2b_errors as e
from . import errors
from .b2b_control_api import string_list
from .b2b_models import MemberSession
from .b2b_state import B2BState, Discovery, Outcome
from .clock import rfc3339
from .defaults import (
    CONTROL_PREFIX,
    DEFAULT_FACTOR_SESSION_MINUTES,
    DEFAULT_MAGIC_LINK_MINUTES,
    DEFAULT_OTP_MINUTES,
    MAGIC_LINK_LANDING_PATH,
    MAX_MAGIC_LINK_MINUTES,
    MAX_OTP_MINUTES,
    MIN_MAGIC_LINK_MINUTES,
    MIN_OTP_MINUTES,
)
from .errors import EmulatorError, new_request_id
from .models import same_secret
from .project import ProjectSettings
from .state import Client
from .totp import provisioning_uri, qr_code_data_url
from .wire import Body, basic_credentials, client_of, read_body


@dataclass
class B2BCall:
    request: Request
    body: Body
    client: Client
    session_credential: str | None  # the session the caller holds, if any
    backend: bool = False

    def minutes(self) -> int:
        """``session_duration_minutes``, or the SDKs' default when the caller gives none."""
        minutes = self.body.session_duration()
        return DEFAULT_FACTOR_SESSION_MINUTES if minutes is None else minutes

    def ist(self) -> str | None:
        return self.body.string("intermediate_session_token") or None

    def landing(self) -> str:
        return str(self.request.base_url).rstrip("/") + MAGIC_LINK_LANDING_PATH


Handler = Callable[[B2BCall], dict[str, Any]]


# -- response shapes (STYTCH_API_NEXT.md §3.4) --------------------------------------------


def full_fields(outcome: Outcome) -> dict[str, Any]:
    assert outcome.session is not None
    return {
        "member_session": outcome.session.to_json(outcome.organization),
        "session_token": outcome.session.token,
        "session_jwt": outcome.session_jwt,
        "member": outcome.member.to_json(),
        "organization": outcome.organization.to_json(),
    }


def mfa_fields(outcome: Outcome) -> dict[str, Any]:
    """The MFA-capable shape: a session, or an IST with what is missing (never both)."""
    session = outcome.session
    fields: dict[str, Any] = {
        "member_id": outcome.member.member_id,
        "member": outcome.member.to_json(),
        "organization": outcome.organization.to_json(),
        "organization_id": outcome.organization.organization_id,
        "member_authenticated": session is not None,
        "member_session": None if session is None else session.to_json(outcome.organization),
        # UNVERIFIED: the live API's session strings without a session; "" as the SDKs expect.
        "session_token": "" if session is None else session.token,
        "session_jwt": outcome.session_jwt,
        "intermediate_session_token": "" if outcome.ist is None else outcome.ist.token,
        "mfa_required": outcome.mfa_required,
        "primary_required": outcome.primary_required,
    }
    if outcome.ist is not None:
        fields["intermediate_session_token_expires_at"] = rfc3339(outcome.ist.expires_at)
    return fields


def mfa_step_fields(outcome: Outcome) -> dict[str, Any]:
    """SMS, TOTP and recovery-code authenticate: always a session."""
    fields = full_fields(outcome)
    fields["member_id"] = outcome.member.member_id
    return fields


def discovery_fields(found: Discovery, *, with_ist: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "email_address": found.email_address,
        "discovered_organizations": found.organizations,
    }
    if with_ist:
        assert found.ist is not None
        fields["intermediate_session_token"] = found.ist.token
        fields["intermediate_session_token_expires_at"] = rfc3339(found.ist.expires_at)
    return fields


# -- the handlers --------------------------------------------------------------------------


def b2b_handlers(b2b: B2BState, settings: ProjectSettings) -> dict[str, Handler]:
    """``path under b2b/`` -> handler, for the POST endpoints both APIs serve."""

    def header_session(call: B2BCall) -> MemberSession:
        if call.session_credential is None:
            raise EmulatorError(404, e.SESSION_NOT_FOUND, "No session in the request.")
        return b2b.session_by_credential(call.session_credential)

    def current(call: B2BCall) -> MemberSession | None:
        """The caller's live session, if any: a factor authenticated with one joins it."""
        try:
            return header_session(call)
        except EmulatorError:
            return None

    def sessions_authenticate(call: B2BCall) -> dict[str, Any]:
        claims = call.body.object("session_custom_claims") if call.backend else None
        outcome = b2b.authenticate_session(
            header_session(call), call.body.session_duration(), claims
        )
        return full_fields(outcome)

    def sessions_exchange(call: B2BCall) -> dict[str, Any]:
        organization_id = call.body.required_string("organization_id")
        outcome = b2b.exchange_session(
            header_session(call), organization_id, call.minutes(), call.client
        )
        return mfa_fields(outcome)

    def email_link_checks(call: B2BCall, url_fields: tuple[str, ...]) -> str | None:
        """The project's settings for email magic links, as for consumer ones: PKCE when
        required (SDK calls only; a backend has no verifier to keep), and the redirect
        allowlist when strict."""
        challenge = call.body.string("pkce_code_challenge") or None
        if challenge is None and not call.backend and settings.requires_pkce("email_magic_links"):
            raise EmulatorError(
                400,
                errors.PKCE_EXPECTED_CODE_CHALLENGE,
                "This project requires PKCE for email magic links: send a pkce_code_challenge.",
            )
        if settings.strict_magic_link_urls:
            for name in url_fields:
                given = call.body.url(name)  # not a URL at all: bad_request, before the list
                if given and not settings.redirect_allowed(given):
                    raise EmulatorError(
                        400,
                        errors.NO_MATCH_FOR_PROVIDED_MAGIC_LINK_URL,
                        f"{name} is not one of the project's redirect URLs.",
                    )
        return challenge

    def magic_links_login_or_signup(call: B2BCall) -> dict[str, Any]:
        body = call.body
        challenge = email_link_checks(call, ("login_redirect_url", "signup_redirect_url"))
        login_url = body.url("login_redirect_url") or call.landing()
        member, created, org = b2b.send_magic_link(
            body.required_string("organization_id"),
            body.email("email_address"),
            login_url=login_url,
            signup_url=body.url("signup_redirect_url") or login_url,
            minutes=body.expiration(
                "login_expiration_minutes",
                DEFAULT_MAGIC_LINK_MINUTES,
                MIN_MAGIC_LINK_MINUTES,
                MAX_MAGIC_LINK_MINUTES,
            ),
            code_challenge=challenge,
        )
        if not call.backend:
            return {}
        return {
            "member_id": member.member_id,
            "member_created": created,
            "member": member.to_json(),
            "organization": org.to_json(),
        }

    def magic_links_authenticate(call: B2BCall) -> dict[str, Any]:
        outcome = b2b.authenticate_magic_link(
            call.body.required_string("magic_links_token"),
            call.body.string("pkce_code_verifier"),
            call.ist(),
            call.minutes(),
            call.client,
            current(call),
        )
        return {
            **mfa_fields(outcome),
            "method_id": outcome.member.email_id,
            "reset_sessions": False,
        }

    def magic_links_discovery_send(call: B2BCall) -> dict[str, Any]:
        body = call.body
        challenge = email_link_checks(call, ("discovery_redirect_url",))
        b2b.send_discovery_magic_link(
            body.email("email_address"),
            body.url("discovery_redirect_url") or call.landing(),
            body.expiration(
                "discovery_expiration_minutes",
                DEFAULT_MAGIC_LINK_MINUTES,
                MIN_MAGIC_LINK_MINUTES,
                MAX_MAGIC_LINK_MINUTES,
            ),
            challenge,
        )
        return {}

    def magic_links_discovery_authenticate(call: B2BCall) -> dict[str, Any]:
        found = b2b.authenticate_discovery_magic_link(
            call.body.required_string("discovery_magic_links_token"),
            call.body.string("pkce_code_verifier"),
        )
        return discovery_fields(found)

    def otps_email_login_or_signup(call: B2BCall) -> dict[str, Any]:
        member, created = b2b.send_email_otp(
            call.body.required_string("organization_id"),
            call.body.email("email_address"),
            call.body.expiration(
                "login_expiration_minutes", DEFAULT_OTP_MINUTES, MIN_OTP_MINUTES, MAX_OTP_MINUTES
            ),
        )
        if not call.backend:
            return {}
        org = b2b.organization(member.organization_id)
        return {
            "member_id": member.member_id,
            "member_created": created,
            "member": member.to_json(),
            "organization": org.to_json(),
        }

    def otps_email_authenticate(call: B2BCall) -> dict[str, Any]:
        outcome = b2b.authenticate_email_otp(
            call.body.required_string("organization_id"),
            call.body.email("email_address"),
            call.body.required_string("code"),
            call.ist(),
            call.minutes(),
            call.client,
            current(call),
        )
        return {**mfa_fields(outcome), "method_id": outcome.member.email_id}

    def otps_email_discovery_send(call: B2BCall) -> dict[str, Any]:
        b2b.send_discovery_otp(
            call.body.email("email_address"),
            call.body.expiration(
                "discovery_expiration_minutes",
                DEFAULT_OTP_MINUTES,
                MIN_OTP_MINUTES,
                MAX_OTP_MINUTES,
            ),
        )
        return {}

    def otps_email_discovery_authenticate(call: B2BCall) -> dict[str, Any]:
        found = b2b.authenticate_discovery_otp(
            call.body.email("email_address"), call.body.required_string("code")
        )
        return discovery_fields(found)

    def passwords_authenticate(call: B2BCall) -> dict[str, Any]:
        outcome = b2b.authenticate_password(
            call.body.required_string("organization_id"),
            call.body.email("email_address"),
            call.body.required_string("password"),
            call.ist(),
            call.minutes(),
            call.client,
            current(call),
        )
        return mfa_fields(outcome)

    def passwords_discovery_authenticate(call: B2BCall) -> dict[str, Any]:
        found = b2b.authenticate_discovery_password(
            call.body.email("email_address"), call.body.required_string("password")
        )
        return discovery_fields(found)

    def discovery_organizations(call: B2BCall) -> dict[str, Any]:
        ist = call.ist()
        found = b2b.list_discovered(ist, None if ist else current(call))
        return discovery_fields(found, with_ist=False)

    def discovery_exchange(call: B2BCall) -> dict[str, Any]:
        outcome = b2b.exchange_ist(
            call.body.required_string("intermediate_session_token"),
            call.body.required_string("organization_id"),
            call.minutes(),
            call.client,
        )
        return mfa_fields(outcome)

    def discovery_organizations_create(call: B2BCall) -> dict[str, Any]:
        body = call.body
        settings: dict[str, Any] = {
            "organization_name": body.string("organization_name"),
            "organization_slug": body.string("organization_slug"),
        }
        for name in (
            "email_jit_provisioning",
            "auth_methods",
            "mfa_policy",
            "mfa_methods",
            "sso_jit_provisioning",
        ):
            settings[name] = body.string(name)
        for name in ("email_allowed_domains", "allowed_auth_methods", "allowed_mfa_methods"):
            settings[name] = string_list(body, name)
        outcome = b2b.create_organization_from_discovery(
            body.required_string("intermediate_session_token"),
            call.minutes(),
            call.client,
            **settings,
        )
        return mfa_fields(outcome)

    def sso_authenticate(call: B2BCall) -> dict[str, Any]:
        outcome = b2b.authenticate_sso(
            call.body.required_string("sso_token"),
            call.body.string("pkce_code_verifier"),
            call.ist(),
            call.minutes(),
            call.client,
            current(call),
        )
        return {**mfa_fields(outcome), "reset_session": False}

    def oauth_authenticate(call: B2BCall) -> dict[str, Any]:
        outcome, grant = b2b.authenticate_oauth(
            call.body.required_string("oauth_token"),
            call.body.string("pkce_code_verifier"),
            call.ist(),
            call.minutes(),
            call.client,
            current(call),
        )
        return {
            **mfa_fields(outcome),
            "provider_subject": b2b.provider_subject(grant.email_address),
            "provider_type": _provider_type(grant.provider or ""),
            "reset_sessions": False,
            # The emulator's provider issues no tokens of its own.
            "provider_values": {
                "access_token": "",
                "refresh_token": "",
                "id_token": "",
                "scopes": [],
            },
        }

    def oauth_discovery_authenticate(call: B2BCall) -> dict[str, Any]:
        found, grant = b2b.authenticate_discovery_oauth(
            call.body.required_string("discovery_oauth_token"),
            call.body.string("pkce_code_verifier"),
        )
        return {
            **discovery_fields(found),
            "provider_type": _provider_type(grant.provider or ""),
            "provider_tenant_id": "",
            "provider_tenant_ids": [],
            "full_name": grant.name,
        }

    def otps_sms_send(call: B2BCall) -> dict[str, Any]:
        b2b.send_sms(
            call.body.required_string("organization_id"),
            call.body.required_string("member_id"),
            call.body.string("mfa_phone_number") or None,
            call.ist(),
            current(call),
        )
        return {}

    def otps_sms_authenticate(call: B2BCall) -> dict[str, Any]:
        outcome = b2b.authenticate_sms(
            call.body.required_string("organization_id"),
            call.body.required_string("member_id"),
            call.body.required_string("code"),
            call.ist(),
            current(call),
            call.minutes(),
            call.client,
            call.body.string("set_mfa_enrollment"),
        )
        return mfa_step_fields(outcome)

    def totp_create(call: B2BCall) -> dict[str, Any]:
        org, member, totp = b2b.create_totp(
            call.body.required_string("organization_id"),
            call.body.required_string("member_id"),
            call.ist(),
            current(call),
        )
        return {
            "member_id": member.member_id,
            "totp_registration_id": totp.totp_registration_id,
            "secret": totp.secret,
            "qr_code": qr_code_data_url(provisioning_uri(totp.secret, member.email_address)),
            "recovery_codes": list(totp.recovery_codes),
            "member": member.to_json(),
            "organization": org.to_json(),
        }

    def totp_authenticate(call: B2BCall) -> dict[str, Any]:
        outcome = b2b.authenticate_totp(
            call.body.required_string("organization_id"),
            call.body.required_string("member_id"),
            call.body.required_string("code"),
            call.ist(),
            current(call),
            call.minutes(),
            call.client,
            call.body.string("set_mfa_enrollment"),
            bool(call.body.boolean("set_default_mfa")),
        )
        return mfa_step_fields(outcome)

    def recovery_codes_recover(call: B2BCall) -> dict[str, Any]:
        outcome, remaining = b2b.recover(
            call.body.required_string("organization_id"),
            call.body.required_string("member_id"),
            call.body.required_string("recovery_code"),
            call.ist(),
            current(call),
            call.minutes(),
            call.client,
        )
        return {**mfa_step_fields(outcome), "recovery_codes_remaining": remaining}

    return {
        "sessions/authenticate": sessions_authenticate,
        "sessions/exchange": sessions_exchange,
        "magic_links/email/login_or_signup": magic_links_login_or_signup,
        "magic_links/authenticate": magic_links_authenticate,
        "magic_links/email/discovery/send": magic_links_discovery_send,
        "magic_links/discovery/authenticate": magic_links_discovery_authenticate,
        "otps/email/login_or_signup": otps_email_login_or_signup,
        "otps/email/authenticate": otps_email_authenticate,
        "otps/email/discovery/send": otps_email_discovery_send,
        "otps/email/discovery/authenticate": otps_email_discovery_authenticate,
        "passwords/authenticate": passwords_authenticate,
        "passwords/discovery/authenticate": passwords_discovery_authenticate,
        "discovery/organizations": discovery_organizations,
        "discovery/intermediate_sessions/exchange": discovery_exchange,
        "discovery/organizations/create": discovery_organizations_create,
        "sso/authenticate": sso_authenticate,
        "oauth/authenticate": oauth_authenticate,
        "oauth/discovery/authenticate": oauth_discovery_authenticate,
        "otps/sms/send": otps_sms_send,
        "otps/sms/authenticate": otps_sms_authenticate,
        "totp": totp_create,
        "totp/authenticate": totp_authenticate,
        "recovery_codes/recover": recovery_codes_recover,
    }


# UNVERIFIED: the capitalisation of provider_type (STYTCH_API_NEXT.md §8); "Google" here.
def _provider_type(provider: str) -> str:
    return provider.capitalize()


def b2b_client_routes(b2b: B2BState, public_token: str, settings: ProjectSettings) -> list[Route]:
    def session_part(request: Request) -> str | None:
        creds = basic_credentials(request)
        if creds is None or not same_secret(creds[0], public_token):
            raise EmulatorError(
                401, errors.INVALID_PUBLIC_TOKEN, "The public token is missing or unknown."
            )
        part = creds[1]
        return None if not part or part == public_token else part

    def route(path: str, handler: Handler, method: str = "POST") -> Route:
        async def endpoint(request: Request) -> JSONResponse:
            credential = session_part(request)
            body = await read_body(request) if method == "POST" else Body({})
            data = handler(B2BCall(request, body, client_of(request), credential))
            data.update(status_code=200, request_id=new_request_id())
            return JSONResponse({"data": data})

        return Route(f"/sdk/v1/b2b/{path}", endpoint, methods=[method])

    def header_session(call: B2BCall) -> MemberSession:
        if call.session_credential is None:
            raise EmulatorError(404, e.SESSION_NOT_FOUND, "No session in the request.")
        return b2b.session_by_credential(call.session_credential)

    def sessions_revoke(call: B2BCall) -> dict[str, Any]:
        b2b.revoke(header_session(call))
        return {}

    def members_me(call: B2BCall) -> dict[str, Any]:
        return {"member": b2b.member_of(header_session(call)).to_json()}

    def organizations_me(call: B2BCall) -> dict[str, Any]:
        return {"organization": b2b.organization_of(header_session(call)).to_json()}

    def organizations_search(call: B2BCall) -> dict[str, Any]:
        slug = call.body.required_string("organization_slug")
        try:
            found = b2b.organization(slug)
        except EmulatorError:
            # UNVERIFIED: an unknown slug answers no organization rather than an error (the
            # spec's OrgSearchBySlugResponse makes ``organization`` optional).
            return {"organization": None}
        if found.organization_slug != slug.lower():
            return {"organization": None}  # by slug only, never by id
        return {"organization": found.public_json()}

    routes = [route(path, handler) for path, handler in b2b_handlers(b2b, settings).items()]
    return [
        *routes,
        route("sessions/revoke", sessions_revoke),
        route("organizations/members/me", members_me, method="GET"),
        route("organizations/me", organizations_me, method="GET"),
        # The SDKs' getBySlug (stytch-mobile's searchOrganizations); no session needed.
        route("organizations/search", organizations_search),
    ]


def not_b2b_routes() -> list[Route]:
    """A consumer project answers every B2B path with one clear line."""

    async def refuse(request: Request) -> JSONResponse:
        raise EmulatorError(
            404,
            e.NOT_A_B2B_PROJECT,
            "This emulator serves a consumer project: start it with --b2b "
            '(Emulator(vertical="b2b")) for B2B endpoints.',
        )

    methods = ["GET", "POST", "PUT", "DELETE"]
    return [
        Route("/sdk/v1/b2b/{rest:path}", refuse, methods=methods),
        Route("/v1/b2b/{rest:path}", refuse, methods=methods),
        Route(f"{CONTROL_PREFIX}/b2b/{{rest:path}}", refuse, methods=methods),
    ]
