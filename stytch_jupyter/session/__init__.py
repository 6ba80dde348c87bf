"""Session management without IPython: the manager, its heartbeat and the token store.

The manager is imported on first use: the errors and the store modules are needed without it
(the top-level error tree imports ``session.errors`` and ``session.keys``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError, NotSignedInError, SessionClosedError
from .states import HeartbeatState, Status

if TYPE_CHECKING:
    from .manager import SessionManager
    from .runner import SessionOperations, SessionRunner
    from .vertical import Authenticated, Vertical

_LAZY = {
    "SessionManager": ".manager",
    "SessionOperations": ".runner",
    "SessionRunner": ".runner",
    "Authenticated": ".vertical",
    "Vertical": ".vertical",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Authenticated",
    "ConfigurationError",
    "HeartbeatState",
    "NotSignedInError",
    "SessionClosedError",
    "SessionManager",
    "SessionOperations",
    "SessionRunner",
    "Status",
    "Vertical",
]
