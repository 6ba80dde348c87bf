"""The Stytch client API over httpx: stateless requests, typed models, a small error hierarchy.

``StytchClient`` is imported lazily: the models and errors are needed by ``%load_ext`` at once,
httpx only when the first request is made (on the background thread).
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
from .models import (
    AuthenticateResponse,
    AuthenticationFactor,
    Session,
    SessionToken,
    SessionTokens,
    User,
)

if TYPE_CHECKING:
    from .client import StytchClient


def __getattr__(name: str) -> Any:
    if name == "StytchClient":
        from .client import StytchClient

        return StytchClient
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
