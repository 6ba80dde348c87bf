"""``B2BState``: a B2B project, put together from its core and its factor mixins."""

from __future__ import annotations

from .b2b_core import B2BCore, Discovery, Outcome
from .b2b_email import EmailFactors
from .b2b_grants import IdpFactors
from .b2b_mfa import MfaFactors

__all__ = ["B2BCore", "B2BState", "Discovery", "Outcome"]


class B2BState(EmailFactors, IdpFactors, MfaFactors):
    """Organizations, members and their sessions, and every B2B sign-in factor."""
