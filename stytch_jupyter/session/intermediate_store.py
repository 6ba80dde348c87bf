"""Where a B2B sign-in half-way is kept: the intermediate session token (IST), its expiry, the
status, and the member and organization it is for.

Sealed like the session tokens (AES-256-GCM, the token store's own key, the public token bound
in as associated data), in a file beside theirs (``sessions/<hash>.ist``) so that a restarted
kernel resumes a discovery or an MFA step within its 10 minutes. Never both: a session written
to the store clears this slot, and this slot is written only after the session was cleared.
An expired IST reads back as nothing and is deleted, as in Stytch's SDKs. With the ``memory``
token store nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import cast

from ..api.b2b_models import IntermediateSessionToken, Member, Organization
from ..api.errors import StytchResponseError
from ._fs import atomic_write, ensure_private_dir
from .states import INTERMEDIATE_STATUSES, IntermediateStatus
from .store import EncryptedFileStore, TokenStore

logger = logging.getLogger("stytch_jupyter")

NONCE_BYTES = 12
_AAD_PREFIX = b"stytch-jupyter/intermediate-session/v1\x00"


@dataclass(frozen=True)
class HalfWay:
    """A stored half-way sign-in."""

    token: IntermediateSessionToken
    status: IntermediateStatus
    member: Member | None = None
    organization: Organization | None = None


class IntermediateSlot:
    """The IST slot of one project's token store (nothing at all for a memory store)."""

    def __init__(self, store: TokenStore | None, public_token: str) -> None:
        self._public_token = public_token
        self._store = store if isinstance(store, EncryptedFileStore) else None

    @property
    def path(self) -> Path | None:
        if self._store is None:
            return None
        base = self._store.base_path
        return base.with_name(base.stem + ".ist")

    def signature(self) -> tuple[int, int, int] | None:
        """A cheap look at the slot (a stat, nothing read): changes whenever a kernel writes
        or clears it. None while there is nothing stored."""
        path = self.path
        if path is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def save(self, half_way: HalfWay) -> None:
        path, key = self.path, self._key(create=True)
        if path is None or key is None:
            return
        payload = {
            "ist": half_way.token.value,
            "expires_at": half_way.token.expires_at.isoformat()
            if half_way.token.expires_at
            else None,
            "status": half_way.status,
            "member": dict(half_way.member.raw) if half_way.member else None,
            "organization": dict(half_way.organization.raw) if half_way.organization else None,
        }
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, json.dumps(payload).encode(), self._aad())
        ensure_private_dir(path.parent)
        atomic_write(path, nonce + sealed)

    def load(self, now: datetime | None = None) -> HalfWay | None:
        """The stored half-way sign-in, unless there is none, it does not open, or its IST
        has expired (then the file is removed)."""
        path = self.path
        if path is None or not path.exists():
            return None
        key = self._key(create=False)
        if key is None:
            return None
        try:
            blob = path.read_bytes()
            half_way = self._open(key, blob)
        except (OSError, ValueError, KeyError, TypeError, StytchResponseError) as exc:
            logger.info("stytch: a stored intermediate session was unreadable (%s)", type(exc))
            self.clear()
            return None
        expires_in = half_way.token.expires_in(now or datetime.now(timezone.utc))
        if expires_in is not None and expires_in <= 0:
            self.clear()
            return None
        return half_way

    def clear(self) -> None:
        path = self.path
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _key(self, *, create: bool) -> bytes | None:
        if self._store is None:
            return None
        provider = self._store.key_provider
        return provider.get_or_create_key() if create else provider.existing_key()

    def _aad(self) -> bytes:
        return _AAD_PREFIX + self._public_token.encode("utf-8")

    def _open(self, key: bytes, blob: bytes) -> HalfWay:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], self._aad())
        except InvalidTag:
            raise ValueError("does not authenticate") from None
        data = json.loads(plain)
        status = data["status"]
        if status not in INTERMEDIATE_STATUSES:
            raise ValueError("unknown status")
        expires = data.get("expires_at")
        member, organization = data.get("member"), data.get("organization")
        return HalfWay(
            token=IntermediateSessionToken(
                data["ist"], expires_at=datetime.fromisoformat(expires) if expires else None
            ),
            status=cast(IntermediateStatus, status),
            member=Member.from_dict(member) if isinstance(member, Mapping) else None,
            organization=Organization.from_dict(organization)
            if isinstance(organization, Mapping)
            else None,
        )
