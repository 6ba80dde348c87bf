"""The emulated project's settings: what a Stytch dashboard would configure.

Bootstrap reports them to the browser SDK; the API enforces them (PKCE, redirect URLs, the
origins a browser may call from). They come from ``Emulator(...)`` arguments or CLI flags.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

# The flows a project can require PKCE for, named as bootstrap's ``pkce_required_for_*``.
PKCE_FLOWS = ("email_magic_links", "password_resets", "oauth", "sso")

DEFAULT_PROJECT_NAME = "stytch-jupyter emulator"
VERTICALS = ("CONSUMER", "B2B")

# The callback path this project's kernels and Jupyter server extension listen on.
CALLBACK_PATH_SUFFIX = "/stytch-jupyter/callback"
# Hosts that count as "this machine": redirect URLs and browser origins on them are allowed by
# default, on any port (a real project registers each one; a local emulator cannot know ports).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
LOOPBACK_ORIGIN_REGEX = r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$"

# Stytch matches redirect URLs exactly, "including subdirectories"; whether the query string
# takes part is UNVERIFIED. Here it does not: the flow id travels in the query.
_MATCH_QUERY = False


def _without_query(url: str) -> tuple[str, str, str] | None:
    """``(scheme, host:port, path)`` of an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.netloc.lower(), parts.path or "/"


@dataclass(frozen=True)
class ProjectSettings:
    project_name: str = DEFAULT_PROJECT_NAME
    vertical: str = "CONSUMER"
    pkce_required: frozenset[str] = frozenset()
    # Exact redirect URLs, on top of the defaults (loopback ``…/stytch-jupyter/callback``).
    redirect_urls: tuple[str, ...] = ()
    # Extra browser origins allowed to call ``/sdk/v1`` (loopback ones always are).
    allowed_origins: tuple[str, ...] = ()
    # Check magic-link URLs against the allowlist, as Stytch always does. False (the CLI's
    # --any-magic-link-url) takes any URL: for trying out a client before registering its URLs.
    strict_magic_link_urls: bool = True

    @classmethod
    def build(
        cls,
        *,
        project_name: str = DEFAULT_PROJECT_NAME,
        vertical: str = "CONSUMER",
        pkce_required: bool | Collection[str] = False,
        redirect_urls: Collection[str] = (),
        allowed_origins: Collection[str] = (),
        strict_magic_link_urls: bool = True,
    ) -> ProjectSettings:
        """Settings from friendly arguments; raises ValueError with one line on a bad one."""
        if vertical not in VERTICALS:
            raise ValueError(f"vertical must be one of {', '.join(VERTICALS)}, not {vertical!r}")
        if isinstance(pkce_required, bool):
            flows = frozenset(PKCE_FLOWS) if pkce_required else frozenset()
        else:
            flows = frozenset(pkce_required)
            unknown = sorted(flows - set(PKCE_FLOWS))
            if unknown:
                raise ValueError(
                    f"unknown PKCE flow {unknown[0]!r}: choose from {', '.join(PKCE_FLOWS)}"
                )
        for url in redirect_urls:
            if _without_query(url) is None:
                raise ValueError(f"redirect URL {url!r} is not an absolute http(s) URL")
        for origin in allowed_origins:
            parts = _without_query(origin)
            if parts is None or parts[2] != "/" or origin.endswith("/"):
                raise ValueError(f"origin {origin!r} must look like https://host[:port]")
        return cls(
            project_name=project_name,
            vertical=vertical,
            pkce_required=flows,
            redirect_urls=tuple(redirect_urls),
            allowed_origins=tuple(allowed_origins),
            strict_magic_link_urls=strict_magic_link_urls,
        )

    def requires_pkce(self, flow: str) -> bool:
        assert flow in PKCE_FLOWS, flow
        return flow in self.pkce_required

    def redirect_allowed(self, url: str) -> bool:
        """Exact match against the allowlist, or a loopback ``…/stytch-jupyter/callback``."""
        parts = _without_query(url)
        if parts is None:
            return False
        _, netloc, path = parts
        host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
        if host in LOOPBACK_HOSTS and path.endswith(CALLBACK_PATH_SUFFIX):
            return True
        if _MATCH_QUERY:
            return url in self.redirect_urls
        return any(_without_query(allowed) == parts for allowed in self.redirect_urls)

    def bootstrap(self) -> dict[str, object]:
        """The project part of ``GET /sdk/v1/projects/bootstrap/{public_token}``."""
        return {
            "project_name": self.project_name,
            "vertical": self.vertical,
            "disable_sdk_watermark": True,
            "cname_domain": None,
            "email_domains": [],
            # Captcha and fraud protection stay off: on, the SDK loads scripts from outside.
            "captcha_settings": {"enabled": False},
            "dfp_protected_auth_enabled": False,
            **{f"pkce_required_for_{flow}": flow in self.pkce_required for flow in PKCE_FLOWS},
            "slug_pattern": None,
            # A B2B project serves discovery/organizations/create.
            "create_organization_enabled": self.vertical == "B2B",
            # Without this key the browser SDK discards the whole bootstrap.
            "password_config": None,
            "rbac_policy": {
                "roles": [
                    {
                        "role_id": "stytch_user",
                        "description": "Every user of the project.",
                        "permissions": [],
                    }
                ],
                "resources": [],
            },
            "siwe_required_for_crypto_wallets": False,
        }
