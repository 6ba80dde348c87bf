"""Right after ``%load_ext`` a stored session never reads as signed out, and a cell can wait
until it has been checked (issue 8, item 5)."""

from __future__ import annotations

from typing import Any

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL, PASSWORD
from tests.support.shells import run


def stored_session(ip: Any, emulator: Emulator) -> None:
    """Sign in once through the extension, then unload it: the session stays stored."""
    emulator.create_user(EMAIL, password=PASSWORD)
    run(ip, "%load_ext stytch_jupyter")
    ip.user_ns["stytch"].passwords.authenticate(EMAIL, PASSWORD)
    run(ip, "%unload_ext stytch_jupyter")


def test_a_stored_session_reads_as_checking_then_signed_in(
    ip: Any, emulator: Emulator, capsys: Any
) -> None:
    stored_session(ip, emulator)
    capsys.readouterr()
    # One cell, as Run All would run it right after the %load_ext cell.
    result = run(
        ip,
        "%load_ext stytch_jupyter\n"
        "first = (stytch.status, stytch.signed_out)\n"
        "%stytch status\n"
        "checked = stytch.wait_until_checked(timeout=10)\n",
    )
    assert result.success, result.error_in_exec
    assert ip.user_ns["first"] == ("unconfirmed", False)
    out = capsys.readouterr().out
    assert "checking the stored session" in out and "signed out" not in out, out
    assert ip.user_ns["checked"] is True
    assert ip.user_ns["stytch"].status == "signed_in"


def test_nothing_stored_is_signed_out_at_once(ip: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    stytch = ip.user_ns["stytch"]
    assert stytch.status == "signed_out"
    assert stytch.wait_until_checked(timeout=0) is True


def test_with_stytch_unreachable_the_wait_ends_with_the_reason(ip: Any, emulator: Emulator) -> None:
    stored_session(ip, emulator)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", drop=True, times=50)
    run(ip, "%load_ext stytch_jupyter")
    stytch = ip.user_ns["stytch"]
    assert stytch.wait_until_checked(timeout=20) is True
    assert stytch.status == "unconfirmed" and stytch.last_error != ""
    assert stytch.session_token is not None  # kept, and checked again later
