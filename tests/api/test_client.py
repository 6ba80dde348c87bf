"""StytchClient over real loopback HTTP to the emulator.

Only replies the emulator cannot produce (garbled bodies, non-Stytch error pages, a server that
echoes secrets) come from an ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import socket
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stytch_jupyter.api import (
    AuthenticateResponse,
    InvalidDurationError,
    StytchAPIError,
    StytchError,
    StytchNetworkError,
    StytchResponseError,
    StytchTimeoutError,
)
from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.emulator import Emulator

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
LANDING = "https://notebook.example.com/landing"  # registered with the emulator below
PASSWORD = "correct horse battery staple 1815"
SDK = "/sdk/v1/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    # One server for the module, reset before each test: starting one per test costs more
    # than the tests themselves.
    with Emulator(redirect_urls=[LANDING, LANDING + "?signup=1"]) as running:
        yield running


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    shared_emulator.reset()
    return shared_emulator


class Recorder(httpx.AsyncBaseTransport):
    """A real loopback transport that also keeps every request it sends."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(emu: Emulator, recorder: Recorder, anyio_backend: str) -> AsyncIterator[Any]:
    async with StytchClient(emu.public_token, api_url=emu.api_url, transport=recorder) as c:
        yield c


async def sign_in(client: StytchClient, emu: Emulator, minutes: int = 60) -> AuthenticateResponse:
    emu.create_user(EMAIL, password=PASSWORD)
    return await client.passwords_authenticate(EMAIL, PASSWORD, minutes)


def texts_of(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), *(str(a) for a in exc.args)]


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    """Neither the message nor the repr carries any whole secret; the message is one line."""
    assert "\n" not in str(exc)
    for secret in secrets:
        assert secret
        for text in texts_of(exc):
            assert secret not in text, f"{type(exc).__name__} shows a whole secret"


def magic_token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "api_url", "base_url"),
    [
        ("public-token-test-abc", None, "https://test.stytch.com/sdk/v1/"),
        ("public-token-live-abc", None, "https://api.stytch.com/sdk/v1/"),
        ("public-token-live-abc", "", "https://api.stytch.com/sdk/v1/"),
        (
            "public-token-test-abc",
            "https://stytch.example.com/",
            "https://stytch.example.com/sdk/v1/",
        ),
        ("public-token-test-abc", "http://127.0.0.2:9", "http://127.0.0.2:9/sdk/v1/"),
        ("public-token-test-abc", "http://[::1]:9", "http://[::1]:9/sdk/v1/"),
        ("public-token-test-abc", "http://localhost:9", "http://localhost:9/sdk/v1/"),
    ],
)
def test_base_url(token: str, api_url: str | None, base_url: str) -> None:
    assert StytchClient(token, api_url=api_url).base_url == base_url


@pytest.mark.parametrize(
    ("api_url", "says"),
    [
        ("http://example.com", "plain http"),
        ("http://10.0.0.1:8080", "plain http"),
        ("http://127.0.0.1.example.com", "plain http"),
        ("ftp://127.0.0.1", "http(s)"),
        ("127.0.0.1:9010", "http(s)"),
        ("https://user:pw@stytch.example.com", "credentials"),
        ("https://stytch.example.com/?x=1", "query"),
        ("http://127.0.0.1:notaport", "not a valid URL"),
        ("http://[::ffff:7f00:1", "not a valid URL"),
    ],
)
def test_unsafe_api_url_is_refused(api_url: str, says: str) -> None:
    with pytest.raises(ValueError, match="api_url") as info:
        StytchClient("public-token-test-abc", api_url=api_url)
    assert says in str(info.value) and "\n" not in str(info.value)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize("token", ["", "   ", "public token", "public:token"])
def test_bad_public_token_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="public_token"):
        StytchClient(token)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), True])
