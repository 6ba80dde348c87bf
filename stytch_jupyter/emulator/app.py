"""The emulator's ASGI app: the three APIs, Stytch-shaped errors everywhere, faults in front."""

from __future__ import annotations

import asyncio
import logging
import traceback
from functools import partial

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .b2b_backend_api import b2b_backend_routes
from .b2b_client_api import b2b_client_routes, not_b2b_routes
from .b2b_control_api import b2b_control_routes
from .b2b_mailbox import b2b_mailbox_routes, organizations_html
from .b2b_state import B2BState
from .backend_api import backend_routes
from .client_api import client_routes
from .control_api import control_routes
from .errors import EmulatorError
from .faults import FaultMiddleware, FaultRegistry, hang_up
from .mailbox import mailbox_routes
from .oauth_api import oauth_routes
from .project import LOOPBACK_ORIGIN_REGEX, ProjectSettings
from .sso import sso_routes
from .state import State

logger = logging.getLogger("stytch_jupyter.emulator")


async def _emulator_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EmulatorError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = EmulatorError(
            405,
            errors.METHOD_NOT_ALLOWED,
            f"{request.method} is not allowed here.",
            dict(exc.headers or {}),
        )
    elif exc.status_code == 404:
        error = EmulatorError(404, errors.ROUTE_NOT_FOUND, "No such endpoint.")
    else:
        kind = errors.default_error_type(exc.status_code)
        error = EmulatorError(exc.status_code, kind, exc.detail)
    return error.response()


async def _client_gone(request: Request, exc: Exception) -> Response:
    # The client hung up mid-body: nobody reads this answer, and it is no error of ours.
    logger.debug("client disconnected on %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return EmulatorError(
        500, errors.INTERNAL_SERVER_ERROR, "The emulator failed on this request."
    ).response()


class _QuietErrors:
    """Logs a failed request without secrets, instead of uvicorn's full traceback.

    Starlette has already answered with a Stytch-shaped 500 and re-raises for the server to
    log; the exception's text and the query string can carry tokens, so log neither.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            logger.error(
                "emulator error: %s in %s:%s (%s) on %s %s",
                type(exc).__name__,
                frame.filename,
                frame.lineno,
                frame.name,
                scope.get("method", ""),
                scope.get("path", ""),
            )


class _HangUpWhenStopped:
    """A request still running when the emulator stops is cut off, as in a real outage: the
    connection closes, and uvicorn logs no "Exception in ASGI application" traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if hang_up(send):
                # Let the server see the hang-up, so it does not answer a 500 after it.
                await asyncio.sleep(0)


class _ClientApiCors:
    """Starlette's CORS middleware, on the client API only: Stytch's browser SDK calls it with
    credentialed cross-origin fetches. Outermost, so a preflight is answered before routing,
    auth and injected faults, and errors carry the headers too."""

    # The headers the browser SDK sends (Authorization, JSON, its telemetry headers).
    HEADERS = ("authorization", "content-type", "x-sdk-client", "x-sdk-parent-host")
    METHODS = ("GET", "POST", "PUT", "DELETE")

    def __init__(self, app: ASGIApp, settings: ProjectSettings) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(settings.allowed_origins),
            allow_origin_regex=LOOPBACK_ORIGIN_REGEX,
            allow_methods=list(self.METHODS),
            allow_headers=list(self.HEADERS),
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/sdk/v1/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# Said on every reply, so a client that meets the emulator can tell its users where the mailbox
# is (the emulator's root page) without a request of its own. Real Stytch sends no such header.
EMULATOR_HEADER = b"x-stytch-emulator-mailbox"
MAILBOX_PATH = b"/"


async def _send_marked(message: Message, *, send: Send) -> None:
    if message["type"] == "http.response.start":
        message = {
            **message,
            "headers": [*message.get("headers", []), (EMULATOR_HEADER, MAILBOX_PATH)],
        }
    await send(message)


class _SayWhereTheMailboxIs:
    """Adds ``X-Stytch-Emulator-Mailbox: /`` to every response (errors and preflights too). The
    wrapped ``send`` is a ``partial(..., send=send)``: ``hang_up`` looks through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, partial(_send_marked, send=send))


def _b2b_routes(
    b2b: B2BState | None, public_token: str, secret: str, settings: ProjectSettings
) -> list[Route]:
    """A B2B project's endpoints; a consumer project refuses B2B paths in one line."""
    if b2b is None:
        return not_b2b_routes()
    return [
        *b2b_client_routes(b2b, public_token, settings),
        *b2b_backend_routes(b2b, b2b.project_id, secret, settings),
        *sso_routes(b2b, public_token, settings),
        *b2b_control_routes(b2b),
        *b2b_mailbox_routes(b2b),
    ]


def create_app(
    state: State,
    faults: FaultRegistry,
    *,
    public_token: str,
    secret: str,
    settings: ProjectSettings,
    b2b: B2BState | None = None,
) -> ASGIApp:
    app = Starlette(
        routes=[
            *client_routes(state, public_token, settings),
            *backend_routes(state, state.project_id, secret, settings),
            *control_routes(state, faults),
            *_b2b_routes(b2b, public_token, secret, settings),
            *oauth_routes(state, public_token, settings),
            *mailbox_routes(
                state, faults, settings, None if b2b is None else partial(organizations_html, b2b)
            ),
        ],
        exception_handlers={
            EmulatorError: _emulator_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _unexpected_error,
        },
    )
    # Faults sit outside the app (a dropped connection needs the server's own ``send``), CORS
    # outside them (a preflight never meets a fault; an injected error still carries CORS).
    cors = _ClientApiCors(FaultMiddleware(_QuietErrors(app), faults), settings)
    return _HangUpWhenStopped(_SayWhereTheMailboxIs(cors))
