"""The session widget against a real manager and the emulator over loopback.

Buttons are driven as a front end would: set the inputs' values, then ``click()``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ipywidgets import Widget
from ipywidgets.widgets.widget import _instances as registry  # Widget.widgets, undeprecated

from stytch_jupyter.api.models import SessionTokens, redact
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython import reprs
from stytch_jupyter.ipython import widget as widget_module
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from stytch_jupyter.ipython.widget import SessionWidget
from tests.conftest import EMAIL, PASSWORD
from tests.support.waiting import wait_for


def new_stytch(emulator: Emulator, **settings: Any) -> NotebookStytch:
    settings.setdefault("heartbeat_interval", 0.5)
    settings.setdefault("timeout", 2.0)
    config = Stytch(
        public_token=emulator.public_token,
        api_url=emulator.api_url,
        token_store="memory",
        **settings,
    )
    stytch = NotebookStytch(config)
    stytch.start()
    return stytch


@pytest.fixture
def make_stytch(emulator: Emulator) -> Iterator[Callable[..., NotebookStytch]]:
    made: list[NotebookStytch] = []

    def make(**settings: Any) -> NotebookStytch:
        stytch = new_stytch(emulator, **settings)
        made.append(stytch)
        return stytch

    yield make
    for stytch in made:
        stytch.close()


@pytest.fixture
def widgets() -> Iterator[list[SessionWidget]]:
    made: list[SessionWidget] = []
    yield made
    for widget in made:
        widget.close()


def make_widget(stytch: NotebookStytch, widgets: list[SessionWidget]) -> SessionWidget:
    widget = stytch.widget()
    widgets.append(widget)
    return widget


def sign_in_with_password(stytch: NotebookStytch, emulator: Emulator, name: Any = None) -> None:
    emulator.create_user(EMAIL, password=PASSWORD, name=name)
    stytch.passwords.authenticate(EMAIL, PASSWORD)
    assert stytch.status == "signed_in"


def part(widget: SessionWidget, css_class: str) -> Any:
    """The one descendant carrying ``css_class``, found the way a browser test would."""
    found = [w for w in all_widgets(widget) if css_class in getattr(w, "_dom_classes", ())]
    assert len(found) == 1, f"{len(found)} widgets carry {css_class}"
    return found[0]


def visible(widget: SessionWidget, css_class: str) -> bool:
    """Shown unless it or a container above it has ``display: none``."""
    target = part(widget, css_class)

    def walk(node: Any, hidden: bool) -> bool | None:
        hidden = hidden or node.layout.display == "none"
        if node is target:
            return not hidden
        for child in getattr(node, "children", ()):
            result = walk(child, hidden)
            if result is not None:
                return result
        return None

    result = walk(widget, False)
    assert result is not None
    return result


def all_widgets(root: Widget) -> list[Widget]:
    """The root and every widget its synced state refers to (``IPY_MODEL_<id>``), recursively."""
    seen: dict[str, Widget] = {}
    stack = [root]
    while stack:
        current = stack.pop()
        if current.model_id in seen:
            continue
        seen[current.model_id] = current
        stack.extend(registry[ref[len("IPY_MODEL_") :]] for ref in model_refs(current))
    return list(seen.values())


def model_refs(widget: Widget) -> list[str]:
    refs: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith("IPY_MODEL_"):
            refs.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(widget.get_state())
    return refs


def synced_state(widget: SessionWidget) -> str:
    return json.dumps([w.get_state() for w in all_widgets(widget)], default=str)


def assert_no_secrets(widget: SessionWidget, *secrets: str) -> None:
    state = synced_state(widget)
    for secret in secrets:
        assert secret and secret not in state


def send_code(widget: SessionWidget, email: str = EMAIL) -> None:
    part(widget, "stytch-email").value = email
    part(widget, "stytch-send-code").click()
    widget.wait(10)


# ---- signing in and out through the widget ---------------------------------------------------


def test_email_code_sign_in_clears_the_code_at_once(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    assert part(widget, "stytch-status").value == "Signed out"
    assert "stytch-signed-out" in widget._dom_classes
    assert visible(widget, "stytch-email") and visible(widget, "stytch-send-code")
    assert not visible(widget, "stytch-code") and not visible(widget, "stytch-sign-out")

    send_code(widget)
    assert part(widget, "stytch-error").value == ""
    assert part(widget, "stytch-info").value == f"Code sent to {EMAIL}"
    assert visible(widget, "stytch-code") and visible(widget, "stytch-sign-in")
    method_id, code = emulator.last_otp(EMAIL)
    assert widget._method_id == method_id

    # Slow the sign-in down so the widget can be seen mid-request.
    emulator.add_fault(path_prefix="/sdk/v1/otps/authenticate", latency_ms=400)
    part(widget, "stytch-code").value = code
    part(widget, "stytch-sign-in").click()
    assert part(widget, "stytch-code").value == ""
    assert widget.busy and "stytch-busy" in widget._dom_classes
    assert part(widget, "stytch-sign-in").disabled and part(widget, "stytch-send-code").disabled
    assert_no_secrets(widget, code)

    widget.wait(10)
    assert stytch.status == "signed_in"
    assert part(widget, "stytch-status").value == f"Signed in as {EMAIL}"
    assert "stytch-signed-in" in widget._dom_classes and "stytch-busy" not in widget._dom_classes
    assert part(widget, "stytch-session-id").value == reprs.short_id(stytch.session.session_id)
    assert part(widget, "stytch-expires").value.startswith("in ")
    assert "UTC" in part(widget, "stytch-expires").value
    assert part(widget, "stytch-validated").value == "<1 min ago"
    assert part(widget, "stytch-heartbeat").value
    assert not part(widget, "stytch-refresh").disabled
    assert not visible(widget, "stytch-email") and visible(widget, "stytch-sign-out")
    assert part(widget, "stytch-code").value == ""
    assert_no_secrets(widget, code, stytch.session_token.value, stytch.session_jwt.value)


def test_no_secret_in_any_widget_state(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    send_code(widget)
    _, code = emulator.last_otp(EMAIL)
    part(widget, "stytch-code").value = code
    part(widget, "stytch-sign-in").click()
    widget.wait(10)
    token, jwt = stytch.session_token.value, stytch.session_jwt.value
    # Several widget renders later (heartbeats, extend), still nothing.
    part(widget, "stytch-extend").click()
    widget.wait(10)
    children = all_widgets(widget)
    assert len(children) > 20  # the walk really reached labels, buttons, layouts and styles
    assert_no_secrets(
        widget, code, token, jwt, stytch.session_token.value, stytch.session_jwt.value
    )
    # The short forms the reprs use are fine, and they are what the text shows.
    assert redact(token) not in synced_state(widget)  # the widget shows no token at all
    assert token not in repr(widget) and jwt not in repr(widget)


def test_wrong_code_shows_one_line_error_and_keeps_the_form(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    send_code(widget)
    _, code = emulator.last_otp(EMAIL)
    wrong = "000000" if code != "000000" else "111111"
    part(widget, "stytch-code").value = wrong
    part(widget, "stytch-sign-in").click()
    assert part(widget, "stytch-code").value == ""
    widget.wait(10)
    error = part(widget, "stytch-error").value
    assert error and "\n" not in error and "Traceback" not in error
    assert wrong not in error
    assert visible(widget, "stytch-error")
    assert stytch.status == "signed_out"
    assert visible(widget, "stytch-code")  # try again with the right code
    part(widget, "stytch-code").value = code
    part(widget, "stytch-sign-in").click()
    widget.wait(10)
    assert stytch.status == "signed_in"
    assert part(widget, "stytch-error").value == "" and not visible(widget, "stytch-error")


def test_empty_inputs_are_refused_without_a_request(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    part(widget, "stytch-send-code").click()
    assert part(widget, "stytch-error").value == "enter your email address first"
    assert emulator.outbox() == []
    send_code(widget)
    part(widget, "stytch-code").value = "   "
    part(widget, "stytch-sign-in").click()
    assert part(widget, "stytch-error").value == "enter the code from the email"
    assert part(widget, "stytch-code").value == ""
    assert not widget.busy and stytch.status == "signed_out"


def test_sign_out_button_revokes(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    sign_in_with_password(stytch, emulator)
    token = stytch.session_token.value
    widget = make_widget(stytch, widgets)
    assert part(widget, "stytch-status").value == f"Signed in as {EMAIL}"
    part(widget, "stytch-sign-out").click()
    widget.wait(10)
    assert stytch.status == "signed_out"
    assert part(widget, "stytch-status").value == "Signed out (revoked)"
    assert (
        part(widget, "stytch-session-id").value == "" and part(widget, "stytch-expires").value == ""
    )
    assert visible(widget, "stytch-email") and not visible(widget, "stytch-sign-out")
    # Revoked at Stytch, not only forgotten here.
    with pytest.raises(Exception, match="session_not_found"):
        emulator.revoke_session(session_token=token)


def test_refresh_and_extend_buttons(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch(heartbeat_interval=60.0, session_duration_minutes=5)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    before = stytch.last_validated_at
    part(widget, "stytch-refresh").click()
    widget.wait(10)
    assert stytch.last_validated_at > before
    assert part(widget, "stytch-error").value == ""

    stytch.config.session_duration_minutes = 90
    assert part(widget, "stytch-extend").tooltip == "Extend the session to 90 min from now"
    part(widget, "stytch-extend").click()
    widget.wait(10)
    left = stytch.session.expires_in(stytch.server_now())
    assert left is not None and left > 80 * 60
    assert part(widget, "stytch-expires").value.startswith(("in 89 min", "in 90 min"))


def test_a_failed_refresh_shows_one_line_and_keeps_the_session(
    make_stytch, widgets, emulator
) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=503)
    part(widget, "stytch-refresh").click()
    widget.wait(10)
    error = part(widget, "stytch-error").value
    assert "503" in error and "\n" not in error
    assert stytch.status == "signed_in"
    assert part(widget, "stytch-status").value == f"Signed in as {EMAIL}"
    assert not part(widget, "stytch-refresh").disabled


def test_an_error_that_echoes_a_token_is_redacted_before_it_is_cut(
    make_stytch, widgets, emulator
) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    jwt = stytch.session_jwt.value
    # The JWT straddles the one-line limit: cut first, its head would survive redaction.
    shown = widget._error_text(RuntimeError(f"{'x' * 150} {jwt} trailing\nsecond line"), ())
    assert jwt[:12] not in shown and "second line" not in shown
    assert shown.startswith("x" * 150 + " <redacted>")
    assert widget._error_text(RuntimeError(""), ()) == "RuntimeError"


# ---- live changes from the session thread ----------------------------------------------------


def test_server_side_revoke_reaches_the_widget(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    threads: set[str] = set()
    widget.observe(lambda change: threads.add(threading.current_thread().name), "_dom_classes")
    emulator.revoke_session(session_token=stytch.session_token.value)
    wait_for(
        lambda: (
            part(widget, "stytch-status").value == "Signed out (ended by Stytch: session_not_found)"
        ),
        what="the heartbeat",
    )
    assert "stytch-signed-out" in widget._dom_classes
    assert part(widget, "stytch-session-id").value == ""
    assert visible(widget, "stytch-email")
    assert threads == {"stytch-session"}  # changed by the heartbeat, not by this thread


def test_unconfirmed_tokens_show_checking_then_signed_in(make_stytch, widgets, emulator) -> None:
    source = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(source, emulator)
    tokens = SessionTokens(source.session_token.value, source.session_jwt.value)
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", latency_ms=600)
    stytch.sessions.update(tokens)
    wait_for(lambda: "stytch-unconfirmed" in widget._dom_classes, what="unconfirmed")
    assert part(widget, "stytch-status").value == "Checking the stored session…"
    assert visible(widget, "stytch-heartbeat") and not visible(widget, "stytch-email")
    wait_for(lambda: part(widget, "stytch-status").value == f"Signed in as {EMAIL}")
    assert_no_secrets(widget, tokens.opaque, tokens.jwt)


def test_two_widgets_stay_in_step(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    first, second = make_widget(stytch, widgets), make_widget(stytch, widgets)
    sign_in_with_password(stytch, emulator)
    for widget in (first, second):
        assert part(widget, "stytch-status").value == f"Signed in as {EMAIL}"
    part(first, "stytch-sign-out").click()
    first.wait(10)
    assert part(second, "stytch-status").value == "Signed out (revoked)"


# ---- text forms ------------------------------------------------------------------------------


def test_text_plain_where_widgets_do_not_render(make_stytch, widgets, emulator) -> None:
    from IPython.core.formatters import DisplayFormatter

    stytch = make_stytch(heartbeat_interval=60.0)
    widget = make_widget(stytch, widgets)
    data, _ = DisplayFormatter().format(widget)
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == reprs.manager_text(stytch)
    assert data["text/plain"].startswith("Stytch session: signed out")

    sign_in_with_password(stytch, emulator)
    data, _ = DisplayFormatter().format(widget)
    first_line = data["text/plain"].splitlines()[0]
    assert first_line.startswith(f"Stytch session: signed in as {EMAIL}, expires in ")
    assert len(data["text/plain"]) > 110  # not ipywidgets' cut-off repr
    assert stytch.session_token.value not in data["text/plain"]
    assert stytch.session_jwt.value not in data["text/plain"]

    widget.close()
    data, _ = DisplayFormatter().format(widget)  # a closed widget falls back to plain text
    assert list(data) == ["text/plain"]
    assert data["text/plain"].startswith(f"Stytch session: signed in as {EMAIL}")


# ---- the ticker and closing ------------------------------------------------------------------


def test_default_tick_is_slow() -> None:
    assert 15 <= widget_module.TICK_SECONDS <= 30


def test_ticker_runs_while_widgets_live_and_stops_on_close(emulator, monkeypatch) -> None:
    monkeypatch.setattr(widget_module, "TICK_SECONDS", 0.05)
    before = set(threading.enumerate())
    stytch = new_stytch(emulator)
    try:
        first, second = stytch.widget(), stytch.widget()
        ticker = widget_module.ticker_for(stytch)
        start = ticker.ticks
        wait_for(lambda: ticker.ticks >= start + 3, what="ticks")
        first.close()
        assert ticker.armed  # still one live widget
        count = ticker.ticks
        wait_for(lambda: ticker.ticks > count, what="ticks for the second widget")
        second.close()
        wait_for(lambda: not ticker.armed, what="the timer to be cancelled")
        # Closing left no widget behind and no thread of the widget's own.
        for widget in (first, second):
            assert widget.comm is None
        assert not [w for w in registry.values() if isinstance(w, SessionWidget)]
        assert set(threading.enumerate()) - before == set(stytch.threads)
    finally:
        stytch.close()
    wait_for(lambda: set(threading.enumerate()) <= before, what="every thread to end")


def test_closing_the_manager_leaves_no_thread(emulator, monkeypatch) -> None:
    monkeypatch.setattr(widget_module, "TICK_SECONDS", 0.05)
    before = set(threading.enumerate())
    stytch = new_stytch(emulator)
    widget = stytch.widget()
    ticker = widget_module.ticker_for(stytch)
    try:
        wait_for(lambda: ticker.ticks >= 1, what="a tick")
    finally:
        stytch.close()
    wait_for(lambda: set(threading.enumerate()) <= before, what="every thread to end")
    count = ticker.ticks
    widget.refresh()  # still usable, shows the last state, starts nothing
    assert ticker.ticks == count and set(threading.enumerate()) <= before
    widget.close()
    assert set(threading.enumerate()) <= before


CLOSED_TEXT = "This session was closed (%unload_ext); run stytch.widget() again"
CONTROLS = (
    "stytch-refresh",
    "stytch-extend",
    "stytch-sign-out",
    "stytch-send-code",
    "stytch-sign-in",
    "stytch-email",
    "stytch-code",
)


def assert_shows_closed(widget: SessionWidget) -> None:
    assert part(widget, "stytch-status").value == CLOSED_TEXT
    assert "stytch-closed" in widget._dom_classes
    assert not {"stytch-signed-in", "stytch-signed-out", "stytch-busy"} & set(widget._dom_classes)
    assert all(part(widget, cls).disabled for cls in CONTROLS)
    # Nothing stale: no session details, no heartbeat plan, no error.
    for cls in ("stytch-session-id", "stytch-heartbeat", "stytch-error"):
        assert not visible(widget, cls), cls


def test_a_widget_of_a_closed_manager_says_so_and_does_nothing(
    make_stytch, widgets, emulator, monkeypatch
) -> None:
    monkeypatch.setattr(widget_module, "TICK_SECONDS", 0.05)
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    signed_in, signed_out = make_widget(stytch, widgets), make_widget(stytch, widgets)
    part(signed_out, "stytch-email").value = EMAIL  # a form half filled in
    ticker = widget_module.ticker_for(stytch)
    wait_for(lambda: ticker.ticks >= 1, what="a tick")

    stytch.close()
    for widget in (signed_in, signed_out):
        assert_shows_closed(widget)  # at once: the widget observes the manager closing
    assert not ticker.armed and stytch not in widget_module._tickers

    # A click that a front end still sends starts no thread and changes nothing.
    before = set(threading.enumerate())
    part(signed_in, "stytch-refresh").click()
    part(signed_out, "stytch-send-code").click()
    for widget in (signed_in, signed_out):
        widget.wait(5)
        assert_shows_closed(widget)
    assert stytch.threads == [] and set(threading.enumerate()) <= before
    assert [m for m in emulator.outbox() if m["kind"] == "otp"] == []

    # It no longer follows the manager (nor holds on to it through its observers).
    stytch.config.session_duration_minutes = 90
    assert "90" not in part(signed_in, "stytch-extend").tooltip
    assert_shows_closed(signed_in)


def test_a_widget_made_from_a_closed_manager_says_so(make_stytch, widgets) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    stytch.close()
    widget = make_widget(stytch, widgets)
    assert_shows_closed(widget)
    part(widget, "stytch-refresh").click()
    widget.wait(5)
    assert_shows_closed(widget)
    assert stytch.threads == []


def test_a_click_racing_the_close_shows_the_closed_state(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    # The session thread is gone but the widget has not heard of it yet: the click itself
    # meets SessionClosedError.
    stytch._loop.stop()
    part(widget, "stytch-refresh").click()
    widget.wait(5)
    assert_shows_closed(widget)
    assert stytch.threads == []


def test_close_closes_every_child_and_stops_observing(make_stytch, emulator) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    widget = stytch.widget()
    children = all_widgets(widget)
    widget.close()
    assert all(child.comm is None for child in children)
    registered = [id(w) for w in registry.values()]
    assert not any(id(child) in registered for child in children)
    sign_in_with_password(stytch, emulator)
    assert part_value_after_close(children) == "Signed out"  # no longer follows the manager


def part_value_after_close(children: list[Widget]) -> str:
    (status,) = [w for w in children if "stytch-status" in getattr(w, "_dom_classes", ())]
    return str(status.value)
