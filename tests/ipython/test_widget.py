"""The session widget against a real manager and the emulator over loopback.

The page is played as the real one talks to the kernel: it reads ``widget.state`` (the one synced
value it renders) and sends ``{"action": ...}`` messages, delivered through ipywidgets' own
custom-message path (``_handle_custom_msg``, what a comm message from the page calls).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ipywidgets import DOMWidget
from ipywidgets.widgets.widget import _instances as registry  # Widget.widgets, undeprecated

import stytch_jupyter
from stytch_jupyter.api.errors import StytchAPIError, StytchNetworkError
from stytch_jupyter.api.models import SessionTokens
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
    settings.setdefault("token_store", "memory")
    config = Stytch(public_token=emulator.public_token, api_url=emulator.api_url, **settings)
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


def page_sends(widget: SessionWidget, action: str, **fields: Any) -> None:
    """A message from the page, through the same path a comm message takes."""
    widget._handle_custom_msg({"action": action, **fields}, [])


def press(widget: SessionWidget, action: str, **fields: Any) -> None:
    page_sends(widget, action, **fields)
    widget.wait(10)


def action_ids(widget: SessionWidget) -> list[str]:
    return [action["id"] for action in widget.state["actions"]]


def row(widget: SessionWidget, css_class: str) -> str:
    (value,) = [value for _key, value, cls in widget.state["rows"] if cls == css_class]
    return str(value)


def error_text(widget: SessionWidget) -> str:
    error = widget.state["error"]
    return "" if error is None else str(error["text"])


def synced_state(widget: SessionWidget) -> str:
    """Everything the kernel syncs to the page (and a saved notebook keeps): every trait."""
    return json.dumps(widget.get_state(), default=str)


def assert_no_secrets(widget: SessionWidget, *secrets: str) -> None:
    state = synced_state(widget)
    for secret in secrets:
        assert secret and secret not in state


def send_code(widget: SessionWidget, email: str = EMAIL) -> None:
    press(widget, "send_code", email=email)


# ---- the model -------------------------------------------------------------------------------


def test_one_anywidget_model_with_its_module_and_css_beside_it(make_stytch, widgets) -> None:
    widget = make_widget(make_stytch(), widgets)
    state = widget.get_state()
    assert state["_model_module"] == "anywidget" and state["_view_name"] == "AnyView"
    here = Path(widget_module.__file__).parent
    assert state["_esm"] == (here / "widget.js").read_text()
    assert state["_css"] == (here / "widget.css").read_text()
    # One synced value of ours: the state. No input's value is ever a trait.
    ours = {name for name in widget.trait_names(sync=True) if not name.startswith("_")}
    assert ours - set(DOMWidget.class_trait_names(sync=True)) == {"state"}
    # Every class of the documented contract is named by the page module.
    js = state["_esm"] + json.dumps(widget.state)
    for cls in (
        "stytch-session-widget",
        "stytch-status",
        "stytch-email",
        "stytch-send-code",
        "stytch-code",
        "stytch-sign-in",
        "stytch-sign-out",
        "stytch-refresh",
        "stytch-extend",
        "stytch-error",
        "stytch-info",
        "stytch-forget",
        "stytch-retry",
    ):
        assert cls in js, cls


def test_the_js_and_css_ship_in_the_package() -> None:
    package = Path(stytch_jupyter.__file__).parent
    assert (package / "ipython" / "widget.js").is_file()
    assert (package / "ipython" / "widget.css").is_file()


# ---- signing in and out through the widget ---------------------------------------------------


def test_email_code_sign_in_sends_the_code_in_a_message_only(
    make_stytch, widgets, emulator
) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    state = widget.state
    assert state["kind"] == "signed-out" and state["status"] == "Signed out"
    assert state["form"] == {"step": "email", "email": "", "send_label": "Send code"}
    assert state["actions"] == []

    send_code(widget)
    state = widget.state
    mailbox = f"the emulator's mailbox shows it: {emulator.api_url}/"
    assert state["error"] is None and state["info"] == f"Code sent to {EMAIL} ({mailbox})"
    assert state["form"]["step"] == "code" and state["form"]["email"] == EMAIL
    assert state["focus"] == "code"  # the page moves focus to the code field
    _method_id, code = emulator.last_otp(EMAIL)

    # Slow the sign-in down so the widget can be seen mid-request.
    emulator.add_fault(path_prefix="/sdk/v1/otps/authenticate", latency_ms=400)
    page_sends(widget, "sign_in", code=code)
    assert widget.busy and widget.state["busy"] == "sign_in"
    assert widget.state["busy_label"] == "Signing in…"
    assert_no_secrets(widget, code)

    widget.wait(10)
    state = widget.state
    assert stytch.status == "signed_in"
    assert state["kind"] == "signed-in" and state["status"] == f"Signed in as {EMAIL}"
    assert state["busy"] == "" and state["form"] is None
    assert action_ids(widget) == ["refresh", "extend", "sign_out"]
    assert row(widget, "stytch-session-id") == reprs.short_id(stytch.session.session_id)
    assert row(widget, "stytch-expires").endswith("UTC, in 1 h")  # the 60-minute default
    assert row(widget, "stytch-validated") == "<1 min ago"
    assert state["keep"]["checked"] is False and state["keep"]["label"] == "Keep me signed in"
    assert_no_secrets(widget, code, stytch.session_token.value, stytch.session_jwt.value)


def test_no_secret_in_any_widget_state(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    send_code(widget)
    _, code = emulator.last_otp(EMAIL)
    press(widget, "sign_in", code=code)
    token, jwt = stytch.session_token.value, stytch.session_jwt.value
    press(widget, "extend")  # several renders later (heartbeats, extend), still nothing
    state = synced_state(widget)
    assert '"Signed in as' in state  # the scan reads what the page shows
    assert_no_secrets(widget, code, token, jwt, stytch.session_token.value)
    assert token[:12] not in state  # the widget shows no token at all, not even a prefix
    assert token not in repr(widget) and jwt not in repr(widget)
    # Nor does the widget object keep the code anywhere once it was used.
    assert code not in json.dumps(vars(widget), default=repr)


def test_wrong_code_shows_plain_words_and_keeps_the_form(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    send_code(widget)
    _, code = emulator.last_otp(EMAIL)
    wrong = "000000" if code != "000000" else "111111"
    press(widget, "sign_in", code=wrong)
    error = widget.state["error"]
    assert error["text"] == (
        "That code is wrong or has expired. Check the email, or send a new code."
    )
    assert error["detail"].startswith("otp_code_not_found (404)")  # details on demand
    assert wrong not in json.dumps(error)
    assert stytch.status == "signed_out" and widget.state["form"]["step"] == "code"
    press(widget, "sign_in", code=code)
    assert stytch.status == "signed_in" and widget.state["error"] is None


def test_empty_inputs_are_refused_without_a_request(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    press(widget, "send_code", email="   ")
    assert error_text(widget) == "Enter your email address first."
    assert widget.state["focus"] == "email"
    assert emulator.outbox() == []
    send_code(widget)
    press(widget, "sign_in", code="   ")
    assert error_text(widget) == "Enter the code from the email."
    assert not widget.busy and stytch.status == "signed_out"


def test_malformed_page_messages_change_nothing(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    before = widget.state
    for message in ("sign_in", ["x"], {"action": "no_such"}, {"action": 3}, {}):
        widget._handle_custom_msg(message, [])
    press(widget, "send_code", email=["not", "text"])
    assert widget.state == {
        **before,
        "error": widget.state["error"],
        "focus_id": 1,
        "focus": "email",
    }
    assert widget.state["error"]["text"] == "Enter your email address first."
    assert emulator.outbox() == [] and stytch.status == "signed_out"


def test_sign_out_button_revokes_and_says_so_plainly(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    sign_in_with_password(stytch, emulator)
    token = stytch.session_token.value
    widget = make_widget(stytch, widgets)
    press(widget, "sign_out")
    assert stytch.status == "signed_out"
    state = widget.state
    assert state["status"] == "Signed out"
    assert state["reason"] == {"text": "You signed out.", "detail": "revoked"}
    assert state["rows"] == [] and state["actions"] == [] and state["focus"] == "email"
    with pytest.raises(Exception, match="session_not_found"):  # revoked at Stytch too
        emulator.revoke_session(session_token=token)
    # Starting a new sign-in puts the old news away.
    send_code(widget)
    assert widget.state["reason"] is None


def test_refresh_shows_a_visible_result_and_extend_says_what_happened(
    make_stytch, widgets, emulator
) -> None:
    stytch = make_stytch(heartbeat_interval=60.0, session_duration_minutes=5)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    before = stytch.last_validated_at
    press(widget, "refresh")
    assert stytch.last_validated_at > before
    assert widget.state["info"].startswith("Checked with Stytch at ")
    assert widget.state["info"].endswith("valid, expires " + row(widget, "stytch-expires") + ".")

    stytch.config.session_duration_minutes = 90
    (extend,) = [a for a in widget.state["actions"] if a["id"] == "extend"]
    assert extend["title"] == "Extend the session to 90 min from now"
    press(widget, "extend")
    left = stytch.session.expires_in(stytch.server_now())
    assert left is not None and left > 80 * 60
    clock = widget_module.short_clock(stytch.session.expires_at)
    assert widget.state["info"] == f"Extended: now expires {clock}, in 1 h 30 min."
    assert row(widget, "stytch-expires") == f"{clock}, in 1 h 30 min"


def test_keep_me_signed_in_is_auto_extend(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    page_sends(widget, "keep_signed_in", value=True)
    assert stytch.config.auto_extend is True and widget.state["keep"]["checked"] is True
    assert "extends the session by 60 min" in widget.state["info"]
    stytch.config.auto_extend = False  # a %config change shows in the switch
    assert widget.state["keep"]["checked"] is False


def test_a_failed_refresh_shows_plain_words_and_keeps_the_session(
    make_stytch, widgets, emulator
) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=503)
    press(widget, "refresh")
    error = widget.state["error"]
    assert error["text"].startswith("Stytch is not answering")
    assert "503" in error["detail"] and "503" not in error["text"]
    assert stytch.status == "signed_in" and widget.state["status"] == f"Signed in as {EMAIL}"
    assert "forget" in action_ids(widget)  # a way out, should it go on failing


def test_sign_out_offline_offers_forget_on_this_machine(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch(heartbeat_interval=60.0, timeout=1.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", drop=True, times=5)
    press(widget, "sign_out")
    assert stytch.status == "signed_in"  # not signed out: Stytch was never told
    assert error_text(widget).startswith("Could not reach Stytch")
    assert "forget" in action_ids(widget)
    press(widget, "forget")
    assert stytch.status == "signed_out" and widget.state["kind"] == "signed-out"
    assert widget.state["error"] is None
    assert widget.state["info"].startswith("Forgotten on this machine. Stytch could not be told")


def stuck_check(make_stytch, emulator, tmp_path) -> tuple[NotebookStytch, SessionTokens]:
    """A kernel restarted while Stytch is down: its stored session cannot be confirmed."""
    shared = {"token_store": "file", "data_dir": str(tmp_path / "data")}
    source = make_stytch(heartbeat_interval=60.0, **shared)
    sign_in_with_password(source, emulator)
    tokens = SessionTokens(source.session_token.value, source.session_jwt.value)
    source.close()
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=503, times=100)
    stytch = make_stytch(heartbeat_interval=60.0, **shared)
    wait_for(lambda: stytch.last_error != "", what="the failed check")
    return stytch, tokens


def test_a_stuck_check_offers_retry_now_and_forget(
    make_stytch, widgets, emulator, tmp_path
) -> None:
    stytch, tokens = stuck_check(make_stytch, emulator, tmp_path)
    widget = make_widget(stytch, widgets)
    state = widget.state
    assert state["kind"] == "unconfirmed" and state["status"] == "Checking the stored session…"
    assert action_ids(widget) == ["retry", "forget"]
    assert state["error"]["text"].startswith("Stytch is not answering")
    emulator.clear_faults()
    press(widget, "retry")
    assert stytch.status == "signed_in" and widget.state["status"] == f"Signed in as {EMAIL}"
    assert_no_secrets(widget, tokens.opaque, tokens.jwt)


def test_a_failed_retry_is_old_news_once_a_check_succeeds(
    make_stytch, widgets, emulator, tmp_path
) -> None:
    # Retry now failed; then the heartbeat's own retry got through. "It will be tried again"
    # has happened: the page must not go on showing it, nor the Forget it brought.
    stytch, _tokens = stuck_check(make_stytch, emulator, tmp_path)
    widget = make_widget(stytch, widgets)
    press(widget, "retry")
    assert error_text(widget).startswith("Stytch is not answering")
    emulator.clear_faults()
    stytch.heartbeat.now()
    wait_for(lambda: widget.state["kind"] == "signed-in", what="the heartbeat's check")
    assert widget.state["error"] is None
    assert "forget" not in action_ids(widget)
    # An error of another action is still news after a good check: a sign-out not done.
    emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", drop=True, times=5)
    press(widget, "sign_out")
    checked = stytch.last_validated_at
    stytch.heartbeat.now()
    wait_for(lambda: stytch.last_validated_at != checked, what="the next check")
    assert error_text(widget).startswith("Could not reach Stytch")
    assert "forget" in action_ids(widget)


def test_an_error_that_echoes_a_token_is_redacted_before_it_is_cut(
    make_stytch, widgets, emulator
) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    jwt = stytch.session_jwt.value
    # The JWT straddles the one-line limit: cut first, its head would survive redaction.
    shown = widget._detail(RuntimeError(f"{'x' * 250} {jwt} trailing\nsecond line"))
    assert jwt[:12] not in shown and "second line" not in shown
    assert shown.startswith("x" * 250 + " <redacted>")
    assert widget._detail(RuntimeError("")) == "RuntimeError"


@pytest.mark.parametrize(
    ("error", "plain"),
    [
        (StytchAPIError(404, "otp_code_not_found", "x"), "That code is wrong"),
        (StytchAPIError(429, "rate_limited", "x"), "Too many tries"),
        (StytchAPIError(503, "unavailable", "x"), "Stytch is not answering"),
        (StytchNetworkError("POST sessions/authenticate: could not talk to x"), "Could not reach"),
        ("POST sessions/authenticate: could not talk to x (RemoteProtocolError: y)", "Could not"),
        ("internal_server_error (500): boom", "Stytch is not answering"),
        (RuntimeError("weird"), "Something went wrong"),
    ],
)
def test_errors_read_as_plain_words(error: Any, plain: str) -> None:
    assert widget_module.plain_error(error, 60).startswith(plain)


def test_a_refused_duration_says_what_to_do() -> None:
    text = widget_module.plain_error(StytchAPIError(400, "invalid_session_duration", "x"), 60)
    assert "does not allow 60-minute sessions" in text
    assert "Stytch dashboard" in text and "%config Stytch.session_duration_minutes = 5" in text


def test_the_same_end_reads_the_same_whatever_the_path() -> None:
    words = {
        widget_module.reason_words(reason)
        for reason in ("session expired", "ended by Stytch: session_not_found")
    }
    assert words == {"Your session ended: it expired or was revoked. Sign in again."}
    assert widget_module.reason_words("signed out in another process") == (
        "You signed out in another kernel."
    )


def test_durations_read_as_a_person_says_them() -> None:
    words = widget_module.duration_words
    assert [words(s) for s in (20, 59 * 60, 3599.4, 3600, 5400, 3 * 86400)] == [
        "<1 min",
        "59 min",
        "1 h",
        "1 h",
        "1 h 30 min",
        "3 d",
    ]


# ---- live changes from the session thread ----------------------------------------------------


def test_server_side_revoke_reaches_the_widget(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    threads: set[str] = set()
    widget.observe(lambda change: threads.add(threading.current_thread().name), "state")
    emulator.revoke_session(session_token=stytch.session_token.value)
    wait_for(lambda: widget.state["kind"] == "signed-out", what="the heartbeat")
    state = widget.state
    assert state["status"] == "Signed out" and state["rows"] == []
    assert (
        state["reason"]["text"] == "Your session ended: it expired or was revoked. Sign in again."
    )
    assert state["reason"]["detail"] == "ended by Stytch: session_not_found"
    assert threads == {"stytch-session"}  # changed by the heartbeat, not by this thread


def test_every_state_is_whole(make_stytch, widgets, emulator) -> None:
    """Each state the page receives is consistent in itself: status, rows, form and actions."""
    stytch = make_stytch()
    widget = make_widget(stytch, widgets)
    seen: list[dict[str, Any]] = []
    widget.observe(lambda change: seen.append(change["new"]), "state")
    sign_in_with_password(stytch, emulator)
    press(widget, "sign_out")
    assert len(seen) >= 2
    for state in seen:
        if state["kind"] == "signed-in":
            assert state["status"].startswith("Signed in") and state["form"] is None
            assert "sign_out" in [a["id"] for a in state["actions"]]
        else:
            assert state["kind"] == "signed-out" and state["status"] == "Signed out"
            assert state["rows"] == [] and state["actions"] == [] and state["form"] is not None


def test_two_widgets_stay_in_step(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch()
    first, second = make_widget(stytch, widgets), make_widget(stytch, widgets)
    sign_in_with_password(stytch, emulator)
    for widget in (first, second):
        assert widget.state["status"] == f"Signed in as {EMAIL}"
    press(first, "sign_out")
    assert second.state["kind"] == "signed-out"
    assert second.state["reason"]["text"] == "You signed out."


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
    assert len(data["text/plain"]) > 110
    assert stytch.session_token.value not in data["text/plain"]
    assert stytch.session_jwt.value not in data["text/plain"]


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


def assert_shows_closed(widget: SessionWidget) -> None:
    state = widget.state
    assert state["kind"] == "closed" and state["status"] == CLOSED_TEXT
    # Nothing stale: no session details, no form, no action, no error.
    assert state["rows"] == [] and state["actions"] == [] and state["form"] is None
    assert state["error"] is None and state["keep"] is None and state["busy"] == ""
    assert repr(widget) == CLOSED_TEXT


def test_a_widget_of_a_closed_manager_says_so_and_does_nothing(
    make_stytch, widgets, emulator, monkeypatch
) -> None:
    monkeypatch.setattr(widget_module, "TICK_SECONDS", 0.05)
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    signed_in = make_widget(stytch, widgets)
    ticker = widget_module.ticker_for(stytch)
    wait_for(lambda: ticker.ticks >= 1, what="a tick")

    stytch.close()
    assert_shows_closed(signed_in)  # at once: the widget observes the manager closing
    assert not ticker.armed and stytch not in widget_module._tickers

    # A click that a front end still sends starts no thread and changes nothing.
    before = set(threading.enumerate())
    press(signed_in, "refresh")
    press(signed_in, "send_code", email=EMAIL)
    page_sends(signed_in, "keep_signed_in", value=True)
    assert_shows_closed(signed_in)
    assert stytch.config.auto_extend is False
    assert stytch.threads == [] and set(threading.enumerate()) <= before
    assert [m for m in emulator.outbox() if m["kind"] == "otp"] == []

    # It no longer follows the manager (nor holds on to it through its observers).
    stytch.config.session_duration_minutes = 90
    assert_shows_closed(signed_in)


def test_a_widget_made_from_a_closed_manager_says_so(make_stytch, widgets) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    stytch.close()
    widget = make_widget(stytch, widgets)
    assert_shows_closed(widget)
    press(widget, "refresh")
    assert_shows_closed(widget)
    assert stytch.threads == []


def test_a_click_racing_the_close_shows_the_closed_state(make_stytch, widgets, emulator) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    sign_in_with_password(stytch, emulator)
    widget = make_widget(stytch, widgets)
    # The session thread is gone but the widget has not heard of it yet: the click itself
    # meets SessionClosedError.
    # A new timeout closes the client's pooled connection first (the next request would make
    # another): stopped behind the manager's back, the loop would leave that socket to the
    # garbage collector, and its ResourceWarning to whichever later test it ran in.
    stytch.config.timeout = stytch.config.timeout + 1
    stytch._loop.stop()
    press(widget, "refresh")
    assert_shows_closed(widget)
    assert stytch.threads == []


def test_close_stops_observing(make_stytch, emulator) -> None:
    stytch = make_stytch(heartbeat_interval=60.0)
    widget = stytch.widget()
    widget.close()
    assert widget.comm is None and not any(w is widget for w in registry.values())
    sign_in_with_password(stytch, emulator)
    assert widget.state["status"] == "Signed out"  # no longer follows the manager
