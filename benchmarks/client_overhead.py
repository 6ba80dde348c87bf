"""What StytchClient adds on top of httpx, per request.

Starts an emulator, signs a user in, then interleaves N calls of
``StytchClient.sessions_authenticate`` with N bare ``httpx.AsyncClient.post`` calls of the
identical request (same URL, headers and body, a reused client of the same kind), and prints both
medians and their ratio. Target: ratio <= 1.15.

    .venv/bin/python benchmarks/client_overhead.py [--runs 300] [--warmup 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import httpx

from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.emulator import Emulator

TARGET_RATIO = 1.15


Timings = tuple[list[float], list[float]]


async def interleave(
    client: StytchClient, bare: httpx.AsyncClient, token: str, runs: int, warmup: int
) -> Timings:
    url = client.base_url + "sessions/authenticate"

    async def with_client() -> None:
        await client.sessions_authenticate(token)

    async def with_httpx() -> None:
        response = await bare.post(url, content=b"{}")
        response.raise_for_status()

    for _ in range(warmup):
        await with_client()
        await with_httpx()
    client_times: list[float] = []
    bare_times: list[float] = []
    for i in range(runs):
        # Alternate which goes first so neither always follows the other's GC or I/O.
        order = [(with_client, client_times), (with_httpx, bare_times)]
        for fn, into in order if i % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            await fn()
            into.append(time.perf_counter() - start)
    return client_times, bare_times


async def measure(emu: Emulator, runs: int, warmup: int) -> tuple[Timings, Timings]:
    email = "bench@example.com"
    emu.create_user(email, password="a correct horse battery staple 42")
    async with StytchClient(emu.public_token, api_url=emu.api_url) as client:
        signed_in = await client.passwords_authenticate(
            email, "a correct horse battery staple 42", 60
        )
        token = signed_in.session_token
        # The bare baseline sends byte-for-byte what the client sends.
        headers = {**client.default_headers, **client.auth_header(token)}
        async with httpx.AsyncClient(headers=headers, follow_redirects=False) as bare:
            over_http = await interleave(client, bare, token, runs, warmup)
            reply = await bare.post(client.base_url + "sessions/authenticate", content=b"{}")

    # The same comparison with the network taken out (both replay the emulator's reply), so the
    # client's own cost shows in microseconds rather than inside loopback noise.
    def replay(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=reply.content, headers=reply.headers)

    transport = httpx.MockTransport(replay)
    async with (
        StytchClient(emu.public_token, api_url=emu.api_url, transport=transport) as client,
        httpx.AsyncClient(headers=headers, transport=transport) as bare,
    ):
        in_process = await interleave(client, bare, token, runs * 10, warmup * 10)
    return over_http, in_process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args(argv)
    with Emulator() as emu:
        (client_times, bare_times), (local_client, local_bare) = asyncio.run(
            measure(emu, args.runs, args.warmup)
        )
    client_median = statistics.median(client_times)
    bare_median = statistics.median(bare_times)
    ratio = client_median / bare_median
    print(f"runs: {args.runs} each, interleaved, after {args.warmup} warm-up pairs")
    print(f"bare httpx POST sessions/authenticate: median {bare_median * 1e3:.3f} ms")
    print(f"StytchClient.sessions_authenticate:    median {client_median * 1e3:.3f} ms")
    print(
        f"ratio: {ratio:.3f} (target <= {TARGET_RATIO}; "
        f"difference {(client_median - bare_median) * 1e6:+.0f} us per call)"
    )
    local_client_median = statistics.median(local_client)
    local_bare_median = statistics.median(local_bare)
    print(
        f"without the network ({len(local_client)} runs each): "
        f"client {local_client_median * 1e6:.0f} us, bare {local_bare_median * 1e6:.0f} us, "
        f"overhead {(local_client_median - local_bare_median) * 1e6:+.0f} us per call "
        "(parsing the reply into models)"
    )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
