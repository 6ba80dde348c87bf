"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), what every
authenticator app computes, and the QR code that carries the secret to one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
# How many steps either side of now a code is still accepted (clock drift). Stytch's window is
# UNVERIFIED; one step is what most servers allow.
WINDOW_STEPS = 1
RECOVERY_CODES = 10
ISSUER = "Stytch emulator"


def new_secret() -> str:
    """160 random bits in base32, as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step within the window whose code is ``code``, or None."""
    current = step_of(now)
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step).encode(), code.encode("utf-8", "replace")):
            return step
    return None


def recovery_codes() -> list[str]:
    return [
        f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}"
        for _ in range(RECOVERY_CODES)
    ]


def provisioning_uri(secret: str, account: str) -> str:
    label = quote(f"{ISSUER}:{account}")
    return f"otpauth://totp/{label}?" + urlencode(
        {"secret": secret, "issuer": ISSUER, "digits": DIGITS, "period": STEP_SECONDS}
    )


def qr_code_data_url(uri: str) -> str:
    """A PNG QR code of ``uri`` as a ``data:`` URL (a notebook or an <img> shows it as is)."""
    import segno  # the emulator extra; imported here, where a QR code is wanted

    data_url: str = segno.make(uri, error="m").png_data_uri(scale=5, border=2)
    return data_url
