"""The ``Stytch`` Configurable: the one place every layer reads its settings from.

Set it with ``%config Stytch.public_token = ...``, ``c.Stytch.public_token = ...`` in
``ipython_config.py``, or the environment variables named below.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from .api.limits import MAX_RETRY_AFTER_SECONDS, MAX_SESSION_MINUTES, MIN_SESSION_MINUTES
from .api.urls import api_url_for, check_api_url, is_loopback

# Bounds a setting must keep (the README's configuration table repeats them). Whatever the
# interval, the heartbeat checks at least every MAX_CHECK_GAP_SECONDS, which is also the ceiling
# on any wait a server asks for with Retry-After.
MIN_HEARTBEAT_SECONDS = 0.5
MAX_HEARTBEAT_SECONDS = 86400.0
MAX_CHECK_GAP_SECONDS = float(MAX_RETRY_AFTER_SECONDS)  # 15 minutes
MAX_TIMEOUT_SECONDS = 300.0

# Traits whose default comes from the environment: resolved when the object is made, so a
# refused assignment rolls back to it (traitlets would roll back to the bare trait default).
_ENV_DEFAULTS = ("public_token", "api_url", "token_store", "data_dir")
# Stytch's slug alphabet (ids use a subset of it); bounded so a paste of anything else is refused.
_ORGANIZATION = re.compile(r"[A-Za-z0-9._~-]{1,128}")


class Stytch(Configurable):
    """Settings for the Stytch session kept in this kernel."""

    public_token = Unicode(
        help="The project's public token (STYTCH_PUBLIC_TOKEN). Public: safe in a notebook."
    ).tag(config=True)

    api_url = Unicode(
        help=(
            "Base URL of the Stytch API (STYTCH_API_URL). Empty: test.stytch.com for "
            "public-token-test-… tokens, api.stytch.com otherwise."
        )
    ).tag(config=True)

    session_duration_minutes = Int(
        60,
        help="Session length a sign-in asks for, and what an extension sets (5 … 527040). "
        "Stytch's mobile SDKs default to 5; a notebook sits idle for longer.",
    ).tag(config=True)

    heartbeat_interval = Float(
        180.0,
        help=f"Seconds between background session checks ({MIN_HEARTBEAT_SECONDS:g} … "
        f"{MAX_HEARTBEAT_SECONDS:g}).",
    ).tag(config=True)

    auto_extend = Bool(
        False,
        help="Whether each heartbeat extends the session by session_duration_minutes "
        "(False: it only checks).",
    ).tag(config=True)

    token_store = Enum(
        ["auto", "keyring", "file", "memory"],
        default_value="auto",
        help="Where the encryption key lives (STYTCH_JUPYTER_TOKEN_STORE): auto (keyring, else "
        "a 0600 key file), keyring, file, or memory (persist nothing).",
    ).tag(config=True)

    data_dir = Unicode(help="Folder for the encrypted token store (STYTCH_JUPYTER_DATA_DIR).").tag(
        config=True
    )

    timeout = Float(
        10.0,
        help=f"Seconds a whole request to Stytch may take before it gives up (0 … "
        f"{MAX_TIMEOUT_SECONDS:g}).",
    ).tag(config=True)

    vertical = Enum(
        ["auto", "consumer", "b2b"],
        default_value="auto",
        help="The kind of Stytch project: consumer (users), b2b (members of organizations), or "
        "auto (what the project's bootstrap reports, asked once at start).",
    ).tag(config=True)

    organization = Unicode(
        "",
        help="B2B: the organization (slug or id) the widget signs in to directly, with its "
        "SSO button; empty: the widget's discovery finds yours.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in _ENV_DEFAULTS:
            getattr(self, name)

    redirect_route = Enum(
        ["auto", "loopback", "server", "relay", "paste"],
        default_value="auto",
        help="How a magic link's or OAuth redirect comes back to the kernel: auto (loopback "
        "when the kernel is local, else the Jupyter server's callback, else the relay page, "
        "else paste), or one of them.",
    ).tag(config=True)

    relay_url = Unicode(
        help="The HTTPS address where you host the relay page (stytch-jupyter relay-page): "
        "the redirect URL for kernels no other way back reaches."
    ).tag(config=True)

    oauth_providers = List(
        Unicode(),
        default_value=[],
        help="OAuth providers your Stytch project has set up, e.g. ['google', 'github']: the "
        "widget offers a 'Continue with …' button for each (none by default).",
    ).tag(config=True)

    open_browser = Bool(
        True,
        help="Whether an OAuth sign-in opens its address in your browser when the kernel is "
        "local (the address is printed either way).",
    ).tag(config=True)

    redirect_timeout = Float(
        600.0, help="Seconds a magic link or OAuth sign-in waits for its redirect."
    ).tag(config=True)

    @default("public_token")
    def _default_public_token(self) -> str:
        return os.environ.get("STYTCH_PUBLIC_TOKEN", "")

    @default("api_url")
    def _default_api_url(self) -> str:
        return os.environ.get("STYTCH_API_URL", "")

    @default("token_store")
    def _default_token_store(self) -> str:
        value = os.environ.get("STYTCH_JUPYTER_TOKEN_STORE", "auto").strip().lower()
        if value not in ("auto", "keyring", "file", "memory"):
            logging.getLogger("stytch_jupyter").warning(
                "STYTCH_JUPYTER_TOKEN_STORE=%r is not auto, keyring, file or memory; using auto",
                value[:20],
            )
            return "auto"
        return value

    @default("data_dir")
    def _default_data_dir(self) -> str:
        env = os.environ.get("STYTCH_JUPYTER_DATA_DIR")
        if env:
            return env
        from platformdirs import user_data_dir

        return user_data_dir("stytch-jupyter", appauthor=False)

    @validate("session_duration_minutes")
    def _check_duration(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if not MIN_SESSION_MINUTES <= value <= MAX_SESSION_MINUTES:
            raise TraitError(
                f"session_duration_minutes must be {MIN_SESSION_MINUTES} … "
                f"{MAX_SESSION_MINUTES}, got {value}"
            )
        return value

    @validate("organization")
    def _check_organization(self, proposal: Any) -> str:
        value = str(proposal["value"]).strip()
        if value and not _ORGANIZATION.fullmatch(value):
            raise TraitError(
                "organization must be an organization's slug or id (letters, digits, - _ . ~)"
            )
        return value

    @validate("relay_url")
    def _check_relay_url(self, proposal: Any) -> str:
        value = str(proposal["value"]).strip()
        if value and not (value.startswith("https://") or _loopback_http(value)):
            raise TraitError("relay_url must be an https:// address (http only on loopback)")
        return value

    @validate("redirect_timeout")
    def _check_redirect_timeout(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0 < value <= 86400:  # also refuses nan and inf
            raise TraitError(
                f"redirect_timeout must be more than 0 and at most a day, got {value:g}"
            )
        return value

    @validate("heartbeat_interval")
    def _check_interval(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not MIN_HEARTBEAT_SECONDS <= value <= MAX_HEARTBEAT_SECONDS:
            raise TraitError(
                f"heartbeat_interval must be {MIN_HEARTBEAT_SECONDS:g} … "
                f"{MAX_HEARTBEAT_SECONDS:g} seconds, got {value:g}"
            )
        return value

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0 < value <= MAX_TIMEOUT_SECONDS:  # also refuses nan and inf
            raise TraitError(
                f"timeout must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} seconds, "
                f"got {value:g}"
            )
        return value

    @validate("api_url")
    def _check_api_url(self, proposal: Any) -> str:
        value = str(proposal["value"])
        if not value:
            return value
        try:
            return check_api_url(value)
        except ValueError as exc:
            raise TraitError(str(exc)) from None

    @property
    def resolved_api_url(self) -> str:
        return self.api_url or api_url_for(self.public_token)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()


def _loopback_http(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")
