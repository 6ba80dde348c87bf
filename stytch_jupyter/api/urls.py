"""Where the Stytch API lives, and which base URLs a session token may be sent to.

No httpx here, so ``config.py`` can share these without loading the HTTP stack.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

TEST_API_URL = "https://test.stytch.com"
LIVE_API_URL = "https://api.stytch.com"


def api_url_for(public_token: str) -> str:
    """Stytch's client SDKs use the test environment for test tokens, live for the rest."""
    return TEST_API_URL if public_token.startswith("public-token-test") else LIVE_API_URL


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str) -> str:
    """The API base URL without a trailing slash; ValueError for one we must not send tokens to."""
    if not isinstance(api_url, str):
        raise ValueError(f"api_url must be a string, got {type(api_url).__name__}")
    try:
        url = urlsplit(api_url.strip())
        url.port  # noqa: B018 - parses the port, raising ValueError when it is not a number
    except ValueError as exc:
        raise ValueError(f"api_url is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"api_url must be an http(s) URL with a host, got {api_url[:60]!r}")
    if "@" in url.netloc or url.query or url.fragment:
        raise ValueError("api_url must not carry credentials, a query or a fragment")
    if url.scheme == "http" and not is_loopback(url.hostname):
        raise ValueError(
            f"api_url {api_url!r} is plain http: session tokens would travel unencrypted; "
            "use https (http is allowed only for loopback hosts)"
        )
    return api_url.strip().rstrip("/")
