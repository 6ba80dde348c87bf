"""An async client for Stytch's client-SDK API (``/sdk/v1/``), the endpoints a session needs.

Stateless apart from one reused ``httpx.AsyncClient``: every call takes the session token it
acts on, and nothing from httpx leaks out (see ``errors.py`` for what does).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.request import getproxies

import httpx

from .. import __version__
from .errors import (
    StytchAPIError,
    StytchNetworkError,
    StytchResponseError,
    StytchTimeoutError,
)
from .limits import (
    DEFAULT_SESSION_MINUTES,
    MAX_REPLY_BYTES,
    MAX_RETRY_AFTER_SECONDS,
    validate_duration_minutes,
)
from .models import AuthenticateResponse, User
from .sdk_client_header import SDK_IDENTIFIER, sdk_client_header
from .secret import Secret, redact, reveal
from .transport import AsyncioTransport
from .urls import api_url_for, check_api_url, is_loopback

if TYPE_CHECKING:  # imported by the calls that return them: a session check needs none
    from .factor_models import (
        OAuthAuthenticateResponse,
        PasswordStrength,
        TOTPAuthenticateResponse,
        TOTPCreated,
        TOTPRecoveryCodes,
    )

T = TypeVar("T")

_EMPTY_BODY = b"{}"
_CAP_TEXT = "the 1 MiB limit"
_MAX_MESSAGE = 200
_PATHS = (
    "sessions/authenticate",
    "sessions/revoke",
    "otps/email/login_or_create",
    "otps/authenticate",
    "magic_links/email/login_or_create",
    "magic_links/authenticate",
    "passwords/authenticate",
    "users/me",
    "oauth/authenticate",
    "passwords",
    "passwords/strength_check",
    "passwords/email/reset/start",
    "passwords/email/reset",
    "passwords/existing_password/reset",
    "passwords/session/reset",
    "otps/sms/login_or_create",
    "totps",
    "totps/authenticate",
    "totps/recover",
    "totps/recovery_codes",
)
# The stytch-jupyter emulator names its mailbox page in this header on every reply; real Stytch
# sends none. Read off replies the client gets anyway: knowing costs no request.
EMULATOR_MAILBOX_HEADER = "x-stytch-emulator-mailbox"
# The factors ``users_delete_factor`` can remove, as the path segment Stytch names them by.
USER_FACTOR_KINDS = ("emails", "phone_numbers", "totps", "oauth")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _require_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value


def _optional_token(session_token: str | None) -> str | None:
    return None if session_token is None else _require_text(session_token, "session_token")


def _factor_duration(minutes: int | None) -> int:
    # Every official client SDK asks for 5 minutes when a factor call gives no duration.
    checked = validate_duration_minutes(minutes)
    return DEFAULT_SESSION_MINUTES if checked is None else checked


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _one_line(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, redact(secret))
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _retry_after(value: str | None) -> float | None:
    # Stytch sends delta-seconds; an HTTP-date or garbage is ignored rather than guessed at.
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, float(MAX_RETRY_AFTER_SECONDS))


def _parse_json(content: bytes) -> Any:
    """The decoded JSON, or None for anything malformed: garbage, bad UTF-8, nesting deep enough
    for RecursionError, integers past Python's digit limit (ValueError)."""
    try:
        return json.loads(content)
    except (ValueError, TypeError, RecursionError, MemoryError):
        return None


