"""``%stytch`` in IPython's own shell, against the emulator over loopback.

Cells are run with ``ip.run_cell`` (history, ``Out`` and error display as in a notebook);
``getpass.getpass`` is the one thing replaced, since there is no human to type a code.
"""

from __future__ import annotations

import _thread
import base64
import json
import signal
import socket
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionResult

from stytch_jupyter.api.models import parse_timestamp
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython import magics as magics_module
from stytch_jupyter.ipython.magics import StytchCommandError
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session.locality import REMOTE_ENV
from stytch_jupyter.session.redirect import flows as flows_module
from stytch_jupyter.session.redirect.loopback import open_listeners
from tests.conftest import EMAIL, PASSWORD
from tests.support import emulator_http as loopback
from tests.support.secret_scan import assert_no_secrets
from tests.support.shells import Prompts, otp_code, run
from tests.support.waiting import wait_for

BAD_DURATIONS = ["4m", "367d", "abc", "0", "-5", "4", "30s", "1.5h"]


# ---- helpers -----------------------------------------------------------------------------------


def sign_in(ip: Any, emulator: Emulator, prompts: Prompts, extra: str = "") -> None:
    prompts.answer(otp_code(emulator))
    result = run(ip, f"%stytch login otp --email {EMAIL} {extra}")
    assert result.success, result.error_in_exec


def emulator_sessions(emulator: Emulator, user_id: str) -> list[dict[str, Any]]:
    """The user's live sessions, as Stytch's backend API lists them."""
    response = loopback.get(
        f"{emulator.api_url}/v1/sessions",
        params={"user_id": user_id},
        auth=(emulator.project_id, emulator.secret),
    )
    response.raise_for_status()
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    return sessions


def snapshot(stytch: NotebookStytch, emulator: Emulator) -> tuple[Any, ...]:
    """Everything a failed command must leave as it was, here and at the emulator."""
    user_id = stytch.user.user_id if stytch.user is not None else None
    remote = emulator_sessions(emulator, user_id) if user_id else []
    return (
        stytch.status,
        stytch.session_token,
        stytch.session_jwt,
        stytch.session,
        len(emulator.outbox()),
        remote,
    )


def error_line(result: ExecutionResult, captured: Any, kind: type[BaseException]) -> str:
    """The one line IPython showed for a failed cell (and no traceback)."""
    assert isinstance(result.error_in_exec, kind), result.error_in_exec
    shown = (captured.out + captured.err).strip()
    assert "Traceback" not in shown
    lines = shown.splitlines()
    assert len(lines) == 1, shown
    return lines[0]


def expires_in_minutes(stytch: NotebookStytch) -> float:
    assert stytch.session is not None and stytch.session.expires_at is not None
    return (stytch.session.expires_at - stytch.server_now()).total_seconds() / 60


def assert_secrets_nowhere(ip: Any, captured: Any, secrets: dict[str, str]) -> None:
    """Not in what was printed, not in ``Out``, not in the input history (memory or sqlite)."""
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "Out": repr(ip.user_ns.get("Out")),
        "input_hist_raw": "\n".join(ip.history_manager.input_hist_raw),
        "input_hist_parsed": "\n".join(ip.history_manager.input_hist_parsed),
        "output_hist": repr(ip.history_manager.output_hist),
    }
    ip.history_manager.writeout_cache()
    stored = "\n".join(str(row) for row in ip.history_manager.get_range(output=True))
    texts["history db"] = stored
    assert_no_secrets(secrets, texts=texts)


# ---- help, status, usage errors ---------------------------------------------------------------


def test_help_text_reads_as_text(ip: Any, stytch: NotebookStytch) -> None:
    """%stytch? shows the docstring as it is: no reST markup, no undefined placeholder."""
    doc = ip.find_line_magic("stytch").__doc__
    assert "``" not in doc
    assert "D, a duration:" in doc and "extend it to D" not in doc


