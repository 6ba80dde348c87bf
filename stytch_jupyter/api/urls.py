"""Where the Stytch API lives, and which base URLs a session token may be sent to.

No httpx here, so ``config.py`` can share these without loading the HTTP stack.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode, urlsplit

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


def oauth_start_url(
    api_url: str,
    public_token: str,
    provider: str,
    *,
    code_challenge: str,
    login_redirect_url: str | None = None,
    signup_redirect_url: str | None = None,
    custom_scopes: Iterable[str] = (),
    provider_params: Mapping[str, str] | None = None,
) -> str:
    """The browser address that starts an OAuth sign-in (``/v1/public/oauth/{provider}/start``).

    Built as Stytch's client SDKs build it: scopes space-joined, each provider parameter as
    ``provider_{key}``. It carries the PKCE challenge, never the verifier.
    """
    if not provider.isascii() or not provider.isalnum():
        raise ValueError("an OAuth provider is a plain name such as 'google'")
    query: dict[str, str] = {"public_token": public_token, "code_challenge": code_challenge}
    if login_redirect_url:
        query["login_redirect_url"] = login_redirect_url
    if signup_redirect_url:
        query["signup_redirect_url"] = signup_redirect_url
    scopes = [scope.strip() for scope in custom_scopes if scope.strip()]
    if scopes:
        query["custom_scopes"] = " ".join(scopes)
    for key, value in (provider_params or {}).items():
        query[f"provider_{key}"] = value
    base = check_api_url(api_url)
    return f"{base}/v1/public/oauth/{provider.lower()}/start?{urlencode(query)}"
