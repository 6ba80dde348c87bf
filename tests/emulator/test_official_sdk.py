"""Stytch's official Python library, pointed at the emulator, parses what it answers.

This is the proof that the emulator speaks real Stytch: the library's pydantic models reject a
missing required field, and its local JWT check runs PyJWT against the emulator's JWKS.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import stytch
from stytch.core.response_base import StytchError

from stytch_jupyter.emulator import Emulator
from tests.support.emulator_http import loopback_client

# The library's own aiohttp client is built (never used here) with a deprecated helper.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


@pytest.fixture
def client(emulator: Emulator) -> Iterator[stytch.Client]:
    yield stytch.Client(
        project_id=emulator.project_id,
        secret=emulator.secret,
        environment=f"{emulator.api_url}/",
    )


def sign_in(emulator: Emulator, email: str = "ada@example.com", minutes: int = 60) -> Any:
    """An OTP sign-in through the client API, as a frontend SDK would do it."""
    auth = (emulator.public_token, emulator.public_token)
    with loopback_client(emulator.api_url) as http:
        http.post("/sdk/v1/otps/email/login_or_create", json={"email": email}, auth=auth)
        method_id, code = emulator.last_otp(email)
        body = {"token": code, "method_id": method_id, "session_duration_minutes": minutes}
        response = http.post("/sdk/v1/otps/authenticate", json=body, auth=auth)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_sessions_authenticate_parses(client, emulator) -> None:
    signed_in = sign_in(emulator)
    response = client.sessions.authenticate(session_token=signed_in["session_token"])
    assert response.status_code == 200
    assert response.session.session_id == signed_in["session"]["session_id"]
    assert response.session.user_id == signed_in["user_id"]
    assert response.session.roles == ["stytch_user"]
    [factor] = response.session.authentication_factors
    assert factor.type.value == "otp" and factor.delivery_method.value == "email"
    assert factor.email_factor is not None
    assert factor.email_factor.email_address == "ada@example.com"
    assert response.session.attributes is not None
    assert response.session.attributes.ip_address == "127.0.0.1"
    assert response.user.emails[0].email == "ada@example.com"
    assert response.user.emails[0].verified is True
    assert response.user.status == "active"
    assert response.session_token == signed_in["session_token"]
    assert response.session_jwt and response.session_jwt != signed_in["session_jwt"]


def test_sessions_authenticate_with_a_duration_and_a_jwt(client, emulator) -> None:
    signed_in = sign_in(emulator)
    response = client.sessions.authenticate(
        session_jwt=signed_in["session_jwt"],
        session_duration_minutes=90,
        session_custom_claims={"team": "analytics"},
    )
    session = response.session
    assert session.expires_at is not None and session.last_accessed_at is not None
    assert session.expires_at - session.last_accessed_at == timedelta(minutes=90)
    assert session.custom_claims == {"team": "analytics"}


def test_authenticate_jwt_local_verifies_against_the_jwks(client, emulator) -> None:
    signed_in = sign_in(emulator)
    session = client.sessions.authenticate_jwt_local(session_jwt=signed_in["session_jwt"])
    assert session is not None
    assert session.session_id == signed_in["session"]["session_id"]
    assert session.user_id == signed_in["user_id"]
    assert session.roles == ["stytch_user"]
    assert session.authentication_factors[0].type.value == "otp"
    expected = signed_in["session"]["expires_at"].replace("Z", "+00:00")
    assert session.expires_at is not None and session.expires_at.isoformat() == expected

    # A token whose claims were changed after signing fails the local check.
    head, claims, signature = signed_in["session_jwt"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    payload["sub"] = "user-test-someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert client.sessions.authenticate_jwt_local(f"{head}.{forged}.{signature}") is None


def test_get_lists_live_sessions(client, emulator) -> None:
    first = sign_in(emulator)
    second = sign_in(emulator)
    response = client.sessions.get(user_id=first["user_id"])
    assert {s.session_id for s in response.sessions} == {
        first["session"]["session_id"],
        second["session"]["session_id"],
    }


def test_revoke_then_authenticate_fails_with_session_not_found(client, emulator) -> None:
    signed_in = sign_in(emulator)
    assert client.sessions.revoke(session_id=signed_in["session"]["session_id"]).status_code == 200
    with pytest.raises(StytchError) as raised:
        client.sessions.authenticate(session_token=signed_in["session_token"])
    assert raised.value.details.status_code == 404
    assert raised.value.details.error_type == "session_not_found"
    assert client.sessions.get(user_id=signed_in["user_id"]).sessions == []


def test_revoke_by_token_and_by_jwt(client, emulator) -> None:
    by_token, by_jwt = sign_in(emulator), sign_in(emulator)
    client.sessions.revoke(session_token=by_token["session_token"])
    client.sessions.revoke(session_jwt=by_jwt["session_jwt"])
    assert client.sessions.get(user_id=by_token["user_id"]).sessions == []


def test_get_jwks_parses(client, emulator) -> None:
    response = client.sessions.get_jwks(project_id=emulator.project_id)
    [key] = response.keys
    assert key.kid.startswith("jwk-test-") and key.alg == "RS256"


def test_a_wrong_secret_is_unauthorized(emulator) -> None:
    wrong = stytch.Client(
        project_id=emulator.project_id, secret="not-the-secret", environment=f"{emulator.api_url}/"
    )
    with pytest.raises(StytchError) as raised:
        wrong.sessions.get(user_id="user-test-x")
    assert raised.value.details.error_type == "unauthorized_credentials"
    assert raised.value.details.status_code == 401
