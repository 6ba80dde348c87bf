"""The consumer API on the session object (passwords, SMS codes, TOTP, users), over real loopback
HTTP to the emulator: every sign-in takes the ordinary path (stored, observers told), and the
secrets a call receives or returns show in no repr, exception or ``vars()``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import pickle
import struct
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from IPython.core.formatters import DisplayFormatter

from stytch_jupyter.api.errors import StytchAPIError
from stytch_jupyter.api.models import SessionToken
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import NotSignedInError, SessionManager
from tests.support.hostile_server import HostileServer, json_reply

EMAIL = "ada@example.com"
STRONG = "correct horse battery staple 1815"
STRONGER = "Analytical Engine, 1843: notes G"
PHONE = "+447700900123"


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    shared_emulator.reset()
    return shared_emulator


@pytest.fixture
def make_manager(emu: Emulator, tmp_path: Path) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(data: str = "data", **settings: Any) -> SessionManager:
        config = Stytch(
            api_url=settings.pop("api_url", emu.api_url),
            public_token=emu.public_token,
            token_store="file",
            data_dir=str(tmp_path / data),
            heartbeat_interval=30.0,
            timeout=5.0,
            **settings,
        )
        manager = SessionManager(config, store_poll_interval=0.1)
        made.append(manager)
        manager.start()
        return manager

    yield make
    for manager in made:
        manager.close()


def stored_token(manager: SessionManager) -> str | None:
    store = manager.store  # what another process would read right now
    tokens = store.load() if store is not None else None
    return tokens.opaque if tokens is not None else None


def told(manager: SessionManager) -> list[SessionToken | None]:
    heard: list[SessionToken | None] = []
    manager.on_auth_change(heard.append)
    return heard


def totp_code(secret: str, moment: datetime) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(moment.timestamp()) // 30), hashlib.sha1).digest()
    offset = digest[19] & 15
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


# ---- passwords ---------------------------------------------------------------------------------


def test_strength_check_gives_stytchs_feedback(make_manager) -> None:
    manager = make_manager()
    weak = manager.passwords.strength_check("password", email=EMAIL)
    assert (weak.valid_password, weak.breached_password) == (False, True)
    assert weak.warning and weak.suggestions
    strong = asyncio.run(manager.passwords.strength_check_async(STRONG))
    assert strong.valid_password and strong.score >= 3
    with pytest.raises(ValueError, match="the password must be a non-empty string"):
        manager.passwords.strength_check("  ")


def test_create_signs_in_through_the_ordinary_path(make_manager, emu) -> None:
    manager = make_manager()
    heard = told(manager)
    with pytest.raises(StytchAPIError) as weak:
        manager.passwords.create(EMAIL, "qwerty")
    assert weak.value.error_type == "weak_password" and "qwerty" not in str(weak.value)
    assert manager.signed_out and heard == [] and stored_token(manager) is None

    response = manager.passwords.create(EMAIL, STRONG, session_duration_minutes=30)
    assert manager.status == "signed_in" and manager.user is not None
    assert manager.user.email == EMAIL
    assert stored_token(manager) == response.session_token
    assert heard == [manager.session_token]
    assert [f.type for f in response.session.authentication_factors] == ["password"]


def test_reset_with_the_existing_password_and_from_the_session(make_manager, emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    manager = make_manager()
    changed = manager.passwords.reset_by_existing_password(EMAIL, STRONG, STRONGER)
    assert manager.signed_in and stored_token(manager) == changed.session_token
    with pytest.raises(StytchAPIError) as old:
        manager.passwords.authenticate(EMAIL, STRONG)
    assert old.value.error_type == "unauthorized_credentials"
    with pytest.raises(StytchAPIError) as wrong:
        manager.passwords.reset_by_existing_password(EMAIL, "not it at all 77", STRONG)
    assert wrong.value.error_type == "unauthorized_credentials"

    kept = manager.passwords.reset_by_session(STRONG)
    assert kept.session.session_id == changed.session.session_id
    with pytest.raises(StytchAPIError) as weak:
        manager.passwords.reset_by_session("12345678")
    assert weak.value.error_type == "weak_password" and "12345678" not in str(weak.value)
    assert manager.session_token is not None and manager.signed_in  # a refusal changes nothing
    asyncio.run(manager.sessions.revoke_async())
    with pytest.raises(NotSignedInError):
        manager.passwords.reset_by_session(STRONGER)
    manager.passwords.authenticate(EMAIL, STRONG)  # the session reset took


def reset_token(emu: Emulator) -> str:
    return parse_qs(urlsplit(emu.last_password_reset(EMAIL)).query)["token"][0]


def test_reset_by_email_runs_pkce_with_the_verifier_kept_in_memory(make_manager, emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    manager = make_manager()
    heard = told(manager)
    manager.passwords.reset_by_email_start(EMAIL)
    token = reset_token(emu)
    assert "code_challenge" not in emu.last_password_reset(EMAIL)

    # A weak password is refused; the link (and the verifier) still work afterwards.
    with pytest.raises(StytchAPIError) as weak:
        manager.passwords.reset_by_email(token, "password1")
    assert weak.value.error_type == "weak_password" and manager.signed_out

    # Another process (no verifier) cannot use the link: PKCE binds it to this one.
    other = make_manager("other")
    with pytest.raises(StytchAPIError) as elsewhere:
        other.passwords.reset_by_email(token, STRONGER)
    assert elsewhere.value.error_type == "pkce_expected_code_verifier"

    done = manager.passwords.reset_by_email(token, STRONGER, session_duration_minutes=60)
    assert manager.signed_in and heard == [manager.session_token]
    assert stored_token(manager) == done.session_token
    with pytest.raises(StytchAPIError) as reused:
        manager.passwords.reset_by_email(token, STRONGER)
    assert reused.value.error_type == "unable_to_auth_password_reset_token"
    assert token not in str(reused.value)
    manager.passwords.authenticate(EMAIL, STRONGER)


def test_reset_by_email_async_and_an_expired_link(make_manager, emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    manager = make_manager()

    async def reset() -> None:
        await manager.passwords.reset_by_email_start_async(
            EMAIL, reset_password_expiration_minutes=10
        )
        emu.advance_clock(11 * 60)
        await manager.passwords.reset_by_email_async(reset_token(emu), STRONGER)

    with pytest.raises(StytchAPIError) as expired:
        asyncio.run(reset())
    assert expired.value.error_type == "unable_to_auth_password_reset_token"
    assert manager.signed_out


def test_the_reset_verifier_shows_nowhere(make_manager, emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    manager = make_manager()
    manager.passwords.reset_by_email_start(EMAIL)
    pair = vars(manager.passwords)["_reset_pkce"]
    verifier = pair.verifier
    shown = repr(vars(manager.passwords)) + repr(manager.passwords) + repr(vars(manager))
    assert verifier not in shown and pair.challenge[:6] in shown
    with pytest.raises(TypeError):
        pickle.dumps(pair)


# ---- SMS codes ---------------------------------------------------------------------------------


def test_sms_codes_sign_in_and_bad_codes_change_nothing(make_manager, emu) -> None:
    manager = make_manager()
    heard = told(manager)
    method_id = manager.otps.sms.login_or_create(PHONE)
    sent_id, code = emu.last_sms_otp(PHONE)
    assert method_id == sent_id and manager.last_method_id == method_id
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(StytchAPIError) as refused:
        manager.otps.authenticate(wrong)
    assert refused.value.error_type == "otp_code_not_found" and wrong not in str(refused.value)
    assert manager.signed_out and heard == []

    manager.otps.authenticate(code)  # method_id: the last one sent
    assert manager.signed_in and manager.user is not None
    assert manager.user.phone_numbers[0].phone_number == PHONE
    assert stored_token(manager) == manager.session_token.value  # type: ignore[union-attr]
    assert heard == [manager.session_token]
    with pytest.raises(StytchAPIError) as reused:
        manager.otps.authenticate(code, method_id)
    assert reused.value.error_type == "otp_code_not_found"

    with pytest.raises(StytchAPIError) as bad:
        manager.otps.sms.login_or_create("not a number")
    assert bad.value.error_type == "invalid_phone_number"


def test_an_expired_sms_code_is_refused(make_manager, emu) -> None:
    manager = make_manager()

    async def late() -> None:
        method_id = await manager.otps.sms.login_or_create_async(PHONE, expiration_minutes=2)
        _, code = emu.last_sms_otp(PHONE)
        emu.advance_clock(3 * 60)
        await manager.otps.authenticate_async(code, method_id)

    with pytest.raises(StytchAPIError) as expired:
        asyncio.run(late())
    assert expired.value.error_type == "unable_to_auth_otp_code"
    assert manager.signed_out


# ---- TOTP --------------------------------------------------------------------------------------


def test_totp_enrollment_hides_its_secrets_until_asked(make_manager, emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    manager = make_manager()
    with pytest.raises(NotSignedInError):
        manager.totps.create()
    manager.passwords.authenticate(EMAIL, STRONG)
    enrollment = manager.totps.create()
    secret, codes = enrollment.reveal_secret(), enrollment.reveal_recovery_codes()
    assert len(secret) >= 16 and len(codes) >= 5
    shown = repr(enrollment) + str(enrollment)
    for hidden in (secret, *codes, enrollment.qr_code_data_url()):
        assert hidden not in shown
    assert enrollment.totp_id in shown
    assert not hasattr(enrollment, "__dict__")  # vars() has nothing to show
    assert enrollment.qr_code_png().startswith(b"\x89PNG")
    image = enrollment.qr_code_image()
    shown_as, _ = DisplayFormatter().format(image)  # what a cell's last line would show
    assert shown_as["image/png"] == enrollment.qr_code_png()
    assert (
        secret not in repr(image) and "image/png" not in DisplayFormatter().format(repr(image))[0]
    )
    with pytest.raises(TypeError):
        pickle.dumps(enrollment)
    [listed] = manager.totps.recovery_codes()
    assert listed.totp_id == enrollment.totp_id and listed.reveal() == codes
    assert all(code not in repr(listed) for code in codes)


def test_totp_authenticate_and_recover(make_manager, emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    manager = make_manager()
    manager.passwords.authenticate(EMAIL, STRONG)
    enrollment = manager.totps.create()
    secret = enrollment.reveal_secret()
    heard = told(manager)
    now = emu.advance_clock(0)

    # A code from two windows away (60 s and more) is refused; the session stays as it was.
    before = manager.session_token
    with pytest.raises(StytchAPIError) as early:
        manager.totps.authenticate(totp_code(secret, now + timedelta(seconds=90)))
    assert early.value.error_type == "invalid_totp_code"
    assert manager.session_token == before and heard == []

    response = manager.totps.authenticate(totp_code(secret, now))
    assert response.totp_id == enrollment.totp_id
    factors = {f.type for f in response.session.authentication_factors}
    assert factors == {"password", "totp"}
    assert manager.user is not None and manager.user.totps[0].verified
    assert stored_token(manager) == response.session_token

    code = enrollment.reveal_recovery_codes()[0]
    recovered = asyncio.run(manager.totps.recover_async(code))
    assert recovered.totp_id == enrollment.totp_id
    with pytest.raises(StytchAPIError) as again:
        manager.totps.recover(code)
    assert again.value.error_type == "unable_to_authenticate_recovery_code"
    assert code not in str(again.value)
    [left] = manager.totps.recovery_codes()
    assert code not in left.reveal() and len(left) == len(enrollment.reveal_recovery_codes()) - 1


# ---- users -------------------------------------------------------------------------------------


def test_users_update_and_delete_a_factor_refresh_stytch_user(make_manager, emu) -> None:
    emu.create_user(EMAIL, password=STRONG)
    manager = make_manager()
    with pytest.raises(NotSignedInError):
        manager.users.update(name={"first_name": "Ada"})
    manager.passwords.authenticate(EMAIL, STRONG)
    user = manager.users.update(
        name={"first_name": "Ada", "last_name": "Lovelace"}, untrusted_metadata={"team": "ae"}
    )
    assert user.name == "Ada Lovelace" and user.untrusted_metadata == {"team": "ae"}
    assert manager.user is not None and manager.user.name == "Ada Lovelace"
    enrollment = manager.totps.create()
    assert manager.users.delete_factor("totps", enrollment.totp_id).totps == ()
    with pytest.raises(StytchAPIError) as gone:
        asyncio.run(manager.users.delete_factor_async("totps", enrollment.totp_id))
    assert gone.value.error_type == "totp_not_found"
    with pytest.raises(ValueError, match="give name or untrusted_metadata"):
        manager.users.update()


# ---- where the mailbox is ----------------------------------------------------------------------


def test_mailbox_url_is_known_from_the_emulators_replies_only(make_manager, emu) -> None:
    manager = make_manager()
    assert manager.mailbox_url is None  # no request yet: nothing is guessed
    manager.otps.email.login_or_create(EMAIL)
    assert manager.mailbox_url == emu.api_url + "/"
    reply = {"data": {"method_id": "phone-number-test-1", "status_code": 200}}
    with HostileServer() as server:
        server.arm("otps/sms/login_or_create", json_reply(200, reply))
        elsewhere = make_manager("elsewhere", api_url=server.url)
        assert elsewhere.otps.sms.login_or_create(PHONE) == "phone-number-test-1"
        assert elsewhere.mailbox_url is None
