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
    MAGIC_LINK_LANDING_PATH,
    MAX_MAGIC_LINK_MINUTES,
    MAX_OTP_MINUTES,
    MIN_MAGIC_LINK_MINUTES,
    MIN_OTP_MINUTES,
)
from .errors import EmulatorError, new_request_id
from .models import OAuthToken, Session, same_secret
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
            body = await read_body(request) if method == "POST" else Body({})
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
        Route("/sdk/v1/projects/bootstrap/{public_token}", bootstrap, methods=["GET"]),
        Route("/sdk/v1/events", events, methods=["POST"]),
    ]
