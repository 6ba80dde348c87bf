"""A 5xx (or 429) whose body names an unrecoverable error type never signs anyone out (issue 8,
item 3): the heartbeat meets it through the tests' own hostile server, in front of the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from tests.conftest import EMAIL, PASSWORD
from tests.support.hostile_server import HostileServer, json_reply


@pytest.fixture
def server(emulator: Emulator) -> Iterator[HostileServer]:
    with HostileServer(upstream=emulator.api_url) as running:
        yield running


@pytest.mark.parametrize("status", [500, 503, 429])
@pytest.mark.parametrize("error_type", ["unauthorized_credentials", "session_not_found"])
def test_a_server_in_trouble_keeps_the_session(
    server: HostileServer, emulator: Emulator, tmp_path: Path, status: int, error_type: str
) -> None:
    config = Stytch(
        api_url=server.url,
        public_token=emulator.public_token,
        token_store="file",
        data_dir=str(tmp_path / "data"),
        heartbeat_interval=600,
    )
    emulator.create_user(EMAIL, password=PASSWORD)
    body = {"status_code": status, "error_type": error_type, "error_message": "try later"}
    with SessionManager(config) as manager:
        manager.passwords.authenticate(EMAIL, PASSWORD)
        server.arm("sessions/authenticate", json_reply(status, body), times=3)
        for _ in range(3):
            manager.heartbeat.now()
            assert manager.signed_in and error_type in manager.last_error
        assert manager.store is not None and manager.store.load() is not None
        manager.heartbeat.now()  # the server is well again
        assert manager.signed_in and manager.last_error == ""
