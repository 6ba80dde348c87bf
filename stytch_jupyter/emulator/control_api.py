"""The control API under ``/emulator/v1``: the outbox, users, the clock, faults, reset, and a
stand-in "your own backend" that checks session JWTs.

No auth (the emulator binds loopback); plain JSON; errors Stytch-shaped. Faults never apply here.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from . import errors
from .clock import rfc3339
from .defaults import CONTROL_PREFIX, MAGIC_LINK_LANDING_PATH
from .errors import EmulatorError
from .faults import Fault, FaultRegistry
from .state import State
from .wire import Body, bearer_token, read_body

# Bounds that catch typos (a latency in seconds given as ms, a status of 42) without limiting tests.
_MAX_LATENCY_MS = 60_000.0
_MAX_TIMES = 1_000_000
_MAX_RETRY_AFTER = 86_400.0

_LANDING_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Stytch emulator: {what}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}}
code,textarea{{font-family:ui-monospace,monospace}}textarea{{width:100%}}</style></head>
<body><h1>{heading}</h1>
<p>This is the local Stytch emulator. Nothing has been signed in yet: copy this page's
address and paste it into your notebook, for example
<code>{call}("&lt;paste here&gt;")</code>.</p>
<p><textarea rows="4" readonly onclick="this.select()">{url}</textarea></p>
<p>The token works once and expires.</p></body></html>
"""


def _name_parts(value: Any) -> dict[str, str]:
    """A user's name from ``"Ada Lovelace"`` or ``{first_name, middle_name, last_name}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        first, _, last = value.strip().rpartition(" ")
        return {"first_name": first, "last_name": last} if first else {"first_name": last}
    if isinstance(value, dict):
        keys = ("first_name", "middle_name", "last_name")
        if set(value) - set(keys) or not all(isinstance(v, str) for v in value.values()):
            raise errors.bad_request("name must be a string or an object of name strings.")
        return {k: str(v) for k, v in value.items()}
    raise errors.bad_request("name must be a string or an object.")


def _fault_from(body: Body) -> Fault:
    status = body.integer("status")
    if status is not None and not 400 <= status <= 599:
        raise errors.bad_request("status must be an HTTP error status (400-599).")
    latency_ms = body.number("latency_ms") or 0.0
    if not 0 <= latency_ms <= _MAX_LATENCY_MS:
        raise errors.bad_request(f"latency_ms must be from 0 to {_MAX_LATENCY_MS:g}.")
    retry_after = body.number("retry_after")
    if retry_after is not None and not 0 <= retry_after <= _MAX_RETRY_AFTER:
        raise errors.bad_request(f"retry_after must be from 0 to {_MAX_RETRY_AFTER:g} seconds.")
    times = body.integer("times")
    times = 1 if times is None else times
    if not 1 <= times <= _MAX_TIMES:
        raise errors.bad_request(f"times must be from 1 to {_MAX_TIMES}.")
    drop = bool(body.boolean("drop"))
    if status is None and not drop and not latency_ms:
        raise errors.bad_request("A fault needs at least one of status, drop or latency_ms.")
    if status is not None and drop:
        raise errors.bad_request("A fault either answers with a status or drops; not both.")
    return Fault(
        path_prefix=body.string("path_prefix") or "",
        status=status,
        error_type=body.string("error_type"),
        retry_after=retry_after,
        latency_ms=latency_ms,
        drop=drop,
        times=times,
    )


def control_routes(state: State, faults: FaultRegistry) -> list[Route]:
    async def outbox(request: Request) -> JSONResponse:
        email = request.query_params.get("email")
        order = request.query_params.get("order", "oldest")
        if order not in ("oldest", "newest"):
            raise errors.bad_request("order must be oldest or newest.")
        messages = state.outbox(email)
        if order == "newest":
            messages.reverse()
        return JSONResponse({"messages": [m.to_json() for m in messages]})

    async def issued(request: Request) -> JSONResponse:
        return JSONResponse(state.issued())

    async def create_user(request: Request) -> JSONResponse:
        body = await read_body(request)
        email = body.email()
        password = body.string("password")
        if password is not None and not password:
            raise errors.bad_request("password must not be empty.")
        user = state.create_user(email, password, _name_parts(body.raw("name")))
        return JSONResponse({"user_id": user.user_id})

    async def list_users(request: Request) -> JSONResponse:
        listed = [
            {
                **user.to_json(),
                "sessions": [s.to_json() for s in state.sessions_for_user(user.user_id)],
            }
            for user in state.users()
        ]
        return JSONResponse({"users": listed})

    async def clock(request: Request) -> JSONResponse:
        body = await read_body(request)
        seconds = body.number("advance_seconds", required=True)
        assert seconds is not None
        if seconds < 0:
            raise errors.bad_request("advance_seconds must not be negative: time only moves on.")
        try:
            now = state.clock.advance(seconds)
        except ValueError as exc:
            raise errors.bad_request(f"advance_seconds: {exc}.") from None
        return JSONResponse({"now": rfc3339(now)})

    async def add_fault(request: Request) -> JSONResponse:
        fault = faults.add(_fault_from(await read_body(request)))
        return JSONResponse({"fault_id": fault.fault_id})

    async def list_faults(request: Request) -> JSONResponse:
        return JSONResponse({"faults": [fault.to_json() for fault in faults.active()]})

    async def clear_faults(request: Request) -> JSONResponse:
        faults.clear()
        return JSONResponse({})

    async def reset(request: Request) -> JSONResponse:
        state.reset()
        faults.clear()
        return JSONResponse({})

    async def protected(request: Request) -> JSONResponse:
        token = bearer_token(request)
        if token is None:
            raise EmulatorError(
                401, errors.UNAUTHORIZED_CREDENTIALS, "Send Authorization: Bearer <session_jwt>."
            )
        try:
            session = state.verify_live_jwt(token)
        except EmulatorError as exc:
            # A backend answers 401 to any unusable credential, a missing session included.
            raise EmulatorError(401, errors.UNAUTHORIZED_CREDENTIALS, exc.error_message) from None
        return JSONResponse({"user_id": session.user_id, "session_id": session.session_id})

    async def magic_link_landing(request: Request) -> HTMLResponse:
        oauth = request.query_params.get("stytch_token_type") == "oauth"
        page = _LANDING_PAGE.format(
            what="OAuth redirect" if oauth else "magic link",
            heading="OAuth redirect received" if oauth else "Magic link received",
            call="stytch.oauth.authenticate" if oauth else "stytch.magic_links.authenticate",
            url=html.escape(str(request.url)),
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return [
        Route(f"{CONTROL_PREFIX}/outbox", outbox, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/issued", issued, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/users", create_user, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/users", list_users, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/clock", clock, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/faults", add_fault, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/faults", list_faults, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{CONTROL_PREFIX}/reset", reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/protected", protected, methods=["GET"]),
        Route(MAGIC_LINK_LANDING_PATH, magic_link_landing, methods=["GET"]),
    ]
