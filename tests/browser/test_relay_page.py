"""The relay page, served from its own loopback origin, in Chromium: it strips the token from
the address bar, posts it to the notebook window that opened it (and only to the origin that
window's flow named), or shows it for copying; either way the kernel signs in.

The notebook side here is a small page of the test's own that listens for the relay's message,
standing in for the widget (its "Continue with …" buttons come with the widget rebuild): the
contract tested is the relay page's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session.redirect import Redirect
from stytch_jupyter.session.redirect.relay import MESSAGE_TYPE, relay_page_html
from tests.conftest import EMAIL
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

OPENER = b"""<!doctype html><html><body><p>notebook</p><script>
window.received = [];
window.addEventListener("message", function (e) {
  window.received.push({origin: e.origin, data: e.data});
});
</script></body></html>"""


class StaticSite:
    """One page at ``/page.html`` on its own loopback port (so its own origin); logs nothing."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != "/page.html":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.origin}/page.html"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites() -> Iterator[Callable[[bytes], StaticSite]]:
    made: list[StaticSite] = []

    def make(body: bytes) -> StaticSite:
        made.append(StaticSite(body))
        return made[-1]

    yield make
    for site in made:
        site.close()


@pytest.fixture
def relay(sites: Callable[[bytes], StaticSite]) -> StaticSite:
    return sites(relay_page_html().encode())


@pytest.fixture
def emulator(relay: StaticSite) -> Iterator[Emulator]:
    # The relay page's address is registered with the project, as it would be with Stytch.
    with Emulator(redirect_urls=[relay.url]) as running:
        yield running


@pytest.fixture
def relay_manager(
    emulator: Emulator, tmp_path: Path, relay: StaticSite
) -> Iterator[tuple[SessionManager, StaticSite]]:
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="memory",
        data_dir=str(tmp_path),
        redirect_route="relay",
        relay_url=relay.url,
    )
    manager = SessionManager(config)
    manager.start()
    yield manager, relay
    manager.close()


def emailed_link(emulator: Emulator, after: int) -> str:
    wait_for(lambda: len(emulator.outbox(EMAIL)) > after)
    return emulator.last_magic_link(EMAIL)


def test_popup_path_posts_the_token_to_the_opening_notebook_only(
    relay_manager, emulator, browser: Browser, sites
) -> None:
    manager, relay = relay_manager
    notebook = sites(OPENER)
    stranger = sites(OPENER)
    flow = manager.redirect.start_magic_link(EMAIL, notebook_origin=notebook.origin)
    link = emailed_link(emulator, 0)
    assert link.startswith(relay.url + "?")
    query = parse_qs(urlsplit(link).query)
    assert query["flow"] == [flow.id] and query["origin"] == [notebook.origin]
    token = query["token"][0]

    context = browser.new_context()
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        # A page of another origin that opens the same link gets nothing.
        other = context.new_page()
        other.goto(stranger.url)
        with other.expect_popup() as opened:
            other.evaluate("url => window.open(url)", link)
        popup = opened.value
        popup.wait_for_function("document.getElementById('status').textContent.includes('Sent')")
        assert other.evaluate("window.received") == []
        popup.close()

        page = context.new_page()
        page.goto(notebook.url)
        with page.expect_popup() as opened:
            page.evaluate("url => window.open(url)", link)
        popup = opened.value
        page.wait_for_function("window.received.length > 0")
        received = page.evaluate("window.received")
        assert len(received) == 1 and received[0]["origin"] == relay.origin
        data = received[0]["data"]
        assert data == {
            "type": MESSAGE_TYPE,
            "flow": flow.id,
            "stytch_token_type": "magic_links",
            "token": token,
        }
        # The token left the relay's address bar at once.
        assert "token" not in popup.url and popup.url == relay.url
        assert "Sent to your notebook" in popup.inner_text("#status")
    finally:
        context.close()
    # Nothing but the two test pages (and the relay page itself) was loaded: no third party.
    assert requests and all(
        url.startswith((relay.origin, notebook.origin, stranger.origin)) for url in requests
    )

    # What the widget does with the message: hand it to the flow.
    manager.redirect.complete(Redirect(data["token"], data["stytch_token_type"], data["flow"]))
    assert manager.status == "signed_in" and flow.state == "signed_in"


def test_copy_path_shows_the_link_to_paste(relay_manager, emulator, browser: Browser) -> None:
    manager, relay = relay_manager
    flow = manager.redirect.start_magic_link(EMAIL)  # no notebook origin: nothing is posted
    link = emailed_link(emulator, 0)
    token = parse_qs(urlsplit(link).query)["token"][0]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(link)  # opened from the email: a tab of its own, no opener
        page.wait_for_selector("#link", state="visible")
        assert page.url == relay.url
        copied = page.input_value("#link")
        assert token in copied and f"flow={flow.id}" in copied
        assert "paste it in the notebook" in page.inner_text("#status")
    finally:
        context.close()
    manager.redirect.resume(copied)
    assert manager.status == "signed_in" and flow.state == "signed_in"
