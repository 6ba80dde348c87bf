"""``stytch-jupyter emulator`` (and ``python -m stytch_jupyter.emulator``): serve until Ctrl-C."""

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
from .server import Emulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_CLI_PORT,
        help="port to serve on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    parser.add_argument("--public-token", default=DEFAULT_PUBLIC_TOKEN)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument(
        "--b2b",
        action="store_true",
        help="serve a B2B project (organizations, members, SSO) instead of a consumer one",
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
    emulator = Emulator(
        args.host,
        args.port,
        project_id=args.project_id,
        public_token=args.public_token,
        secret=args.secret,
        vertical="b2b" if args.b2b else "consumer",
    )
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
            f"  outbox        {emulator.api_url}/emulator/v1/outbox\n"
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
        prog="python -m stytch_jupyter.emulator", description="Run a local Stytch API emulator."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
