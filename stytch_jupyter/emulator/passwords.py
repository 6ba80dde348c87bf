"""Password strength as the emulator judges it, in the shape of Stytch's zxcvbn policy.

Stytch scores passwords with zxcvbn (0-4, valid from 3) and checks them against breach lists.
The emulator's judge is simpler and UNVERIFIED against Stytch's numbers: a guess count from the
length and the kinds of characters, zero for a password on a short list of common ones or one
that contains the email's name. Same fields, same rule for "valid".
"""

from __future__ import annotations

import math
from typing import Any

STRENGTH_POLICY = "zxcvbn"
MIN_VALID_SCORE = 3
# log2 of the guesses each score needs, as zxcvbn's thresholds (10^3, 10^6, 10^8, 10^10).
_SCORE_BITS = (math.log2(1e3), math.log2(1e6), math.log2(1e8), math.log2(1e10))
# A few of the most breached passwords; any of them is "breached" here.
COMMON_PASSWORDS = frozenset(
    {
        "123456",
        "123456789",
        "12345678",
        "password",
        "password1",
        "qwerty",
        "qwerty123",
        "111111",
        "abc123",
        "iloveyou",
        "letmein",
        "welcome",
        "monkey",
        "dragon",
        "football",
        "admin",
        "passw0rd",
        "1q2w3e4r",
        "sunshine",
        "princess",
    }
)


def _pool_size(password: str) -> int:
    pool = 0
    if any(c.islower() for c in password):
        pool += 26
    if any(c.isupper() for c in password):
        pool += 26
    if any(c.isdigit() for c in password):
        pool += 10
    if any(not c.isalnum() and c.isascii() for c in password):
        pool += 33
    if any(not c.isascii() for c in password):
        pool += 100
    return max(pool, 1)


def strength(password: str, email: str | None = None) -> dict[str, Any]:
    """The ``passwords/strength_check`` fields (without request_id/status_code)."""
    lowered = password.lower()
    breached = lowered in COMMON_PASSWORDS
    name = (email or "").partition("@")[0].lower()
    has_name = len(name) >= 3 and name in lowered
    distinct = len(set(password))
    # Repeats add little: count the distinct characters more than the length.
    bits = (min(len(password), distinct * 2)) * math.log2(_pool_size(password))
    score = 0 if breached or has_name else sum(bits >= t for t in _SCORE_BITS)
    valid = score >= MIN_VALID_SCORE and not breached
    feedback: dict[str, Any] = {"warning": "", "suggestions": []}
    if breached:
        feedback["warning"] = "This is a very common password."
        feedback["suggestions"] = ["Avoid common passwords.", "Use a few uncommon words."]
    elif has_name:
        feedback["warning"] = "Passwords that contain your email address are easy to guess."
        feedback["suggestions"] = ["Leave your name and email address out of your password."]
    elif not valid:
        feedback["warning"] = "This password is too easy to guess."
        feedback["suggestions"] = [
            "Use a longer password: several words are easy to remember and hard to guess.",
            "Mix in capitals, digits or symbols.",
        ]
    return {
        "valid_password": valid,
        "score": score,
        "breached_password": breached,
        "strength_policy": STRENGTH_POLICY,
        "breach_detection_on_create": True,
        "feedback": feedback,
    }
