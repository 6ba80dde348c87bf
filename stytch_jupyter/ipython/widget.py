"""The live session widget, ``stytch.widget()``: one anywidget model, one state, one render.

Why anywidget: one model, one ES module (``widget.js``) and one CSS file (``widget.css``) beside
this file, custom messages, and the same code runs in JupyterLab, Notebook 7, VS Code, Colab and
marimo, with no JavaScript build.

The kernel computes everything the page shows into one synced ``state`` dict (texts included,
from ``reprs``, so the widget and the text reprs agree); the page renders a state in one go, so
no frame ever mixes two states. The page talks back with custom messages (``{"action": ...}``).
A secret (a code, later a pasted link) only ever travels in such a message, read from the field
at submit time: it is never a synced trait, so it never reaches widget state or a saved notebook,
and the page clears the field as it sends it.

The CSS-class contract (for users' styles and the browser tests):

========================  ========================================================================
``stytch-session-widget``  the root; it also carries one state class: ``stytch-signed-in``,
                           ``stytch-signed-out``, ``stytch-unconfirmed`` (a stored session not yet
                           confirmed) or ``stytch-closed`` (``%unload_ext``); and ``stytch-busy``
                           while a request runs
``stytch-status``          ``Signed in as a@b.c``, ``Signed out``, ``Checking the stored session…``
``stytch-reason``          signed out: why, in plain words (``You signed out.``)
``stytch-session-id``,     signed in: the session's rows (short id, expiry, last check), and
``stytch-expires``,        ``stytch-heartbeat`` while a session is held
``stytch-validated``
``stytch-refresh``         check the session now; ``stytch-extend`` extend it by
                           ``Stytch.session_duration_minutes``; ``stytch-sign-out`` revoke it
``stytch-retry``           a stored session that cannot be checked: try again now
``stytch-forget``          forget the session on this machine even if Stytch cannot be reached
                           (``revoke(force_clear=True)``)
``stytch-keep``            signed in: the "Keep me signed in" switch (``Stytch.auto_extend``)
``stytch-email``           signed out: the email input; ``stytch-send-code`` emails a code
``stytch-code``            once a code was sent: the code input; ``stytch-sign-in`` submits it
``stytch-info``            a one-line note (``Code sent to a@b.c``)
``stytch-error``           the last error in plain words; its details in a disclosure
``stytch-provider-<id>``   signed out, where a redirect can come back: "Continue with <provider>"
                           (``Stytch.oauth_providers``); opens a window on the OAuth start URL
``stytch-paste``           signed out: a box for the address a redirect opened (a magic link or
                           the relay page's copy); ``stytch-paste-submit`` finishes the sign-in
========================  ========================================================================

A redirect's token reaches the kernel only in a message (a paste, or the relay page's
``postMessage`` forwarded from the origin ``state["relay_origin"]`` only), never as state; the
PKCE verifier never leaves the kernel.

A B2B project's widget is the same model: ``b2b_widget.py`` adds what it shows (the discovery
form, the organization picker, the MFA step, the member and organization, switching) and does;
the root then also carries ``stytch-needs-organization`` or ``stytch-needs-mfa``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
import weakref
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import anywidget
import traitlets

from ..api.errors import StytchAPIError, StytchError, StytchNetworkError
from ..session.errors import RedirectError, SessionClosedError
from ..session.redirect.links import Redirect, parse_redirect
from . import reprs
from .b2b_widget import BUSY_LABELS as B2B_BUSY_LABELS
from .b2b_widget import B2BPart, plain_b2b_error

if TYPE_CHECKING:
    from ..session.manager import SessionManager

HERE = Path(__file__).resolve().parent

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
    *B2BPart.WATCHED,
)
WATCHED_CONFIG = ("session_duration_minutes", "auto_extend")

CLOSED_TEXT = "This session was closed (%unload_ext); run stytch.widget() again"

# What a button says while its request runs (a B2B project's buttons too).
BUSY_LABELS = {
    **B2B_BUSY_LABELS,
    "send_code": "Sending…",
    "sign_in": "Signing in…",
    "refresh": "Checking…",
    "retry": "Checking…",
    "extend": "Extending…",
    "sign_out": "Signing out…",
    "forget": "Forgetting…",
}


class _Ticker:
    """One timer per manager, a task on the manager's own loop, refreshing its live widgets.

    Running on the session loop (through ``SessionManager.submit``) means a ticker can never
    outlive its manager: when the manager closes, its loop stops and the task goes with it.
    """

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._lock = threading.Lock()
        self._widgets: set[SessionWidget] = set()
        self._future: concurrent.futures.Future[None] | None = None
        self.ticks = 0

    @property
    def armed(self) -> bool:
        future = self._future
        return future is not None and not future.done()

    def add(self, widget: SessionWidget) -> None:
        with self._lock:
            self._widgets.add(widget)
        self.ensure()

    def discard(self, widget: SessionWidget) -> None:
        with self._lock:
            self._widgets.discard(widget)
            future = self._future if not self._widgets else None
        if future is not None:
            future.cancel()

    def _live(self) -> list[SessionWidget]:
        with self._lock:
            return list(self._widgets)

    def ensure(self) -> None:
        """Start the timer if widgets need it (called on every state change: cheap)."""
        with self._lock:
            if self.armed or not self._widgets or self._manager.closed:
                return
            try:
                self._future = self._manager.submit(self._run())
            except SessionClosedError:
                self._future = None

    async def _run(self) -> None:
        while self._live():
            await asyncio.sleep(TICK_SECONDS)
            self.ticks += 1
            for widget in self._live():
                widget.refresh()

    def manager_closed(self) -> None:
        with self._lock:
            self._widgets.clear()
            future, self._future = self._future, None
        if future is not None:
            future.cancel()


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


# ---- words -----------------------------------------------------------------------------------


def duration_words(seconds: float) -> str:
    """``1 h``, ``1 h 30 min``, ``4 min``: rounded to the minute, as a person says it."""
    minutes = max(round(seconds / 60), 0)
    if minutes < 60:
        return "<1 min" if minutes < 1 else f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{round(hours / 24)} d"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def short_clock(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%H:%M UTC")


def expiry_words(expires_at: datetime | None, now: datetime) -> str:
    """``21:46 UTC, in 1 h`` (``now`` on the server's clock)."""
    if expires_at is None:
        return "unknown"
    left = (expires_at - now).total_seconds()
    if left <= 0:
        return f"{short_clock(expires_at)}, expired"
    return f"{short_clock(expires_at)}, in {duration_words(left)}"


def reason_words(reason: str) -> str:
    """Why the last session ended, in plain words (the raw reason goes in the details)."""
    if not reason:
        return ""
    if reason == "revoked":
        return "You signed out."
    if "force_clear" in reason:
        return "The session was forgotten on this machine."
    if reason.startswith("ended by Stytch") or reason == "session expired":
        return "Your session ended: it expired or was revoked. Sign in again."
    if "another process" in reason:
        return "You signed out in another kernel."
    if "public token" in reason:
        return "The project changed (a new public token): sign in to it."
    return f"Signed out: {reason}."


PLAIN_API_ERRORS = {
    "otp_code_not_found": "That code is wrong or has expired. Check the email, or send a new code.",
    "unauthorized_credentials": "That email or password is wrong.",
    "session_not_found": "Your session has ended. Sign in again.",
    "invalid_email": "That is not an email address Stytch accepts.",
    "too_many_requests": "Too many tries. Wait a minute, then try again.",
}


def plain_error(error: BaseException | str, minutes: int) -> str:
    """What went wrong, for a person: no machine codes first (those are in the details)."""
    if isinstance(error, StytchAPIError):
        error_type, status = error.error_type, error.status_code
    elif isinstance(error, str):
        error_type, status = _parse_api_error(error)
    else:
        error_type, status = "", 0
    if error_type == "invalid_session_duration":
        return reprs.duration_hint(minutes)
    b2b = plain_b2b_error(error_type)
    if b2b is not None:
        return b2b
    if error_type in PLAIN_API_ERRORS:
        return PLAIN_API_ERRORS[error_type]
    if status == 429:
        return PLAIN_API_ERRORS["too_many_requests"]
    if status >= 500:
        return "Stytch is not answering properly right now. It will be tried again."
    network = isinstance(error, StytchNetworkError) or (
        isinstance(error, str) and ("could not talk to" in error or "timed out" in error)
    )
    if network:
        return "Could not reach Stytch. Check the connection; it will be tried again."
    if isinstance(error, (ValueError, TypeError)):
        return reprs.one_line(error)
    return "Something went wrong talking to Stytch."


def _parse_api_error(text: str) -> tuple[str, int]:
    # StytchAPIError's text is "error_type (status): message"; the manager keeps it as text.
    head, _, rest = text.partition(" (")
    code = rest[:3]
    if head and head.replace("_", "").isalnum() and code.isdigit() and rest[3:5] == "):":
        return head, int(code)
    return "", 0


# ---- the widget ------------------------------------------------------------------------------


class SessionWidget(anywidget.AnyWidget):
    """A live view of a ``SessionManager``: sign in with an emailed code, refresh, extend, sign
    out, and a way out of every stuck state (retry now, forget on this machine).

    Requests run on the manager's session loop (``SessionManager.submit``), so a click returns
    at once and the kernel stays free while Stytch answers. ``wait()`` blocks until the running
    request has finished and been shown (scripts and tests).
    """

    _esm = (HERE / "widget.js").read_text(encoding="utf-8")
    _css = (HERE / "widget.css").read_text(encoding="utf-8")

    state = traitlets.Dict().tag(sync=True)

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._render_lock = threading.RLock()
        self._busy = ""  # the action whose request runs
        self._error: BaseException | str | None = None  # the last action's error
        self._check_error: BaseException | str | None = None  # ... when that action was a check
        self._info = ""
        self._email = ""
        self._method_id: str | None = None
        self._reason_seen = ""  # a signed-out reason the user has moved on from
        self._focus = ""  # where the page should move focus next
        self._focus_id = 0
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False  # this widget was closed
        self._ended = False  # the manager was closed: the widget says so and does nothing
        self._attached = False  # observing the manager (and on its ticker)
        self._ticker: _Ticker | None = None
        self._b2b: B2BPart | None = None  # made when the project is known to be B2B
        super().__init__()
        self.on_msg(self._on_page_message)
        self._attach()
        self.refresh()
        self._follow_vertical()

    # ---- public ----------------------------------------------------------------------------

    @property
    def manager(self) -> SessionManager:
        return self._manager

    @property
    def busy(self) -> bool:
        """Whether a request started from the widget is still running."""
        return bool(self._busy)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running request (if any) has finished and been shown."""
        if not self._idle.wait(timeout):
            raise TimeoutError("the Stytch request is still running")

    def refresh(self) -> None:
        """Recompute the state from the manager (state changes and the ticker call this)."""
        if self._closed:
            return
        with self._render_lock:
            self.state = self._view()

    def receive(self, message: dict[str, Any]) -> None:
        """Handle one message from the page: ``{"action": "sign_in", "code": "…"}`` and so on.

        Unknown or malformed messages are ignored: the page is not trusted to be ours.
        """
        if not isinstance(message, dict):
            return
        action = message.get("action")
        if action == "keep_signed_in":
            self._keep_signed_in(bool(message.get("value")))
            return
        if not isinstance(action, str):
            return
        b2b = self._b2b_part()
        if b2b is not None:
            b2b_handler = b2b.actions().get(action)
            if b2b_handler is not None:
                b2b_handler(message)
                return
            if action not in _SHARED_ACTIONS:
                return  # a consumer button a B2B widget never shows
        handler = self._ACTIONS.get(action)
        if handler is not None:
            handler(self, message)

    def close(self) -> None:
        """Stop observing the manager and close this widget."""
        self._closed = True
        # getattr: Widget.__del__ calls close(), even on an instance whose __init__ failed.
        if getattr(self, "_attached", False):
            self._detach()
        super().close()

    def __repr__(self) -> str:
        manager = getattr(self, "_manager", None)
        if manager is None:
            return "<SessionWidget (not set up)>"
        if self._ended or manager.closed:
            return CLOSED_TEXT
        return reprs.manager_text(manager)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # The text fallback, whole (anywidget cuts nothing, but says little): for terminals,
        # nbconvert and every front end without widgets.
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, metadata = bundle
            return {**data, "text/plain": repr(self)}, metadata
        return bundle

    # ---- following the manager -------------------------------------------------------------

    def _b2b_part(self) -> B2BPart | None:
        """The B2B part, for a B2B project (``Stytch.vertical = "auto"``: once it is known)."""
        if self._manager.vertical.name != "b2b":
            return None
        if self._b2b is None:
            self._b2b = B2BPart(self._manager, _Runner(self))
        return self._b2b

    def _follow_vertical(self) -> None:
        """With ``Stytch.vertical = "auto"``, render again once the bootstrap has said which
        kind of project this is (no trait changes when it does)."""
        manager = self._manager
        if manager.closed or manager.in_session_thread() or manager.wait_for_vertical(0):
            return

        def wait() -> None:
            if manager.wait_for_vertical(30):
                self.refresh()

        threading.Thread(target=wait, name="stytch-widget-vertical", daemon=True).start()

    def _attach(self) -> None:
        manager = self._manager
        # "closed" first: a close() from now on is heard, one from before is seen below.
        manager.observe(self._on_manager_closed, names="closed")
        manager.observe(self._on_manager_change, names=list(WATCHED))
        manager.config.observe(self._on_manager_change, names=list(WATCHED_CONFIG))
        self._attached = True
        if manager.closed:
            self._end()
            return
        self._ticker = ticker_for(manager)
        self._ticker.add(self)

    def _detach(self) -> None:
        with self._render_lock:
            if not self._attached:
                return
            self._attached = False
            ticker, self._ticker = self._ticker, None
        manager = self._manager
        manager.unobserve(self._on_manager_closed, names="closed")
        manager.unobserve(self._on_manager_change, names=list(WATCHED))
        manager.config.unobserve(self._on_manager_change, names=list(WATCHED_CONFIG))
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

    def _on_manager_change(self, change: dict[str, Any]) -> None:
        name = change.get("name")
        if name == "status":
            with self._render_lock:
                # A sign-in that came back by itself (a redirect) makes "continue in the
                # window" old news; a request of the widget's own says what it did afterwards.
                if not self._busy:
                    self._info = ""
        elif name == "last_validated_at" and change.get("new") is not None:
            with self._render_lock:
                # A check that failed ("it will be tried again") is old news once one got through.
                if self._error is self._check_error:
                    self._error = None
        self.refresh()
        ticker = self._ticker
        if ticker is not None:
            ticker.ensure()

    # ---- the state the page renders ----------------------------------------------------------

    def _view(self) -> dict[str, Any]:
        manager = self._manager
        base: dict[str, Any] = {
            "kind": "closed",
            "status": CLOSED_TEXT,
            "reason": None,
            "rows": [],
            "actions": [],
            "keep": None,
            "form": None,
            "providers": [],  # "Continue with <provider>" buttons, when a way back exists
            "relay_origin": None,  # where the relay page's message may come from
            "paste": False,  # the box for a redirect's address that could not come back
            "vertical": manager.vertical.name,
            "orgs": None,  # B2B: the organization picker (after a discovery, or to switch)
            "create": None,  # B2B: "Create organization", where the project allows it
            "mfa": None,  # B2B: the MFA step
            "sso": None,  # B2B: "Continue with SSO" for the configured organization
            "busy": self._busy,
            "busy_label": BUSY_LABELS.get(self._busy, ""),
            "info": "",
            "error": None,
            "focus": self._focus,
            "focus_id": self._focus_id,
        }
        if self._ended or manager.closed:
            return base
        status = manager.status
        minutes = manager.config.session_duration_minutes
        base["kind"] = status.replace("_", "-")
        base["info"] = self._info
        error = self._error if self._error is not None else manager.last_error
        if status == "signed_out" and self._error is None:
            error = ""  # the manager keeps its last error after a sign-out: old news by then
        if error:
            base["error"] = {"text": plain_error(error, minutes), "detail": self._detail(error)}
        b2b = self._b2b_part()
        if status == "signed_in":
            self._reason_seen = ""  # the next sign-out's reason is news again
            base["status"] = f"Signed in as {reprs.user_label(manager.user)}"
            base["rows"] = self._session_rows()
            base["actions"] = [
                _action("refresh", "Refresh", "Check the session with Stytch now"),
                _action("extend", "Extend", f"Extend the session to {minutes} min from now"),
                _action("sign_out", "Sign out", "Revoke the session at Stytch and forget it here"),
            ]
            if error:  # e.g. a sign-out that could not reach Stytch: a way out all the same
                base["actions"].append(_forget_action())
            base["keep"] = {
                "checked": manager.config.auto_extend,
                "label": "Keep me signed in",
                "title": f"Extend the session by {minutes} min at every heartbeat check",
            }
            if b2b is not None:
                b2b.signed_in(base)
        elif status == "unconfirmed":
            base["status"] = "Checking the stored session…"
            base["rows"] = [["heartbeat", reprs.heartbeat_text(manager), "stytch-heartbeat"]]
            base["actions"] = [
                _action("retry", "Retry now", "Check the stored session with Stytch now"),
                _forget_action(),
            ]
        elif b2b is not None and status == "needs_organization":
            b2b.needs_organization(base)
            base["relay_origin"] = self._redirect_view().get("relay_origin")
        elif b2b is not None and status == "needs_mfa":
            b2b.needs_mfa(base)
        else:
            base["status"] = "Signed out"
            reason = manager.signed_out_reason
            if reason and reason != self._reason_seen:
                base["reason"] = {"text": reason_words(reason), "detail": reason}
            base["form"] = {
                "step": "code" if self._method_id is not None else "email",
                "email": self._email,
                "send_label": "Send a new code" if self._method_id is not None else "Send code",
            }
            if b2b is not None:
                b2b.signed_out(base)
                base["relay_origin"] = self._redirect_view().get("relay_origin")
            else:
                base.update(self._redirect_view())
        return base

    def _redirect_view(self) -> dict[str, Any]:
        """The OAuth buttons (only where a redirect can come back) and the paste box."""
        from ..session.errors import RedirectRouteError
        from ..session.oauth import PROVIDERS

        try:
            # A button's click reports the page's origin: a route needing one is open to it.
            route = self._manager.redirect.route(from_page=True)
        except RedirectRouteError:
            return {"paste": True}
        view: dict[str, Any] = {"paste": True}
        if route.name != "paste":
            view["providers"] = [
                {"id": p, "name": provider_name(p), "title": f"Sign in with {provider_name(p)}"}
                for p in self._manager.config.oauth_providers
                if p in PROVIDERS
            ]
        if route.name == "relay" and route.callback_url:
            parts = urlsplit(route.callback_url)
            view["relay_origin"] = f"{parts.scheme}://{parts.netloc}"
        return view

    def _session_rows(self) -> list[list[str]]:
        manager = self._manager
        session = manager.session
        rows: list[list[str]] = []
        if session is not None:
            rows.append(["session", reprs.short_id(session.session_id), "stytch-session-id"])
            rows.append(
                [
                    "expires",
                    expiry_words(session.expires_at, manager.server_now()),
                    "stytch-expires",
                ]
            )
        validated = manager.last_validated_at
        if validated is not None:
            ago = reprs.relative((validated - datetime.now(timezone.utc)).total_seconds())
            rows.append(["checked", ago, "stytch-validated"])
        rows.append(["heartbeat", reprs.heartbeat_text(manager, settings=True), "stytch-heartbeat"])
        return rows

    def _detail(self, error: BaseException | str) -> str:
        """The error's own words, one line, with no token or code even if it echoed one."""
        text = str(error) or type(error).__name__
        manager = self._manager
        for token in (
            manager.session_token,
            manager.session_jwt,
            manager.intermediate_session_token,
        ):
            if token is not None and len(token.value) >= 4:
                text = text.replace(token.value, "<redacted>")
        return reprs.one_line(text, limit=300)

    # ---- actions -----------------------------------------------------------------------------

    def _on_page_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        self.receive(content)

    def _do_refresh(self, message: dict[str, Any]) -> None:
        self._run("refresh", lambda: self._manager.sessions.authenticate_async(), self._checked)

    def _do_retry(self, message: dict[str, Any]) -> None:
        self._run("retry", lambda: self._manager.sessions.authenticate_async(), self._checked)

    def _do_extend(self, message: dict[str, Any]) -> None:
        minutes = self._manager.config.session_duration_minutes
        self._run(
            "extend", lambda: self._manager.sessions.authenticate_async(minutes), self._extended
        )

    def _do_sign_out(self, message: dict[str, Any]) -> None:
        self._run("sign_out", lambda: self._manager.sessions.revoke_async(), focus="email")

    def _do_forget(self, message: dict[str, Any]) -> None:
        self._run(
            "forget",
            lambda: self._manager.sessions.revoke_async(force_clear=True),
            focus="email",
            forgetting=True,
        )

    def _do_send_code(self, message: dict[str, Any]) -> None:
        email = message.get("email")
        email = email.strip() if isinstance(email, str) else ""
        if not email:
            self._refuse("Enter your email address first.", focus="email")
            return
        self._email = email
        self._reason_seen = self._manager.signed_out_reason  # a new sign-in: the old news goes

        def sent(method_id: Any) -> None:
            self._method_id = str(method_id)
            self._info = f"Code sent to {email}" + reprs.mailbox_hint(self._manager.mailbox_url)

        self._run(
            "send_code",
            lambda: self._manager.otps.email.login_or_create_async(email),
            sent,
            focus="code",
        )

    def _do_sign_in(self, message: dict[str, Any]) -> None:
        # The code arrives here, in a message, once: it is passed on and never kept.
        code = message.get("code")
        code = code.strip() if isinstance(code, str) else ""
        if not code:
            self._refuse("Enter the code from the email.", focus="code")
            return
        method_id = self._method_id
        self._run(
            "sign_in",
            lambda: self._manager.otps.authenticate_async(code, method_id),
            self._signed_in,
            focus="refresh",
            secret=code,
        )

    def _do_provider(self, message: dict[str, Any]) -> None:
        provider = message.get("id")
        if provider not in self._manager.config.oauth_providers:
            return  # not a button this widget showed
        origin = message.get("origin")
        origin = origin if isinstance(origin, str) and _ORIGIN.fullmatch(origin) else None
        try:
            # The page opens the address itself, in the window it opened at the click.
            flow = self._manager.oauth.start(
                str(provider), notebook_origin=origin, open_browser=False
            )
        except (StytchError, ValueError) as exc:
            with self._render_lock:
                self._error = exc
                self.refresh()
            return
        # The page opened a window at the click (a later open would be blocked): it goes there.
        self.send({"open": flow.url})
        with self._render_lock:
            self._error = None
            self._info = f"Continue with {provider_name(str(provider))} in the window that opened."
            self.refresh()

        def follow() -> None:
            # The flow signs in by itself (its way back); only its failure needs telling.
            try:
                flow.wait()
            except BaseException as exc:
                if flow.state != "cancelled":
                    with self._render_lock:
                        self._error = exc
                        self._info = ""
                        self.refresh()

        threading.Thread(target=follow, name="stytch-widget-oauth", daemon=True).start()

    def _do_redirect(self, message: dict[str, Any]) -> None:
        # From the relay page through the page: the token is passed on here, never kept.
        token = message.get("token")
        if not isinstance(token, str) or not token:
            return
        kind, flow_id = message.get("stytch_token_type"), message.get("flow")
        redirect = Redirect(
            token,
            kind if isinstance(kind, str) else None,
            flow_id if isinstance(flow_id, str) else None,
        )
        self._complete(redirect, token)

    def _do_paste(self, message: dict[str, Any]) -> None:
        link = message.get("link")
        link = link.strip() if isinstance(link, str) else ""
        if not link:
            self._refuse("Paste the address the sign-in opened.", focus="paste")
            return
        try:
            redirect = parse_redirect(link)
        except RedirectError as exc:
            self._refuse(f"{str(exc).capitalize()}.", focus="paste")
            return
        self._complete(redirect, link)

    def _complete(self, redirect: Redirect, secret: str) -> None:
        complete = self._manager.redirect.complete
        self._run(
            "sign_in",
            lambda: asyncio.to_thread(complete, redirect),
            self._signed_in,
            focus="refresh",
            secret=redirect.token,
        )

    _ACTIONS: ClassVar[dict[str, Callable[[SessionWidget, dict[str, Any]], None]]] = {
        "provider": _do_provider,
        "redirect": _do_redirect,
        "paste": _do_paste,
        "refresh": _do_refresh,
        "retry": _do_retry,
        "extend": _do_extend,
        "sign_out": _do_sign_out,
        "forget": _do_forget,
        "send_code": _do_send_code,
        "sign_in": _do_sign_in,
    }

    def _keep_signed_in(self, value: bool) -> None:
        if self._ended or self._manager.closed:
            return
        self._manager.config.auto_extend = value
        minutes = self._manager.config.session_duration_minutes
        self._info = (
            f"The heartbeat now extends the session by {minutes} min at every check."
            if value
            else "The heartbeat now only checks the session; it ends when it expires."
        )
        self.refresh()

    def _signed_in(self, _response: Any) -> None:
        self._method_id = None
        self._info = ""

    def _checked(self, response: Any) -> None:
        now = self._manager.server_now()
        expires = expiry_words(response.session.expires_at, now)
        self._info = f"Checked with Stytch at {now:%H:%M:%S} UTC: valid, expires {expires}."

    def _extended(self, response: Any) -> None:
        expires = expiry_words(response.session.expires_at, self._manager.server_now())
        self._info = f"Extended: now expires {expires}."

    def _refuse(self, message: str, *, focus: str) -> None:
        with self._render_lock:
            self._error = ValueError(message)  # the user's to fix: shown as it is
            self._move_focus(focus)
            self.refresh()

    def _move_focus(self, target: str) -> None:
        self._focus = target
        self._focus_id += 1

    def _run(
        self,
        action: str,
        make: Callable[[], Coroutine[Any, Any, Any]],
        on_success: Callable[[Any], None] | None = None,
        *,
        focus: str = "",
        secret: str = "",
        forgetting: bool = False,
    ) -> None:
        with self._render_lock:
            if self._busy or self._closed:
                return
            ended = self._ended or self._manager.closed
            if not ended:
                self._busy = action
                self._idle.clear()
                self._error = None
                self._info = ""
                self.refresh()
        if ended:  # a front end may still send a click: it starts nothing
            self._end()
            return
        try:
            future = self._manager.submit(make())
        except Exception as exc:  # SessionClosedError (the close is on its way), or the like
            self._finish(None, exc, None, focus, secret, forgetting)
            return

        def done(f: concurrent.futures.Future[Any]) -> None:
            # Runs on the session thread, right after the request finished.
            if f.cancelled():
                self._finish(None, RuntimeError("the request was cancelled"), None, "", secret)
            else:
                error = f.exception()
                self._finish(
                    None if error else f.result(), error, on_success, focus, secret, forgetting
                )

        future.add_done_callback(done)

    def _finish(
        self,
        result: Any,
        error: BaseException | None,
        on_success: Callable[[Any], None] | None,
        focus: str,
        secret: str,
        forgetting: bool = False,
    ) -> None:
        ended = isinstance(error, SessionClosedError)
        with self._render_lock:
            if ended:
                self._ended = True
            elif error is None:
                if on_success is not None:
                    on_success(result)
                if focus:
                    self._move_focus(focus)
            elif forgetting and self._manager.status == "signed_out":
                # Forgotten here; Stytch was not told. Say so, plainly, as news, not as failure
                # (once: the reason line would only repeat the first half).
                self._reason_seen = self._manager.signed_out_reason
                self._info = (
                    "Forgotten on this machine. Stytch could not be told, so the session may "
                    "stay valid there until it expires."
                )
                self._move_focus(focus)
            else:
                text = str(error)
                if secret and len(secret) >= 4:
                    text = text.replace(secret, "<redacted>")
                self._error = error if text == str(error) else text
                self._check_error = self._error if self._busy in _CHECKS else None
            self._busy = ""
            self.refresh()
        if ended:
            self._detach()
        self._idle.set()


_PROVIDER_NAMES = {
    "github": "GitHub",
    "gitlab": "GitLab",
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
}
_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def provider_name(provider: str) -> str:
    return _PROVIDER_NAMES.get(provider, provider.capitalize())


def _action(action_id: str, label: str, title: str) -> dict[str, str]:
    return {"id": action_id, "label": label, "title": title}


def _forget_action() -> dict[str, str]:
    return _action(
        "forget",
        "Forget on this machine",
        "Forget the session here even if Stytch cannot be reached (revoke with force_clear)",
    )


# The actions that only check the session with Stytch: a later good check answers their error.
_CHECKS = frozenset({"refresh", "retry"})
# The actions a B2B widget shares with a consumer one (the rest are the B2B part's).
_SHARED_ACTIONS = frozenset({"refresh", "retry", "extend", "sign_out", "forget", "redirect"})


class _Runner:
    """``b2b_widget.Runner`` over a ``SessionWidget``: the B2B part's requests run as the
    widget's own (busy label, errors, focus), and it speaks through the widget's info line."""

    def __init__(self, widget: SessionWidget) -> None:
        self._widget = weakref.ref(widget)  # the widget owns the part, not the other way

    def _get(self) -> SessionWidget | None:
        return self._widget()

    def run(
        self,
        action: str,
        make: Callable[[], Coroutine[Any, Any, Any]],
        on_success: Callable[[Any], None] | None = None,
        *,
        focus: str = "",
        secret: str = "",
    ) -> None:
        widget = self._get()
        if widget is not None:
            widget._run(action, make, on_success, focus=focus, secret=secret)

    def refuse(self, message: str, *, focus: str) -> None:
        widget = self._get()
        if widget is not None:
            widget._refuse(message, focus=focus)

    def say(self, info: str) -> None:
        widget = self._get()
        if widget is not None:
            with widget._render_lock:
                widget._info = info
                widget.refresh()

    def fail(self, error: BaseException) -> None:
        widget = self._get()
        if widget is not None:
            with widget._render_lock:
                widget._error = error
                widget._info = ""
                widget.refresh()

    def open_window(self, url: str) -> None:
        widget = self._get()
        if widget is not None:
            widget.send({"open": url})

    def refresh(self) -> None:
        widget = self._get()
        if widget is not None:
            widget.refresh()

    def moved_on(self) -> None:
        widget = self._get()
        if widget is not None:
            widget._reason_seen = widget.manager.signed_out_reason
