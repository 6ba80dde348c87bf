"""A B2B project in a real kernel (jupyter_client), the emulator over loopback: ``%stytch login
discovery --paste`` (the link pasted at a hidden prompt, the organization picked by number at an
input prompt) → exchange → member session; ``%stytch switch`` to the other organization; then a
verbose look at everything the cells showed finds no IST, link token or session token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from stytch_jupyter.emulator import Emulator
from tests.support.kernel_cells import execute
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager
from tests.support.secret_scan import assert_no_secrets

pytestmark = pytest.mark.kernel

EMAIL = "ada@acme.test"


@pytest.fixture
def b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def kernel(b2b: Emulator, tmp_path: Path) -> Iterator[BlockingKernelClient]:
    home = KernelHome(tmp_path).create()
    manager: KernelManager = kernel_manager(home, "b2b")
    with (tmp_path / "kernel.log").open("wb") as log:
        manager.start_kernel(
            env=kernel_env(home, b2b.api_url, b2b.public_token), stdout=log, stderr=log
        )
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            yield client
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def test_discovery_pick_exchange_and_switch_in_a_kernel(kernel, b2b) -> None:
    client = kernel
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL)
    prompts: list[tuple[str, bool]] = []
    answers = [lambda: b2b.last_magic_link(EMAIL), lambda: "1"]

    def on_input(request: dict[str, Any]) -> None:
        prompts.append((request["prompt"], request["password"]))
        client.input(answers.pop(0)())

    setup = execute(client, "%load_ext stytch_jupyter\n%xmode Verbose")
    assert setup.error is None, setup.text
    cell = execute(client, f"%stytch login discovery --email {EMAIL} --paste", on_input)
    assert cell.error is None, cell.text
    assert "1. acme: Acme" in cell.text and "2. globex: Globex" in cell.text
    assert f"Signed in as {EMAIL} in acme" in cell.text
    # The link is a secret (hidden prompt); the number is not.
    assert prompts == [
        ("Sign-in link: ", True),
        ("Organization number (1-2): ", False),
    ]
    link_token = parse_qs(urlsplit(b2b.last_magic_link(EMAIL)).query)["token"][0]

    check = execute(
        client,
        "print(stytch.vertical.name, stytch.status, stytch.organization.organization_slug)\n"
        "_tokens = (stytch.session_token.value, stytch.session_jwt.value)",
    )
    assert check.text.split() == ["b2b", "signed_in", "acme"], check.text
    switched = execute(client, "%stytch switch globex")
    assert switched.error is None and f"{EMAIL} in globex" in switched.text, switched.text
    failing = execute(client, "%stytch switch nowhere")  # one line (a UsageError), even verbose
    assert "UsageError: %stytch switch: no organization has the slug 'nowhere'" in failing.text
    assert "Traceback" not in failing.text

    shown = "\n".join([cell.text, check.text, switched.text, failing.text])
    tokens = execute(client, "print(*_tokens, sep='\\n')").text.split()
    final = execute(client, "print(stytch.session_token.value)").text.strip()
    assert_no_secrets(
        {"link token": link_token, "first session": tokens[0], "current session": final},
        texts={"cells": shown},
    )
