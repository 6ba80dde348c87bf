"""Keyring calls in the keyring helper process (issue 8, item 14): the real keyring library in a
real child process, with backends of the tests' own (``tests/support/fake_keyrings.py``) selected
the way users select one, ``PYTHON_KEYRING_BACKEND``. A call that never returns is ended by
killing the helper, so no thread and no process of ours outlives it; what fails is one line."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest
from keyrings.alt.file import PlaintextKeyring  # type: ignore[import-untyped]

from stytch_jupyter.api.models import SessionTokens
from stytch_jupyter.config import Stytch
from stytch_jupyter.session import keys as keys_module
from stytch_jupyter.session.keyring_process import KeyringProcess, KeyringTimeout
from stytch_jupyter.session.keys import (
    SERVICE,
    HelperKeyring,
    KeyringKeyProvider,
    TokenStoreError,
    close_keyring_helper,
    keyring_helper,
    keyring_username,
    probe_keyring,
    process_keyring,
)
from stytch_jupyter.session.store import open_token_store
from stytch_jupyter.session.store_sync import StoreSync
from tests.support.fake_keyrings import LOG, calls
from tests.support.processes import children_of

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_TOKEN = "public-token-test-4c0ffee0-aaaa-bbbb-cccc-000000000001"
TOKENS = SessionTokens(
    opaque="opaque-secret-token-value-0123456789",
    jwt="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLXRlc3QifQ.c2lnbmF0dXJlLWJ5dGVz",
)


class Selected:
    """What a test selected: the log of the backend's calls and the keyring's home."""

    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "keyring-calls.log"
        self.xdg = tmp_path / "xdg"

    def calls(self) -> list[str]:
        return calls(self.log)


@pytest.fixture
def select(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Selected]:
    """Select a backend of ours for the helper; this process holds no keyring backend."""
    selected = Selected(tmp_path)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    monkeypatch.setattr(keys_module, "_hung_backends", set())
    monkeypatch.setenv(LOG, str(selected.log))
    monkeypatch.setenv("XDG_DATA_HOME", str(selected.xdg))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    close_keyring_helper()  # a helper from before would have the old environment
    yield selected
    close_keyring_helper()
    assert children_of(os.getpid()) == set()


def use(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"tests.support.fake_keyrings.{name}")


def stytch_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("stytch")}


def one_line(info: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_the_key_round_trips_through_the_helper_never_on_its_command_line(
    select: Selected, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A backend that prints on stdout and reads stdin as it works: the protocol is elsewhere.
    use(monkeypatch, "Chatty")
    data_dir = tmp_path / "data"
    config = Stytch(public_token=PUBLIC_TOKEN, data_dir=str(data_dir), token_store="keyring")

    store = open_token_store(config)
    store.save(TOKENS)
    [helper] = children_of(os.getpid())
    again = open_token_store(config)  # a new provider: the key is read through the helper

    assert again.load() == TOKENS
    assert "tests.support.fake_keyrings.Chatty" in store.description
    assert process_keyring() is None  # this process never resolved keyring itself
    username = keyring_username(data_dir)
    probe, get, put = "get probe", f"get {username}", f"set {username}"
    # Read, read again under the lock, store, read back; then the second store's probe and read.
    assert select.calls() == [probe, get, get, put, get, probe, get]
    on_disk = PlaintextKeyring()
    on_disk.file_path = str(select.xdg / "python_keyring" / "keyring_pass.cfg")
    key = on_disk.get_password(SERVICE, username)
    assert key is not None and len(key) == 44
    for part in ("cmdline", "environ"):
        assert key.encode() not in Path(f"/proc/{helper}/{part}").read_bytes()
    assert children_of(os.getpid()) == {helper}  # one helper, reused for every call


@pytest.mark.timeout(60)
def test_a_call_past_its_deadline_kills_the_helper_and_is_never_asked_again(
    select: Selected, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, "ProbeThenHang")
    threads = stytch_threads()
    probe = probe_keyring()
    assert probe, probe.reason
    provider = KeyringKeyProvider(username="unit", backend=probe.backend, timeout=0.5)

    with pytest.raises(TokenStoreError) as info:
        provider.get_or_create_key()

    assert "did not answer within 0.5 s" in one_line(info)
    assert children_of(os.getpid()) == set()  # killed and reaped
    assert stytch_threads() == threads  # and no thread left waiting on it
    with pytest.raises(TokenStoreError) as again:
        provider.get_or_create_key()
    assert "stopped answering earlier" in one_line(again)
    refused = probe_keyring()
    assert not refused and "stopped answering earlier" in refused.reason
    assert select.calls() == ["get probe", "get unit"]  # asked once, and no helper started again
    assert children_of(os.getpid()) == set()


def test_a_helper_that_crashes_is_a_one_line_error_and_is_started_again(
    select: Selected, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, "Crashing")
    probe = probe_keyring()
    assert isinstance(probe.backend, HelperKeyring)
    provider = KeyringKeyProvider(username="unit", backend=probe.backend)

    for _ in range(2):  # a crash is not a hang: the next call starts a new helper
        with pytest.raises(TokenStoreError) as info:
            provider.get_or_create_key()
        assert one_line(info) == "the keyring helper process exited (status 3)"
        assert children_of(os.getpid()) == set()
    assert select.calls() == ["get probe", "get unit", "get unit"]


@pytest.mark.timeout(60)
def test_close_ends_a_call_that_waits_on_the_helper(
    select: Selected, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, "ProbeThenHang")
    provider = KeyringKeyProvider(username="unit", backend=probe_keyring().backend, timeout=600)
    failures: list[BaseException] = []

    def read() -> None:
        try:
            provider.get_or_create_key()
        except TokenStoreError as exc:
            failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    from tests.support.waiting import wait_for

    wait_for(lambda: "get unit" in select.calls(), what="the keyring to be asked")
    close_keyring_helper()
    reader.join(30)

    assert not reader.is_alive()
    assert [str(exc) for exc in failures] == ["the keyring helper process was closed"]
    assert children_of(os.getpid()) == set()
    assert not keys_module.keyring_hung("tests.support.fake_keyrings.ProbeThenHang")


def test_the_helper_is_this_processes_one_and_the_probe_says_which_backend(
    select: Selected, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, "Chatty")
    probe = probe_keyring()
    assert isinstance(probe.backend, HelperKeyring)
    assert probe.backend.name == "tests.support.fake_keyrings.Chatty"
    assert probe.backend.process is keyring_helper()
    assert children_of(os.getpid()) == {keyring_helper().pid}


# ---- the protocol, against helpers that misbehave ------------------------------------------

READY = "import sys; print('{\"ready\": true}', flush=True); sys.stdin.readline(); "


@pytest.mark.parametrize(
    "script",
    [
        READY + "print('not json', flush=True); sys.stdin.readline()",
        READY + "print('[1, 2]', flush=True); sys.stdin.readline()",
        READY + 'print(\'{"value": "no ok"}\', flush=True); sys.stdin.readline()',
        READY + "print('[' * 100000 + ']' * 100000, flush=True); sys.stdin.readline()",
        READY + "sys.stdout.write('x' * 300000); sys.stdout.flush(); sys.stdin.readline()",
        "import sys; print('hello', flush=True); sys.stdin.readline()",
    ],
    ids=["not-json", "not-an-object", "no-ok", "nested", "endless-line", "no-ready"],
)
def test_garbage_on_the_pipe_is_a_one_line_error_and_the_helper_is_killed(script: str) -> None:
    helper = KeyringProcess([sys.executable, "-c", script])
    with pytest.raises(TokenStoreError) as info:
        helper.call({"op": "get", "service": "s", "username": "u"}, timeout=30)
    assert "keyring helper process" in one_line(info)
    assert helper.pid is None and children_of(os.getpid()) == set()


def test_a_helper_that_never_answers_is_killed_at_the_deadline() -> None:
    helper = KeyringProcess([sys.executable, "-c", READY + "sys.stdin.readline()"])
    with pytest.raises(KeyringTimeout) as info:
        helper.call({"op": "get", "service": "s", "username": "u"}, timeout=0.3)
    assert one_line(info) == "did not answer within 0.3 s"
    assert helper.pid is None and children_of(os.getpid()) == set()


def test_a_helper_that_does_not_start_in_time_is_killed() -> None:
    helper = KeyringProcess(
        [sys.executable, "-c", "import time; time.sleep(600)"], startup_timeout=0.3
    )
    with pytest.raises(TokenStoreError) as info:
        helper.call({"op": "get", "service": "s", "username": "u"}, timeout=30)
    assert not isinstance(info.value, TimeoutError)  # not the keyring's hang: nothing remembered
    assert one_line(info) == "the keyring helper process did not start within 0.3 s"
    assert children_of(os.getpid()) == set()


def test_a_request_the_helper_cannot_read_is_answered_not_fatal(
    select: Selected, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, "Chatty")
    helper = KeyringProcess()
    try:
        assert helper.call({"no": "op"}, timeout=30) == {"ok": False, "error": "BadRequest"}
        answer = helper.call({"op": "get", "service": SERVICE, "username": "x"}, timeout=30)
        assert answer == {"ok": True, "value": None}
    finally:
        helper.close()


def test_where_the_helper_cannot_start_the_keyring_is_asked_in_this_process(
    select: Selected, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: Any
) -> None:
    """An embedded interpreter whose ``sys.executable`` is no Python: keyring still works."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "not-a-python"))
    monkeypatch.setattr(keys_module, "_helper", None)
    monkeypatch.setattr(keys_module, "_helper_unavailable", False)
    caplog.set_level(logging.WARNING)

    probe = probe_keyring()

    assert probe, probe.reason
    assert isinstance(probe.backend, PlaintextKeyring)  # in this process, as before the helper
    [record] = [r for r in caplog.records if r.name.startswith("stytch_jupyter")]
    assert "cannot start the keyring helper process" in record.getMessage()
    assert "\n" not in record.getMessage()
    provider = KeyringKeyProvider(username="unit", backend=probe.backend)
    assert provider.get_or_create_key() == KeyringKeyProvider(username="unit").existing_key()
    assert probe_keyring().backend is not None and len(caplog.records) == 1  # said once
    assert children_of(os.getpid()) == set()


