"""A B2B project in the emulator, end to end over loopback HTTP through the client API
(``/sdk/v1/b2b``), as a frontend SDK calls it: discovery, MFA, SSO, switching organizations,
removed members and intermediate-session expiry."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stytch_jupyter.emulator import DEFAULT_PUBLIC_TOKEN, Emulator, EmulatorControlError
from tests.support.emulator_http import loopback_client

SESSION_CLAIM = "https://stytch.com/session"
ORG_CLAIM = "https://stytch.com/organization"
EMAIL = "ada@acme.test"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def http(b2b: Emulator) -> Iterator[httpx.Client]:
    with loopback_client(b2b.api_url, timeout=10) as client:
        yield client


def sdk(
    http: httpx.Client,
    emu: Emulator,
    path: str,
    body: dict[str, Any] | None = None,
    session: str | None = None,
    method: str = "POST",
) -> httpx.Response:
    auth = (emu.public_token, session or emu.public_token)
    if method == "GET":
        return http.get(f"/sdk/v1/b2b/{path}", auth=auth)
    return http.post(f"/sdk/v1/b2b/{path}", json=body or {}, auth=auth)


def data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"}
    assert body["data"]["status_code"] == 200
    result: dict[str, Any] = body["data"]
    return result


def error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error_type"] == error_type, body
    assert "data" not in body
    return body


def token_of(url: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(url).query)
    return query["stytch_token_type"][0], query["token"][0]


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return claims


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_hex(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def discover(http: httpx.Client, emu: Emulator, email: str = EMAIL) -> dict[str, Any]:
    """Discovery by magic link, through to the DISC response."""
    data(sdk(http, emu, "magic_links/email/discovery/send", {"email_address": email}))
    kind, token = token_of(emu.last_magic_link(email))
    assert kind == "discovery"
    return data(
        sdk(http, emu, "magic_links/discovery/authenticate", {"discovery_magic_links_token": token})
    )


def assert_signed_in(reply: dict[str, Any], organization_id: str) -> None:
    assert reply["member_authenticated"] is True
    assert reply["intermediate_session_token"] == ""
    assert reply["mfa_required"] is None and reply["primary_required"] is None
    assert reply["member_session"]["organization_id"] == organization_id
    assert reply["session_token"] and reply["session_jwt"]


def assert_needs_more(reply: dict[str, Any]) -> None:
    assert reply["member_authenticated"] is False
    assert reply["member_session"] is None
    assert reply["session_token"] == "" and reply["session_jwt"] == ""
    assert reply["intermediate_session_token"]


# -- discovery -----------------------------------------------------------------------------


def test_discovery_magic_link_lists_organizations_then_exchange_gives_a_session(b2b, http):
    acme = b2b.create_organization("Acme", "acme")
    globex = b2b.create_organization("Globex", "globex", email_allowed_domains=["acme.test"])
    b2b.create_organization("Initech", "initech")  # no membership, no JIT: not discovered
    b2b.create_member("acme", EMAIL, name="Ada")

    found = discover(http, b2b)
    assert found["email_address"] == EMAIL
    ist = found["intermediate_session_token"]
    assert ist
    listed = {d["organization"]["organization_slug"]: d for d in found["discovered_organizations"]}
    assert set(listed) == {"acme", "globex"}
    assert listed["acme"]["membership"]["type"] == "active_member"
    assert listed["acme"]["membership"]["member"]["email_address"] == EMAIL
    assert listed["acme"]["member_authenticated"] is True
    assert listed["globex"]["membership"]["type"] == "eligible_to_join_by_email_domain"
    assert listed["globex"]["membership"]["details"] == {"domain": "acme.test"}

    # Listing again with the IST (the SDK's discovery.organizations.list) does not spend it.
    again = data(sdk(http, b2b, "discovery/organizations", {"intermediate_session_token": ist}))
    assert {d["organization"]["organization_id"] for d in again["discovered_organizations"]} == {
        acme["organization_id"],
        globex["organization_id"],
    }

    body = {
        "intermediate_session_token": ist,
        "organization_id": acme["organization_id"],
        "session_duration_minutes": 60,
    }
    reply = data(sdk(http, b2b, "discovery/intermediate_sessions/exchange", body))
    assert_signed_in(reply, acme["organization_id"])
    assert reply["member"]["email_address"] == EMAIL
    assert reply["organization"]["organization_slug"] == "acme"
    [factor] = reply["member_session"]["authentication_factors"]
    assert (factor["type"], factor["delivery_method"]) == ("magic_link", "email")
    assert factor["email_factor"]["email_address"] == EMAIL

    # The IST is spent: a second exchange fails.
    error(
        sdk(http, b2b, "discovery/intermediate_sessions/exchange", body),
        404,
        "intermediate_session_not_found",
    )

    # The member session works, and names its organization in the JWT.
    authed = data(sdk(http, b2b, "sessions/authenticate", session=reply["session_token"]))
    assert (
        authed["member_session"]["member_session_id"]
        == (reply["member_session"]["member_session_id"])
    )
    claims = jwt_claims(authed["session_jwt"])
    assert claims["sub"] == reply["member_id"]
    assert claims[ORG_CLAIM] == {"organization_id": acme["organization_id"], "slug": "acme"}
    assert claims[SESSION_CLAIM]["id"] == reply["member_session"]["member_session_id"]
    me = data(
        sdk(http, b2b, "organizations/members/me", session=authed["session_jwt"], method="GET")
    )
    assert me["member"]["member_id"] == reply["member_id"]


def test_discovery_exchange_into_a_jit_organization_creates_the_member(b2b, http):
    globex = b2b.create_organization("Globex", "globex", email_allowed_domains=["acme.test"])
    ist = discover(http, b2b)["intermediate_session_token"]
    reply = data(
        sdk(
            http,
            b2b,
            "discovery/intermediate_sessions/exchange",
            {"intermediate_session_token": ist, "organization_id": globex["organization_id"]},
        )
    )
    assert_signed_in(reply, globex["organization_id"])
    assert reply["member"]["status"] == "active"
    [entry] = b2b.control.organizations()
    assert [m["email_address"] for m in entry["members"]] == [EMAIL]


def test_discovery_exchange_into_a_stranger_organization_is_refused(b2b, http):
    initech = b2b.create_organization("Initech", "initech")
    ist = discover(http, b2b)["intermediate_session_token"]
    body = {"intermediate_session_token": ist, "organization_id": initech["organization_id"]}
    error(
        sdk(http, b2b, "discovery/intermediate_sessions/exchange", body),
        403,
        "email_jit_provisioning_not_allowed",
    )


def test_discovery_by_email_otp_and_by_password_and_organization_create(b2b, http):
    b2b.create_member(
        b2b.create_organization("Acme", "acme")["organization_id"], EMAIL, password=PASSWORD
    )
    data(sdk(http, b2b, "otps/email/discovery/send", {"email_address": EMAIL}))
    _, code = b2b.last_otp(EMAIL)
    by_code = data(
        sdk(http, b2b, "otps/email/discovery/authenticate", {"email_address": EMAIL, "code": code})
    )
    assert [
        d["organization"]["organization_slug"] for d in by_code["discovered_organizations"]
    ] == ["acme"]
    wrong = {"email_address": EMAIL, "password": "not it"}
    error(
        sdk(http, b2b, "passwords/discovery/authenticate", wrong), 401, "unauthorized_credentials"
    )
    right = {"email_address": EMAIL, "password": PASSWORD}
    by_password = data(sdk(http, b2b, "passwords/discovery/authenticate", right))

    created = data(
        sdk(
            http,
            b2b,
            "discovery/organizations/create",
            {
                "intermediate_session_token": by_password["intermediate_session_token"],
                "organization_name": "Ada's Lab",
                "organization_slug": "ada-lab",
                "session_duration_minutes": 30,
            },
        )
    )
    assert_signed_in(created, created["organization"]["organization_id"])
    assert created["organization"]["organization_slug"] == "ada-lab"
    assert created["member"]["is_admin"] is True
    factor = created["member_session"]["authentication_factors"][0]
    assert (factor["type"], factor["delivery_method"]) == ("password", "knowledge")


# -- organization sign-in ------------------------------------------------------------------


def test_magic_link_login_or_signup_with_pkce(b2b, http):
    org = b2b.create_organization("Acme", "acme", email_allowed_domains=["acme.test"])
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:8765/stytch-jupyter/callback"
    body = {
        "email_address": EMAIL,
        "organization_id": org["organization_id"],
        "login_redirect_url": redirect,
        "pkce_code_challenge": challenge,
    }
    assert set(data(sdk(http, b2b, "magic_links/email/login_or_signup", body))) == {
        "status_code",
        "request_id",
    }
    url = b2b.last_magic_link(EMAIL)
    assert url.startswith(redirect + "?")
    kind, token = token_of(url)
    assert kind == "multi_tenant_magic_links"
    error(
        sdk(http, b2b, "magic_links/authenticate", {"magic_links_token": token}),
        400,
        "pkce_expected_code_verifier",
    )
    reply = data(
        sdk(
            http,
            b2b,
            "magic_links/authenticate",
            {"magic_links_token": token, "pkce_code_verifier": verifier},
        )
    )
    assert_signed_in(reply, org["organization_id"])
    assert reply["reset_sessions"] is False and reply["method_id"]
    error(
        sdk(
            http,
            b2b,
            "magic_links/authenticate",
            {"magic_links_token": token, "pkce_code_verifier": verifier},
        ),
        401,
        "unable_to_auth_magic_link",
    )


def test_email_otp_and_password_sign_in(b2b, http):
    org = b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL, password=PASSWORD)
    body = {"organization_id": "acme", "email_address": EMAIL}
    data(sdk(http, b2b, "otps/email/login_or_signup", body))
    _, code = b2b.last_otp(EMAIL)
    error(
        sdk(
            http,
            b2b,
            "otps/email/authenticate",
            {**body, "code": "000000" if code != "000000" else "111111"},
        ),
        404,
        "otp_code_not_found",
    )
    reply = data(sdk(http, b2b, "otps/email/authenticate", {**body, "code": code}))
    assert_signed_in(reply, org["organization_id"])
    assert reply["member_session"]["authentication_factors"][0]["type"] == "otp"

    by_password = data(sdk(http, b2b, "passwords/authenticate", {**body, "password": PASSWORD}))
    assert_signed_in(by_password, org["organization_id"])


def test_a_restricted_organization_asks_for_an_allowed_primary_factor(b2b, http):
    org = b2b.create_organization("Acme", "acme", allowed_auth_methods=["email_otp"])
    b2b.create_member("acme", EMAIL, password=PASSWORD)
    by_password = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    assert_needs_more(by_password)
    assert by_password["primary_required"] == {"allowed_auth_methods": ["email_otp"]}
    data(
        sdk(
            http,
            b2b,
            "otps/email/login_or_signup",
            {"organization_id": "acme", "email_address": EMAIL},
        )
    )
    _, code = b2b.last_otp(EMAIL)
    reply = data(
        sdk(
            http,
            b2b,
            "otps/email/authenticate",
            {
                "organization_id": "acme",
                "email_address": EMAIL,
                "code": code,
                "intermediate_session_token": by_password["intermediate_session_token"],
            },
        )
    )
    assert_signed_in(reply, org["organization_id"])
    kinds = {f["type"] for f in reply["member_session"]["authentication_factors"]}
    assert kinds == {"password", "otp"}


# -- MFA -----------------------------------------------------------------------------------


def test_mfa_required_organization_with_totp_enrolment(b2b, http):
    org = b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL)
    ist = discover(http, b2b)["intermediate_session_token"]
    listed = data(sdk(http, b2b, "discovery/organizations", {"intermediate_session_token": ist}))
    [entry] = listed["discovered_organizations"]
    assert entry["member_authenticated"] is False and entry["mfa_required"] is not None

    exchanged = data(
        sdk(
            http,
            b2b,
            "discovery/intermediate_sessions/exchange",
            {"intermediate_session_token": ist, "organization_id": org["organization_id"]},
        )
    )
    assert_needs_more(exchanged)
    assert exchanged["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}
    mfa_ist = exchanged["intermediate_session_token"]
    assert mfa_ist != ist

    ids = {"organization_id": org["organization_id"], "member_id": member["member_id"]}
    error(sdk(http, b2b, "totp", ids), 401, "unauthorized_credentials")
    created = data(sdk(http, b2b, "totp", {**ids, "intermediate_session_token": mfa_ist}))
    assert created["secret"] and len(created["recovery_codes"]) == 10
    code = b2b.totp_code("vault", member["member_id"])
    wrong = "000000" if code != "000000" else "111111"
    error(
        sdk(
            http,
            b2b,
            "totp/authenticate",
            {**ids, "code": wrong, "intermediate_session_token": mfa_ist},
        ),
        401,
        "unable_to_auth_totp_code",
    )
    reply = data(
        sdk(
            http,
            b2b,
            "totp/authenticate",
            {
                **ids,
                "code": code,
                "intermediate_session_token": mfa_ist,
                "set_mfa_enrollment": "enroll",
            },
        )
    )
    assert reply["member_session"]["organization_id"] == org["organization_id"]
    kinds = {
        (f["type"], f["delivery_method"]) for f in reply["member_session"]["authentication_factors"]
    }
    assert kinds == {("magic_link", "email"), ("totp", "authenticator_app")}
    assert reply["member"]["mfa_enrolled"] is True
    assert reply["member"]["totp_registration_id"] == created["totp_registration_id"]

    # The MFA IST is spent with the session it bought.
    again = {**ids, "code": code, "intermediate_session_token": mfa_ist}
    error(sdk(http, b2b, "totp/authenticate", again), 404, "intermediate_session_not_found")


def test_mfa_by_sms_is_sent_by_itself_for_a_member_with_a_phone(b2b, http):
    org = b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, password=PASSWORD, mfa_phone_number="+15555550100")
    first = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "vault", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    assert_needs_more(first)
    assert first["mfa_required"] == {
        "member_options": {"mfa_phone_number": "+15555550100", "totp_registration_id": ""},
        "secondary_auth_initiated": "sms_otp",
    }
    code = b2b.last_sms_code("+15555550100")
    ids = {"organization_id": org["organization_id"], "member_id": member["member_id"]}
    # A resend replaces nothing: both codes work until used; the newest one is used here.
    data(
        sdk(
            http,
            b2b,
            "otps/sms/send",
            {**ids, "intermediate_session_token": first["intermediate_session_token"]},
        )
    )
    newer = b2b.last_sms_code("+15555550100")
    reply = data(
        sdk(
            http,
            b2b,
            "otps/sms/authenticate",
            {
                **ids,
                "code": newer,
                "intermediate_session_token": first["intermediate_session_token"],
            },
        )
    )
    factors = reply["member_session"]["authentication_factors"]
    assert {(f["type"], f["delivery_method"]) for f in factors} == {
        ("password", "knowledge"),
        ("otp", "sms"),
    }
    sms = next(f for f in factors if f["delivery_method"] == "sms")
    assert sms["phone_number_factor"]["phone_number"] == "+15555550100"
    assert code  # the auto-sent code existed


def test_recovery_code_completes_mfa_once(b2b, http):
    org = b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, password=PASSWORD, totp=True)
    [first_code, *_] = member["recovery_codes"]
    ids = {"organization_id": org["organization_id"], "member_id": member["member_id"]}

    def sign_in() -> str:
        reply = data(
            sdk(
                http,
                b2b,
                "passwords/authenticate",
                {"organization_id": "vault", "email_address": EMAIL, "password": PASSWORD},
            )
        )
        assert reply["mfa_required"]["member_options"]["totp_registration_id"]
        return str(reply["intermediate_session_token"])

    recover = {**ids, "recovery_code": first_code, "intermediate_session_token": sign_in()}
    reply = data(sdk(http, b2b, "recovery_codes/recover", recover))
    assert reply["recovery_codes_remaining"] == 9
    assert reply["member_session"]["authentication_factors"][-1]["type"] == "recovery_codes"
    recover["intermediate_session_token"] = sign_in()
    error(sdk(http, b2b, "recovery_codes/recover", recover), 401, "unable_to_auth_recovery_code")


# -- SSO through the emulator's identity provider ------------------------------------------


def test_sso_start_consent_redirect_and_authenticate_with_pkce(b2b, http):
    org = b2b.create_organization(
        "Acme", "acme", sso_connections=[{"display_name": "Acme Okta", "kind": "saml"}]
    )
    [connection] = org["sso_active_connections"]
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:8765/stytch-jupyter/callback"
    start = (
        f"/v1/public/sso/start?public_token={b2b.public_token}"
        f"&connection_id={connection['connection_id']}&pkce_code_challenge={challenge}"
        f"&login_redirect_url={redirect}&signup_redirect_url={redirect}"
    )
    started = http.get(start)
    assert started.status_code == 302
    consent = started.headers["location"]
    page = http.get(consent)
    assert page.status_code == 200 and "Acme Okta" in page.text and "<form" in page.text

    answered = http.post(consent, data={"email": EMAIL, "decision": "approve"})
    assert answered.status_code == 303
    back = answered.headers["location"]
    assert back.startswith(redirect + "?")
    kind, token = token_of(back)
    assert kind == "sso"
    # The consent page answers once.
    again = http.post(consent, data={"email": EMAIL, "decision": "approve"})
    error(again, 404, "idp_flow_not_found")

    error(
        sdk(http, b2b, "sso/authenticate", {"sso_token": token, "pkce_code_verifier": "x" * 64}),
        400,
        "pkce_mismatch",
    )
    # A failed PKCE check does not spend the token... the real verifier still works.
    reply = data(
        sdk(http, b2b, "sso/authenticate", {"sso_token": token, "pkce_code_verifier": verifier})
    )
    assert_signed_in(reply, org["organization_id"])
    assert reply["reset_session"] is False
    [factor] = reply["member_session"]["authentication_factors"]
    assert (factor["type"], factor["delivery_method"]) == ("sso", "sso_saml")
    assert factor["saml_sso_factor"]["provider_id"] == connection["connection_id"]
    assert reply["member"]["sso_registrations"][0]["connection_id"] == connection["connection_id"]
    error(
        sdk(http, b2b, "sso/authenticate", {"sso_token": token, "pkce_code_verifier": verifier}),
        401,
        "unable_to_auth_sso_or_oauth_token",
    )


@pytest.mark.parametrize("prefix", ["/v1/b2b/public", "/b2b/public"])
def test_sso_start_by_slug_on_both_path_forms_through_the_control_helper(b2b, http, prefix):
    org = b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "oidc"}])
    start = (
        f"{b2b.api_url}{prefix}/sso/start?public_token={b2b.public_token}&organization_slug=acme"
    )
    back = b2b.complete_idp(start, EMAIL)
    kind, token = token_of(back)
    assert kind == "sso"
    assert urlsplit(back).path.endswith("/emulator/v1/magic-link")  # the default landing page
    reply = data(sdk(http, b2b, "sso/authenticate", {"sso_token": token}))
    assert reply["member_session"]["authentication_factors"][0]["delivery_method"] == "sso_oidc"
    assert reply["organization"]["organization_id"] == org["organization_id"]


def test_sso_denied_redirects_without_a_token_and_bad_starts_fail(b2b, http):
    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
    start = (
        f"{b2b.api_url}/v1/public/sso/start?public_token={b2b.public_token}&organization_slug=acme"
    )
    back = b2b.complete_idp(start, EMAIL, approve=False)
    query = parse_qs(urlsplit(back).query)
    assert query["error_type"] == ["sso_user_denied_access"] and "token" not in query
    error(
        http.get("/v1/public/sso/start?public_token=wrong&organization_slug=acme"),
        401,
        "invalid_public_token",
    )
    error(
        http.get(f"/v1/public/sso/start?public_token={b2b.public_token}&connection_id=nope"),
        404,
        "sso_connection_not_found",
    )
    error(
        http.get(
            f"/v1/public/sso/start?public_token={b2b.public_token}&organization_slug=acme"
            "&login_redirect_url=javascript:alert(1)"
        ),
        400,
        "no_match_for_provided_sso_url",
    )


def test_b2b_oauth_and_oauth_discovery_through_the_identity_provider(b2b, http):
    org = b2b.create_organization("Acme", "acme", email_allowed_domains=["acme.test"])
    start = (
        f"{b2b.api_url}/v1/b2b/public/oauth/google/start?public_token={b2b.public_token}&slug=acme"
    )
    kind, token = token_of(b2b.complete_idp(start, EMAIL, name="Ada Lovelace"))
    assert kind == "oauth"
    reply = data(sdk(http, b2b, "oauth/authenticate", {"oauth_token": token}))
    assert_signed_in(reply, org["organization_id"])
    assert reply["provider_type"] == "Google" and reply["provider_subject"]
    assert reply["member_session"]["authentication_factors"][0]["delivery_method"] == "oauth_google"

    start = f"{b2b.api_url}/b2b/public/oauth/google/discovery/start?public_token={b2b.public_token}"
    kind, token = token_of(b2b.complete_idp(start, EMAIL, name="Ada Lovelace"))
    assert kind == "discovery_oauth"
    found = data(sdk(http, b2b, "oauth/discovery/authenticate", {"discovery_oauth_token": token}))
    assert found["full_name"] == "Ada Lovelace" and found["intermediate_session_token"]
    assert [d["organization"]["organization_slug"] for d in found["discovered_organizations"]] == [
        "acme"
    ]


# -- switching organizations, removal, expiry ----------------------------------------------


def test_session_exchange_between_two_organizations(b2b, http):
    acme = b2b.create_organization("Acme", "acme")
    vault = b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    globex = b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL)
    vault_member = b2b.create_member("vault", EMAIL, totp=True)
    ist = discover(http, b2b)["intermediate_session_token"]
    signed_in = data(
        sdk(
            http,
            b2b,
            "discovery/intermediate_sessions/exchange",
            {"intermediate_session_token": ist, "organization_id": acme["organization_id"]},
        )
    )
    token = signed_in["session_token"]

    switched = data(
        sdk(http, b2b, "sessions/exchange", {"organization_id": "globex"}, session=token)
    )
    assert_signed_in(switched, globex["organization_id"])
    assert switched["member_id"] != signed_in["member_id"]
    assert jwt_claims(switched["session_jwt"])[ORG_CLAIM]["slug"] == "globex"
    # The session it came from is still live (UNVERIFIED on Stytch, named in b2b_state).
    data(sdk(http, b2b, "sessions/authenticate", session=token))

    # Into an MFA organization: an IST, then the MFA step gives the session.
    to_vault = data(
        sdk(
            http,
            b2b,
            "sessions/exchange",
            {"organization_id": vault["organization_id"]},
            session=switched["session_token"],
        )
    )
    assert_needs_more(to_vault)
    code = b2b.totp_code("vault", vault_member["member_id"])
    done = data(
        sdk(
            http,
            b2b,
            "totp/authenticate",
            {
                "organization_id": vault["organization_id"],
                "member_id": vault_member["member_id"],
                "code": code,
                "intermediate_session_token": to_vault["intermediate_session_token"],
            },
        )
    )
    assert done["member_session"]["organization_id"] == vault["organization_id"]

    error(
        sdk(http, b2b, "sessions/exchange", {"organization_id": "nowhere"}, session=token),
        404,
        "organization_not_found",
    )


def test_a_member_removed_server_side_loses_its_session(b2b, http):
    b2b.create_organization("Acme", "acme")
    member = b2b.create_member("acme", EMAIL, password=PASSWORD)
    reply = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    data(sdk(http, b2b, "sessions/authenticate", session=reply["session_token"]))
    b2b.delete_member("acme", member["member_id"])
    error(
        sdk(http, b2b, "sessions/authenticate", session=reply["session_token"]),
        404,
        "session_not_found",
    )
    error(
        sdk(http, b2b, "sessions/authenticate", session=reply["session_jwt"]),
        404,
        "session_not_found",
    )
    error(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        ),
        401,
        "unauthorized_credentials",
    )


def test_intermediate_session_expires_after_ten_minutes_on_the_emulator_clock(b2b, http):
    acme = b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    found = discover(http, b2b)
    ist = found["intermediate_session_token"]
    body = {"intermediate_session_token": ist, "organization_id": acme["organization_id"]}
    b2b.advance_clock(9 * 60 + 50)
    data(sdk(http, b2b, "discovery/organizations", {"intermediate_session_token": ist}))
    b2b.advance_clock(11)
    error(
        sdk(http, b2b, "discovery/organizations", {"intermediate_session_token": ist}),
        404,
        "intermediate_session_not_found",
    )
    error(
        sdk(http, b2b, "discovery/intermediate_sessions/exchange", body),
        404,
        "intermediate_session_not_found",
    )


def test_sessions_revoke_and_bad_credentials(b2b, http):
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL, password=PASSWORD)
    reply = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    assert set(data(sdk(http, b2b, "sessions/revoke", session=reply["session_token"]))) == {
        "status_code",
        "request_id",
    }
    error(
        sdk(http, b2b, "sessions/authenticate", session=reply["session_token"]),
        404,
        "session_not_found",
    )
    error(sdk(http, b2b, "sessions/authenticate"), 404, "session_not_found")
    bad = http.post(
        "/sdk/v1/b2b/sessions/authenticate", json={}, auth=("public-token-test-wrong", "x")
    )
    error(bad, 401, "invalid_public_token")
    error(
        sdk(http, b2b, "discovery/organizations", {"intermediate_session_token": 7}),
        400,
        "bad_request",
    )


# -- the control API and the vertical -------------------------------------------------------


def test_control_api_rejects_bad_organizations_and_members(b2b):
    b2b.create_organization("Acme", "acme")
    with pytest.raises(EmulatorControlError) as raised:
        b2b.create_organization("Acme again", "acme")
    assert raised.value.error_type == "organization_slug_already_used"
    with pytest.raises(EmulatorControlError) as raised:
        b2b.create_organization("Bad", "Not A Slug")
    assert raised.value.error_type == "invalid_organization_slug"
    with pytest.raises(EmulatorControlError) as raised:
        b2b.create_organization("Bad", "bad", mfa_policy="SOMETIMES")
    assert raised.value.status_code == 400 and "mfa_policy" in raised.value.error_message
    with pytest.raises(EmulatorControlError) as raised:
        b2b.create_member("acme", EMAIL, mfa_phone_number="5555")
    assert "E.164" in raised.value.error_message
    with pytest.raises(EmulatorControlError) as raised:
        b2b.create_member("nowhere", EMAIL)
    assert raised.value.error_type == "organization_not_found"
    b2b.create_member("acme", EMAIL)
    with pytest.raises(EmulatorControlError) as raised:
        b2b.create_member("acme", EMAIL.upper())
    assert raised.value.error_type == "duplicate_member_email"


def test_reset_forgets_the_b2b_project(b2b, http):
    b2b.create_organization("Acme", "acme")
    b2b.reset()
    assert b2b.control.organizations() == []


def test_a_consumer_project_refuses_b2b_paths_in_one_line():
    with Emulator() as consumer, loopback_client(consumer.api_url) as http:
        reply = http.post("/sdk/v1/b2b/sessions/authenticate", auth=(consumer.public_token, "x"))
        body = error(reply, 404, "not_a_b2b_project")
        assert "--b2b" in body["error_message"]
        error(http.get("/v1/b2b/sessions/jwks/x"), 404, "not_a_b2b_project")
        with pytest.raises(EmulatorControlError) as raised:
            consumer.create_organization("Acme", "acme")
        assert raised.value.error_type == "not_a_b2b_project"


def test_vertical_is_checked():
    with pytest.raises(ValueError, match="vertical"):
        Emulator(vertical="enterprise")


def test_totp_step_up_inside_a_session_adds_the_factor_to_that_session(b2b, http):
    org = b2b.create_organization("Acme", "acme")
    member = b2b.create_member("acme", EMAIL, password=PASSWORD)
    signed_in = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    token = signed_in["session_token"]
    ids = {"organization_id": org["organization_id"], "member_id": member["member_id"]}
    data(sdk(http, b2b, "totp", ids, session=token))
    code = b2b.totp_code("acme", member["member_id"])
    reply = data(sdk(http, b2b, "totp/authenticate", {**ids, "code": code}, session=token))
    session = reply["member_session"]
    assert session["member_session_id"] == signed_in["member_session"]["member_session_id"]
    assert [f["type"] for f in session["authentication_factors"]] == ["password", "totp"]
    assert reply["session_token"] == token


def test_project_settings_apply_to_b2b_starts_and_magic_links():
    allowed = "https://notebooks.example.com/after-sso"
    with (
        Emulator(vertical="B2B", pkce_required=True, redirect_urls=[allowed]) as emu,
        loopback_client(emu.api_url) as http,
    ):
        emu.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
        emu.create_member("acme", EMAIL)
        start = f"/v1/public/sso/start?public_token={emu.public_token}&organization_slug=acme"
        error(http.get(start), 400, "pkce_expected_code_challenge")
        error(http.get(start + "&pkce_code_challenge=short"), 400, "invalid_pkce_code_challenge")
        _, challenge = pkce_pair()
        start += f"&pkce_code_challenge={challenge}"
        elsewhere = start + "&login_redirect_url=https://evil.example.net/after-sso"
        error(http.get(elsewhere), 400, "no_match_for_provided_sso_url")
        for url in (allowed, "http://localhost:8888/stytch-jupyter/callback"):
            started = http.get(f"{start}&login_redirect_url={url}")
            assert started.status_code == 302, started.text
            assert started.headers["cache-control"] == "no-store"
        # The consent page offers the organization's members to pick from.
        page = http.get(started.headers["location"])
        assert f'name="user" value="{EMAIL}"' in page.text
        answered = http.post(
            started.headers["location"], data={"user": EMAIL, "decision": "approve"}
        )
        assert answered.headers["location"].startswith(
            "http://localhost:8888/stytch-jupyter/callback?"
        )

        send = {"email_address": EMAIL, "organization_id": "acme"}
        error(
            sdk(http, emu, "magic_links/email/login_or_signup", send),
            400,
            "pkce_expected_code_challenge",
        )
        data(
            sdk(
                http,
                emu,
                "magic_links/email/login_or_signup",
                {**send, "pkce_code_challenge": challenge},
            )
        )
        error(
            sdk(http, emu, "magic_links/email/discovery/send", {"email_address": EMAIL}),
            400,
            "pkce_expected_code_challenge",
        )


def test_the_mailbox_lists_organizations_and_members_and_removes_one(b2b, http):
    b2b.create_organization(
        "Acme <Labs>", "acme", email_allowed_domains=["acme.test"], sso_connections=[{}]
    )
    member = b2b.create_member("acme", EMAIL, password=PASSWORD, mfa_phone_number="+15555550100")
    signed_in = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    page = http.get("/").text
    assert 'id="organizations"' in page
    assert "Acme &lt;Labs&gt;" in page and "<Labs>" not in page
    assert EMAIL in page and "+15555550100" in page and "JIT for acme.test" in page
    assert signed_in["member_session"]["member_session_id"] in page
    assert signed_in["session_token"] not in page

    removed = http.post(
        "/emulator/v1/b2b/mailbox/remove-member",
        data={
            "organization_id": member["member"]["organization_id"],
            "member_id": member["member_id"],
        },
    )
    assert removed.status_code == 303
    error(
        sdk(http, b2b, "sessions/authenticate", session=signed_in["session_token"]),
        404,
        "session_not_found",
    )
    assert "deleted" in http.get("/").text


def test_a_consumer_mailbox_has_no_organizations_section(emulator):
    with loopback_client(emulator.api_url) as http:
        assert 'id="organizations"' not in http.get("/").text


def test_bootstrap_reports_a_b2b_project(b2b, http):
    reply = http.get(f"/sdk/v1/projects/bootstrap/{b2b.public_token}")
    assert reply.status_code == 200
    assert reply.json()["data"]["vertical"] == "B2B"
    assert reply.json()["data"]["create_organization_enabled"] is True
    assert b2b.vertical == "B2B"


def test_cli_b2b_serves_a_b2b_project():
    command = [sys.executable, "-m", "stytch_jupyter.emulator", "--port", "0", "--b2b"]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_proxy")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("Serving until Ctrl-C"):
            line = process.stdout.readline()
            assert line, f"the emulator ended early: {lines}"
            lines.append(line.rstrip("\n"))
        text = "\n".join(lines)
        assert re.search(r"vertical\s+B2B", text), text
        api_url = re.search(r"api_url\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        with loopback_client(api_url) as http:
            bootstrap = http.get(f"/sdk/v1/projects/bootstrap/{DEFAULT_PUBLIC_TOKEN}")
            assert bootstrap.json()["data"]["vertical"] == "B2B"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_issued_names_every_b2b_secret_kind(b2b, http):
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, password=PASSWORD, mfa_phone_number="+15555550100")
    first = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "vault", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    ids = {"organization_id": "vault", "member_id": member["member_id"]}
    ist = first["intermediate_session_token"]
    totp = data(sdk(http, b2b, "totp", {**ids, "intermediate_session_token": ist}))
    sms = b2b.last_sms_code("+15555550100")
    done = data(
        sdk(
            http,
            b2b,
            "otps/sms/authenticate",
            {**ids, "code": sms, "intermediate_session_token": ist},
        )
    )
    issued = b2b.issued()
    assert ist in issued["intermediate_session_tokens"]
    assert sms in issued["mfa_codes"]
    assert totp["secret"] in issued["totp_secrets"]
    assert set(totp["recovery_codes"]) <= set(issued["recovery_codes"])
    assert done["session_token"] in issued["session_tokens"]
    assert done["session_jwt"] in issued["session_jwts"]
    assert PASSWORD in issued["passwords"]
    # The mailbox shows the SMS code (that is its job) but no token, IST or TOTP secret.
    page = http.get("/").text
    for secret in (ist, totp["secret"], done["session_token"], *totp["recovery_codes"]):
        assert secret not in page


@pytest.mark.parametrize(
    ("path", "body", "error_type"),
    [
        (
            "passwords/authenticate",
            {"organization_id": ["acme"], "email_address": EMAIL, "password": "x"},
            "bad_request",
        ),
        (
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": "x" * 5000, "password": "x"},
            "invalid_email",
        ),
        (
            "otps/email/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "code": 123456},
            "bad_request",
        ),
        (
            "discovery/intermediate_sessions/exchange",
            {"intermediate_session_token": "x" * 100000, "organization_id": "acme"},
            "intermediate_session_not_found",
        ),
        (
            "discovery/organizations/create",
            {"intermediate_session_token": "x", "email_allowed_domains": "acme.test"},
            "bad_request",
        ),
        ("sessions/exchange", {"organization_id": "\u0000../../etc"}, "session_not_found"),
        (
            "magic_links/email/login_or_signup",
            {
                "organization_id": "acme",
                "email_address": EMAIL,
                "login_redirect_url": "javascript:alert(1)",
            },
            "bad_request",
        ),
        (
            "totp/authenticate",
            {"organization_id": "acme", "member_id": "member-test-x", "code": "1"},
            "member_not_found",
        ),
        (
            "magic_links/email/discovery/send",
            {"email_address": EMAIL, "discovery_expiration_minutes": 10**12},
            "invalid_expiration",
        ),
        (
            "discovery/intermediate_sessions/exchange",
            {
                "intermediate_session_token": "x",
                "organization_id": "acme",
                "session_duration_minutes": 1,
            },
            "invalid_session_duration",
        ),
    ],
)
def test_hostile_input_gets_one_clear_error_and_changes_nothing(b2b, http, path, body, error_type):
    b2b.create_organization("Acme", "acme")
    before = b2b.control.organizations()
    reply = sdk(http, b2b, path, body)
    assert 400 <= reply.status_code < 500, reply.text
    got = reply.json()
    assert got["error_type"] == error_type, got
    assert "\n" not in got["error_message"] and len(got["error_message"]) < 200
    assert b2b.control.organizations() == before


def test_a_body_that_is_not_json_is_refused(b2b, http):
    reply = http.post(
        "/sdk/v1/b2b/passwords/authenticate",
        content=b"\xff\xfe{",
        auth=(b2b.public_token, b2b.public_token),
    )
    error(reply, 400, "bad_request")


def test_discovery_by_session_does_not_carry_mfa_into_other_organizations(b2b, http):
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_organization("Bank", "bank", mfa_policy="REQUIRED_FOR_ALL")
    vault = b2b.create_member("vault", EMAIL, password=PASSWORD, totp=True)
    b2b.create_member("bank", EMAIL, totp=True)
    first = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "vault", "email_address": EMAIL, "password": PASSWORD},
        )
    )
    code = b2b.totp_code("vault", vault["member_id"])
    signed_in = data(
        sdk(
            http,
            b2b,
            "totp/authenticate",
            {
                "organization_id": "vault",
                "member_id": vault["member_id"],
                "code": code,
                "intermediate_session_token": first["intermediate_session_token"],
            },
        )
    )
    listed = data(sdk(http, b2b, "discovery/organizations", session=signed_in["session_token"]))
    bank = next(
        d
        for d in listed["discovered_organizations"]
        if d["organization"]["organization_slug"] == "bank"
    )
    assert bank["member_authenticated"] is False and bank["mfa_required"] is not None


def test_a_refused_intermediate_session_does_not_use_up_the_passcode(b2b, http):
    acme = b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL, password=PASSWORD)
    globex_ist = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "globex", "email_address": EMAIL, "password": PASSWORD},
        )
    )["intermediate_session_token"]
    body = {"organization_id": "acme", "email_address": EMAIL}
    data(sdk(http, b2b, "otps/email/login_or_signup", body))
    _, code = b2b.last_otp(EMAIL)
    wrong = {**body, "code": code, "intermediate_session_token": globex_ist}
    error(
        sdk(http, b2b, "otps/email/authenticate", wrong),
        400,
        "invalid_intermediate_session_token_for_organization",
    )
    reply = data(sdk(http, b2b, "otps/email/authenticate", {**body, "code": code}))
    assert_signed_in(reply, acme["organization_id"])


def test_organizations_search_by_slug_gives_what_starts_a_sign_in(b2b, http):
    org = b2b.create_organization("Acme", "acme", sso_connections=[{"display_name": "Okta"}])
    b2b.create_member("acme", EMAIL)
    found = data(sdk(http, b2b, "organizations/search", {"organization_slug": "ACME"}))
    public = found["organization"]
    assert public["organization_id"] == org["organization_id"]
    assert public["sso_default_connection_id"] == org["sso_active_connections"][0]["connection_id"]
    assert "members" not in public and "custom_roles" not in public
    missing = data(sdk(http, b2b, "organizations/search", {"organization_slug": "nowhere"}))
    assert missing["organization"] is None
    by_id = {"organization_slug": org["organization_id"]}
    assert data(sdk(http, b2b, "organizations/search", by_id))["organization"] is None
    error(sdk(http, b2b, "organizations/search", {}), 400, "bad_request")


def test_revoke_member_session_through_the_backend_helper(b2b, http):
    b2b.create_organization("Acme", "acme")
    member = b2b.create_member("acme", EMAIL, password=PASSWORD)
    body = {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD}
    one, two = (data(sdk(http, b2b, "passwords/authenticate", body)) for _ in range(2))
    b2b.revoke_member_session(session_token=one["session_token"])
    error(
        sdk(http, b2b, "sessions/authenticate", session=one["session_token"]),
        404,
        "session_not_found",
    )
    data(sdk(http, b2b, "sessions/authenticate", session=two["session_token"]))
    b2b.revoke_member_session(member_id=member["member_id"])
    error(
        sdk(http, b2b, "sessions/authenticate", session=two["session_jwt"]),
        404,
        "session_not_found",
    )
    with pytest.raises(EmulatorControlError) as raised:
        b2b.revoke_member_session()
    assert raised.value.error_type == "no_session_arguments"


def test_non_ascii_secrets_and_credentials_are_refused_not_crashed(b2b, http):
    org = b2b.create_organization("Acme", "acme", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("acme", EMAIL, password=PASSWORD, totp=True)
    ist = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        )
    )["intermediate_session_token"]
    ids = {
        "organization_id": org["organization_id"],
        "member_id": member["member_id"],
        "intermediate_session_token": ist,
    }
    data(
        sdk(
            http,
            b2b,
            "otps/email/login_or_signup",
            {"organization_id": "acme", "email_address": EMAIL},
        )
    )
    cases = [
        ("magic_links/authenticate", {"magic_links_token": "tökén"}, 404),
        (
            "otps/email/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "code": "cödé"},
            404,
        ),
        ("totp/authenticate", {**ids, "code": "ünï"}, 401),
        ("recovery_codes/recover", {**ids, "recovery_code": "récupération"}, 401),
        ("otps/sms/authenticate", {**ids, "code": "ß"}, 404),
    ]
    for path, body, status in cases:
        reply = sdk(http, b2b, path, body)
        assert reply.status_code == status, (path, reply.text)
    bad_auth = http.post(
        "/sdk/v1/b2b/sessions/authenticate",
        headers={"Authorization": "Basic " + base64.b64encode("püblic:tökén".encode()).decode()},
    )
    error(bad_auth, 401, "invalid_public_token")
    backend = http.get(
        f"/v1/b2b/organizations/{org['organization_id']}",
        headers={"Authorization": "Basic " + base64.b64encode("prøject:sécret".encode()).decode()},
    )
    error(backend, 401, "unauthorized_credentials")
    start = http.get("/v1/b2b/public/oauth/google/start?public_token=pübl&slug=acme")
    error(start, 401, "invalid_public_token")


def test_a_totp_code_works_once_and_the_qr_code_is_an_image(b2b, http):
    org = b2b.create_organization("Acme", "acme")
    member = b2b.create_member("acme", EMAIL, password=PASSWORD)
    token = data(
        sdk(
            http,
            b2b,
            "passwords/authenticate",
            {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD},
        )
    )["session_token"]
    ids = {"organization_id": org["organization_id"], "member_id": member["member_id"]}
    created = data(sdk(http, b2b, "totp", ids, session=token))
    assert created["qr_code"].startswith("data:image/png;base64,")
    code = b2b.totp_code("acme", member["member_id"])
    data(sdk(http, b2b, "totp/authenticate", {**ids, "code": code}, session=token))
    error(
        sdk(http, b2b, "totp/authenticate", {**ids, "code": code}, session=token),
        400,
        "totp_code_already_authenticated",
    )


def test_b2b_state_survives_an_outage_and_faults_reach_b2b_paths():
    with Emulator(vertical="b2b") as emu:
        emu.create_organization("Acme", "acme")
        emu.create_member("acme", EMAIL, password=PASSWORD)
        body = {"organization_id": "acme", "email_address": EMAIL, "password": PASSWORD}
        with loopback_client(emu.api_url) as http:
            token = data(sdk(http, emu, "passwords/authenticate", body))["session_token"]
        emu.stop()
        emu.start()
        with loopback_client(emu.api_url) as http:
            data(sdk(http, emu, "sessions/authenticate", session=token))
            emu.add_fault(path_prefix="/sdk/v1/b2b/sessions", status=503, times=1)
            error(
                sdk(http, emu, "sessions/authenticate", session=token), 503, "service_unavailable"
            )
            data(sdk(http, emu, "sessions/authenticate", session=token))
