"""``%stytch`` in an IPython shell on a B2B project (the emulator's): discovery with a numbered
pick, sign-in to an organization by slug, MFA, ``orgs``, ``switch``, slug completion; secrets
only through getpass, and never in the output."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from IPython.core.completer import provisionalcompleter

from stytch_jupyter.emulator import Emulator
from tests.support.shells import Prompts, clean_shell, prepared_shell, run
from tests.support.waiting import wait_for

EMAIL = "ada@acme.test"
PASSWORD = "correct horse battery staple"
PHONE = "+15555550100"


@pytest.fixture(scope="module")
def shared_b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def b2b(shared_b2b: Emulator) -> Emulator:
    shared_b2b.reset()
    return shared_b2b


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Prompts:
    import getpass

    fake = Prompts()
    monkeypatch.setattr(getpass, "getpass", fake)
    return fake


@pytest.fixture
def numbers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Answers for input() (an organization's number); each prompt recorded after them."""
    answers: list[str] = []
    asked: list[str] = []

    def fake(prompt: str = "") -> str:
        asked.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr(builtins, "input", fake)
    return answers


@pytest.fixture
def ip(b2b: Emulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    shell = prepared_shell(b2b, tmp_path / "stytch-data", monkeypatch)
    yield shell
    clean_shell(shell)


@pytest.fixture
def stytch(ip: Any) -> Any:
    run(ip, "%load_ext stytch_jupyter")
    manager = ip.user_ns["stytch"]
    assert manager.wait_for_vertical(10)  # Stytch.vertical is "auto": the bootstrap says B2B
    wait_for(lambda: manager.heartbeat_state != "stopped", what="the session thread")
    return manager


def completions(ip: Any, line: str) -> set[str]:
    """What a notebook's Tab offers (ipykernel asks ``Completer.completions``)."""
    with provisionalcompleter():
        return {c.text for c in ip.Completer.completions(line, len(line))}


def link(emu: Emulator, email: str = EMAIL) -> Any:
    return lambda: emu.last_magic_link(email)


def test_discovery_lists_numbered_organizations_and_enters_the_one_picked(
    ip, stytch, b2b, prompts, numbers, capsys
) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL, name="Ada")
    assert stytch.vertical.name == "b2b"
    prompts.answer(link(b2b))
    numbers.append("2")
    result = run(ip, f"%stytch login discovery --email {EMAIL} --paste")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "1. acme: Acme" in out and "2. globex: Globex" in out
    assert f"Signed in as {EMAIL} in globex" in out
    assert stytch.status == "signed_in" and stytch.organization.organization_slug == "globex"
    assert prompts.asked == ["Sign-in link: "]
    token = stytch.session_token.value
    assert token not in out and stytch.session_jwt.value not in out

    # orgs marks the current one; switch moves there; slugs complete from the discovery.
    run(ip, "%stytch orgs")
    listed = capsys.readouterr().out
    assert "globex: Globex (active member)  (you are here)" in listed
    assert completions(ip, "%stytch switch a") == {"acme"}
    assert completions(ip, "%stytch login otp --org ") == {"acme", "globex"}
    result = run(ip, "%stytch switch acme")
    assert result.success, result.error_in_exec
    assert stytch.organization.organization_slug == "acme"
    assert "Signed in as ada@acme.test in acme" in capsys.readouterr().out


def open_when_sent(emu: Emulator, email: str = EMAIL) -> threading.Thread:
    """A browser on this machine: once the link is in the mailbox, open it (a GET)."""

    def follow() -> None:
        wait_for(lambda: bool(emu.control.outbox(email)), 30, what="the emailed link")
        with httpx.Client(trust_env=False, timeout=30) as http:
            http.get(emu.last_magic_link(email))

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    return thread


