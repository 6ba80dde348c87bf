"""``stytch-jupyter relay-page PATH``: write the relay page to host at a stable HTTPS address."""

from __future__ import annotations

import argparse

from .session.redirect.relay import write_relay_page


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a file to write, or a folder (index.html goes in it)")


def run(args: argparse.Namespace) -> int:
    target = write_relay_page(args.path)
    print(
        f"Wrote {target}. Host it at a stable https:// address, add that address to your "
        "Stytch project's redirect URLs, and set c.Stytch.relay_url to it."
    )
    return 0