def test_a_refused_duration_says_what_to_do(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    sign_in(ip, emulator, prompts)
    emulator.add_fault(
        path_prefix="/sdk/v1/sessions/authenticate",
        status=400,
        error_type="invalid_session_duration",
    )
    capsys.readouterr()
    result = run(ip, "%stytch authenticate --duration 2h")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert "does not allow 120-minute sessions" in shown and "Stytch dashboard" in shown
    assert "%config Stytch.session_duration_minutes = 5" in shown


def test_docstring_lists_every_subcommand(ip: Any, stytch: NotebookStytch, capsys: Any) -> None:
    doc = ip.find_line_magic("stytch").__doc__
    for usage in (
        "status",
        "authenticate [--duration D]",
        "revoke [--force]",
        "update",
        "login otp --email E",
        "login magic-link --email E [--paste]",
        "login password --email E",
        "widget",
        "heartbeat [status|start|stop|now]",
    ):
        assert usage in doc
    ip.run_cell("%stytch?")
    assert "login magic-link" in capsys.readouterr().out


def test_status_signed_out_makes_no_request(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, capsys: Any
) -> None:
    for line in ("%stytch", "%stytch status"):
        result = run(ip, line)
        assert result.success and result.result is None
        out = capsys.readouterr().out
        assert "signed out" in out
        assert "%stytch login otp" in out
        assert emulator.api_url in out
    assert emulator.outbox() == []


@pytest.mark.parametrize("word", ["--help", "-h"])
@pytest.mark.parametrize(
    "line", ["", "status", "authenticate", "login", "login otp", "login magic-link", "heartbeat"]
)
def test_help_prints_and_does_not_exit(
    ip: Any, stytch: NotebookStytch, capsys: Any, line: str, word: str
) -> None:
    result = run(ip, f"%stytch {line} {word}")
    assert result.success, result.error_in_exec
    assert result.result is None
    out = capsys.readouterr().out
    assert out.startswith(f"usage: %stytch {line}".rstrip())
    if line == "login otp":
        assert "--email E" in out and "--duration D" in out and "366" in out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("frobnicate", "invalid choice (choose from 'status', 'authenticate'"),
        ("login", "required: METHOD"),
        ("login otp", "required: --email"),
        ("login fax --email a@b.co", "invalid choice (choose from 'otp', 'magic-link'"),
        ("login sms --email a@b.co", "required: --phone"),
        ("login sms --phone 12345", "--phone: not a phone number in E.164 form"),
        ("password", "required: ACTION"),
        ("password reset", "required: --email"),
        ("password reset --email nope", "--email: not an email address"),
        ("login totp --code 123456", "unrecognized option --code"),
        ("login password --email", "expected one argument"),
        ("login otp --email not-an-email", "--email: not an email address"),
        ("revoke --forse", "unrecognized option --forse"),
        ("status now", "unexpected argument"),
        ("heartbeat pause", "argument action: invalid choice (choose from 'status'"),
        ("login otp --email 'a@b.co", "No closing quotation"),
        ("authenticate --dur 30m", "unrecognized option --dur"),
    ],
)
def test_usage_mistakes_are_one_line_and_change_nothing(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
    line: str,
    expected: str,
) -> None:
    sign_in(ip, emulator, prompts)
    before = snapshot(stytch, emulator)
    capsys.readouterr()
    result = run(ip, f"%stytch {line}")
    shown = error_line(result, capsys.readouterr(), UsageError)
    assert shown.startswith("UsageError: %stytch")
    assert expected in shown
    assert snapshot(stytch, emulator) == before
    assert prompts.asked == ["Code from the email: "]  # only the sign-in's


@pytest.mark.parametrize("duration", BAD_DURATIONS)
@pytest.mark.parametrize("command", ["authenticate", f"login otp --email {EMAIL}"])
def test_bad_durations_fail_before_any_request(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
    command: str,
    duration: str,
) -> None:
    sign_in(ip, emulator, prompts)
    before = snapshot(stytch, emulator)
    capsys.readouterr()
    result = run(ip, f"%stytch {command} --duration={duration}")
    shown = error_line(result, capsys.readouterr(), UsageError)
    assert "--duration" in shown
    assert "out of range" in shown or "is not a duration" in shown
    # Nothing reached the emulator: no email, the session's last access unchanged.
    assert snapshot(stytch, emulator) == before


def test_a_secret_typed_as_an_option_is_rejected_and_not_echoed(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, capsys: Any
) -> None:
    for line in (
        f"%stytch login otp --email {EMAIL} --code 493817",
        f"%stytch login otp --email {EMAIL} --code=493817",
        f"%stytch login password --email {EMAIL} --password hunter2-secret",
        f"%stytch login otp --email {EMAIL} 493817",
    ):
        result = run(ip, line)
        shown = error_line(result, capsys.readouterr(), UsageError)
        assert "493817" not in shown and "hunter2-secret" not in shown
        assert "hidden prompt" in shown
    assert emulator.outbox() == []
    assert stytch.status == "signed_out"


def _fake_jwt(header: dict[str, str], claims: dict[str, str]) -> str:
    # Built at run time: a literal JWT in a tracked file looks like a leaked secret.
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.c2lnLXNlY3JldA"


SESSION_JWT = _fake_jwt({"alg": "RS256", "kid": "jwk-test"}, {"sub": "user-test"})
SESSION_TOKEN = "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q"


