"""B2B error types, with the status each is answered with.

Stytch names these in its SDKs' error enums; statuses marked UNVERIFIED follow the defaults
suggested in STYTCH_API_NEXT.md §8 (400 for bad input, 404 for a missing thing, 401 for a failed
credential) and are kept here so they are easy to correct.
"""

from __future__ import annotations

from .errors import (
    MAGIC_LINK_NOT_FOUND,
    OTP_CODE_NOT_FOUND,
    PKCE_MISMATCH,
    SESSION_NOT_FOUND,
    UNABLE_TO_AUTH_MAGIC_LINK,
    UNABLE_TO_AUTH_OTP_CODE,
    UNAUTHORIZED_CREDENTIALS,
)

__all__ = [
    "MAGIC_LINK_NOT_FOUND",
    "OTP_CODE_NOT_FOUND",
    "PKCE_MISMATCH",
    "SESSION_NOT_FOUND",
    "UNABLE_TO_AUTH_MAGIC_LINK",
    "UNABLE_TO_AUTH_OTP_CODE",
    "UNAUTHORIZED_CREDENTIALS",
]

ORGANIZATION_NOT_FOUND = "organization_not_found"  # 404, UNVERIFIED status
MEMBER_NOT_FOUND = "member_not_found"  # 404, UNVERIFIED status
SSO_CONNECTION_NOT_FOUND = "sso_connection_not_found"  # 404, UNVERIFIED status
SSO_TOKEN_NOT_FOUND = "sso_token_not_found"  # 404, UNVERIFIED status
OAUTH_TOKEN_NOT_FOUND = "oauth_token_not_found"  # 404, UNVERIFIED status
INTERMEDIATE_SESSION_NOT_FOUND = "intermediate_session_not_found"  # 404, UNVERIFIED status
IST_FOR_OTHER_ORGANIZATION = "invalid_intermediate_session_token_for_organization"  # 400
INSUFFICIENT_FACTORS = "insufficient_factors_for_session_exchange"  # 400, UNVERIFIED use
PKCE_EXPECTED = "pkce_expected_code_verifier"  # 400
PKCE_DID_NOT_EXPECT = "pkce_did_not_expect_code_verifier"  # 400

# UNVERIFIED names: chosen here where Stytch's is unknown.
INVALID_ORGANIZATION_SLUG = "invalid_organization_slug"  # 400
DUPLICATE_SLUG = "organization_slug_already_used"  # 400
DUPLICATE_MEMBER_EMAIL = "duplicate_member_email"  # 400
JIT_NOT_ALLOWED = "email_jit_provisioning_not_allowed"  # 403
SSO_JIT_NOT_ALLOWED = "sso_jit_provisioning_not_allowed"  # 403
MISSING_DISCOVERY_CREDENTIAL = "missing_discovery_credential"  # 400
UNABLE_TO_AUTH_IDP_TOKEN = "unable_to_auth_sso_or_oauth_token"  # 401
MFA_METHOD_NOT_ALLOWED = "mfa_method_not_allowed"  # 400
INVALID_PHONE_NUMBER = "invalid_phone_number"  # 400
TOTP_ALREADY_EXISTS = "totp_already_exists"  # 400
TOTP_NOT_FOUND = "totp_not_found"  # 404
UNABLE_TO_AUTH_TOTP = "unable_to_auth_totp_code"  # 401
UNABLE_TO_AUTH_RECOVERY_CODE = "unable_to_auth_recovery_code"  # 401
NO_MATCH_FOR_PROVIDED_SSO_URL = "no_match_for_provided_sso_url"  # 400
IDP_FLOW_NOT_FOUND = "idp_flow_not_found"  # 404, the emulator's consent page only
# A consumer project asked for a B2B endpoint (what Stytch answers is UNVERIFIED).
NOT_A_B2B_PROJECT = "not_a_b2b_project"  # 404
