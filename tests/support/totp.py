"""What an authenticator app shows for a TOTP secret (RFC 6238: HMAC-SHA1, 30 s, 6 digits).

Written here from the RFC rather than taken from the emulator, so a test that signs in with it
checks the emulator's TOTP against an independent one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time


def totp_now(secret: str, *, at: float | None = None) -> str:
    """The 6-digit code for ``secret`` (base32, as Stytch hands it out) at ``at`` (now)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"