def open_when_started(emu: Emulator, stytch: Any, kind: str) -> threading.Thread:
    """A person at the identity provider: once the flow is started, approve its consent
    page, and follow the redirect back (to the kernel's loopback listener)."""

    def follow() -> None:
        started: list[Any] = []

        def find() -> bool:
            started[:] = [f for f in stytch.redirect.pending() if f.token_type == kind and f.url]
            return bool(started)

        wait_for(find, 30, what="the flow to start")
        back = emu.complete_idp(started[0].url, EMAIL)
        with httpx.Client(trust_env=False, timeout=30) as http:
            http.get(back)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    return thread


def test_discovery_link_comes_back_by_loopback_with_pkce(
    ip, stytch, b2b, prompts, numbers, capsys
) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    browser = open_when_sent(b2b)
    result = run(ip, f"%stytch login discovery --email {EMAIL}")
    browser.join(30)
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "this cell waits" in out and f"Signed in as {EMAIL} in acme" in out
    assert prompts.asked == []  # nothing was pasted: the redirect came back to the kernel
    link = b2b.last_magic_link(EMAIL)
    query = parse_qs(urlsplit(link).query)
    assert query["stytch_token_type"] == ["discovery"] and "flow" in query
    assert link.startswith("http://127.0.0.1:")
    assert query["token"][0] not in out


def test_organization_magic_link_by_loopback(ip, stytch, b2b, prompts, capsys) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    browser = open_when_sent(b2b)
    result = run(ip, f"%stytch login magic-link --email {EMAIL} --org acme")
    browser.join(30)
    assert result.success, result.error_in_exec
    assert stytch.status == "signed_in" and prompts.asked == []
    query = parse_qs(urlsplit(b2b.last_magic_link(EMAIL)).query)
    assert query["stytch_token_type"] == ["multi_tenant_magic_links"]


def test_sso_by_loopback_with_pkce_and_no_paste(ip, stytch, b2b, prompts, capsys) -> None:
    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
    person = open_when_started(b2b, stytch, "sso")
    result = run(ip, "%stytch login sso --org acme")
    person.join(30)
    assert result.success, result.error_in_exec
    assert stytch.status == "signed_in" and prompts.asked == []
    assert stytch.member_session.authentication_factors[0].type == "sso"
    assert "pkce_code_challenge=" in capsys.readouterr().out


def test_password_sign_in_to_an_mfa_organization_asks_for_the_sms_code(
    ip, stytch, b2b, prompts, capsys
) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("vault", EMAIL, password=PASSWORD, mfa_phone_number=PHONE)
    prompts.answer(PASSWORD, lambda: b2b.last_sms_code(PHONE))
    result = run(ip, f"%stytch login password --email {EMAIL} --org vault")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "requires MFA: a code was texted" in out
    assert stytch.status == "signed_in"
    assert PASSWORD not in out and b2b.last_sms_code(PHONE) not in out
    assert prompts.asked == [f"Password for {EMAIL}: ", "Code from the text: "]


def test_mfa_totp_for_a_member_with_an_authenticator_app(ip, stytch, b2b, prompts, capsys):
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, password=PASSWORD, totp=True)
    prompts.answer(PASSWORD, lambda: b2b.totp_code("vault", member["member_id"]))
    result = run(ip, f"%stytch login password --email {EMAIL} --org vault")
    assert result.success, result.error_in_exec
    assert stytch.status == "signed_in"
    kinds = {f.type for f in stytch.member_session.authentication_factors}
    assert kinds == {"password", "totp"}


def test_otp_in_an_organization_and_status(ip, stytch, b2b, prompts, capsys) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    prompts.answer(lambda: b2b.last_otp(EMAIL)[1])
    result = run(ip, f"%stytch login otp --email {EMAIL} --org acme")
    assert result.success, result.error_in_exec
    run(ip, "%stytch status")
    out = capsys.readouterr().out
    assert f"signed in as {EMAIL} in acme" in out
    assert b2b.last_otp(EMAIL)[1] not in out


