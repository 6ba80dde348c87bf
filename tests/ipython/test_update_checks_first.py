"""``%stytch update`` checks tokens with Stytch before it keeps them (issue 8, item 2): a typo
neither replaces this kernel's session nor reaches another process sharing the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stytch_jupyter.api.models import SessionTokens
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from tests.support.session_process import SessionProcess
from tests.support.shells import Prompts, otp_code, run
from tests.support.waiting import wait_for

EMAIL = "ada@example.com"


def test_a_mistyped_update_keeps_the_session_here_and_in_other_processes(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
    tmp_path: Path,
) -> None:
    prompts.answer(otp_code(emulator))
    assert run(ip, f"%stytch login otp --email {EMAIL}").success
    assert stytch.session is not None and stytch.session_token is not None
    session_id, held = stytch.session.session_id, stytch.session_token
    other = SessionProcess(emulator.api_url, emulator.public_token, tmp_path / "stytch-data")
    try:
        assert other.wait_for("signed_in")["session_id"] == session_id
        capsys.readouterr()

        # A token with a typo, and a JWT (a real one, of this very session).
        assert stytch.session_jwt is not None
        prompts.answer(held.value[:-3] + "xyz", stytch.session_jwt.value)
        result = run(ip, "%stytch update")

        assert not result.success
        shown = (capsys.readouterr().out + str(result.error_in_exec)).strip()
        assert "not adopted and the session you had is kept" in shown, shown
        assert stytch.status == "signed_in" and stytch.session_token == held
        assert stytch.session.session_id == session_id
        assert stytch.store is not None
        stored = stytch.store.load()
        assert stored is not None and stored.opaque == held.value
        # The other process saw nothing happen: its next change is the real sign-out below.
        assert run(ip, "%stytch revoke").success
        other.wait_for("signed_out")
        assert [line["status"] for line in other.seen if "status" in line][-2:] == [
            "signed_in",
            "signed_out",
        ], other.seen
    finally:
        other.stop()


def test_update_with_good_tokens_stores_what_stytch_confirmed(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts
) -> None:
    prompts.answer(otp_code(emulator))
    assert run(ip, f"%stytch login otp --email {EMAIL}").success
    assert stytch.session_token is not None and stytch.session_jwt is not None
    tokens = SessionTokens(stytch.session_token.value, stytch.session_jwt.value)
    response = stytch.sessions.update(tokens)
    assert response.session.session_id == stytch.session.session_id
    confirmed = SessionTokens(response.session_token, response.session_jwt)
    store = stytch.store
    assert store is not None
    # The same session: its fresh JWT is written just after the news (off the caller's path).
    wait_for(lambda: store.load() == confirmed, what="the confirmed JWT to be stored")