@pytest.mark.parametrize(
    ("line", "secret", "expected"),
    [
        (SESSION_JWT, SESSION_JWT, "invalid choice (choose from 'status'"),
        ("login 493817", "493817", "invalid choice (choose from 'otp', 'magic-link'"),
        (f"heartbeat {SESSION_TOKEN}", SESSION_TOKEN, "argument action: invalid choice"),
        (f"revoke --force={SESSION_TOKEN}", SESSION_TOKEN, "argument --force: ignored"),
        ("authenticate --duration 9876543210", "9876543210", "--duration: out of range"),
        (f"authenticate --duration {SESSION_TOKEN}", SESSION_TOKEN, "is not a duration"),
        ("login otp --email 493817", "493817", "--email: not an email address"),
        (f"status {SESSION_TOKEN}", SESSION_TOKEN, "unexpected argument"),
    ],
)
def test_a_secret_typed_in_the_wrong_place_is_not_echoed(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    capsys: Any,
    line: str,
    secret: str,
    expected: str,
) -> None:
    result = run(ip, f"%stytch {line}")
    shown = error_line(result, capsys.readouterr(), UsageError)
    assert expected in shown
    assert secret not in shown
    assert secret[:8] not in shown  # not even a recognisable part of it
    assert emulator.outbox() == []


# ---- sign-in ----------------------------------------------------------------------------------


