"""A keyring that answers the probe and then hangs (issue 8, item 14): the session loop goes on
serving requests while a store write waits, the keyring is not asked again in this process, and
no thread of the manager outlives close(). The keyring is a fake (a real one cannot be made to
hang on cue); everything else is real: the emulator over loopback, the file lock, the store."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.compat import properties

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session import keys as keys_module
from stytch_jupyter.session.keys import PROBE_USERNAME
from tests.conftest import EMAIL, PASSWORD
from tests.support.fake_keyrings import LOG, calls
from tests.support.processes import children_of
from tests.support.waiting import wait_for

ROOT = str(Path(__file__).resolve().parents[2])


class ProbeThenHang(KeyringBackend):
    """Answers the probe at once; every other call waits until ``release`` is set."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test-only backend")

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        if username == PROBE_USERNAME:
            return None
        self.calls += 1
        self.release.wait()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls += 1
        self.release.wait()

    def delete_password(self, service: str, username: str) -> None:
        return None


@pytest.fixture
def hanging(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProbeThenHang]:
    backend = ProbeThenHang()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    monkeypatch.setattr(keys_module, "_hung_backends", set())
    monkeypatch.setattr(keys_module, "KEYRING_CALL_TIMEOUT", 1.5)  # 10 s in real use
    yield backend
    backend.release.set()
    keyring.set_keyring(previous)


@pytest.mark.timeout(90)
def test_a_hung_keyring_blocks_no_request_and_is_asked_once(
    hanging: ProbeThenHang, emulator: Emulator, tmp_path: Path
) -> None:
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="keyring",
        data_dir=str(tmp_path / "data"),
        heartbeat_interval=600,
    )
    emulator.create_user(EMAIL, password=PASSWORD)
    manager = SessionManager(config)
    manager.start()
    outcome: dict[str, Any] = {}

    def sign_in() -> None:
        outcome["response"] = manager.passwords.authenticate(EMAIL, PASSWORD)

    signing_in = threading.Thread(target=sign_in)
    signing_in.start()
    try:
        # The sign-in now waits for its store write, which waits on the keyring. The loop
        # that serves requests and the heartbeat must not: this request goes through meanwhile.
        wait_for(lambda: hanging.calls >= 1, what="the keyring to be asked for the key")
        method_id = manager.otps.email.login_or_create(EMAIL)
        assert method_id and signing_in.is_alive(), "the request waited for the keyring"
        signing_in.join(30)
        assert not signing_in.is_alive()
        assert manager.signed_in and "keyring" in manager.last_error
        asked = hanging.calls
        manager.passwords.authenticate(EMAIL, PASSWORD)  # a new write: fails at once
        manager.sessions.revoke()
        assert hanging.calls == asked, "a keyring that hung was asked again"
        assert "stopped answering earlier" in manager.last_error
    finally:
        manager.close()
    assert manager.threads == []
    names = {thread.name for thread in threading.enumerate()}
    assert not names & {"stytch-session", "stytch-store"}, names


class SlowProbe(ProbeThenHang):
    """Answers everything, the probe after a while: opening the store takes that long."""

    def get_password(self, service: str, username: str) -> str | None:
        if username == PROBE_USERNAME:
            self.release.wait(0.5)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None


def test_settings_changed_while_the_store_opens_win(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = SlowProbe()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    monkeypatch.setattr(keys_module, "_hung_backends", set())
    data = tmp_path / "data"
    (data / "sessions").mkdir(parents=True)
    (data / "sessions" / "placeholder.bin").write_bytes(b"")  # so start-up opens the store
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="auto",
        data_dir=str(data),
        heartbeat_interval=600,
    )
    emulator.create_user(EMAIL, password=PASSWORD)
    try:
        with SessionManager(config) as manager:
            config.token_store = "memory"  # while start-up is still opening the auto store
            manager.passwords.authenticate(EMAIL, PASSWORD)
            assert manager.store is not None and "memory" in manager.store.description
        assert sorted(p.name for p in data.rglob("*.bin")) == ["placeholder.bin"]
    finally:
        keyring.set_keyring(previous)


@pytest.mark.timeout(90)
def test_a_keyring_that_hangs_in_its_own_process_leaves_nothing_behind_close(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a kernel meets it: keyring resolves the backend from ``PYTHON_KEYRING_BACKEND``
    (nothing set in this process), it answers the probe and then never answers again."""
    log = tmp_path / "keyring-calls.log"
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    monkeypatch.setattr(keys_module, "_hung_backends", set())
    monkeypatch.setattr(keys_module, "KEYRING_CALL_TIMEOUT", 1.0)  # 10 s in real use
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.fake_keyrings.ProbeThenHang")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv(LOG, str(log))
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="keyring",
        data_dir=str(tmp_path / "data"),
        heartbeat_interval=600,
    )
    emulator.create_user(EMAIL, password=PASSWORD)
    before = set(threading.enumerate())
    manager = SessionManager(config)
    manager.start()
    try:
        manager.passwords.authenticate(EMAIL, PASSWORD)
        assert manager.signed_in and "did not answer" in manager.last_error
        asked = calls(log)
        manager.passwords.authenticate(EMAIL, PASSWORD)  # a second write
        assert manager.signed_in and manager.sessions.authenticate().session.session_id
        assert calls(log) == asked and len(asked) == 2, asked  # the probe, one read: never again
        last_error = manager.last_error
    finally:
        manager.close()
    assert set(threading.enumerate()) - before == set()
    assert children_of(os.getpid()) == set()
    assert "stopped answering earlier" in last_error
