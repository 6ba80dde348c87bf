"""Errors of the session layer (the client layer's errors pass through unchanged).

The whole tree, with every layer's errors, is drawn in ``stytch_jupyter/errors.py``.
"""

from __future__ import annotations

from ..api.errors import StytchError


class NotSignedInError(StytchError):
    """The call needs a session and there is none."""


class ConfigurationError(StytchError):
    """A setting the call needs is missing or unusable."""


class SessionClosedError(StytchError):
    """The session object was closed (``%unload_ext``, ``close()``) and does no more work."""


class TokenStoreError(StytchError):
    """The token store or its key cannot be used (not: its content is bad, that reads as absent)."""


class StoreChanged(Exception):
    """The store no longer holds the session a conditional write was for (not an error)."""


class RedirectRouteError(ConfigurationError):
    """The way back asked for (``Stytch.redirect_route``) cannot work here; says why."""


class RedirectError(StytchError, ValueError):
    """What came back, or was pasted, is not a sign-in redirect (or its token)."""


class RedirectRefusedError(StytchError, ValueError):
    """A redirect for no flow pending here, a replay, or the wrong token type: nothing changed."""


class WrongVerticalError(StytchError, AttributeError):
    """A name of the other kind of project: ``stytch.users`` in a B2B project, ``stytch.sso``
    in a consumer one (an AttributeError, so ``hasattr`` says False)."""
