"""PKCE (RFC 7636, S256): a verifier that stays in this process, and the challenge sent out."""

from __future__ import annotations

import base64
import hashlib
import secrets


def challenge_for(verifier: str) -> str:
    """``base64url_nopad(SHA-256(verifier))``, as every Stytch SDK computes it."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class PkcePair:
    """One flow's verifier and challenge. Its repr, str and pickling never give the verifier."""

    __slots__ = ("_verifier", "challenge")

    def __init__(self, verifier: str | None = None) -> None:
        # 48 random bytes: 64 characters, inside RFC 7636's 43 … 128.
        self._verifier = verifier if verifier is not None else secrets.token_urlsafe(48)
        self.challenge = challenge_for(self._verifier)

    @property
    def verifier(self) -> str:
        return self._verifier

    def __repr__(self) -> str:
        return f"PkcePair(challenge={self.challenge[:6]!r}…, verifier=<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a PKCE verifier never leaves the process that made it")
