"""Session management without IPython: the manager, its heartbeat and the token store."""

from __future__ import annotations

from .errors import ConfigurationError, NotSignedInError, SessionClosedError
from .manager import SessionManager
from .runner import SessionOperations, SessionRunner
from .states import HeartbeatState, Status
from .vertical import Authenticated, Vertical

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
