"""Redirect flows (magic links, OAuth) with PKCE, and the ways their redirects come back."""

from __future__ import annotations

from .flows import FlowRefused, RedirectFlow, RedirectFlows
from .links import Redirect, RedirectError, parse_redirect
from .pkce import PkcePair, challenge_for
from .routes import Route, RouteUnavailable, choose_route

__all__ = [
    "FlowRefused",
    "PkcePair",
    "Redirect",
    "RedirectError",
    "RedirectFlow",
    "RedirectFlows",
    "Route",
    "RouteUnavailable",
    "challenge_for",
    "choose_route",
    "parse_redirect",
]
