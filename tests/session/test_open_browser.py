"""An OAuth sign-in started in a local kernel opens its address in the browser (``$BROWSER``
here is the tests' stand-in, tests/support/fake_browser.py, which follows the address over HTTP
through the emulator's consent page); elsewhere, or when asked not to, nothing is opened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session.locality import REMOTE_ENV
from stytch_jupyter.session.redirect.browser import may_open
from tests.conftest import EMAIL
from tests.support.fake_browser import APPROVE_ENV, logged
from tests.support.waiting import wait_for


@pytest.fixture
def make_manager(emulator: Emulator, tmp_path: Path) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(**settings: Any) -> SessionManager:
        config = Stytch(
            api_url=emulator.api_url,
            public_token=emulator.public_token,
            token_store="memory",
            data_dir=str(tmp_path / "data"),
            timeout=5.0,
            **settings,
        )
        manager = SessionManager(config, store_poll_interval=0.1)
        made.append(manager)
        manager.start()
        return manager

    yield make
    for manager in made:
        manager.close()


@pytest.mark.parametrize(
    ("environ", "platform", "refused"),
    [
        ({REMOTE_ENV: "0", "DISPLAY": ":0"}, "linux", None),
        ({REMOTE_ENV: "0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({REMOTE_ENV: "0", "BROWSER": "firefox"}, "linux", None),
        ({REMOTE_ENV: "0"}, "darwin", None),
        ({REMOTE_ENV: "0"}, "win32", None),
        ({REMOTE_ENV: "0"}, "linux", "no graphical browser here"),
        ({REMOTE_ENV: "1", "DISPLAY": ":0"}, "linux", "the kernel is remote"),
        ({"JUPYTERHUB_USER": "ada", "BROWSER": "firefox"}, "darwin", "the kernel is remote"),
        ({"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22", "DISPLAY": ":0"}, "linux", "remote"),
        ({"REMOTE_CONTAINERS": "true", "DISPLAY": ":0"}, "linux", "the kernel is unknown"),
    ],
)
def test_a_browser_is_opened_only_for_a_local_kernel_that_has_one(
    environ: dict[str, str], platform: str, refused: str | None
) -> None:
    reason = may_open(environ, platform)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_oauth_start_opens_the_browser_and_its_redirect_signs_in(
    make_manager: Callable[..., SessionManager],
    browser_log: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(APPROVE_ENV, EMAIL)
    manager = make_manager()
    flow = manager.oauth.start("google")
    assert flow.browser is not None and flow.browser.opened, flow.browser
    assert flow.route.name == "loopback"
    response = flow.wait(30)
    assert manager.status == "signed_in"
    assert response.user.email == EMAIL
    wait_for(lambda: len(logged(browser_log)) == 2)
    opened, landed = logged(browser_log)
    assert opened == f"opened {flow.url}"
    assert landed == "landed 200 /stytch-jupyter/callback signed_in=True"


def test_a_remote_kernel_opens_nothing_unless_asked(
    make_manager: Callable[..., SessionManager],
    browser_log: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REMOTE_ENV, "1")
    manager = make_manager(redirect_route="paste")
    flow = manager.oauth.start("github")
    assert flow.browser is not None and not flow.browser.opened
    assert "the kernel is remote" in flow.browser.reason
    # Asked for, it opens whatever the kernel looks like.
    asked = manager.oauth.start("github", open_browser=True)
    assert asked.browser is not None and asked.browser.opened
    wait_for(lambda: logged(browser_log) == [f"opened {asked.url}"])


def test_open_browser_off_or_false_opens_nothing(
    make_manager: Callable[..., SessionManager], browser_log: Path
) -> None:
    manager = make_manager(open_browser=False)
    flow = manager.oauth.start("github")
    assert flow.browser is not None and not flow.browser.opened
    manager.config.open_browser = True
    again = manager.oauth.start("github", open_browser=False)
    assert again.browser is not None and not again.browser.opened
    opened = manager.oauth.start("github")
    assert opened.browser is not None and opened.browser.opened
    # Only the last one reached the browser.
    wait_for(lambda: logged(browser_log) == [f"opened {opened.url}"])
