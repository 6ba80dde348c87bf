"""The one seam between the session core and a kind of Stytch project (a "vertical").

Stytch has consumer projects (users, ``/sdk/v1/...``) and B2B projects (members of
organizations, ``/sdk/v1/b2b/...``). The core (``SessionManager``: store, rehydration, heartbeat,
cross-kernel sync, observers) is the same for both; a ``Vertical`` says what differs:

- the endpoints that check and end a session (``authenticate``, ``revoke``);
- the models, and what an authenticate response means (``interpret``): the tokens, the session
  whose expiry the heartbeat follows, and the objects shown on the manager's traits
  (``session``/``user`` for consumer; ``member_session``/``member``/``organization`` for B2B).

``consumer.py`` is the consumer vertical, ``b2b.py`` the B2B one. A B2B response may carry an
intermediate session token (IST) instead of a session: ``interpret`` then returns
``Intermediate``; the manager holds the IST with its 10-minute expiry and clears the session
tokens (the two are mutually exclusive), hands it to the namespaces that send it in the bodies
of the B2B requests that take it, and runs the heartbeat only once a member session exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from ..api.client import StytchClient
    from ..api.models import SessionTokens
    from .states import IntermediateStatus

R = TypeVar("R")


class SessionClock(Protocol):
    """What the core reads from a vertical's session object: its clock and its expiry."""

    @property
    def last_accessed_at(self) -> datetime | None: ...

    @property
    def started_at(self) -> datetime | None: ...

    def expires_in(self, now: datetime | None = None) -> float | None: ...


@dataclass(frozen=True)
class Authenticated:
    """A response that carries a session: the core stores ``tokens`` and shows ``objects``."""

    tokens: SessionTokens
    session: SessionClock
    objects: Mapping[str, object] = field(default_factory=dict)  # trait name -> value


@dataclass(frozen=True)
class Intermediate:
    """A B2B response that carries an intermediate session token (IST) instead of a session:
    the core holds the IST (for ``lifetime`` seconds), drops any session tokens, shows
    ``objects`` (the member and organization, when known) and takes ``status``."""

    token: str = field(repr=False)
    status: IntermediateStatus
    lifetime: float
    objects: Mapping[str, object] = field(default_factory=dict)


class Vertical(Protocol[R]):
    """A kind of Stytch project; ``R`` is its authenticate response type."""

    name: str
    object_traits: tuple[str, ...]
    """The manager's traits that hold this vertical's objects (cleared with the session)."""

    async def authenticate(
        self, client: StytchClient, session_token: str, minutes: int | None
    ) -> R:
        """Check ``session_token`` with Stytch (and extend it, with ``minutes``)."""
        ...

    async def revoke(self, client: StytchClient, session_token: str) -> None:
        """End ``session_token`` at Stytch."""
        ...

    def interpret(self, response: R) -> Authenticated | Intermediate:
        """What ``response`` means for the session held here."""
        ...
