"""StytchClient.oauth_authenticate over real loopback HTTP, the emulator playing the provider."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from stytch_jupyter.api import StytchAPIError
from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.api.factor_models import OAuthAuthenticateResponse
from stytch_jupyter.emulator import Emulator

pytestmark = pytest.mark.anyio

CALLBACK = "http://127.0.0.1:8765/stytch-jupyter/callback"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    shared_emulator.reset()
    return shared_emulator


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def redirect_token(emu: Emulator, challenge: str | None, email: str = "ada@example.com") -> str:
    start = emu.oauth_start_url("github", code_challenge=challenge, login_redirect_url=CALLBACK)
    back = emu.oauth_consent(start, email)
    return parse_qs(urlsplit(back).query)["token"][0]


async def test_oauth_authenticate_with_pkce(emu) -> None:
    verifier, challenge = pkce_pair()
    token = redirect_token(emu, challenge)
    async with StytchClient(emu.public_token, api_url=emu.api_url) as client:
        got = await client.oauth_authenticate(token, 30, code_verifier=verifier)
    assert isinstance(got, OAuthAuthenticateResponse)
    assert got.provider_type == "GitHub" and got.provider_subject.startswith("github-subject-")
    assert got.user.email == "ada@example.com"
    assert got.oauth_user_registration_id.startswith("oauth-user-registration-test-")
    assert got.provider_values.access_token in emu.issued()["provider_tokens"]
    assert got.provider_values.scopes == ("openid", "email", "profile")
    assert got.provider_values.expires_at is not None
    # The provider's tokens and the session's never show in a repr.
    for secret in [
        got.provider_values.access_token,
        got.provider_values.refresh_token,
        got.session_token,
        got.session_jwt,
    ]:
        assert secret not in repr(got) and secret not in repr(got.provider_values)
    assert "GitHub" in repr(got)
    assert (got.session.expires_at - got.session.started_at).total_seconds() == 30 * 60


async def test_a_captured_token_without_the_verifier_is_refused(emu) -> None:
    verifier, challenge = pkce_pair()
    token = redirect_token(emu, challenge)
    async with StytchClient(emu.public_token, api_url=emu.api_url) as client:
        with pytest.raises(StytchAPIError) as refused:
            await client.oauth_authenticate(token, 5)
        assert refused.value.error_type == "pkce_expected_code_verifier"
        with pytest.raises(StytchAPIError) as refused:
            await client.oauth_authenticate(token, 5, code_verifier=pkce_pair()[0])
        assert refused.value.error_type == "pkce_mismatch"
        assert verifier not in str(refused.value)
        await client.oauth_authenticate(token, 5, code_verifier=verifier)
        with pytest.raises(StytchAPIError) as replayed:
            await client.oauth_authenticate(token, 5, code_verifier=verifier)
        assert replayed.value.error_type == "oauth_token_not_found"
        assert token not in str(replayed.value)


async def test_bad_arguments_fail_before_the_wire(emu) -> None:
    async with StytchClient(emu.public_token, api_url=emu.api_url) as client:
        with pytest.raises(ValueError, match="token must be a non-empty string"):
            await client.oauth_authenticate("  ", 5)
        with pytest.raises(ValueError, match="code_verifier must be a non-empty string"):
            await client.oauth_authenticate("t", 5, code_verifier="")