def test_b2b_mistakes_are_one_line_and_change_nothing(ip, stytch, b2b, prompts, capsys):
    result = run(ip, f"%stytch login otp --email {EMAIL}")
    assert not result.success
    assert "--org ORG is needed" in str(result.error_in_exec)
    result = run(ip, "%stytch mfa totp")
    assert "no organization is asking" in str(result.error_in_exec)
    result = run(ip, "%stytch switch acme")
    assert "not signed in" in str(result.error_in_exec)
    assert stytch.status == "signed_out" and prompts.asked == []


def test_login_sso_opens_the_start_and_takes_the_pasted_address(ip, stytch, b2b, prompts, capsys):
    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "oidc"}])
    redirect = "http://127.0.0.1:8765/stytch-jupyter/callback"
    landed: list[str] = []

    def follow() -> str:
        out = capsys.readouterr().out
        [url] = [w for w in out.split() if w.startswith(b2b.api_url)]
        landed.append(b2b.complete_idp(url, EMAIL))
        return landed[0]

    prompts.answer(follow)
    result = run(ip, f"%stytch login sso --org acme --redirect-url {redirect}")
    assert result.success, result.error_in_exec
    assert stytch.status == "signed_in"
    assert stytch.member_session.authentication_factors[0].delivery_method == "sso_oidc"
    token = parse_qs(urlsplit(landed[0]).query)["token"][0]
    assert token not in capsys.readouterr().out


def test_the_ist_mfa_codes_totp_secret_and_recovery_codes_are_nowhere(
    ip, stytch, b2b, prompts, capsys
) -> None:
    from tests.support.secret_scan import assert_no_secrets

    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, password=PASSWORD, totp=True)
    right = b2b.totp_code("vault", member["member_id"])
    wrong = "000000" if right != "000000" else "111111"
    prompts.answer(PASSWORD, wrong)
    result = run(ip, f"%stytch login password --email {EMAIL} --org vault --duration 30")
    # An authenticator app is registered, so its code is asked for next: a wrong one fails in
    # one line and leaves the sign-in half-way.
    assert not result.success and "totp" in str(result.error_in_exec).lower()
    assert stytch.status == "needs_mfa"
    ist = stytch.intermediate_session_token.value
    run(ip, "stytch")  # the object's repr, in Out and the history
    run(ip, "stytch.intermediate_session_token")
    code = b2b.totp_code("vault", member["member_id"])
    prompts.answer(code)
    result = run(ip, "%stytch mfa totp")
    assert result.success, result.error_in_exec
    run(ip, "stytch.member_session")
    captured = capsys.readouterr()
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "Out": repr(ip.user_ns.get("Out")),
        "input_hist_raw": "\n".join(ip.history_manager.input_hist_raw),
        "output_hist": repr(ip.history_manager.output_hist),
    }
    ip.history_manager.writeout_cache()
    texts["history db"] = "\n".join(str(r) for r in ip.history_manager.get_range(output=True))
    secrets = {
        "ist": ist,
        "password": PASSWORD,
        "totp code": code,
        "totp secret": member["totp_secret"],
        **{f"recovery code {i}": c for i, c in enumerate(member["recovery_codes"])},
        "session token": stytch.session_token.value,
        "session jwt": stytch.session_jwt.value,
    }
    assert_no_secrets(secrets, texts=texts)


def test_login_resume_finishes_a_b2b_flow_with_the_pasted_address(ip, stytch, b2b, prompts):
    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
    b2b.create_member("acme", EMAIL)
    flow = stytch.sso.start(organization_slug="acme", route="paste")
    landed = b2b.complete_idp(flow.url, EMAIL)
    prompts.answer(landed)
    result = run(ip, "%stytch login resume")
    assert result.success, result.error_in_exec
    assert stytch.status == "signed_in" and not flow.pending
    prompts.answer(landed)
    again = run(ip, "%stytch login resume")  # used: one line, nothing changes
    assert "no sign-in is waiting" in str(again.error_in_exec)
    assert stytch.status == "signed_in"
