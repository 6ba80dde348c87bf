"""The B2B vertical of the session core against the emulator's B2B project over loopback:
discovery, organizations by slug, MFA, the intermediate session token's rules, switching
organizations, and the heartbeat once a member session exists."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stytch_jupyter.api.b2b_models import (
    B2BAuthenticateResponse,
    IntermediateSessionToken,
    MemberSession,
)
from stytch_jupyter.api.errors import StytchAPIError
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import NotSignedInError, SessionManager
from stytch_jupyter.session.b2b import B2BVertical
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
def make_manager(b2b: Emulator, tmp_path: Path) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(vertical: Any = None, **settings: Any) -> SessionManager:
        settings.setdefault("token_store", "file")
        settings.setdefault("data_dir", str(tmp_path / "data"))
        settings.setdefault("heartbeat_interval", 30.0)
        settings.setdefault("timeout", 5.0)
        settings.setdefault("vertical", "b2b")
        config = Stytch(api_url=b2b.api_url, public_token=b2b.public_token, **settings)
        manager = SessionManager(config, store_poll_interval=0.1, vertical=vertical)
        made.append(manager)
        manager.start()
        return manager

    yield make
    for manager in made:
        manager.close()


def link_token(emu: Emulator, email: str = EMAIL) -> str:
    return parse_qs(urlsplit(emu.last_magic_link(email)).query)["token"][0]


def discover(manager: SessionManager, emu: Emulator) -> Any:
    manager.magic_links.email.discovery.send(EMAIL)
    return manager.magic_links.discovery.authenticate(link_token(emu))


def test_discovery_list_exchange_gives_a_member_session(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex", email_allowed_domains=["acme.test"])
    b2b.create_member("acme", EMAIL, name="Ada")
    manager = make_manager()
    assert manager.vertical.name == "b2b"
    statuses: list[str] = []
    manager.observe(lambda change: statuses.append(change["new"]), names="status")

    found = discover(manager, b2b)
    assert manager.status == "needs_organization"
    ist = manager.intermediate_session_token
    assert isinstance(ist, IntermediateSessionToken)
    assert ist.value == found.intermediate_session_token
    assert ist.value not in repr(ist) and ist.value not in repr(manager)
    assert manager.session_token is None and manager.session_jwt is None
    assert manager.heartbeat_state == "idle"  # no member session: nothing to check

    listed = manager.discovery.organizations.list()
    assert {d.organization.organization_slug for d in listed} == {"acme", "globex"}
    assert manager.discovery.discovered == listed

    reply = manager.discovery.intermediate_sessions.exchange("acme")  # by slug
    assert isinstance(reply, B2BAuthenticateResponse)
    assert manager.status == "signed_in"
    assert manager.intermediate_session_token is None  # spent, and exclusive with a session
    assert isinstance(manager.member_session, MemberSession)
    assert manager.session is manager.member_session
    assert manager.member is not None and manager.member.name == "Ada"
    assert manager.organization is not None and manager.organization.organization_slug == "acme"
    assert manager.session_jwt is not None
    wait_for(lambda: manager.heartbeat_state == "scheduled", what="the heartbeat")
    # (Not exactly these two: StoreSync's poll can take this process's own write, still in
    # flight, for another's and flash "unconfirmed" in between; a race of the core's, not B2B's.)
    assert statuses[0] == "needs_organization" and statuses[-1] == "signed_in"

    # The heartbeat's endpoint is b2b/sessions/authenticate: it confirms the member session.
    checked = manager.sessions.authenticate()
    assert checked.member_session.member_session_id == manager.member_session.member_session_id
    # stytch.auth sends the member session's JWT, which names the organization.
    sent = next(manager.auth.sync_auth_flow(httpx.Request("GET", "https://api.example.test/")))
    jwt = manager.session_jwt.value
    assert sent.headers["Authorization"] == f"Bearer {jwt}"
    claims = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
    assert claims["https://stytch.com/organization"]["slug"] == "acme"

    # Another process on the same store picks the member session up.
    other = make_manager()
    wait_for(lambda: other.status == "signed_in", what="rehydration")
    assert other.member_session.member_session_id == manager.member_session.member_session_id

    manager.sessions.revoke()
    assert manager.status == "signed_out" and manager.member is None


def test_organization_create_from_discovery(make_manager, b2b) -> None:
    manager = make_manager()
    discover(manager, b2b)
    manager.discovery.organizations.create(organization_name="Ada's Lab", organization_slug="lab")
    assert manager.status == "signed_in"
    assert manager.organization.organization_slug == "lab"
    assert manager.member.is_admin


def test_mfa_required_organization_by_totp(make_manager, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL)
    manager = make_manager()
    discover(manager, b2b)
    first_ist = manager.intermediate_session_token.value
    manager.discovery.intermediate_sessions.exchange("vault")
    assert manager.status == "needs_mfa"
    assert manager.intermediate_session_token.value != first_ist
    assert manager.member.member_id == member["member_id"]  # who MFA is for, already known
    assert manager.member_session is None and manager.session_token is None

    created = manager.totp.create()
    assert created.secret not in repr(created)
    wrong = "000000" if b2b.totp_code("vault", member["member_id"]) != "000000" else "111111"
    with pytest.raises(StytchAPIError):
        manager.totp.authenticate(wrong)
    assert manager.status == "needs_mfa"  # a wrong code changes nothing
    manager.totp.authenticate(b2b.totp_code("vault", member["member_id"]))
    assert manager.status == "signed_in"
    kinds = {f.type for f in manager.member_session.authentication_factors}
    assert kinds == {"magic_link", "totp"}


def test_mfa_required_organization_by_sms(make_manager, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("vault", EMAIL, password=PASSWORD, mfa_phone_number=PHONE)
    manager = make_manager()
    manager.passwords.authenticate("vault", EMAIL, PASSWORD)  # sends the SMS by itself
    assert manager.status == "needs_mfa"
    manager.otps.sms.send()
    manager.otps.sms.authenticate(b2b.last_sms_code(PHONE))
    assert manager.status == "signed_in"
    assert "sms" in {f.delivery_method for f in manager.member_session.authentication_factors}


def test_ist_expired_on_the_emulator_clock_ends_the_sign_in(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    manager = make_manager()
    discover(manager, b2b)
    acme_id = manager.discovery.discovered[0].organization.organization_id
    b2b.advance_clock(10 * 60 + 1)
    with pytest.raises(StytchAPIError) as gone:
        manager.discovery.intermediate_sessions.exchange(acme_id)
    assert gone.value.error_type == "intermediate_session_not_found"
    assert manager.status == "signed_out"
    assert manager.intermediate_session_token is None
    assert "expired" in manager.signed_out_reason
    with pytest.raises(NotSignedInError):
        manager.discovery.intermediate_sessions.exchange(acme_id)


def test_ist_expires_locally_after_its_lifetime(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    manager = make_manager(vertical=B2BVertical(ist_lifetime=0.5))
    seen: list[str] = []
    manager.observe(lambda change: seen.append(change["new"]), names="status")
    discover(manager, b2b)  # under load, this alone may outlast the lifetime: follow the states
    wait_for(lambda: seen[-1:] == ["signed_out"], what="the IST's local expiry")
    assert seen[-2:] == ["needs_organization", "signed_out"]
    assert manager.intermediate_session_token is None
    assert "expired" in manager.signed_out_reason


def test_an_expired_ist_read_from_the_store_before_its_timer_is_said_expired(
    make_manager, b2b, monkeypatch
) -> None:
    # Under load, the watch of the store read the expired IST (as none) before the expiry
    # timer ran, and said the sign-in had ended in another process.
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    manager = make_manager(vertical=B2BVertical(ist_lifetime=0.3))
    monkeypatch.setattr(manager, "_expire_intermediate", lambda generation: None)  # late
    discover(manager, b2b)
    held = manager.intermediate_session_token
    wait_for(lambda: held.expires_in() <= 0, what="the IST's lifetime to pass")
    assert manager.status == "needs_organization"  # the timer has not run
    manager.run(manager._on_intermediate_change())  # the store's watch, now
    assert manager.status == "signed_out"
    assert "expired" in manager.signed_out_reason


def test_session_exchange_between_two_organizations(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL)
    vault_member = b2b.create_member("vault", EMAIL)
    manager = make_manager()
    discover(manager, b2b)
    manager.discovery.intermediate_sessions.exchange("acme")
    first = manager.session_token.value

    manager.sessions.exchange("globex")
    assert manager.status == "signed_in"
    assert manager.organization.organization_slug == "globex"
    assert manager.session_token.value != first

    # Into an organization that requires MFA: the session gives way to an IST.
    manager.sessions.exchange("vault")
    assert manager.status == "needs_mfa" and manager.session_token is None
    manager.totp.create()
    manager.totp.authenticate(b2b.totp_code("vault", vault_member["member_id"]))
    assert manager.organization.organization_slug == "vault"
    with pytest.raises(ValueError, match="no organization has the slug"):
        manager.sessions.exchange("nowhere")


def test_a_member_removed_server_side_is_signed_out_by_the_heartbeat(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    member = b2b.create_member("acme", EMAIL)
    manager = make_manager(heartbeat_interval=0.5)
    discover(manager, b2b)
    manager.discovery.intermediate_sessions.exchange("acme")
    assert manager.status == "signed_in"
    b2b.delete_member("acme", member["member_id"])
    wait_for(lambda: manager.status == "signed_out", timeout=20, what="the heartbeat")
    assert "session_not_found" in manager.signed_out_reason or "ended" in manager.signed_out_reason


def test_async_twins_and_secrets_kept_out_of_frames(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL, password=PASSWORD)
    manager = make_manager()

    async def run() -> B2BAuthenticateResponse:
        return await manager.passwords.authenticate_async("acme", EMAIL, PASSWORD)

    reply = asyncio.run(run())
    assert reply.member_session is not None and manager.status == "signed_in"
    with pytest.raises(StytchAPIError) as wrong:
        manager.passwords.authenticate("acme", EMAIL, "not the password at all")
    frames = []
    tb = wrong.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    shown = " ".join(repr(frame.f_locals) for frame in frames)
    assert "not the password at all" not in shown
    del frames, tb
    gc.collect()


def test_bad_input_is_one_clear_line_and_changes_nothing(make_manager, b2b) -> None:
    manager = make_manager()
    with pytest.raises(NotSignedInError):
        manager.discovery.intermediate_sessions.exchange("acme")
    with pytest.raises(NotSignedInError):
        manager.totp.authenticate("123456")
    with pytest.raises(ValueError, match="organization id or slug"):
        manager.otps.email.login_or_signup(" ", EMAIL)
    assert manager.status == "signed_out"


def auto_config(emu: Emulator, **settings: Any) -> Stytch:
    """Settings for ``emu``'s project whose kind the bootstrap tells (``vertical="auto"``)."""
    return Stytch(
        api_url=emu.api_url,
        public_token=emu.public_token,
        token_store="memory",
        vertical="auto",
        **settings,
    )


