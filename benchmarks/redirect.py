"""What a redirect way back adds on top of the authenticate request it ends in.

An emulator runs in its own process. Each round starts a PKCE magic-link flow and takes the
emailed link; the timer starts when the redirect is handed to the way back (the loopback
listener's HTTP GET, or the server's mailbox handover) and stops when the session manager's
``status`` turns ``signed_in``. Interleaved with it: one bare ``httpx`` POST of
``magic_links/authenticate`` with a fresh link's token and its verifier (a reused client).
Also interleaved: the manager's own ``magic_links.authenticate(token, code_verifier=…)`` called
directly, which is the floor any way back ends on; the gap to it is what the way back costs.
Prints the medians and the ratios per way back. Target: redirect / bare <= 1.5.

    .venv/bin/python benchmarks/redirect.py [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator.control import EmulatorControl
from stytch_jupyter.emulator.defaults import DEFAULT_PUBLIC_TOKEN
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session.redirect import PkcePair, parse_redirect
from stytch_jupyter.session.redirect.mailbox import CALLBACK_URL_ENV, MAILBOX_ENV, hand_over

try:
    from _emulator_process import emulator_process
except ImportError:  # run as a module
    from benchmarks._emulator_process import emulator_process

TARGET_RATIO = 1.5
EMAIL = "bench@example.com"


def signed_in_clock(manager: SessionManager) -> Callable[[], float]:
    """Starts watching ``status``; the returned call waits and gives when it became signed_in."""
    seen = threading.Event()
    at: list[float] = []

    def note(change: dict[str, object]) -> None:
        if change["new"] == "signed_in" and not at:
            at.append(time.perf_counter())
            seen.set()

    manager.observe(note, names="status")

    def wait() -> float:
        if not seen.wait(30):
            raise RuntimeError("the redirect did not sign in")
        manager.unobserve(note, names="status")
        return at[0]

    return wait


def one_redirect(manager: SessionManager, control: EmulatorControl, route: str) -> float:
    # Each round starts signed out, so the flow's sign-in is what flips the status.
    manager.sessions.revoke(force_clear=True) if manager.signed_in else None
    flow = manager.redirect.start_magic_link(EMAIL, route=route)  # type: ignore[arg-type]
    link = control.last_magic_link(EMAIL)
    done = signed_in_clock(manager)
    if route == "loopback":
        with httpx.Client(trust_env=False) as browser:
            start = time.perf_counter()
            browser.get(link).raise_for_status()
    else:
        assert flow.route.mailbox is not None
        redirect = parse_redirect(link)
        start = time.perf_counter()
        ok, message = asyncio.run(hand_over(flow.route.mailbox, redirect))
        assert ok, message
    return done() - start


def fresh_link(bare: httpx.Client, control: EmulatorControl, api_url: str) -> tuple[str, PkcePair]:
    pair = PkcePair()
    bare.post(
        f"{api_url}/sdk/v1/magic_links/email/login_or_create",
        json={"email": EMAIL, "code_challenge": pair.challenge},
    ).raise_for_status()
    return parse_qs(urlsplit(control.last_magic_link(EMAIL)).query)["token"][0], pair


def one_direct(
    manager: SessionManager, bare: httpx.Client, control: EmulatorControl, api_url: str
) -> float:
    if manager.signed_in:
        manager.sessions.revoke(force_clear=True)
    token, pair = fresh_link(bare, control, api_url)
    start = time.perf_counter()
    manager.magic_links.authenticate(token, code_verifier=pair.verifier)
    return time.perf_counter() - start


def one_bare(bare: httpx.Client, control: EmulatorControl, api_url: str) -> float:
    token, pair = fresh_link(bare, control, api_url)
    body = {"token": token, "session_duration_minutes": 5, "code_verifier": pair.verifier}
    start = time.perf_counter()
    bare.post(f"{api_url}/sdk/v1/magic_links/authenticate", json=body).raise_for_status()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    mailbox = Path(tempfile.mkdtemp(prefix="sj-bench-"))
    import os

    os.environ[MAILBOX_ENV] = str(mailbox)
    os.environ[CALLBACK_URL_ENV] = "http://127.0.0.1:1/stytch-jupyter/callback"
    worst = 0.0
    with emulator_process() as api_url, EmulatorControl(api_url) as control:
        config = Stytch(api_url=api_url, public_token=DEFAULT_PUBLIC_TOKEN, token_store="memory")
        manager = SessionManager(config)
        manager.start()
        auth = (DEFAULT_PUBLIC_TOKEN, DEFAULT_PUBLIC_TOKEN)
        try:
            with httpx.Client(auth=auth, trust_env=False) as bare:
                for route in ("loopback", "server"):
                    times: list[float] = []
                    floor: list[float] = []
                    baseline: list[float] = []
                    for i in range(args.warmup + args.runs):
                        calls = [
                            (lambda r=route: one_redirect(manager, control, r), times),
                            (lambda: one_direct(manager, bare, control, api_url), floor),
                            (lambda: one_bare(bare, control, api_url), baseline),
                        ]
                        for fn, into in calls[i % 3 :] + calls[: i % 3]:
                            took = fn()
                            if i >= args.warmup:
                                into.append(took)
                    way = statistics.median(times)
                    direct = statistics.median(floor)
                    base = statistics.median(baseline)
                    ratio = way / base
                    worst = max(worst, ratio)
                    print(
                        f"{route:8}  redirect -> signed_in {way * 1e3:.2f} ms | manager's own "
                        f"authenticate {direct * 1e3:.2f} ms | bare authenticate "
                        f"{base * 1e3:.2f} ms | redirect/bare {ratio:.2f} (target <= "
                        f"{TARGET_RATIO}), redirect/own {way / direct:.2f}, own/bare "
                        f"{direct / base:.2f}; {args.runs} runs each, interleaved"
                    )
        finally:
            manager.close()
            shutil.rmtree(mailbox, ignore_errors=True)
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
