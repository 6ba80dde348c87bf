"""Fixtures of the IPython-face tests: a shell pointed at the emulator, the loaded `stytch`
object, and getpass answered from a list."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from typing import Any

import pytest

from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from tests.support.shells import Prompts, clean_shell, prepared_shell
from tests.support.waiting import wait_for


@pytest.fixture
def ip(emulator: Emulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    shell = prepared_shell(emulator, tmp_path / "stytch-data", monkeypatch)
    yield shell
    clean_shell(shell)


@pytest.fixture
def stytch(ip: Any) -> NotebookStytch:
    ip.run_line_magic("load_ext", "stytch_jupyter")
    manager: NotebookStytch = ip.user_ns["stytch"]
    wait_for(lambda: manager.heartbeat_state != "stopped", what="the session thread to start")
    return manager


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Prompts:
    fake = Prompts()
    monkeypatch.setattr(getpass, "getpass", fake)
    return fake
