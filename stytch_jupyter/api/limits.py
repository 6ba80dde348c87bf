"""What the client accepts: from a server, at most; from a person, session lengths (light: the
configuration and ``%load_ext`` import it, not the models)."""

from __future__ import annotations

from .errors import InvalidDurationError

MIN_SESSION_MINUTES = 5
MAX_SESSION_MINUTES = 527_040  # 366 days
DEFAULT_SESSION_MINUTES = 5

# Stytch's replies are kilobytes (a user with many factors: tens); anything near this is not one.
MAX_REPLY_BYTES = 1024 * 1024

# The longest wait a server may ask for (Retry-After): past it, a session revoked meanwhile
# would go unnoticed for as long as the server liked. Also the heartbeat's longest interval.
MAX_RETRY_AFTER_SECONDS = 900


def validate_duration_minutes(minutes: int | None) -> int | None:
    """Check a session duration before it reaches the wire."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidDurationError(f"session duration must be whole minutes, got {minutes!r}")
    if not MIN_SESSION_MINUTES <= minutes <= MAX_SESSION_MINUTES:
        raise InvalidDurationError(
            f"session duration must be {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES} minutes "
            f"(5 minutes to 366 days), got {minutes}"
        )
    return minutes
