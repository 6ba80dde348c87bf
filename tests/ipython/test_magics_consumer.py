"""``%stytch login sms``, ``login totp``, ``password reset`` and ``password strength`` in IPython's
own shell, against the emulator over loopback (getpass answered from a list)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from IPython.core.error import UsageError

from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython.magics import StytchCommandError
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from tests.conftest import EMAIL, PASSWORD
from tests.ipython.test_magics import assert_secrets_nowhere, error_line, sign_in, snapshot
from tests.support.shells import Prompts, run

PHONE = "+447700900123"
STRONGER = "Analytical Engine, 1843: notes G"


def mailbox(emulator: Emulator) -> str:
    return f"(the emulator's mailbox shows it: {emulator.api_url}/)"


def totp_code(secret: str, moment: datetime) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(moment.timestamp()) // 30), hashlib.sha1).digest()
    offset = digest[19] & 15
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


@pytest.mark.parametrize(
    "line",
    [
        "login sms --help",
        "login totp --help",
        "password --help",
        "password reset --help",
        "password strength --help",
    ],
)
def test_each_new_subcommand_has_help(ip: Any, stytch: NotebookStytch, capsys: Any, line: str):
    result = run(ip, f"%stytch {line}")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert out.startswith("usage: %stytch ") and "--help" in out


def test_the_docstring_lists_the_new_subcommands(ip: Any, stytch: NotebookStytch) -> None:
    doc = ip.find_line_magic("stytch").__doc__
    for usage in (
        "login sms --phone",
        "login totp [--recovery]",
        "password reset --email E",
        "password strength [--email E]",
    ):
        assert usage in doc


def test_login_sms_says_where_the_mailbox_is_and_signs_in(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer(lambda: emulator.last_sms_otp(PHONE)[1])
    result = run(ip, f"%stytch login sms --phone {PHONE} --duration 1h")
    assert result.success, result.error_in_exec
    assert prompts.asked == ["Code from the text message: "]
    out = capsys.readouterr().out
    assert f"Texted a one-time code to {PHONE} {mailbox(emulator)}." in out
    assert "Signed in as " in out
    assert stytch.signed_in and stytch.user is not None
    assert stytch.user.phone_numbers[0].phone_number == PHONE
    assert stytch.store is not None and stytch.store.load() is not None


def test_login_sms_with_a_wrong_then_a_reused_code_changes_nothing(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer(lambda: f"{(int(emulator.last_sms_otp(PHONE)[1]) + 1) % 10**6:06d}")
    result = run(ip, f"%stytch login sms --phone {PHONE}")
    assert isinstance(result.error_in_exec, StytchCommandError)
    assert stytch.signed_out
    prompts.answer(lambda: emulator.last_sms_otp(PHONE)[1])
    assert run(ip, f"%stytch login sms --phone {PHONE}").success
    used = emulator.last_sms_otp(PHONE)[1]
    run(ip, "%stytch revoke")
    capsys.readouterr()
    prompts.answer(used)  # a new code was sent; the old one is spent
    result = run(ip, f"%stytch login sms --phone {PHONE}")
    assert isinstance(result.error_in_exec, StytchCommandError)
    assert "otp_code_not_found" in "".join(capsys.readouterr())
    assert stytch.signed_out


@pytest.mark.parametrize("phone", ["493817", "+0123456789", "+1 555 0100", "+1555010099999999"])
def test_a_bad_phone_number_is_one_line_not_echoed_and_sends_nothing(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, capsys: Any, phone: str
) -> None:
    result = run(ip, f"%stytch login sms --phone '{phone}'")
    shown = error_line(result, capsys.readouterr(), UsageError)
    assert "E.164" in shown and phone not in shown
    assert emulator.outbox() == []


def test_login_totp_adds_the_apps_code_and_a_recovery_code(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    result = run(ip, "%stytch login totp")
    shown = error_line(result, capsys.readouterr(), UsageError)
    assert "sign in first" in shown and prompts.asked == []

    sign_in(ip, emulator, prompts)
    enrollment = stytch.totps.create()
    secret = enrollment.reveal_secret()
    now = emulator.advance_clock(0)
    before = snapshot(stytch, emulator)
    capsys.readouterr()
    wrong_window = totp_code(secret, now - timedelta(seconds=90))
    prompts.answer(wrong_window)
    result = run(ip, "%stytch login totp")
    assert isinstance(result.error_in_exec, StytchCommandError)
    assert "invalid_totp_code" in "".join(capsys.readouterr())
    assert snapshot(stytch, emulator) == before

    right = totp_code(secret, emulator.advance_clock(0))
    prompts.answer(right)
    result = run(ip, "%stytch login totp --duration 30m")
    assert result.success, result.error_in_exec
    assert prompts.asked[-1] == "Code from your authenticator app: "
    assert stytch.session is not None
    assert {f.type for f in stytch.session.authentication_factors} == {"otp", "totp"}

    recovery = enrollment.reveal_recovery_codes()[0]
    prompts.answer(recovery, recovery)
    assert run(ip, "%stytch login totp --recovery").success
    assert prompts.asked[-1] == "Recovery code: "
    result = run(ip, "%stytch login totp --recovery")  # each recovery code works once
    assert isinstance(result.error_in_exec, StytchCommandError)
    captured = capsys.readouterr()
    assert "unable_to_authenticate_recovery_code" in captured.out + captured.err
    assert_secrets_nowhere(
        ip,
        captured,
        {"wrong-window code": wrong_window, "code": right, "recovery": recovery, "secret": secret},
    )


def reset_link(emulator: Emulator) -> str:
    return emulator.last_password_reset(EMAIL)


def test_password_reset_by_pasted_link(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    # A weak password first: Stytch's feedback is shown and the new password asked again.
    prompts.answer(lambda: reset_link(emulator), "password1", STRONGER)
    result = run(ip, f"%stytch password reset --email {EMAIL} --duration 2h")
    assert result.success, result.error_in_exec
    assert prompts.asked == [
        "Reset link (or its token): ",
        f"New password for {EMAIL}: ",
        f"New password for {EMAIL}: ",
    ]
    captured = capsys.readouterr()
    assert f"Sent a password reset link to {EMAIL} {mailbox(emulator)}." in captured.out
    assert "Stytch would refuse this password" in captured.err
    assert "Suggestions: " in captured.err and "Try another password." in captured.err
    assert f"Password changed: signed in as {EMAIL}" in captured.out
    assert stytch.signed_in
    stytch.passwords.authenticate(EMAIL, STRONGER)  # the new password took

    # The same link again: refused, one line, the session kept.
    link = reset_link(emulator)
    token = parse_qs(urlsplit(link).query)["token"][0]
    emulator_reset_start = len(emulator.outbox())
    before = stytch.session_token
    prompts.answer(link, STRONGER)
    result = run(ip, f"%stytch password reset --email {EMAIL}")
    assert isinstance(result.error_in_exec, StytchCommandError)
    again = capsys.readouterr()
    assert "unable_to_auth_password_reset_token" in again.out + again.err
    assert len(emulator.outbox()) == emulator_reset_start + 1  # a new link was sent
    assert stytch.session_token == before
    assert_secrets_nowhere(
        ip,
        captured,
        {"password": PASSWORD, "weak": "password1", "new": STRONGER, "token": token},
    )


def test_password_reset_refuses_what_is_not_a_reset_link(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    magic = "http://127.0.0.1:1/cb?stytch_token_type=magic_links&token=abcdefabcdefabcdef"
    prompts.answer(magic)
    result = run(ip, f"%stytch password reset --email {EMAIL}")
    shown = error_line_after_sent(result, capsys.readouterr())
    assert "not a password reset link" in shown and "abcdef" not in shown
    prompts.answer("not a link at all")
    result = run(ip, f"%stytch password reset --email {EMAIL}")
    shown = error_line_after_sent(result, capsys.readouterr())
    assert "nothing changed" in shown
    assert stytch.signed_out
    run(ip, f"%stytch password reset --email {EMAIL} --token x")
    assert "hidden prompt" in "".join(capsys.readouterr())


def error_line_after_sent(result: Any, captured: Any) -> str:
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    assert captured.out.startswith("Sent a password reset link")
    lines = (captured.out + captured.err).strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in captured.out + captured.err
    return lines[1]


def test_password_strength_prints_stytchs_feedback(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer("password", STRONGER)
    assert run(ip, f"%stytch password strength --email {EMAIL}").success
    weak = capsys.readouterr().out
    assert weak.startswith("Stytch would refuse this password (score ")
    assert "known data breach" in weak and "Suggestions: " in weak
    assert run(ip, "%stytch password strength").success
    strong = capsys.readouterr()
    assert strong.out.startswith("Stytch would accept this password")
    assert prompts.asked == ["Password to check: "] * 2
    assert_secrets_nowhere(ip, strong, {"strong": STRONGER})


def test_completion_offers_the_new_subcommands() -> None:
    from stytch_jupyter.ipython.arguments import complete
    from stytch_jupyter.ipython.magics import parser

    assert complete(parser(), ["password"], "") == ["reset", "strength"]
    assert {"sms", "totp"} <= set(complete(parser(), ["login"], ""))
    assert complete(parser(), ["login", "sms"], "--") == ["--help", "--phone", "--duration"]
    assert "--recovery" in complete(parser(), ["login", "totp"], "--")
