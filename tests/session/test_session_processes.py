"""Several processes (kernels) of one user share a data_dir and converge on one session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stytch_jupyter.config import Stytch
from stytch_jupyter.session import SessionManager
from tests.conftest import PASSWORD
from tests.support.session_process import SessionProcess
from tests.support.waiting import wait_for


@pytest.fixture
def workers(emulator: Any, tmp_path: Path) -> Iterator[list[SessionProcess]]:
    data_dir = tmp_path / "data"
    started = [SessionProcess(emulator.api_url, emulator.public_token, data_dir) for _ in range(4)]
    yield started
    for worker in started:
        worker.stop()


def manager_on(emulator: Any, data_dir: Path) -> SessionManager:
    config = Stytch(
        api_url=emulator.api_url,
        public_token=emulator.public_token,
        data_dir=str(data_dir),
        token_store="file",
    )
    manager = SessionManager(config, store_poll_interval=0.1)
    manager.start()
    return manager


def test_sign_in_and_out_reach_every_process(emulator, tmp_path, workers) -> None:
    emulator.create_user("ada@example.com", password=PASSWORD)
    with manager_on(emulator, tmp_path / "data") as manager:
        manager.passwords.authenticate("ada@example.com", PASSWORD)
        session_id = manager.session.session_id
        for worker in workers:
            worker.wait_for("signed_in", session_id)
        manager.sessions.revoke()
        for worker in workers:
            worker.wait_for("signed_out")


def test_concurrent_sign_ins_converge_on_one_session(emulator, tmp_path) -> None:
    managers = [manager_on(emulator, tmp_path / "data") for _ in range(4)]
    try:
        for i in range(4):
            emulator.create_user(f"user{i}@example.com", password=PASSWORD)
        threads = [
            threading.Thread(
                target=m.passwords.authenticate, args=(f"user{i}@example.com", PASSWORD)
            )
            for i, m in enumerate(managers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = managers[0].store.load()
        assert stored is not None

        def converged() -> bool:
            current = managers[0].store.load()
            return current is not None and all(
                m.status == "signed_in" and m.session_token.value == current.opaque
                for m in managers
            )

        wait_for(converged, timeout=15, what="all managers to hold the stored session")
    finally:
        for manager in managers:
            manager.close()