def slow_bootstrap(emu: Emulator) -> None:
    """``emu``'s next bootstrap reply comes 400 ms after its request (which takes the fault)."""
    emu.add_fault(path_prefix="/sdk/v1/projects/bootstrap/", latency_ms=400)


def test_auto_vertical_comes_from_the_bootstrap(b2b, tmp_path) -> None:
    with SessionManager(auto_config(b2b)) as manager:
        assert manager.wait_for_vertical(10)
        assert manager.vertical.name == "b2b"
        assert hasattr(manager.discovery, "intermediate_sessions")
    with Emulator() as consumer, SessionManager(auto_config(consumer)) as manager:
        assert manager.wait_for_vertical(10)
        assert manager.vertical.name == "consumer"
        assert not hasattr(manager, "discovery")


@pytest.mark.parametrize(
    "setting, value", [("timeout", 7.0), ("token_store", "file")], ids=["timeout", "token_store"]
)
def test_a_setting_changed_while_the_bootstrap_is_asked_does_not_cut_it(
    b2b, tmp_path, caplog, setting, value
) -> None:
    # CI met it: the notebook's `%config Stytch.token_store = ...` closed the client while
    # the bootstrap's reply was on the wire, and the project was taken for a consumer one.
    slow_bootstrap(b2b)
    config = auto_config(b2b, data_dir=str(tmp_path / "data"))
    with SessionManager(config) as manager:
        wait_for(lambda: not b2b.control.faults(), what="the bootstrap's request to arrive")
        setattr(config, setting, value)  # its reply is still 0.4 s away
        assert manager.wait_for_vertical(10)
        assert manager.vertical.name == "b2b"
    assert "could not tell the project's kind" not in caplog.text


