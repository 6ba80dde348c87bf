"""The client (frontend SDK) API under ``/sdk/v1``: what the notebook client talks to.

Requests carry ``Basic public_token:session`` (the public token again when signed out); the
session part may be the opaque token or the session JWT. Success bodies are wrapped in
``data``; errors are not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import errors
from .defaults import (
    DEFAULT_FACTOR_SESSION_MINUTES,
    DEFAULT_MAGIC_LINK_MINUTES,
    DEFAULT_OTP_MINUTES,
    DEFAULT_PASSWORD_RESET_MINUTES,
    MAGIC_LINK_LANDING_PATH,
    MAX_MAGIC_LINK_MINUTES,
    MAX_OTP_MINUTES,
    MAX_PASSWORD_RESET_MINUTES,
    MIN_MAGIC_LINK_MINUTES,
    MIN_OTP_MINUTES,
    MIN_PASSWORD_RESET_MINUTES,
)
from .errors import EmulatorError, new_request_id
from .models import OAuthToken, Session, Totp, User, same_secret
from .project import ProjectSettings
from .state import Authenticated, State
from .wire import Body, basic_credentials, client_of, read_body


@dataclass
class Call:
    request: Request
    body: Body
    credential: str | None  # the session part of the auth header, if any

    def factor_minutes(self) -> int:
        minutes = self.body.session_duration()
        return DEFAULT_FACTOR_SESSION_MINUTES if minutes is None else minutes


Handler = Callable[[Call], dict[str, Any]]


def authenticated_fields(auth: Authenticated) -> dict[str, Any]:
    return {
        "user_id": auth.user.user_id,
        "session": auth.session.to_json(),
        "session_token": auth.session.token,
        "session_jwt": auth.session_jwt,
        "user": auth.user.to_json(),
    }


def oauth_fields(result: tuple[Authenticated, OAuthToken, dict[str, Any]]) -> dict[str, Any]:
    auth, token, provider_values = result
    return {
        **authenticated_fields(auth),
        "provider_subject": token.registration.provider_subject,
        "provider_type": token.registration.provider_type,
        "provider_values": provider_values,
        "reset_sessions": False,
        "oauth_user_registration_id": token.registration.registration_id,
    }


def totp_created_fields(created: tuple[User, Totp, str]) -> dict[str, Any]:
    user, record, qr_code = created
    return {
        "totp_id": record.totp_id,
        "secret": record.secret,
        "qr_code": qr_code,
        "recovery_codes": list(record.recovery_codes),
        "user_id": user.user_id,
        "user": user.to_json(),
    }


def recovery_codes_fields(found: tuple[User, list[Totp]]) -> dict[str, Any]:
    user, totps = found
    return {
        "user_id": user.user_id,
        "totps": [{**t.to_json(), "recovery_codes": list(t.recovery_codes)} for t in totps],
    }


def with_sdk_user(data: dict[str, Any], user: User) -> dict[str, Any]:
    """Add ``__user``: the browser SDK reads it (the user plus status_code and request_id)
    from users/* updates and deletes and from totps create, to refresh its cached user. It is
    absent from Stytch's OpenAPI spec; whether the live API sends it is UNVERIFIED."""
    return {
        **data,
        "__user": {**user.to_json(), "status_code": 200, "request_id": new_request_id()},
    }


def user_update_fields(user: User) -> dict[str, Any]:
    shown = user.to_json()
    return {
        "user_id": user.user_id,
        "emails": shown["emails"],
        "phone_numbers": shown["phone_numbers"],
        "crypto_wallets": shown["crypto_wallets"],
        "user": shown,
    }


def checked_name(body: Body) -> dict[str, str] | None:
    name = body.object("name")
    if name is not None and (
        set(name) - {"first_name", "middle_name", "last_name"}
        or not all(isinstance(v, str) for v in name.values())
    ):
        raise errors.bad_request(
            "name must be an object of first_name, middle_name and last_name strings."
        )
    return name


def start_password_reset(
    state: State, settings: ProjectSettings, body: Body, base_url: str
) -> User:
    """``passwords/email/reset/start`` (client and backend alike)."""
    email = body.email()
    landing = base_url.rstrip("/") + MAGIC_LINK_LANDING_PATH
    url = body.url("reset_password_redirect_url") or landing
    for name in ("reset_password_redirect_url", "login_redirect_url"):
        given = body.url(name)
        if given and not settings.redirect_allowed(given):
            raise EmulatorError(
                400,
                errors.NO_MATCH_FOR_PROVIDED_PASSWORD_RESET_URL,
                f"{name} is not one of the project's redirect URLs.",
            )
    minutes = body.expiration(
        "reset_password_expiration_minutes",
        DEFAULT_PASSWORD_RESET_MINUTES,
        MIN_PASSWORD_RESET_MINUTES,
        MAX_PASSWORD_RESET_MINUTES,
    )
    challenge = body.string("code_challenge")
    if challenge is None and settings.requires_pkce("password_resets"):
        raise EmulatorError(
            400,
            errors.PKCE_EXPECTED_CODE_CHALLENGE,
            "This project requires PKCE for password resets: send a code_challenge.",
        )
    return state.send_password_reset(email, url=url, minutes=minutes, code_challenge=challenge)


def sms_expiration(body: Body) -> int:
    return body.expiration(
        "expiration_minutes", DEFAULT_OTP_MINUTES, MIN_OTP_MINUTES, MAX_OTP_MINUTES
    )


def client_routes(state: State, public_token: str, settings: ProjectSettings) -> list[Route]:
    def credential_of(request: Request) -> str | None:
        creds = basic_credentials(request)
        if creds is None or not same_secret(creds[0], public_token):
            raise EmulatorError(
                401, errors.INVALID_PUBLIC_TOKEN, "The public token is missing or unknown."
            )
        session_part = creds[1]
        return None if not session_part or session_part == public_token else session_part

    def route(path: str, handler: Handler, method: str = "POST") -> Route:
        async def endpoint(request: Request) -> JSONResponse:
            credential = credential_of(request)
            body = await read_body(request) if method in ("POST", "PUT") else Body({})
            data = handler(Call(request, body, credential))
            data.update(status_code=200, request_id=new_request_id())
            return JSONResponse({"data": data})

        return Route(f"/sdk/v1/{path}", endpoint, methods=[method])

    def header_session(call: Call) -> Session:
        if call.credential is None:
            raise EmulatorError(404, errors.SESSION_NOT_FOUND, "No session in the request.")
        return state.session_by_credential(call.credential)

    def current_session(call: Call) -> Session | None:
        """The caller's live session, if any: a factor authenticated with one joins it."""
        try:
            return header_session(call)
        except EmulatorError:
            return None

    def sessions_authenticate(call: Call) -> dict[str, Any]:
        minutes = call.body.session_duration()
        return authenticated_fields(state.authenticate_session(header_session(call), minutes))

    def sessions_revoke(call: Call) -> dict[str, Any]:
        state.revoke(header_session(call))
        return {}

    def otps_email_login_or_create(call: Call) -> dict[str, Any]:
        email = call.body.email()
        minutes = call.body.expiration(
            "expiration_minutes", DEFAULT_OTP_MINUTES, MIN_OTP_MINUTES, MAX_OTP_MINUTES
        )
        user, _ = state.send_otp(email, minutes)
        return {"method_id": user.email_id}

    def otps_authenticate(call: Call) -> dict[str, Any]:
        code = call.body.required_string("token")
        method_id = call.body.required_string("method_id")
        minutes = call.factor_minutes()
        auth = state.authenticate_otp(
            method_id, code, minutes, current_session(call), client_of(call.request)
        )
        return {**authenticated_fields(auth), "method_id": method_id, "reset_sessions": False}

    def magic_links_email_login_or_create(call: Call) -> dict[str, Any]:
        body = call.body
        email = body.email()
        landing = str(call.request.base_url).rstrip("/") + MAGIC_LINK_LANDING_PATH
        login_url = body.url("login_magic_link_url") or landing
        signup_url = body.url("signup_magic_link_url") or login_url
        login_minutes, signup_minutes = (
            body.expiration(
                name, DEFAULT_MAGIC_LINK_MINUTES, MIN_MAGIC_LINK_MINUTES, MAX_MAGIC_LINK_MINUTES
            )
            for name in ("login_expiration_minutes", "signup_expiration_minutes")
        )
        challenge = body.string("code_challenge")
        if challenge is None and settings.requires_pkce("email_magic_links"):
            raise EmulatorError(
                400,
                errors.PKCE_EXPECTED_CODE_CHALLENGE,
                "This project requires PKCE for email magic links: send a code_challenge.",
            )
        if settings.strict_magic_link_urls:
            for name in ("login_magic_link_url", "signup_magic_link_url"):
                given = body.string(name)
                if given and not settings.redirect_allowed(given):
                    raise EmulatorError(
                        400,
                        errors.NO_MATCH_FOR_PROVIDED_MAGIC_LINK_URL,
                        f"{name} is not one of the project's redirect URLs.",
                    )
        state.send_magic_link(
            email,
            login_url=login_url,
            signup_url=signup_url,
            login_minutes=login_minutes,
            signup_minutes=signup_minutes,
            code_challenge=challenge,
        )
        return {}

    def magic_links_authenticate(call: Call) -> dict[str, Any]:
        token = call.body.required_string("token")
        verifier = call.body.string("code_verifier")
        minutes = call.factor_minutes()
        auth = state.authenticate_magic_link(
            token, verifier, minutes, current_session(call), client_of(call.request)
        )
        return {
            **authenticated_fields(auth),
            "method_id": auth.user.email_id,
            "reset_sessions": False,
        }

    def oauth_authenticate(call: Call) -> dict[str, Any]:
        token = call.body.required_string("token")
        verifier = call.body.string("code_verifier")
        minutes = call.factor_minutes()
        return oauth_fields(
            state.authenticate_oauth(
                token, verifier, minutes, current_session(call), client_of(call.request)
            )
        )

    def passwords_authenticate(call: Call) -> dict[str, Any]:
        email = call.body.required_string("email")
        password = call.body.required_string("password")
        minutes = call.factor_minutes()
        auth = state.authenticate_password(
            email, password, minutes, current_session(call), client_of(call.request)
        )
        return authenticated_fields(auth)

    def users_me(call: Call) -> dict[str, Any]:
        return state.user(header_session(call).user_id).to_json()

    # -- passwords ---------------------------------------------------------------------

    def passwords_create(call: Call) -> dict[str, Any]:
        email = call.body.email()
        password = call.body.required_string("password")
        auth = state.create_password(
            email, password, call.factor_minutes(), current_session(call), client_of(call.request)
        )
        return {**authenticated_fields(auth), "email_id": auth.user.email_id}

    def passwords_strength_check(call: Call) -> dict[str, Any]:
        return state.check_strength(
            call.body.required_string("password"), call.body.string("email")
        )

    def passwords_email_reset_start(call: Call) -> dict[str, Any]:
        start_password_reset(state, settings, call.body, str(call.request.base_url))
        return {}

    def passwords_email_reset(call: Call) -> dict[str, Any]:
        auth = state.reset_password_by_email(
            call.body.required_string("token"),
            call.body.required_string("password"),
            call.body.string("code_verifier"),
            call.factor_minutes(),
            current_session(call),
            client_of(call.request),
        )
        return authenticated_fields(auth)

    def passwords_existing_password_reset(call: Call) -> dict[str, Any]:
        auth = state.reset_password_existing(
            call.body.email(),
            call.body.required_string("existing_password"),
            call.body.required_string("new_password"),
            call.factor_minutes(),
            client_of(call.request),
        )
        return authenticated_fields(auth)

    def passwords_session_reset(call: Call) -> dict[str, Any]:
        password = call.body.required_string("password")
        auth = state.reset_password_in_session(
            header_session(call), password, call.factor_minutes(), client_of(call.request)
        )
        return authenticated_fields(auth)

    # -- SMS one-time codes --------------------------------------------------------------

    def otps_sms_login_or_create(call: Call) -> dict[str, Any]:
        _, phone, _ = state.send_sms_otp(call.body.phone_number(), sms_expiration(call.body))
        return {"method_id": phone.phone_id}

    # -- TOTP ------------------------------------------------------------------------------

    def totps_create(call: Call) -> dict[str, Any]:
        call.body.integer("expiration_minutes")  # accepted; an unverified TOTP simply waits
        created = state.create_totp(header_session(call).user_id)
        return with_sdk_user(totp_created_fields(created), created[0])

    def totps_authenticate(call: Call) -> dict[str, Any]:
        code = call.body.required_string("totp_code")
        session = header_session(call)
        auth, record = state.authenticate_totp(
            session.user_id, code, call.factor_minutes(), session, client_of(call.request)
        )
        return {**authenticated_fields(auth), "totp_id": record.totp_id}

    def totps_recover(call: Call) -> dict[str, Any]:
        code = call.body.required_string("recovery_code")
        session = header_session(call)
        auth, record = state.recover_totp(
            session.user_id, code, call.factor_minutes(), session, client_of(call.request)
        )
        return {**authenticated_fields(auth), "totp_id": record.totp_id}

    def totps_recovery_codes(call: Call) -> dict[str, Any]:
        return recovery_codes_fields(state.totp_recovery_codes(header_session(call).user_id))

    # -- users -----------------------------------------------------------------------------

    def users_update(call: Call) -> dict[str, Any]:
        session = header_session(call)
        name = checked_name(call.body)
        user = state.update_user(session.user_id, name, call.body.object("untrusted_metadata"))
        return with_sdk_user(user_update_fields(user), user)

    def delete_route(kind: str, param: str) -> Route:
        def delete(call: Call) -> dict[str, Any]:
            session = header_session(call)
            factor_id = call.request.path_params[param]
            user = state.delete_factor(session.user_id, kind, factor_id)
            return with_sdk_user({"user_id": user.user_id, "user": user.to_json()}, user)

        return route(f"users/{kind}/{{{param}}}", delete, method="DELETE")

    async def bootstrap(request: Request) -> JSONResponse:
        # The SDK asks before it has a session; the token in the path is what identifies it.
        if not same_secret(request.path_params["public_token"], public_token):
            raise EmulatorError(
                401, errors.INVALID_PUBLIC_TOKEN, "The public token is missing or unknown."
            )
        data = {**settings.bootstrap(), "status_code": 200, "request_id": new_request_id()}
        return JSONResponse({"data": data})

    async def events(request: Request) -> JSONResponse:
        # The browser SDK's telemetry: a JSON array, no Authorization header. Read and dropped.
        await request.body()
        return JSONResponse({"data": {"status_code": 200, "request_id": new_request_id()}})

    return [
        route("sessions/authenticate", sessions_authenticate),
        route("sessions/revoke", sessions_revoke),
        route("otps/email/login_or_create", otps_email_login_or_create),
        route("otps/authenticate", otps_authenticate),
        route("magic_links/email/login_or_create", magic_links_email_login_or_create),
        route("magic_links/authenticate", magic_links_authenticate),
        route("passwords/authenticate", passwords_authenticate),
        route("oauth/authenticate", oauth_authenticate),
        route("users/me", users_me, method="GET"),
        route("users/me", users_update, method="PUT"),
        delete_route("emails", "email_id"),
        delete_route("phone_numbers", "phone_id"),
        delete_route("totps", "totp_id"),
        delete_route("oauth", "oauth_user_registration_id"),
        route("passwords", passwords_create),
        route("passwords/strength_check", passwords_strength_check),
        route("passwords/email/reset/start", passwords_email_reset_start),
        route("passwords/email/reset", passwords_email_reset),
        route("passwords/existing_password/reset", passwords_existing_password_reset),
        route("passwords/session/reset", passwords_session_reset),
        route("otps/sms/login_or_create", otps_sms_login_or_create),
        route("totps", totps_create),
        route("totps/authenticate", totps_authenticate),
        route("totps/recover", totps_recover),
        route("totps/recovery_codes", totps_recovery_codes),
        Route("/sdk/v1/projects/bootstrap/{public_token}", bootstrap, methods=["GET"]),
        Route("/sdk/v1/events", events, methods=["POST"]),
    ]
