"""``stytch-jupyter emulator`` (and ``python -m stytch_jupyter.emulator``): serve until Ctrl-C.

The server stack is imported in ``run``, so ``--help`` works without the ``emulator`` extra.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from .defaults import (
    DEFAULT_CLI_PORT,
    DEFAULT_HOST,
    DEFAULT_PROJECT_ID,
    DEFAULT_PUBLIC_TOKEN,
    DEFAULT_SECRET,
)
from .project import DEFAULT_PROJECT_NAME, PKCE_FLOWS

DESCRIPTION = (
    "Serve a local Stytch API on loopback: the client (/sdk/v1) and backend (/v1) endpoints "
    "with real RS256 session JWTs, a mailbox page at / with the codes and links it would have "
    "sent, and a control API under /emulator/v1 (outbox, users, clock, faults). Every code "
    "and link it sends is also printed here."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    if parser.description is None:
        parser.description = DESCRIPTION
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_CLI_PORT,
        help="port to serve on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--project-id",
        default=DEFAULT_PROJECT_ID,
        help="the project id backend calls authenticate with (default: %(default)s)",
    )
    parser.add_argument(
        "--public-token",
        default=DEFAULT_PUBLIC_TOKEN,
        help="the public token clients (notebooks, browser SDKs) use (default: %(default)s)",
    )
    parser.add_argument(
        "--secret",
        default=DEFAULT_SECRET,
        help="the project secret for the backend API /v1; not a real secret, it only opens "
        "this emulator (default: %(default)s)",
    )
    parser.add_argument(
        "--b2b",
        action="store_true",
        help="serve a B2B project (organizations, members, SSO) instead of a consumer one",
    )
    parser.add_argument(
        "--project-name",
        default=DEFAULT_PROJECT_NAME,
        help="the project name bootstrap reports (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin (https://host[:port]) allowed to call /sdk/v1 besides loopback "
        "ones, which always are; repeat for more",
    )
    parser.add_argument(
        "--redirect-url",
        action="append",
        default=[],
        metavar="URL",
        help="a redirect URL to allow (matched exactly, query aside) besides loopback "
        "…/stytch-jupyter/callback URLs; repeat for more",
    )
    parser.add_argument(
        "--any-magic-link-url",
        action="store_true",
        help="take any magic-link URL (login_magic_link_url, …), not only allowed redirect "
        "URLs; Stytch itself always checks them (OAuth and SSO redirects stay checked)",
    )
    parser.add_argument(
        "--pkce-required",
        action="append",
        default=[],
        choices=[*PKCE_FLOWS, "all"],
        help="require PKCE for a flow, as a project setting bootstrap reports; repeat for more",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be from 0 to 65535, not {args.port}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        print(
            f"warning: serving on {args.host}: the control API (/emulator/v1) has no "
            "authentication; anyone who can reach it can read codes and links.",
            file=sys.stderr,
        )
    try:
        from .server import Emulator
    except ImportError as exc:
        print(
            f"error: {exc}; install it with pip install 'stytch-jupyter[emulator]'",
            file=sys.stderr,
        )
        return 1
    pkce: bool | list[str] = "all" in args.pkce_required or args.pkce_required
    try:
        emulator = Emulator(
            args.host,
            args.port,
            project_id=args.project_id,
            public_token=args.public_token,
            secret=args.secret,
            project_name=args.project_name,
            vertical="B2B" if args.b2b else "CONSUMER",
            pkce_required=pkce,
            redirect_urls=args.redirect_url,
            allowed_origins=args.allow_origin,
            strict_magic_link_urls=not args.any_magic_link_url,
            announce=lambda line: print(line, flush=True),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        emulator.start()
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        print(
            "Stytch API emulator\n"
            f"  api_url       {emulator.api_url}\n"
            f"  project_id    {emulator.project_id}\n"
            f"  public_token  {emulator.public_token}\n"
            f"  secret        {emulator.secret}\n"
            f"  vertical      {emulator.vertical}\n"
            f"  mailbox       {emulator.api_url}/   (the codes and links it sends)\n"
            "\n"
            "Point a notebook at it:\n"
            f"  export STYTCH_API_URL={emulator.api_url}\n"
            f"  export STYTCH_PUBLIC_TOKEN={emulator.public_token}\n"
            "\n"
            "Serving until Ctrl-C.",
            flush=True,
        )
        emulator.wait()
        # Only a server that died gets here; Ctrl-C leaves through the handler below.
        print("error: the emulator stopped unexpectedly", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stytch_jupyter.emulator", description=DESCRIPTION
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
