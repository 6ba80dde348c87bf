"""IPython shells pointed at the emulator, and getpass answered from a list: what the magic and
extension tests share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython import extension
from stytch_jupyter.session.locality import MARKER_ENVS
from stytch_jupyter.session.redirect.mailbox import CALLBACK_URL_ENV, MAILBOX_ENV
from tests.conftest import EMAIL


def prepared_shell(emulator: Emulator, data_dir: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """IPython's shell, pointed at the emulator the way a user would: environment variables
    and the shell's traitlets config (what ``c.Stytch.x`` in ipython_config.py sets)."""
    shell = InteractiveShell.instance()
    monkeypatch.setenv("STYTCH_API_URL", emulator.api_url)
    monkeypatch.setenv("STYTCH_PUBLIC_TOKEN", emulator.public_token)
    monkeypatch.setenv("STYTCH_JUPYTER_DATA_DIR", str(data_dir))
    for name in (*MARKER_ENVS, MAILBOX_ENV, CALLBACK_URL_ENV):
        monkeypatch.delenv(name, raising=False)
    shell.config.Stytch.token_store = "file"
    shell.config.Stytch.timeout = 5.0
    # Stytch's mobile default, so that a check, an extension and an expiry are easy to tell apart.
    shell.config.Stytch.session_duration_minutes = 5
    return shell


def clean_shell(shell: Any) -> None:
    """Unload whatever a test left loaded, and forget its config."""
    if "stytch_jupyter" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "stytch_jupyter")
    elif extension._instance is not None:  # made by get_stytch() without %load_ext
        extension.unload_ipython_extension(shell)
    shell.config.pop("Stytch", None)


class Prompts:
    """Stands in for ``getpass.getpass``: records each prompt, answers from a list."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._answers: list[str | Callable[[], str]] = []

    def answer(self, *answers: str | Callable[[], str]) -> Prompts:
        self._answers.extend(answers)
        return self

    def __call__(self, prompt: str = "Password: ", stream: Any = None) -> str:
        self.asked.append(prompt)
        if not self._answers:
            raise AssertionError(f"unexpected prompt {prompt!r}")
        answer = self._answers.pop(0)
        return answer() if callable(answer) else answer


def run(ip: Any, line: str) -> ExecutionResult:
    return ip.run_cell(line, store_history=True)


def otp_code(emulator: Emulator, email: str = EMAIL) -> Callable[[], str]:
    return lambda: emulator.last_otp(email)[1]
