"""The Stytch client API over httpx: stateless requests, typed models, a small error hierarchy.

The errors are imported at once; ``StytchClient`` and the models on first use (PEP 562): httpx
is needed only when the first request is made, and the models (a dozen dataclasses, a third
of ``%load_ext``'s time) once a reply is parsed, both on the session's background thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    UNRECOVERABLE_ERROR_TYPES,
    InvalidDurationError,
    StytchAPIError,
    StytchError,
    StytchNetworkError,
    StytchResponseError,
    StytchTimeoutError,
)

if TYPE_CHECKING:
    from .client import StytchClient
    from .models import (
        AuthenticateResponse,
        AuthenticationFactor,
        Session,
        SessionToken,
        SessionTokens,
        User,
    )

_MODELS = frozenset(
    {
        "AuthenticateResponse",
        "AuthenticationFactor",
        "Session",
        "SessionToken",
        "SessionTokens",
        "User",
    }
)


def __getattr__(name: str) -> Any:
    if name == "StytchClient":
        from .client import StytchClient

        return StytchClient
    if name in _MODELS:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "UNRECOVERABLE_ERROR_TYPES",
    "AuthenticateResponse",
    "AuthenticationFactor",
    "InvalidDurationError",
    "Session",
    "SessionToken",
    "SessionTokens",
    "StytchAPIError",
    "StytchClient",
    "StytchError",
    "StytchNetworkError",
    "StytchResponseError",
    "StytchTimeoutError",
    "User",
]
