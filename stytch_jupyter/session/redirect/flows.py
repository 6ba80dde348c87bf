"""Redirect flows (magic links, OAuth, B2B SSO): one PKCE pair and one single-use id per sign-in.

A flow is started with the PKCE challenge and a redirect URL that names it (``?flow=ID``); the
token comes back by whichever way the flow chose (loopback, the Jupyter server, the relay page,
a paste), and ``RedirectFlows.deliver`` checks it before anything happens: the flow must be
pending here and expect that token type. Only then is the token authenticated, with the
verifier, through the manager's ordinary sign-in calls (a flow begun with ``start_async`` says
which: the B2B ones name their own endpoint). A refused token changes nothing.
The verifier never leaves this object: not in a URL, a repr, a log line or an exception.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import urlencode

from ...api.errors import StytchError
from ...api.models import AuthenticateResponse
from ...api.secret import Secret
from ..errors import ConfigurationError, RedirectRefusedError, SessionClosedError
from .browser import BrowserOpening, open_in_browser
from .links import FLOW_PARAM, Redirect, parse_redirect, type_name
from .loopback import LoopbackListener
from .mailbox import MailboxReceiver
from .pkce import PkcePair
from .routes import Route, RouteName, choose_route

if TYPE_CHECKING:
    from ..manager import SessionManager

logger = logging.getLogger("stytch_jupyter")

# Stytch's ``stytch_token_type`` values: consumer (magic_links, oauth) and B2B (§3.6 of the
# API notes: multi_tenant_magic_links, discovery, sso, oauth, discovery_oauth).
TokenType = Literal[
    "magic_links", "oauth", "multi_tenant_magic_links", "discovery", "sso", "discovery_oauth"
]
R = TypeVar("R")
# How a flow's token is redeemed: ``(token, verifier, session minutes)`` -> the response.
Finish = Callable[[Secret, Secret, "int | None"], Awaitable[R]]
# What the browser's page says once the response is in.
Verdict = Callable[[Any], str]
State = Literal["pending", "completing", "signed_in", "failed", "cancelled", "expired"]
LOOPBACK_HOST = "127.0.0.1"
_ORIGIN = re.compile(r"https?://[^/?#\s]+")
_POLL = 0.1
_CLOSE_SECONDS = 10.0  # a listener's close() gives up after 5 s: this is only a backstop


class _Receiver(Protocol):
    def close(self) -> None: ...


class RedirectFlow(Generic[R]):
    """One sign-in waiting for its redirect. ``url``: what to open (OAuth, SSO); ``wait()``."""

    def __init__(
        self,
        flows: RedirectFlows,
        token_type: TokenType,
        route: Route,
        duration: int | None,
        timeout: float,
        finish: Finish[R] | None = None,
        verdict: Verdict | None = None,
    ) -> None:
        self.id = secrets.token_urlsafe(16)
        self.token_type: TokenType = token_type
        self.route: Route = route
        self.redirect_url: str | None = None  # the URL Stytch sends the browser to
        self.url: str | None = None  # the address to open (an OAuth or SSO start URL)
        self.browser: BrowserOpening | None = None  # whether ``url`` was opened here, and why
        self.state: State = "pending"
        self.error: BaseException | None = None
        self.response: R | None = None
        self.finish = finish  # None: the consumer magic link and OAuth calls
        self.verdict = verdict
        self._pkce = PkcePair()
        self._duration = duration
        self._flows = flows
        self._deadline = time.monotonic() + timeout
        self._ended = threading.Event()
        self._receivers: list[_Receiver] = []
        self._timer: threading.Timer | None = None

    @property
    def code_challenge(self) -> str:
        return self._pkce.challenge

    @property
    def pending(self) -> bool:
        return self.state in ("pending", "completing")

    @property
    def expires_in(self) -> float:
        return max(self._deadline - time.monotonic(), 0.0)

    def __repr__(self) -> str:
        return (
            f"RedirectFlow(id={self.id!r}, token_type={self.token_type!r}, "
            f"route={self.route.name!r}, state={self.state!r})"
        )

    def wait(self, timeout: float | None = None) -> R:
        """The sign-in's response once its redirect came back and Stytch accepted it.

        Raises what Stytch raised, ``TimeoutError`` when nothing came in time (or the flow
        expired), ``RedirectRefusedError``
        when the flow was cancelled. Waits in short slices, so Ctrl-C gets through at once.
        """
        end = time.monotonic() + (self.expires_in if timeout is None else timeout)
        while not self._ended.wait(_POLL):
            if self._flows._expire_if_due(self):
                # Its ways back are closing on another thread: return once they are closed.
                self._ended.wait(_CLOSE_SECONDS)
                break
            if time.monotonic() >= end:
                raise TimeoutError("no redirect came back in time")
        if self.response is not None:
            return self.response
        if self.error is not None:
            raise self.error
        if self.state == "expired":
            raise TimeoutError("no redirect came back in time")
        raise RedirectRefusedError(f"this sign-in was {self.state}")

    def cancel(self) -> None:
        """Forget this flow: its redirect, if it still comes, is refused."""
        self._flows._end(self, "cancelled")

    def close_ways_back(self) -> None:
        """Stop listening (loopback, server mailbox) but keep the flow: a paste can finish it."""
        receivers, self._receivers = self._receivers, []
        for receiver in receivers:
            try:
                receiver.close()
            except Exception:  # closing must never stop the others from closing
                logger.exception("closing a redirect listener failed")

    # -- for RedirectFlows --------------------------------------------------------------------

    def _finish(self, state: State) -> None:
        self.state = state
        if self._timer is not None:
            self._timer.cancel()
        if not self._receivers:
            self._ended.set()
            return

        # Often called from a listener's own request thread, which still has its page to
        # write: another thread closes the listener (joining that request), and only then does
        # wait() return, with nothing of the way back left running.
        def close() -> None:
            try:
                self.close_ways_back()
            finally:
                self._ended.set()

        threading.Thread(target=close, name="stytch-redirect-close", daemon=True).start()


class RedirectFlows:
    """The pending redirect flows of one session manager (``stytch.redirect``)."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._lock = threading.Lock()
        self._flows: dict[str, RedirectFlow[Any]] = {}
        manager.observe(self._on_closed, names="closed")

    # -- starting ---------------------------------------------------------------------------

    def route(
        self,
        requested: str | None = None,
        *,
        notebook_origin: str | None = None,
        from_page: bool = False,
    ) -> Route:
        """The way back a flow started now would take (and why); ``notebook_origin``: the
        origin of the page the sign-in starts from, if known (a widget knows it);
        ``from_page``: the flow will start from a page that reports it (see choose_route)."""
        config = self._manager.config
        return choose_route(
            requested or config.redirect_route,
            config.relay_url,
            origin=notebook_origin,
            from_page=from_page,
        )

    def start_magic_link(
        self,
        email: str,
        *,
        route: RouteName | None = None,
        session_duration_minutes: int | None = None,
        notebook_origin: str | None = None,
    ) -> RedirectFlow[AuthenticateResponse]:
        """Email a PKCE magic link whose redirect comes back to this flow.

        ``notebook_origin``: the origin of the page that will open the link (a widget knows
        it); the relay page posts the token back to that origin only."""
        flow: RedirectFlow[AuthenticateResponse] = self._begin(
            "magic_links", route, session_duration_minutes, notebook_origin
        )
        try:
            url = flow.redirect_url
            self._manager.magic_links.email.login_or_create(
                email,
                login_magic_link_url=url,
                signup_magic_link_url=url,
                code_challenge=flow.code_challenge,
            )
        except BaseException:
            self._end(flow, "cancelled")
            raise
        return flow

    def start_oauth(
        self,
        provider: str,
        *,
        scopes: Iterable[str] = (),
        provider_params: Mapping[str, str] | None = None,
        route: RouteName | None = None,
        session_duration_minutes: int | None = None,
        notebook_origin: str | None = None,
        open_browser: bool | None = None,
    ) -> RedirectFlow[AuthenticateResponse]:
        """A flow whose ``url`` starts the provider's sign-in in a browser.

        ``open_browser``: open ``url`` in this machine's browser (None: when
        ``Stytch.open_browser`` is on and the kernel is local; see ``flow.browser``)."""
        from ...api.urls import oauth_start_url

        config = self._manager.config
        if not config.public_token:
            raise ConfigurationError(
                "no Stytch public token: set STYTCH_PUBLIC_TOKEN or "
                "%config Stytch.public_token = 'public-token-…'"
            )
        flow: RedirectFlow[AuthenticateResponse] = self._begin(
            "oauth", route, session_duration_minutes, notebook_origin
        )
        try:
            flow.url = oauth_start_url(
                config.resolved_api_url,
                config.public_token,
                provider,
                code_challenge=flow.code_challenge,
                login_redirect_url=flow.redirect_url,
                signup_redirect_url=flow.redirect_url,
                custom_scopes=scopes,
                provider_params=provider_params,
            )
        except BaseException:
            self._end(flow, "cancelled")
            raise
        self.offer_browser(flow, open_browser)
        return flow

    def offer_browser(self, flow: RedirectFlow[Any], open_browser: bool | None) -> None:
        """Open ``flow.url`` in this machine's browser where that is wanted; ``flow.browser``
        says whether it was, and why (``open_browser`` None: when ``Stytch.open_browser`` is on
        and the kernel is local; True: always try; False: never)."""
        if flow.url is None:
            return  # an emailed link: there is nothing to open here
        if open_browser is False or (
            open_browser is None and not self._manager.config.open_browser
        ):
            flow.browser = BrowserOpening(False, "not asked to open a browser")
        else:  # None: only where the kernel is local
            flow.browser = open_in_browser(flow.url, asked=open_browser is True)

    async def start_async(
        self,
        token_type: TokenType,
        launch: Callable[[RedirectFlow[R]], Awaitable[object]],
        finish: Finish[R],
        *,
        verdict: Verdict | None = None,
        route: RouteName | None = None,
        session_duration_minutes: int | None = None,
        notebook_origin: str | None = None,
        redirect_url: str | None = None,
    ) -> RedirectFlow[R]:
        """A flow of any kind (the B2B ones start here), on the session loop: its way back is
        opened, then ``launch(flow)`` starts it with ``flow.code_challenge`` and
        ``flow.redirect_url`` (sends the email, or sets ``flow.url``); the token that comes
        back goes to ``finish(token, verifier, minutes)``, and ``verdict(response)`` is the
        line the browser's page shows.

        ``redirect_url``: a redirect URL of the caller's own; nothing here listens for it, so
        the flow takes the paste route (the address it lands on is pasted)."""
        flow: RedirectFlow[R] = self._begin(
            token_type,
            route,
            session_duration_minutes,
            notebook_origin,
            finish=finish,
            verdict=verdict,
            redirect_url=redirect_url,
        )
        try:
            await launch(flow)
        except BaseException:
            self._end(flow, "cancelled")
            raise
        return flow

    def _begin(
        self,
        token_type: TokenType,
        route: RouteName | None,
        minutes: int | None,
        notebook_origin: str | None = None,
        *,
        finish: Finish[Any] | None = None,
        verdict: Verdict | None = None,
        redirect_url: str | None = None,
    ) -> RedirectFlow[Any]:
        if notebook_origin is not None and not _ORIGIN.fullmatch(notebook_origin):
            raise ValueError("notebook_origin must be an origin such as https://hub.example.com")
        if self._manager.closed:
            raise SessionClosedError("this Stytch session object was closed: use the new one")
        if redirect_url is not None:
            chosen = Route("paste", "a redirect URL of your own was given")
        else:
            chosen = self.route(route, notebook_origin=notebook_origin)
        # As in Stytch's SDKs, the newest start wins: an older flow of the same kind is dropped
        # (so a bare pasted token has one flow to go to).
        for older in self.pending():
            if older.token_type == token_type:
                self._end(older, "cancelled")
        flow: RedirectFlow[Any] = RedirectFlow(
            self,
            token_type,
            chosen,
            minutes,
            self._manager.config.redirect_timeout,
            finish=finish,
            verdict=verdict,
        )
        with self._lock:
            self._flows[flow.id] = flow
        try:
            if redirect_url is not None:
                flow.redirect_url = redirect_url
            else:
                self._open_way_back(flow, notebook_origin)
        except BaseException:
            self._end(flow, "cancelled")
            raise
        # Ends the flow (and closes its listener) on time even if nobody waits on it.
        timer = threading.Timer(flow.expires_in + 0.5, self._expire_if_due, (flow,))
        timer.daemon = True
        timer.start()
        flow._timer = timer
        return flow

    def _open_way_back(self, flow: RedirectFlow[Any], notebook_origin: str | None) -> None:
        # Both listeners serve on the session loop and sign in there (``deliver_async``).
        deliver, runner = self.deliver_async, self._manager
        base = flow.route.callback_url
        if flow.route.name == "loopback":
            listener = LoopbackListener(
                deliver, runner=runner, timeout=flow.expires_in, host=LOOPBACK_HOST
            )
            try:
                base = listener.start()
            except OSError as exc:
                # Nothing can listen here: the user pastes instead.
                flow.route = Route(
                    "paste", f"cannot listen on {LOOPBACK_HOST}: {exc.strerror or exc}"
                )
                return
            flow._receivers.append(listener)
        elif flow.route.name == "server":
            assert flow.route.mailbox is not None
            receiver = MailboxReceiver(flow.route.mailbox, flow.id, deliver, runner=runner)
            try:
                receiver.start()
            except OSError as exc:
                flow.route = Route("paste", f"cannot listen in the server's mailbox ({exc})")
                return
            flow._receivers.append(receiver)
        if base is not None:
            query = {FLOW_PARAM: flow.id}
            if flow.route.name == "relay" and notebook_origin:
                query["origin"] = notebook_origin
            joiner = "&" if "?" in base else "?"
            flow.redirect_url = f"{base}{joiner}{urlencode(query)}"

    # -- coming back --------------------------------------------------------------------------

    def pending(self) -> list[RedirectFlow[Any]]:
        with self._lock:
            flows = list(self._flows.values())
        return [flow for flow in flows if not self._expire_if_due(flow) and flow.pending]

    def deliver(self, redirect: Redirect) -> tuple[bool, str]:
        """For the ways back: ``(signed in?, a line for the browser)``; never raises."""
        try:
            flow = self._claim(redirect)
        except Exception as exc:
            return self._refusal(exc)
        try:
            return self._verdict(flow, self._complete(flow, redirect))
        except Exception as exc:
            return self._refusal(exc)

    async def deliver_async(self, redirect: Redirect) -> tuple[bool, str]:
        """``deliver`` for a way back that serves on the session loop: it signs in right there,
        with no hop to another thread and back."""
        try:
            flow = self._claim(redirect)
        except Exception as exc:
            return self._refusal(exc)
        try:
            return self._verdict(flow, await self._complete_async(flow, redirect))
        except Exception as exc:
            return self._refusal(exc)

    @staticmethod
    def _verdict(flow: RedirectFlow[Any], response: Any) -> tuple[bool, str]:
        if flow.verdict is not None:
            return True, flow.verdict(response)
        who = response.user.email or response.user.user_id
        return True, f"Signed in as {who}. Return to your notebook."

    @staticmethod
    def _refusal(exc: Exception) -> tuple[bool, str]:
        from ...api.errors import StytchAPIError

        if isinstance(exc, RedirectRefusedError):
            return False, str(exc)
        if isinstance(exc, StytchError):
            kind = exc.error_type if isinstance(exc, StytchAPIError) else type(exc).__name__
            return False, f"Stytch did not accept the sign-in ({kind}). Return to your notebook."
        logger.error("a redirect sign-in failed (%s)", type(exc).__name__, exc_info=exc)
        return False, "The sign-in failed in the notebook. Return to it and try again."

    def complete(self, redirect: Redirect) -> Any:
        """Authenticate a redirect's token for the flow it names (or the one pending flow, for
        a bare token or a link without ``flow=``). ``RedirectRefusedError``: nothing happened.
        The response is the flow's kind's (a consumer or a B2B one)."""
        return self._complete(self._claim(redirect), redirect)

    def _complete(self, flow: RedirectFlow[Any], redirect: Redirect) -> Any:
        try:
            response = self._manager.run(self._authenticate(flow, redirect.token))
        except BaseException as exc:
            raise self._failed(flow, exc) from None
        return self._signed_in(flow, response)

    async def complete_async(self, redirect: Redirect) -> Any:
        """``complete``, on the session loop (where the loopback and mailbox serve)."""
        return await self._complete_async(self._claim(redirect), redirect)

    async def _complete_async(self, flow: RedirectFlow[Any], redirect: Redirect) -> Any:
        try:
            response = await self._authenticate(flow, redirect.token)
        except BaseException as exc:
            raise self._failed(flow, exc) from None
        return self._signed_in(flow, response)

    def _failed(self, flow: RedirectFlow[Any], exc: BaseException) -> BaseException:
        # Its traceback's frames hold the token and the verifier as locals (a verbose
        # traceback prints them): the error travels on without them.
        exc.__cause__ = exc.__context__ = None
        flow.error = exc.with_traceback(None)
        self._end(flow, "failed")
        return flow.error

    def _signed_in(self, flow: RedirectFlow[Any], response: Any) -> Any:
        flow.response = response
        self._end(flow, "signed_in")
        return response

    def resume(self, text: str | Secret) -> Any:
        """Finish a pending flow with a pasted link (or its bare token)."""
        redirect = parse_redirect(text.reveal() if isinstance(text, Secret) else text)
        del text  # a verbose traceback would show it: the link carries the token
        return self.complete(redirect)

    def _claim(self, redirect: Redirect) -> RedirectFlow[Any]:
        with self._lock:
            if redirect.flow_id is not None:
                flow = self._flows.get(redirect.flow_id)
                if flow is None or self._expired(flow):
                    raise RedirectRefusedError(
                        "no sign-in is waiting for this link here (used, cancelled, expired or "
                        "started elsewhere): nothing changed"
                    )
            else:
                waiting = [f for f in self._flows.values() if f.pending and not self._expired(f)]
                if len(waiting) > 1:
                    waiting = [f for f in waiting if redirect.token_type in (None, f.token_type)]
                if len(waiting) != 1:
                    what = "no sign-in is waiting" if not waiting else "several sign-ins wait"
                    raise RedirectRefusedError(
                        f"{what} for {type_name(redirect.token_type or 'token')} token: paste the "
                        "whole link the redirect opened; nothing changed"
                    )
                flow = waiting[0]
            if flow.state != "pending":
                raise RedirectRefusedError("this sign-in link was already used: nothing changed")
            if redirect.token_type is not None and redirect.token_type != flow.token_type:
                raise RedirectRefusedError(
                    f"this sign-in expects {type_name(flow.token_type)} token, not "
                    f"{type_name(redirect.token_type)} one: nothing changed"
                )
            flow.state = "completing"
            return flow

    async def _authenticate(self, flow: RedirectFlow[Any], token: str) -> Any:
        # Secrets from here on: a verbose traceback shows them as Secret(…), not their value.
        # Run on the session loop: the ``_async`` twins await the sign-in in place there.
        verifier = Secret(flow._pkce.verifier)
        if flow.finish is not None:
            return await flow.finish(Secret(token), verifier, flow._duration)
        manager = self._manager
        if flow.token_type == "magic_links":
            return await manager.magic_links.authenticate_async(
                Secret(token), flow._duration, code_verifier=verifier
            )
        return await manager.oauth.authenticate_async(
            token, flow._duration, code_verifier=verifier.reveal()
        )

    # -- ending ------------------------------------------------------------------------------

    @staticmethod
    def _expired(flow: RedirectFlow[Any]) -> bool:
        return flow.state == "pending" and flow.expires_in <= 0

    def _expire_if_due(self, flow: RedirectFlow[Any]) -> bool:
        if self._expired(flow):
            self._end(flow, "expired")
            return True
        return False

    def _end(self, flow: RedirectFlow[Any], state: State) -> None:
        with self._lock:
            if self._flows.get(flow.id) is flow:
                del self._flows[flow.id]
            elif not flow.pending:
                return
        flow._finish(state)

    def cancel_all(self) -> None:
        with self._lock:
            flows = list(self._flows.values())
        for flow in flows:
            self._end(flow, "cancelled")
        for flow in flows:
            flow._ended.wait(5.0)  # their listeners are closed when this returns

    def _on_closed(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            self.cancel_all()
