"""Processes holding different keys share a data dir without deleting each other's sessions
(issue 8, item 1): real processes, one on a key file, one on a real keyring (keyrings.alt)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.store_worker import pair

PUBLIC_TOKEN = "public-token-test-0000-keys"
WORKER = Path(__file__).parents[1] / "support" / "store_worker.py"
COUNT = ("40", "--verify")


def env_for(mode: str, keyring_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHON_KEYRING_BACKEND", None)
    if mode != "file":
        # A real keyring backend: keyrings.alt's plaintext file under XDG_DATA_HOME.
        env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
        env["XDG_DATA_HOME"] = str(keyring_dir)
    return env


def worker(data_dir: Path, mode: str, keyring_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(WORKER), str(data_dir), PUBLIC_TOKEN, mode, *args],
        env=env_for(mode, keyring_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "deleted the stored session" not in done.stderr, done.stderr
    return done.stdout.strip()


class Worker:
    """One process on one key mode, asked command after command (``store_worker.py serve``)."""

    def __init__(self, data_dir: Path, mode: str, keyring_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(data_dir), PUBLIC_TOKEN, mode, "serve"],
            env=env_for(mode, keyring_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, f"{command!r}: the worker ended"
        return answer

    def close(self) -> None:
        _, err = self.process.communicate(timeout=60)  # closes stdin: the worker ends
        assert self.process.returncode == 0, err
        assert "deleted the stored session" not in err, err


@pytest.mark.parametrize("other", ["keyring", "auto"])
def test_a_file_key_and_a_keyring_key_keep_both_sessions(tmp_path: Path, other: str) -> None:
    data_dir, keyring_dir = tmp_path / "data", tmp_path / "xdg"
    # `auto` picks the keyring while no key file exists, so it signs in first.
    first = Worker(data_dir, other, keyring_dir)
    on_file = Worker(data_dir, "file", keyring_dir)
    workers = {first, on_file}
    try:
        first.ask("save k 1")
        on_file.ask("save f 1")  # signs in with its own key
        # A new `auto` process now stays on the key file; the keyring's session is still there.
        on_keyring = first if other == "keyring" else Worker(data_dir, "keyring", keyring_dir)
        workers.add(on_keyring)
        assert on_file.ask("load") == pair("f", 0).opaque
        assert on_keyring.ask("load") == pair("k", 0).opaque
        # A sign-out on one side is not one on the other.
        on_keyring.ask("clear")
        assert on_file.ask("load") == pair("f", 0).opaque
        assert on_keyring.ask("load") == "none"
    finally:
        for each in workers:
            each.close()


@pytest.mark.timeout(120)
def test_writing_at_once_under_two_keys_never_reads_empty(tmp_path: Path) -> None:
    data_dir, keyring_dir = tmp_path / "data", tmp_path / "xdg"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(data_dir), PUBLIC_TOKEN, mode, "save", tag, *COUNT],
            env=env_for(mode, keyring_dir),
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode, tag in (("file", "f"), ("keyring", "k"))
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=100)
        assert proc.returncode == 0, err  # 3: a save of its own read back as signed out
    assert worker(data_dir, "file", keyring_dir, "load") == pair("f", 39).opaque
    assert worker(data_dir, "keyring", keyring_dir, "load") == pair("k", 39).opaque


def test_damage_is_still_refused_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from stytch_jupyter.config import Stytch
    from stytch_jupyter.session.store import EncryptedFileStore, open_token_store

    data_dir = tmp_path / "data"
    worker(data_dir, "file", tmp_path, "save", "f", "1")
    store = open_token_store(
        Stytch(public_token=PUBLIC_TOKEN, data_dir=str(data_dir), token_store="file")
    )
    assert isinstance(store, EncryptedFileStore)
    blob = bytearray(store.path.read_bytes())
    blob[-1] ^= 1
    store.path.write_bytes(bytes(blob))
    caplog.set_level(logging.WARNING)
    assert store.load() is None
    (record,) = [r for r in caplog.records if r.name.startswith("stytch_jupyter")]
    assert "deleted the stored session" in record.getMessage()
    assert "\n" not in record.getMessage()
