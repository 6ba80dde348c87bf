"""The errors the client layer raises: nothing from httpx leaks past it."""

from __future__ import annotations

# Every official client SDK clears its stored session on these, and only on these
# (and only when they come from sessions authenticate or revoke).
UNRECOVERABLE_ERROR_TYPES = frozenset(
    {
        "unauthorized_credentials",
        "user_unauthenticated",
        "invalid_secret_authentication",
        "session_not_found",
    }
)


class StytchError(Exception):
    """Base of every error this project raises."""


class StytchAPIError(StytchError):
    """Stytch answered with an error body."""

    def __init__(
        self,
        status_code: int,
        error_type: str,
        error_message: str,
        request_id: str | None = None,
        error_url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_type = error_type
        self.error_message = error_message
        self.request_id = request_id
        self.error_url = error_url
        self.retry_after = retry_after
        super().__init__(f"{error_type} ({status_code}): {error_message}")

    @property
    def unrecoverable(self) -> bool:
        """True when the stored session can never work again and must be cleared.

        Only a 4xx answer (429 aside) is a verdict on the credentials: a 5xx or 429 body naming
        such a type comes from a server in trouble, and must never sign anyone out.
        """
        verdict = 400 <= self.status_code < 500 and self.status_code != 429
        return verdict and self.error_type in UNRECOVERABLE_ERROR_TYPES


class StytchNetworkError(StytchError):
    """The request never got an answer: refused, dropped, or DNS failed."""


class StytchTimeoutError(StytchNetworkError):
    """The request took longer than the configured timeout."""


class StytchResponseError(StytchError):
    """An answer came back that is not what Stytch sends (garbled JSON, wrong shape)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class InvalidDurationError(StytchError, ValueError):
    """A session duration outside what Stytch accepts; raised before any request."""
