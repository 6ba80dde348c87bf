"""A real kernel (jupyter_client) runs ``%stytch login oauth google``: the kernel, local, opens
the start address with ``webbrowser``; its ``$BROWSER`` is the tests' stand-in, which follows
it over HTTP through the emulator's consent page (approve), and the loopback redirect signs the
kernel in while the cell waits. The address is shown as a link in the cell's output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter.emulator import Emulator
from tests.support.fake_browser import APPROVE_ENV, LOG_ENV
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager

pytestmark = pytest.mark.kernel

EMAIL = "kay@example.com"


def test_login_oauth_in_a_local_kernel_opens_the_browser_and_signs_in(
    emulator: Emulator, tmp_path: Path
) -> None:
    home = KernelHome(tmp_path).create()
    log = tmp_path / "browser.log"
    env = kernel_env(home, emulator.api_url, emulator.public_token)
    env.update({"STYTCH_JUPYTER_REMOTE": "0", LOG_ENV: str(log), APPROVE_ENV: EMAIL})
    manager = kernel_manager(home, "oauth-browser")
    with (tmp_path / "kernel.log").open("wb") as kernel_log:
        manager.start_kernel(env=env, stdout=kernel_log, stderr=kernel_log)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            outputs: list[dict[str, Any]] = []

            def collect(message: dict[str, Any]) -> None:
                if message["msg_type"] in ("stream", "display_data", "error"):
                    outputs.append(message)

            reply = client.execute_interactive(
                "%load_ext stytch_jupyter\n%config Stytch.redirect_timeout = 30\n"
                "%stytch login oauth google\n"
                "print(stytch.status, stytch.user.email)",
                timeout=90,
                output_hook=collect,
            )
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", errors
    stdout = "".join(
        m["content"]["text"]
        for m in outputs
        if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )
    assert stdout.splitlines()[-1] == f"signed_in {EMAIL}"
    (link,) = [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"]
    url = link["text/plain"].split()[-1]
    assert url.startswith(f"{emulator.api_url}/v1/public/oauth/google/start?")
    assert 'target="_blank"' in link["text/html"]
    assert log.read_text().splitlines() == [
        f"opened {url}",
        "landed 200 /stytch-jupyter/callback signed_in=True",
    ]
