"""The B2B backend API under ``/v1/b2b``: what a user's own server calls with the secret.

HTTP Basic ``project_id:secret``; bodies are not wrapped. The caller's session, where one is
needed, is named in the body (``session_token`` or ``session_jwt``) instead of a header. The
sign-in handlers are the client API's (``b2b_client_api.b2b_handlers``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import b2b_errors as e
from . import errors
from .b2b_client_api import B2BCall, Handler, b2b_handlers
from .b2b_models import MemberSession
from .b2b_state import B2BState
from .errors import EmulatorError, bad_request, new_request_id
from .models import same_secret
from .project import ProjectSettings
from .wire import Body, basic_credentials, client_of, read_body

# A backend-only endpoint: the request (for its credentials) and its body, to the reply.
BackendHandler = Callable[[Request, Body], dict[str, Any]]

# The backend endpoints that reuse a client handler, and which session fields they read.
_SHARED = (
    "sessions/authenticate",
    "sessions/exchange",
    "magic_links/email/login_or_signup",
    "magic_links/authenticate",
    "magic_links/email/discovery/send",
    "magic_links/discovery/authenticate",
    "otps/email/login_or_signup",
    "otps/email/authenticate",
    "otps/email/discovery/send",
    "otps/email/discovery/authenticate",
    "passwords/authenticate",
    "passwords/discovery/authenticate",
    "discovery/organizations",
    "discovery/intermediate_sessions/exchange",
    "discovery/organizations/create",
    "sso/authenticate",
    "oauth/authenticate",
    "oauth/discovery/authenticate",
    "otps/sms/send",
    "otps/sms/authenticate",
    "totp",
    "totp/authenticate",
    "recovery_codes/recover",
)
# Endpoints where the session is the subject, so exactly one credential must be given.
_NEEDS_ONE_SESSION = ("sessions/authenticate", "sessions/exchange")


def _ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({**data, "status_code": 200, "request_id": new_request_id()})


def _given(body: Body, names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, value) for name in names if (value := body.string(name))]


def _exactly_one(body: Body, names: tuple[str, ...]) -> tuple[str, str]:
    given = _given(body, names)
    if len(given) != 1:
        raise EmulatorError(
            400,
            errors.TOO_MANY_SESSION_ARGUMENTS if given else errors.NO_SESSION_ARGUMENTS,
            f"Give exactly one of {', '.join(names)}.",
        )
    return given[0]


def b2b_backend_routes(
    b2b: B2BState, project_id: str, secret: str, settings: ProjectSettings
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
                e.UNAUTHORIZED_CREDENTIALS,
                "The project_id and secret do not match a project.",
            )

    def shared(path: str, handler: Handler) -> Route:
        async def endpoint(request: Request) -> JSONResponse:
            check_credentials(request)
            body = await read_body(request)
            names = ("session_token", "session_jwt")
            if path in _NEEDS_ONE_SESSION:
                credential: str | None = _exactly_one(body, names)[1]
            else:
                given = _given(body, names)
                credential = given[0][1] if given else None
            call = B2BCall(request, body, client_of(request), credential, backend=True)
            return _ok(handler(call))

        return Route(f"/v1/b2b/{path}", endpoint, methods=["POST"])

    def own(path: str, method: str = "POST") -> Callable[[BackendHandler], BackendHandler]:
        def register(handler: BackendHandler) -> BackendHandler:
            async def endpoint(request: Request) -> JSONResponse:
                check_credentials(request)
                body = await read_body(request) if method in ("POST", "PUT") else Body({})
                return _ok(handler(request, body))

            routes.append(Route(f"/v1/b2b/{path}", endpoint, methods=[method]))
            return handler

        return register

    handlers = b2b_handlers(b2b, settings)
    routes = [shared(path, handlers[path]) for path in _SHARED]

    def find_session(name: str, value: str) -> MemberSession:
        if name == "member_session_id":
            return b2b.session_by_id(value)
        if name == "session_token":
            return b2b.session_by_token(value)
        return b2b.session_by_jwt(value)

    @own("sessions/revoke")
    def sessions_revoke(request: Request, body: Body) -> dict[str, Any]:
        names = ("member_session_id", "session_token", "session_jwt", "member_id")
        name, value = _exactly_one(body, names)
        if name == "member_id":
            b2b.revoke_member_sessions(value)
        else:
            b2b.revoke(find_session(name, value))
        return {}

    @own("sessions", method="GET")
    def sessions_get(request: Request, body: Body) -> dict[str, Any]:
        organization_id = request.query_params.get("organization_id")
        member_id = request.query_params.get("member_id")
        if not organization_id or not member_id:
            raise bad_request("organization_id and member_id are required.")
        org = b2b.organization(organization_id)
        return {
            "member_sessions": [
                s.to_json(org) for s in b2b.sessions_of(org.organization_id, member_id)
            ]
        }

    @own("organizations/{organization_id}", method="GET")
    def organization_get(request: Request, body: Body) -> dict[str, Any]:
        return {"organization": b2b.organization(request.path_params["organization_id"]).to_json()}

    @own("organizations/{organization_id}/member", method="GET")
    def member_get(request: Request, body: Body) -> dict[str, Any]:
        org = b2b.organization(request.path_params["organization_id"])
        member_id = request.query_params.get("member_id")
        email = request.query_params.get("email_address")
        if member_id:
            member = b2b.member(org.organization_id, member_id)
        elif email:
            member = b2b.member_by_email(org.organization_id, email)
        else:
            raise bad_request("Give member_id or email_address.")
        return {
            "member_id": member.member_id,
            "member": member.to_json(),
            "organization": org.to_json(),
        }

    @own("organizations/{organization_id}/members/{member_id}", method="DELETE")
    def member_delete(request: Request, body: Body) -> dict[str, Any]:
        member = b2b.delete_member(
            request.path_params["organization_id"], request.path_params["member_id"]
        )
        return {"member_id": member.member_id}

    async def jwks(request: Request) -> JSONResponse:
        if request.path_params["project_id"] != project_id:
            raise EmulatorError(404, errors.PROJECT_NOT_FOUND, "No such project.")
        return _ok({"keys": [b2b.core.key.jwk()]})

    return [*routes, Route("/v1/b2b/sessions/jwks/{project_id}", jwks, methods=["GET"])]
