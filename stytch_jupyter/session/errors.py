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
