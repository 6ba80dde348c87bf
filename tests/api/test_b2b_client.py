"""B2BClient over real loopback HTTP against the emulator's B2B project: discovery, sign-in in
an organization, MFA, SSO with PKCE, session exchange, the signed-in member; redacted reprs."""

from __future__ import annotations

import base64
import hashlib
import pickle
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from stytch_jupyter.api import StytchAPIError
from stytch_jupyter.api.b2b_client import B2BClient
from stytch_jupyter.api.b2b_models import (
    B2BAuthenticateResponse,
    DiscoveryResponse,
    IntermediateSessionToken,
)
from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.api.secret import Secret
from stytch_jupyter.emulator import Emulator

pytestmark = pytest.mark.anyio

EMAIL = "ada@acme.test"
PASSWORD = "correct horse battery staple"
PHONE = "+15555550100"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def shared_b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def emu(shared_b2b: Emulator) -> Emulator:
    shared_b2b.reset()
    return shared_b2b


def b2b_for(emu: Emulator) -> B2BClient:
    return B2BClient(StytchClient(emu.public_token, api_url=emu.api_url))


def token_of(url: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(url).query)
    return query["stytch_token_type"][0], query["token"][0]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_hex(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def discover(b2b: B2BClient, emu: Emulator) -> DiscoveryResponse:
    await b2b.magic_links_email_discovery_send(EMAIL)
    kind, token = token_of(emu.last_magic_link(EMAIL))
    assert kind == "discovery"
    return await b2b.magic_links_discovery_authenticate(token)


async def test_discovery_then_exchange_gives_a_member_session(emu) -> None:
    acme = emu.create_organization("Acme", "acme")
    emu.create_organization("Globex", "globex", email_allowed_domains=["acme.test"])
    emu.create_member("acme", EMAIL, name="Ada")
    b2b = b2b_for(emu)
    async with b2b.client:
        found = await discover(b2b, emu)
        assert found.email_address == EMAIL
        ist = found.intermediate_session_token
        assert ist and ist not in repr(found)
        by_slug = {d.organization.organization_slug: d for d in found.discovered_organizations}
        assert by_slug["acme"].membership_type == "active_member"
        assert by_slug["acme"].member is not None and by_slug["acme"].member.name == "Ada"
        assert by_slug["globex"].membership_type == "eligible_to_join_by_email_domain"

        listed = await b2b.discovery_organizations(intermediate_session_token=Secret(ist))
        assert {d.organization.organization_id for d in listed.discovered_organizations} == {
            acme["organization_id"],
            by_slug["globex"].organization.organization_id,
        }

        reply = await b2b.discovery_intermediate_sessions_exchange(ist, acme["organization_id"], 60)
        assert isinstance(reply, B2BAuthenticateResponse)
        assert reply.member_authenticated and reply.intermediate_session_token == ""
        assert reply.member_session is not None
        assert reply.member_session.organization_slug == "acme"
        assert reply.organization.organization_slug == "acme"
        assert reply.member.email_address == EMAIL
        tokens = reply.tokens
        assert tokens is not None and tokens.opaque == reply.session_token
        for secret in (reply.session_token, reply.session_jwt):
            assert secret not in repr(reply) and secret not in str(reply)

        checked = await b2b.sessions_authenticate(reply.session_token, 30)
        assert checked.member_session is not None
        assert checked.member_session.member_session_id == reply.member_session.member_session_id
        me = await b2b.organizations_members_me(reply.session_jwt)
        assert me.member_id == reply.member_id
        org = await b2b.organizations_me(reply.session_token)
        assert org.organization_id == acme["organization_id"]

        # The IST is spent by the exchange.
        with pytest.raises(StytchAPIError) as spent:
            await b2b.discovery_intermediate_sessions_exchange(ist, acme["organization_id"])
        assert spent.value.error_type == "intermediate_session_not_found"
        assert ist not in str(spent.value)

        await b2b.sessions_revoke(reply.session_token)
        with pytest.raises(StytchAPIError) as gone:
            await b2b.sessions_authenticate(reply.session_token)
        assert gone.value.error_type == "session_not_found"


async def test_otp_password_discovery_and_organization_create(emu) -> None:
    emu.create_organization("Acme", "acme")
    emu.create_member("acme", EMAIL, password=PASSWORD)
    b2b = b2b_for(emu)
    async with b2b.client:
        await b2b.otps_email_discovery_send(EMAIL)
        _, code = emu.last_otp(EMAIL)
        by_code = await b2b.otps_email_discovery_authenticate(EMAIL, Secret(code))
        assert [d.organization.organization_slug for d in by_code.discovered_organizations] == [
            "acme"
        ]
        with pytest.raises(StytchAPIError) as wrong:
            await b2b.passwords_discovery_authenticate(EMAIL, "not it")
        assert wrong.value.error_type == "unauthorized_credentials"
        by_password = await b2b.passwords_discovery_authenticate(EMAIL, Secret(PASSWORD))
        created = await b2b.discovery_organizations_create(
            by_password.intermediate_session_token,
            30,
            organization_name="Ada's Lab",
            organization_slug="ada-lab",
        )
        assert created.organization.organization_slug == "ada-lab"
        assert created.member.is_admin and created.member_session is not None


async def test_sign_in_within_an_organization_by_code_password_and_magic_link(emu) -> None:
    org = emu.create_organization("Acme", "acme", email_allowed_domains=["acme.test"])
    org_id = org["organization_id"]
    emu.create_member("acme", EMAIL, password=PASSWORD)
    b2b = b2b_for(emu)
    async with b2b.client:
        await b2b.otps_email_login_or_signup(org_id, EMAIL)
        _, code = emu.last_otp(EMAIL)
        by_code = await b2b.otps_email_authenticate(org_id, EMAIL, code)
        assert by_code.member_session is not None and by_code.method_id
        assert by_code.member_session.authentication_factors[0].type == "otp"

        by_password = await b2b.passwords_authenticate(org_id, EMAIL, Secret(PASSWORD))
        assert by_password.member_session is not None

        verifier, challenge = pkce_pair()
        redirect = "http://127.0.0.1:8765/stytch-jupyter/callback"
        await b2b.magic_links_email_login_or_signup(
            org_id, EMAIL, login_redirect_url=redirect, pkce_code_challenge=challenge
        )
        kind, token = token_of(emu.last_magic_link(EMAIL))
        assert kind == "multi_tenant_magic_links"
        with pytest.raises(StytchAPIError) as no_verifier:
            await b2b.magic_links_authenticate(token)
        assert no_verifier.value.error_type == "pkce_expected_code_verifier"
        by_link = await b2b.magic_links_authenticate(token, 60, pkce_code_verifier=verifier)
        assert by_link.member_session is not None


async def test_mfa_required_organization_by_totp_then_recovery_code(emu) -> None:
    org = emu.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = emu.create_member("vault", EMAIL, password=PASSWORD)
    b2b = b2b_for(emu)
    async with b2b.client:
        first = await b2b.passwords_authenticate(org["organization_id"], EMAIL, PASSWORD)
        assert first.member_session is None and first.tokens is None
        assert first.mfa_required is not None
        ist = first.intermediate_session_token
        assert ist and ist not in repr(first)
        assert first.session_token == "" and first.session_jwt == ""

        ids = (org["organization_id"], member["member_id"])
        created = await b2b.totp_create(*ids, intermediate_session_token=ist)
        assert created.secret and len(created.recovery_codes) == 10
        assert created.secret not in repr(created)
        assert not any(c in repr(created) for c in created.recovery_codes)
        code = emu.totp_code("vault", member["member_id"])
        signed_in = await b2b.totp_authenticate(*ids, code, 60, intermediate_session_token=ist)
        assert signed_in.member_session is not None
        kinds = {f.type for f in signed_in.member_session.authentication_factors}
        assert kinds == {"password", "totp"}

        again = await b2b.passwords_authenticate(org["organization_id"], EMAIL, PASSWORD)
        recovered = await b2b.recovery_codes_recover(
            *ids,
            Secret(created.recovery_codes[0]),
            intermediate_session_token=again.intermediate_session_token,
        )
        assert recovered.member_session is not None
        assert recovered.recovery_codes_remaining == 9


async def test_mfa_by_sms_code(emu) -> None:
    org = emu.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = emu.create_member("vault", EMAIL, password=PASSWORD, mfa_phone_number=PHONE)
    b2b = b2b_for(emu)
    async with b2b.client:
        first = await b2b.passwords_authenticate(org["organization_id"], EMAIL, PASSWORD)
        assert first.mfa_required is not None
        assert first.mfa_required.mfa_phone_number == PHONE
        assert first.mfa_required.secondary_auth_initiated == "sms_otp"
        ist = first.intermediate_session_token
        ids = (org["organization_id"], member["member_id"])
        await b2b.otps_sms_send(*ids, intermediate_session_token=ist)
        code = emu.last_sms_code(PHONE)
        with pytest.raises(StytchAPIError):
            await b2b.otps_sms_authenticate(
                *ids, "000000" if code != "000000" else "111111", intermediate_session_token=ist
            )
        reply = await b2b.otps_sms_authenticate(*ids, code, intermediate_session_token=ist)
        assert reply.member_session is not None
        assert {f.delivery_method for f in reply.member_session.authentication_factors} >= {"sms"}


async def test_sso_by_the_identity_provider_with_pkce(emu) -> None:
    org = emu.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
    [connection] = org["sso_active_connections"]
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:8765/stytch-jupyter/callback"
    query = urlencode(
        {
            "public_token": emu.public_token,
            "connection_id": connection["connection_id"],
            "pkce_code_challenge": challenge,
            "login_redirect_url": redirect,
            "signup_redirect_url": redirect,
        }
    )
    back = emu.complete_idp(f"{emu.api_url}/v1/public/sso/start?{query}", EMAIL)
    kind, token = token_of(back)
    assert kind == "sso"
    b2b = b2b_for(emu)
    async with b2b.client:
        reply = await b2b.sso_authenticate(token, 60, pkce_code_verifier=verifier)
        assert reply.member_session is not None
        assert reply.member_session.authentication_factors[0].type == "sso"
        assert (
            reply.organization.sso_active_connections[0].connection_id
            == (connection["connection_id"])
        )


async def test_session_exchange_between_two_organizations(emu) -> None:
    acme = emu.create_organization("Acme", "acme")
    globex = emu.create_organization("Globex", "globex")
    emu.create_member("acme", EMAIL)
    emu.create_member("globex", EMAIL)
    b2b = b2b_for(emu)
    async with b2b.client:
        found = await discover(b2b, emu)
        first = await b2b.discovery_intermediate_sessions_exchange(
            found.intermediate_session_token, acme["organization_id"]
        )
        listed = await b2b.discovery_organizations(session_token=first.session_token)
        assert {d.organization.organization_slug for d in listed.discovered_organizations} == {
            "acme",
            "globex",
        }
        moved = await b2b.sessions_exchange(first.session_token, globex["organization_id"], 30)
        assert moved.member_session is not None
        assert moved.member_session.organization_id == globex["organization_id"]
        assert moved.session_token != first.session_token
        assert await b2b.organizations_search("globex") is not None
        assert await b2b.organizations_search("nope") is None


async def test_bad_input_is_refused_before_anything_is_sent(emu) -> None:
    b2b = b2b_for(emu)
    async with b2b.client:
        with pytest.raises(ValueError, match="organization_id"):
            await b2b.otps_email_login_or_signup(" ", EMAIL)
        with pytest.raises(ValueError, match="intermediate session token or a member session"):
            await b2b.discovery_organizations()
        with pytest.raises(ValueError, match="password"):
            await b2b.passwords_authenticate("acme", EMAIL, "")
    assert emu.control.outbox() == []


def test_the_intermediate_session_token_holder_hides_its_value() -> None:
    ist = IntermediateSessionToken("ist-secret-value-1234567890")
    assert "1234567890" not in repr(ist) and "1234567890" not in str(ist)
    with pytest.raises(TypeError):
        vars(ist)  # slots: no __dict__ to show the value
    with pytest.raises(TypeError):
        pickle.dumps(ist)
    with pytest.raises(ValueError):
        IntermediateSessionToken(" ")
