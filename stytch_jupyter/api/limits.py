"""What the client accepts from a server, at most (light: the configuration imports it)."""

from __future__ import annotations

# Stytch's replies are kilobytes (a user with many factors: tens); anything near this is not one.
MAX_REPLY_BYTES = 1024 * 1024

# The longest wait a server may ask for (Retry-After): past it, a session revoked meanwhile
# would go unnoticed for as long as the server liked. Also the heartbeat's longest interval.
MAX_RETRY_AFTER_SECONDS = 900
