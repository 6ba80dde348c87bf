"""What the loopback way back adds to a B2B SSO sign-in, over the authenticate request it ends in.

A B2B emulator runs in its own process, with an organization whose SSO connection is the
emulator's own identity provider. Each round starts ``stytch.sso.start(organization_slug=...)``
(loopback), approves at the consent page (not timed), then times from the "browser"'s GET of
the redirect (a new connection and a plain request, as benchmarks/redirect.py's loopback row:
the clock starts before ``connect``) to ``status == "signed_in"``. Interleaved with it, on a fresh
SSO token each: one ``httpx.Client`` POST of ``b2b/sso/authenticate`` with the same body
(token, pkce_code_verifier, session_duration_minutes=5): the baseline. Prints medians and the
ratio. Target: redirect / bare <= 1.5, as for the consumer redirects (benchmarks/redirect.py).

    .venv/bin/python benchmarks/b2b_sso_redirect.py [--runs 30] [--store file|memory]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator.control import EmulatorControl
from stytch_jupyter.emulator.defaults import DEFAULT_PUBLIC_TOKEN
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session.redirect import PkcePair

try:
    from _emulator_process import emulator_process
    from redirect import median_ms, signed_in_clock, socket_get
except ImportError:  # run as a module
    from benchmarks._emulator_process import emulator_process
    from benchmarks.redirect import median_ms, signed_in_clock, socket_get

TARGET_RATIO = 1.5
EMAIL = "bench@acme.test"
# Any loopback port is allowed by the emulator's default redirect allowlist.
BARE_REDIRECT = "http://127.0.0.1:9/stytch-jupyter/callback"


def one_redirect(manager: SessionManager, control: EmulatorControl) -> float:
    if manager.signed_in:
        manager.sessions.revoke(force_clear=True)
    flow = manager.sso.start(organization_slug="acme", route="loopback")
    back = control.complete_idp(flow.url, EMAIL)
    done = signed_in_clock(manager)
    start = time.perf_counter()
    socket_get(back)
    return done() - start


def one_bare(bare: httpx.Client, control: EmulatorControl, api_url: str) -> float:
    pair = PkcePair()
    query = {
        "public_token": DEFAULT_PUBLIC_TOKEN,
        "organization_slug": "acme",
        "pkce_code_challenge": pair.challenge,
        "login_redirect_url": BARE_REDIRECT,
    }
    back = control.complete_idp(f"{api_url}/v1/public/sso/start?{urlencode(query)}", EMAIL)
    body = {
        "sso_token": parse_qs(urlsplit(back).query)["token"][0],
        "session_duration_minutes": 5,
        "pkce_code_verifier": pair.verifier,
    }
    start = time.perf_counter()
    bare.post(f"{api_url}/sdk/v1/b2b/sso/authenticate", json=body).raise_for_status()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--store", choices=("file", "memory"), default="file")
    args = parser.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="sj-bench-b2b-")
    auth = (DEFAULT_PUBLIC_TOKEN, DEFAULT_PUBLIC_TOKEN)
    try:
        with emulator_process("--b2b") as api_url, EmulatorControl(api_url) as control:
            control.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
            control.create_member("acme", EMAIL)
            config = Stytch(
                api_url=api_url,
                public_token=DEFAULT_PUBLIC_TOKEN,
                token_store=args.store,
                data_dir=data_dir,
                vertical="b2b",
            )
            with (
                SessionManager(config) as manager,
                httpx.Client(auth=auth, trust_env=False) as bare,
            ):
                took: dict[str, list[float]] = {"way": [], "bare": []}
                for i in range(args.warmup + args.runs):
                    rounds = [
                        ("way", lambda: one_redirect(manager, control)),
                        ("bare", lambda: one_bare(bare, control, api_url)),
                    ]
                    for into, fn in rounds[i % 2 :] + rounds[: i % 2]:
                        value = fn()
                        if i >= args.warmup:
                            took[into].append(value)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    ratio = statistics.median(took["way"]) / statistics.median(took["bare"])
    print(
        f"{args.store:6} b2b sso loopback redirect -> signed_in {median_ms(took['way'])} | bare "
        f"b2b/sso/authenticate {median_ms(took['bare'])} || redirect/bare {ratio:.2f} (target "
        f"<= {TARGET_RATIO}); {args.runs} runs each, interleaved",
        flush=True,
    )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
