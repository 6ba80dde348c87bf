"""The rest of the consumer client API over loopback: passwords, SMS codes, TOTP, users."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stytch_jupyter.emulator import Emulator
from tests.support.emulator_http import challenge_of, data, error, loopback_client, otp_sign_in, sdk

EMAIL = "ada@example.com"
STRONG = "correct horse battery staple 1815"
STRONGER = "Analytical Engine, 1843: notes G"
PHONE = "+15555550123"
CALLBACK = "http://127.0.0.1:8765/stytch-jupyter/callback"


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with loopback_client(emulator.api_url, timeout=10) as client:
        yield client


def factors(auth: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["type"], f["delivery_method"]) for f in auth["session"]["authentication_factors"]]


# -- passwords -----------------------------------------------------------------------------


def test_password_create_then_sign_in(http, emulator) -> None:
    body = {"email": EMAIL, "password": STRONG, "session_duration_minutes": 60}
    created = data(sdk(http, emulator, "passwords", body))
    assert created["email_id"] == created["user"]["emails"][0]["email_id"]
    assert created["user"]["password"]["password_id"].startswith("password-test-")
    assert factors(created) == [("password", "knowledge")]
    signed_in = data(sdk(http, emulator, "passwords/authenticate", body))
    assert signed_in["user_id"] == created["user_id"]
    error(sdk(http, emulator, "passwords", body), 400, "duplicate_email")
    assert STRONG in emulator.issued()["passwords"]


@pytest.mark.parametrize(
    ("password", "warning"),
    [
        ("password", "very common"),
        ("abc", "too easy"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaa", "too easy"),
        ("ada-lovelace-ada", "contain your email"),
    ],
)
def test_a_weak_password_is_refused_with_feedback(http, emulator, password, warning) -> None:
    check = data(
        sdk(http, emulator, "passwords/strength_check", {"password": password, "email": EMAIL})
    )
    assert check["valid_password"] is False
    assert check["score"] < 3
    assert check["strength_policy"] == "zxcvbn"
    assert warning in check["feedback"]["warning"]
    assert check["feedback"]["suggestions"]
    assert check["breached_password"] is (password == "password")
    body = {"email": EMAIL, "password": password, "session_duration_minutes": 5}
    refused = error(sdk(http, emulator, "passwords", body), 400, "weak_password")
    assert warning in refused["error_message"]
    assert emulator.control.users() == []  # nothing was created


def test_a_strong_password_passes_the_check(http, emulator) -> None:
    check = data(sdk(http, emulator, "passwords/strength_check", {"password": STRONG}))
    assert check["valid_password"] is True and check["score"] >= 3
    assert check["feedback"] == {"warning": "", "suggestions": []}
    assert check["breach_detection_on_create"] is True


def reset_token(emulator: Emulator, email: str = EMAIL) -> str:
    url = emulator.last_password_reset(email)
    query = parse_qs(urlsplit(url).query)
    assert query["stytch_token_type"] == ["reset_password"]
    return query["token"][0]


def test_reset_by_email_with_pkce_works_once(http, emulator) -> None:
    emulator.create_user(EMAIL, password=STRONG)
    verifier = "v" * 64
    start = {
        "email": EMAIL,
        "reset_password_redirect_url": CALLBACK,
        "code_challenge": challenge_of(verifier),
    }
    data(sdk(http, emulator, "passwords/email/reset/start", start))
    url = emulator.last_password_reset(EMAIL)
    assert url.startswith(CALLBACK + "?")
    token = reset_token(emulator)
    reset = {"token": token, "password": STRONGER, "session_duration_minutes": 30}
    error(sdk(http, emulator, "passwords/email/reset", reset), 400, "pkce_expected_code_verifier")
    weak = {**reset, "password": "password", "code_verifier": verifier}
    error(sdk(http, emulator, "passwords/email/reset", weak), 400, "weak_password")
    done = data(sdk(http, emulator, "passwords/email/reset", {**reset, "code_verifier": verifier}))
    assert factors(done) == [("magic_link", "email"), ("password", "knowledge")]
    again = {**reset, "code_verifier": verifier}
    error(
        sdk(http, emulator, "passwords/email/reset", again),
        401,
        "unable_to_auth_password_reset_token",
    )
    old = {"email": EMAIL, "password": STRONG, "session_duration_minutes": 5}
    error(sdk(http, emulator, "passwords/authenticate", old), 401, "unauthorized_credentials")
    new = {"email": EMAIL, "password": STRONGER, "session_duration_minutes": 5}
    data(sdk(http, emulator, "passwords/authenticate", new))
    # A reset token is not a magic link, nor the other way round.
    error(
        sdk(http, emulator, "magic_links/authenticate", {"token": token}),
        404,
        "magic_link_not_found",
    )


def test_reset_by_email_errors(http, emulator) -> None:
    start = {"email": "nobody@example.com"}
    error(sdk(http, emulator, "passwords/email/reset/start", start), 404, "email_not_found")
    emulator.create_user(EMAIL, password=STRONG)
    elsewhere = {"email": EMAIL, "reset_password_redirect_url": "https://evil.example/r"}
    error(
        sdk(http, emulator, "passwords/email/reset/start", elsewhere),
        400,
        "invalid_password_reset_redirect_url",
    )
    assert emulator.outbox() == []
    data(sdk(http, emulator, "passwords/email/reset/start", {"email": EMAIL}))
    token = reset_token(emulator)
    emulator.advance_clock(31 * 60)  # the default lifetime is 30 minutes
    reset = {"token": token, "password": STRONGER}
    error(
        sdk(http, emulator, "passwords/email/reset", reset),
        401,
        "unable_to_auth_password_reset_token",
    )


def test_reset_by_email_follows_pkce_required() -> None:
    with (
        Emulator(pkce_required=["password_resets"]) as emu,
        loopback_client(emu.api_url) as http,
    ):
        emu.create_user(EMAIL, password=STRONG)
        start = {"email": EMAIL}
        error(
            sdk(http, emu, "passwords/email/reset/start", start),
            400,
            "pkce_expected_code_challenge",
        )


def test_reset_with_the_existing_password(http, emulator) -> None:
    emulator.create_user(EMAIL, password=STRONG)
    body = {"email": EMAIL, "existing_password": "wrong one", "new_password": STRONGER}
    reset = "passwords/existing_password/reset"
    error(sdk(http, emulator, reset, body), 401, "unauthorized_credentials")
    weak = {**body, "existing_password": STRONG, "new_password": "qwerty"}
    error(sdk(http, emulator, reset, weak), 400, "weak_password")
    done = data(sdk(http, emulator, reset, {**body, "existing_password": STRONG}))
    assert factors(done) == [("password", "knowledge")]
    new = {"email": EMAIL, "password": STRONGER}
    data(sdk(http, emulator, "passwords/authenticate", new))


def test_reset_from_the_session(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator, EMAIL)
    token = signed_in["session_token"]
    error(
        sdk(http, emulator, "passwords/session/reset", {"password": STRONG}),
        404,
        "session_not_found",
    )
    weak = {"password": "letmein"}
    error(sdk(http, emulator, "passwords/session/reset", weak, token), 400, "weak_password")
    done = data(sdk(http, emulator, "passwords/session/reset", {"password": STRONG}, token))
    assert done["session"]["session_id"] == signed_in["session"]["session_id"]
    assert factors(done) == [("otp", "email"), ("password", "knowledge")]
    data(sdk(http, emulator, "passwords/authenticate", {"email": EMAIL, "password": STRONG}))


# -- SMS one-time codes --------------------------------------------------------------------


def test_sms_sign_in(http, emulator) -> None:
    sent = data(sdk(http, emulator, "otps/sms/login_or_create", {"phone_number": PHONE}))
    method_id, code = emulator.last_sms_otp(PHONE)
    assert sent["method_id"] == method_id and method_id.startswith("phone-number-test-")
    [text] = emulator.outbox(PHONE)
    assert text["kind"] == "sms_otp" and text["to"] == PHONE
    body = {"token": code, "method_id": method_id, "session_duration_minutes": 60}
    signed_in = data(sdk(http, emulator, "otps/authenticate", body))
    assert signed_in["user"]["emails"] == []
    assert signed_in["user"]["phone_numbers"] == [
        {"phone_id": method_id, "phone_number": PHONE, "verified": True}
    ]
    [factor] = signed_in["session"]["authentication_factors"]
    assert (factor["type"], factor["delivery_method"]) == ("otp", "sms")
    assert factor["phone_number_factor"] == {"phone_id": method_id, "phone_number": PHONE}
    error(sdk(http, emulator, "otps/authenticate", body), 404, "otp_code_not_found")
    # The same number again: the same user.
    data(sdk(http, emulator, "otps/sms/login_or_create", {"phone_number": PHONE}))
    assert emulator.last_sms_otp(PHONE)[0] == method_id
    assert "SMS to" in http.get("/").text


@pytest.mark.parametrize(
    "phone", ["5555550123", "+1555", "+0155555501234", "+1 555 555 0123", "+١٢٣٤٥٦٧٨٩"]
)
def test_a_bad_phone_number_is_refused(http, emulator, phone) -> None:
    body = {"phone_number": phone}
    error(sdk(http, emulator, "otps/sms/login_or_create", body), 400, "invalid_phone_number")
    assert emulator.outbox() == []


def test_an_sms_code_expires(http, emulator) -> None:
    data(sdk(http, emulator, "otps/sms/login_or_create", {"phone_number": PHONE}))
    method_id, code = emulator.last_sms_otp(PHONE)
    emulator.advance_clock(2 * 60 + 1)
    body = {"token": code, "method_id": method_id}
    error(sdk(http, emulator, "otps/authenticate", body), 401, "unable_to_auth_otp_code")


# -- TOTP ----------------------------------------------------------------------------------


def totp_code(secret: str, moment: datetime) -> str:
    """RFC 6238, written out here independently of the emulator's own."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(moment.timestamp()) // 30
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[19] & 15
    value = (int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def emulator_now(emulator: Emulator) -> datetime:
    return emulator.advance_clock(0)


def test_totp_create_authenticate_and_recover(http, emulator) -> None:
    token = otp_sign_in(http, emulator, EMAIL)["session_token"]
    created = data(sdk(http, emulator, "totps", {}, token))
    assert created["qr_code"].startswith("data:image/png;base64,")
    assert base64.b64decode(created["qr_code"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(created["recovery_codes"]) == 10
    assert created["user"]["totps"] == [{"totp_id": created["totp_id"], "verified": False}]
    secret = created["secret"]
    code = totp_code(secret, emulator_now(emulator))
    body = {"totp_code": code, "session_duration_minutes": 60}
    done = data(sdk(http, emulator, "totps/authenticate", body, token))
    assert done["totp_id"] == created["totp_id"]
    assert ("totp", "authenticator_app") in factors(done)
    totp_factor = done["session"]["authentication_factors"][-1]
    assert totp_factor["authenticator_app_factor"] == {"totp_id": created["totp_id"]}
    assert done["user"]["totps"] == [{"totp_id": created["totp_id"], "verified": True}]
    # The same code twice is refused; a second TOTP cannot be made while one is active.
    error(
        sdk(http, emulator, "totps/authenticate", body, token),
        400,
        "totp_code_already_authenticated",
    )
    error(sdk(http, emulator, "totps", {}, token), 400, "active_totp_exists")
    # Recovery codes: listed, each works once.
    listed = data(sdk(http, emulator, "totps/recovery_codes", {}, token))
    assert listed["totps"][0]["recovery_codes"] == created["recovery_codes"]
    recovery = {"recovery_code": created["recovery_codes"][0]}
    recovered = data(sdk(http, emulator, "totps/recover", recovery, token))
    assert ("recovery_codes", "recovery_code") in factors(recovered)
    error(
        sdk(http, emulator, "totps/recover", recovery, token),
        401,
        "unable_to_authenticate_recovery_code",
    )
    left = data(sdk(http, emulator, "totps/recovery_codes", {}, token))["totps"][0]
    assert len(left["recovery_codes"]) == 9
    assert secret in emulator.issued()["totp_secrets"]


def test_a_totp_code_from_the_wrong_window_is_refused(http, emulator) -> None:
    token = otp_sign_in(http, emulator, EMAIL)["session_token"]
    secret = data(sdk(http, emulator, "totps", {}, token))["secret"]
    old_code = totp_code(secret, emulator_now(emulator))
    emulator.advance_clock(90)  # three steps on: beyond the one-step window
    body = {"totp_code": old_code, "session_duration_minutes": 5}
    if old_code != totp_code(secret, emulator_now(emulator)):  # 1 in 10^6 they coincide
        error(sdk(http, emulator, "totps/authenticate", body, token), 401, "invalid_totp_code")
    wrong = {"totp_code": "12345x", "session_duration_minutes": 5}
    error(sdk(http, emulator, "totps/authenticate", wrong, token), 401, "invalid_totp_code")
    fresh = {"totp_code": totp_code(secret, emulator_now(emulator)), "session_duration_minutes": 5}
    data(sdk(http, emulator, "totps/authenticate", fresh, token))


def test_totp_needs_a_session_and_a_registration(http, emulator) -> None:
    error(sdk(http, emulator, "totps", {}), 404, "session_not_found")
    token = otp_sign_in(http, emulator, EMAIL)["session_token"]
    body = {"totp_code": "123456", "session_duration_minutes": 5}
    error(sdk(http, emulator, "totps/authenticate", body, token), 404, "totps_not_found_for_user")
    error(sdk(http, emulator, "totps/recovery_codes", {}, token), 404, "totps_not_found_for_user")


# -- users ---------------------------------------------------------------------------------


def test_update_name_and_untrusted_metadata(http, emulator) -> None:
    token = otp_sign_in(http, emulator, EMAIL)["session_token"]
    body = {
        "name": {"first_name": "Ada", "last_name": "Lovelace"},
        "untrusted_metadata": {"theme": "dark", "notebooks": 3},
    }
    updated = data(sdk(http, emulator, "users/me", body, token, method="PUT"))
    assert updated["user"]["name"] == {
        "first_name": "Ada",
        "middle_name": "",
        "last_name": "Lovelace",
    }
    assert updated["user"]["untrusted_metadata"] == {"theme": "dark", "notebooks": 3}
    assert updated["emails"] == updated["user"]["emails"] and updated["crypto_wallets"] == []
    # Top-level keys merge; null removes one.
    more = {"untrusted_metadata": {"theme": None, "lang": "en"}}
    updated = data(sdk(http, emulator, "users/me", more, token, method="PUT"))
    assert updated["user"]["untrusted_metadata"] == {"notebooks": 3, "lang": "en"}
    me = data(sdk(http, emulator, "users/me", None, token, method="GET"))
    assert me["name"]["first_name"] == "Ada"
    bad = {"name": {"nickname": "A"}}
    error(sdk(http, emulator, "users/me", bad, token, method="PUT"), 400, "bad_request")
    error(
        sdk(http, emulator, "users/me", {"untrusted_metadata": [1]}, token, method="PUT"),
        400,
        "bad_request",
    )
    error(sdk(http, emulator, "users/me", body, method="PUT"), 404, "session_not_found")


def test_delete_a_factor(http, emulator) -> None:
    token = otp_sign_in(http, emulator, EMAIL)["session_token"]
    totp_id = data(sdk(http, emulator, "totps", {}, token))["totp_id"]
    deleted = data(sdk(http, emulator, f"users/totps/{totp_id}", None, token, method="DELETE"))
    assert deleted["user"]["totps"] == []
    again = sdk(http, emulator, f"users/totps/{totp_id}", None, token, method="DELETE")
    error(again, 404, "totp_not_found")
    error(
        sdk(
            http, emulator, "users/phone_numbers/phone-number-test-x", None, token, method="DELETE"
        ),
        404,
        "phone_number_not_found",
    )
    error(
        sdk(
            http,
            emulator,
            "users/oauth/oauth-user-registration-test-x",
            None,
            token,
            method="DELETE",
        ),
        404,
        "oauth_user_registration_not_found",
    )
    email_id = deleted["user"]["emails"][0]["email_id"]
    gone = data(sdk(http, emulator, f"users/emails/{email_id}", None, token, method="DELETE"))
    assert gone["user"]["emails"] == []
    error(
        sdk(http, emulator, f"users/emails/{email_id}", None, token, method="DELETE"),
        404,
        "email_not_found",
    )
    # Another user's factor is not found for this user.
    other = otp_sign_in(http, emulator, "bob@example.com")
    bob_email = other["user"]["emails"][0]["email_id"]
    error(
        sdk(http, emulator, f"users/emails/{bob_email}", None, token, method="DELETE"),
        404,
        "email_not_found",
    )
