"""The mailbox page in Debian's Chromium, with JavaScript off: codes, links, revoke, screenshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from stytch_jupyter.emulator import Emulator
from tests.support.emulator_http import data, error, otp_sign_in, sdk

from .conftest import VIEWPORT

pytestmark = pytest.mark.browser


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.api_url, timeout=10, trust_env=False) as client:
        yield client


def test_mailbox_in_chromium(browser: Browser, emulator, http, artifacts_dir: Path) -> None:
    signed_in = otp_sign_in(http, emulator, "ada@example.com")
    data(sdk(http, emulator, "otps/email/login_or_create", {"email": "ada@example.com"}))
    data(sdk(http, emulator, "magic_links/email/login_or_create", {"email": "grace@example.com"}))
    emulator.add_fault(path_prefix="/sdk/v1/sessions", status=429, retry_after=5, times=3)
    _, code = emulator.last_otp("ada@example.com")
    link = emulator.last_magic_link("grace@example.com")

    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(emulator.api_url + "/")
        expect(page.get_by_role("heading", name="Stytch emulator mailbox")).to_be_visible()
        messages = page.locator(".message")
        expect(messages).to_have_count(3)
        # Newest first: the magic link, then the second code, then the first.
        expect(messages.nth(0)).to_contain_text("grace@example.com")
        expect(messages.nth(1).locator(".code")).to_have_text(code)
        size = page.locator(".code").first.evaluate("e => getComputedStyle(e).fontSize")
        assert float(size.removesuffix("px")) >= 32  # the code is big
        page.screenshot(path=str(artifacts_dir / "mailbox.png"), full_page=True)

        # The link is clickable and lands on the emulator's page for it.
        messages.nth(0).get_by_role("link").click()
        expect(page.get_by_role("heading", name="Magic link received")).to_be_visible()
        assert page.url == link

        # Revoke with a plain form post (JavaScript is off).
        page.goto(emulator.api_url + "/")
        page.get_by_role("button", name="Revoke").click()
        expect(page.get_by_text("no live session")).to_have_count(2)  # ada and grace
        expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    finally:
        context.close()
    token = signed_in["session_token"]
    emulator.clear_faults()
    error(sdk(http, emulator, "sessions/authenticate", {}, token), 404, "session_not_found")
