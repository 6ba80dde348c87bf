"""OAuth over the loopback way back, for real: Chromium opens the flow's start URL, the
emulator's consent page is approved, the redirect lands on the kernel's listener, and the
session signs in with the PKCE verifier that never left this process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from tests.conftest import EMAIL

pytestmark = pytest.mark.browser

STEAL = """
import json, sys, httpx
url, public, token = sys.argv[1:]
r = httpx.post(url + "/sdk/v1/oauth/authenticate", auth=(public, public),
    json={"token": token, "session_duration_minutes": 5})
print(json.dumps({"status": r.status_code, "body": r.json()}))
"""


@pytest.fixture
def manager(emulator: Emulator, tmp_path: Path) -> Iterator[SessionManager]:
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="memory",
        data_dir=str(tmp_path),
        redirect_route="loopback",
    )
    made = SessionManager(config)
    made.start()
    yield made
    made.close()


def test_oauth_signs_in_over_loopback_and_a_captured_token_needs_the_verifier(
    manager: SessionManager, emulator: Emulator, browser: Browser
) -> None:
    flow = manager.oauth.start("google", scopes=["calendar.readonly"])
    assert flow.route.name == "loopback" and flow.url is not None
    context = browser.new_context()
    captured: list[str] = []

    def hold(route: Route) -> None:
        # Play the eavesdropper: take the consent page's redirect, and keep it from the kernel
        # for now (Playwright does not route redirects, so the POST that answers with it).
        answer = route.fetch(max_redirects=0)
        captured.append(answer.headers["location"])
        route.fulfill(status=200, body="held")

    try:
        page = context.new_page()
        page.route("**/emulator/v1/oauth/consent*", hold)
        page.goto(flow.url)
        page.fill("#email", EMAIL)
        page.click("#approve")
        for _ in range(100):
            if captured:
                break
            page.wait_for_timeout(100)
        assert captured, f"no redirect to the callback: {page.url} {page.inner_text('body')[:300]}"
        back = urlsplit(captured[0])
        query = parse_qs(back.query)
        assert query["stytch_token_type"] == ["oauth"] and query["flow"] == [flow.id]
        token = query["token"][0]

        thief = subprocess.run(
            [sys.executable, "-c", STEAL, emulator.api_url, emulator.public_token, token],
            capture_output=True,
            text=True,
            timeout=60,
        )
        stolen = json.loads(thief.stdout)
        assert stolen["status"] == 400 and stolen["body"]["error_type"].startswith("pkce")
        assert manager.status == "signed_out" and flow.state == "pending"

        # Now the real redirect reaches the kernel, in the browser.
        page.unroute("**/emulator/v1/oauth/consent*")
        page.goto(captured[0])
        assert "You're signed in" in page.inner_text("body")
        assert token not in page.content()
    finally:
        context.close()
    response = flow.wait(10)
    assert manager.status == "signed_in" and manager.user is not None
    assert manager.user.email == EMAIL
    # The provider's tokens are secrets: never in a repr.
    values = response.provider_values
    for secret in (values.access_token, values.refresh_token, values.id_token):
        if secret:
            assert secret not in repr(response) and secret not in repr(values)
    # Replayed: the flow is gone, and the listener with it.
    with pytest.raises(httpx.ConnectError):
        httpx.get(captured[0], timeout=5)
