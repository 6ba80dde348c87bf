"""The live session widget, ``stytch.widget()``: core ipywidgets only, no JavaScript build.

It observes the manager's traits, so it changes while other cells run (the heartbeat sets
them on the session thread and ipywidgets forwards widget changes from any thread).

Stable CSS classes (for styling and browser tests):

========================  ========================================================================
``stytch-session-widget``  the root ``VBox``; it also carries one state class,
                           ``stytch-signed-in``, ``stytch-signed-out``, ``stytch-unconfirmed`` or
                           ``stytch-closed`` (the manager was closed: ``%unload_ext``), and
                           ``stytch-busy`` while a button's request runs
``stytch-status``          status line: ``Signed in as a@b.c``, ``Signed out``,
                           ``Checking the stored session…``, or once closed ``CLOSED_TEXT``
``stytch-session-id``      signed in: the short session id (``session-test-1a2b3c4d…``)
``stytch-expires``         signed in: ``in 4 min (2026-11-27 07:31:05 UTC)``
``stytch-validated``       signed in: when the server last confirmed the session
``stytch-heartbeat``       signed in or unconfirmed: ``scheduled, next check in 3 min``
``stytch-refresh``         button: check the session now (``sessions.authenticate()``)
``stytch-extend``          button: extend it by ``Stytch.session_duration_minutes``
``stytch-sign-out``        button: ``sessions.revoke()``
``stytch-email``           signed out: the email ``Text``
``stytch-send-code``       signed out: button that emails a one-time code
``stytch-code``            signed out, once a code was sent: the code ``Password`` field
``stytch-sign-in``         signed out, once a code was sent: button that signs in with the code
``stytch-info``            a one-line note (``Code sent to a@b.c``); hidden when empty
``stytch-error``           the last error, one line, never a token; hidden when empty
========================  ========================================================================

Hidden parts have ``display: none`` (their ``layout.display`` is ``"none"``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ipywidgets import HTML, Box, Button, HBox, Label, Layout, Password, Text, VBox, Widget

from ..session.errors import SessionClosedError
from . import reprs

if TYPE_CHECKING:
    from ..session.manager import SessionManager

# The widget's text only changes at whole minutes ("in 4 min"), so a tick every 20 s keeps
# it true to within a third of a minute without sending a stream of messages.
TICK_SECONDS = 20.0

WATCHED = (
    "session",
    "user",
    "session_token",
    "status",
    "last_validated_at",
    "last_error",
    "signed_out_reason",
    "heartbeat_state",
    "next_check_at",
)

STATUS_COLORS = {"signed_in": "#2e7d32", "signed_out": "#616161", "unconfirmed": "#8d6e00"}
ERROR_COLOR = "#c62828"
HIDDEN = "none"
CLOSED_TEXT = "This session was closed (%unload_ext); run stytch.widget() again"

# Core widgets size every label to a 28 px line; detail rows read better tighter. A <style> in a
# (hidden) HTML widget is the one way to style parts without a JavaScript build; it is scoped
# to this widget's classes and holds no user data (HTML widgets render their value unescaped).
CSS = """<style>
.stytch-session-widget .stytch-row { height: 22px; }
.stytch-session-widget .stytch-row .widget-label { height: 22px; line-height: 22px; }
</style>"""


class _Ticker:
    """One timer per manager, on the manager's own loop, refreshing all its live widgets.

    Running on the session loop (not a thread of its own) means a ticker can never outlive
    its manager: when the manager closes, its loop stops and the timer goes with it. Widgets
    are held until they close or the manager does; the timer is cancelled when none is left.
    """

    def __init__(self, manager: SessionManager) -> None:
        self._loop_thread = manager._loop
        self._lock = threading.Lock()
        self._widgets: set[SessionWidget] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._handle_loop: asyncio.AbstractEventLoop | None = None
        self.ticks = 0

    @property
    def armed(self) -> bool:
        handle = self._handle
        return handle is not None and not handle.cancelled()

    def add(self, widget: SessionWidget) -> None:
        with self._lock:
            self._widgets.add(widget)
        self.ensure()

    def discard(self, widget: SessionWidget) -> None:
        with self._lock:
            self._widgets.discard(widget)
            empty = not self._widgets
        if empty:
            self._on_loop(self._disarm)

    def _live(self) -> list[SessionWidget]:
        with self._lock:
            return list(self._widgets)

    def ensure(self) -> None:
        """Arm the timer if widgets need it (called on every state change: cheap)."""
        if not self.armed and self._live():
            self._on_loop(self._arm)

    def _on_loop(self, callback: Callable[[], None]) -> None:
        # call_soon only acts on a running loop: a closed manager is never restarted here.
        if self._loop_thread.in_loop_thread():
            callback()
        else:
            self._loop_thread.call_soon(callback)

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        if self.armed and self._handle_loop is loop:
            return
        if self._live():
            self._handle = loop.call_later(TICK_SECONDS, self._tick)
            self._handle_loop = loop

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._handle_loop = None

    def _tick(self) -> None:
        self._handle = self._handle_loop = None
        self.ticks += 1
        for widget in self._live():
            widget.refresh()
        self._arm()

    def manager_closed(self) -> None:
        # The loop has stopped with the timer on it; drop the handle and every widget.
        with self._lock:
            self._widgets.clear()
        self._disarm()


# Keyed weakly: a manager dropped without close() takes its ticker with it.
_tickers: weakref.WeakKeyDictionary[SessionManager, _Ticker] = weakref.WeakKeyDictionary()
_tickers_lock = threading.Lock()


def ticker_for(manager: SessionManager) -> _Ticker:
    with _tickers_lock:
        ticker = _tickers.get(manager)
        if ticker is None:
            ticker = _tickers[manager] = _Ticker(manager)
        return ticker


def _forget_ticker(manager: SessionManager) -> None:
    with _tickers_lock:
        ticker = _tickers.pop(manager, None)
    if ticker is not None:
        ticker.manager_closed()


def _row(key: str, value: Label) -> HBox:
    name = Label(key, layout=Layout(width="5.5em", margin="0 4px 0 0"))
    name.style.text_color = "#757575"
    name.add_class("stytch-key")
    row = HBox([name, value], layout=Layout(margin="0"))
    row.add_class("stytch-row")
    return row


def _button(description: str, cls: str, tooltip: str, style: str = "") -> Button:
    button = Button(
        description=description,
        tooltip=tooltip,
        button_style=style,
        layout=Layout(width="auto", min_width="5.5em", height="26px"),
    )
    button.add_class(cls)
    return button


def _label(cls: str) -> Label:
    label = Label("")
    label.add_class(cls)
    return label


def _show(widget: Box | Label | HTML, visible: bool) -> None:
    widget.layout.display = None if visible else HIDDEN


class SessionWidget(VBox):
    """A live view of a ``SessionManager`` with sign-in (email code), refresh, extend and sign out.

    Button requests run on the manager's session loop (the ``_async`` twins submitted there),
    so a click returns at once and the kernel stays free while Stytch answers; the widget
    updates when the request finishes. ``wait()`` blocks until then (scripts and tests).
    """

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._render_lock = threading.RLock()
        self._busy = False
        self._action_error = ""
        self._info = ""
        self._method_id: str | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False  # this widget was closed
        self._ended = False  # the manager was closed: the widget says so and does nothing
        self._attached = False  # observing the manager (and on its ticker)
        self._ticker: _Ticker | None = None

        self._status = _label("stytch-status")
        self._status.style.font_weight = "600"

        self._session_id = _label("stytch-session-id")
        self._expires = _label("stytch-expires")
        self._validated = _label("stytch-validated")
        self._heartbeat = _label("stytch-heartbeat")
        self._refresh_button = _button(
            "Refresh", "stytch-refresh", "Check the session with Stytch now"
        )
        self._extend_button = _button("Extend", "stytch-extend", "")
        self._sign_out_button = _button(
            "Sign out", "stytch-sign-out", "Revoke the session at Stytch"
        )
        self._details = VBox(
            [
                _row("session", self._session_id),
                _row("expires", self._expires),
                _row("validated", self._validated),
            ],
            layout=Layout(margin="0"),
        )
        self._heartbeat_row = _row("heartbeat", self._heartbeat)
        self._actions = HBox(
            [self._refresh_button, self._extend_button, self._sign_out_button],
            layout=Layout(margin="4px 0 0 0"),
        )

        self._email = Text(placeholder="you@example.com", layout=Layout(width="16em"))
        self._email.add_class("stytch-email")
        self._send_button = _button(
            "Send code", "stytch-send-code", "Email a one-time sign-in code", "primary"
        )
        self._code = Password(placeholder="code from the email", layout=Layout(width="16em"))
        self._code.add_class("stytch-code")
        self._sign_in_button = _button(
            "Sign in", "stytch-sign-in", "Sign in with the emailed code", "primary"
        )
        self._code_row = HBox([self._code, self._sign_in_button], layout=Layout(margin="0"))
        self._form = VBox(
            [HBox([self._email, self._send_button], layout=Layout(margin="0")), self._code_row],
            layout=Layout(margin="2px 0 0 0"),
        )

        self._info_label = _label("stytch-info")
        self._error = _label("stytch-error")
        self._error.style.text_color = ERROR_COLOR
        style = HTML(CSS, layout=Layout(display=HIDDEN))
        style.add_class("stytch-style")

        super().__init__(
            children=[
                self._status,
                self._details,
                self._heartbeat_row,
                self._actions,
                self._form,
                self._info_label,
                self._error,
                style,
            ],
            layout=Layout(
                border="1px solid #d0d7de",
                padding="4px 10px 6px 10px",
                margin="4px 0",
                width="fit-content",
                min_width="24em",
            ),
        )
        self.add_class("stytch-session-widget")

        self._refresh_button.on_click(lambda _: self._do_refresh())
        self._extend_button.on_click(lambda _: self._do_extend())
        self._sign_out_button.on_click(lambda _: self._do_sign_out())
        self._send_button.on_click(lambda _: self._do_send_code())
        self._sign_in_button.on_click(lambda _: self._do_sign_in())

        self._attach()
        self.refresh()

    # ---- public ----------------------------------------------------------------------------

    @property
    def manager(self) -> SessionManager:
        return self._manager

    @property
    def busy(self) -> bool:
        """Whether a button's request is still running."""
        return self._busy

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running button request (if any) has finished and been shown."""
        if not self._idle.wait(timeout):
            raise TimeoutError("the Stytch request is still running")

    def refresh(self) -> None:
        """Re-render from the manager's current state (state changes and the ticker call this)."""
        if self._closed:
            return
        with self._render_lock:
            self._render()

    def close(self) -> None:
        """Stop observing the manager and close this widget and every child widget."""
        self._closed = True
        # getattr: Widget.__del__ calls close(), even on an instance whose __init__ failed.
        if getattr(self, "_attached", False):
            self._detach()
        for child in list(_descendants(self)):
            child.close()
        super().close()

    # ---- following the manager -----------------------------------------------------------------

    def _attach(self) -> None:
        manager = self._manager
        # "closed" first: a close() from now on is heard, one from before is seen below.
        manager.observe(self._on_manager_closed, names="closed")
        manager.observe(self._on_manager_change, names=list(WATCHED))
        manager.config.observe(self._on_manager_change, names="session_duration_minutes")
        self._attached = True
        if manager.closed:
            self._end()
            return
        self._ticker = ticker_for(manager)
        self._ticker.add(self)

    def _detach(self) -> None:
        """Stop observing the manager; after this nothing there refers to the widget."""
        with self._render_lock:
            if not self._attached:
                return
            self._attached = False
            ticker, self._ticker = self._ticker, None
        manager = self._manager
        manager.unobserve(self._on_manager_closed, names="closed")
        manager.unobserve(self._on_manager_change, names=list(WATCHED))
        manager.config.unobserve(self._on_manager_change, names="session_duration_minutes")
        if ticker is not None:
            ticker.discard(self)

    def _end(self) -> None:
        """The manager is closed: show that for good, and stop following it."""
        with self._render_lock:
            self._ended = True
        self._detach()
        self.refresh()

    def _on_manager_closed(self, change: dict[str, Any]) -> None:
        if change["new"]:
            _forget_ticker(self._manager)
            self._end()

    def __repr__(self) -> str:
        manager = getattr(self, "_manager", None)
        if manager is None:
            return "<SessionWidget (not set up)>"
        return reprs.manager_text(manager)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        # ipywidgets puts repr(self) cut at 110 characters in text/plain; give the whole text
        # for terminals, nbconvert and anything else that cannot render widgets.
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = repr(self)
        return bundle

    # ---- rendering ---------------------------------------------------------------------------

    def _on_manager_change(self, change: dict[str, Any]) -> None:
        self.refresh()
        ticker = self._ticker
        if ticker is not None:
            ticker.ensure()

    def _render(self) -> None:
        manager = self._manager
        if self._ended or manager.closed:
            self._render_closed()
            return
        self.remove_class("stytch-closed")
        status = manager.status
        signed_in = status == "signed_in"
        user, session = manager.user, manager.session

        for state in STATUS_COLORS:
            if state != status:
                self.remove_class(f"stytch-{state.replace('_', '-')}")
        self.add_class(f"stytch-{status.replace('_', '-')}")
        if self._busy:
            self.add_class("stytch-busy")
        else:
            self.remove_class("stytch-busy")

        if signed_in:
            self._status.value = f"Signed in as {reprs.user_label(user)}"
            self._method_id = None  # a sign-in (from here or a cell) completes the form
            self._info = ""
        elif status == "unconfirmed":
            self._status.value = "Checking the stored session…"
        else:
            reason = manager.signed_out_reason
            self._status.value = f"Signed out ({reason})" if reason else "Signed out"
        self._status.style.text_color = STATUS_COLORS[status]

        if signed_in and session is not None:
            server_now = manager.server_now()
            self._session_id.value = reprs.short_id(session.session_id)
            expires = reprs.expires_text(session, server_now)
            if session.expires_at is not None:
                expires += f" ({reprs.clock(session.expires_at)})"
            self._expires.value = expires
        else:
            self._session_id.value = self._expires.value = ""
        validated = manager.last_validated_at
        self._validated.value = (
            reprs.relative((validated - datetime.now(timezone.utc)).total_seconds())
            if signed_in and validated is not None
            else ""
        )
        self._heartbeat.value = reprs.heartbeat_text(manager) if status != "signed_out" else ""
        minutes = manager.config.session_duration_minutes
        self._extend_button.tooltip = f"Extend the session to {minutes} min from now"

        _show(self._details, signed_in)
        _show(self._heartbeat_row, status != "signed_out")
        _show(self._actions, signed_in)
        _show(self._form, status == "signed_out")
        _show(self._code_row, self._method_id is not None)

        for control in self._controls():
            control.disabled = self._busy

        self._info_label.value = self._info
        _show(self._info_label, bool(self._info))
        # The manager keeps its last error after a sign-out; by then it is old news.
        error = self._action_error or (manager.last_error if status != "signed_out" else "")
        self._error.value = reprs.one_line(error) if error else ""
        _show(self._error, bool(error))

    def _render_closed(self) -> None:
        for state in STATUS_COLORS:
            self.remove_class(f"stytch-{state.replace('_', '-')}")
        self.remove_class("stytch-busy")
        self.add_class("stytch-closed")
        self._status.value = CLOSED_TEXT
        self._status.style.text_color = STATUS_COLORS["signed_out"]
        self._code.value = ""
        # One line and nothing else: the session details would only go stale.
        for part in (
            self._details,
            self._heartbeat_row,
            self._actions,
            self._form,
            self._info_label,
            self._error,
        ):
            _show(part, False)
        for control in self._controls():
            control.disabled = True

    def _controls(self) -> tuple[Button | Text, ...]:
        return (
            self._refresh_button,
            self._extend_button,
            self._sign_out_button,
            self._send_button,
            self._sign_in_button,
            self._email,
            self._code,
        )

    # ---- button actions ----------------------------------------------------------------------

    def _do_refresh(self) -> None:
        self._submit(lambda: self._manager.sessions.authenticate_async())

    def _do_extend(self) -> None:
        minutes = self._manager.config.session_duration_minutes
        self._submit(lambda: self._manager.sessions.authenticate_async(minutes))

    def _do_sign_out(self) -> None:
        self._submit(lambda: self._manager.sessions.revoke_async())

    def _do_send_code(self) -> None:
        email = self._email.value.strip()
        if not email:
            self._fail("enter your email address first")
            return

        def sent(method_id: Any) -> None:
            self._method_id = str(method_id)
            self._info = f"Code sent to {email}"

        self._submit(lambda: self._manager.otps.email.login_or_create_async(email), sent)

    def _do_sign_in(self) -> None:
        # Clear the field before anything else: the code must not stay in widget state,
        # not even while the request runs or after it fails.
        code = self._code.value
        self._code.value = ""
        if not code.strip():
            self._fail("enter the code from the email")
            return
        method_id = self._method_id
        self._submit(
            lambda: self._manager.otps.authenticate_async(code.strip(), method_id),
            secrets=(code,),
        )

    def _fail(self, message: str) -> None:
        with self._render_lock:
            self._action_error = message
            self.refresh()

    def _submit(
        self,
        make: Callable[[], Coroutine[Any, Any, Any]],
        on_success: Callable[[Any], None] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        with self._render_lock:
            if self._busy or self._closed:
                return
            ended = self._ended or self._manager.closed
            if not ended:
                self._busy = True
                self._idle.clear()
                self._action_error = ""
                self.refresh()
        if ended:  # a front end may still send a click: it starts nothing
            self._end()
            return
        try:
            future = self._manager.submit(make())
        except Exception as exc:  # SessionClosedError (the close is on its way), or the like
            self._finish(None, exc, on_success, secrets)
            return

        def done(f: concurrent.futures.Future[Any]) -> None:
            # Runs on the session thread, right after the request finished.
            if f.cancelled():
                self._finish(None, RuntimeError("the request was cancelled"), None, secrets)
            elif f.exception() is not None:
                self._finish(None, f.exception(), None, secrets)
            else:
                self._finish(f.result(), None, on_success, secrets)

        future.add_done_callback(done)

    def _finish(
        self,
        result: Any,
        error: BaseException | None,
        on_success: Callable[[Any], None] | None,
        secrets: tuple[str, ...],
    ) -> None:
        ended = isinstance(error, SessionClosedError)
        with self._render_lock:
            if ended:
                self._ended = True
            elif error is None:
                if on_success is not None:
                    on_success(result)
            else:
                self._action_error = self._error_text(error, secrets)
            self._busy = False
            self.refresh()
        if ended:
            self._detach()
        self._idle.set()

    def _error_text(self, error: BaseException, secrets: tuple[str, ...]) -> str:
        """One line, no traceback, and no token or code even if a message echoed one."""
        text = str(error)  # redacted whole, before one_line could cut a token in two
        manager = self._manager
        known = [*secrets]
        for token in (manager.session_token, manager.session_jwt):
            if token is not None:
                known.append(token.value)
        for secret in known:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "<redacted>")
        return reprs.one_line(text) or type(error).__name__


def _descendants(widget: Widget) -> Iterator[Widget]:
    """Every widget this one refers to (children, layouts, styles), depth first."""
    seen: set[int] = set()
    stack = [widget]
    while stack:
        current = stack.pop()
        for name in current.keys:
            value = getattr(current, name, None)
            items = value if isinstance(value, (list, tuple)) else (value,)
            for item in items:
                if isinstance(item, Widget) and id(item) not in seen and item is not widget:
                    seen.add(id(item))
                    stack.append(item)
                    yield item
