"""Old import path: redirects now come back through ``session/redirect/`` (the loopback
listener is ``session/redirect/loopback.py``). ``token_from_link`` stays for callers of it."""

from __future__ import annotations

from ..errors import MagicLinkError
from ..session.errors import RedirectError
from ..session.redirect.links import parse_redirect


def token_from_link(text: str) -> str:
    """The ``token`` of a magic link URL, or ``text`` itself when it is a bare token."""
    try:
        redirect = parse_redirect(text)
    except RedirectError as exc:
        raise MagicLinkError(str(exc)) from None
    if redirect.token_type not in (None, "magic_links"):
        raise MagicLinkError(f"that link is for {redirect.token_type[:30]!r}, not a magic link")
    return redirect.token


__all__ = ["MagicLinkError", "token_from_link"]
