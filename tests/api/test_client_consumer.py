"""StytchClient's passwords, SMS, TOTP and users methods over real loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from stytch_jupyter.api import StytchAPIError
from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.api.factor_models import PasswordStrength, TOTPCreated
from stytch_jupyter.emulator import Emulator

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
STRONG = "correct horse battery staple 1815"
STRONGER = "Analytical Engine, 1843: notes G"
PHONE = "+447700900123"


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


def client_for(emu: Emulator) -> StytchClient:
    return StytchClient(emu.public_token, api_url=emu.api_url)


async def otp_session(client: StytchClient, emu: Emulator) -> str:
    method_id = await client.otps_email_login_or_create(EMAIL)
    _, code = emu.last_otp(EMAIL)
    return (await client.otps_authenticate(code, method_id, 60)).session_token


async def test_passwords_create_strength_and_resets(emu) -> None:
    async with client_for(emu) as client:
        weak = await client.passwords_strength_check("password", email=EMAIL)
        assert isinstance(weak, PasswordStrength)
        assert (weak.valid_password, weak.breached_password) == (False, True)
        assert "common" in weak.warning and weak.suggestions
        strong = await client.passwords_strength_check(STRONG)
        assert strong.valid_password and strong.score >= 3 and strong.warning == ""
        with pytest.raises(StytchAPIError) as refused:
            await client.passwords_create(EMAIL, "qwerty", 5)
        assert refused.value.error_type == "weak_password"
        assert "qwerty" not in str(refused.value)
        created = await client.passwords_create(EMAIL, STRONG, 30)
        assert created.user.email == EMAIL
        assert [f.type for f in created.session.authentication_factors] == ["password"]

        changed = await client.passwords_existing_password_reset(EMAIL, STRONG, STRONGER, 5)
        assert changed.user.user_id == created.user.user_id
        with pytest.raises(StytchAPIError) as wrong:
            await client.passwords_authenticate(EMAIL, STRONG, 5)
        assert wrong.value.error_type == "unauthorized_credentials"

        in_session = await client.passwords_session_reset(STRONG, changed.session_token, 60)
        assert in_session.session.session_id == changed.session.session_id
        await client.passwords_authenticate(EMAIL, STRONG, 5)


async def test_password_reset_by_email_with_pkce(emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    verifier = "a-verifier-kept-in-memory-" + "x" * 30
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    callback = "http://127.0.0.1:9999/stytch-jupyter/callback"
    async with client_for(emu) as client:
        await client.passwords_email_reset_start(
            EMAIL, reset_password_redirect_url=callback, code_challenge=challenge
        )
        token = parse_qs(urlsplit(emu.last_password_reset(EMAIL)).query)["token"][0]
        with pytest.raises(StytchAPIError) as refused:
            await client.passwords_email_reset(token, STRONGER, 5)
        assert refused.value.error_type == "pkce_expected_code_verifier"
        done = await client.passwords_email_reset(token, STRONGER, 5, code_verifier=verifier)
        assert {f.type for f in done.session.authentication_factors} == {"magic_link", "password"}
        with pytest.raises(StytchAPIError) as reused:
            await client.passwords_email_reset(token, STRONGER, 5, code_verifier=verifier)
        assert reused.value.error_type == "unable_to_auth_password_reset_token"
        assert token not in str(reused.value) and verifier not in str(reused.value)


async def test_sms_sign_in(emu) -> None:
    async with client_for(emu) as client:
        method_id = await client.otps_sms_login_or_create(PHONE, expiration_minutes=5)
        sent_id, code = emu.last_sms_otp(PHONE)
        assert method_id == sent_id
        signed_in = await client.otps_authenticate(code, method_id, 60)
        assert signed_in.user.phone_numbers[0].phone_number == PHONE
        assert signed_in.user.phone_numbers[0].verified is True
        with pytest.raises(StytchAPIError) as bad:
            await client.otps_sms_login_or_create("not a number")
        assert bad.value.error_type == "invalid_phone_number"


def totp_now(secret: str, moment: datetime) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(moment.timestamp()) // 30), hashlib.sha1).digest()
    offset = digest[19] & 15
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


async def test_totp_create_authenticate_recover(emu) -> None:
    async with client_for(emu) as client:
        token = await otp_session(client, emu)
        created = await client.totps_create(token)
        assert isinstance(created, TOTPCreated)
        assert created.qr_code.startswith("data:image/png;base64,")
        assert created.secret not in repr(created)
        assert all(code not in repr(created) for code in created.recovery_codes)
        code = totp_now(created.secret, emu.advance_clock(0))
        done = await client.totps_authenticate(code, token, 60)
        assert done.totp_id == created.totp_id
        assert done.user.totps[0].verified is True
        assert code not in repr(done) and done.session_token not in repr(done)
        [codes] = await client.totps_recovery_codes(token)
        assert codes.recovery_codes == created.recovery_codes
        assert codes.recovery_codes[0] not in repr(codes)
        recovered = await client.totps_recover(created.recovery_codes[0], token, 60)
        assert recovered.totp_id == created.totp_id
        with pytest.raises(StytchAPIError) as again:
            await client.totps_recover(created.recovery_codes[0], token, 60)
        assert again.value.error_type == "unable_to_authenticate_recovery_code"
        assert created.recovery_codes[0] not in str(again.value)


async def test_users_update_and_delete_a_factor(emu) -> None:
    async with client_for(emu) as client:
        token = await otp_session(client, emu)
        user = await client.users_update(
            token, name={"first_name": "Ada", "last_name": "Lovelace"}, untrusted_metadata={"k": 1}
        )
        assert user.name == "Ada Lovelace" and user.untrusted_metadata == {"k": 1}
        user = await client.users_update(token, untrusted_metadata={"k": None})
        assert user.untrusted_metadata == {}
        created = await client.totps_create(token)
        user = await client.users_delete_factor(token, "totps", created.totp_id)
        assert user.totps == ()
        with pytest.raises(StytchAPIError) as gone:
            await client.users_delete_factor(token, "totps", created.totp_id)
        assert gone.value.error_type == "totp_not_found"
        with pytest.raises(ValueError, match="kind must be one of"):
            await client.users_delete_factor(token, "passwords", "x")
        with pytest.raises(ValueError, match="factor_id must be an id"):
            await client.users_delete_factor(token, "totps", "../sessions/revoke")
        with pytest.raises(ValueError, match="name takes"):
            await client.users_update(token, name={"nickname": "A"})
        with pytest.raises(ValueError, match="give name or untrusted_metadata"):
            await client.users_update(token)
