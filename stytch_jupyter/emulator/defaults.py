"""Fixed, documented defaults: test-style credentials and the lifetimes Stytch documents.

The credentials are not secrets: they only open this emulator, which binds loopback.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_CLI_PORT = 9010

DEFAULT_PROJECT_ID = "project-test-00000000-0000-4000-8000-000000000000"
DEFAULT_PUBLIC_TOKEN = "public-token-test-00000000-0000-4000-8000-000000000000"
DEFAULT_SECRET = "secret-test-emulator"

# Session lengths Stytch accepts (5 minutes … 366 days).
MIN_SESSION_MINUTES = 5
MAX_SESSION_MINUTES = 527040
# What the client SDKs send when the caller gives no duration on a factor authenticate.
DEFAULT_FACTOR_SESSION_MINUTES = 5

# Email OTPs: Stytch documents 2 minutes by default, 1 … 10 allowed.
DEFAULT_OTP_MINUTES = 2
MIN_OTP_MINUTES = 1
MAX_OTP_MINUTES = 10
OTP_DIGITS = 6

# Email magic links: 60 minutes by default, 5 minutes … 7 days allowed.
DEFAULT_MAGIC_LINK_MINUTES = 60
MIN_MAGIC_LINK_MINUTES = 5
MAX_MAGIC_LINK_MINUTES = 10080

# Password reset links: 30 minutes by default, 5 minutes … 7 days allowed.
DEFAULT_PASSWORD_RESET_MINUTES = 30
MIN_PASSWORD_RESET_MINUTES = 5
MAX_PASSWORD_RESET_MINUTES = 10080

# A session JWT lives 5 minutes whatever the session's length.
JWT_LIFETIME_SECONDS = 300

DEFAULT_ROLES = ("stytch_user",)

# Every path of the control API starts with this; faults never apply to it.
CONTROL_PREFIX = "/emulator/v1"
MAGIC_LINK_LANDING_PATH = f"{CONTROL_PREFIX}/magic-link"