def test_bad_timeout_is_refused(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        StytchClient("public-token-test-abc", timeout=timeout)


# ---- endpoints: success ------------------------------------------------------------------------


async def test_otp_sign_in_then_session_calls(client: StytchClient, emu: Emulator) -> None:
    method_id = await client.otps_email_login_or_create(EMAIL, expiration_minutes=5)
    sent_method, code = emu.last_otp(EMAIL)
    assert method_id == sent_method and method_id.startswith("email-test-")

    signed_in = await client.otps_authenticate(code, method_id, 30)
    assert signed_in.user.email == EMAIL
    assert signed_in.method_id == method_id
    assert signed_in.session.user_id == signed_in.user.user_id
    assert [f.type for f in signed_in.session.authentication_factors] == ["otp"]
    session = signed_in.session
    assert session.expires_at is not None and session.last_accessed_at is not None
    assert abs(session.expires_at - session.last_accessed_at - timedelta(minutes=30)) < timedelta(
        seconds=2
    )
    assert signed_in.tokens.opaque == signed_in.session_token

    # Without a duration: a pure check, expiry untouched, same opaque token, fresh JWT.
    emu.advance_clock(2)
    checked = await client.sessions_authenticate(signed_in.session_token)
    assert checked.session.session_id == session.session_id
    assert checked.session.expires_at == session.expires_at
    assert checked.session_token == signed_in.session_token
    assert checked.session_jwt != signed_in.session_jwt

    # With one: expiry set to now + duration (not added).
    extended = await client.sessions_authenticate(signed_in.session_token, 120)
    assert extended.session.expires_at is not None and extended.session.last_accessed_at
    assert abs(
        extended.session.expires_at - extended.session.last_accessed_at - timedelta(minutes=120)
    ) < timedelta(seconds=2)

    me = await client.users_me(signed_in.session_token)
    assert me.user_id == signed_in.user.user_id and me.email == EMAIL

    await client.sessions_revoke(signed_in.session_token)
    with pytest.raises(StytchAPIError) as info:
        await client.sessions_authenticate(signed_in.session_token)
    assert info.value.error_type == "session_not_found" and info.value.status_code == 404
    assert info.value.unrecoverable
    assert_no_secret(info.value, signed_in.session_token)


async def test_magic_link_sign_in(client: StytchClient, emu: Emulator) -> None:
    landing = LANDING
    await client.magic_links_email_login_or_create(
        EMAIL,
        login_magic_link_url=landing,
        signup_magic_link_url=landing + "?signup=1",
        login_expiration_minutes=15,
        signup_expiration_minutes=15,
    )
    url = emu.last_magic_link(EMAIL)
    assert url.startswith(landing) and "stytch_token_type=magic_links" in url
    token = magic_token(url)

    signed_in = await client.magic_links_authenticate(token, 10)
    assert signed_in.user.email == EMAIL
    assert [f.type for f in signed_in.session.authentication_factors] == ["magic_link"]
    assert signed_in.method_id == signed_in.user.emails[0].email_id

    with pytest.raises(StytchAPIError) as info:
        await client.magic_links_authenticate(token, 10)
    assert info.value.error_type == "unable_to_auth_magic_link"
    assert info.value.status_code == 401 and not info.value.unrecoverable
    assert_no_secret(info.value, token)


async def test_password_sign_in_and_wrong_password(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu, minutes=5)
    assert signed_in.user.email == EMAIL
    factor = signed_in.session.authentication_factors[0]
    assert (factor.type, factor.delivery_method, factor.email_address) == (
        "password",
        "knowledge",
        EMAIL,
    )
    with pytest.raises(StytchAPIError) as info:
        await client.passwords_authenticate(EMAIL, "not the password at all", 5)
    assert (info.value.error_type, info.value.status_code) == ("unauthorized_credentials", 401)
    assert_no_secret(info.value, "not the password at all", PASSWORD)


async def test_factor_with_a_session_joins_it(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu)
    method_id = await client.otps_email_login_or_create(
        EMAIL, session_token=signed_in.session_token
    )
    _, code = emu.last_otp(EMAIL)
    joined = await client.otps_authenticate(
        code, method_id, 60, session_token=signed_in.session_token
    )
    assert joined.session.session_id == signed_in.session.session_id
    assert [f.type for f in joined.session.authentication_factors] == ["password", "otp"]


async def test_headers_are_what_stytch_sdks_send(
    client: StytchClient, emu: Emulator, recorder: Recorder
) -> None:
    signed_in = await sign_in(client, emu)
    await client.sessions_authenticate(signed_in.session_token)
    await client.users_me(signed_in.session_token)
    signed_out, check, me = recorder.requests

    def basic(request: httpx.Request) -> str:
        scheme, _, value = request.headers["authorization"].partition(" ")
        assert scheme == "Basic"
        return base64.b64decode(value).decode()

    assert basic(signed_out) == f"{emu.public_token}:{emu.public_token}"
    assert basic(check) == f"{emu.public_token}:{signed_in.session_token}"
    assert basic(me) == basic(check)

    for request in (signed_out, check, me):
        assert request.headers["content-type"] == "application/json"
        info = json.loads(base64.b64decode(request.headers["x-sdk-client"]))
        assert info["sdk"] == {"identifier": "stytch-jupyter", "version": "0.1.0"}
        assert set(info) == {"app", "sdk", "os"}
        assert info["app"]["identifier"] and info["os"]["identifier"] and info["os"]["version"]
    assert signed_out.headers["x-sdk-client"] == check.headers["x-sdk-client"]

    assert (check.method, check.url.path, check.content) == (
        "POST",
        SDK + "sessions/authenticate",
        b"{}",
    )
    assert (me.method, me.url.path, me.content) == ("GET", SDK + "users/me", b"")
    assert json.loads(signed_out.content) == {
        "email": EMAIL,
        "password": PASSWORD,
        "session_duration_minutes": 60,
    }


async def test_one_http_client_reused(client: StytchClient, emu: Emulator) -> None:
    first = await sign_in(client, emu)
    http = client._http
    assert http is not None and not http.follow_redirects
    await client.sessions_authenticate(first.session_token)
    await client.users_me(first.session_token)
    assert client._http is http
    await client.aclose()
    assert http.is_closed and client._http is None
    await client.aclose()  # twice is fine


async def check_on_the_wire(
    client: StytchClient, emu: Emulator, latency_ms: float
) -> tuple[asyncio.Future[Any], httpx.AsyncClient, str]:
    """A session check whose reply takes ``latency_ms``, sent; and the pool it went out on."""
    first = await sign_in(client, emu)
    emu.add_fault(path_prefix="/sdk/v1/sessions/authenticate", latency_ms=latency_ms)
    asked = asyncio.ensure_future(client.sessions_authenticate(first.session_token))
    while emu.control.faults():  # the request takes the fault when it arrives
        await asyncio.sleep(0.005)
    assert client._http is not None
    return asked, client._http, first.session.session_id


async def test_aclose_when_idle_lets_a_reply_on_its_way_arrive(
    client: StytchClient, emu: Emulator
) -> None:
    asked, http, session_id = await check_on_the_wire(client, emu, 300)
    await client.aclose_when_idle()
    assert asked.done() and http.is_closed  # closed only once the reply was in
    assert (await asked).session.session_id == session_id
    await client.aclose_when_idle()  # with nothing open: at once, twice is fine
    # A request still made through it (an operation that held it) closes what it opened.
    again = await client.sessions_authenticate((await asked).session_token)
    assert again.session.session_id == session_id
    assert client._http is None


async def test_aclose_when_idle_cancelled_closes_at_once(
    client: StytchClient, emu: Emulator
) -> None:
    asked, http, _ = await check_on_the_wire(client, emu, 2000)
    closing = asyncio.ensure_future(client.aclose_when_idle())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waiting for the slow reply
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert http.is_closed
    with pytest.raises(StytchNetworkError):
        await asked  # cut, and said as a network error


# The pool of a loop that has ended cannot be closed any more (nothing runs there): its sockets
# go with the garbage collector, collected here so that their warnings stay with this test.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_constructed_on_one_thread_used_on_another_loop(emu: Emulator) -> None:
    emu.create_user(EMAIL, password=PASSWORD)
    client = StytchClient(emu.public_token, api_url=emu.api_url)
    assert client._http is None  # nothing bound to this thread's (absent) loop
    results: list[Any] = []

    def worker() -> None:
        results.append(asyncio.run(client.passwords_authenticate(EMAIL, PASSWORD, 5)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert results and results[0].user.email == EMAIL
    # A second loop (asyncio.run again) gets its own connection pool instead of a dead one.
    again = asyncio.run(client.sessions_authenticate(results[0].session_token))
    assert again.session.session_id == results[0].session.session_id
    # Closing from yet another loop, after the owning one has ended, is quiet, and lets the
    # pool go: its sockets are collected here, not in whichever test runs next.
    pool = weakref.ref(client._http)
    asyncio.run(client.aclose())
    assert client._http is None
    gc.collect()
    assert pool() is None


def test_aclose_from_another_loop_closes_on_the_owner(emu: Emulator) -> None:
    emu.create_user(EMAIL, password=PASSWORD)
    client = StytchClient(emu.public_token, api_url=emu.api_url)
    owner = asyncio.new_event_loop()
    thread = threading.Thread(target=owner.run_forever)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(
            client.passwords_authenticate(EMAIL, PASSWORD, 5), owner
        ).result(10)
        http = client._http
        assert http is not None and not http.is_closed
        asyncio.run(client.aclose())
        assert http.is_closed
    finally:
        owner.call_soon_threadsafe(owner.stop)
        thread.join(10)
        owner.close()


# ---- local validation: nothing reaches the wire ------------------------------------------------


async def test_bad_durations_are_refused_before_any_request(
    client: StytchClient, emu: Emulator, recorder: Recorder
) -> None:
    signed_in = await sign_in(client, emu)
    method_id = await client.otps_email_login_or_create(EMAIL)
    _, code = emu.last_otp(EMAIL)
    token = signed_in.session_token
    sent = len(recorder.requests)
    # The emulator's own proof: a one-shot fault that the next request to reach it will use up.
    emu.add_fault(path_prefix=SDK, status=503, times=1)
    minutes: Any
    for minutes in (4, 527041, 0, -5, True, 30.0, "30"):
        calls: list[Awaitable[Any]] = [
            client.sessions_authenticate(token, minutes),
            client.otps_authenticate(code, method_id, minutes),
            client.magic_links_authenticate("some-token", minutes),
            client.passwords_authenticate(EMAIL, PASSWORD, minutes),
        ]
        for call in calls:
            with pytest.raises(InvalidDurationError, match="session duration") as info:
                await call
            assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    assert len(recorder.requests) == sent
    # The fault is still armed: none of the refused calls reached the emulator...
    with pytest.raises(StytchAPIError) as fault:
        await client.sessions_authenticate(token)
    assert fault.value.status_code == 503
    # ...and the code was not spent either: the edges of the range work.
    assert (await client.otps_authenticate(code, method_id, 527040)).user.email == EMAIL
    assert (await client.sessions_authenticate(token, 5)).session.session_id


async def test_empty_inputs_are_refused_before_any_request(
    client: StytchClient, emu: Emulator, recorder: Recorder
) -> None:
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("session_token", lambda: client.sessions_authenticate("")),
        ("session_token", lambda: client.sessions_revoke("  ")),
        ("session_token", lambda: client.users_me("")),
        ("email", lambda: client.otps_email_login_or_create("")),
        ("session_token", lambda: client.otps_email_login_or_create(EMAIL, session_token="")),
        ("code", lambda: client.otps_authenticate("", "email-test-x", 5)),
        ("method_id", lambda: client.otps_authenticate("123456", "", 5)),
        ("email", lambda: client.magic_links_email_login_or_create(" ")),
        (
            "expiration",
            lambda: client.magic_links_email_login_or_create(EMAIL, login_expiration_minutes=0),
        ),
        ("token", lambda: client.magic_links_authenticate("", 5)),
        ("email", lambda: client.passwords_authenticate("", PASSWORD, 5)),
        ("password", lambda: client.passwords_authenticate(EMAIL, "", 5)),
    ]
    for what, call in calls:
        with pytest.raises(ValueError, match=what) as info:
            await call()
        assert "\n" not in str(info.value)
    assert recorder.requests == []
    assert emu.outbox() == []


# ---- endpoint errors from the emulator ---------------------------------------------------------


async def test_wrong_expired_and_reused_otp_codes(client: StytchClient, emu: Emulator) -> None:
    method_id = await client.otps_email_login_or_create(EMAIL, expiration_minutes=1)
    _, code = emu.last_otp(EMAIL)
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    with pytest.raises(StytchAPIError) as info:
        await client.otps_authenticate(wrong, method_id, 5)
    assert (info.value.error_type, info.value.status_code) == ("otp_code_not_found", 404)
    assert info.value.request_id and info.value.request_id.startswith("request-id-test-")
    assert_no_secret(info.value, wrong, code)

    emu.advance_clock(61)
    with pytest.raises(StytchAPIError) as info:
        await client.otps_authenticate(code, method_id, 5)
    assert (info.value.error_type, info.value.status_code) == ("unable_to_auth_otp_code", 401)
    assert_no_secret(info.value, code)

    method_id = await client.otps_email_login_or_create(EMAIL)
    _, fresh = emu.last_otp(EMAIL)
    assert (await client.otps_authenticate(fresh, method_id, 5)).user.email == EMAIL
    with pytest.raises(StytchAPIError) as info:
        await client.otps_authenticate(fresh, method_id, 5)
    assert info.value.error_type == "otp_code_not_found"
    assert_no_secret(info.value, fresh)


async def test_unknown_magic_link(client: StytchClient) -> None:
    with pytest.raises(StytchAPIError) as info:
        await client.magic_links_authenticate("never-issued-token-1234567890", 5)
    assert (info.value.error_type, info.value.status_code) == ("magic_link_not_found", 404)
    assert_no_secret(info.value, "never-issued-token-1234567890")


async def test_session_revoked_elsewhere_or_expired(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu, minutes=5)
    emu.revoke_session(session_token=signed_in.session_token)
    for call in (client.sessions_authenticate, client.users_me, client.sessions_revoke):
        with pytest.raises(StytchAPIError) as info:
            await call(signed_in.session_token)
        assert info.value.error_type == "session_not_found" and info.value.unrecoverable
        assert_no_secret(info.value, signed_in.session_token)

    other = await client.passwords_authenticate(EMAIL, PASSWORD, 5)
    emu.advance_clock(5 * 60 + 1)
    with pytest.raises(StytchAPIError) as info:
        await client.sessions_authenticate(other.session_token, 60)
    assert info.value.error_type == "session_not_found" and info.value.unrecoverable


async def test_a_jwt_works_as_the_session_credential(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu)
    checked = await client.sessions_authenticate(signed_in.session_jwt)
    assert checked.session.session_id == signed_in.session.session_id


# ---- injected faults ---------------------------------------------------------------------------


async def test_rate_limited(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu)
    emu.add_fault(path_prefix=SDK + "sessions/authenticate", status=429, retry_after=7)
    with pytest.raises(StytchAPIError) as info:
        await client.sessions_authenticate(signed_in.session_token)
    error = info.value
    assert (error.status_code, error.error_type, error.retry_after) == (429, "too_many_requests", 7)
    assert not error.unrecoverable
    assert_no_secret(error, signed_in.session_token)
    # The fault was one-shot: the session is untouched.
    await client.sessions_authenticate(signed_in.session_token)


async def test_server_error(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu)
    emu.add_fault(path_prefix=SDK + "users/me", status=500)
    with pytest.raises(StytchAPIError) as info:
        await client.users_me(signed_in.session_token)
    error = info.value
    assert (error.status_code, error.error_type, error.retry_after) == (
        500,
        "internal_server_error",
        None,
    )
    assert not error.unrecoverable and error.error_url


async def test_timeout(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu)  # with the default timeout: a busy machine is slow
    # The fault outlasts the deadline, and ends before the module's emulator stops.
    emu.add_fault(path_prefix=SDK + "sessions/authenticate", latency_ms=1000)
    async with StytchClient(emu.public_token, api_url=emu.api_url, timeout=0.2) as quick:
        with pytest.raises(StytchTimeoutError) as info:
            await quick.sessions_authenticate(signed_in.session_token)
    message = str(info.value)
    assert "POST sessions/authenticate" in message and "within 0.2s" in message
    assert isinstance(info.value, StytchNetworkError)
    assert not isinstance(info.value, httpx.HTTPError)
    assert_no_secret(info.value, signed_in.session_token, signed_in.session_jwt)


async def test_dropped_connection(client: StytchClient, emu: Emulator) -> None:
    signed_in = await sign_in(client, emu)
    emu.add_fault(path_prefix=SDK + "sessions/authenticate", drop=True)
    with pytest.raises(StytchNetworkError) as info:
        await client.sessions_authenticate(signed_in.session_token)
    assert type(info.value) is StytchNetworkError
    assert "POST sessions/authenticate" in str(info.value)
    assert_no_secret(info.value, signed_in.session_token)
    # The client recovers on a fresh connection.
    await client.sessions_authenticate(signed_in.session_token)


async def test_connection_refused(anyio_backend: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with StytchClient("public-token-test-abc", api_url=url) as client:
        with pytest.raises(StytchNetworkError) as info:
            await client.sessions_authenticate("a-session-token-that-must-not-leak")
    assert type(info.value) is StytchNetworkError
    assert "POST sessions/authenticate" in str(info.value) and url in str(info.value)
    assert_no_secret(info.value, "a-session-token-that-must-not-leak")


# ---- replies the emulator cannot give ----------------------------------------------------------

SECRET_TOKEN = "opaque-session-token-ABCDEFGHIJKLMNOP"


def mocked(reply: Callable[[httpx.Request], httpx.Response]) -> StytchClient:
    return StytchClient(
        "public-token-test-abc",
        api_url="https://stytch.example.com",
        transport=httpx.MockTransport(reply),
    )


@pytest.fixture(scope="module")
def real_reply(shared_emulator: Emulator) -> dict[str, Any]:
    """A genuine sessions/authenticate body from the emulator, to garble piece by piece."""

    async def fetch() -> dict[str, Any]:
        async with StytchClient(shared_emulator.public_token, api_url=shared_emulator.api_url) as c:
            shared_emulator.create_user("garble@example.com", password=PASSWORD)
            signed_in = await c.passwords_authenticate("garble@example.com", PASSWORD, 5)
            async with httpx.AsyncClient(headers=c.default_headers) as bare:
                response = await bare.post(
                    c.base_url + "sessions/authenticate",
                    content=b"{}",
                    headers=c.auth_header(signed_in.session_token),
                )
            body: dict[str, Any] = response.json()
            return body

    return asyncio.run(fetch())


async def test_real_reply_parses_through_the_mock(real_reply: dict[str, Any]) -> None:
    async with mocked(lambda request: httpx.Response(200, json=real_reply)) as client:
        result = await client.sessions_authenticate(SECRET_TOKEN)
    assert result.session_token == real_reply["data"]["session_token"]


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


def _with(data: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda r: httpx.Response(200, html=f"<html>{SECRET_TOKEN}</html>"), "not a JSON object"),
        (lambda r: httpx.Response(200, content=b'{"data": {'), "not a JSON object"),
        (lambda r: httpx.Response(200, content=b"\xff\xfe garbage"), "not a JSON object"),
        (lambda r: httpx.Response(200, json=[1, 2]), "not a JSON object"),
        (lambda r: httpx.Response(204), "not a JSON object"),
        (lambda r: httpx.Response(200, json={"session_token": SECRET_TOKEN}), "no 'data' object"),
        (lambda r: httpx.Response(200, json={"data": "yes"}), "no 'data' object"),
    ],
)
async def test_garbled_success_reply(
    make: Callable[[httpx.Request], httpx.Response], says: str
) -> None:
    async with mocked(make) as client:
        with pytest.raises(StytchResponseError) as info:
            await client.sessions_authenticate(SECRET_TOKEN)
    assert says in str(info.value) and "HTTP 2" in str(info.value)
    assert info.value.status_code in (200, 204)
    assert_no_secret(info.value, SECRET_TOKEN)


@pytest.mark.parametrize(
    ("garble", "says"),
    [
        (lambda d: _without(d, "data", "session_token"), "session_token"),
        (lambda d: _without(d, "data", "session"), "session"),
        (lambda d: _without(d, "data", "user", "user_id"), "user_id"),
        (lambda d: _with(d, 5, "data", "session", "roles"), "unexpected shape"),
        (lambda d: _with(d, "yesterday", "data", "session", "expires_at"), "timestamp"),
        (lambda d: _with(d, "nope", "data", "session", "authentication_factors"), "factors"),
    ],
)
async def test_wrongly_shaped_success_reply(
    real_reply: dict[str, Any], garble: Callable[[dict[str, Any]], dict[str, Any]], says: str
) -> None:
    body = garble(real_reply)
    async with mocked(lambda request: httpx.Response(200, json=body)) as client:
        with pytest.raises(StytchResponseError) as info:
            await client.sessions_authenticate(SECRET_TOKEN)
    message = str(info.value)
    assert says in message and "POST sessions/authenticate: HTTP 200" in message
    assert_no_secret(
        info.value,
        SECRET_TOKEN,
        real_reply["data"]["session_token"],
        real_reply["data"]["session_jwt"],
    )


async def test_login_or_create_without_method_id() -> None:
    reply = httpx.Response(200, json={"data": {"status_code": 200}})
    async with mocked(lambda request: reply) as client:
        with pytest.raises(StytchResponseError, match="method_id"):
            await client.otps_email_login_or_create(EMAIL)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("3", 3.0),
        ("2.5", 2.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("soon", None),
        ("-1", None),
        ("nan", None),
        (None, None),
    ],
)
async def test_error_page_without_stytch_body(
    retry_after: str | None, expected: float | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    page = httpx.Response(502, html="<html><h1>502 Bad Gateway</h1></html>", headers=headers)
    async with mocked(lambda request: page) as client:
        with pytest.raises(StytchAPIError) as info:
            await client.sessions_authenticate(SECRET_TOKEN)
    error = info.value
    assert (error.status_code, error.error_type, error.retry_after) == (502, "http_502", expected)
    assert not error.unrecoverable
    assert "without a Stytch error body" in str(error) and "<h1>" not in str(error)


async def test_redirect_is_not_followed() -> None:
    moved = httpx.Response(302, headers={"Location": "https://elsewhere.example.com/"})
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return moved

    async with mocked(reply) as client:
        with pytest.raises(StytchAPIError) as info:
            await client.sessions_authenticate(SECRET_TOKEN)
    assert info.value.error_type == "http_302" and len(seen) == 1


async def test_secrets_echoed_by_a_server_are_scrubbed() -> None:
    code = "918273"

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "status_code": 400,
                "error_type": "invalid_code",
                "error_message": f"code {code} for session {SECRET_TOKEN} is\nwrong",
                "request_id": "request-id-test-1",
            },
        )

    async with mocked(reply) as client:
        with pytest.raises(StytchAPIError) as info:
            await client.otps_authenticate(code, "email-test-1", 5, session_token=SECRET_TOKEN)
    assert info.value.error_type == "invalid_code" and info.value.request_id == "request-id-test-1"
    assert "opaque…" in str(info.value)
    assert_no_secret(info.value, code, SECRET_TOKEN)
    assert code not in info.value.error_message and SECRET_TOKEN not in info.value.error_message


async def test_every_failure_is_a_stytch_error(anyio_backend: str) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    async with mocked(reply) as client:
        with pytest.raises(StytchError) as info:
            await client.users_me(SECRET_TOKEN)
    assert type(info.value) is StytchNetworkError
    assert "GET users/me" in str(info.value) and "peer closed connection" in str(info.value)
    # httpx's frames hold the request (its Authorization header): never chained for display.
    assert info.value.__cause__ is None and info.value.__suppress_context__
