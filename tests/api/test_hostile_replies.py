"""StytchClient against a hostile loopback server (tests/support/hostile_server.py): whatever it
sends, the answer is one of the project's errors, in bounded time and memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stytch_jupyter.api import StytchAPIError, StytchResponseError, StytchTimeoutError
from stytch_jupyter.api.client import StytchClient
from tests.support.hostile_server import HostileServer, huge, json_reply, raw_reply, trickle

pytestmark = pytest.mark.anyio

TOKEN = "public-token-test-hostile"
SESSION = "session-token-that-is-secret-0123456789"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def client_for(server: HostileServer, timeout: float = 5.0) -> StytchClient:
    return StytchClient(TOKEN, api_url=server.url, timeout=timeout)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_unrecoverable_type_in_a_non_4xx_is_not_a_verdict(
    server: HostileServer, status: int
) -> None:
    body = {"status_code": status, "error_type": "unauthorized_credentials", "error_message": "x"}
    server.arm("sessions/authenticate", json_reply(status, body))
    async with client_for(server) as client:
        with pytest.raises(StytchAPIError) as info:
            await client.sessions_authenticate(SESSION)
    assert info.value.error_type == "unauthorized_credentials"
    assert not info.value.unrecoverable


async def test_the_same_type_in_a_4xx_is(server: HostileServer) -> None:
    body = {"status_code": 401, "error_type": "unauthorized_credentials", "error_message": "x"}
    server.arm("sessions/authenticate", json_reply(401, body))
    async with client_for(server) as client:
        with pytest.raises(StytchAPIError) as info:
            await client.sessions_authenticate(SESSION)
    assert info.value.unrecoverable


async def test_timeout_is_a_deadline_for_the_whole_request(server: HostileServer) -> None:
    # Every byte arrives well within any per-read timeout; the whole body would take 7 s.
    body = b'{"data": {"padding": "..........."}}'
    server.arm("users/me", trickle(body, every=0.2))
    async with client_for(server, timeout=0.6) as client:
        with pytest.raises(StytchTimeoutError, match=r"within 0\.6s"):
            await client.users_me(SESSION)
    assert server.sent < len(body)


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_reply_is_refused_without_reading_it_all(
    server: HostileServer, declare_length: bool
) -> None:
    size = 50 * 1024 * 1024
    server.arm("users/me", huge(size, declare_length=declare_length))
    async with client_for(server) as client:
        with pytest.raises(StytchResponseError, match="1 MiB"):
            await client.users_me(SESSION)
    # What left the server is the cap plus what the sockets' buffers took: far from 50 MB.
    assert server.sent < 16 * 1024 * 1024


MALFORMED = {
    "deeply nested": b"[" * 200_000 + b"]" * 200_000,
    "nested object": b'{"data":' * 100_000 + b"1" + b"}" * 100_000,
    "huge integer": b'{"data": {"n": ' + b"9" * 100_000 + b"}}",
    "garbage": b"\xff\xfe<html>not json",
    "truncated": b'{"data": {"user_id": "u',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("status", [200, 500])
async def test_every_malformed_reply_is_a_stytch_error(
    server: HostileServer, body: bytes, status: int
) -> None:
    server.arm("users/me", raw_reply(status, body))
    async with client_for(server) as client:
        with pytest.raises((StytchResponseError, StytchAPIError)) as info:
            await client.users_me(SESSION)
    if status == 200:
        assert type(info.value) is StytchResponseError
    else:  # an error status without a readable Stytch body: retried like any 5xx
        assert isinstance(info.value, StytchAPIError) and info.value.error_type == "http_500"


@pytest.mark.parametrize(("header", "seconds"), [("100000", 900.0), ("30", 30.0), ("inf", None)])
async def test_a_server_asked_wait_is_bounded(
    server: HostileServer, header: str, seconds: float | None
) -> None:
    body = {"status_code": 429, "error_type": "too_many_requests", "error_message": "slow down"}
    server.arm("sessions/authenticate", json_reply(429, body, {"Retry-After": header}))
    async with client_for(server) as client:
        with pytest.raises(StytchAPIError) as info:
            await client.sessions_authenticate(SESSION)
    assert info.value.retry_after == seconds
