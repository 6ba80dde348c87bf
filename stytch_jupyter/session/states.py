"""The states a session and its heartbeat can be in, as types: mypy catches a misspelt one.

``Status`` is the session's (``SessionManager.status``), ``HeartbeatState`` the heartbeat's
(``SessionManager.heartbeat_state``). The tuples list the same values for the traits.
"""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["signed_out", "unconfirmed", "signed_in", "needs_organization", "needs_mfa"]
"""unconfirmed: tokens are held (stored, or handed over) but the server has not confirmed them.
The two ``needs_`` states are a B2B sign-in half-way, holding an intermediate session token and
no session: ``needs_organization`` after a discovery (pick or create an organization, or the
organization wants another primary factor); ``needs_mfa`` when the organization requires a
second factor (an SMS or TOTP code, or a recovery code)."""

IntermediateStatus = Literal["needs_organization", "needs_mfa"]
"""The statuses of a B2B sign-in half-way (an intermediate session token held, no session)."""

HeartbeatState = Literal["stopped", "idle", "scheduled", "checking", "retrying"]
"""stopped: not running; idle: nothing to check (signed out); scheduled: the next regular check
is planned; checking: a request is in flight; retrying: a check failed and the next one backs
off."""

STATUSES: tuple[Status, ...] = get_args(Status)
INTERMEDIATE_STATUSES: tuple[IntermediateStatus, ...] = get_args(IntermediateStatus)
HEARTBEAT_STATES: tuple[HeartbeatState, ...] = get_args(HeartbeatState)

__all__ = [
    "HEARTBEAT_STATES",
    "INTERMEDIATE_STATUSES",
    "STATUSES",
    "HeartbeatState",
    "IntermediateStatus",
    "Status",
]