def test_an_open_started_early_and_the_write_share_one_probe(
    select: Selected, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A sign-in opens the store as it starts (the probe overlaps its request); its write
    then waits for that open instead of probing again."""
    use(monkeypatch, "Chatty")
    config = Stytch(public_token=PUBLIC_TOKEN, data_dir=str(tmp_path / "d"), token_store="keyring")
    errors: list[TokenStoreError] = []
    sync = StoreSync(config, on_change=lambda tokens: None, on_error=errors.append)

    async def sign_in() -> bool:
        sync.prepare()
        return await sync.write_async(TOKENS)

    try:
        assert asyncio.run(sign_in())
    finally:
        sync.close()  # ends the helper too
    assert errors == []
    assert select.calls().count("get probe") == 1
    assert children_of(os.getpid()) == set()


def test_prepare_opens_ahead_only_a_store_that_asks_the_keyring(
    select: Selected, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(monkeypatch, "Chatty")
    errors: list[Exception] = []

    def sync_for(token_store: str) -> StoreSync:
        config = Stytch(public_token=PUBLIC_TOKEN, token_store=token_store, data_dir=str(tmp_path))
        return StoreSync(config, on_change=lambda tokens: None, on_error=errors.append)

    asks, plain = sync_for("keyring"), sync_for("file")

    async def main() -> None:
        asks.prepare()  # returns at once: the open runs on the store's worker
        plain.prepare()
        await asyncio.sleep(0)  # each open asked for is on its worker now
        # Work queued behind an open ends after it, and its result is back on the loop first.
        for sync in (asks, plain):
            await asyncio.wrap_future(sync.submit_to_worker(lambda: None))
        await asyncio.sleep(0)
        assert asks.store is not None and "keyring" in asks.store.description.lower()
        assert plain.store is None  # a file store's open is cheap: it waits for its first use

    try:
        asyncio.run(main())
        assert children_of(os.getpid()) != set()  # the keyring's helper started ahead
    finally:
        asks.close()
        plain.close()
    assert children_of(os.getpid()) == set()  # close() ended the helper
    assert errors == []
