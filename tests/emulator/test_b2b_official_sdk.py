"""Stytch's official Python library's ``B2BClient``, pointed at a B2B emulator, parses what it
answers: its pydantic models reject a missing required field, and ``authenticate_jwt_local``
checks the B2B JWT against the B2B JWKS path with PyJWT."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stytch
from stytch.core.response_base import StytchError

from stytch_jupyter.emulator import Emulator
from tests.support.emulator_http import loopback_client

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

EMAIL = "ada@acme.test"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def client(b2b: Emulator) -> stytch.B2BClient:
    return stytch.B2BClient(b2b.project_id, b2b.secret, environment=f"{b2b.api_url}/")


def sign_in(b2b: Emulator, org: str = "acme", minutes: int = 60) -> dict[str, Any]:
    """A password sign-in through the client API, as a frontend SDK would do it."""
    body = {
        "organization_id": org,
        "email_address": EMAIL,
        "password": PASSWORD,
        "session_duration_minutes": minutes,
    }
    auth = (b2b.public_token, b2b.public_token)
    with loopback_client(b2b.api_url) as http:
        response = http.post("/sdk/v1/b2b/passwords/authenticate", json=body, auth=auth)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture
def acme(b2b: Emulator) -> dict[str, Any]:
    org = b2b.create_organization("Acme", "acme", email_allowed_domains=["acme.test"])
    b2b.create_member("acme", EMAIL, name="Ada", password=PASSWORD)
    return org


def test_sessions_authenticate_by_token_and_by_jwt(client, b2b, acme) -> None:
    signed_in = sign_in(b2b)
    by_token = client.sessions.authenticate(session_token=signed_in["session_token"])
    session = by_token.member_session
    assert session.member_session_id == signed_in["member_session"]["member_session_id"]
    assert session.organization_id == acme["organization_id"]
    assert session.organization_slug == "acme"
    assert session.roles == ["stytch_member"]
    [factor] = session.authentication_factors
    assert factor.type.value == "password" and factor.delivery_method.value == "knowledge"
    assert by_token.member.email_address == EMAIL and by_token.member.name == "Ada"
    assert by_token.organization.organization_slug == "acme"
    assert by_token.organization.email_allowed_domains == ["acme.test"]

    by_jwt = client.sessions.authenticate(
        session_jwt=signed_in["session_jwt"],
        session_duration_minutes=90,
        session_custom_claims={"team": "analytics"},
    )
    renewed = by_jwt.member_session
    assert renewed.expires_at - renewed.last_accessed_at == timedelta(minutes=90)
    assert renewed.custom_claims == {"team": "analytics"}


def test_authenticate_jwt_local_verifies_against_the_b2b_jwks(client, b2b, acme) -> None:
    signed_in = sign_in(b2b)
    session = client.sessions.authenticate_jwt_local(signed_in["session_jwt"])
    assert session is not None
    assert session.member_session_id == signed_in["member_session"]["member_session_id"]
    assert session.member_id == signed_in["member_id"]
    assert session.organization_id == acme["organization_id"]
    assert session.organization_slug == "acme"
    assert session.roles == ["stytch_member"]
    assert session.authentication_factors[0].type.value == "password"

    head, claims, signature = signed_in["session_jwt"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    payload["https://stytch.com/organization"]["slug"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert client.sessions.authenticate_jwt_local(f"{head}.{forged}.{signature}") is None

    jwks = client.sessions.get_jwks(project_id=b2b.project_id)
    assert [key.kid for key in jwks.keys] == [
        json.loads(base64.urlsafe_b64decode(head + "=="))["kid"]
    ]


def test_sessions_get_and_revoke(client, b2b, acme) -> None:
    first, second = sign_in(b2b), sign_in(b2b)
    member_id = first["member_id"]
    listed = client.sessions.get(organization_id=acme["organization_id"], member_id=member_id)
    assert {s.member_session_id for s in listed.member_sessions} == {
        first["member_session"]["member_session_id"],
        second["member_session"]["member_session_id"],
    }
    client.sessions.revoke(member_session_id=first["member_session"]["member_session_id"])
    with pytest.raises(StytchError) as raised:
        client.sessions.authenticate(session_token=first["session_token"])
    assert raised.value.details.status_code == 404
    assert raised.value.details.error_type == "session_not_found"
    client.sessions.revoke(member_id=member_id)
    listed = client.sessions.get(organization_id=acme["organization_id"], member_id=member_id)
    assert listed.member_sessions == []


def test_sessions_exchange(client, b2b, acme) -> None:
    globex = b2b.create_organization("Globex", "globex", email_allowed_domains=["acme.test"])
    signed_in = sign_in(b2b)
    switched = client.sessions.exchange(
        organization_id=globex["organization_id"], session_token=signed_in["session_token"]
    )
    assert switched.member_authenticated is True
    assert switched.member_session is not None
    assert switched.member_session.organization_id == globex["organization_id"]
    assert switched.organization.organization_slug == "globex"


def test_magic_links_login_or_signup_then_authenticate(client, b2b, acme) -> None:
    sent = client.magic_links.email.login_or_signup(
        organization_id=acme["organization_id"], email_address="grace@acme.test"
    )
    assert sent.member_created is True
    assert sent.member.email_address == "grace@acme.test" and sent.member.status == "pending"
    assert sent.organization.organization_id == acme["organization_id"]
    token = parse_qs(urlsplit(b2b.last_magic_link("grace@acme.test")).query)["token"][0]
    reply = client.magic_links.authenticate(magic_links_token=token, session_duration_minutes=30)
    assert reply.member_authenticated is True
    assert reply.member_session is not None
    assert reply.member.status == "active" and reply.member.email_address_verified is True
    assert reply.intermediate_session_token == ""
    assert client.sessions.authenticate(session_jwt=reply.session_jwt).member.member_id == (
        sent.member_id
    )


def test_magic_links_with_mfa_required_give_an_intermediate_session(client, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, totp=True)
    client.magic_links.email.login_or_signup(organization_id="vault", email_address=EMAIL)
    token = parse_qs(urlsplit(b2b.last_magic_link(EMAIL)).query)["token"][0]
    reply = client.magic_links.authenticate(magic_links_token=token)
    assert reply.member_authenticated is False and reply.member_session is None
    assert reply.intermediate_session_token
    assert reply.intermediate_session_token_expires_at is not None
    assert reply.mfa_required is not None and reply.mfa_required.member_options is not None
    assert reply.mfa_required.member_options.totp_registration_id
    done = client.totps.authenticate(
        organization_id=reply.organization.organization_id,
        member_id=member["member_id"],
        code=b2b.totp_code("vault", member["member_id"]),
        intermediate_session_token=reply.intermediate_session_token,
    )
    assert done.member_session is not None


def test_discovery_send_authenticate_list_exchange_and_create(client, b2b, acme) -> None:
    client.magic_links.email.discovery.send(email_address=EMAIL)
    token = parse_qs(urlsplit(b2b.last_magic_link(EMAIL)).query)["token"][0]
    found = client.magic_links.discovery.authenticate(discovery_magic_links_token=token)
    assert found.email_address == EMAIL
    [entry] = found.discovered_organizations
    assert entry.organization is not None
    assert entry.organization.organization_slug == "acme"
    assert entry.membership is not None and entry.membership.type == "active_member"

    listed = client.discovery.organizations.list(
        intermediate_session_token=found.intermediate_session_token
    )
    assert [
        d.organization.organization_id for d in listed.discovered_organizations if d.organization
    ] == [acme["organization_id"]]
    exchanged = client.discovery.intermediate_sessions.exchange(
        intermediate_session_token=found.intermediate_session_token,
        organization_id=acme["organization_id"],
    )
    assert exchanged.member_authenticated is True and exchanged.member_session is not None

    # Listing by session works too (the organizations a signed-in member could switch to).
    by_session = client.discovery.organizations.list(session_token=exchanged.session_token)
    assert by_session.email_address == EMAIL

    client.magic_links.email.discovery.send(email_address=EMAIL)
    token = parse_qs(urlsplit(b2b.last_magic_link(EMAIL)).query)["token"][0]
    again = client.magic_links.discovery.authenticate(discovery_magic_links_token=token)
    created = client.discovery.organizations.create(
        intermediate_session_token=again.intermediate_session_token,
        organization_name="Ada's Lab",
        organization_slug="ada-lab",
    )
    assert created.organization.organization_slug == "ada-lab"
    assert created.member_session is not None


def test_organizations_and_members_get_and_delete(client, b2b, acme) -> None:
    org = client.organizations.get(organization_id=acme["organization_id"])
    assert org.organization.organization_name == "Acme"
    found = client.organizations.members.get(
        organization_id=acme["organization_id"], email_address=EMAIL
    )
    signed_in = sign_in(b2b)
    deleted = client.organizations.members.delete(
        organization_id=acme["organization_id"], member_id=found.member_id
    )
    assert deleted.member_id == found.member_id
    with pytest.raises(StytchError) as raised:
        client.sessions.authenticate(session_token=signed_in["session_token"])
    assert raised.value.details.error_type == "session_not_found"


def test_a_wrong_secret_is_unauthorized(b2b, acme) -> None:
    wrong = stytch.B2BClient(b2b.project_id, "not-the-secret", environment=f"{b2b.api_url}/")
    with pytest.raises(StytchError) as raised:
        wrong.organizations.get(organization_id=acme["organization_id"])
    assert raised.value.details.error_type == "unauthorized_credentials"


def test_password_otp_sso_and_oauth_authenticate_parse(client, b2b, acme) -> None:
    by_password = client.passwords.authenticate(
        organization_id=acme["organization_id"], email_address=EMAIL, password=PASSWORD
    )
    assert by_password.member_session is not None and by_password.member_authenticated

    sent = client.otps.email.login_or_signup(
        organization_id=acme["organization_id"], email_address=EMAIL
    )
    assert sent.member_created is False and sent.member_id == by_password.member_id
    _, code = b2b.last_otp(EMAIL)
    by_code = client.otps.email.authenticate(
        organization_id=acme["organization_id"], email_address=EMAIL, code=code
    )
    assert by_code.member_session is not None
    assert by_code.member_session.authentication_factors[0].type.value == "otp"

    connection_id = b2b.control.add_sso_connection("acme", "Acme Okta", "saml")
    start = (
        f"{b2b.api_url}/v1/public/sso/start?public_token={b2b.public_token}"
        f"&connection_id={connection_id}"
    )
    token = parse_qs(urlsplit(b2b.complete_idp(start, EMAIL)).query)["token"][0]
    by_sso = client.sso.authenticate(sso_token=token)
    assert by_sso.member_session is not None and by_sso.reset_session is False
    assert by_sso.member.sso_registrations[0].connection_id == connection_id

    start = (
        f"{b2b.api_url}/v1/b2b/public/oauth/google/start?public_token={b2b.public_token}&slug=acme"
    )
    token = parse_qs(urlsplit(b2b.complete_idp(start, EMAIL)).query)["token"][0]
    by_oauth = client.oauth.authenticate(oauth_token=token)
    assert by_oauth.member_session is not None and by_oauth.provider_type == "Google"