def test_the_project_changed_while_its_kind_is_asked_is_asked_again(b2b, caplog) -> None:
    # A notebook's `%config Stytch.api_url = ...` right after `%load_ext`: the first bootstrap
    # is still on its way to the old address, and its answer is not this project's.
    with Emulator() as consumer:
        slow_bootstrap(consumer)
        config = auto_config(consumer)
        with SessionManager(config) as manager:
            wait_for(lambda: not consumer.control.faults(), what="the consumer's bootstrap")
            config.api_url = b2b.api_url  # the same public token, a B2B project
            assert manager.wait_for_vertical(10)
            assert manager.vertical.name == "b2b"
    assert "could not tell the project's kind" not in caplog.text


def test_without_a_public_token_there_is_no_vertical_to_wait_for() -> None:
    # Nothing asks the bootstrap before a public token is set: a `%stytch login` waited out
    # its whole timeout for an answer that could not come, then said "no public token".
    config = Stytch(public_token="", token_store="memory", vertical="auto")
    with SessionManager(config) as manager:
        answers: list[bool] = []
        waiter = threading.Thread(
            target=lambda: answers.append(manager.wait_for_vertical(None)), daemon=True
        )
        waiter.start()
        waiter.join(10)
        assert answers == [False]  # not known, and said at once rather than never
        assert manager.vertical.name == "consumer"


