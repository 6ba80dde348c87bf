"""The states a session and its heartbeat can be in, as types: mypy catches a misspelt one.

``Status`` is the session's (``SessionManager.status``), ``HeartbeatState`` the heartbeat's
(``SessionManager.heartbeat_state``). The tuples list the same values for the traits.
"""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["signed_out", "unconfirmed", "signed_in"]
"""unconfirmed: tokens are held (stored, or handed over) but the server has not confirmed them."""

HeartbeatState = Literal["stopped", "idle", "scheduled", "checking", "retrying"]
"""stopped: not running; idle: nothing to check (signed out); scheduled: the next regular check
is planned; checking: a request is in flight; retrying: a check failed and the next one backs
off."""

STATUSES: tuple[Status, ...] = get_args(Status)
HEARTBEAT_STATES: tuple[HeartbeatState, ...] = get_args(HeartbeatState)

__all__ = ["HEARTBEAT_STATES", "STATUSES", "HeartbeatState", "Status"]
