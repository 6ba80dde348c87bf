"""Sign-in redirects through a real JupyterHub: the kernel is behind the hub (not local), so
the redirect comes back through ``/hub/user-redirect/stytch-jupyter/callback`` to the user's own
server, and from there through its mailbox to the kernel. No loopback listener is involved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser

from tests.conftest import EMAIL
from tests.support.waiting import wait_for

from .conftest import Hub, HubKernel, approve_oauth, logged_in

pytestmark = [pytest.mark.browser, pytest.mark.kernel]


@pytest.fixture
def alice_kernel(hub: Hub) -> Iterator[HubKernel]:
    kernel = HubKernel(hub, "alice")
    kernel.run("%load_ext stytch_jupyter")
    yield kernel
    kernel.close()


START_MAGIC_LINK = f"""
import json, threading
flow = stytch.redirect.start_magic_link({EMAIL!r})
print(json.dumps({{"route": flow.route.name, "redirect_url": flow.redirect_url}}))
"""
OPEN_LISTENERS = (
    "from stytch_jupyter.session.redirect.loopback import open_listeners; print(open_listeners())"
)


def emailed_link(hub: Hub, after: int) -> str:
    wait_for(
        lambda: len([m for m in hub.emulator.outbox(EMAIL) if m["kind"] == "magic_link"]) > after
    )
    return hub.emulator.last_magic_link(EMAIL)


def sent_links(hub: Hub) -> int:
    return len([m for m in hub.emulator.outbox(EMAIL) if m["kind"] == "magic_link"])


def test_a_magic_link_signs_in_a_kernel_behind_the_hub(
    hub: Hub, alice_kernel: HubKernel, browser: Browser
) -> None:
    before = sent_links(hub)
    started: dict[str, Any] = json.loads(alice_kernel.run(START_MAGIC_LINK))
    assert started["route"] == "server", started
    link = emailed_link(hub, before)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}/" == hub.url
    assert parts.path == "/hub/user-redirect/stytch-jupyter/callback"
    token = parse_qs(parts.query)["token"][0]

    context = logged_in(browser, hub, "alice")
    try:
        page = context.new_page()
        response = page.goto(link)
        assert response is not None
        assert "/user/alice/stytch-jupyter/callback" in page.url
        text = page.inner_text("body")
        assert "You're signed in" in text and EMAIL in text
        assert token not in page.content()
        assert response.headers.get("cache-control") == "no-store"
        assert response.headers.get("referrer-policy") == "no-referrer"
    finally:
        context.close()

    out = alice_kernel.run("flow.wait(30); print(stytch.status, stytch.user.email)")
    assert out.split() == ["signed_in", EMAIL]
    assert alice_kernel.run(OPEN_LISTENERS).strip() == "0"
    alice_kernel.run("stytch.sessions.revoke()")


def test_another_hub_user_cannot_complete_the_flow(
    hub: Hub, alice_kernel: HubKernel, browser: Browser
) -> None:
    before = sent_links(hub)
    started = json.loads(alice_kernel.run(START_MAGIC_LINK))
    assert started["route"] == "server"
    link = emailed_link(hub, before)
    query = urlsplit(link).query

    bob = logged_in(browser, hub, "bob")
    try:
        page = bob.new_page()
        # The registered URL sends bob to his own server, where no such sign-in waits.
        page.goto(link)
        assert "/user/bob/stytch-jupyter/callback" in page.url
        assert "No sign-in is waiting for this link" in page.inner_text("body")
        # Alice's server itself refuses bob.
        direct = page.goto(f"{hub.url}user/alice/stytch-jupyter/callback?{query}")
        assert direct is not None and direct.status == 403
    finally:
        bob.close()
    out = alice_kernel.run("print(flow.state, stytch.status)")
    assert out.split() == ["pending", "signed_out"]

    alice = logged_in(browser, hub, "alice")
    try:
        page = alice.new_page()
        page.goto(link)
        assert "You're signed in" in page.inner_text("body")
    finally:
        alice.close()
    out = alice_kernel.run("flow.wait(30); print(stytch.status)")
    assert out.split() == ["signed_in"]
    alice_kernel.run("stytch.sessions.revoke()")


def test_oauth_signs_in_a_kernel_behind_the_hub(
    hub: Hub, alice_kernel: HubKernel, browser: Browser
) -> None:
    started = json.loads(
        alice_kernel.run(
            "import json\nflow = stytch.oauth.start('github')\n"
            "print(json.dumps({'route': flow.route.name, 'url': flow.url}))"
        )
    )
    assert started["route"] == "server"
    start = urlsplit(started["url"])
    redirect = parse_qs(start.query)["login_redirect_url"][0]
    assert redirect.startswith(f"{hub.url}hub/user-redirect/stytch-jupyter/callback?flow=")

    text = approve_oauth(browser, hub, "alice", started["url"], EMAIL)
    assert "You're signed in" in text and EMAIL in text
    out = alice_kernel.run("r = flow.wait(30); print(stytch.status, r.provider_type)")
    assert out.split()[0] == "signed_in"
    assert alice_kernel.run(OPEN_LISTENERS).strip() == "0"
    alice_kernel.run("stytch.sessions.revoke()")
