"""Session management without IPython: the manager, its heartbeat and the token store."""

from __future__ import annotations

from .errors import ConfigurationError, NotSignedInError
from .manager import SessionManager

__all__ = ["ConfigurationError", "NotSignedInError", "SessionManager"]
