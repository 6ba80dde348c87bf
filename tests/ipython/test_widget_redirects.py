"""The widget's redirect parts in the kernel: OAuth buttons only where a redirect can come back,
the paste box, and tokens that travel in messages only (never in the widget's state)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from stytch_jupyter.ipython.widget import SessionWidget
from tests.conftest import EMAIL


@pytest.fixture
def make(emulator: Emulator) -> Iterator[Any]:
    made: list[Any] = []

    def build(**settings: Any) -> tuple[NotebookStytch, SessionWidget]:
        config = Stytch(
            public_token=emulator.public_token,
            api_url=emulator.api_url,
            token_store="memory",
            **settings,
        )
        stytch = NotebookStytch(config)
        stytch.start()
        widget = stytch.widget()
        made.append((stytch, widget))
        return stytch, widget

    yield build
    for stytch, widget in made:
        widget.close()
        stytch.close()


def send(widget: SessionWidget, **message: Any) -> None:
    widget._handle_custom_msg(message, [])  # the path a comm message takes
    widget.wait(10)


def test_buttons_only_where_a_redirect_can_come_back(make) -> None:
    _, widget = make(redirect_route="loopback", oauth_providers=["google", "github", "nope"])
    names = [(p["id"], p["name"]) for p in widget.state["providers"]]
    assert names == [("google", "Google"), ("github", "GitHub")]
    assert widget.state["paste"] is True and widget.state["relay_origin"] is None
    _, unconfigured = make(redirect_route="loopback")
    assert unconfigured.state["providers"] == []  # none unless the project lists them
    _, paste_only = make(redirect_route="paste", oauth_providers=["google"])
    assert paste_only.state["providers"] == [] and paste_only.state["paste"] is True
    _, relay = make(redirect_route="relay", relay_url="https://relay.example.com/cb.html")
    assert relay.state["relay_origin"] == "https://relay.example.com"


def test_a_pasted_link_signs_in_and_never_enters_the_state(make, emulator) -> None:
    stytch, widget = make(redirect_route="paste")
    stytch.redirect.start_magic_link(EMAIL)
    link = emulator.last_magic_link(EMAIL)
    send(widget, action="paste", link="not a link at all")
    assert widget.state["error"] is not None and stytch.status == "signed_out"
    assert "not a link at all" not in json.dumps(widget.state)
    send(widget, action="paste", link=link)
    assert stytch.status == "signed_in"
    token = link.rsplit("token=", 1)[1]
    assert token not in json.dumps(widget.get_state())


def test_a_provider_click_starts_a_flow_and_points_the_window_at_it(make, monkeypatch) -> None:
    stytch, widget = make(redirect_route="loopback", oauth_providers=["google"])
    sent: list[Any] = []
    # No front end here: record what would go to the page instead of a comm.
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(content))
    send(widget, action="provider", id="google", origin="http://127.0.0.1:8888")
    (flow,) = stytch.redirect.pending()
    assert flow.token_type == "oauth" and sent == [{"open": flow.url}]
    assert "Continue with Google" in widget.state["info"]
    send(widget, action="provider", id="not-configured")
    assert len(sent) == 1  # a button the widget never showed starts nothing
    verifier = flow._pkce.verifier
    assert verifier not in json.dumps(widget.get_state()) and verifier not in (flow.url or "")