def test_login_otp_signs_in_and_no_secret_is_left_anywhere(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer(otp_code(emulator))
    result = run(ip, f"%stytch login otp --email {EMAIL} --duration 2h")
    assert result.success, result.error_in_exec
    assert result.result is None
    assert prompts.asked == ["Code from the email: "]
    assert stytch.status == "signed_in"
    assert stytch.user is not None and stytch.user.email == EMAIL
    assert 115 < expires_in_minutes(stytch) <= 120
    captured = capsys.readouterr()
    mailbox = f"(the emulator's mailbox shows it: {emulator.api_url}/)"
    assert f"Sent a one-time code to {EMAIL} {mailbox}." in captured.out
    assert f"Signed in as {EMAIL}, expires " in captured.out
    assert "(in 119 min)" in captured.out or "(in 120 min)" in captured.out

    run(ip, "%stytch status")
    run(ip, "stytch")
    run(ip, "stytch.session_token")
    captured_after = capsys.readouterr()
    assert "signed in as ada@example.com" in captured_after.out
    assert stytch.session_token is not None and stytch.session_jwt is not None
    _, code = emulator.last_otp(EMAIL)
    secrets = {
        "otp code": code,
        "session token": stytch.session_token.value,
        "session jwt": stytch.session_jwt.value,
    }
    assert_secrets_nowhere(ip, _join(captured, captured_after), secrets)


def test_login_otp_with_a_wrong_code_is_one_line_and_changes_nothing(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer(lambda: "000000" if otp_code(emulator)() != "000000" else "111111")
    result = run(ip, f"%stytch login otp --email {EMAIL}")
    captured = capsys.readouterr()
    assert isinstance(result.error_in_exec, StytchCommandError)
    shown = (captured.out + captured.err).strip().splitlines()
    assert shown[0].startswith(f"Sent a one-time code to {EMAIL} (the emulator's mailbox")
    assert len(shown) == 2 and shown[1].startswith("StytchAPIError: ")
    assert "Traceback" not in captured.out + captured.err
    assert stytch.status == "signed_out" and stytch.session_token is None


def test_an_empty_answer_is_a_usage_error(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer("   ")
    result = run(ip, f"%stytch login otp --email {EMAIL}")
    assert isinstance(result.error_in_exec, UsageError)
    assert "nothing was entered" in capsys.readouterr().err
    assert stytch.status == "signed_out"


def test_login_password(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    prompts.answer("not the password at all")
    result = run(ip, f"%stytch login password --email {EMAIL}")
    assert isinstance(result.error_in_exec, StytchCommandError)
    assert stytch.status == "signed_out"

    prompts.answer(PASSWORD)
    result = run(ip, f"%stytch login password --email {EMAIL} --duration 1d")
    assert result.success, result.error_in_exec
    assert prompts.asked == [f"Password for {EMAIL}: "] * 2
    assert stytch.status == "signed_in"
    assert 1435 < expires_in_minutes(stytch) <= 1440
    captured = capsys.readouterr()
    assert f"Signed in as {EMAIL}" in captured.out
    assert stytch.session_token is not None
    assert_secrets_nowhere(
        ip,
        captured,
        {"password": PASSWORD, "wrong password": "not the password at all"},
    )


def test_login_magic_link_through_the_loopback_listener(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, capsys: Any
) -> None:
    browser: dict[str, Any] = {}

    def open_link_in_browser() -> None:
        wait_for(lambda: any(m["kind"] == "magic_link" for m in emulator.outbox(EMAIL)))
        url = emulator.last_magic_link(EMAIL)
        browser["url"] = url
        browser["response"] = loopback.get(url, follow_redirects=True, timeout=30)

    opener = threading.Thread(target=open_link_in_browser)
    opener.start()
    result = run(ip, f"%stytch login magic-link --email {EMAIL} --duration 45")
    opener.join(30)
    assert result.success, result.error_in_exec

    link = urlsplit(browser["url"])
    assert link.scheme == "http" and link.hostname == "127.0.0.1"
    assert link.path == "/stytch-jupyter/callback" and len(parse_qs(link.query)["flow"][0]) >= 22
    token = parse_qs(link.query)["token"][0]
    page: httpx.Response = browser["response"]
    assert page.status_code == 200
    assert "You&#x27;re signed in" in page.text or "You're signed in" in page.text
    assert EMAIL in page.text and "notebook" in page.text
    assert token not in page.text
    assert page.headers["cache-control"] == "no-store"

    assert stytch.status == "signed_in" and stytch.user is not None
    assert stytch.user.email == EMAIL
    assert 40 < expires_in_minutes(stytch) <= 45
    assert open_listeners() == 0
    captured = capsys.readouterr()
    assert "Open it in a browser on this machine" in captured.out
    assert f"Signed in as {EMAIL}" in captured.out
    assert stytch.session_token is not None
    assert_secrets_nowhere(
        ip, captured, {"magic link token": token, "session": stytch.session_token.value}
    )


def test_a_browser_preconnect_does_not_block_the_magic_link(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    # Bounded, so that a listener stuck on the idle connection fails this test, not the run.
    stytch.config.redirect_timeout = 10.0
    browser: dict[str, Any] = {}

    def preconnect_then_open_link() -> None:
        wait_for(lambda: any(m["kind"] == "magic_link" for m in emulator.outbox(EMAIL)))
        url = emulator.last_magic_link(EMAIL)
        port = urlsplit(url).port
        assert port is not None
        browser["port"] = port
        # A browser's speculative preconnect: a TCP connection that never sends a request.
        browser["idle"] = socket.create_connection(("127.0.0.1", port))
        browser["response"] = loopback.get(url, timeout=15)

    opener = threading.Thread(target=preconnect_then_open_link)
    opener.start()
    try:
        result = run(ip, f"%stytch login magic-link --email {EMAIL}")
        opener.join(30)
        assert result.success, result.error_in_exec
        assert stytch.status == "signed_in"
        page: httpx.Response = browser["response"]
        assert page.status_code == 200 and "signed in" in page.text
        # The cell has ended: nothing of the listener is left, not even for the idle socket.
        assert open_listeners() == 0
        idle: socket.socket = browser["idle"]
        idle.settimeout(5)
        assert idle.recv(1) == b""  # the server closed its end
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", browser["port"]), timeout=5).close()
    finally:
        opener.join(30)
        if "idle" in browser:
            browser["idle"].close()


def test_a_magic_link_the_server_refuses_tells_the_browser_and_the_cell(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, capsys: Any
) -> None:
    browser: dict[str, Any] = {}

    def open_link() -> None:
        wait_for(lambda: any(m["kind"] == "magic_link" for m in emulator.outbox(EMAIL)))
        emulator.add_fault(path_prefix="/sdk/v1/magic_links/authenticate", status=500)
        browser["response"] = loopback.get(emulator.last_magic_link(EMAIL), timeout=30)

    opener = threading.Thread(target=open_link)
    opener.start()
    result = run(ip, f"%stytch login magic-link --email {EMAIL}")
    opener.join(30)
    assert isinstance(result.error_in_exec, StytchCommandError)
    page: httpx.Response = browser["response"]
    assert page.status_code == 400 and "Not signed in" in page.text
    assert stytch.status == "signed_out"
    assert open_listeners() == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("StytchAPIError: ")


def test_login_magic_link_by_paste(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prompts.answer(lambda: emulator.last_magic_link(EMAIL))
    result = run(ip, f"%stytch login magic-link --email {EMAIL} --paste")
    assert result.success, result.error_in_exec
    assert prompts.asked == ["Sign-in link: "]
    assert stytch.status == "signed_in"
    link = emulator.last_magic_link(EMAIL)
    # No listener: the link goes to the project's own redirect URL (the emulator's page).
    assert link.startswith(emulator.api_url)

    # A remote kernel (here: said so by the environment) pastes too; a bare token is fine.
    monkeypatch.setenv(REMOTE_ENV, "1")
    prompts.answer(lambda: parse_qs(urlsplit(emulator.last_magic_link(EMAIL)).query)["token"][0])
    result = run(ip, f"%stytch login magic-link --email {EMAIL}")
    assert result.success, result.error_in_exec
    assert open_listeners() == 0
    captured = capsys.readouterr()
    assert captured.out.count(f"Signed in as {EMAIL}") == 2
    tokens = [parse_qs(urlsplit(m["url"]).query)["token"][0] for m in emulator.outbox(EMAIL)]
    assert_secrets_nowhere(ip, captured, {f"link {i}": t for i, t in enumerate(tokens)})


def test_when_the_listener_cannot_bind_the_link_is_pasted(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A documentation address (TEST-NET-1) is on no interface here: binding it fails for real.
    monkeypatch.setattr(flows_module, "LOOPBACK_HOST", "192.0.2.1")
    prompts.answer(lambda: emulator.last_magic_link(EMAIL))
    result = run(ip, f"%stytch login magic-link --email {EMAIL}")
    assert result.success, result.error_in_exec
    assert prompts.asked == ["Sign-in link: "]
    assert stytch.status == "signed_in"
    err = capsys.readouterr().err
    assert err.startswith("Cannot listen on 192.0.2.1") and "paste the link" in err


def interrupter_of_the_wait(monkeypatch: pytest.MonkeyPatch) -> threading.Thread:
    """A thread that interrupts the main one (what Ctrl-C / "interrupt the kernel" does) once
    the cell waits for the redirect. Not once the link is in the outbox: the email request may
    not have returned by then, and an interrupt there cancels the sign-in before any wait."""
    waiting = threading.Event()
    real_wait = flows_module.RedirectFlow.wait

    def wait(flow: flows_module.RedirectFlow, timeout: float | None = None) -> Any:
        waiting.set()
        return real_wait(flow, timeout)

    monkeypatch.setattr(flows_module.RedirectFlow, "wait", wait)

    def interrupt_once_waiting() -> None:
        if waiting.wait(10):
            _thread.interrupt_main()

    return threading.Thread(target=interrupt_once_waiting)


def test_interrupting_the_wait_for_a_magic_link_closes_the_listener(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, capsys: Any, monkeypatch: Any
) -> None:
    interrupter = interrupter_of_the_wait(monkeypatch)
    # interrupt_main() does nothing where SIGINT is ignored (a launcher that ignores it, as
    # background jobs do): give this test Python's own handler, as a kernel has.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupter.start()
        result = run(ip, f"%stytch login magic-link --email {EMAIL}")
        interrupter.join(10)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert open_listeners() == 0
    assert stytch.status == "signed_out"
    # The link now leads nowhere: nothing listens at its address any more.
    with pytest.raises(httpx.ConnectError):
        loopback.get(emulator.last_magic_link(EMAIL))


def test_pasting_something_that_is_not_a_link_changes_nothing(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
) -> None:
    prompts.answer("https://example.com/welcome?stytch_token_type=oauth&token=abc")
    result = run(ip, f"%stytch login magic-link --email {EMAIL} --paste")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "expects a magic link token, not an OAuth one: nothing changed" in err
    assert len(err.strip().splitlines()) == 1
    assert stytch.status == "signed_out"


def test_a_network_failure_is_one_line(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, capsys: Any
) -> None:
    emulator.add_fault(path_prefix="/sdk/v1/otps", drop=True)
    stytch.config.timeout = 1.0
    result = run(ip, f"%stytch login otp --email {EMAIL}")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert shown.startswith(("StytchNetworkError: ", "StytchTimeoutError: "))
    assert stytch.status == "signed_out"


def test_no_public_token_is_one_line(
    ip: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("STYTCH_PUBLIC_TOKEN")
    run(ip, "%load_ext stytch_jupyter")
    result = run(ip, f"%stytch login otp --email {EMAIL}")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert shown.startswith("ConfigurationError: no Stytch public token")


# ---- the session: authenticate, revoke, update ----------------------------------------------


def test_authenticate_checks_and_extends(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    result = run(ip, "%stytch authenticate")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert shown.startswith("NotSignedInError: not signed in")

    sign_in(ip, emulator, prompts)
    assert expires_in_minutes(stytch) <= 5
    capsys.readouterr()
    result = run(ip, "%stytch authenticate")
    assert result.success and result.result is None
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"Session valid for {EMAIL}, expires 20")
    assert out.endswith("min).")
    assert expires_in_minutes(stytch) <= 5

    result = run(ip, "%stytch authenticate --duration 30m")
    assert result.success
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"Session extended for {EMAIL}, expires ")
    assert "(in 29 min)" in out or "(in 30 min)" in out
    assert 29 < expires_in_minutes(stytch) <= 30
    remote = emulator_sessions(emulator, stytch.session.user_id if stytch.session else "")
    remote_expiry = parse_timestamp(remote[0]["expires_at"])
    assert remote_expiry == stytch.session.expires_at if stytch.session else False


def test_authenticate_of_a_session_revoked_elsewhere_signs_out(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    sign_in(ip, emulator, prompts)
    assert stytch.session_token is not None
    emulator.revoke_session(session_token=stytch.session_token.value)
    capsys.readouterr()
    result = run(ip, "%stytch authenticate")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert shown.startswith("StytchAPIError: session_not_found")
    assert stytch.status == "signed_out"


def test_revoke(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    sign_in(ip, emulator, prompts)
    assert stytch.user is not None
    user_id = stytch.user.user_id
    assert len(emulator_sessions(emulator, user_id)) == 1

    # Stytch fails: without --force nothing changes, here or there.
    emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", status=500)
    before = snapshot(stytch, emulator)
    capsys.readouterr()
    result = run(ip, "%stytch revoke")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert shown.startswith("StytchAPIError: ")
    assert snapshot(stytch, emulator) == before

    result = run(ip, "%stytch revoke")
    assert result.success, result.error_in_exec
    assert "revoked at Stytch" in capsys.readouterr().out
    assert stytch.status == "signed_out" and stytch.session_token is None
    assert emulator_sessions(emulator, user_id) == []

    result = run(ip, "%stytch revoke")
    assert error_line(result, capsys.readouterr(), StytchCommandError).startswith(
        "NotSignedInError: "
    )


@pytest.mark.parametrize(
    "fault", [{"drop": True}, {"status": 503}], ids=["offline", "server error"]
)
def test_revoke_that_fails_says_the_session_was_kept_and_how_to_force(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
    fault: dict[str, Any],
) -> None:
    sign_in(ip, emulator, prompts)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", **fault)
    capsys.readouterr()
    result = run(ip, "%stytch revoke")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert "the session was not revoked and is kept here" in shown
    assert "%stytch revoke --force" in shown
    assert stytch.status == "signed_in" and stytch.session_token is not None


def test_revoke_force_forgets_the_session_even_when_stytch_fails(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    sign_in(ip, emulator, prompts)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", status=503)
    capsys.readouterr()
    result = run(ip, "%stytch revoke --force")
    assert result.success, result.error_in_exec
    err = capsys.readouterr().err.strip()
    assert err.startswith("Warning: Stytch could not revoke the session") and "--force" in err
    assert len(err.splitlines()) == 1
    assert stytch.status == "signed_out" and stytch.session_token is None


def _tokens_from_elsewhere(emulator: Emulator) -> tuple[str, str, str]:
    """A session signed in by another program: (opaque, jwt, session_id)."""
    config = Stytch(
        public_token=emulator.public_token, api_url=emulator.api_url, token_store="memory"
    )
    with SessionManager(config) as other:
        method_id = other.otps.email.login_or_create(EMAIL)
        response = other.otps.authenticate(emulator.last_otp(EMAIL)[1], method_id)
    return response.session_token, response.session_jwt, response.session.session_id


def test_update_adopts_tokens_typed_at_hidden_prompts(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    opaque, jwt, session_id = _tokens_from_elsewhere(emulator)
    prompts.answer(opaque, jwt)
    result = run(ip, "%stytch update")
    assert result.success, result.error_in_exec
    assert prompts.asked == ["Session token (opaque): ", "Session JWT: "]
    assert stytch.status == "signed_in"
    assert stytch.session is not None and stytch.session.session_id == session_id
    captured = capsys.readouterr()
    assert captured.out.startswith(f"Tokens adopted: signed in as {EMAIL}")
    assert_secrets_nowhere(ip, captured, {"opaque": opaque, "jwt": jwt})


def test_update_with_malformed_tokens_changes_nothing(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    sign_in(ip, emulator, prompts)
    before = snapshot(stytch, emulator)
    capsys.readouterr()
    prompts.answer("an-opaque-token-of-sorts", "not-a-jwt")
    result = run(ip, "%stytch update")
    shown = error_line(result, capsys.readouterr(), UsageError)
    assert "not a JWT" in shown and "not-a-jwt" not in shown
    assert snapshot(stytch, emulator) == before


def test_update_with_revoked_tokens_ends_signed_out(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    opaque, jwt, _ = _tokens_from_elsewhere(emulator)
    emulator.revoke_session(session_token=opaque)
    prompts.answer(opaque, jwt)
    result = run(ip, "%stytch update")
    shown = error_line(result, capsys.readouterr(), StytchCommandError)
    assert shown.startswith("StytchAPIError: ")
    assert opaque not in shown and jwt not in shown
    wait_for(lambda: stytch.status == "signed_out")


# ---- widget and heartbeat ---------------------------------------------------------------------


def test_widget_is_returned_for_display(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts
) -> None:
    from stytch_jupyter.ipython.widget import SessionWidget

    sign_in(ip, emulator, prompts)
    result = run(ip, "%stytch widget")
    assert result.success, result.error_in_exec
    widget = result.result
    try:
        assert isinstance(widget, SessionWidget)
        assert widget.state["status"] == f"Signed in as {EMAIL}"
        assert widget.state["kind"] == "signed-in"  # the page renders stytch-signed-in from it
    finally:
        widget.close()


def test_heartbeat_subcommands(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    run(ip, "%stytch heartbeat now")
    assert capsys.readouterr().out.strip() == "Not signed in: nothing to check."
    # start returns with the plan published (no polling): idle, as there is nothing to check.
    run(ip, "%stytch heartbeat stop")
    run(ip, "%stytch heartbeat start")
    assert stytch.heartbeat_state == "idle"
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("Heartbeat: idle (every")

    sign_in(ip, emulator, prompts)
    wait_for(lambda: stytch.heartbeat_state == "scheduled")
    capsys.readouterr()
    for line in ("%stytch heartbeat", "%stytch heartbeat status"):
        run(ip, line)
        out = capsys.readouterr().out.strip()
        assert out.startswith("Heartbeat: scheduled, next check in ")
        assert "(every 180 s, checks only)" in out

    run(ip, "%stytch heartbeat stop")
    assert stytch.heartbeat_state == "stopped"
    assert capsys.readouterr().out.strip().startswith("Heartbeat: stopped")

    validated = stytch.last_validated_at
    run(ip, "%stytch heartbeat now")
    out = capsys.readouterr().out
    assert out.startswith("Checked: session valid, expires ")
    assert stytch.last_validated_at is not None and validated is not None
    assert stytch.last_validated_at > validated

    run(ip, "%stytch heartbeat start")
    assert stytch.heartbeat_state == "scheduled"
    assert capsys.readouterr().out.strip().startswith("Heartbeat: scheduled")

    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=503)
    run(ip, "%stytch heartbeat now")
    out = capsys.readouterr().out
    assert out.startswith("Checked: ") and "session is kept" in out
    assert stytch.status == "signed_in"


# ---- OAuth and resume ------------------------------------------------------------------------


def test_login_oauth_prints_the_start_url_and_refuses_a_magic_link_token(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer(
        lambda: "https://example.com/?stytch_token_type=magic_links&token=not-an-oauth-token"
    )
    line = (
        "%stytch login oauth google --paste --scope email --scope profile "
        "--provider-param prompt=select_account"
    )
    result = run(ip, line)
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    started = next(w for w in captured.out.split() if w.startswith(emulator.api_url))
    url = urlsplit(started)
    query = parse_qs(url.query)
    assert url.path == "/v1/public/oauth/google/start"
    assert query["custom_scopes"] == ["email profile"]
    assert query["provider_prompt"] == ["select_account"]
    assert "code_challenge" in query and "code_verifier" not in started
    assert captured.err.strip() == (
        "UsageError: %stytch login oauth: this sign-in expects an OAuth token, not a magic link "
        "one: nothing changed"
    )
    assert stytch.status == "signed_out"
    assert [flow.token_type for flow in stytch.redirect.pending()] == ["oauth"]


def test_login_oauth_bad_provider_param_is_a_usage_error(
    ip: Any, stytch: NotebookStytch, capsys: Any
) -> None:
    result = run(ip, "%stytch login oauth github --provider-param nonsense")
    assert isinstance(result.error_in_exec, UsageError)
    assert "KEY=VALUE" in capsys.readouterr().err
    assert stytch.redirect.pending() == []


def test_resume_after_an_interrupted_wait_signs_in_with_the_pasted_link(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    prompts: Prompts,
    capsys: Any,
    monkeypatch: Any,
) -> None:
    interrupter = interrupter_of_the_wait(monkeypatch)
    # As in the test above: Python's own SIGINT handler, whatever the launcher set.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupter.start()
        result = run(ip, f"%stytch login magic-link --email {EMAIL}")
        interrupter.join(10)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert open_listeners() == 0
    # The browser could not reach the kernel; the user copies the address it tried to open.
    prompts.answer(lambda: emulator.last_magic_link(EMAIL))
    result = run(ip, "%stytch login resume")
    assert result.success, result.error_in_exec
    assert stytch.status == "signed_in"
    assert f"Signed in as {EMAIL}" in capsys.readouterr().out
    # Pasting the same link again: refused, one line, nothing changed.
    token = stytch.session_token
    prompts.answer(lambda: emulator.last_magic_link(EMAIL))
    result = run(ip, "%stytch login resume")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err.strip()
    assert err.startswith("UsageError: %stytch login resume: no sign-in is waiting")
    assert len(err.splitlines()) == 1
    assert stytch.session_token == token


# ---- completion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected", "absent"),
    [
        ("%stytch ", {"status", "authenticate", "login", "heartbeat", "widget"}, {"--email"}),
        ("%stytch lo", {"login"}, {"status"}),
        ("%stytch login ", {"otp", "magic-link", "password"}, {"status"}),
        ("%stytch login m", {"magic-link"}, {"otp"}),
        ("%stytch login magic-link --", {"--email", "--paste", "--duration"}, {"--code"}),
        ("%stytch login otp --email a@b.co --", {"--duration"}, {"--email", "--paste"}),
        ("%stytch login ", {"oauth", "resume"}, set()),
        ("%stytch login oauth ", {"google", "github", "microsoft", "apple"}, {"--email"}),
        ("%stytch login oauth g", {"google", "github", "gitlab"}, {"apple"}),
        ("%stytch login oauth google --", {"--scope", "--provider-param", "--paste"}, {"--email"}),
        ("%stytch revoke --", {"--force"}, set()),
        ("%stytch heartbeat ", {"status", "start", "stop", "now"}, set()),
        ("%stytch authenticate --duration ", {"30m", "2h"}, set()),
    ],
)
def test_completion(
    ip: Any, stytch: NotebookStytch, line: str, expected: set[str], absent: set[str]
) -> None:
    found = completions(ip, line)
    assert expected <= found, found
    assert not absent & found
    assert "abs" not in found  # no Python builtins after %stytch (Jedi is held back)


def completions(ip: Any, line: str) -> set[str]:
    """What a notebook's Tab offers (ipykernel asks ``Completer.completions``)."""
    with provisionalcompleter():
        offered = list(ip.Completer.completions(line, len(line)))
    # A completion replaces line[start:end]: ours must extend what was typed.
    for completion in offered if line.startswith("%stytch") else ():
        typed = line[completion.start : completion.end]
        assert completion.text.startswith(typed), (completion, typed)
    return {completion.text for completion in offered}


def test_completion_leaves_other_lines_alone(ip: Any, stytch: NotebookStytch) -> None:
    assert "status" in completions(ip, "stytch.sta")  # the object's trait, not a subcommand
    assert "login" not in completions(ip, "x = 1; lo")


def test_completion_is_gone_after_unload(ip: Any, stytch: NotebookStytch) -> None:
    assert "magic-link" in completions(ip, "%stytch login ")
    ip.run_line_magic("unload_ext", "stytch_jupyter")
    assert "magic-link" not in completions(ip, "%stytch login ")


def test_magic_link_times_out_as_one_line(
    ip: Any,
    stytch: NotebookStytch,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    # Short for a test. Whether the deadline passes before or after the email request
    # returns, the wait ends in the same one line with the listener closed.
    stytch.config.redirect_timeout = 0.2
    result = run(ip, f"%stytch login magic-link --email {EMAIL}")
    lines = (capsys.readouterr().out).strip().splitlines()
    assert isinstance(result.error_in_exec, StytchCommandError)
    assert lines[-1].startswith("TimeoutError: no redirect came back within 1 min")
    assert stytch.status == "signed_out"
    assert open_listeners() == 0


def _join(*captures: Any) -> Any:
    class Joined:
        out = "".join(c.out for c in captures)
        err = "".join(c.err for c in captures)

    return Joined


def test_expiry_wording_matches_the_reprs() -> None:
    now = datetime.now(timezone.utc)
    config = Stytch(public_token="public-token-test-x", token_store="memory")
    manager = NotebookStytch(config)
    try:
        text = magics_module.expiry(manager, now + timedelta(minutes=30, seconds=30))
        assert text.startswith("expires 20") and text.endswith("UTC (in 30 min)")
        assert magics_module.expiry(manager, None) == "expiry unknown"
    finally:
        manager.close()


def test_a_failed_redirect_sign_in_shows_no_secret_even_in_a_verbose_traceback(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, capsys: Any
) -> None:
    stytch.config.redirect_route = "paste"
    ip.user_ns["stytch"] = stytch
    flow = stytch.redirect.start_magic_link(EMAIL)
    link = emulator.last_magic_link(EMAIL)
    token = parse_qs(urlsplit(link).query)["token"][0]
    emulator.add_fault(path_prefix="/sdk/v1/magic_links/authenticate", status=500)
    prompts.answer(link)
    run(ip, "%xmode Verbose")
    try:
        result = run(ip, "import getpass; stytch.redirect.resume(getpass.getpass('Link: '))")
    finally:
        run(ip, "%xmode Context")
    assert type(result.error_in_exec).__name__ == "StytchAPIError"
    shown = capsys.readouterr()
    assert "StytchAPIError" in shown.out + shown.err
    for secret in (token, flow._pkce.verifier):
        assert secret not in shown.out and secret not in shown.err
