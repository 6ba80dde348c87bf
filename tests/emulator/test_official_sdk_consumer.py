"""Stytch's official Python library parses the emulator's backend answers for passwords, SMS
codes, TOTP, users and OAuth (its pydantic models reject a missing required field)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import stytch
from stytch.core.response_base import StytchError

from stytch_jupyter.emulator import Emulator

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

EMAIL = "ada@example.com"
STRONG = "correct horse battery staple 1815"
STRONGER = "Analytical Engine, 1843: notes G"


@pytest.fixture
def client(emulator: Emulator) -> Iterator[stytch.Client]:
    yield stytch.Client(
        project_id=emulator.project_id, secret=emulator.secret, environment=f"{emulator.api_url}/"
    )


def test_passwords(client, emulator) -> None:
    check = client.passwords.strength_check(password="password")
    assert check.valid_password is False and check.feedback is not None
    assert check.feedback.warning
    with pytest.raises(StytchError) as weak:
        client.passwords.create(email=EMAIL, password="qwerty", session_duration_minutes=5)
    assert weak.value.details.error_type == "weak_password"
    created = client.passwords.create(email=EMAIL, password=STRONG, session_duration_minutes=60)
    assert created.user.emails[0].email == EMAIL and created.session is not None
    changed = client.passwords.existing_password.reset(
        email=EMAIL, existing_password=STRONG, new_password=STRONGER, session_duration_minutes=5
    )
    assert changed.user_id == created.user_id
    in_session = client.passwords.sessions.reset(
        password=STRONG, session_token=changed.session_token
    )
    assert in_session.session is not None
    assert in_session.session.session_id == changed.session.session_id  # type: ignore[union-attr]
    client.passwords.email.reset_start(email=EMAIL)
    token = parse_qs(urlsplit(emulator.last_password_reset(EMAIL)).query)["token"][0]
    reset = client.passwords.email.reset(token=token, password=STRONGER, session_duration_minutes=5)
    assert reset.user_id == created.user_id
    client.passwords.authenticate(email=EMAIL, password=STRONGER)


def test_sms(client, emulator) -> None:
    sent = client.otps.sms.login_or_create(phone_number="+15555550199")
    assert sent.user_created is True
    method_id, code = emulator.last_sms_otp("+15555550199")
    assert sent.phone_id == method_id
    signed_in = client.otps.authenticate(method_id=method_id, code=code, session_duration_minutes=5)
    assert signed_in.user.phone_numbers[0].verified is True
    assert client.otps.sms.login_or_create(phone_number="+15555550199").user_created is False


def totp_code(secret: str, emulator: Emulator) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int(emulator.advance_clock(0).timestamp()) // 30
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[19] & 15
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


def test_totps_and_users(client, emulator) -> None:
    user_id = emulator.create_user(EMAIL, password=STRONG)
    created = client.totps.create(user_id=user_id)
    assert created.qr_code.startswith("data:image/png;base64,")
    done = client.totps.authenticate(
        user_id=user_id, totp_code=totp_code(created.secret, emulator), session_duration_minutes=5
    )
    assert done.totp_id == created.totp_id
    codes = client.totps.recovery_codes(user_id=user_id)
    assert codes.totps[0].recovery_codes == created.recovery_codes
    recovered = client.totps.recover(user_id=user_id, recovery_code=created.recovery_codes[1])
    assert recovered.totp_id == created.totp_id
    updated = client.users.update(
        user_id=user_id, name={"first_name": "Ada"}, untrusted_metadata={"plan": "free"}
    )
    assert updated.user.name is not None and updated.user.name.first_name == "Ada"
    assert updated.user.untrusted_metadata == {"plan": "free"}
    assert updated.user.totps[0].verified is True


def test_the_backend_deletes_a_factor_by_its_id_alone(client, emulator) -> None:
    user_id = emulator.create_user(EMAIL, password=STRONG)
    other_id = emulator.create_user("grace@example.com", password=STRONG)
    totp = client.totps.create(user_id=user_id)
    texted = client.otps.sms.login_or_create(phone_number="+15555550123")  # a user of its own
    phone_id = client.users.get(user_id=texted.user_id).phone_numbers[0].phone_id
    deleted = client.users.delete_totp(totp_id=totp.totp_id)
    assert deleted.user_id == user_id and deleted.user.totps == []
    gone = client.users.delete_phone_number(phone_id=phone_id)
    assert gone.user_id == texted.user_id and gone.user.phone_numbers == []
    email_id = client.users.get(user_id=other_id).emails[0].email_id
    assert client.users.delete_email(email_id=email_id).user.emails == []
    for call in (
        lambda: client.users.delete_totp(totp_id=totp.totp_id),  # already gone
        lambda: client.users.delete_email(email_id="email-test-nobody"),
        lambda: client.users.delete_oauth_registration(oauth_user_registration_id="nope"),
        lambda: client.users.get(user_id="user-test-nobody"),
    ):
        with pytest.raises(StytchError) as refused:
            call()
        assert refused.value.details.status_code == 404
    assert client.users.get(user_id=user_id).emails[0].email == EMAIL  # the rest is untouched


def test_oauth(client, emulator) -> None:
    start = emulator.oauth_start_url(
        "google", login_redirect_url="http://127.0.0.1:1/stytch-jupyter/callback"
    )
    token = parse_qs(urlsplit(emulator.oauth_consent(start, EMAIL)).query)["token"][0]
    got = client.oauth.authenticate(token=token, session_duration_minutes=5)
    assert got.provider_type == "Google" and got.provider_values.access_token
    assert got.user_session is not None
    with pytest.raises(StytchError) as reused:
        client.oauth.authenticate(token=token)
    assert reused.value.details.error_type == "oauth_token_not_found"
