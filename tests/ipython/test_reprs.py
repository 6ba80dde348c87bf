"""Rich and plain reprs: escaped, readable, and never a whole token."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from IPython.core.formatters import DisplayFormatter

from stytch_jupyter.api.errors import StytchError
from stytch_jupyter.api.models import User
from stytch_jupyter.api.secret import redact
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython import reprs
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from tests.conftest import PASSWORD
from tests.support.models import NOW, make_session, make_user

EVIL = '<img src=x onerror="alert(1)">&'
READABLE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((in [^)]+|[^)]+ ago)\)")


# ---- small helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "in <1 min"),
        (-5, "<1 min ago"),
        (245, "in 4 min"),
        (-245, "4 min ago"),
        (119 * 60, "in 119 min"),
        (3 * 3600 + 5 * 60, "in 3 h 5 min"),
        (3 * 3600, "in 3 h"),
        (3 * 86400 + 2 * 3600, "in 3 d 2 h"),
        (-7 * 86400, "7 d ago"),
    ],
)
def test_relative(seconds: float, text: str) -> None:
    assert reprs.relative(seconds) == text


def test_when_and_expiry_read_like_a_person_would_write_them() -> None:
    session = make_session()
    assert reprs.when(session.expires_at, NOW) == "2026-11-27 07:31:05 UTC (in 4 min)"
    assert reprs.when(None, NOW) == "—"
    assert reprs.expires_text(session, NOW) == "in 4 min"
    assert reprs.expires_text(session, NOW + timedelta(minutes=10)) == "expired 5 min ago"


def test_short_id() -> None:
    assert (
        reprs.short_id("session-test-1a2b3c4d-0000-4000-8000-000000000000")
        == "session-test-1a2b3c4d…"
    )
    assert reprs.short_id("abc") == "abc"
    assert reprs.short_id("x" * 40) == "x" * 20 + "…"


# ---- Session and User ------------------------------------------------------------------------


def test_one_line_for_messages_and_exceptions() -> None:
    # The one function for "an error as one line", used by the magic and the widget alike.
    assert reprs.one_line("a\tb  c") == "a b c"
    assert reprs.one_line("bad value\n  details that follow") == "bad value"
    assert reprs.one_line("x" * 300) == "x" * 199 + "…"
    assert reprs.one_line(ValueError("bad value\ndetails: more")) == "bad value"
    assert reprs.one_line(StytchError("")) == "StytchError"
    assert reprs.one_line(RuntimeError("   ")) == "RuntimeError"
    assert reprs.one_line("") == ""


def heartbeat_of(state: str, in_seconds: float | None, auto_extend: bool = False) -> Any:
    at = None if in_seconds is None else datetime.now(timezone.utc) + timedelta(seconds=in_seconds)
    config = SimpleNamespace(heartbeat_interval=180.0, auto_extend=auto_extend)
    return SimpleNamespace(heartbeat_state=state, next_check_at=at, config=config)


def test_heartbeat_text_with_and_without_its_settings() -> None:
    scheduled = heartbeat_of("scheduled", 210)
    assert reprs.heartbeat_text(scheduled) == "scheduled, next check in 3 min"
    assert reprs.heartbeat_text(scheduled, settings=True) == (
        "scheduled, next check in 3 min (every 180 s, checks only)"
    )
    assert reprs.heartbeat_text(heartbeat_of("retrying", 5)) == "retrying, next check in <1 min"
    assert reprs.heartbeat_text(heartbeat_of("checking", None)) == "checking…"
    assert reprs.heartbeat_text(heartbeat_of("idle", None, auto_extend=True), settings=True) == (
        "idle (every 180 s, extends the session)"
    )
    assert reprs.heartbeat_text(heartbeat_of("stopped", None)) == "stopped"


def test_session_html_and_text() -> None:
    session = make_session()
    page = reprs.session_html(session, NOW)
    assert page.startswith('<table class="stytch-repr stytch-session"')
    assert "session-test-1a2b3c4d-0000-4000-8000-000000000000" in page
    assert "2026-11-27 07:31:05 UTC (in 4 min)" in page
    assert "otp (ada@example.com)" in page
    text = reprs.session_text(session, NOW)
    assert text.splitlines()[0] == f"Stytch session {session.session_id}"
    assert "  expires        2026-11-27 07:31:05 UTC (in 4 min)" in text.splitlines()


def test_user_html_escapes_a_hostile_name() -> None:
    user = make_user(first_name=EVIL, email="o'hara+<x>@example.com")
    page = reprs.user_html(user, NOW)
    assert "<img" not in page and 'onerror="' not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp; Lovelace" in page
    assert "o&#x27;hara+&lt;x&gt;@example.com" in page
    # The plain text is for terminals: shown as typed.
    text = reprs.user_text(user, NOW)
    assert text.splitlines()[0] == "Stytch user o'hara+<x>@example.com"
    assert f"{EVIL} Lovelace" in text


def test_formatters_register_and_unregister() -> None:
    shell = SimpleNamespace(display_formatter=DisplayFormatter())
    session, user = make_session(), make_user(first_name=EVIL)
    reprs.register_formatters(shell)
    data, _ = shell.display_formatter.format(session)
    assert data["text/html"].startswith('<table class="stytch-repr stytch-session"')
    assert data["text/plain"].startswith("Stytch session session-test-")
    data, _ = shell.display_formatter.format(user)
    assert "&lt;img" in data["text/html"] and "<img" not in data["text/html"]
    assert data["text/plain"].startswith("Stytch user ada@example.com")

    # Someone else's formatter for User, registered after ours, survives our unload.
    html_formatter = shell.display_formatter.formatters["text/html"]
    html_formatter.for_type(User, lambda u: "<b>theirs</b>")
    reprs.unregister_formatters(shell)
    data, _ = shell.display_formatter.format(session)
    assert "text/html" not in data and data["text/plain"].startswith("Session(")
    data, _ = shell.display_formatter.format(user)
    assert data["text/html"] == "<b>theirs</b>"
    reprs.unregister_formatters(shell)  # twice is fine


# ---- the manager (the ``stytch`` object) -----------------------------------------------------


def test_manager_reprs_signed_out_and_signed_in(emulator: Emulator) -> None:
    emulator.create_user(
        "ada@example.com", password=PASSWORD, name={"first_name": EVIL, "last_name": "Lovelace"}
    )
    config = Stytch(
        public_token=emulator.public_token,
        api_url=emulator.api_url,
        token_store="memory",
        heartbeat_interval=60.0,
        timeout=2.0,
    )
    stytch = NotebookStytch(config)
    stytch.start()
    try:
        assert reprs.manager_text(stytch).startswith("Stytch session: signed out\n")
        assert "Stytch session: signed out" in stytch._repr_html_()

        stytch.passwords.authenticate("ada@example.com", PASSWORD)
        token, jwt = stytch.session_token.value, stytch.session_jwt.value
        text, page = reprs.manager_text(stytch), stytch._repr_html_()
        assert text.splitlines()[0].startswith(
            "Stytch session: signed in as ada@example.com, expires in "
        )
        for shown in (text, page, repr(stytch)):
            assert token not in shown and jwt not in shown
        assert redact(token) in text and redact(jwt) in page
        assert READABLE.search(text) and READABLE.search(page)
        assert reprs.short_id(stytch.session.session_id) in text
        assert "heartbeat" in text and "validated" in text
        assert "<img" not in page and "&lt;img src=x" in page
        assert f"{EVIL} Lovelace" in text

        # The same text is what IPython prints for ``stytch`` in a terminal.
        data, _ = DisplayFormatter().format(stytch)
        assert data["text/plain"].splitlines()[0] == text.splitlines()[0]
        assert data["text/html"].startswith('<table class="stytch-repr stytch-manager"')

        emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=503)
        stytch.heartbeat.now()
        assert "last error" in reprs.manager_text(stytch)
        assert "503" in reprs.manager_html(stytch)
    finally:
        stytch.close()
