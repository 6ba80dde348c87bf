"""The backend API under ``/v1``: what a server holding the project secret calls.

HTTP Basic ``project_id:secret``; bodies are not wrapped; every answer has ``status_code``
and ``request_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import errors
from .client_api import (
    authenticated_fields,
    checked_name,
    oauth_fields,
    recovery_codes_fields,
    sms_expiration,
    start_password_reset,
    totp_created_fields,
    user_update_fields,
)
from .defaults import DEFAULT_FACTOR_SESSION_MINUTES
from .errors import EmulatorError, new_request_id
from .models import Session, same_secret
from .project import ProjectSettings
from .state import State
from .wire import Body, basic_credentials, client_of, read_body

Handler = Callable[[Request, Body], dict[str, Any]]


def _ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({**data, "status_code": 200, "request_id": new_request_id()})


def _one_of(body: Body, names: tuple[str, ...]) -> tuple[str, str]:
    """The single session argument given, as ``(name, value)``."""
    given = [(name, value) for name in names if (value := body.string(name))]
    if len(given) > 1:
        raise EmulatorError(
            400,
            errors.TOO_MANY_SESSION_ARGUMENTS,
            f"Give exactly one of {', '.join(names)}.",
        )
    if not given:
        raise EmulatorError(
            400, errors.NO_SESSION_ARGUMENTS, f"Give exactly one of {', '.join(names)}."
        )
    return given[0]


def backend_routes(
    state: State, project_id: str, secret: str, settings: ProjectSettings
) -> list[Route]:
    def check_credentials(request: Request) -> None:
        creds = basic_credentials(request)
        if (
            creds is None
            or not same_secret(creds[0], project_id)
            or not same_secret(creds[1], secret)
        ):
            raise EmulatorError(
                401,
                errors.UNAUTHORIZED_CREDENTIALS,
                "The project_id and secret do not match a project.",
            )

    def route(path: str, handler: Handler, method: str = "POST") -> Route:
        async def endpoint(request: Request) -> JSONResponse:
            check_credentials(request)
            body = await read_body(request) if method in ("POST", "PUT") else Body({})
            return _ok(handler(request, body))

        return Route(f"/v1/{path}", endpoint, methods=[method])

    def find_session(name: str, value: str) -> Session:
        if name == "session_id":
            return state.session_by_id(value)
        if name == "session_token":
            return state.session_by_token(value)
        return state.session_by_jwt(value)

    def sessions_authenticate(request: Request, body: Body) -> dict[str, Any]:
        session = find_session(*_one_of(body, ("session_token", "session_jwt")))
        auth = state.authenticate_session(
            session, body.session_duration(), body.object("session_custom_claims")
        )
        return {
            "session": auth.session.to_json(),
            "session_token": auth.session.token,
            "session_jwt": auth.session_jwt,
            "user": auth.user.to_json(),
        }

    def sessions_revoke(request: Request, body: Body) -> dict[str, Any]:
        state.revoke(find_session(*_one_of(body, ("session_id", "session_token", "session_jwt"))))
        return {}

    def sessions_get(request: Request, body: Body) -> dict[str, Any]:
        user_id = request.query_params.get("user_id")
        if not user_id:
            raise errors.bad_request("user_id is required.")
        return {"sessions": [s.to_json() for s in state.sessions_for_user(user_id)]}

    def oauth_authenticate(request: Request, body: Body) -> dict[str, Any]:
        token = body.required_string("token")
        minutes = body.session_duration()
        result = state.authenticate_oauth(
            token,
            body.string("code_verifier"),
            DEFAULT_FACTOR_SESSION_MINUTES if minutes is None else minutes,
            None,
            client_of(request),
        )
        return {**oauth_fields(result), "user_session": result[0].session.to_json()}

    # -- the consumer factors, as a backend calls them ---------------------------------------

    def minutes_of(body: Body) -> int:
        # Without a duration Stytch's backend starts no session (UNVERIFIED in detail); the
        # emulator starts a short one instead, so every reply has the tokens its models require.
        minutes = body.session_duration()
        return DEFAULT_FACTOR_SESSION_MINUTES if minutes is None else minutes

    def joined_session(body: Body) -> Session | None:
        """The session a backend call names to add a factor to, if it names one."""
        names = ("session_token", "session_jwt")
        if not any(body.string(name) for name in names):
            return None
        return find_session(*_one_of(body, names))

    def passwords_create(request: Request, body: Body) -> dict[str, Any]:
        auth = state.create_password(
            body.email(),
            body.required_string("password"),
            minutes_of(body),
            None,
            client_of(request),
        )
        return {**authenticated_fields(auth), "email_id": auth.user.email_id}

    def passwords_authenticate(request: Request, body: Body) -> dict[str, Any]:
        auth = state.authenticate_password(
            body.required_string("email"),
            body.required_string("password"),
            minutes_of(body),
            joined_session(body),
            client_of(request),
        )
        return authenticated_fields(auth)

    def passwords_strength_check(request: Request, body: Body) -> dict[str, Any]:
        return state.check_strength(body.required_string("password"), body.string("email"))

    def passwords_email_reset_start(request: Request, body: Body) -> dict[str, Any]:
        user = start_password_reset(state, settings, body, str(request.base_url))
        return {"user_id": user.user_id, "email_id": user.email_id}

    def passwords_email_reset(request: Request, body: Body) -> dict[str, Any]:
        auth = state.reset_password_by_email(
            body.required_string("token"),
            body.required_string("password"),
            body.string("code_verifier"),
            minutes_of(body),
            joined_session(body),
            client_of(request),
        )
        return authenticated_fields(auth)

    def passwords_existing_password_reset(request: Request, body: Body) -> dict[str, Any]:
        auth = state.reset_password_existing(
            body.email(),
            body.required_string("existing_password"),
            body.required_string("new_password"),
            minutes_of(body),
            client_of(request),
        )
        return authenticated_fields(auth)

    def passwords_session_reset(request: Request, body: Body) -> dict[str, Any]:
        password = body.required_string("password")
        session = find_session(*_one_of(body, ("session_token", "session_jwt")))
        auth = state.reset_password_in_session(
            session, password, minutes_of(body), client_of(request)
        )
        return authenticated_fields(auth)

    def otps_sms_login_or_create(request: Request, body: Body) -> dict[str, Any]:
        user, phone, created = state.send_sms_otp(body.phone_number(), sms_expiration(body))
        return {"user_id": user.user_id, "phone_id": phone.phone_id, "user_created": created}

    def otps_authenticate(request: Request, body: Body) -> dict[str, Any]:
        method_id = body.required_string("method_id")
        auth = state.authenticate_otp(
            method_id,
            body.required_string("code"),
            minutes_of(body),
            joined_session(body),
            client_of(request),
        )
        return {**authenticated_fields(auth), "method_id": method_id, "reset_sessions": False}

    def totps_create(request: Request, body: Body) -> dict[str, Any]:
        body.integer("expiration_minutes")
        return totp_created_fields(state.create_totp(body.required_string("user_id")))

    def totps_authenticate(request: Request, body: Body) -> dict[str, Any]:
        auth, record = state.authenticate_totp(
            body.required_string("user_id"),
            body.required_string("totp_code"),
            minutes_of(body),
            joined_session(body),
            client_of(request),
        )
        return {**authenticated_fields(auth), "totp_id": record.totp_id}

    def totps_recover(request: Request, body: Body) -> dict[str, Any]:
        auth, record = state.recover_totp(
            body.required_string("user_id"),
            body.required_string("recovery_code"),
            minutes_of(body),
            joined_session(body),
            client_of(request),
        )
        return {**authenticated_fields(auth), "totp_id": record.totp_id}

    def totps_recovery_codes(request: Request, body: Body) -> dict[str, Any]:
        return recovery_codes_fields(state.totp_recovery_codes(body.required_string("user_id")))

    def users_update(request: Request, body: Body) -> dict[str, Any]:
        user_id = request.path_params["user_id"]
        user = state.update_user(user_id, checked_name(body), body.object("untrusted_metadata"))
        return user_update_fields(user)

    def users_get(request: Request, body: Body) -> dict[str, Any]:
        # The backend's users.get: the user's own fields at the top level.
        user: dict[str, Any] = state.user(request.path_params["user_id"]).to_json()
        return user

    def delete_route(kind: str, param: str) -> Route:
        # The backend names the factor alone (no session): its owner is found from its id.
        def delete(request: Request, body: Body) -> dict[str, Any]:
            factor_id = request.path_params[param]
            user = state.delete_factor(state.owner_of_factor(kind, factor_id), kind, factor_id)
            return {"user_id": user.user_id, "user": user.to_json()}

        return route(f"users/{kind}/{{{param}}}", delete, method="DELETE")

    async def jwks(request: Request) -> JSONResponse:
        if request.path_params["project_id"] != project_id:
            raise EmulatorError(404, errors.PROJECT_NOT_FOUND, "No such project.")
        return _ok({"keys": [state.key.jwk()]})

    return [
        route("sessions/authenticate", sessions_authenticate),
        route("sessions/revoke", sessions_revoke),
        route("sessions", sessions_get, method="GET"),
        route("oauth/authenticate", oauth_authenticate),
        route("passwords", passwords_create),
        route("passwords/authenticate", passwords_authenticate),
        route("passwords/strength_check", passwords_strength_check),
        route("passwords/email/reset/start", passwords_email_reset_start),
        route("passwords/email/reset", passwords_email_reset),
        route("passwords/existing_password/reset", passwords_existing_password_reset),
        route("passwords/session/reset", passwords_session_reset),
        route("otps/sms/login_or_create", otps_sms_login_or_create),
        route("otps/authenticate", otps_authenticate),
        route("totps", totps_create),
        route("totps/authenticate", totps_authenticate),
        route("totps/recover", totps_recover),
        route("totps/recovery_codes", totps_recovery_codes),
        route("users/{user_id}", users_update, method="PUT"),
        route("users/{user_id}", users_get, method="GET"),
        delete_route("emails", "email_id"),
        delete_route("phone_numbers", "phone_id"),
        delete_route("totps", "totp_id"),
        delete_route("oauth", "oauth_user_registration_id"),
        Route("/v1/sessions/jwks/{project_id}", jwks, methods=["GET"]),
    ]
