"""Rich and plain-text displays of sessions, users and the ``stytch`` object.

Every value is HTML-escaped (a user's name is user input), timestamps read as
``2026-11-27 07:31:05 UTC (in 4 min)``, and tokens never show more than ``redact``'s prefix.
The widget builds its labels from the same helpers, so the two always agree.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..api.secret import redact

if TYPE_CHECKING:
    from ..api.factor_models import PasswordStrength
    from ..api.models import Session, SessionToken, User
    from ..session.manager import SessionManager

Rows = Sequence[tuple[str, str]]

_ID = re.compile(r"^([a-z]+-(?:test|live)-)([0-9a-f]{8})[0-9a-f-]{20,}$")

SIGNED_OUT_HINT = "sign in with stytch.widget() or %stytch login otp --email you@example.com"


# ---- small formatting helpers (the widget uses these too) ------------------------------------


def short_id(value: str) -> str:
    """``session-test-1a2b3c4d…`` for a Stytch id: enough to tell sessions apart."""
    match = _ID.match(value)
    if match:
        return f"{match.group(1)}{match.group(2)}…"
    return value if len(value) <= 24 else f"{value[:20]}…"


def relative(seconds: float) -> str:
    """``in 4 min`` / ``4 min ago``; whole minutes, so a label refreshed now and then stays true."""
    future = seconds >= 0
    left = abs(seconds)
    if left < 60:
        amount = "<1 min"
    elif left < 120 * 60:
        amount = f"{int(left // 60)} min"
    elif left < 48 * 3600:
        hours, rest = divmod(int(left), 3600)
        amount = f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    else:
        days, rest = divmod(int(left), 86400)
        amount = f"{days} d {rest // 3600} h" if rest >= 3600 else f"{days} d"
    return f"in {amount}" if future else f"{amount} ago"


def clock(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """``2026-11-27 07:31:05 UTC (in 4 min)``, or ``—`` when unknown."""
    if moment is None:
        return "—"
    now = now or datetime.now(timezone.utc)
    return f"{clock(moment)} ({relative((moment - now).total_seconds())})"


def expires_text(session: Session | None, now: datetime) -> str:
    """``in 4 min`` or ``expired 2 min ago`` (``now`` on the server's clock)."""
    if session is None or session.expires_at is None:
        return "unknown"
    left = (session.expires_at - now).total_seconds()
    return relative(left) if left > 0 else f"expired {relative(left)}"


def heartbeat_text(manager: SessionManager, settings: bool = False) -> str:
    """``scheduled, next check in 3 min``; with ``settings``, ``… (every 180 s, checks only)``.

    The heartbeat schedules on the local clock, so the wait is read against it.
    """
    state, next_check_at = manager.heartbeat_state, manager.next_check_at
    if next_check_at is None or state not in ("scheduled", "retrying"):
        text: str = "checking…" if state == "checking" else state
    else:
        left = (next_check_at - datetime.now(timezone.utc)).total_seconds()
        text = f"{state}, next check {relative(max(left, 0.0))}"
    if settings:
        config = manager.config
        mode = "extends the session" if config.auto_extend else "checks only"
        text += f" (every {config.heartbeat_interval:g} s, {mode})"
    return text


def token_text(token: SessionToken | None) -> str:
    return redact(token.value if token is not None else None)


def one_line(value: str | BaseException, limit: int = 200) -> str:
    """A message (or an exception) as one line: its first line, spaces collapsed, cut at
    ``limit``. An exception without a message reads as its type's name."""
    lines = str(value).strip().splitlines()
    line = " ".join(lines[0].split()) if lines else ""
    if not line and isinstance(value, BaseException):
        return type(value).__name__
    return line if len(line) <= limit else f"{line[: limit - 1]}…"


def duration_hint(minutes: int | None) -> str:
    """What to do when the dashboard refuses a session length (invalid_session_duration)."""
    asked = f"{minutes}-minute" if minutes else "that long a"
    return (
        f"This Stytch project does not allow {asked} sessions. Raise the maximum session "
        "duration in the Stytch dashboard, or ask for less: "
        "%config Stytch.session_duration_minutes = 5"
    )


# ---- tables ----------------------------------------------------------------------------------

_TABLE = (
    '<table class="{cls}" style="border-collapse:collapse;font-size:12px;'
    'margin:2px 0;text-align:left"><thead>{title}</thead><tbody>{rows}</tbody></table>'
)
_TITLE = (
    '<tr style="background:none"><th colspan="2" style="text-align:left;font-weight:600;'
    'padding:0 0 2px 0;border:none">{}</th></tr>'
)
_ROW = (
    '<tr style="background:none"><th style="text-align:left;font-weight:normal;'
    'color:var(--jp-ui-font-color2,#616161);padding:1px 12px 1px 0;white-space:nowrap">{}</th>'
    '<td style="text-align:left;padding:1px 0">{}</td></tr>'
)


def _html_table(title: str, rows: Rows, cls: str) -> str:
    import html  # on the first rich repr, not at %load_ext (its entity table is large)

    body = "".join(_ROW.format(html.escape(key), html.escape(value)) for key, value in rows)
    return _TABLE.format(cls=cls, title=_TITLE.format(html.escape(title)), rows=body)


def _text_block(title: str, rows: Rows) -> str:
    width = max((len(key) for key, _ in rows), default=0)
    lines = [title, *(f"  {key.ljust(width)}  {value}" for key, value in rows)]
    return "\n".join(lines)


# ---- Session and User ------------------------------------------------------------------------


def _factor_text(session: Session) -> str:
    parts = []
    for factor in session.authentication_factors:
        text = factor.type or "unknown"
        if factor.email_address:
            text += f" ({factor.email_address})"
        parts.append(text)
    return ", ".join(parts) or "—"


def session_rows(session: Session, now: datetime | None = None) -> list[tuple[str, str]]:
    now = now or datetime.now(timezone.utc)
    rows = [
        ("session id", session.session_id),
        ("user id", session.user_id),
        ("started", when(session.started_at, now)),
        ("last accessed", when(session.last_accessed_at, now)),
        ("expires", when(session.expires_at, now)),
        ("factors", _factor_text(session)),
    ]
    if session.roles:
        rows.append(("roles", ", ".join(session.roles)))
    return rows


def user_rows(user: User, now: datetime | None = None) -> list[tuple[str, str]]:
    emails = ", ".join(f"{e.email}{'' if e.verified else ' (unverified)'}" for e in user.emails)
    rows = [
        ("email", emails or "—"),
        ("name", user.name or "—"),
        ("user id", user.user_id),
        ("status", user.status or "—"),
        ("created", when(user.created_at, now)),
    ]
    if user.roles:
        rows.append(("roles", ", ".join(user.roles)))
    return rows


def session_html(session: Session, now: datetime | None = None) -> str:
    return _html_table("Stytch session", session_rows(session, now), "stytch-repr stytch-session")


def session_text(session: Session, now: datetime | None = None) -> str:
    return _text_block(f"Stytch session {session.session_id}", session_rows(session, now))


def user_html(user: User, now: datetime | None = None) -> str:
    return _html_table("Stytch user", user_rows(user, now), "stytch-repr stytch-user")


def user_text(user: User, now: datetime | None = None) -> str:
    return _text_block(f"Stytch user {user.email or user.user_id}", user_rows(user, now))


# ---- the manager (the ``stytch`` object and the widget's text/plain) -------------------------


def user_label(user: User | None) -> str:
    if user is None:
        return "an unknown user"
    return user.email or user.name or user.user_id


def manager_summary(manager: SessionManager) -> str:
    """One line: ``Stytch session: signed in as a@b.c, expires in 4 min``."""
    status = manager.status
    if status == "signed_in":
        line = f"signed in as {_person(manager)}"
        if manager.session is not None and manager.session.expires_at is not None:
            left = expires_text(manager.session, manager.server_now())
            line += f", {left}" if left.startswith("expired") else f", expires {left}"
    elif status == "unconfirmed":
        line = "checking the stored session…"
    elif status == "needs_organization":
        line = "pick an organization (%stytch orgs, %stytch switch ORG)"
    elif status == "needs_mfa":
        line = "the organization requires MFA (%stytch mfa totp or %stytch mfa sms)"
    else:
        line = "signed out"
    return f"Stytch session: {line}"


def _person(manager: SessionManager) -> str:
    member, organization = manager.member, manager.organization
    if member is None:
        return user_label(manager.user)
    where = f" in {organization.organization_slug}" if organization is not None else ""
    return f"{member.email_address}{where}"


def manager_rows(manager: SessionManager) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    status = manager.status
    server_now = manager.server_now()
    local_now = datetime.now(timezone.utc)
    if status == "signed_in":
        user, session = manager.user, manager.session
        if manager.member is not None:
            rows.append(("member", _person(manager)))
            if manager.member.name:
                rows.append(("name", manager.member.name))
        if user is not None:
            rows.append(("user", user_label(user)))
            if user.name:
                rows.append(("name", user.name))
        if session is not None:
            rows.append(("session", short_id(session.session_id)))
            rows.append(("expires", when(session.expires_at, server_now)))
        rows.append(("validated", when(manager.last_validated_at, local_now)))
    if status != "signed_out":
        rows.append(("heartbeat", heartbeat_text(manager)))
        rows.append(("token", token_text(manager.session_token)))
        rows.append(("jwt", token_text(manager.session_jwt)))
    else:
        rows.append(("hint", SIGNED_OUT_HINT))
    if manager.last_error:
        rows.append(("last error", one_line(manager.last_error)))
    return rows


def manager_text(manager: SessionManager) -> str:
    return _text_block(manager_summary(manager), manager_rows(manager))


def expiry(manager: SessionManager, expires_at: datetime | None) -> str:
    """``expires in 29 min (at 14:05)``, by the server's clock."""
    if expires_at is None:
        return "expiry unknown"
    return f"expires {when(expires_at, manager.server_now())}"


def status_text(manager: SessionManager) -> str:
    """``%stytch status``: ``stytch``'s own text, the heartbeat's settings, the project."""
    rows = [
        (key, heartbeat_text(manager, settings=True) if key == "heartbeat" else value)
        for key, value in manager_rows(manager)
    ]
    config = manager.config
    project = config.public_token or "no public token (%config Stytch.public_token = …)"
    rows.append(("project", f"{project} at {config.resolved_api_url}"))
    width = max(len(key) for key, _ in rows)
    return "\n".join(
        [manager_summary(manager), *(f"  {key.ljust(width)}  {value}" for key, value in rows)]
    )


def manager_html(manager: SessionManager) -> str:
    return _html_table(
        manager_summary(manager), manager_rows(manager), "stytch-repr stytch-manager"
    )


# ---- IPython registration (the extension calls these on load and unload) ---------------------


def _pretty(text: Any) -> Any:
    def printer(obj: Any, p: Any, cycle: bool) -> None:
        p.text(text(obj))

    printer.__stytch_jupyter__ = True  # type: ignore[attr-defined]
    return printer


# By name: IPython imports the class when a value of it is first shown, and ``%load_ext``
# imports no model.
_SESSION, _USER = "stytch_jupyter.api.models.Session", "stytch_jupyter.api.models.User"


def _formatters(ipython: Any) -> list[tuple[Any, str, Any]]:
    formatters = ipython.display_formatter.formatters
    html_formatter, text_formatter = formatters["text/html"], formatters["text/plain"]
    return [
        (html_formatter, _SESSION, session_html),
        (html_formatter, _USER, user_html),
        (text_formatter, _SESSION, _pretty(session_text)),
        (text_formatter, _USER, _pretty(user_text)),
    ]


def register_formatters(ipython: Any) -> None:
    """Show ``Session`` and ``User`` values as compact tables (HTML) and aligned text."""
    for formatter, name, func in _formatters(ipython):
        module, _, class_name = name.rpartition(".")
        cls = getattr(sys.modules.get(module), class_name, None)
        if cls is None:
            formatter.for_type_by_name(module, class_name, func)
        else:  # by class, and only once: a name registered earlier would stay beside it
            formatter.deferred_printers.pop((module, class_name), None)
            formatter.for_type(cls, func)


def unregister_formatters(ipython: Any) -> None:
    """Undo ``register_formatters``; leaves alone a formatter someone else registered since."""
    ours = {session_html, user_html}
    for formatter, name, _ in _formatters(ipython):
        while True:  # by name and by class, wherever IPython holds one
            try:
                current = formatter.lookup_by_type(name)
            except KeyError:
                break
            if current not in ours and not getattr(current, "__stytch_jupyter__", False):
                break
            formatter.pop(name, None)


# ---- what a prompt or the widget says alongside ------------------------------------------------


def mailbox_hint(url: str | None) -> str:
    """ " (the emulator's mailbox shows it: URL)", when the API is an emulator; else ""."""
    return f" (the emulator's mailbox shows it: {url})" if url else ""


def strength_text(strength: PasswordStrength) -> str:
    """Stytch's verdict on a password, with its feedback, in a line or two (never the password)."""
    verdict = (
        "Stytch would accept this password"
        if strength.valid_password
        else ("Stytch would refuse this password")
    )
    lines = [f"{verdict} (score {strength.score} of 4)."]
    if strength.breached_password:
        lines.append("It appears in a known data breach.")
    if strength.warning:
        lines.append(one_line(strength.warning).rstrip(".") + ".")
    if strength.suggestions:
        lines.append("Suggestions: " + " ".join(one_line(s) for s in strength.suggestions))
    return "\n".join(lines)
