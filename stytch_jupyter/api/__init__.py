"""The Stytch client API over httpx: stateless requests, typed models, a small error hierarchy."""

from .client import StytchClient
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