def test_two_processes_converge_on_a_b2b_sign_in_and_sign_out(make_manager, b2b, tmp_path):
    from tests.support.session_process import SessionProcess

    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL, password=PASSWORD)
    # The other process learns the project's kind from the bootstrap ("auto").
    other = SessionProcess(b2b.api_url, b2b.public_token, tmp_path / "data", vertical="auto")
    try:
        manager = make_manager()
        manager.passwords.authenticate("acme", EMAIL, PASSWORD)
        session_id = manager.member_session.member_session_id
        other.wait_for("signed_in", session_id)
        manager.sessions.revoke()
        other.wait_for("signed_out")
    finally:
        other.stop()


def test_a_half_way_sign_in_is_stored_sealed_and_resumed_after_a_restart(
    make_manager, b2b, tmp_path
) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, password=PASSWORD)
    manager = make_manager()
    manager.passwords.authenticate("vault", EMAIL, PASSWORD)
    assert manager.status == "needs_mfa"
    ist = manager.intermediate_session_token.value
    [slot] = (tmp_path / "data" / "sessions").glob("*.ist")
    sealed = slot.read_bytes()
    assert ist.encode() not in sealed and EMAIL.encode() not in sealed
    manager.close()

    restarted = make_manager()
    wait_for(lambda: restarted.status == "needs_mfa", what="the half-way sign-in to resume")
    assert restarted.intermediate_session_token.value == ist
    assert restarted.member.member_id == member["member_id"]
    restarted.totp.create()
    restarted.totp.authenticate(b2b.totp_code("vault", member["member_id"]))
    assert restarted.status == "signed_in"
    # A session and an IST are never both kept (tokens win at start; the slot goes just after).
    wait_for(lambda: not slot.exists(), what="the stored IST to give way to the session")


def test_an_expired_stored_ist_reads_back_as_nothing(make_manager, b2b, tmp_path) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    other = make_manager(vertical=B2BVertical(ist_lifetime=0.3))
    other.magic_links.email.discovery.send(EMAIL, route="paste")
    other.magic_links.discovery.authenticate(link_token(b2b))  # the send's flow's verifier
    [slot] = (tmp_path / "data" / "sessions").glob("*.ist")
    other.close()
    time.sleep(0.4)  # past the stored IST's expiry (nobody is running to expire it)
    again = make_manager()
    wait_for(lambda: not slot.exists(), what="the expired IST to be deleted at start")
    assert again.status == "signed_out" and again.intermediate_session_token is None


