"""The emulator over real loopback HTTP: every endpoint, its successes and its errors."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography import x509

from stytch_jupyter.emulator import Emulator, EmulatorControl, EmulatorControlError
from tests.conftest import PASSWORD
from tests.support import emulator_http as loopback
from tests.support.emulator_http import loopback_client

SESSION_CLAIM = "https://stytch.com/session"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with loopback_client(emulator.api_url, timeout=10) as client:
        yield client


def when(stamp: str) -> datetime:
    assert RFC3339.match(stamp), stamp
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def sdk(
    http: httpx.Client,
    emu: Emulator,
    path: str,
    body: dict[str, Any] | None = None,
    session: str | None = None,
    method: str = "POST",
) -> httpx.Response:
    """A client-API call as a frontend SDK makes it."""
    auth = (emu.public_token, session or emu.public_token)
    if method == "GET":
        return http.get(f"/sdk/v1/{path}", auth=auth)
    return http.post(f"/sdk/v1/{path}", json=body or {}, auth=auth)


def backend(
    http: httpx.Client, emu: Emulator, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return http.post(f"/v1/{path}", json=body or {}, auth=(emu.project_id, emu.secret))


def data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"}
    assert body["data"]["status_code"] == 200
    assert body["data"]["request_id"].startswith("request-id-test-")
    result: dict[str, Any] = body["data"]
    return result


def error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"status_code", "request_id", "error_type", "error_message", "error_url"}
    assert body["status_code"] == status
    assert body["error_type"] == error_type
    assert body["error_message"]
    return body


def otp_sign_in(
    http: httpx.Client, emu: Emulator, email: str = "ada@example.com", minutes: int = 60
) -> dict[str, Any]:
    method_id = data(sdk(http, emu, "otps/email/login_or_create", {"email": email}))["method_id"]
    sent_method_id, code = emu.last_otp(email)
    assert sent_method_id == method_id
    body = {"token": code, "method_id": method_id, "session_duration_minutes": minutes}
    return data(sdk(http, emu, "otps/authenticate", body))


def jwks_key(http: httpx.Client, emu: Emulator) -> jwt.PyJWK:
    keys = http.get(f"/v1/sessions/jwks/{emu.project_id}").json()["keys"]
    return jwt.PyJWK(keys[0])


# -- email OTPs ----------------------------------------------------------------------------


def test_otp_sign_in_creates_an_active_user_and_a_session(http, emulator) -> None:
    sent = data(sdk(http, emulator, "otps/email/login_or_create", {"email": "Ada@Example.com"}))
    assert sent["method_id"].startswith("email-test-")
    [message] = emulator.outbox("ada@example.com")
    assert message["kind"] == "otp" and message["to"] == "ada@example.com"
    assert re.fullmatch(r"\d{6}", message["code"])
    assert message["token"] is None and message["url"] is None

    result = otp_sign_in_with(http, emulator, sent["method_id"], message["code"], 30)
    assert result["method_id"] == sent["method_id"]
    user, session = result["user"], result["session"]
    assert result["user_id"] == user["user_id"] == session["user_id"]
    assert user["user_id"].startswith("user-test-")
    assert user["status"] == "active"
    assert user["emails"] == [
        {"email_id": sent["method_id"], "email": "ada@example.com", "verified": True}
    ]
    assert user["roles"] == ["stytch_user"] and user["password"] is None
    for field in ("phone_numbers", "webauthn_registrations", "providers", "totps"):
        assert user[field] == []
    assert session["session_id"].startswith("session-test-")
    assert session["roles"] == ["stytch_user"] and session["custom_claims"] == {}
    assert session["attributes"]["ip_address"] == "127.0.0.1"
    assert session["attributes"]["user_agent"].startswith("python-httpx/")
    [factor] = session["authentication_factors"]
    assert factor["type"] == "otp" and factor["delivery_method"] == "email"
    assert factor["email_factor"] == {
        "email_id": sent["method_id"],
        "email_address": "ada@example.com",
    }
    started = when(session["started_at"])
    assert when(session["last_accessed_at"]) == started
    assert when(session["expires_at"]) - started == timedelta(minutes=30)
    assert result["session_token"] and "." not in result["session_token"]


def otp_sign_in_with(
    http: httpx.Client, emu: Emulator, method_id: str, code: str, minutes: int = 60
) -> dict[str, Any]:
    body = {"token": code, "method_id": method_id, "session_duration_minutes": minutes}
    return data(sdk(http, emu, "otps/authenticate", body))


def test_session_jwt_is_rs256_with_stytch_claims(http, emulator) -> None:
    result = otp_sign_in(http, emulator)
    token = result["session_jwt"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["kid"].startswith("jwk-test-")
    claims = jwt.decode(
        token,
        jwks_key(http, emulator).key,
        algorithms=["RS256"],
        audience=emulator.project_id,
        issuer=f"stytch.com/{emulator.project_id}",
    )
    assert claims["sub"] == result["user_id"]
    assert claims["aud"] == [emulator.project_id]
    assert claims["nbf"] == claims["iat"] and claims["exp"] == claims["iat"] + 300
    session = result["session"]
    assert claims[SESSION_CLAIM] == {
        "id": session["session_id"],
        "started_at": session["started_at"],
        "last_accessed_at": session["last_accessed_at"],
        "expires_at": session["expires_at"],
        "attributes": session["attributes"],
        "authentication_factors": session["authentication_factors"],
        "roles": ["stytch_user"],
    }


def test_wrong_and_reused_otp_codes_are_not_found(http, emulator) -> None:
    method_id = data(sdk(http, emulator, "otps/email/login_or_create", {"email": "a@b.io"}))[
        "method_id"
    ]
    _, code = emulator.last_otp("a@b.io")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    body = {"token": wrong, "method_id": method_id, "session_duration_minutes": 5}
    error(sdk(http, emulator, "otps/authenticate", body), 404, "otp_code_not_found")
    otp_sign_in_with(http, emulator, method_id, code)  # the wrong try did not burn it
    body["token"] = code
    error(sdk(http, emulator, "otps/authenticate", body), 404, "otp_code_not_found")


def test_otp_expires_by_default_after_two_minutes(http, emulator) -> None:
    method_id = data(sdk(http, emulator, "otps/email/login_or_create", {"email": "a@b.io"}))[
        "method_id"
    ]
    _, code = emulator.last_otp("a@b.io")
    emulator.advance_clock(121)
    body = {"token": code, "method_id": method_id, "session_duration_minutes": 5}
    error(sdk(http, emulator, "otps/authenticate", body), 401, "unable_to_auth_otp_code")


def test_otp_expiration_minutes_is_honoured_and_checked(http, emulator) -> None:
    body = {"email": "a@b.io", "expiration_minutes": 10}
    method_id = data(sdk(http, emulator, "otps/email/login_or_create", body))["method_id"]
    _, code = emulator.last_otp("a@b.io")
    emulator.advance_clock(9 * 60)
    otp_sign_in_with(http, emulator, method_id, code)
    for bad in (0, 11, "5"):
        body = {"email": "a@b.io", "expiration_minutes": bad}
        response = sdk(http, emulator, "otps/email/login_or_create", body)
        error(response, 400, "invalid_expiration")


def test_unknown_otp_method_id_and_bad_email(http, emulator) -> None:
    body = {"token": "123456", "method_id": "email-test-nope", "session_duration_minutes": 5}
    error(sdk(http, emulator, "otps/authenticate", body), 400, "invalid_method_id")
    response = sdk(http, emulator, "otps/email/login_or_create", {"email": "not an email"})
    error(response, 400, "invalid_email")
    assert emulator.outbox() == []


def test_a_second_code_goes_to_the_same_user(http, emulator) -> None:
    first = otp_sign_in(http, emulator, "a@b.io")
    second = otp_sign_in(http, emulator, "A@B.io")
    assert first["user_id"] == second["user_id"]
    assert first["session"]["session_id"] != second["session"]["session_id"]
    assert len(emulator.outbox("a@b.io")) == 2


def test_a_factor_sent_with_a_live_session_joins_it(http, emulator) -> None:
    emulator.create_user("a@b.io", password=PASSWORD)
    first = data(
        sdk(http, emulator, "passwords/authenticate", {"email": "a@b.io", "password": PASSWORD})
    )
    data(sdk(http, emulator, "otps/email/login_or_create", {"email": "a@b.io"}))
    method_id, code = emulator.last_otp("a@b.io")
    body = {"token": code, "method_id": method_id, "session_duration_minutes": 60}
    joined = data(sdk(http, emulator, "otps/authenticate", body, session=first["session_token"]))
    assert joined["session"]["session_id"] == first["session"]["session_id"]
    assert joined["session_token"] == first["session_token"]
    kinds = [f["type"] for f in joined["session"]["authentication_factors"]]
    assert kinds == ["password", "otp"]


# -- session durations, extension and expiry -------------------------------------------------


@pytest.mark.parametrize("minutes", [4, 527041, 0, -5, "60", 30.5, True])
def test_out_of_range_durations_are_refused(http, emulator, minutes) -> None:
    signed_in = otp_sign_in(http, emulator)
    body = {"session_duration_minutes": minutes}
    response = sdk(http, emulator, "sessions/authenticate", body, signed_in["session_token"])
    error(response, 400, "invalid_session_duration")
    data(sdk(http, emulator, "otps/email/login_or_create", {"email": "b@b.io"}))
    method_id, code = emulator.last_otp("b@b.io")
    body = {"token": code, "method_id": method_id, "session_duration_minutes": minutes}
    error(sdk(http, emulator, "otps/authenticate", body), 400, "invalid_session_duration")
    # The refused extension changed nothing.
    after = data(sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_token"]))
    assert after["session"]["expires_at"] == signed_in["session"]["expires_at"]


@pytest.mark.parametrize("minutes", [5, 527040])
def test_the_duration_bounds_are_accepted(http, emulator, minutes) -> None:
    signed_in = otp_sign_in(http, emulator)
    body = {"session_duration_minutes": minutes}
    session = data(sdk(http, emulator, "sessions/authenticate", body, signed_in["session_token"]))[
        "session"
    ]
    assert when(session["expires_at"]) - when(session["last_accessed_at"]) == timedelta(
        minutes=minutes
    )


def test_extension_sets_expiry_to_now_plus_duration(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator, minutes=600)
    emulator.advance_clock(120)
    body = {"session_duration_minutes": 30}
    extended = data(sdk(http, emulator, "sessions/authenticate", body, signed_in["session_token"]))
    session = extended["session"]
    accessed = when(session["last_accessed_at"])
    assert accessed >= when(signed_in["session"]["last_accessed_at"]) + timedelta(seconds=120)
    # Set, not added: a 600-minute session "extended" by 30 now ends sooner.
    assert when(session["expires_at"]) == accessed + timedelta(minutes=30)
    assert session["started_at"] == signed_in["session"]["started_at"]


def test_authenticate_without_duration_only_checks(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator, minutes=60)
    emulator.advance_clock(5)
    checked = data(sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_token"]))
    assert checked["session"]["expires_at"] == signed_in["session"]["expires_at"]
    assert when(checked["session"]["last_accessed_at"]) > when(
        signed_in["session"]["last_accessed_at"]
    )
    # An empty body is the same as {}.
    response = http.post(
        "/sdk/v1/sessions/authenticate",
        auth=(emulator.public_token, signed_in["session_token"]),
    )
    assert data(response)["session"]["expires_at"] == signed_in["session"]["expires_at"]


def test_opaque_token_stays_and_the_jwt_is_fresh(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    emulator.advance_clock(1)
    body = {"session_duration_minutes": 60}
    again = data(sdk(http, emulator, "sessions/authenticate", body, signed_in["session_token"]))
    assert again["session_token"] == signed_in["session_token"]
    assert again["session_jwt"] != signed_in["session_jwt"]
    old = jwt.decode(signed_in["session_jwt"], options={"verify_signature": False})
    new = jwt.decode(again["session_jwt"], options={"verify_signature": False})
    assert new["iat"] > old["iat"]


def test_the_session_jwt_also_authenticates_in_the_header(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    via_jwt = data(sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_jwt"]))
    assert via_jwt["session"]["session_id"] == signed_in["session"]["session_id"]
    assert via_jwt["session_token"] == signed_in["session_token"]


def test_an_expired_session_cannot_be_authenticated_or_extended(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator, minutes=5)
    token = signed_in["session_token"]
    emulator.advance_clock(4 * 60)
    data(sdk(http, emulator, "sessions/authenticate", {}, token))
    emulator.advance_clock(61)
    error(sdk(http, emulator, "sessions/authenticate", {}, token), 404, "session_not_found")
    body = {"session_duration_minutes": 60}
    error(sdk(http, emulator, "sessions/authenticate", body, token), 404, "session_not_found")
    error(sdk(http, emulator, "users/me", session=token, method="GET"), 404, "session_not_found")


def test_sessions_authenticate_without_a_session(http, emulator) -> None:
    error(sdk(http, emulator, "sessions/authenticate"), 404, "session_not_found")
    response = sdk(http, emulator, "sessions/authenticate", {}, "not-a-session-token")
    error(response, 404, "session_not_found")
    error(
        sdk(http, emulator, "sessions/authenticate", {}, "a.b.c"), 401, "unauthorized_credentials"
    )


# -- revocation --------------------------------------------------------------------------------


def test_client_revoke_ends_the_session(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    token = signed_in["session_token"]
    assert data(sdk(http, emulator, "sessions/revoke", {}, token)).keys() == {
        "status_code",
        "request_id",
    }
    error(sdk(http, emulator, "sessions/authenticate", {}, token), 404, "session_not_found")
    error(
        sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_jwt"]),
        404,
        "session_not_found",
    )
    error(sdk(http, emulator, "sessions/revoke", {}, token), 404, "session_not_found")


def test_backend_revoke_through_the_helper(http, emulator) -> None:
    by_token = otp_sign_in(http, emulator, "a@b.io")
    by_id = otp_sign_in(http, emulator, "c@d.io")
    emulator.revoke_session(session_token=by_token["session_token"])
    emulator.revoke_session(session_id=by_id["session"]["session_id"])
    for signed_in in (by_token, by_id):
        response = sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_token"])
        error(response, 404, "session_not_found")
    with pytest.raises(EmulatorControlError) as raised:
        emulator.revoke_session(session_token=by_token["session_token"])
    assert raised.value.error_type == "session_not_found"
    assert by_token["session_token"] not in str(raised.value)


# -- magic links ---------------------------------------------------------------------------


def test_magic_link_defaults_to_the_landing_page(http, emulator) -> None:
    response = sdk(http, emulator, "magic_links/email/login_or_create", {"email": "a@b.io"})
    assert data(response).keys() == {"status_code", "request_id"}
    url = emulator.last_magic_link("a@b.io")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == emulator.api_url
    assert parts.path == "/emulator/v1/magic-link"
    query = parse_qs(parts.query)
    assert query["stytch_token_type"] == ["magic_links"]
    [message] = emulator.outbox("a@b.io")
    assert message["kind"] == "magic_link" and message["code"] is None
    assert query["token"] == [message["token"]]
    assert message["method_id"].startswith("email-test-")

    page = http.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "paste it into your notebook" in page.text
    assert message["token"] in page.text


def test_magic_link_urls_keep_their_query_and_pick_signup_or_login(http, emulator) -> None:
    body = {
        "email": "new@b.io",
        "login_magic_link_url": "https://app.example/login?next=%2Fhome",
        "signup_magic_link_url": "https://app.example/signup",
    }
    data(sdk(http, emulator, "magic_links/email/login_or_create", body))
    signup = urlsplit(emulator.last_magic_link("new@b.io"))
    assert signup.path == "/signup"
    token = parse_qs(signup.query)["token"][0]
    data(sdk(http, emulator, "magic_links/authenticate", {"token": token}))

    data(sdk(http, emulator, "magic_links/email/login_or_create", body))
    login = urlsplit(emulator.last_magic_link("new@b.io"))
    assert login.path == "/login"
    assert parse_qs(login.query)["next"] == ["/home"]
    assert parse_qs(login.query)["stytch_token_type"] == ["magic_links"]

    response = sdk(
        http,
        emulator,
        "magic_links/email/login_or_create",
        {"email": "a@b.io", "login_magic_link_url": "javascript:alert(1)"},
    )
    error(response, 400, "bad_request")


def test_magic_link_authenticates_once(http, emulator) -> None:
    data(sdk(http, emulator, "magic_links/email/login_or_create", {"email": "a@b.io"}))
    [message] = emulator.outbox("a@b.io")
    body = {"token": message["token"], "session_duration_minutes": 60}
    result = data(sdk(http, emulator, "magic_links/authenticate", body))
    assert result["method_id"] == message["method_id"]
    assert result["user"]["emails"][0]["verified"] is True
    assert result["user"]["status"] == "active"
    [factor] = result["session"]["authentication_factors"]
    assert (factor["type"], factor["delivery_method"]) == ("magic_link", "email")
    response = sdk(http, emulator, "magic_links/authenticate", body)
    error(response, 401, "unable_to_auth_magic_link")


def test_magic_link_expires(http, emulator) -> None:
    body = {"email": "a@b.io", "login_expiration_minutes": 5, "signup_expiration_minutes": 5}
    data(sdk(http, emulator, "magic_links/email/login_or_create", body))
    token = emulator.outbox("a@b.io")[-1]["token"]
    emulator.advance_clock(5 * 60)
    response = sdk(http, emulator, "magic_links/authenticate", {"token": token})
    error(response, 401, "unable_to_auth_magic_link")
    response = sdk(http, emulator, "magic_links/authenticate", {"token": "no-such-token"})
    error(response, 404, "magic_link_not_found")


def test_magic_link_default_expiry_is_an_hour(http, emulator) -> None:
    data(sdk(http, emulator, "magic_links/email/login_or_create", {"email": "a@b.io"}))
    token = emulator.outbox("a@b.io")[-1]["token"]
    emulator.advance_clock(59 * 60)
    data(sdk(http, emulator, "magic_links/authenticate", {"token": token}))


def test_magic_link_pkce(http, emulator) -> None:
    verifier = "a-code-verifier-of-enough-length-for-pkce-0123456789"
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    body = {"email": "a@b.io", "code_challenge": challenge}
    data(sdk(http, emulator, "magic_links/email/login_or_create", body))
    token = emulator.outbox("a@b.io")[-1]["token"]
    wrong = {"token": token, "code_verifier": "something-else"}
    error(sdk(http, emulator, "magic_links/authenticate", wrong), 400, "pkce_mismatch")
    right = {"token": token, "code_verifier": verifier}
    data(sdk(http, emulator, "magic_links/authenticate", right))


# -- passwords and users/me --------------------------------------------------------------------


def test_password_sign_in(http, emulator) -> None:
    user_id = emulator.create_user("Grace@Example.com", password=PASSWORD, name="Grace Hopper")
    body = {"email": "grace@example.com", "password": PASSWORD, "session_duration_minutes": 30}
    result = data(sdk(http, emulator, "passwords/authenticate", body))
    assert result["user_id"] == user_id
    user = result["user"]
    assert user["name"] == {"first_name": "Grace", "middle_name": "", "last_name": "Hopper"}
    assert user["password"]["password_id"].startswith("password-test-")
    assert user["password"]["requires_reset"] is False
    [factor] = result["session"]["authentication_factors"]
    assert (factor["type"], factor["delivery_method"]) == ("password", "knowledge")
    assert factor["email_factor"]["email_address"] == "grace@example.com"


def test_password_sign_in_defaults_to_five_minutes(http, emulator) -> None:
    emulator.create_user("a@b.io", password=PASSWORD)
    body = {"email": "a@b.io", "password": PASSWORD}
    session = data(sdk(http, emulator, "passwords/authenticate", body))["session"]
    assert when(session["expires_at"]) - when(session["started_at"]) == timedelta(minutes=5)


def test_wrong_password_and_unknown_email(http, emulator) -> None:
    emulator.create_user("a@b.io", password=PASSWORD)
    emulator.create_user("nopass@b.io")
    for email, password in [
        ("a@b.io", "hunter2-guess"),
        ("who@b.io", PASSWORD),
        ("nopass@b.io", "x-guess"),
    ]:
        body = {"email": email, "password": password}
        response = sdk(http, emulator, "passwords/authenticate", body)
        body_json = error(response, 401, "unauthorized_credentials")
        assert password not in body_json["error_message"]


def test_users_me(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    me = data(sdk(http, emulator, "users/me", session=signed_in["session_token"], method="GET"))
    assert me["user_id"] == signed_in["user_id"]
    assert me["emails"] == signed_in["user"]["emails"]
    error(sdk(http, emulator, "users/me", method="GET"), 404, "session_not_found")


# -- client API auth and malformed requests ----------------------------------------------------


def test_wrong_or_missing_public_token(http, emulator) -> None:
    body = {"email": "a@b.io"}
    response = http.post("/sdk/v1/otps/email/login_or_create", json=body, auth=("nope", "nope"))
    error(response, 401, "invalid_public_token")
    response = http.post("/sdk/v1/otps/email/login_or_create", json=body)
    error(response, 401, "invalid_public_token")
    response = http.post(
        "/sdk/v1/otps/email/login_or_create",
        json=body,
        headers={"Authorization": "Basic !!!not-base64"},
    )
    error(response, 401, "invalid_public_token")
    assert emulator.outbox() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
    ],
)
def test_malformed_bodies_are_400_never_500(http, emulator, content, message) -> None:
    client_auth = (emulator.public_token, emulator.public_token)
    backend_auth = (emulator.project_id, emulator.secret)
    for path, auth in [
        ("/sdk/v1/otps/email/login_or_create", client_auth),
        ("/sdk/v1/sessions/authenticate", client_auth),
        ("/v1/sessions/authenticate", backend_auth),
        ("/emulator/v1/users", None),
        ("/emulator/v1/faults", None),
    ]:
        response = http.post(path, content=content, auth=auth)
        assert message in error(response, 400, "bad_request")["error_message"], path


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "token is required"),
        ({"token": 123456, "method_id": "email-test-x"}, "token must be a string"),
        ({"token": "123456"}, "method_id is required"),
        ({"token": "", "method_id": "email-test-x"}, "token must not be empty"),
        ({"token": "123456", "method_id": ["email-test-x"]}, "method_id must be a string"),
    ],
)
def test_missing_and_mistyped_fields_name_the_field(http, emulator, body, named) -> None:
    response = sdk(http, emulator, "otps/authenticate", body)
    assert named in error(response, 400, "bad_request")["error_message"]


def test_a_bug_answers_a_stytch_shaped_500_and_logs_no_secret(
    http, emulator, monkeypatch, caplog
) -> None:
    # A stand-in for a bug in a handler: the one way to reach this path on purpose.
    leaked = "secret-value-in-an-exception"

    def broken(self: object, email: str | None = None) -> None:
        raise KeyError(leaked)

    monkeypatch.setattr("stytch_jupyter.emulator.state.State.outbox", broken)
    with caplog.at_level("ERROR", logger="stytch_jupyter.emulator"):
        response = http.get("/emulator/v1/outbox", params={"email": leaked})
        error(response, 500, "internal_server_error")
        # The server logs after it has answered.
        deadline = time.monotonic() + 10
        while "KeyError" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    assert leaked not in response.text
    assert "KeyError" in caplog.text and "/emulator/v1/outbox" in caplog.text
    assert leaked not in caplog.text
    assert "Traceback" not in caplog.text
    # The server goes on serving.
    assert http.get(f"/v1/sessions/jwks/{emulator.project_id}").status_code == 200


def test_unknown_routes_and_methods_are_stytch_shaped(http, emulator) -> None:
    error(http.get("/sdk/v1/nope"), 404, "route_not_found")
    error(http.post("/v2/anything", json={}), 404, "route_not_found")
    error(http.get("/nope"), 404, "route_not_found")
    response = http.get("/sdk/v1/sessions/authenticate")
    error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]


# -- backend API ---------------------------------------------------------------------------


def test_backend_requires_the_secret(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    body = {"session_token": signed_in["session_token"]}
    for auth in [(emulator.project_id, "wrong"), ("project-test-other", emulator.secret), None]:
        response = http.post("/v1/sessions/authenticate", json=body, auth=auth)
        error(response, 401, "unauthorized_credentials")
    response = http.get(f"/v1/sessions?user_id={signed_in['user_id']}")
    error(response, 401, "unauthorized_credentials")


def test_backend_authenticate_by_token_and_by_jwt(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    body = {"session_token": signed_in["session_token"], "session_duration_minutes": 120}
    response = backend(http, emulator, "sessions/authenticate", body)
    assert response.status_code == 200
    by_token = response.json()
    assert "data" not in by_token
    assert by_token["status_code"] == 200 and by_token["request_id"].startswith("request-id-")
    assert set(by_token) >= {"session", "session_token", "session_jwt", "user"}
    session = by_token["session"]
    assert when(session["expires_at"]) - when(session["last_accessed_at"]) == timedelta(minutes=120)
    # A JWT past its own exp still names a live session, as on Stytch.
    emulator.advance_clock(600)
    body = {"session_jwt": signed_in["session_jwt"]}
    by_jwt = backend(http, emulator, "sessions/authenticate", body).json()
    assert by_jwt["session"]["session_id"] == session["session_id"]
    assert by_jwt["session_token"] == signed_in["session_token"]


def test_backend_session_arguments(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    both = {"session_token": signed_in["session_token"], "session_jwt": signed_in["session_jwt"]}
    error(backend(http, emulator, "sessions/authenticate", both), 400, "too_many_session_arguments")
    error(backend(http, emulator, "sessions/authenticate", {}), 400, "no_session_arguments")
    body = {"session_token": "nope"}
    error(backend(http, emulator, "sessions/authenticate", body), 404, "session_not_found")
    body = {"session_jwt": signed_in["session_jwt"][:-4] + "AAAA"}
    error(backend(http, emulator, "sessions/authenticate", body), 401, "unauthorized_credentials")
    body = {"session_token": signed_in["session_token"], "session_duration_minutes": 4}
    error(backend(http, emulator, "sessions/authenticate", body), 400, "invalid_session_duration")
    two = {"session_id": signed_in["session"]["session_id"], **both}
    error(backend(http, emulator, "sessions/revoke", two), 400, "too_many_session_arguments")
    error(backend(http, emulator, "sessions/revoke", {}), 400, "no_session_arguments")
    # Nothing above changed the session.
    data(sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_token"]))


def test_backend_custom_claims_reach_the_session_and_the_jwt(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    body = {
        "session_token": signed_in["session_token"],
        "session_custom_claims": {"team": "analytics", "sub": "ignored", "level": 3},
    }
    result = backend(http, emulator, "sessions/authenticate", body).json()
    assert result["session"]["custom_claims"] == {"team": "analytics", "level": 3}
    claims = jwt.decode(result["session_jwt"], options={"verify_signature": False})
    assert claims["team"] == "analytics" and claims["sub"] == signed_in["user_id"]
    body["session_custom_claims"] = {"team": None}
    result = backend(http, emulator, "sessions/authenticate", body).json()
    assert result["session"]["custom_claims"] == {"level": 3}
    body["session_custom_claims"] = ["not", "an", "object"]
    error(backend(http, emulator, "sessions/authenticate", body), 400, "bad_request")


def test_backend_revoke_by_jwt_and_list_sessions(http, emulator) -> None:
    first = otp_sign_in(http, emulator)
    second = otp_sign_in(http, emulator)
    other = otp_sign_in(http, emulator, "other@b.io")
    auth = (emulator.project_id, emulator.secret)
    listed = http.get("/v1/sessions", params={"user_id": first["user_id"]}, auth=auth).json()
    assert listed["status_code"] == 200
    ids = {s["session_id"] for s in listed["sessions"]}
    assert ids == {first["session"]["session_id"], second["session"]["session_id"]}

    response = backend(http, emulator, "sessions/revoke", {"session_jwt": first["session_jwt"]})
    assert response.status_code == 200 and response.json()["status_code"] == 200
    listed = http.get("/v1/sessions", params={"user_id": first["user_id"]}, auth=auth).json()
    assert [s["session_id"] for s in listed["sessions"]] == [second["session"]["session_id"]]
    data(sdk(http, emulator, "sessions/authenticate", {}, other["session_token"]))

    error(http.get("/v1/sessions", auth=auth), 400, "bad_request")
    response = http.get("/v1/sessions", params={"user_id": "user-test-nope"}, auth=auth)
    error(response, 404, "user_not_found")


def test_jwks(http, emulator) -> None:
    response = http.get(f"/v1/sessions/jwks/{emulator.project_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 200 and body["request_id"]
    [key] = body["keys"]
    assert set(key) == {"kty", "use", "key_ops", "alg", "kid", "x5c", "x5tS256", "n", "e"}
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    der = base64.b64decode(key["x5c"][0])
    thumb = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert key["x5tS256"] == thumb
    certificate = x509.load_der_x509_certificate(der)
    cert_n = certificate.public_key().public_numbers().n  # type: ignore[union-attr]
    assert jwt.PyJWK(key).key.public_numbers().n == cert_n
    error(http.get("/v1/sessions/jwks/project-test-other"), 404, "project_not_found")


# -- the stand-in backend ------------------------------------------------------------------


def protected(http: httpx.Client, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return http.get("/emulator/v1/protected", headers=headers)


def test_protected_accepts_a_good_jwt(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    response = protected(http, signed_in["session_jwt"])
    assert response.status_code == 200
    assert response.json() == {
        "user_id": signed_in["user_id"],
        "session_id": signed_in["session"]["session_id"],
    }


def test_protected_refuses_expired_revoked_and_forged_jwts(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator, minutes=60)
    emulator.advance_clock(301)  # past the JWT's exp, the session itself still live
    error(protected(http, signed_in["session_jwt"]), 401, "unauthorized_credentials")
    fresh = data(sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_token"]))
    assert protected(http, fresh["session_jwt"]).status_code == 200

    emulator.revoke_session(session_id=fresh["session"]["session_id"])
    error(protected(http, fresh["session_jwt"]), 401, "unauthorized_credentials")

    other = otp_sign_in(http, emulator, "b@b.io")
    head, claims, signature = other["session_jwt"].split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged_claims["sub"] = "user-test-someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    error(protected(http, f"{head}.{forged}.{signature}"), 401, "unauthorized_credentials")
    error(protected(http, "garbage"), 401, "unauthorized_credentials")
    error(protected(http, None), 401, "unauthorized_credentials")


def test_protected_refuses_a_jwt_of_an_expired_session(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator, minutes=5)
    emulator.advance_clock(4 * 60 + 59)
    fresh = data(sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_token"]))
    assert protected(http, fresh["session_jwt"]).status_code == 200
    emulator.advance_clock(2)  # the session is over, the JWT's own exp is minutes away
    error(protected(http, fresh["session_jwt"]), 401, "unauthorized_credentials")


# -- faults --------------------------------------------------------------------------------


def test_fault_429_with_retry_after(http, emulator) -> None:
    emulator.add_fault(path_prefix="/sdk/v1/sessions", status=429, retry_after=7)
    response = sdk(http, emulator, "sessions/authenticate")
    error(response, 429, "too_many_requests")
    assert response.headers["retry-after"] == "7"
    # Used up: the next request is answered normally.
    error(sdk(http, emulator, "sessions/authenticate"), 404, "session_not_found")


def test_fault_500_and_a_custom_error_type(http, emulator) -> None:
    emulator.add_fault(status=500)
    emulator.add_fault(status=401, error_type="session_not_found")
    response = sdk(http, emulator, "otps/email/login_or_create", {"email": "a@b.io"})
    error(response, 500, "internal_server_error")
    assert "retry-after" not in response.headers
    error(backend(http, emulator, "sessions/revoke"), 401, "session_not_found")
    assert emulator.outbox() == []  # the faulted request never reached the handler


def test_fault_times_and_path_prefix(http, emulator) -> None:
    emulator.add_fault(path_prefix="/v1/", status=503, times=2)
    # Other paths, and the control API, are not touched and do not use it up.
    data(sdk(http, emulator, "otps/email/login_or_create", {"email": "a@b.io"}))
    assert len(emulator.outbox()) == 1
    statuses = [http.get(f"/v1/sessions/jwks/{emulator.project_id}").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    error_body = http.get(f"/v1/sessions/jwks/{emulator.project_id}")
    assert error_body.status_code == 200


def test_clear_faults(http, emulator) -> None:
    emulator.add_fault(status=500, times=10)
    emulator.clear_faults()
    assert http.get(f"/v1/sessions/jwks/{emulator.project_id}").status_code == 200


def test_fault_latency_delays_the_answer(http, emulator) -> None:
    emulator.add_fault(path_prefix="/v1/sessions/jwks", latency_ms=300)
    started = time.monotonic()
    assert http.get(f"/v1/sessions/jwks/{emulator.project_id}").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_latency_then_status(http, emulator) -> None:
    emulator.add_fault(latency_ms=200, status=503)
    started = time.monotonic()
    error(http.get(f"/v1/sessions/jwks/{emulator.project_id}"), 503, "service_unavailable")
    assert time.monotonic() - started >= 0.2


def test_dropped_connection_is_a_transport_error(http, emulator) -> None:
    emulator.add_fault(path_prefix="/sdk/v1/", drop=True, times=2)
    for _ in range(2):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            sdk(http, emulator, "otps/email/login_or_create", {"email": "a@b.io"})
    data(sdk(http, emulator, "otps/email/login_or_create", {"email": "a@b.io"}))
    # A fresh client that never reused a connection sees the same.
    emulator.add_fault(drop=True)
    with (
        loopback_client(emulator.api_url) as fresh,
        pytest.raises(httpx.TransportError),
    ):
        fresh.get(f"/v1/sessions/jwks/{emulator.project_id}")


@pytest.mark.parametrize(
    "fault",
    [
        {},
        {"status": 200},
        {"status": "500"},
        {"status": 500, "drop": True},
        {"latency_ms": -1},
        {"latency_ms": 10_000_000},
        {"drop": True, "times": 0},
        {"status": 429, "retry_after": -2},
        {"drop": "yes"},
    ],
)
def test_bad_fault_specs_are_refused(http, emulator, fault) -> None:
    error(http.post("/emulator/v1/faults", json=fault), 400, "bad_request")
    assert http.get(f"/v1/sessions/jwks/{emulator.project_id}").status_code == 200


# -- control API ---------------------------------------------------------------------------


def test_outbox_filters_by_email_oldest_first(http, emulator) -> None:
    for email in ("a@b.io", "c@d.io", "a@b.io"):
        data(sdk(http, emulator, "otps/email/login_or_create", {"email": email}))
    data(sdk(http, emulator, "magic_links/email/login_or_create", {"email": "a@b.io"}))
    everything = http.get("/emulator/v1/outbox").json()["messages"]
    assert [m["to"] for m in everything] == ["a@b.io", "c@d.io", "a@b.io", "a@b.io"]
    assert [m["kind"] for m in everything] == ["otp", "otp", "otp", "magic_link"]
    assert len({m["id"] for m in everything}) == 4
    for message in everything:
        assert set(message) == {"id", "to", "kind", "method_id", "code", "token", "url", "sent_at"}
        when(message["sent_at"])
    mine = http.get("/emulator/v1/outbox", params={"email": "A@B.io"}).json()["messages"]
    assert mine == [everything[0], everything[2], everything[3]]
    assert emulator.last_otp("a@b.io")[1] == everything[2]["code"]
    with pytest.raises(LookupError):
        emulator.last_magic_link("c@d.io")


def test_control_users(http, emulator) -> None:
    user_id = emulator.create_user(
        "a@b.io", name={"first_name": "Ada", "middle_name": "K", "last_name": "Lovelace"}
    )
    assert user_id.startswith("user-test-")
    with pytest.raises(EmulatorControlError) as raised:
        emulator.create_user("A@B.io")
    assert raised.value.error_type == "duplicate_email"
    error(http.post("/emulator/v1/users", json={"email": "nope"}), 400, "invalid_email")
    error(http.post("/emulator/v1/users", json={}), 400, "bad_request")
    response = http.post("/emulator/v1/users", json={"email": "x@b.io", "name": {"age": "3"}})
    error(response, 400, "bad_request")
    response = http.post("/emulator/v1/users", json={"email": "x@b.io", "password": ""})
    error(response, 400, "bad_request")
    # A user made here signs in with OTP too and keeps its name.
    user = otp_sign_in(http, emulator, "a@b.io")["user"]
    assert user["user_id"] == user_id
    assert user["name"] == {"first_name": "Ada", "middle_name": "K", "last_name": "Lovelace"}


def test_clock(http, emulator) -> None:
    before = emulator.advance_clock(0)
    after = emulator.advance_clock(3600)
    assert after - before >= timedelta(hours=1)
    assert after - before < timedelta(hours=1, minutes=1)
    error(http.post("/emulator/v1/clock", json={"advance_seconds": -1}), 400, "bad_request")
    error(http.post("/emulator/v1/clock", json={}), 400, "bad_request")
    error(http.post("/emulator/v1/clock", json={"advance_seconds": "1"}), 400, "bad_request")


def test_reset_forgets_everything(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator)
    emulator.create_user("p@b.io", password=PASSWORD)
    emulator.advance_clock(86400)
    emulator.add_fault(path_prefix="/v1/", status=500)
    emulator.reset()
    assert emulator.outbox() == []
    error(
        sdk(http, emulator, "sessions/authenticate", {}, signed_in["session_token"]),
        404,
        "session_not_found",
    )
    body = {"email": "p@b.io", "password": PASSWORD}
    error(sdk(http, emulator, "passwords/authenticate", body), 401, "unauthorized_credentials")
    assert http.get(f"/v1/sessions/jwks/{emulator.project_id}").status_code == 200
    assert abs(emulator.advance_clock(0) - datetime.now(emulator.advance_clock(0).tzinfo)) < (
        timedelta(minutes=1)
    )


def test_control_client_for_an_emulator_elsewhere(emulator) -> None:
    with EmulatorControl(emulator.api_url + "/", project_id=emulator.project_id) as control:
        assert control.api_url == emulator.api_url
        control.create_user("a@b.io", password=PASSWORD)
        control.add_fault(path_prefix="/sdk/v1/passwords", status=429, retry_after=1)
        with loopback_client(emulator.api_url) as http:
            body = {"email": "a@b.io", "password": PASSWORD}
            error(sdk(http, emulator, "passwords/authenticate", body), 429, "too_many_requests")
            signed_in = data(sdk(http, emulator, "passwords/authenticate", body))
        control.revoke_session(session_jwt=signed_in["session_jwt"])
        with pytest.raises(EmulatorControlError) as raised:
            control.revoke_session(session_jwt=signed_in["session_jwt"])
        assert raised.value.status_code == 404
    with (
        EmulatorControl(emulator.api_url, secret="wrong") as control,
        pytest.raises(EmulatorControlError) as raised,
    ):
        control.revoke_session(session_id="session-test-x")
    assert raised.value.error_type == "unauthorized_credentials"


# -- the Emulator object -------------------------------------------------------------------


def emulator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("stytch-emulator-")]


def test_stop_joins_the_thread_and_frees_the_port() -> None:
    emu = Emulator()
    with pytest.raises(RuntimeError):
        _ = emu.api_url
    with emu:
        port = emu.port
        assert port != 0 and emu.api_url == f"http://127.0.0.1:{port}"
        assert emu.running and len(emulator_threads()) == 1
        assert emu.secret not in repr(emu)
        with pytest.raises(RuntimeError):
            emu.start()
    assert not emu.running and emulator_threads() == []
    emu.stop()  # twice is fine
    with socket.create_server(("127.0.0.1", port)):
        pass
    with pytest.raises(httpx.ConnectError):
        loopback.get(f"http://127.0.0.1:{port}/emulator/v1/outbox")


def test_restart_serves_the_same_sessions_on_the_same_port() -> None:
    with Emulator() as emu, loopback_client(emu.api_url) as http:
        signed_in = otp_sign_in(http, emu)
        api_url = emu.api_url
        emu.stop()
        with pytest.raises(httpx.TransportError):
            sdk(http, emu, "sessions/authenticate", {}, signed_in["session_token"])
        emu.start()
        assert emu.api_url == api_url
        again = data(sdk(http, emu, "sessions/authenticate", {}, signed_in["session_token"]))
        assert again["session"]["session_id"] == signed_in["session"]["session_id"]


def test_a_busy_port_fails_at_start(emulator) -> None:
    with pytest.raises(OSError):
        Emulator(port=emulator.port).start()
    assert len(emulator_threads()) == 1


def test_custom_credentials(http) -> None:
    with (
        Emulator(
            project_id="project-test-custom", public_token="public-token-test-custom", secret="s3"
        ) as emu,
        loopback_client(emu.api_url) as client,
    ):
        signed_in = otp_sign_in(client, emu)
        assert jwt.decode(signed_in["session_jwt"], options={"verify_signature": False})["aud"] == [
            "project-test-custom"
        ]
        body = {"session_token": signed_in["session_token"]}
        assert backend(client, emu, "sessions/authenticate", body).status_code == 200
        response = client.post(
            "/sdk/v1/sessions/authenticate", json={}, auth=("public-token-test-00000000", "x")
        )
        error(response, 401, "invalid_public_token")


# -- the command line ----------------------------------------------------------------------


def read_api_url(process: subprocess.Popen[str]) -> tuple[str, list[str]]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Serving until Ctrl-C"):
            break
    api_url = next((ln.split()[1] for ln in lines if ln.strip().startswith("api_url")), None)
    assert api_url, f"no api_url in {lines}"
    return api_url, lines


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    "command",
    [
        [str(Path(sys.executable).parent / "stytch-jupyter"), "emulator", "--port", "0"],
        [sys.executable, "-m", "stytch_jupyter.emulator", "--port", "0", "--secret", "s3cret"],
    ],
    ids=["console-script", "python-m"],
)
def test_cli_prints_its_api_url_and_serves(command) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_proxy")}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A launcher that ignores SIGINT (a background job, some CI runners) passes that on to
        # its children; Ctrl-C is what this test sends, so the CLI gets the default handling.
        preexec_fn=_default_sigint,
    )
    try:
        api_url, lines = read_api_url(process)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", api_url)
        assert not api_url.endswith(":0")
        text = "\n".join(lines)
        assert f"export STYTCH_API_URL={api_url}" in text
        assert "export STYTCH_PUBLIC_TOKEN=public-token-test-" in text
        secret = "s3cret" if "s3cret" in command else "secret-test-emulator"
        assert f"secret        {secret}" in text
        with (
            EmulatorControl(api_url, secret=secret) as control,
            loopback_client(api_url) as client,
        ):
            public_token = re.search(r"public_token\s+(\S+)", text).group(1)  # type: ignore[union-attr]
            response = client.post(
                "/sdk/v1/otps/email/login_or_create",
                json={"email": "cli@b.io"},
                auth=(public_token, public_token),
            )
            assert response.status_code == 200
            method_id, code = control.last_otp("cli@b.io")
            assert response.json()["data"]["method_id"] == method_id
            assert code not in text
            # The code "sent" is printed on the terminal, one line.
            assert process.stdout.readline() == f"code for cli@b.io: {code}\n"  # type: ignore[union-attr]
        assert f"mailbox       {api_url}/" in text
        # Ctrl-C ends it cleanly.
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        assert process.stderr is not None
        stderr = process.stderr.read()
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()
    assert "Traceback" not in stderr
    with pytest.raises(httpx.ConnectError):
        loopback.get(f"{api_url}/emulator/v1/outbox")


def test_issued_lists_every_secret_minted_or_received(emulator) -> None:
    emulator.create_user("ivy@example.com", password="ivy password 1")
    basic = httpx.BasicAuth(emulator.public_token, emulator.public_token)
    url = f"{emulator.api_url}/sdk/v1"
    response = loopback.post(
        f"{url}/passwords/authenticate",
        json={
            "email": "ivy@example.com",
            "password": "ivy password 1",
            "session_duration_minutes": 5,
        },
        auth=basic,
    ).json()["data"]
    loopback.post(
        f"{url}/otps/email/login_or_create", json={"email": "ivy@example.com"}, auth=basic
    )
    _, code = emulator.last_otp("ivy@example.com")
    issued = emulator.issued()
    assert issued["session_tokens"] == [response["session_token"]]
    assert issued["session_jwts"] == [response["session_jwt"]]
    assert issued["passwords"] == ["ivy password 1", "ivy password 1"]  # created, then received
    assert issued["otp_codes"] == [code]
    emulator.reset()
    assert all(not values for values in emulator.issued().values())
