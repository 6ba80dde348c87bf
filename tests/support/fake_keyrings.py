"""Keyring backends of the tests' own, for the keyring helper process to load by name.

Selected the way a user selects a backend: ``PYTHON_KEYRING_BACKEND=tests.support.fake_keyrings.X``
(with the repository on ``PYTHONPATH``), so keyring resolves them in whichever process asks:
the helper process, or a kernel. Each is viable only when so selected (its priority raises
otherwise), so keyring never picks one on its own. Each call is appended to the file named by
``STYTCH_TEST_KEYRING_LOG`` (one line: the call, the username, the id of the process that made
it), so a test can count the calls made in a process it cannot reach.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyrings.alt.file import PlaintextKeyring  # type: ignore[import-untyped]

LOG = "STYTCH_TEST_KEYRING_LOG"
PROBE_USERNAME = "probe"  # stytch_jupyter.session.keys.PROBE_USERNAME


def selected(cls: type) -> bool:
    return os.environ.get("PYTHON_KEYRING_BACKEND") == f"{cls.__module__}.{cls.__qualname__}"


def record(call: str, username: str) -> None:
    path = os.environ.get(LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{call} {username} {os.getpid()}\n")


def _lines(path: Any) -> list[str]:
    try:
        with open(path, encoding="utf-8") as log:
            return log.read().splitlines()
    except FileNotFoundError:
        return []


def calls(path: Any) -> list[str]:
    """The calls logged to ``path`` so far: ``"get probe"``, ``"set <username>"``."""
    return [line.rpartition(" ")[0] for line in _lines(path)]


def callers(path: Any) -> set[int]:
    """The ids of the processes that made the calls logged to ``path``."""
    return {int(line.rpartition(" ")[2]) for line in _lines(path)}


class _Selected(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        if not selected(cls):
            raise RuntimeError("test-only backend")
        return 1.0

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        return None


class ProbeThenHang(_Selected):
    """Answers the probe at once; every other call never returns (a D-Bus that went away)."""

    def get_password(self, service: str, username: str) -> str | None:
        record("get", username)
        if username == PROBE_USERNAME:
            return None
        threading.Event().wait()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        record("set", username)
        threading.Event().wait()


class Crashing(_Selected):
    """Answers the probe; the process dies on any other call (a backend's C library crashing)."""

    def get_password(self, service: str, username: str) -> str | None:
        record("get", username)
        if username == PROBE_USERNAME:
            return None
        os._exit(3)


class Chatty(PlaintextKeyring):  # type: ignore[misc]
    """keyrings.alt's plaintext file (under XDG_DATA_HOME), printing on stdout as it works and
    reading stdin (as a backend that prompts would): neither may reach the helper's protocol."""

    @properties.classproperty
    def priority(cls) -> float:
        if not selected(cls):
            raise RuntimeError("test-only backend")
        return 1.0

    def get_password(self, service: str, username: str) -> str | None:
        record("get", username)
        print('{"ok": true, "value": "not from the keyring"}', flush=True)
        sys.stdin.read()
        return super().get_password(service, username)  # type: ignore[no-any-return]

    def set_password(self, service: str, username: str, password: str) -> None:
        record("set", username)
        print("storing", flush=True)
        super().set_password(service, username, password)
