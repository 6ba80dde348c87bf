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
from .client_api import oauth_fields
from .defaults import DEFAULT_FACTOR_SESSION_MINUTES
from .errors import EmulatorError, new_request_id
from .models import Session, same_secret
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


def backend_routes(state: State, project_id: str, secret: str) -> list[Route]:
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
            body = await read_body(request) if method == "POST" else Body({})
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
        return oauth_fields(result)

    async def jwks(request: Request) -> JSONResponse:
        if request.path_params["project_id"] != project_id:
            raise EmulatorError(404, errors.PROJECT_NOT_FOUND, "No such project.")
        return _ok({"keys": [state.key.jwk()]})

    return [
        route("sessions/authenticate", sessions_authenticate),
        route("sessions/revoke", sessions_revoke),
        route("sessions", sessions_get, method="GET"),
        route("oauth/authenticate", oauth_authenticate),
        Route("/v1/sessions/jwks/{project_id}", jwks, methods=["GET"]),
    ]
