"""Every consumer reply the emulator gives validates against Stytch's own OpenAPI schema for it
(a subset of the client API spec, extracted into ``stytch_client_openapi_subset.json``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator

from stytch_jupyter.emulator import Emulator
from tests.support.emulator_http import challenge_of, loopback_client, sdk

SPEC = json.loads((Path(__file__).parent / "stytch_client_openapi_subset.json").read_text())
EMAIL = "ada@example.com"
STRONG = "correct horse battery staple 1815"
CALLBACK = "http://127.0.0.1:8765/stytch-jupyter/callback"
validated: set[str] = set()


def without_nulls(value: Any) -> Any:
    # Real replies carry explicit nulls for absent optionals; the spec has no nullable types.
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def check(operation: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    schema = {
        "$ref": f"#/components/schemas/{SPEC['operations'][operation]}",
        "components": SPEC["components"],
    }
    errors = sorted(
        Draft202012Validator(schema).iter_errors(without_nulls(data)), key=lambda e: e.path
    )
    assert not errors, f"{operation}: " + "; ".join(
        f"{list(e.path)}: {e.message[:200]}" for e in errors
    )
    validated.add(operation)
    return data


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with loopback_client(emulator.api_url, timeout=10) as client:
        yield client


def totp_code(secret: str, emulator: Emulator) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int(emulator.advance_clock(0).timestamp()) // 30
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[19] & 15
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


def test_every_consumer_reply_matches_the_spec(http, emulator) -> None:
    e = emulator
    post = "POST /sdk/v1/"
    # Email codes, sessions, magic links.
    method_id = sdk(http, e, "otps/email/login_or_create", {"email": EMAIL}).json()["data"]
    _, code = e.last_otp(EMAIL)
    body = {"token": code, "method_id": method_id["method_id"], "session_duration_minutes": 60}
    token = check(post + "otps/authenticate", sdk(http, e, "otps/authenticate", body))[
        "session_token"
    ]
    check(post + "sessions/authenticate", sdk(http, e, "sessions/authenticate", {}, token))
    sdk(http, e, "magic_links/email/login_or_create", {"email": EMAIL})
    link_token = e.outbox(EMAIL)[-1]["token"]
    check(
        post + "magic_links/authenticate",
        sdk(http, e, "magic_links/authenticate", {"token": link_token}),
    )
    # Passwords.
    check(
        post + "passwords/strength_check",
        sdk(http, e, "passwords/strength_check", {"password": "qwerty"}),
    )
    created = {"email": "bob@example.com", "password": STRONG, "session_duration_minutes": 5}
    check(post + "passwords", sdk(http, e, "passwords", created))
    check(post + "passwords/authenticate", sdk(http, e, "passwords/authenticate", created))
    verifier = "v" * 50
    start = {"email": "bob@example.com", "code_challenge": challenge_of(verifier)}
    check(
        post + "passwords/email/reset/start",
        sdk(http, e, "passwords/email/reset/start", start),
    )
    reset_token = parse_qs(urlsplit(e.last_password_reset("bob@example.com")).query)["token"][0]
    reset = {"token": reset_token, "password": STRONG + "!", "code_verifier": verifier}
    check(post + "passwords/email/reset", sdk(http, e, "passwords/email/reset", reset))
    existing = {
        "email": "bob@example.com",
        "existing_password": STRONG + "!",
        "new_password": STRONG + "?",
    }
    check(
        post + "passwords/existing_password/reset",
        sdk(http, e, "passwords/existing_password/reset", existing),
    )
    check(
        post + "passwords/session/reset",
        sdk(http, e, "passwords/session/reset", {"password": STRONG}, token),
    )
    # SMS.
    sms = check(
        post + "otps/sms/login_or_create",
        sdk(http, e, "otps/sms/login_or_create", {"phone_number": "+15555550100"}),
    )
    _, sms_code = e.last_sms_otp("+15555550100")
    sms_body = {"token": sms_code, "method_id": sms["method_id"]}
    sms_token = check(post + "otps/authenticate", sdk(http, e, "otps/authenticate", sms_body))[
        "session_token"
    ]
    # TOTP.
    totp = check(post + "totps", sdk(http, e, "totps", {}, token))
    code_body = {"totp_code": totp_code(totp["secret"], e), "session_duration_minutes": 5}
    check(post + "totps/authenticate", sdk(http, e, "totps/authenticate", code_body, token))
    check(post + "totps/recovery_codes", sdk(http, e, "totps/recovery_codes", {}, token))
    recover = {"recovery_code": totp["recovery_codes"][0], "session_duration_minutes": 5}
    check(post + "totps/recover", sdk(http, e, "totps/recover", recover, token))
    # OAuth.
    back = e.oauth_consent(e.oauth_start_url("github", login_redirect_url=CALLBACK), EMAIL)
    oauth_token = parse_qs(urlsplit(back).query)["token"][0]
    oauth = check(
        post + "oauth/authenticate",
        sdk(http, e, "oauth/authenticate", {"token": oauth_token}, token),
    )
    # Users.
    update = {"name": {"first_name": "Ada"}, "untrusted_metadata": {"k": [1, 2]}}
    check("PUT /sdk/v1/users/me", sdk(http, e, "users/me", update, token, method="PUT"))
    me = check("GET /sdk/v1/users/me", sdk(http, e, "users/me", None, token, method="GET"))
    for operation, path in [
        ("DELETE /sdk/v1/users/totps/{totp_id}", f"users/totps/{totp['totp_id']}"),
        (
            "DELETE /sdk/v1/users/oauth/{oauth_user_registration_id}",
            f"users/oauth/{oauth['oauth_user_registration_id']}",
        ),
        ("DELETE /sdk/v1/users/emails/{email_id}", f"users/emails/{me['emails'][0]['email_id']}"),
    ]:
        check(operation, sdk(http, e, path, None, token, method="DELETE"))
    phone_id = sms["method_id"]
    check(
        "DELETE /sdk/v1/users/phone_numbers/{phone_id}",
        sdk(http, e, f"users/phone_numbers/{phone_id}", None, sms_token, method="DELETE"),
    )
    assert validated == set(SPEC["operations"])  # every schema in the file was used
