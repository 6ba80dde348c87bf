"""Stytch-shaped errors: the exception the emulator raises and the body it answers with.

Error bodies are never wrapped in ``data``, on any API:
``{status_code, request_id, error_type, error_message, error_url}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse

# Names Stytch documents with their status.
SESSION_NOT_FOUND = "session_not_found"  # 404
UNAUTHORIZED_CREDENTIALS = "unauthorized_credentials"  # 401
UNABLE_TO_AUTH_MAGIC_LINK = "unable_to_auth_magic_link"  # 401
MAGIC_LINK_NOT_FOUND = "magic_link_not_found"  # 404
USER_NOT_FOUND = "user_not_found"  # 404
TOO_MANY_REQUESTS = "too_many_requests"  # 429
INTERNAL_SERVER_ERROR = "internal_server_error"  # 500

# Unverified: names seen in Stytch's SDKs without a confirmed status, or chosen here where
# the real name is unknown. Kept in one place so they are easy to correct.
INVALID_PUBLIC_TOKEN = "invalid_public_token"  # 401
INVALID_SESSION_DURATION = "invalid_session_duration"  # 400
TOO_MANY_SESSION_ARGUMENTS = "too_many_session_arguments"  # 400
NO_SESSION_ARGUMENTS = "no_session_arguments"  # 400
OTP_CODE_NOT_FOUND = "otp_code_not_found"  # 404
UNABLE_TO_AUTH_OTP_CODE = "unable_to_auth_otp_code"  # 401
INVALID_METHOD_ID = "invalid_method_id"  # 400
PKCE_MISMATCH = "pkce_mismatch"  # 400
PKCE_EXPECTED_CODE_VERIFIER = "pkce_expected_code_verifier"  # 400
PKCE_DID_NOT_EXPECT_CODE_VERIFIER = "pkce_did_not_expect_code_verifier"  # 400
# Chosen here: the error when a project requires PKCE and a start sends no challenge.
PKCE_EXPECTED_CODE_CHALLENGE = "pkce_expected_code_challenge"  # 400
INVALID_CODE_CHALLENGE = "invalid_pkce_code_challenge"  # 400
OAUTH_TOKEN_NOT_FOUND = "oauth_token_not_found"  # 404: also a token used twice
EXPIRED_OAUTH_RESPONSE = "expired_oauth_response"  # 401
INVALID_OAUTH_PROVIDER = "invalid_oauth_provider"  # 400
# A redirect URL that is not on the project's allowlist.
NO_MATCH_FOR_PROVIDED_OAUTH_URL = "no_match_for_provided_oauth_url"  # 400
NO_MATCH_FOR_PROVIDED_MAGIC_LINK_URL = "no_match_for_provided_magic_link_url"  # 400
# Chosen here: what a deny on the consent page redirects with.
OAUTH_USER_DENIED = "oauth_user_denied_access"  # 400
OAUTH_FLOW_NOT_FOUND = "oauth_flow_not_found"  # 404, the emulator's consent page only
# Names in Stytch's browser SDK's StytchAPIErrorType (their statuses chosen here).
WEAK_PASSWORD = "weak_password"  # 400
EMAIL_NOT_FOUND = "email_not_found"  # 404
UNABLE_TO_AUTH_PASSWORD_RESET_TOKEN = "unable_to_auth_password_reset_token"  # 401
NO_MATCH_FOR_PROVIDED_PASSWORD_RESET_URL = "invalid_password_reset_redirect_url"  # 400
NO_USER_PASSWORD = "no_user_password"  # 400
INVALID_PHONE_NUMBER = "invalid_phone_number"  # 400
PHONE_NUMBER_NOT_FOUND = "phone_number_not_found"  # 404
ACTIVE_TOTP_EXISTS = "active_totp_exists"  # 400
TOTPS_NOT_FOUND_FOR_USER = "totps_not_found_for_user"  # 404
TOTP_NOT_FOUND = "totp_not_found"  # 404
INVALID_TOTP_CODE = "invalid_totp_code"  # 401
TOTP_CODE_ALREADY_AUTHENTICATED = "totp_code_already_authenticated"  # 400
UNABLE_TO_AUTHENTICATE_RECOVERY_CODE = "unable_to_authenticate_recovery_code"  # 401
OAUTH_USER_REGISTRATION_NOT_FOUND = "oauth_user_registration_not_found"  # 404
INVALID_EMAIL = "invalid_email"  # 400
INVALID_EXPIRATION = "invalid_expiration"  # 400
DUPLICATE_EMAIL = "duplicate_email"  # 400
PROJECT_NOT_FOUND = "project_not_found"  # 404
BAD_REQUEST = "bad_request"  # 400: malformed JSON, missing fields, wrong types
ROUTE_NOT_FOUND = "route_not_found"  # 404
METHOD_NOT_ALLOWED = "method_not_allowed"  # 405

# The error_type a fault answers with when it names only a status.
ERROR_TYPE_FOR_STATUS = {
    400: BAD_REQUEST,
    401: UNAUTHORIZED_CREDENTIALS,
    404: ROUTE_NOT_FOUND,
    429: TOO_MANY_REQUESTS,
    500: INTERNAL_SERVER_ERROR,
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

_DEFAULT_MESSAGES = {
    TOO_MANY_REQUESTS: "Too many requests have been made.",
    INTERNAL_SERVER_ERROR: "Oops, something seems to have gone wrong.",
}


def default_error_type(status: int) -> str:
    fallback = BAD_REQUEST if status < 500 else INTERNAL_SERVER_ERROR
    return ERROR_TYPE_FOR_STATUS.get(status, fallback)


def new_request_id() -> str:
    return f"request-id-test-{uuid.uuid4()}"


class EmulatorError(Exception):
    """Raised anywhere in the emulator; rendered as a Stytch error response."""

    def __init__(
        self,
        status_code: int,
        error_type: str,
        error_message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error_type} ({status_code}): {error_message}")
        self.status_code = status_code
        self.error_type = error_type
        self.error_message = error_message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "status_code": self.status_code,
            "request_id": new_request_id(),
            "error_type": self.error_type,
            "error_message": self.error_message,
            "error_url": f"https://stytch.com/docs/api/errors/{self.status_code}#{self.error_type}",
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def bad_request(message: str) -> EmulatorError:
    return EmulatorError(400, BAD_REQUEST, message)


def fault_error(status: int, error_type: str | None, retry_after: float | None) -> EmulatorError:
    """The error an injected fault answers with."""
    kind = error_type or default_error_type(status)
    message = _DEFAULT_MESSAGES.get(kind, f"Injected fault: {kind}.")
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return EmulatorError(status, kind, message, headers)
