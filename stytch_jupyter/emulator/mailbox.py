"""The mailbox page at ``/``: what the emulator "sent", its users and sessions, clock and faults.

Plain server-rendered HTML, every value escaped, no script: it refreshes itself with a meta
tag and revokes a session with a form POST, so it works with JavaScript off.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import errors
from .clock import rfc3339
from .defaults import CONTROL_PREFIX
from .faults import FaultRegistry
from .models import Message
from .project import ProjectSettings
from .state import State

MAILBOX_PATH = "/"
REVOKE_PATH = f"{CONTROL_PREFIX}/mailbox/revoke"
REFRESH_SECONDS = 3

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60em;margin:1.5em auto;padding:0 1em;color:#1d1d1f}
h1{font-size:1.4em;margin-bottom:.2em}
h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:.9em} .meta code{background:#f3f3f3;padding:0 .3em}
.message{border:1px solid #ddd;border-radius:8px;padding:.7em 1em;margin:.7em 0}
.message .head{color:#555;font-size:.9em}
.code{font:700 2.4em ui-monospace,monospace;letter-spacing:.15em;margin:.2em 0}
.link{word-break:break-all;font-size:1.05em}
table{border-collapse:collapse;width:100%;font-size:.92em}
td,th{text-align:left;padding:.3em .5em;border-bottom:1px solid #eee}
button{font-size:.9em} .empty{color:#777;font-style:italic}
"""

_KIND_TITLES = {
    "otp": "One-time code",
    "sms_otp": "SMS code",
    "magic_link": "Magic link",
    "password_reset": "Password reset link",
}


def _message_html(message: Message) -> str:
    channel = "SMS to" if message.kind.startswith("sms") else "Email to"
    title = _KIND_TITLES.get(message.kind, message.kind)
    body = ""
    if message.code:
        body += f'<div class="code">{escape(message.code)}</div>'
    if message.url:
        url = escape(message.url)
        body += f'<div class="link"><a href="{url}">{url}</a></div>'
    return (
        f'<div class="message" data-kind="{escape(message.kind)}">'
        f'<div class="head">{escape(title)} · {channel} <strong>{escape(message.to)}</strong>'
        f" · {escape(rfc3339(message.sent_at))}</div>{body}</div>"
    )


def _sessions_html(users: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> str:
    if not users:
        return '<p class="empty">No users yet.</p>'
    rows = []
    for user, sessions in users:
        emails = ", ".join(e["email"] for e in user["emails"]) or "(no email)"
        phones = ", ".join(p["phone_number"] for p in user.get("phone_numbers", []))
        who = escape(emails + (f" · {phones}" if phones else ""))
        if not sessions:
            rows.append(
                f"<tr><td>{who}</td><td>{escape(user['status'])}</td>"
                '<td class="empty">no live session</td><td></td></tr>'
            )
        for session in sessions:
            factors = ", ".join(f["type"] for f in session["authentication_factors"])
            rows.append(
                f"<tr><td>{who}</td><td>{escape(user['status'])}</td>"
                f"<td><code>{escape(session['session_id'])}</code><br>"
                f"{escape(factors)} · expires {escape(session['expires_at'])}</td>"
                f'<td><form method="post" action="{escape(REVOKE_PATH)}">'
                f'<input type="hidden" name="session_id" value="{escape(session["session_id"])}">'
                '<button type="submit">Revoke</button></form></td></tr>'
            )
    return (
        "<table><tr><th>User</th><th>Status</th><th>Session</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _faults_html(faults: FaultRegistry) -> str:
    active = faults.active()
    if not active:
        return '<p class="empty">No faults: every request is answered normally.</p>'
    items = []
    for fault in active:
        what = (
            "drop the connection"
            if fault.drop
            else f"answer {fault.status} {fault.error_type or ''}".strip()
            if fault.status
            else "only delay"
        )
        delay = f", after {fault.latency_ms:g} ms" if fault.latency_ms else ""
        items.append(
            f"<li><code>{escape(fault.path_prefix or '/')}</code>…: {escape(what)}{delay}, "
            f"{fault.times} more time{'s' if fault.times != 1 else ''}</li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def mailbox_page(
    state: State, faults: FaultRegistry, settings: ProjectSettings, api_url: str
) -> str:
    messages = list(reversed(state.outbox()))
    users = [
        (user.to_json(), [s.to_json() for s in state.sessions_for_user(user.user_id)])
        for user in state.users()
    ]
    offset = state.clock.offset()
    clock = escape(rfc3339(state.clock.now()))
    if offset.total_seconds():
        clock += f" (moved {escape(str(offset))} ahead of real time)"
    outbox = (
        "".join(_message_html(m) for m in messages)
        if messages
        else '<p class="empty">Nothing sent yet. Ask for a code or a magic link and it appears '
        "here.</p>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Mailbox · {escape(settings.project_name)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>Stytch emulator mailbox</h1>"
        f'<p class="meta">Project <strong>{escape(settings.project_name)}</strong> at '
        f"<code>{escape(api_url)}</code> · clock {clock} · refreshes every "
        f"{REFRESH_SECONDS} s</p>"
        f'<h2 id="outbox">Sent, newest first ({len(messages)})</h2>{outbox}'
        f'<h2 id="users">Users and live sessions</h2>{_sessions_html(users)}'
        f'<h2 id="faults">Active faults</h2>{_faults_html(faults)}'
        "</body></html>"
    )


def mailbox_routes(state: State, faults: FaultRegistry, settings: ProjectSettings) -> list[Route]:
    async def page(request: Request) -> Response:
        api_url = str(request.base_url).rstrip("/")
        html = mailbox_page(state, faults, settings, api_url)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def revoke(request: Request) -> Response:
        raw = await request.body()
        try:
            form = parse_qs(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise errors.bad_request("The form is not valid.") from None
        session_id = (form.get("session_id") or [""])[0]
        if not session_id:
            raise errors.bad_request("session_id is required.")
        state.revoke(state.session_by_id(session_id))
        return RedirectResponse(MAILBOX_PATH + "#users", status_code=303)

    return [
        Route(MAILBOX_PATH, page, methods=["GET"]),
        Route(REVOKE_PATH, revoke, methods=["POST"]),
    ]
