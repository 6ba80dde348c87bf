"""The session widget on a B2B project: the kernel-side model against the emulator, no browser.

The page is played as in ``test_widget.py``: the test reads ``widget.state`` and sends the
page's messages through ipywidgets' custom-message path. Every state the widget synced is kept
and scanned at the end of each scenario: no intermediate session token, code, TOTP secret or
recovery code is ever in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from stytch_jupyter.ipython.widget import SessionWidget
from tests.support.secret_scan import assert_no_secrets, collect_emulator_secrets
from tests.support.totp import totp_now
from tests.support.waiting import wait_for

EMAIL = "ada@acme.test"
PHONE = "+15555550100"


@pytest.fixture(scope="module")
def shared_b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def b2b(shared_b2b: Emulator) -> Emulator:
    shared_b2b.reset()
    return shared_b2b


class Page:
    """One widget and every state it synced (what the page, and a saved notebook, saw)."""

    def __init__(self, widget: SessionWidget) -> None:
        self.widget = widget
        self.states: list[str] = [json.dumps(widget.get_state(), default=str)]
        self.opened: list[str] = []
        widget.observe(self._seen, names="state")
        # What the kernel sends the page (a window to open), recorded instead of sent.
        widget.send = lambda content, buffers=None: self.opened.append(content["open"])  # type: ignore[method-assign]

    def _seen(self, change: dict[str, Any]) -> None:
        self.states.append(json.dumps(self.widget.get_state(), default=str))

    @property
    def state(self) -> dict[str, Any]:
        return dict(self.widget.state)

    def press(self, action: str, **fields: Any) -> None:
        self.widget._handle_custom_msg({"action": action, **fields}, [])
        self.widget.wait(10)

    def error(self) -> str:
        error = self.state["error"]
        return "" if error is None else str(error["text"])

    def items(self) -> list[dict[str, Any]]:
        orgs = self.state["orgs"]
        return [] if orgs is None else list(orgs["items"])

    def action_ids(self) -> list[str]:
        return [action["id"] for action in self.state["actions"]]

    def rows(self) -> dict[str, str]:
        return {cls: value for _key, value, cls in self.state["rows"]}

    def assert_clean(self, b2b: Emulator, *extra: str, ist: bool = True) -> None:
        extras = {f"extra #{i}": secret for i, secret in enumerate(extra)}
        secrets = collect_emulator_secrets(b2b, extra=extras)
        assert_no_secrets(secrets, texts={f"state #{n}": s for n, s in enumerate(self.states)})
        if ist:  # the scan looked for the ISTs too
            assert any(label.startswith("intermediate_session_token") for label in secrets)


@pytest.fixture
def open_page(b2b: Emulator) -> Iterator[Callable[..., Page]]:
    made: list[tuple[NotebookStytch, SessionWidget]] = []

    def make(**settings: Any) -> Page:
        settings.setdefault("timeout", 2.0)
        settings.setdefault("token_store", "memory")
        config = Stytch(public_token=b2b.public_token, api_url=b2b.api_url, **settings)
        stytch = NotebookStytch(config)
        stytch.start()
        assert stytch.wait_for_vertical(10)
        widget = stytch.widget()
        made.append((stytch, widget))
        return Page(widget)

    yield make
    for stytch, widget in made:
        widget.close()
        stytch.close()


def discover_by_code(page: Page, b2b: Emulator, email: str = EMAIL) -> str:
    page.press("send_code", email=email)
    assert page.state["form"]["step"] == "code", page.error()
    code = b2b.last_otp(email)[1]
    page.press("sign_in", code=code)
    assert page.state["kind"] == "needs-organization", page.error()
    return code


# ---- discovery → picker → signed in --------------------------------------------------------


def test_discovery_by_code_shows_the_picker_and_picking_signs_in(open_page, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex")
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("acme", EMAIL, name="Ada Lovelace")
    b2b.create_member("globex", EMAIL, status="pending")
    b2b.create_member("vault", EMAIL, totp=True)
    page = open_page()

    # Signed out: the discovery form, not the consumer's (no OAuth providers, no method id).
    state = page.state
    assert state["vertical"] == "b2b" and state["kind"] == "signed-out"
    assert state["form"]["b2b"] is True and state["form"]["step"] == "email"
    assert (state["form"]["send_label"], state["form"]["link_label"]) == ("Send code", "Send link")
    assert state["paste"] is True and state["providers"] == [] and state["sso"] is None

    page.press("send_code", email=EMAIL)
    assert page.state["info"] == (
        f"Code sent to {EMAIL} (the emulator's mailbox shows it: {b2b.api_url}/)"
    )
    page.press("sign_in", code="000000")  # wrong: a plain sentence, the form stays
    assert page.state["kind"] == "signed-out" and page.state["form"]["step"] == "code"
    assert page.error() == "That code is wrong or has expired. Check the email, or send a new code."
    assert "otp_code_not_found" in page.state["error"]["detail"]
    code = b2b.last_otp(EMAIL)[1]
    page.press("sign_in", code=code)

    state = page.state
    assert state["kind"] == "needs-organization" and state["status"] == "Choose an organization"
    assert state["orgs"]["label"] == f"Organizations for {EMAIL}"
    notes = {item["slug"]: item["notes"] for item in page.items()}
    assert notes == {"acme": [], "globex": ["pending"], "vault": ["MFA required"]}
    assert page.action_ids() == ["start_over"]  # a way out of the half-way state
    # Whether the project allows new organizations is asked once, in the background.
    wait_for(lambda: page.state["create"] is not None, what="the project's answer")
    assert page.state["create"] == {
        "label": "Create organization",
        "placeholder": "new organization",
    }

    page.press("pick", id="nowhere")  # not an organization the picker showed: nothing happens
    assert page.state["kind"] == "needs-organization" and page.error() == ""
    page.press("pick", id="acme")
    state = page.state
    assert state["kind"] == "signed-in", page.error()
    assert state["status"] == f"Signed in as {EMAIL}"
    rows = page.rows()
    assert rows["stytch-member"] == "Ada Lovelace"
    assert rows["stytch-organization"] == "Acme (acme)"
    assert rows["stytch-session-id"].startswith("member-session-")
    assert page.action_ids() == ["refresh", "extend", "switch", "sign_out"]
    page.assert_clean(b2b, code)


def test_a_discovery_link_pasted_into_the_widget_opens_the_picker(open_page, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    page = open_page()
    page.press("send_link", email=EMAIL)
    assert page.state["info"] == (
        f"Link sent to {EMAIL}: open it; this widget goes on by itself (or paste the address "
        "it opens below)."
    )
    assert page.state["form"]["link_label"] == "Send a new link"
    link = b2b.last_magic_link(EMAIL)
    assert "stytch_token_type=discovery" in link
    page.press("paste", link=link)
    assert page.state["kind"] == "needs-organization", page.error()
    assert [item["slug"] for item in page.items()] == ["acme"]
    page.press("paste", link=link)  # the picker has no paste box; the message starts nothing
    page.press("pick", id="acme")
    assert page.state["kind"] == "signed-in", page.error()
    page.assert_clean(b2b, link.split("token=")[-1].split("&")[0])


def test_a_known_organization_signs_in_directly_and_offers_sso(open_page, b2b) -> None:
    b2b.create_organization("Acme", "acme", sso_connections=[{"display_name": "Okta"}])
    b2b.create_member("acme", EMAIL)
    page = open_page(organization="acme")
    form = page.state["form"]
    assert form["organization"] == "acme"
    assert page.state["sso"] == {
        "id": "acme",
        "label": "Continue with SSO",
        "title": "Sign in to acme with its identity provider",
    }
    page.press("send_code", email=EMAIL, organization="acme")
    assert page.state["info"].startswith(f"Code sent to {EMAIL} for acme (the emulator's")
    code = b2b.last_otp(EMAIL)[1]
    page.press("sign_in", code=code)
    assert page.state["kind"] == "signed-in", page.error()  # no picker: straight in
    assert page.rows()["stytch-organization"] == "Acme (acme)"
    page.press("sign_out")

    # Continue with SSO, for the configured organization (and no other).
    page.press("sso", id="globex")
    assert page.opened == []
    page.press("sso", id="acme")
    (url,) = page.opened
    assert "organization_slug=acme" in url and "pkce_code_challenge=" in url
    assert page.state["info"].startswith("Sign in to acme in the window that opened")
    landed = b2b.complete_idp(url, EMAIL)
    page.press("paste", link=landed)
    assert page.state["kind"] == "signed-in", page.error()
    page.assert_clean(b2b, code, landed.split("token=")[-1].split("&")[0], ist=False)


def test_an_organization_configured_by_id_prefills_the_form_without_sso(open_page, b2b) -> None:
    organization = b2b.create_organization("Acme", "acme")
    page = open_page(organization=organization["organization_id"])
    assert page.state["form"]["organization"] == organization["organization_id"]
    assert page.state["sso"] is None  # an SSO start takes a slug


def test_an_mfa_organization_with_no_factor_set_up_says_what_to_do(open_page, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("vault", EMAIL)
    page = open_page()
    discover_by_code(page, b2b)
    page.press("pick", id="vault")
    mfa = page.state["mfa"]
    assert page.state["kind"] == "needs-mfa", page.error()
    assert (mfa["code"], mfa["send"], mfa["ways"]) == (False, False, [])
    assert "stytch.totp.create()" in mfa["hint"]
    assert page.action_ids() == ["start_over"]  # still a way out


def test_start_over_forgets_the_half_way_sign_in(open_page, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    page = open_page()
    discover_by_code(page, b2b)
    stytch = page.widget.manager
    assert stytch.intermediate_session_token is not None
    page.press("start_over")
    assert page.state["kind"] == "signed-out" and page.state["form"]["step"] == "email"
    assert page.state["reason"] is None  # the user's own choice: not news
    assert stytch.intermediate_session_token is None and stytch.status == "signed_out"


def test_create_organization_from_the_picker(open_page, b2b) -> None:
    page = open_page()
    discover_by_code(page, b2b, "new@founders.test")
    state = page.state
    assert state["orgs"]["items"] == []
    assert state["orgs"]["empty"] == "new@founders.test belongs to no organization yet."
    wait_for(lambda: page.state["create"] is not None, what="the bootstrap's answer")
    page.press("create_org", name="  ")
    assert page.error() == "Enter a name for the new organization."
    page.press("create_org", name="Founders")
    assert page.state["kind"] == "signed-in", page.error()
    assert page.rows()["stytch-organization"].startswith("Founders (")


def test_continue_with_sso_from_the_picker(open_page, b2b) -> None:
    b2b.create_organization("Acme", "acme", sso_connections=[{"display_name": "Okta"}])
    b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL)
    page = open_page()
    discover_by_code(page, b2b)
    assert {item["slug"]: item["sso"] for item in page.items()} == {"acme": True, "globex": False}
    page.press("sso", id="globex")  # no connection: no button was shown, nothing starts
    assert page.opened == []
    page.press("sso", id="acme")
    (url,) = page.opened
    assert "/sso/start?" in url and "organization_slug=acme" in url
    assert "pkce_code_challenge=" in url  # the verifier stays in the kernel
    assert page.state["paste"] is True
    landed = b2b.complete_idp(url, EMAIL)
    assert "stytch_token_type=sso" in landed
    page.press("paste", link=landed)
    assert page.state["kind"] == "signed-in", page.error()
    assert page.rows()["stytch-organization"] == "Acme (acme)"
    page.assert_clean(b2b, landed.split("token=")[-1].split("&")[0])


# ---- MFA ------------------------------------------------------------------------------------


def test_an_mfa_organization_asks_for_the_authenticator_code(open_page, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, totp=True)
    page = open_page()
    discover_by_code(page, b2b)
    page.press("pick", id="vault")
    state = page.state
    assert state["kind"] == "needs-mfa", page.error()
    assert state["status"] == "Vault asks for a second factor"
    mfa = state["mfa"]
    assert (mfa["method"], mfa["label"], mfa["code"]) == (
        "totp",
        "Code from your authenticator app",
        True,
    )
    assert [way["id"] for way in mfa["ways"]] == ["use_recovery"]
    assert page.action_ids() == ["start_over"]

    page.press("verify", code="")
    assert page.error() == "Enter the code first."
    page.press("verify", code="000000")
    assert page.state["kind"] == "needs-mfa"
    assert page.error() == "That code is wrong. Check your authenticator app and try again."
    code = totp_now(member["totp_secret"])
    page.press("verify", code=code)
    assert page.state["kind"] == "signed-in", page.error()
    assert page.rows()["stytch-organization"] == "Vault (vault)"
    page.assert_clean(b2b, code, member["totp_secret"], *member["recovery_codes"])


def test_a_recovery_code_passes_the_mfa_step(open_page, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, totp=True)
    page = open_page()
    discover_by_code(page, b2b)
    page.press("pick", id="vault")
    page.press("use_recovery")
    mfa = page.state["mfa"]
    assert (mfa["method"], mfa["label"]) == ("recovery", "Recovery code")
    assert [way["id"] for way in mfa["ways"]] == ["use_totp"]
    page.press("verify", code=member["recovery_codes"][0])
    assert page.state["kind"] == "signed-in", page.error()
    page.assert_clean(b2b, member["totp_secret"], *member["recovery_codes"])


def test_an_sms_mfa_code_was_texted_and_is_typed_in(open_page, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("vault", EMAIL, mfa_phone_number=PHONE)
    page = open_page()
    discover_by_code(page, b2b)
    page.press("pick", id="vault")
    mfa = page.state["mfa"]
    assert mfa["method"] == "sms" and mfa["code"] is True  # Stytch texted it already
    assert mfa["hint"] == f"A code was texted to {PHONE}."
    # No app registered, so no recovery codes either: only a new text is offered.
    assert [(way["id"], way["label"]) for way in mfa["ways"]] == [
        ("sms_send", "Text me a new code")
    ]
    first = b2b.last_sms_code(PHONE)
    page.press("sms_send")  # a new one, on request
    second = b2b.last_sms_code(PHONE)
    assert second != first or len(b2b.outbox(PHONE)) == 2
    page.press("verify", code=second)
    assert page.state["kind"] == "signed-in", page.error()
    page.assert_clean(b2b, first, second)


# ---- switching --------------------------------------------------------------------------------


def test_switching_organizations_from_the_signed_in_widget(open_page, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex")
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL)
    member = b2b.create_member("vault", EMAIL, totp=True)
    page = open_page()
    discover_by_code(page, b2b)
    page.press("pick", id="acme")
    first_session = page.widget.manager.member_session.member_session_id

    page.press("switch_to", id="globex")  # the list is not open: nothing happens
    assert page.rows()["stytch-organization"] == "Acme (acme)"
    page.press("switch")
    state = page.state
    assert state["orgs"]["purpose"] == "switch"
    assert [(i["slug"], i["current"]) for i in page.items()] == [
        ("acme", True),
        ("globex", False),
        ("vault", False),
    ]
    assert "you are here" in page.items()[0]["notes"]
    assert "switch_cancel" in page.action_ids() and "switch" not in page.action_ids()
    page.press("switch_cancel")
    assert page.state["orgs"] is None and "switch" in page.action_ids()

    page.press("switch")
    page.press("switch_to", id="globex")
    assert page.state["kind"] == "signed-in", page.error()
    assert page.rows()["stytch-organization"] == "Globex (globex)"
    assert page.widget.manager.member_session.member_session_id != first_session
    assert page.state["orgs"] is None

    # An organization that requires MFA: the MFA step, then signed in there.
    page.press("switch")
    page.press("switch_to", id="vault")
    assert page.state["kind"] == "needs-mfa", page.error()
    code = totp_now(member["totp_secret"])
    page.press("verify", code=code)
    assert page.state["kind"] == "signed-in", page.error()
    assert page.rows()["stytch-organization"] == "Vault (vault)"
    page.assert_clean(b2b, code, member["totp_secret"], *member["recovery_codes"])


def test_a_consumer_widget_refuses_the_b2b_messages(emulator) -> None:
    config = Stytch(
        public_token=emulator.public_token, api_url=emulator.api_url, token_store="memory"
    )
    with NotebookStytch(config) as stytch:
        stytch.start()
        assert stytch.wait_for_vertical(10)
        widget = stytch.widget()
        try:
            assert widget.state["vertical"] == "consumer" and widget.state["orgs"] is None
            for action in ("pick", "switch", "verify", "start_over", "send_link"):
                widget._handle_custom_msg({"action": action, "id": "acme", "code": "1"}, [])
                assert not widget.busy
            assert widget.state["error"] is None and stytch.status == "signed_out"
        finally:
            widget.close()


def test_the_organization_setting_takes_a_slug_or_nothing() -> None:
    config = Stytch()
    config.organization = " acme-corp "
    assert config.organization == "acme-corp"
    with pytest.raises(Exception, match="organization must be an organization's slug or id"):
        config.organization = "acme corp"
    assert config.organization == "acme-corp"


def test_a_discovery_link_and_sso_come_back_by_themselves(open_page, b2b) -> None:
    """A local kernel: the emailed link and the SSO redirect reach the loopback listener of
    their redirect flow (a browser opening them), and the widget moves on with no paste."""
    b2b.create_organization("Acme", "acme", sso_connections=[{"display_name": "Okta"}])
    b2b.create_member("acme", EMAIL)
    page = open_page()
    page.press("send_link", email=EMAIL)
    link = b2b.last_magic_link(EMAIL)
    assert link.startswith("http://127.0.0.1:") and "/stytch-jupyter/callback?" in link
    opened = httpx.get(link, trust_env=False)  # the person clicks the link in their mail
    assert opened.status_code == 200, opened.text
    wait_for(lambda: page.state["kind"] == "needs-organization", what="the picker")
    # The organizations are there in the first picker the status change rendered.
    assert [item["slug"] for item in page.items()] == ["acme"]

    page.press("sso", id="acme", origin="http://127.0.0.1:8888")
    (url,) = page.opened
    landed = b2b.complete_idp(url, EMAIL)
    assert landed.startswith("http://127.0.0.1:") and "stytch_token_type=sso" in landed
    assert httpx.get(landed, trust_env=False).status_code == 200
    wait_for(lambda: page.state["kind"] == "signed-in", what="the SSO sign-in")
    assert page.rows()["stytch-organization"] == "Acme (acme)"
    assert page.state["info"] == ""  # "sign in in the window" is old news now
    page.assert_clean(b2b)


def test_while_an_organization_is_entered_the_widget_says_so_and_a_503_is_plain(
    open_page, b2b
) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL)
    page = open_page()
    discover_by_code(page, b2b)
    b2b.add_fault(
        path_prefix="/sdk/v1/b2b/discovery/intermediate_sessions/exchange", latency_ms=400
    )
    page.widget._handle_custom_msg({"action": "pick", "id": "acme"}, [])
    busy = page.state
    assert (busy["busy"], busy["busy_label"]) == ("pick", "Entering…")
    assert busy["kind"] == "needs-organization" and busy["orgs"]["items"]
    page.widget.wait(10)
    assert page.state["kind"] == "signed-in" and page.state["busy"] == ""

    # A switch Stytch cannot answer: a plain sentence, still signed in where you were, and the
    # list still open to try again.
    page.press("switch")
    b2b.add_fault(path_prefix="/sdk/v1/b2b/sessions/exchange", status=503)
    page.press("switch_to", id="globex")
    assert page.error() == "Stytch is not answering properly right now. It will be tried again."
    assert page.state["kind"] == "signed-in"
    assert page.rows()["stytch-organization"] == "Acme (acme)"
    assert [item["slug"] for item in page.items()] == ["acme", "globex"]
    page.press("switch_to", id="globex")
    assert page.rows()["stytch-organization"] == "Globex (globex)", page.error()
