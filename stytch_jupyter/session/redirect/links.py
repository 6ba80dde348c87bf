"""What comes back from a redirect: ``(flow id, stytch_token_type, token)``, from a query string
or from a link (or a bare token) pasted by the user."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ...api.secret import redact
from ..errors import RedirectError

FLOW_PARAM = "flow"
CALLBACK_PATH = "/stytch-jupyter/callback"
TOKEN_TYPES = (
    "magic_links", "oauth", "multi_tenant_magic_links", "discovery", "sso", "discovery_oauth"
)  # fmt: skip
# The words a person may know a token type by; Stytch's own names first.
_TYPE_NAMES = {
    "magic_links": "a magic link",
    "oauth": "an OAuth",
    "multi_tenant_magic_links": "an organization's magic link",
    "discovery": "a discovery magic link",
    "sso": "an SSO",
    "discovery_oauth": "a discovery OAuth",
}
_FLOW_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAX_TOKEN = 512


def type_name(token_type: str) -> str:
    """``a magic link``, ``an OAuth``: the token type as a sentence names it."""
    return _TYPE_NAMES.get(token_type, f"a {token_type[:30]!r}")


def is_flow_id(value: str) -> bool:
    return _FLOW_ID.fullmatch(value) is not None


@dataclass(frozen=True, repr=False)
class Redirect:
    token: str
    token_type: str | None = None  # None: a bare token was pasted
    flow_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"Redirect(token_type={self.token_type!r}, flow_id={self.flow_id!r}, "
            f"token={redact(self.token)!r})"
        )


def redirect_from_query(query: str | Mapping[str, list[str]]) -> Redirect:
    fields = parse_qs(query) if isinstance(query, str) else query

    def first(name: str) -> str | None:
        values = fields.get(name)
        return values[0].strip() if values else None

    token = first("token")
    if not token:
        raise RedirectError("that link has no token=… in it; paste the whole link")
    token_type = first("stytch_token_type")
    if token_type is not None:
        token_type = token_type.lower()  # Stytch's SDKs read it case-insensitively
    flow_id = first(FLOW_PARAM)
    if flow_id is not None and not is_flow_id(flow_id):
        raise RedirectError("that link's flow=… is not one this package makes")
    return Redirect(_check_token(token), token_type, flow_id)


def parse_redirect(text: str) -> Redirect:
    """A pasted link (the address the redirect opened, or the emailed link) or a bare token."""
    text = text.strip()
    if not text:
        raise RedirectError("nothing was pasted")
    if "?" in text or "://" in text:
        return redirect_from_query(urlsplit(text).query)
    return Redirect(_check_token(text))


def _check_token(token: str) -> str:
    if any(ch.isspace() for ch in token) or len(token) > _MAX_TOKEN:
        raise RedirectError("that does not look like a sign-in link or its token")
    return token
