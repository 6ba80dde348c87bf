"""A project's ``stytch`` object offers what its kind of project has, as Stytch's consumer and
B2B clients do: the other kind's namespaces are refused in one line naming what to use
instead, and ``dir()`` (tab completion) lists neither them nor the other kind's traits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter import WrongVerticalError
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager


@pytest.fixture(scope="module")
def b2b_emulator() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def make_manager(tmp_path: Path) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(emulator: Emulator, vertical: str) -> SessionManager:
        config = Stytch(
            api_url=emulator.api_url,
            public_token=emulator.public_token,
            token_store="memory",
            data_dir=str(tmp_path / "data"),
            timeout=5.0,
            vertical=vertical,
        )
        manager = SessionManager(config, store_poll_interval=0.1)
        made.append(manager)
        manager.start()
        return manager

    yield make
    for manager in made:
        manager.close()


CONSUMER_ONLY = {"users", "totps", "user"}
B2B_ONLY = {
    "discovery",
    "sso",
    "totp",
    "recovery_codes",
    "member",
    "member_session",
    "organization",
    "intermediate_session_token",
}
SHARED = {"sessions", "otps", "magic_links", "passwords", "oauth", "session", "session_token"}


@pytest.mark.parametrize("vertical", ["b2b", "auto"])
def test_a_b2b_project_offers_only_b2b_names(
    make_manager: Callable[..., SessionManager], b2b_emulator: Emulator, vertical: str
) -> None:
    manager = make_manager(b2b_emulator, vertical)
    assert manager.wait_for_vertical(10) and manager.vertical.name == "b2b"
    names = set(dir(manager))
    assert not names & CONSUMER_ONLY
    assert names >= B2B_ONLY | SHARED
    with pytest.raises(WrongVerticalError) as raised:
        manager.users  # noqa: B018
    assert str(raised.value) == (
        "stytch.users is for consumer projects; this is a B2B project: stytch.member is the "
        "signed-in member (members are managed from your backend)"
    )
    with pytest.raises(AttributeError, match=r"^stytch.totps is for consumer projects; .*"):
        manager.totps  # noqa: B018
    with pytest.raises(AttributeError) as totps:
        manager.totps  # noqa: B018
    assert str(totps.value).endswith(": use stytch.totp (and stytch.recovery_codes)")
    assert not hasattr(manager, "users")
    # The B2B namespaces themselves are there.
    assert type(manager.totp).__name__ == "B2BTOTP"
    assert type(manager.discovery).__name__ == "B2BDiscovery"


def test_a_consumer_project_offers_only_consumer_names(
    make_manager: Callable[..., SessionManager], emulator: Emulator
) -> None:
    manager = make_manager(emulator, "consumer")
    names = set(dir(manager))
    assert not names & B2B_ONLY
    assert names >= CONSUMER_ONLY | SHARED
    with pytest.raises(WrongVerticalError, match=r"^stytch.totp is for B2B projects; this is a "):
        manager.totp  # noqa: B018
    with pytest.raises(AttributeError) as recovery:
        manager.recovery_codes  # noqa: B018
    assert str(recovery.value) == (
        "stytch.recovery_codes is for B2B projects; this is a consumer project: use "
        "stytch.totps.recover(code)"
    )
    assert not hasattr(manager, "sso") and not hasattr(manager, "discovery")
    # Any other missing name is a plain AttributeError, as before.
    with pytest.raises(AttributeError) as raised:
        manager.nonsense  # noqa: B018
    missing = raised.value
    assert not isinstance(missing, WrongVerticalError)
    assert "'nonsense'" in str(missing)


def test_tab_completion_offers_this_projects_names(
    make_manager: Callable[..., SessionManager], b2b_emulator: Emulator
) -> None:
    from IPython.core.completer import provisionalcompleter
    from IPython.core.interactiveshell import InteractiveShell

    shell: Any = InteractiveShell.instance()
    manager = make_manager(b2b_emulator, "b2b")
    shell.user_ns["stytch_b2b"] = manager
    try:
        with provisionalcompleter():
            offered = {
                c.text.rsplit(".", 1)[-1]
                for c in shell.Completer.completions("stytch_b2b.", len("stytch_b2b."))
            }
    finally:
        del shell.user_ns["stytch_b2b"]
    assert {"discovery", "member", "totp", "sessions"} <= offered
    assert not offered & {"users", "totps", "user"}
