"""An authenticated Stytch session inside Jupyter.

``%load_ext stytch_jupyter`` in a notebook, or ``from stytch_jupyter import stytch`` anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigurationError,
    InvalidDurationError,
    MagicLinkError,
    NotSignedInError,
    RedirectError,
    RedirectRefusedError,
    RedirectRouteError,
    SessionClosedError,
    StytchAPIError,
    StytchCommandError,
    StytchError,
    StytchNetworkError,
    StytchResponseError,
    StytchTimeoutError,
    TokenStoreError,
    WrongVerticalError,
)

if TYPE_CHECKING:
    from .api.models import SessionToken, SessionTokens
    from .ipython.stytch_object import NotebookStytch

    stytch: NotebookStytch

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The shared ``stytch`` object is created on first use, never at import; the models are
    # imported on first use too (``%load_ext`` needs none of them).
    if name == "stytch":
        from .ipython.extension import get_stytch

        return get_stytch()
    if name in ("SessionToken", "SessionTokens"):
        from .api import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    from .ipython.extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .ipython.extension import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "ConfigurationError",
    "InvalidDurationError",
    "MagicLinkError",
    "NotSignedInError",
    "RedirectError",
    "RedirectRefusedError",
    "RedirectRouteError",
    "SessionClosedError",
    "SessionToken",
    "SessionTokens",
    "StytchAPIError",
    "StytchCommandError",
    "StytchError",
    "StytchNetworkError",
    "StytchResponseError",
    "StytchTimeoutError",
    "TokenStoreError",
    "WrongVerticalError",
    "__version__",
    "load_ipython_extension",
    "stytch",
    "unload_ipython_extension",
]
