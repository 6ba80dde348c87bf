"""Fixtures for tests that drive JupyterLab in Debian's Chromium through Playwright.

- ``artifacts_dir``: screenshots, server logs and browser console logs (printed at the end).
- ``browser``: one headless Chromium (``/usr/bin/chromium``, never a Playwright download).
- ``jupyter_lab_factory(env=None, *, name="lab")``: start another JupyterLab server whose kernels
  inherit ``env``; every server is stopped at the end of the session (or earlier with ``.stop()``).
- ``jupyter_lab``: a default server with no extra environment.
- ``lab_factory(server=None, *, name=None)``: a ``Lab`` (fresh browser context) on a server.
- ``lab``: a ``Lab`` on ``jupyter_lab``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from .jupyterlab import JupyterLabServer, ServerFactory
from .lab import Lab, LabFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # Without these Chromium keeps trying to reach Google services, which this closed network
    # refuses (and which no test should depend on anyway).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}

_artifacts_key = pytest.StashKey[Path]()
_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Kept on the item so lab_factory's teardown knows whether to take a failure screenshot.
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    path = config.stash.get(_artifacts_key, None)
    if path is not None:
        terminalreporter.write_line(f"browser test artifacts (screenshots, logs): {path}")


@pytest.fixture(scope="session")
def artifacts_dir(pytestconfig: pytest.Config) -> Path:
    """``$STYTCH_JUPYTER_ARTIFACTS`` if set, else a fresh temp dir; outside git either way."""
    configured = os.environ.get("STYTCH_JUPYTER_ARTIFACTS")
    if configured:
        path = Path(configured).resolve()
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="stytch-jupyter-artifacts-"))
    pytestconfig.stash[_artifacts_key] = path
    return path


# Package scope, not session: Playwright's sync API keeps an asyncio loop running on the main
# thread while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        # A failure, not a skip: CI installs it, and a browser test that did not run has not passed.
        pytest.fail(f"{CHROMIUM} not found: install Debian's Chromium (apt-get install chromium)")
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def jupyter_lab_factory(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path
) -> Iterator[ServerFactory]:
    servers: list[JupyterLabServer] = []

    def start(
        env: Mapping[str, str] | None = None,
        *,
        name: str = "lab",
        lab_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> JupyterLabServer:
        label = f"{name}-{len(servers) + 1}"
        server = JupyterLabServer(
            tmp_path_factory.mktemp(f"jupyterlab-{name}"),
            log_path=artifacts_dir / f"server-{label}.log",
            env=env,
            lab_settings=lab_settings,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture(scope="package")
def jupyter_lab(jupyter_lab_factory: ServerFactory) -> JupyterLabServer:
    return jupyter_lab_factory(name="default")


@pytest.fixture
def lab_factory(
    request: pytest.FixtureRequest,
    browser: Browser,
    jupyter_lab_factory: ServerFactory,
    artifacts_dir: Path,
) -> Iterator[LabFactory]:
    labs: list[Lab] = []
    contexts = []

    def open_lab(server: JupyterLabServer | None = None, *, name: str | None = None) -> Lab:
        if server is None:
            server = request.getfixturevalue("jupyter_lab")
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        contexts.append(context)
        base = name or request.node.name
        lab = Lab(
            context.new_page(),
            server,
            artifacts_dir,
            name=base if not labs else f"{base}-{len(labs) + 1}",
        )
        labs.append(lab)
        return lab

    yield open_lab
    reports = request.node.stash.get(_reports_key, {})
    failed = any(report.failed for report in reports.values())
    for lab in labs:
        if failed and not lab.page.is_closed():
            try:
                lab.screenshot("failure")
            except Exception as error:  # a dead page must not hide the test's own failure
                print(f"no failure screenshot for {lab.name}: {error}")
        lab.close()
    for context in contexts:
        context.close()


@pytest.fixture
def lab(lab_factory: LabFactory) -> Lab:
    return lab_factory()
