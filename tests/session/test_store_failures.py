"""A token store that fails (a real one: its folder cannot be created) is said once per cause,
and ``last_error`` says so for as long as it fails (issue 8, item 15)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from tests.conftest import EMAIL, PASSWORD


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("stytch_jupyter") and r.levelno == logging.WARNING
    ]


def test_a_failing_store_is_said_once_and_stays_in_last_error(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="file",
        data_dir=str(not_a_folder / "data"),
        heartbeat_interval=600,
    )
    emulator.create_user(EMAIL, password=PASSWORD)
    caplog.set_level(logging.WARNING, logger="stytch_jupyter")
    with SessionManager(config) as manager:
        manager.passwords.authenticate(EMAIL, PASSWORD)
        assert manager.signed_in
        assert "Not a directory" in manager.last_error  # right after the sign-in
        for _ in range(4):  # heartbeats: each brings a fresh JWT that cannot be stored either
            manager.heartbeat.now()
            manager.sessions.authenticate()
            assert "Not a directory" in manager.last_error
        assert manager.signed_in
    warned = [m for m in store_warnings(caplog) if "Not a directory" in m]
    assert len(warned) == 1, warned


def test_the_warning_comes_back_for_a_failure_after_the_store_worked(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("x")  # the data dir is a file: nothing can be stored
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        token_store="file",
        data_dir=str(blocker),
        heartbeat_interval=600,
    )
    emulator.create_user(EMAIL, password=PASSWORD)
    caplog.set_level(logging.WARNING, logger="stytch_jupyter")
    with SessionManager(config) as manager:
        manager.passwords.authenticate(EMAIL, PASSWORD)
        manager.heartbeat.now()
        blocker.unlink()  # fixed: the next new session is stored
        manager.sessions.revoke()
        manager.passwords.authenticate(EMAIL, PASSWORD)
        assert manager.last_error == ""
        assert manager.store is not None and manager.store.load() is not None
        for path in sorted(blocker.rglob("*"), reverse=True):  # broken again, the same way
            path.unlink() if path.is_file() else path.rmdir()
        blocker.rmdir()
        blocker.write_text("x")
        manager.sessions.revoke()
        manager.passwords.authenticate(EMAIL, PASSWORD)
        manager.heartbeat.now()
        assert "Not a directory" in manager.last_error
    assert len([m for m in store_warnings(caplog) if "Not a directory" in m]) == 2
