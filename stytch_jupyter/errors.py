"""Every error stytch-jupyter raises, in one tree; all of them importable from ``stytch_jupyter``.

    StytchError                   the base: ``except StytchError`` catches anything of ours
    ├── StytchAPIError            Stytch answered with an error body (``.error_type``,
    │                             ``.status_code``, ``.retry_after``, ``.unrecoverable``)
    ├── StytchNetworkError        no answer: refused, dropped, DNS failed
    │   └── StytchTimeoutError    no answer within ``Stytch.timeout``
    ├── StytchResponseError       an answer that is not what Stytch sends
    ├── InvalidDurationError      a session duration Stytch would refuse (also a ValueError)
    ├── ConfigurationError        a setting the call needs is missing or unusable
    │   └── RedirectRouteError    the redirect route asked for cannot work here
    ├── NotSignedInError          the call needs a session and there is none
    ├── SessionClosedError        the session object was closed (``%unload_ext``, ``close()``)
    ├── TokenStoreError           the token store or its key cannot be used
    ├── MagicLinkError            what was pasted is not a magic link (also a ValueError)
    ├── RedirectError             what came back or was pasted is no sign-in redirect (ValueError)
    ├── RedirectRefusedError      a token for no pending flow, a replay, wrong type (ValueError)
    ├── WrongVerticalError        a consumer-only name in a B2B project, or the reverse
    │                             (also an AttributeError)
    └── StytchCommandError        a ``%stytch`` subcommand failed (shown as one line)

Each layer defines its own (``api/errors.py``, ``session/errors.py``, ``session/keys.py``, and
here the notebook layer's two); this module gathers them. Old import paths keep working.
A session is cleared only for ``StytchAPIError.unrecoverable``; every other error keeps it.
"""

from __future__ import annotations

from .api.errors import (
    InvalidDurationError,
    StytchAPIError,
    StytchError,
    StytchNetworkError,
    StytchResponseError,
    StytchTimeoutError,
)
from .session.errors import (
    ConfigurationError,
    NotSignedInError,
    RedirectError,
    RedirectRefusedError,
    RedirectRouteError,
    SessionClosedError,
    TokenStoreError,
    WrongVerticalError,
)


class MagicLinkError(StytchError, ValueError):
    """What was pasted is not a magic link (or its token)."""


class StytchCommandError(StytchError):
    """A ``%stytch`` subcommand failed at Stytch or on the way there.

    Shown by IPython as one line (``_render_traceback_``), not a traceback: the cause is
    Stytch's answer or the network, not the code in the cell.
    """

    def __init__(self, message: str, kind: str = "StytchError") -> None:
        super().__init__(message)
        self.kind = kind

    def _render_traceback_(self) -> list[str]:
        return [f"{self.kind}: {self}"]


__all__ = [
    "ConfigurationError",
    "InvalidDurationError",
    "MagicLinkError",
    "NotSignedInError",
    "RedirectError",
    "RedirectRefusedError",
    "RedirectRouteError",
    "SessionClosedError",
    "StytchAPIError",
    "StytchCommandError",
    "StytchError",
    "StytchNetworkError",
    "StytchResponseError",
    "StytchTimeoutError",
    "TokenStoreError",
    "WrongVerticalError",
]
