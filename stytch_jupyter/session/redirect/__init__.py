"""Redirect flows (magic links, OAuth) with PKCE, and the ways their redirects come back."""

from __future__ import annotations

from ..errors import RedirectError, RedirectRefusedError, RedirectRouteError
from .flows import RedirectFlow, RedirectFlows
from .links import Redirect, parse_redirect
from .pkce import PkcePair, challenge_for
from .routes import Route, choose_route

__all__ = [
    "PkcePair",
    "Redirect",
    "RedirectError",
    "RedirectFlow",
    "RedirectFlows",
    "RedirectRefusedError",
    "RedirectRouteError",
    "Route",
    "challenge_for",
    "choose_route",
    "parse_redirect",
]
