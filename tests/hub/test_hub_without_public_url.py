"""A real JupyterHub without ``c.JupyterHub.public_url`` (nor STYTCH_JUPYTER_CALLBACK_URL): its
single-user servers are not told the hub's public address. The server extension still serves
the callback and hands kernels its path; a sign-in started with the notebook page's origin
(what the widget reports) takes the Jupyter-server route and signs in through
``/hub/user-redirect/stytch-jupyter/callback``; one started from a cell says what to set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL

from .conftest import Hub, HubKernel, approve_oauth, running_hub

pytestmark = [pytest.mark.browser, pytest.mark.kernel]


@pytest.fixture(scope="module")
def addressless_hub(hub_emulator: Emulator) -> Iterator[Hub]:
    with running_hub(hub_emulator, public_url=False) as running:
        yield running


@pytest.fixture
def alice_kernel(addressless_hub: Hub) -> Iterator[HubKernel]:
    kernel = HubKernel(addressless_hub, "alice")
    kernel.run("%load_ext stytch_jupyter")
    yield kernel
    kernel.close()


ROUTE = """
import json, os
route = stytch.redirect.route()
print(json.dumps({"name": route.name, "hint": route.hint,
                  "public": os.environ.get("JUPYTERHUB_PUBLIC_HUB_URL", "")}))
"""


def test_from_a_cell_the_route_says_what_to_set(alice_kernel: HubKernel) -> None:
    route: dict[str, Any] = json.loads(alice_kernel.run(ROUTE))
    assert route["public"] == ""  # the hub really does not say
    assert route["name"] == "paste"
    assert "set c.JupyterHub.public_url (or STYTCH_JUPYTER_CALLBACK_URL" in route["hint"]
    # The widget offers its OAuth buttons all the same: a click reports the page's origin.
    offered = alice_kernel.run(
        "%config Stytch.oauth_providers = ['github']\n"
        "w = stytch.widget()\nprint(*[p['id'] for p in w.state.get('providers', [])])"
    )
    assert offered.split() == ["github"]


def test_with_the_page_origin_oauth_signs_in_through_the_hub(
    addressless_hub: Hub, alice_kernel: HubKernel, browser: Browser
) -> None:
    origin = addressless_hub.url.rstrip("/")
    started = json.loads(
        alice_kernel.run(
            "import json\n"
            f"flow = stytch.oauth.start('github', notebook_origin={origin!r}, open_browser=False)\n"
            "print(json.dumps({'route': flow.route.name, 'url': flow.url}))"
        )
    )
    assert started["route"] == "server"
    redirect = parse_qs(urlsplit(started["url"]).query)["login_redirect_url"][0]
    assert redirect.startswith(f"{origin}/hub/user-redirect/stytch-jupyter/callback?flow=")

    text = approve_oauth(browser, addressless_hub, "alice", started["url"], EMAIL)
    assert "You're signed in" in text and EMAIL in text
    out = alice_kernel.run("flow.wait(30); print(stytch.status, stytch.user.email)")
    assert out.split() == ["signed_in", EMAIL]
    alice_kernel.run("stytch.sessions.revoke()")
