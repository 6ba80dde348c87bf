"""``%stytch login oauth PROVIDER`` in a local kernel opens the start address in the browser
(the tests' stand-in ``$BROWSER`` approves at the emulator's consent page) and the loopback
redirect signs the kernel in; the address is printed as a link either way, and
``--no-browser`` (or ``Stytch.open_browser = False``) opens nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from stytch_jupyter.session.locality import REMOTE_ENV
from tests.conftest import EMAIL
from tests.support.fake_browser import APPROVE_ENV, LOG_ENV
from tests.support.shells import Prompts, run
from tests.support.waiting import wait_for


@pytest.fixture
def browser_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "browser.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.setenv(REMOTE_ENV, "0")  # a local kernel (this machine may be a container)
    return log


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_login_oauth_opens_the_browser_and_signs_in(
    ip: Any,
    stytch: NotebookStytch,
    browser_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    monkeypatch.setenv(APPROVE_ENV, EMAIL)
    ip.run_line_magic("config", "Stytch.redirect_timeout = 30")  # a failure, not a hang
    result = run(ip, "%stytch login oauth google")
    assert result.error_in_exec is None, result.error_in_exec
    out = capsys.readouterr().out
    assert stytch.status == "signed_in" and stytch.user is not None
    assert stytch.user.email == EMAIL
    first = out.splitlines()[0]
    assert first.startswith("Sign in with Google (opened in your browser; if it did not open")
    url = first.split()[-1]
    assert f"Signed in as {EMAIL}" in out
    wait_for(lambda: len(lines(browser_log)) == 2)
    assert lines(browser_log) == [
        f"opened {url}",
        "landed 200 /stytch-jupyter/callback signed_in=True",
    ]


def test_no_browser_prints_the_address_only(
    ip: Any, stytch: NotebookStytch, browser_log: Path, prompts: Prompts, capsys: Any
) -> None:
    prompts.answer("https://example.com/?stytch_token_type=oauth&token=")
    result = run(ip, "%stytch login oauth github --no-browser --paste")
    assert isinstance(result.error_in_exec, UsageError)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Sign in with Github: " + stytch.config.resolved_api_url)
    (flow,) = stytch.redirect.pending()
    assert flow.browser is not None and not flow.browser.opened
    assert lines(browser_log) == []


def test_the_address_is_a_link_in_a_notebook(
    ip: Any, stytch: NotebookStytch, emulator: Emulator, prompts: Prompts, browser_log: Path
) -> None:
    shown: list[dict[str, str]] = []
    publish = ip.display_pub.publish

    def record(data: dict[str, str], *args: Any, **kwargs: Any) -> None:
        shown.append(data)
        publish(data, *args, **kwargs)

    ip.display_pub.publish = record
    try:
        prompts.answer("not a link")
        ip.run_line_magic("config", "Stytch.open_browser = False")
        run(ip, "%stytch login oauth github --paste")
    finally:
        ip.display_pub.publish = publish
    (bundle,) = shown
    (flow,) = stytch.redirect.pending()
    assert bundle["text/plain"] == f"Sign in with Github: {flow.url}"
    assert flow.url is not None
    escaped = flow.url.replace("&", "&amp;")
    assert f'<a href="{escaped}" target="_blank" rel="noopener noreferrer">' in bundle["text/html"]
    assert lines(browser_log) == []
