"""A real JupyterHub on loopback (DummyAuthenticator, SimpleLocalProcessSpawner, the npm
configurable-http-proxy), one for the whole module, plus kernels in its users' servers.

Kernels are started through each user's own server (REST, with an admin service token) and
driven with jupyter_client over their connection file: they are the server's kernels, with the
environment the server gives them, which is what the redirect route depends on.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jupyter_client import BlockingKernelClient
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from stytch_jupyter.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_PASSWORD = "hub-test-password"
USERS = ("alice", "bob")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def proxy_command() -> str:
    found = shutil.which("configurable-http-proxy")
    if PROXY.exists():
        return str(PROXY)
    if found:
        return found
    pytest.fail("configurable-http-proxy is not installed (bash .ci/run installs it from npm)")


@dataclass
class Hub:
    url: str  # the public URL, e.g. http://127.0.0.1:PORT/
    token: str  # an admin service token
    root: Path
    emulator: Emulator

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}{path.lstrip('/')}",
            headers={"Authorization": f"token {self.token}"},
            timeout=60,
            **kwargs,
        )

    def home(self, user: str) -> Path:
        return self.root / "home" / user


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def logged_in(browser: Browser, hub: Hub, user: str) -> BrowserContext:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", HUB_PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/**", timeout=60_000)
    page.close()
    return context


def approve_oauth(browser: Browser, hub: Hub, user: str, start_url: str, email: str) -> str:
    """As ``user``, logged in to the hub: open an OAuth start address, approve at the
    emulator's consent page as ``email``; the text of the page the redirect lands on."""
    context = logged_in(browser, hub, user)
    try:
        page = context.new_page()
        page.goto(start_url)
        page.fill("#email", email)
        page.click("#approve")
        page.wait_for_url(f"**/user/{user}/stytch-jupyter/callback?**", timeout=60_000)
        return page.inner_text("body")
    finally:
        context.close()


@pytest.fixture(scope="module")
def hub_emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="module")
def hub(hub_emulator: Emulator) -> Iterator[Hub]:
    with running_hub(hub_emulator, public_url=True) as running:
        yield running


@contextlib.contextmanager
def running_hub(hub_emulator: Emulator, *, public_url: bool) -> Iterator[Hub]:
    """A hub with both users' servers up; ``public_url``: whether c.JupyterHub.public_url is
    set (without it, the hub's single-user servers are not told its public address)."""
    root = Path(tempfile.mkdtemp(prefix="sj-hub-"))
    port, hub_port, proxy_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{port}/"
    token = secrets.token_hex(32)
    bin_dir = Path(sys.executable).parent
    config = root / "jupyterhub_config.py"
    settings = {
        "url": url,
        "port": port,
        "hub_port": hub_port,
        "proxy_api": f"http://127.0.0.1:{proxy_port}",
        "proxy": proxy_command(),
        "singleuser": str(bin_dir / "jupyterhub-singleuser"),
        "home": str(root / "home" / "{username}"),
        "db": f"sqlite:///{root / 'hub.sqlite'}",
        "cookie": str(root / "cookie_secret"),
        "pid": str(root / "proxy.pid"),
        "token": token,
        "password": HUB_PASSWORD,
        "public_url": url if public_url else "",  # JSON below: no True/False
        "env": {
            "STYTCH_API_URL": hub_emulator.api_url,
            "STYTCH_PUBLIC_TOKEN": hub_emulator.public_token,
            "STYTCH_JUPYTER_TOKEN_STORE": "memory",
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        },
    }
    config.write_text(
        f"settings = {json.dumps(settings)}\n"
        + """
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = settings["url"]
if settings["public_url"]:
    c.JupyterHub.public_url = settings["public_url"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.JupyterHub.db_url = settings["db"]
c.JupyterHub.cookie_secret_file = settings["cookie"]
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = settings["password"]
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = settings["home"]
c.Spawner.cmd = [settings["singleuser"]]
c.Spawner.args = ["--allow-root"]
c.Spawner.environment = settings["env"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.api_url = settings["proxy_api"]
c.ConfigurableHTTPProxy.pid_file = settings["pid"]
c.JupyterHub.services = [{"name": "tests", "api_token": settings["token"]}]
c.JupyterHub.load_roles = [
    {
        "name": "tests",
        "services": ["tests"],
        "scopes": ["admin:users", "admin:servers", "access:servers"],
    }
]
"""
    )
    log = open(root / "hub.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(bin_dir / "jupyterhub"), "-f", str(config)],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
    )
    running = Hub(url, token, root, hub_emulator)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyterhub exited: {(root / 'hub.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}hub/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyterhub did not start: {(root / 'hub.log').read_text()[-3000:]}")
            time.sleep(0.3)
        for user in USERS:
            running.api("POST", f"hub/api/users/{user}").raise_for_status()
            spawn = running.api("POST", f"hub/api/users/{user}/server")
            assert spawn.status_code in (201, 202), spawn.text
        for user in USERS:
            deadline = time.monotonic() + 120
            while (
                not running.api("GET", f"hub/api/users/{user}")
                .json()["servers"]
                .get("", {})
                .get("ready")
            ):
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"{user}'s server did not start: {(root / 'hub.log').read_text()[-3000:]}"
                    )
                time.sleep(0.3)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        # The hub stops the proxy and the users' servers on a clean exit; the proxy, by its
        # pid file, in case it did not.
        pid_file = root / "proxy.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


class HubKernel:
    """A kernel in a hub user's server, driven over its connection file."""

    def __init__(self, hub: Hub, user: str) -> None:
        self.hub, self.user = hub, user
        started = hub.api("POST", f"user/{user}/api/kernels", json={"name": "python3"})
        started.raise_for_status()
        self.id = started.json()["id"]
        runtime = hub.home(user) / ".local" / "share" / "jupyter" / "runtime"
        path = runtime / f"kernel-{self.id}.json"
        deadline = time.monotonic() + 60
        while not path.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"no connection file at {path}")
            time.sleep(0.1)
        self.client = BlockingKernelClient(connection_file=str(path))
        self.client.load_connection_file()
        # No kernel manager here: "alive" is the heartbeat channel, whose 1 s default calls a
        # kernel on a loaded 2-core machine dead before it has said hello.
        self.client.hb_channel.time_to_dead = 10.0
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 60) -> str:
        """Run ``code``; its stdout (an error raises AssertionError with the traceback)."""
        out: list[str] = []
        errors: list[str] = []

        def collect(message: dict[str, Any]) -> None:
            content = message["content"]
            kind = message["msg_type"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content["traceback"]))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=collect)
        if reply["content"]["status"] != "ok":
            raise AssertionError("".join(errors) or str(reply["content"]))
        return "".join(out)

    def close(self) -> None:
        self.client.stop_channels()
        self.hub.api("DELETE", f"user/{self.user}/api/kernels/{self.id}")
