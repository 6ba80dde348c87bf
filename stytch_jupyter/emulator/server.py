"""``Emulator``: the emulator served by uvicorn on a daemon thread, for tests, demos and scripts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Collection
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import uvicorn

from .app import create_app
from .b2b_state import B2BState
from .clock import Clock
from .control import EmulatorControl
from .defaults import DEFAULT_HOST, DEFAULT_PROJECT_ID, DEFAULT_PUBLIC_TOKEN, DEFAULT_SECRET
from .faults import FaultRegistry
from .keys import shared_signing_key
from .project import DEFAULT_PROJECT_NAME, ProjectSettings
from .state import State

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bind here, not in uvicorn: a busy port fails at once, and port 0 reports the real one.

    The protocol is named explicitly: asyncio turns Nagle off only on sockets whose ``proto``
    is TCP, and with Nagle on every response waits out the client's 40 ms delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn, stopping in milliseconds rather than a fifth of a second.

    uvicorn polls ``should_exit`` every 100 ms and then pauses 100 ms for open connections to
    wind down; suites that start an emulator per test spent most of their time there. Here
    ``request_exit`` wakes the loop at once, and with no connection left there is no pause.
    """

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def request_exit(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, less its pauses and its error log: requests still running after
        the grace period are cancelled quietly (the app hangs up on their clients)."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        tasks = list(self.server_state.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.config.timeout_graceful_shutdown)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=_STOP_TIMEOUT)
        for server in self.servers:
            await server.wait_closed()


class Emulator:
    """A local Stytch API on loopback.

    ``with Emulator() as emu:`` serves on a free port (``port=0``) until the block ends;
    ``emu.api_url`` is where to point a client. The helpers (``outbox``, ``last_otp``, ...)
    go through the control API over HTTP, as they would for an emulator in another process.
    ``start()`` after ``stop()`` serves the same users and sessions on the same port again:
    an outage and a recovery, as a client sees them.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        project_id: str = DEFAULT_PROJECT_ID,
        public_token: str = DEFAULT_PUBLIC_TOKEN,
        secret: str = DEFAULT_SECRET,
        project_name: str = DEFAULT_PROJECT_NAME,
        vertical: str = "CONSUMER",
        pkce_required: bool | Collection[str] = False,
        redirect_urls: Collection[str] = (),
        allowed_origins: Collection[str] = (),
        strict_magic_link_urls: bool = True,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        """``pkce_required``: True for every flow, or some of ``PKCE_FLOWS``.
        ``redirect_urls``: exact URLs allowed besides loopback ``…/stytch-jupyter/callback``.
        ``allowed_origins``: browser origins allowed besides loopback ones.
        ``strict_magic_link_urls``: magic-link URLs must be on the allowlist, as on Stytch
        (False: any URL is taken).
        ``announce``: called with one line per code or link "sent" (the CLI prints them).
        ``vertical``: ``CONSUMER`` or ``B2B`` (any case); a B2B project serves organizations,
        members, discovery, MFA and SSO (``create_organization``, ``create_member``, ...).
        Raises ValueError on a bad setting."""
        self.settings = ProjectSettings.build(
            project_name=project_name,
            # ``b2b`` and ``B2B`` alike (bootstrap reports the upper-case form).
            vertical=vertical.upper(),
            pkce_required=pkce_required,
            redirect_urls=redirect_urls,
            allowed_origins=allowed_origins,
            strict_magic_link_urls=strict_magic_link_urls,
        )
        self.host = host
        self.port = port
        self.project_id = project_id
        self.public_token = public_token
        self.secret = secret
        self._state = State(project_id, shared_signing_key(), Clock(), announce=announce)
        self._b2b = B2BState(self._state) if self.vertical == "B2B" else None
        self._faults = FaultRegistry()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._control: EmulatorControl | None = None
        self._failure: BaseException | None = None

    @property
    def vertical(self) -> str:
        """``CONSUMER`` or ``B2B``, as bootstrap reports it."""
        return self.settings.vertical

    def __repr__(self) -> str:
        where = self.api_url if self.running else "stopped"
        return f"Emulator({where}, project_id={self.project_id!r})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def api_url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash) once started."""
        if self._thread is None:
            raise RuntimeError("the emulator is not running: call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._control

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        sock = _listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        app = create_app(
            self._state,
            self._faults,
            public_token=self.public_token,
            secret=self.secret,
            settings=self.settings,
            b2b=self._b2b,
        )
        config = uvicorn.Config(
            app,
            http="h11",
            ws="none",
            lifespan="off",
            # URLs can carry tokens: no access log, and no logging set-up of our own.
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        self._server = server
        self._failure = None
        self._thread = threading.Thread(
            target=self._serve,
            args=(server, sock),
            name=f"stytch-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start") from self._failure
            time.sleep(0.001)
        self._control = EmulatorControl(
            self.api_url, project_id=self.project_id, secret=self.secret
        )
        return self

    def _serve(self, server: _Server, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start(); a thread has no one else to tell
            self._failure = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop serving, join the thread and free the port. Safe to call twice."""
        server, thread = self._server, self._thread
        if self._control is not None:
            self._control.close()
            self._control = None
        if server is not None and thread is not None:
            server.request_exit()
            thread.join(_STOP_TIMEOUT)
            if thread.is_alive():
                server.force_exit = True
                thread.join(_STOP_TIMEOUT)
        self._server = None
        self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (True) or ``timeout`` seconds pass (False).

        Ctrl-C interrupts it: that is how the command line serves "until Ctrl-C".
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers, through the control API ------------------------------------------------

    def outbox(self, email: str | None = None) -> list[dict[str, Any]]:
        return self.control.outbox(email)

    def last_otp(self, email: str) -> tuple[str, str]:
        return self.control.last_otp(email)

    def issued(self) -> dict[str, list[str]]:
        return self.control.issued()

    def last_magic_link(self, email: str) -> str:
        return self.control.last_magic_link(email)

    def last_sms_otp(self, phone_number: str) -> tuple[str, str]:
        return self.control.last_sms_otp(phone_number)

    def last_password_reset(self, email: str) -> str:
        return self.control.last_password_reset(email)

    def create_user(
        self, email: str, password: str | None = None, name: str | dict[str, str] | None = None
    ) -> str:
        return self.control.create_user(email, password, name)

    def advance_clock(self, seconds: float) -> datetime:
        return self.control.advance_clock(seconds)

    # B2B projects: the same helpers as ``EmulatorControl``'s (see there).

    def create_organization(
        self, name: str, slug: str | None = None, **settings: Any
    ) -> dict[str, Any]:
        return self.control.create_organization(name, slug, **settings)

    def create_member(self, organization: str, email: str, **fields: Any) -> dict[str, Any]:
        return self.control.create_member(organization, email, **fields)

    def delete_member(self, organization: str, member_id: str) -> None:
        self.control.delete_member(organization, member_id)

    def revoke_member_session(self, **which: str) -> None:
        self.control.revoke_member_session(**which)

    def totp_code(self, organization: str, member_id: str) -> str:
        return self.control.totp_code(organization, member_id)

    def last_sms_code(self, phone_number: str) -> str:
        return self.control.last_sms_code(phone_number)

    def complete_idp(self, start_url: str, email: str, **options: Any) -> str:
        return self.control.complete_idp(start_url, email, **options)

    def add_fault(
        self,
        *,
        path_prefix: str = "",
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        latency_ms: float | None = None,
        drop: bool = False,
        times: int = 1,
    ) -> str:
        return self.control.add_fault(
            path_prefix=path_prefix,
            status=status,
            error_type=error_type,
            retry_after=retry_after,
            latency_ms=latency_ms,
            drop=drop,
            times=times,
        )

    def clear_faults(self) -> None:
        self.control.clear_faults()

    def oauth_start_url(
        self,
        provider: str,
        *,
        code_challenge: str | None = None,
        login_redirect_url: str | None = None,
        signup_redirect_url: str | None = None,
        custom_scopes: tuple[str, ...] = (),
    ) -> str:
        """The start URL an SDK would open for ``provider``, with this emulator's public token."""
        params = {"public_token": self.public_token}
        optional = {
            "code_challenge": code_challenge,
            "login_redirect_url": login_redirect_url,
            "signup_redirect_url": signup_redirect_url,
            "custom_scopes": " ".join(custom_scopes) or None,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        return f"{self.api_url}/v1/public/oauth/{provider}/start?{urlencode(params)}"

    def oauth_consent(self, start_url: str, email: str | None) -> str:
        """Approve (as ``email``) or deny (None) at the consent page; the redirect URL back."""
        return self.control.oauth_consent(start_url, email)

    def reset(self) -> None:
        self.control.reset()

    def revoke_session(
        self,
        *,
        session_token: str | None = None,
        session_id: str | None = None,
        session_jwt: str | None = None,
    ) -> None:
        self.control.revoke_session(
            session_token=session_token, session_id=session_id, session_jwt=session_jwt
        )