def test_the_memory_store_keeps_the_ist_in_memory_only(make_manager, b2b, tmp_path) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    manager = make_manager(token_store="memory")
    discover(manager, b2b)
    assert manager.status == "needs_organization"
    assert not list(tmp_path.rglob("*.ist"))


REDIRECT = "http://127.0.0.1:8765/stytch-jupyter/callback"


def redirect_token(url: str, kind: str) -> str:
    query = parse_qs(urlsplit(url).query)
    assert query["stytch_token_type"] == [kind]
    return query["token"][0]


def test_sso_start_by_slug_and_authenticate_with_the_held_verifier(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
    manager = make_manager()
    flow = manager.sso.start(
        organization_slug="acme", login_redirect_url=REDIRECT, signup_redirect_url=REDIRECT
    )
    url = flow.url
    assert flow.route.name == "paste"  # a redirect URL of one's own: nothing listens for it
    assert "pkce_code_challenge=" in url and "verifier" not in url
    token = redirect_token(b2b.complete_idp(url, EMAIL), "sso")
    manager.sso.authenticate(token)  # the start's verifier goes along by itself
    assert manager.status == "signed_in"
    assert manager.member_session.authentication_factors[0].type == "sso"
    with pytest.raises(ValueError, match="one of them"):
        manager.sso.start()


def test_oauth_discovery_start_then_exchange(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    manager = make_manager()
    url = manager.oauth.discovery.start("google", discovery_redirect_url=REDIRECT).url
    token = redirect_token(b2b.complete_idp(url, EMAIL), "discovery_oauth")
    found = manager.oauth.discovery.authenticate(token)
    assert [d.organization.organization_slug for d in found.discovered_organizations] == ["acme"]
    assert manager.status == "needs_organization"
    manager.discovery.intermediate_sessions.exchange("acme")
    assert manager.status == "signed_in"

    url = manager.oauth.start(
        "google",
        organization_slug="acme",
        login_redirect_url=REDIRECT,
        signup_redirect_url=REDIRECT,
    ).url
    token = redirect_token(b2b.complete_idp(url, EMAIL), "oauth")
    reply = manager.oauth.authenticate(token)
    assert reply.member_session is not None and manager.status == "signed_in"


def test_recovery_code_passes_mfa_and_is_spent(make_manager, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, password=PASSWORD, totp=True)
    manager = make_manager()
    manager.passwords.authenticate("vault", EMAIL, PASSWORD)
    assert manager.status == "needs_mfa"
    code = member["recovery_codes"][0]
    reply = manager.recovery_codes.recover(code)
    assert manager.status == "signed_in" and reply.recovery_codes_remaining == 9
    manager.sessions.revoke()
    manager.passwords.authenticate("vault", EMAIL, PASSWORD)
    with pytest.raises(StytchAPIError):
        manager.recovery_codes.recover(code)  # each works once
    assert manager.status == "needs_mfa"


def test_two_managers_on_one_store_follow_the_half_way_sign_in(make_manager, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("acme", EMAIL)
    member = b2b.create_member("vault", EMAIL, totp=True)
    first, second = make_manager(), make_manager()

    discover(first, b2b)  # a discovery in one kernel: the other is half-way too
    wait_for(lambda: second.status == "needs_organization", what="the IST to reach the other")
    assert second.intermediate_session_token.value == first.intermediate_session_token.value
    second.discovery.intermediate_sessions.exchange("acme")  # the exchange in the other one
    wait_for(lambda: first.status == "signed_in", what="the session to reach the first")
    assert first.session_token == second.session_token
    assert first.intermediate_session_token is None

    first.sessions.revoke()  # a sign-out in either: both are out
    wait_for(lambda: second.status == "signed_out", what="the sign-out to reach the other")

    discover(second, b2b)  # MFA half-way follows too, and so does its end
    wait_for(lambda: first.status == "needs_organization", what="the second discovery")
    first.discovery.intermediate_sessions.exchange("vault")
    wait_for(lambda: second.status == "needs_mfa", what="the MFA step to reach the other")
    assert second.member.member_id == member["member_id"]
    second.totp.authenticate(b2b.totp_code("vault", member["member_id"]))
    wait_for(lambda: first.status == "signed_in", what="the MFA'd session to reach the first")
    assert first.organization.organization_slug == "vault"


def test_an_ist_stytch_no_longer_knows_ends_the_half_way_sign_in_everywhere(
    make_manager, b2b, tmp_path
) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    first, second = make_manager(), make_manager()
    discover(first, b2b)
    wait_for(lambda: second.status == "needs_organization", what="the IST to reach the other")
    [slot] = (tmp_path / "data" / "sessions").glob("*.ist")
    b2b.control.advance_clock(11 * 60)  # past the IST's 10 minutes, on Stytch's side
    with pytest.raises(StytchAPIError, match="intermediate_session_not_found"):
        second.discovery.intermediate_sessions.exchange("acme")
    assert second.status == "signed_out" and not slot.exists()
    wait_for(lambda: first.status == "signed_out", what="the end to reach the other")
    assert "another process" in first.signed_out_reason
    assert first.intermediate_session_token is None


def test_pkce_a_captured_sso_token_is_useless_without_the_flows_verifier(tmp_path) -> None:
    from stytch_jupyter.session.redirect import RedirectRefusedError

    with Emulator(vertical="b2b", pkce_required=True) as emu:
        emu.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
        emu.create_member("acme", EMAIL)
        config = dict(api_url=emu.api_url, public_token=emu.public_token, vertical="b2b")
        mine = SessionManager(Stytch(**config, token_store="memory", redirect_route="paste"))
        theirs = SessionManager(Stytch(**config, token_store="memory"))
        with mine, theirs:
            flow = mine.sso.start(organization_slug="acme")
            assert flow.route.name == "paste" and flow.token_type == "sso"
            landed = emu.complete_idp(flow.url, EMAIL)
            token = redirect_token(landed, "sso")
            with pytest.raises(StytchAPIError, match="pkce_expected_code_verifier"):
                theirs.sso.authenticate(token)  # someone who saw the token, not the verifier
            assert theirs.status == "signed_out"
            # The wrong kind of token for the flow: refused before anything is sent.
            wrong = landed.replace("stytch_token_type=sso", "stytch_token_type=discovery")
            with pytest.raises(RedirectRefusedError, match="expects an SSO token, not a discovery"):
                mine.redirect.resume(wrong)
            assert flow.pending and mine.status == "signed_out"
            reply = mine.redirect.resume(landed)  # the paste, with the flow's own verifier
            assert reply.member_session is not None and mine.status == "signed_in"
            with pytest.raises(RedirectRefusedError):
                mine.redirect.resume(landed)  # once only


def test_sso_start_opens_the_browser_of_a_local_kernel_and_its_redirect_signs_in(
    make_manager, b2b, browser_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.fake_browser import APPROVE_ENV, logged

    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
    monkeypatch.setenv(APPROVE_ENV, EMAIL)
    manager = make_manager(token_store="memory")
    flow = manager.sso.start(organization_slug="acme")
    assert flow.browser is not None and flow.browser.opened, flow.browser
    assert flow.route.name == "loopback"
    flow.wait(30)
    assert manager.status == "signed_in"
    assert manager.member.email_address == EMAIL
    wait_for(lambda: len(logged(browser_log)) == 2)
    opened, landed = logged(browser_log)
    assert opened == f"opened {flow.url}"
    assert landed == "landed 200 /stytch-jupyter/callback signed_in=True"


def test_b2b_oauth_starts_open_nothing_when_asked_not_to(
    make_manager, b2b, browser_log: Path
) -> None:
    from tests.support.fake_browser import logged

    b2b.create_organization("Acme", "acme")
    manager = make_manager(token_store="memory")
    flows = [
        manager.oauth.start("google", organization_slug="acme", open_browser=False),
        manager.oauth.discovery.start("google", open_browser=False),
    ]
    assert all(f.browser is not None and not f.browser.opened for f in flows)
    opened = manager.oauth.discovery.start("github")
    assert opened.browser is not None and opened.browser.opened
    wait_for(lambda: logged(browser_log) == [f"opened {opened.url}"])