def _proxy_in_environment() -> bool:
    # What httpx reads for its proxy mounts (HTTP(S)_PROXY, ALL_PROXY, the OS's settings).
    proxies = getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    # A deadline on the caller's own task: no task of its own per call, as wait_for makes
    # before Python 3.12 (an extra turn of the loop on every request).
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class StytchClient:
    """Calls the Stytch client API for one project (identified by its public token)."""

    def __init__(
        self,
        public_token: str,
        *,
        api_url: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        _require_text(public_token, "public_token")
        if any(ch.isspace() for ch in public_token) or ":" in public_token:
            raise ValueError("public_token must not contain whitespace or ':'")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < math.inf
        ):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.public_token = public_token
        self.api_url = check_api_url(api_url or api_url_for(public_token))
        self.base_url = f"{self.api_url}/sdk/v1/"
        self._loopback = is_loopback(httpx.URL(self.api_url).host)
        self.timeout = float(timeout)
        self._transport = transport
        # Parsed once: httpx then skips URL merging and parsing on every request.
        self._urls = {path: httpx.URL(self.base_url + path) for path in _PATHS}
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-SDK-Client": sdk_client_header(),
            "User-Agent": f"{SDK_IDENTIFIER}/{__version__}",
        }
        self._public_auth = {"Authorization": _basic(public_token, public_token)}
        self._http: httpx.AsyncClient | None = None
        # The asyncio transport of ``_http`` (None when httpx's own runs, behind a proxy, or
        # one was handed in), sent to without the client's layers, with what they would add.
        self._direct: AsyncioTransport | None = None
        self._direct_owner: httpx.AsyncClient | None = None
        self._direct_headers = {"Accept-Encoding": "gzip, deflate", **self._headers}
        self._timeouts = httpx.Timeout(self.timeout).as_dict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mailbox_url: str | None = None
        self._in_flight = 0  # exchanges on the wire, for aclose_when_idle
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._retired = False  # aclose_when_idle was called: close whenever idle

    def __repr__(self) -> str:
        # The public token is public (it ships in every web page that uses Stytch).
        return f"StytchClient(public_token={self.public_token!r}, api_url={self.api_url!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        # Created on first use, on the loop that will own its connections; a new loop (e.g. a
        # second asyncio.run) gets a fresh pool, since connections cannot cross loops.
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop or self._http.is_closed:
            # A proxy from the environment must not capture loopback (the emulator).
            trust_env = not self._loopback
            transport = self._transport
            self._direct = None
            if transport is None and not (trust_env and _proxy_in_environment()):
                # Direct connections run on asyncio itself (transport.py); through a proxy,
                # httpx's own transport does what the environment asks.
                transport = self._direct = AsyncioTransport(trust_env=trust_env)
            self._http = self._direct_owner = httpx.AsyncClient(
                headers=self._headers,
                timeout=self.timeout,
                follow_redirects=False,
                transport=transport,
                trust_env=trust_env,
                # (httpx's transport, behind a proxy) Over plain http there is no certificate
                # to check; httpx would still load the CA bundle for the client.
                verify=httpx.URL(self.api_url).scheme == "https",
            )
            self._loop = loop
        return self._http

    @property
    def mailbox_url(self) -> str | None:
        """Where the emulator shows the codes and links it "sends", once a reply has come from
        a stytch-jupyter emulator; None before that, and always with real Stytch."""
        return self._mailbox_url

    def _note_server(self, headers: httpx.Headers) -> None:
        path = headers.get(EMULATOR_MAILBOX_HEADER)
        if path is None or not path.startswith("/") or path.startswith("//"):
            return  # absent, or not a path on this server: nothing to say
        if all(ch.isalnum() or ch in "/-_." for ch in path) and len(path) <= 100:
            self._mailbox_url = self.api_url + path

    @property
    def default_headers(self) -> dict[str, str]:
        """Headers sent with every request (Authorization aside)."""
        return dict(self._headers)

    def auth_header(self, session_token: str | None = None) -> dict[str, str]:
        """The ``Authorization`` header for a request on behalf of ``session_token``."""
        if session_token is None:
            return self._public_auth
        return {"Authorization": _basic(self.public_token, session_token)}

    async def aclose(self) -> None:
        """Close the connection pool. Safe to call twice; the client reopens on next use."""
        http, owner, self._http, self._loop = self._http, self._loop, None, None
        # Nothing else may hold the pool: one whose loop has ended is then freed right here.
        self._direct = self._direct_owner = None
        if http is None or http.is_closed:
            return
        if owner is asyncio.get_running_loop():
            await http.aclose()
        elif owner is not None and owner.is_running():
            # Connections belong to the loop that opened them: close them there.
            closing = asyncio.run_coroutine_threadsafe(http.aclose(), owner)
            await asyncio.wrap_future(closing)
        # Else its loop has ended; nothing can run there any more and the sockets go with it.

    async def aclose_when_idle(self) -> None:
        """Close the pool once the requests in flight have ended (each ends within ``timeout``),
        so that a reply already on its way is not cut off: what a settings change wants. Being
        cancelled closes at once. A request made through it later still works, and closes the
        pool again when it ends."""
        self._retired = True
        try:
            while self._in_flight and self._loop is asyncio.get_running_loop():
                waiter = asyncio.get_running_loop().create_future()
                self._idle_waiters.append(waiter)
                await waiter
        finally:
            await self.aclose()

    async def _exchange_ended(self) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            if self._retired:
                await self.aclose()
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def __aenter__(self) -> StytchClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the wire ----------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = _EMPTY_BODY,
        session_token: str | None = None,
        secrets: tuple[str, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        """One request; returns the HTTP status and the ``data`` object of a 2xx reply."""
        secrets = (*secrets, session_token or "")
        where = f"{method} {path}"
        self._in_flight += 1
        try:
            # One deadline for the whole exchange: a server trickling a byte per second
            # must not hold a call (or the heartbeat) past ``timeout``, as httpx's per-read
            # timeouts alone would.
            status, headers, content = await _within(
                self._exchange(where, method, path, body, session_token), self.timeout
            )
        except (httpx.TimeoutException, asyncio.TimeoutError) as exc:
            raise StytchTimeoutError(
                f"{where}: no reply from {self.api_url} within {self.timeout:g}s "
                f"({type(exc).__name__})"
            ) from None
        except httpx.DecodingError as exc:
            raise StytchResponseError(
                f"{where}: reply body could not be decoded ({_one_line(str(exc), secrets)})"
            ) from None
        except httpx.RequestError as exc:
            cause = _one_line(str(exc), secrets) or "connection closed"
            raise StytchNetworkError(
                f"{where}: could not talk to {self.api_url} ({type(exc).__name__}: {cause})"
            ) from None
        finally:
            await self._exchange_ended()
        self._note_server(headers)
        payload = _parse_json(content)
        if 200 <= status < 300:
            if not isinstance(payload, dict):
                kind = headers.get("content-type", "no content type")
                raise StytchResponseError(
                    f"{where}: HTTP {status} reply is not a JSON object ({_one_line(kind, ())})",
                    status,
                )
            data = payload.get("data")
            if not isinstance(data, dict):
                raise StytchResponseError(
                    f"{where}: HTTP {status} reply has no 'data' object", status
                )
            return status, data
        raise self._api_error(where, status, headers, payload, secrets)

    async def _exchange(
        self, where: str, method: str, path: str, body: bytes | None, session_token: str | None
    ) -> tuple[int, httpx.Headers, bytes]:
        """Send, then read the body up to ``MAX_REPLY_BYTES``: a huge reply is never held."""
        http = self._client()
        direct = self._direct
        if direct is not None and http is self._direct_owner:
            # Straight to the asyncio transport: what httpx's client adds on the way (auth
            # flow, redirects, cookie jar, event hooks) is nothing this API uses.
            request = httpx.Request(
                method,
                self._urls[path],
                content=body,
                headers={**self._direct_headers, **self.auth_header(session_token)},
                extensions={"timeout": self._timeouts},
            )
            response = await direct.handle_async_request(request)
            response.request = request
        else:
            request = http.build_request(
                method, self._urls[path], content=body, headers=self.auth_header(session_token)
            )
            response = await http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
                raise StytchResponseError(
                    f"{where}: reply of {int(declared)} bytes is over {_CAP_TEXT}",
                    response.status_code,
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise StytchResponseError(
                        f"{where}: reply is over {_CAP_TEXT}; stopped reading",
                        response.status_code,
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response.status_code, response.headers, b"".join(chunks)

    @staticmethod
    def _api_error(
        where: str,
        status: int,
        headers: httpx.Headers,
        payload: Any,
        secrets: tuple[str, ...],
    ) -> StytchAPIError:
        retry_after = _retry_after(headers.get("retry-after"))
        if isinstance(payload, dict) and isinstance(payload.get("error_type"), str):
            return StytchAPIError(
                status_code=status,
                error_type=_one_line(payload["error_type"], secrets),
                error_message=_one_line(str(payload.get("error_message") or ""), secrets),
                request_id=_str_or_none(payload.get("request_id")),
                error_url=_str_or_none(payload.get("error_url")),
                retry_after=retry_after,
            )
        # No Stytch error body (a proxy's 502 page, a bare 429): still an API error, typed
        # ``http_<status>``, so callers retry 5xx/429 as usual and never take it as a reason to
        # drop a session (it is not an unrecoverable type). A garbled 2xx, by contrast, is a
        # StytchResponseError: the request may have worked and we cannot tell.
        kind = headers.get("content-type", "no content type")
        return StytchAPIError(
            status_code=status,
            error_type=f"http_{status}",
            error_message=f"{where}: HTTP {status} without a Stytch error body "
            f"({_one_line(kind, ())})",
            request_id=headers.get("x-request-id"),
            retry_after=retry_after,
        )

    async def _authenticate(
        self,
        path: str,
        body: Mapping[str, Any],
        session_token: str | None,
        secrets: tuple[str, ...] = (),
    ) -> AuthenticateResponse:
        status, data = await self._call("POST", path, _encode(body), session_token, secrets)
        return self._parse(f"POST {path}", status, AuthenticateResponse.from_dict, data)

    @staticmethod
    def _parse(where: str, status: int, parse: Callable[[Any], T], data: dict[str, Any]) -> T:
        # The models raise StytchResponseError for missing fields; a wrongly typed one can also
        # surface as TypeError/ValueError/AttributeError. Either way: say where, and the status.
        try:
            return parse(data)
        except (StytchResponseError, TypeError, ValueError, AttributeError) as exc:
            raise StytchResponseError(
                f"{where}: HTTP {status} reply has an unexpected shape ({exc})", status
            ) from exc

    # -- the wire, for clients of other parts of the API (b2b_client.py) ----------------------

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        session_token: str | None = None,
        secrets: tuple[str, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        """One call to ``/sdk/v1/{path}`` with this client's limits, deadline and errors: the
        HTTP status and the reply's ``data``. ``secrets`` never appear in an error's text."""
        if path not in self._urls:
            self._urls[path] = httpx.URL(self.base_url + path)
        content = None if method == "GET" else _EMPTY_BODY if not body else _encode(body)
        return await self._call(method, path, content, session_token, secrets)

    def parse(self, where: str, status: int, parse: Callable[[Any], T], data: dict[str, Any]) -> T:
        """``parse(data)``; a reply of the wrong shape raises ``StytchResponseError``."""
        return self._parse(where, status, parse, data)

    # -- endpoints ---------------------------------------------------------------------------

    async def sessions_authenticate(
        self, session_token: str, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        """Check a session; with a duration, also set its expiry to now + duration."""
        _require_text(session_token, "session_token")
        minutes = validate_duration_minutes(session_duration_minutes)
        body = _EMPTY_BODY if minutes is None else _encode({"session_duration_minutes": minutes})
        status, data = await self._call("POST", "sessions/authenticate", body, session_token)
        return self._parse(
            "POST sessions/authenticate", status, AuthenticateResponse.from_dict, data
        )

    async def sessions_revoke(self, session_token: str) -> None:
        """Revoke the session the token belongs to."""
        _require_text(session_token, "session_token")
        await self._call("POST", "sessions/revoke", _EMPTY_BODY, session_token)

    async def otps_email_login_or_create(
        self,
        email: str,
        *,
        expiration_minutes: int | None = None,
        session_token: str | None = None,
    ) -> str:
        """Email a one-time code; returns the ``method_id`` that ``otps_authenticate`` needs."""
        body: dict[str, Any] = {"email": _require_text(email, "email").strip()}
        if expiration_minutes is not None:
            body["expiration_minutes"] = _positive_minutes(expiration_minutes, "expiration")
        path = "otps/email/login_or_create"
        status, data = await self._call("POST", path, _encode(body), _optional_token(session_token))
        method_id = data.get("method_id")
        if not isinstance(method_id, str) or not method_id:
            raise StytchResponseError(f"POST {path}: HTTP {status} reply has no method_id", status)
        return method_id

    async def otps_authenticate(
        self,
        code: str | Secret,
        method_id: str,
        session_duration_minutes: int,
        *,
        session_token: str | None = None,
    ) -> AuthenticateResponse:
        """Exchange an emailed code for a session. The client API calls the code ``token``."""
        code = _require_text(reveal(code), "code").strip()
        body = {
            "token": code,
            "method_id": _require_text(method_id, "method_id"),
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        return await self._authenticate(
            "otps/authenticate", body, _optional_token(session_token), (code,)
        )

    async def magic_links_email_login_or_create(
        self,
        email: str,
        *,
        login_magic_link_url: str | None = None,
        signup_magic_link_url: str | None = None,
        login_expiration_minutes: int | None = None,
        signup_expiration_minutes: int | None = None,
        session_token: str | None = None,
        code_challenge: str | None = None,
    ) -> None:
        """Email a sign-in (or sign-up) magic link; with ``code_challenge``, a PKCE (S256) one
        that only the matching ``code_verifier`` can redeem."""
        body: dict[str, Any] = {"email": _require_text(email, "email").strip()}
        if code_challenge is not None:
            body["code_challenge"] = _require_text(code_challenge, "code_challenge")
        for key, url in (
            ("login_magic_link_url", login_magic_link_url),
            ("signup_magic_link_url", signup_magic_link_url),
        ):
            if url is not None:
                body[key] = _require_text(url, key)
        for key, minutes in (
            ("login_expiration_minutes", login_expiration_minutes),
            ("signup_expiration_minutes", signup_expiration_minutes),
        ):
            if minutes is not None:
                body[key] = _positive_minutes(minutes, key)
        await self._call(
            "POST",
            "magic_links/email/login_or_create",
            _encode(body),
            _optional_token(session_token),
        )

    async def magic_links_authenticate(
        self,
        token: str | Secret,
        session_duration_minutes: int,
        *,
        session_token: str | None = None,
        code_verifier: str | Secret | None = None,
    ) -> AuthenticateResponse:
        """Exchange the token from a magic link's URL for a session (``code_verifier``: the
        PKCE verifier whose challenge the link was sent with)."""
        token = _require_text(reveal(token), "token").strip()
        body: dict[str, Any] = {
            "token": token,
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        verifier = None if code_verifier is None else reveal(code_verifier)
        if verifier is not None:
            body["code_verifier"] = _require_text(verifier, "code_verifier")
        return await self._authenticate(
            "magic_links/authenticate",
            body,
            _optional_token(session_token),
            (token, verifier or ""),
        )

    async def passwords_authenticate(
        self,
        email: str,
        password: str | Secret,
        session_duration_minutes: int,
        *,
        session_token: str | None = None,
    ) -> AuthenticateResponse:
        """Sign in with an email and password."""
        password = _require_text(reveal(password), "password")
        body = {
            "email": _require_text(email, "email").strip(),
            "password": password,
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        return await self._authenticate(
            "passwords/authenticate", body, _optional_token(session_token), (password,)
        )

    async def oauth_authenticate(
        self,
        token: str,
        session_duration_minutes: int,
        *,
        code_verifier: str | None = None,
        session_token: str | None = None,
    ) -> OAuthAuthenticateResponse:
        """Exchange the ``token`` an OAuth redirect brought back for a session; send the PKCE
        ``code_verifier`` whose challenge started the flow. ``provider_values`` holds the
        provider's own tokens: secrets, kept out of reprs."""
        token = _require_text(token, "token").strip()
        body: dict[str, Any] = {
            "token": token,
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        secrets: tuple[str, ...] = (token,)
        if code_verifier is not None:
            body["code_verifier"] = _require_text(code_verifier, "code_verifier")
            secrets += (code_verifier,)
        path = "oauth/authenticate"
        status, data = await self._call(
            "POST", path, _encode(body), _optional_token(session_token), secrets
        )
        from .factor_models import OAuthAuthenticateResponse

        return self._parse(f"POST {path}", status, OAuthAuthenticateResponse.from_dict, data)

    async def users_me(self, session_token: str) -> User:
        """The signed-in user."""
        _require_text(session_token, "session_token")
        status, data = await self._call("GET", "users/me", None, session_token)
        return self._parse("GET users/me", status, User.from_dict, data)

    # -- passwords ---------------------------------------------------------------------------

    async def passwords_create(
        self,
        email: str,
        password: str,
        session_duration_minutes: int,
        *,
        session_token: str | None = None,
    ) -> AuthenticateResponse:
        """Create a user with a password and sign in; ``weak_password`` if Stytch refuses it."""
        body = {
            "email": _require_text(email, "email").strip(),
            "password": _require_text(password, "password"),
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        return await self._authenticate(
            "passwords", body, _optional_token(session_token), (password,)
        )

    async def passwords_strength_check(
        self, password: str, *, email: str | None = None
    ) -> PasswordStrength:
        """How Stytch judges ``password`` (for ``email``, if given), with its feedback."""
        body: dict[str, Any] = {"password": _require_text(password, "password")}
        if email is not None:
            body["email"] = _require_text(email, "email").strip()
        path = "passwords/strength_check"
        status, data = await self._call("POST", path, _encode(body), None, (password,))
        from .factor_models import PasswordStrength

        return self._parse(f"POST {path}", status, PasswordStrength.from_dict, data)

    async def passwords_email_reset_start(
        self,
        email: str,
        *,
        reset_password_redirect_url: str | None = None,
        login_redirect_url: str | None = None,
        reset_password_expiration_minutes: int | None = None,
        code_challenge: str | None = None,
    ) -> None:
        """Email a password reset link; its token goes to ``passwords_email_reset``."""
        body: dict[str, Any] = {"email": _require_text(email, "email").strip()}
        for key, value in (
            ("reset_password_redirect_url", reset_password_redirect_url),
            ("login_redirect_url", login_redirect_url),
            ("code_challenge", code_challenge),
        ):
            if value is not None:
                body[key] = _require_text(value, key)
        if reset_password_expiration_minutes is not None:
            body["reset_password_expiration_minutes"] = _positive_minutes(
                reset_password_expiration_minutes, "reset_password_expiration"
            )
        await self._call("POST", "passwords/email/reset/start", _encode(body), None)

    async def passwords_email_reset(
        self,
        token: str,
        password: str,
        session_duration_minutes: int,
        *,
        code_verifier: str | None = None,
        session_token: str | None = None,
    ) -> AuthenticateResponse:
        """Set a new password with the token from a reset link, and sign in."""
        token = _require_text(token, "token").strip()
        body: dict[str, Any] = {
            "token": token,
            "password": _require_text(password, "password"),
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        secrets: tuple[str, ...] = (token, password)
        if code_verifier is not None:
            body["code_verifier"] = _require_text(code_verifier, "code_verifier")
            secrets += (code_verifier,)
        return await self._authenticate(
            "passwords/email/reset", body, _optional_token(session_token), secrets
        )

    async def passwords_existing_password_reset(
        self,
        email: str,
        existing_password: str,
        new_password: str,
        session_duration_minutes: int,
    ) -> AuthenticateResponse:
        """Change a password knowing the current one, and sign in."""
        body = {
            "email": _require_text(email, "email").strip(),
            "existing_password": _require_text(existing_password, "existing_password"),
            "new_password": _require_text(new_password, "new_password"),
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        return await self._authenticate(
            "passwords/existing_password/reset", body, None, (existing_password, new_password)
        )

    async def passwords_session_reset(
        self, password: str, session_token: str, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        """Set a new password for the signed-in user (of ``session_token``)."""
        _require_text(session_token, "session_token")
        body: dict[str, Any] = {"password": _require_text(password, "password")}
        minutes = validate_duration_minutes(session_duration_minutes)
        if minutes is not None:
            body["session_duration_minutes"] = minutes
        return await self._authenticate("passwords/session/reset", body, session_token, (password,))

    # -- SMS one-time codes ------------------------------------------------------------------

    async def otps_sms_login_or_create(
        self,
        phone_number: str,
        *,
        expiration_minutes: int | None = None,
        session_token: str | None = None,
    ) -> str:
        """Text a one-time code to an E.164 number; returns the ``method_id`` (the phone_id)
        that ``otps_authenticate`` needs."""
        body: dict[str, Any] = {"phone_number": _require_text(phone_number, "phone_number").strip()}
        if expiration_minutes is not None:
            body["expiration_minutes"] = _positive_minutes(expiration_minutes, "expiration")
        path = "otps/sms/login_or_create"
        status, data = await self._call("POST", path, _encode(body), _optional_token(session_token))
        method_id = data.get("method_id")
        if not isinstance(method_id, str) or not method_id:
            raise StytchResponseError(f"POST {path}: HTTP {status} reply has no method_id", status)
        return method_id

    # -- TOTP --------------------------------------------------------------------------------

    async def totps_create(
        self, session_token: str, *, expiration_minutes: int | None = None
    ) -> TOTPCreated:
        """Register an authenticator app for the signed-in user: its secret, a QR code (a
        ``data:`` URL) and recovery codes. It is verified by the first ``totps_authenticate``."""
        _require_text(session_token, "session_token")
        body: dict[str, Any] = {}
        if expiration_minutes is not None:
            body["expiration_minutes"] = _positive_minutes(expiration_minutes, "expiration")
        status, data = await self._call("POST", "totps", _encode(body), session_token)
        from .factor_models import TOTPCreated

        created = self._parse("POST totps", status, TOTPCreated.from_dict, data)
        return created

    async def totps_authenticate(
        self, totp_code: str, session_token: str, session_duration_minutes: int
    ) -> TOTPAuthenticateResponse:
        """Add an authenticator app's current code to the session."""
        _require_text(session_token, "session_token")
        code = _require_text(totp_code, "totp_code").strip()
        body = {
            "totp_code": code,
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        path = "totps/authenticate"
        status, data = await self._call("POST", path, _encode(body), session_token, (code,))
        from .factor_models import TOTPAuthenticateResponse

        return self._parse(f"POST {path}", status, TOTPAuthenticateResponse.from_dict, data)

    async def totps_recover(
        self, recovery_code: str, session_token: str, session_duration_minutes: int
    ) -> TOTPAuthenticateResponse:
        """Use one of the recovery codes instead of the app's code (each works once)."""
        _require_text(session_token, "session_token")
        code = _require_text(recovery_code, "recovery_code").strip()
        body = {
            "recovery_code": code,
            "session_duration_minutes": _factor_duration(session_duration_minutes),
        }
        path = "totps/recover"
        status, data = await self._call("POST", path, _encode(body), session_token, (code,))
        from .factor_models import TOTPAuthenticateResponse

        return self._parse(f"POST {path}", status, TOTPAuthenticateResponse.from_dict, data)

    async def totps_recovery_codes(self, session_token: str) -> tuple[TOTPRecoveryCodes, ...]:
        """The signed-in user's unused recovery codes, per registration."""
        _require_text(session_token, "session_token")
        path = "totps/recovery_codes"
        status, data = await self._call("POST", path, _EMPTY_BODY, session_token)
        from .factor_models import TOTPRecoveryCodes

        return self._parse(f"POST {path}", status, TOTPRecoveryCodes.list_from_dict, data)

    # -- users -------------------------------------------------------------------------------

    async def users_update(
        self,
        session_token: str,
        *,
        name: Mapping[str, str] | None = None,
        untrusted_metadata: Mapping[str, Any] | None = None,
    ) -> User:
        """Change the signed-in user's name (first/middle/last) or untrusted metadata (top-level
        keys merge; a None value removes its key). Returns the updated user."""
        _require_text(session_token, "session_token")
        body: dict[str, Any] = {}
        if name is not None:
            unknown = set(name) - {"first_name", "middle_name", "last_name"}
            if unknown:
                raise ValueError(
                    f"name takes first_name, middle_name, last_name, not {sorted(unknown)[0]}"
                )
            body["name"] = dict(name)
        if untrusted_metadata is not None:
            body["untrusted_metadata"] = dict(untrusted_metadata)
        if not body:
            raise ValueError("give name or untrusted_metadata to update")
        status, data = await self._call("PUT", "users/me", _encode(body), session_token)
        return self._parse("PUT users/me", status, _user_of, data)

    async def users_delete_factor(self, session_token: str, kind: str, factor_id: str) -> User:
        """Remove one of the signed-in user's ``emails``, ``phone_numbers``, ``totps`` or
        ``oauth`` registrations by its id. Returns the updated user."""
        _require_text(session_token, "session_token")
        if kind not in USER_FACTOR_KINDS:
            raise ValueError(f"kind must be one of {', '.join(USER_FACTOR_KINDS)}, not {kind!r}")
        factor_id = _require_text(factor_id, "factor_id").strip()
        if not factor_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError("factor_id must be an id like email-test-…")
        path = f"users/{kind}/{factor_id}"
        self._urls.setdefault(path, httpx.URL(self.base_url + path))
        status, data = await self._call("DELETE", path, None, session_token)
        return self._parse(f"DELETE users/{kind}", status, _user_of, data)


def _user_of(data: Mapping[str, Any]) -> User:
    return User.from_dict(data.get("user"))


def _positive_minutes(minutes: Any, what: str) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValueError(f"{what} minutes must be a positive whole number, got {minutes!r}")
    return minutes
