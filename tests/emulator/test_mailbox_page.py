"""The mailbox page at ``/`` and the outbox's order, over loopback HTTP (no browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from stytch_jupyter.emulator import Emulator
from tests.support.emulator_http import data, error, loopback_client, otp_sign_in, sdk


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with loopback_client(emulator.api_url, timeout=10) as client:
        yield client


def test_the_outbox_can_list_newest_first(http, emulator) -> None:
    for email in ["a@b.io", "c@d.io", "a@b.io"]:
        data(sdk(http, emulator, "otps/email/login_or_create", {"email": email}))
    oldest = emulator.control.outbox()
    newest = emulator.control.outbox(newest_first=True)
    assert [m["id"] for m in newest] == [m["id"] for m in reversed(oldest)]
    assert [m["to"] for m in emulator.control.outbox("a@b.io", newest_first=True)] == ["a@b.io"] * 2
    error(http.get("/emulator/v1/outbox", params={"order": "random"}), 400, "bad_request")


def test_the_mailbox_shows_codes_links_users_sessions_clock_and_faults(http, emulator) -> None:
    empty = http.get("/")
    assert empty.status_code == 200 and "text/html" in empty.headers["content-type"]
    assert "Nothing sent yet" in empty.text and "No users yet" in empty.text
    signed_in = otp_sign_in(http, emulator, "ada@example.com")
    data(sdk(http, emulator, "magic_links/email/login_or_create", {"email": "bob@example.com"}))
    emulator.add_fault(path_prefix="/sdk/v1/otps", status=503, times=2)
    emulator.advance_clock(90)
    page = http.get("/").text
    _, code = emulator.last_otp("ada@example.com")
    link = emulator.last_magic_link("bob@example.com")
    assert f'<div class="code">{code}</div>' in page
    href = link.replace("&", "&amp;")
    assert f'<a href="{href}">' in page
    # Newest first: the magic link (sent second) comes before the code.
    assert page.index('data-kind="magic_link"') < page.index('data-kind="otp"')
    assert signed_in["session"]["session_id"] in page
    assert "moved 0:01:30 ahead" in page
    assert "/sdk/v1/otps" in page and "answer 503" in page and "2 more times" in page
    assert '<meta http-equiv="refresh"' in page
    assert "<script" not in page  # works with JavaScript off
    assert http.get("/").headers["cache-control"] == "no-store"


def test_the_mailbox_escapes_what_it_shows(http, emulator) -> None:
    emulator.create_user("<img/src=x/onerror=alert(1)>@example.com")
    emulator.add_fault(path_prefix="/<b>bold</b>", status=500)
    body = {
        "email": "eve@example.com",
        "login_magic_link_url": 'http://127.0.0.1:1/cb?x="><script>alert(1)</script>',
    }
    data(sdk(http, emulator, "magic_links/email/login_or_create", body))
    page = http.get("/").text
    assert "<img/src=x" not in page and "&lt;img/src=x" in page
    assert "<b>bold</b>" not in page
    assert "<script>" not in page


def test_revoking_from_the_mailbox_ends_the_session(http, emulator) -> None:
    signed_in = otp_sign_in(http, emulator, "ada@example.com")
    session_id = signed_in["session"]["session_id"]
    form = re.search(r'name="session_id" value="([^"]+)"', http.get("/").text)
    assert form is not None and form.group(1) == session_id
    answer = http.post("/emulator/v1/mailbox/revoke", data={"session_id": session_id})
    assert answer.status_code == 303 and answer.headers["location"] == "/#users"
    token = signed_in["session_token"]
    error(sdk(http, emulator, "sessions/authenticate", {}, token), 404, "session_not_found")
    assert "no live session" in http.get("/").text
    again = http.post("/emulator/v1/mailbox/revoke", data={"session_id": session_id})
    error(again, 404, "session_not_found")
    error(http.post("/emulator/v1/mailbox/revoke", data={}), 400, "bad_request")


def test_faults_never_hide_the_mailbox(http, emulator) -> None:
    emulator.add_fault(status=500, times=10)
    assert http.get("/").status_code == 200
