"""The sessions a project has issued, found by opaque token, session JWT or id: the lookups,
checks and updates the consumer project (``state``) and the B2B project (``b2b_core``) share.

Each project keeps a book of its own session kind. The book takes no lock: its project calls
it under the project's own lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import jwt

from . import errors
from .errors import EmulatorError
from .keys import SigningKey

SESSION_CLAIM = "https://stytch.com/session"


class BookedSession(Protocol):
    token: str
    revoked: bool
    last_accessed_at: datetime
    expires_at: datetime
    custom_claims: dict[str, Any]

    def live_at(self, now: datetime) -> bool: ...


S = TypeVar("S", bound=BookedSession)


def session_not_found() -> EmulatorError:
    return EmulatorError(404, errors.SESSION_NOT_FOUND, "Session could not be found.")


class SessionBook(Generic[S]):
    def __init__(
        self,
        key: SigningKey,
        project_id: str,
        now: Callable[[], datetime],
        *,
        reserved_claims: frozenset[str],
        usable: Callable[[S], bool] = lambda session: True,
    ) -> None:
        """``reserved_claims``: custom claims a check may not set (skipped); ``usable``: what
        else a live session needs (B2B: a member not deleted)."""
        self._key = key
        self._reserved = reserved_claims
        self._project_id = project_id
        self._now = now
        self._usable = usable
        self._by_id: dict[str, S] = {}
        self._id_by_token: dict[str, str] = {}

    def add(self, session_id: str, session: S) -> None:
        self._by_id[session_id] = session
        self._id_by_token[session.token] = session_id

    def __iter__(self) -> Iterator[S]:
        return iter(list(self._by_id.values()))

    def live(self, session: S | None) -> S:
        """``session`` if it is live now; else Stytch's 404."""
        if session is None or not session.live_at(self._now()) or not self._usable(session):
            raise session_not_found()
        return session

    def jwt_claims(self, token: str) -> dict[str, Any]:
        """Claims of a JWT this project signed, whatever its times; else 401."""
        try:
            return self._key.verify_signature(
                token, audience=self._project_id, issuer=f"stytch.com/{self._project_id}"
            )
        except jwt.InvalidTokenError:
            raise EmulatorError(
                401, errors.UNAUTHORIZED_CREDENTIALS, "The session JWT could not be verified."
            ) from None

    def by_token(self, token: str) -> S:
        session_id = self._id_by_token.get(token)
        return self.live(None if session_id is None else self._by_id[session_id])

    def by_jwt(self, token: str) -> S:
        """A JWT whose own ``exp`` has passed still names its session, as on Stytch."""
        claim = self.jwt_claims(token).get(SESSION_CLAIM)
        session_id = claim.get("id") if isinstance(claim, dict) else None
        return self.live(self._by_id.get(str(session_id)))

    def by_id(self, session_id: str) -> S:
        return self.live(self._by_id.get(session_id))

    def by_credential(self, credential: str) -> S:
        """The session an opaque token or a session JWT names (the client API takes both)."""
        if credential.count(".") == 2:
            return self.by_jwt(credential)
        return self.by_token(credential)

    def touch(
        self, session: S, minutes: int | None, custom_claims: dict[str, Any] | None = None
    ) -> datetime:
        """A check of a live session: accessed now; with ``minutes``, its expiry is now +
        minutes (not added); custom claims set (None removes one). Returns now."""
        now = self._now()
        self.live(session)
        session.last_accessed_at = now
        if minutes is not None:
            session.expires_at = now + timedelta(minutes=minutes)
        for key, value in (custom_claims or {}).items():
            if key in self._reserved:
                continue
            if value is None:
                session.custom_claims.pop(key, None)
            else:
                session.custom_claims[key] = value
        return now

    def revoke(self, session: S) -> None:
        session.revoked = True
        self._id_by_token.pop(session.token, None)


class SessionLookups(Generic[S]):
    """A project's session lookups, each under the project's lock: mixed into the consumer
    ``State`` and the ``B2BState``, which set ``_lock`` and ``_sessions``."""

    _lock: AbstractContextManager[Any]
    _sessions: SessionBook[S]

    def session_by_token(self, token: str) -> S:
        with self._lock:
            return self._sessions.by_token(token)

    def session_by_jwt(self, token: str) -> S:
        """A JWT whose own ``exp`` has passed still names its session, as on Stytch."""
        with self._lock:
            return self._sessions.by_jwt(token)

    def session_by_id(self, session_id: str) -> S:
        with self._lock:
            return self._sessions.by_id(session_id)

    def session_by_credential(self, credential: str) -> S:
        """The session an opaque token or a session JWT names (the client API takes both)."""
        with self._lock:
            return self._sessions.by_credential(credential)

    def revoke(self, session: S) -> None:
        with self._lock:
            self._sessions.revoke(self._sessions.live(session))
