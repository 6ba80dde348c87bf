"""``stytch.users``: the signed-in user's name and untrusted metadata, and removing a factor.

After a change the session is checked again (one ``sessions/authenticate``), so that
``stytch.user`` and every observer see the user as Stytch now has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import NotSignedInError

if TYPE_CHECKING:
    from ..api.models import User
    from .runner import SessionOperations


class Users:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations

    def _session_token(self, what: str) -> str:
        token = self._ops.current_token()
        if token is None:
            raise NotSignedInError(f"not signed in: users.{what} changes the signed-in user")
        return token

    async def _update(
        self, name: Mapping[str, str] | None, untrusted_metadata: Mapping[str, Any] | None
    ) -> User:
        token = self._session_token("update")
        user = await self._ops.client().users_update(
            token, name=name, untrusted_metadata=untrusted_metadata
        )
        await self._ops.authenticate(None)  # stytch.user follows
        return user

    def update(
        self,
        *,
        name: Mapping[str, str] | None = None,
        untrusted_metadata: Mapping[str, Any] | None = None,
    ) -> User:
        """Change the signed-in user's ``name`` (``first_name``, ``middle_name``,
        ``last_name``) or ``untrusted_metadata`` (top-level keys merge; a None value removes
        its key). Returns the updated user."""
        return self._ops.run(self._update(name, untrusted_metadata))

    async def update_async(
        self,
        *,
        name: Mapping[str, str] | None = None,
        untrusted_metadata: Mapping[str, Any] | None = None,
    ) -> User:
        return await self._ops.run_async(self._update(name, untrusted_metadata))

    async def _delete_factor(self, kind: str, factor_id: str) -> User:
        token = self._session_token("delete_factor")
        user = await self._ops.client().users_delete_factor(token, kind, factor_id)
        await self._ops.authenticate(None)
        return user

    def delete_factor(self, kind: str, factor_id: str) -> User:
        """Remove one of the user's ``emails``, ``phone_numbers``, ``totps`` or ``oauth``
        registrations by its id (``stytch.user.totps[0].totp_id``, …). Returns the user."""
        return self._ops.run(self._delete_factor(kind, factor_id))

    async def delete_factor_async(self, kind: str, factor_id: str) -> User:
        return await self._ops.run_async(self._delete_factor(kind, factor_id))
