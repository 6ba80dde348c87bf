"""The widget's redirect sign-ins in a real JupyterLab, in Chromium: "Continue with Google"
through the Jupyter server's callback, the same button through the relay page (its postMessage
back to the widget), and the relay page's copy pasted into the widget's paste box."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session.redirect.relay import relay_page_html
from tests.conftest import EMAIL

from .jupyterlab import JupyterLabServer, ServerFactory, poll_until
from .lab import Lab, LabFactory

pytestmark = pytest.mark.browser

UI_TIMEOUT_MS = 30_000


class RelaySite:
    """The relay page on its own loopback origin (the project owner's host); logs nothing."""

    def __init__(self) -> None:
        body = relay_page_html().encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stytch-callback.html"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def relay() -> Iterator[RelaySite]:
    site = RelaySite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def emulator(relay: RelaySite) -> Iterator[Emulator]:
    with Emulator(redirect_urls=[relay.url]) as emu:
        yield emu


@pytest.fixture(scope="module")
def server(jupyter_lab_factory: ServerFactory, emulator: Emulator) -> Iterator[JupyterLabServer]:
    started = jupyter_lab_factory(
        {"STYTCH_API_URL": emulator.api_url, "STYTCH_PUBLIC_TOKEN": emulator.public_token},
        name="redirects",
    )
    profile = started.ipython_dir / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text('c.Stytch.token_store = "memory"\n')
    yield started
    started.stop()


@pytest.fixture
def lab(lab_factory: LabFactory, server: JupyterLabServer) -> Lab:
    with server.api() as client:
        poll_until(
            lambda: client.get("/api/kernels").json() == [],
            timeout=30,
            message="a previous scenario's kernel is still running",
        )
    if server.stytch_data_dir.exists():
        shutil.rmtree(server.stytch_data_dir)
    return lab_factory(server)


def widget_after(lab: Lab, path: str, setup: str) -> Locator:
    setup = "%load_ext stytch_jupyter\n%config Stytch.oauth_providers = ['google']\n" + setup
    lab.open_notebook(path, [setup, "stytch.widget()"])
    lab.run_cell(0)
    lab.run_cell(1)
    widget = lab.output(1).locator(".stytch-session-widget")
    expect(widget).to_have_class(re.compile(r"stytch-signed-out"), timeout=UI_TIMEOUT_MS)
    return widget


def approve(popup: Page) -> None:
    popup.wait_for_selector("#approve", timeout=UI_TIMEOUT_MS)
    popup.fill("#email", EMAIL)
    popup.click("#approve")


def signed_in(widget: Locator) -> None:
    expect(widget.locator(".stytch-status")).to_have_text(
        re.compile(f"Signed in as {re.escape(EMAIL)}"), timeout=UI_TIMEOUT_MS
    )


def widget_state_has_no_token(lab: Lab, token_hint: str) -> None:
    saved = json.dumps(lab.outputs(1))
    assert token_hint not in saved


def test_continue_with_google_through_the_jupyter_server(lab: Lab) -> None:
    # The kernel is this server's (its mailbox is in the environment): the server route.
    widget = widget_after(lab, "server-route.ipynb", "print(stytch.redirect.route().name)")
    assert lab.output_text(0).strip() == "server"
    button = widget.locator(".stytch-provider-google")
    expect(button).to_have_text("Continue with Google")
    with lab.page.expect_popup() as opened:
        button.click()
    popup = opened.value
    approve(popup)
    popup.wait_for_url("**/stytch-jupyter/callback?**", timeout=UI_TIMEOUT_MS)
    assert "You're signed in" in popup.inner_text("body")
    signed_in(widget)


def test_continue_with_google_through_the_relay_page(lab: Lab, relay: RelaySite) -> None:
    setup = f'%config Stytch.redirect_route = "relay"\n%config Stytch.relay_url = "{relay.url}"'
    widget = widget_after(lab, "relay-popup.ipynb", setup)
    with lab.page.expect_popup() as opened:
        widget.locator(".stytch-provider-google").click()
    popup = opened.value
    approve(popup)
    # The relay page posts the redirect to the notebook page, which hands it to the kernel.
    signed_in(widget)
    # The widget closes the window it opened once the redirect came back.
    popup.wait_for_event("close", timeout=UI_TIMEOUT_MS) if not popup.is_closed() else None
    assert popup.is_closed()


def test_the_relay_pages_copy_pasted_into_the_widget(
    lab: Lab, relay: RelaySite, emulator: Emulator
) -> None:
    setup = (
        f'%config Stytch.redirect_route = "relay"\n%config Stytch.relay_url = "{relay.url}"\n'
        f"flow = stytch.redirect.start_magic_link({EMAIL!r})"
    )
    widget = widget_after(lab, "relay-copy.ipynb", setup)
    link = emulator.last_magic_link(EMAIL)
    assert link.startswith(relay.url + "?")
    tab = lab.page.context.new_page()  # opened from the email: no opener
    try:
        tab.goto(link)
        tab.wait_for_selector("#link", state="visible")
        copied = tab.input_value("#link")
    finally:
        tab.close()
    box = widget.locator("input.stytch-paste")
    box.fill(copied)
    widget.locator(".stytch-paste-submit").click()
    signed_in(widget)
    expect(box).to_have_count(0)  # signed in: the form (and the pasted text) is gone
    token = copied.rsplit("token=", 1)[1]
    widget_state_has_no_token(lab, token)
