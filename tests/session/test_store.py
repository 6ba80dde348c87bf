"""The encrypted token store and its key providers, on real files, real processes, real keyring.

A working keyring is keyrings.alt's file-backed PlaintextKeyring in a temp folder; only the faulty
and hanging keyrings are fakes. Every test starts with keyring's ``fail`` backend, so nothing here
can reach the real keyring of whoever runs the suite.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import keyring
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail
from keyring.compat import properties
from keyrings.alt.file import PlaintextKeyring  # type: ignore[import-untyped]

from stytch_jupyter.api.errors import StytchError
from stytch_jupyter.api.models import SessionTokens
from stytch_jupyter.config import Stytch
from stytch_jupyter.session import keys as keys_module
from stytch_jupyter.session import store as store_module
from stytch_jupyter.session._fs import short_path
from stytch_jupyter.session.keys import (
    SERVICE,
    FileKeyProvider,
    KeyringKeyProvider,
    TokenStoreError,
    keyring_username,
    probe_keyring,
)
from stytch_jupyter.session.store import (
    NONCE_BYTES,
    TAG_BYTES,
    EncryptedFileStore,
    MemoryTokenStore,
    TokenStore,
    associated_data,
    open_token_store,
    store_path,
)
from tests.support.store_worker import pair

PUBLIC_TOKEN = "public-token-test-4c0ffee0-aaaa-bbbb-cccc-000000000001"
OTHER_TOKEN = "public-token-test-4c0ffee0-aaaa-bbbb-cccc-000000000002"
WORKER = Path(__file__).parents[1] / "support" / "store_worker.py"
TOKENS = SessionTokens(
    opaque="opaque-secret-token-value-0123456789",
    jwt="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLXRlc3QifQ.c2lnbmF0dXJlLWJ5dGVz",
)


# ---- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Start every test with no keyring and a fresh once-per-process announcement."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setattr(store_module, "_fallback_announced", False)
    monkeypatch.setattr(keys_module, "_hung_backends", set())  # no keyring hung before
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"  # not created: the store must create it (0700) when it first saves


@pytest.fixture
def plaintext_keyring(tmp_path: Path) -> PlaintextKeyring:
    """A real, working keyring backend that keeps its file in the test's temp folder."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    return backend


def config(data_dir: Path, mode: str = "file", public_token: str = PUBLIC_TOKEN) -> Stytch:
    return Stytch(public_token=public_token, data_dir=str(data_dir), token_store=mode)


def file_store(data_dir: Path, public_token: str = PUBLIC_TOKEN) -> EncryptedFileStore:
    store = open_token_store(config(data_dir, "file", public_token))
    assert isinstance(store, EncryptedFileStore)
    return store


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("stytch_jupyter") and r.levelno == logging.WARNING
    ]


def private_bits(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode) & 0o077


def worker_env(keyring_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHON_KEYRING_BACKEND", None)
    if keyring_dir is not None:
        # The worker's keyring: keyrings.alt's plaintext file under XDG_DATA_HOME.
        env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
        env["XDG_DATA_HOME"] = str(keyring_dir)
    return env


def spawn(
    data_dir: Path, mode: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(data_dir), PUBLIC_TOKEN, mode, *args],
        env=env or worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_worker(data_dir: Path, mode: str, *args: str) -> None:
    proc = spawn(data_dir, mode, *args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def is_written_pair(tokens: SessionTokens, tags: list[str]) -> bool:
    """One whole pair some worker wrote: opaque and JWT from the same save."""
    prefix, _, rest = tokens.opaque.partition("-")
    tag, _, index = rest.rpartition("-")
    return prefix == "opaque" and tag in tags and tokens == pair(tag, int(index))


# ---- the file format --------------------------------------------------------------------------


def test_round_trip_survives_a_new_store_instance(data_dir: Path) -> None:
    store = file_store(data_dir)
    assert isinstance(store, TokenStore)
    assert store.load() is None
    assert store.signature() is None

    store.save(TOKENS)

    assert store.load() == TOKENS
    # Another kernel: a fresh store and key provider read the same file.
    assert file_store(data_dir).load() == TOKENS
    blob = store.path.read_bytes()
    plaintext = json.dumps({"opaque": TOKENS.opaque, "jwt": TOKENS.jwt}).encode()
    assert len(blob) == NONCE_BYTES + len(plaintext) + TAG_BYTES
    assert TOKENS.opaque.encode() not in blob and b"opaque" not in blob
    # Named by hashes of the public token and of the key: neither is in the name.
    base = store_path(data_dir, PUBLIC_TOKEN)
    assert store.path.parent == base.parent and store.path.name.startswith(base.stem + ".")
    assert PUBLIC_TOKEN not in str(store.path)
    assert "encrypted file" in store.description and "key in file" in store.description
    assert TOKENS.opaque not in store.description + repr(store)


def test_every_write_uses_a_fresh_nonce(data_dir: Path) -> None:
    store = file_store(data_dir)
    store.save(TOKENS)
    first = store.path.read_bytes()
    store.save(TOKENS)
    second = store.path.read_bytes()
    assert first[:NONCE_BYTES] != second[:NONCE_BYTES]
    assert first != second
    assert store.load() == TOKENS


@pytest.mark.parametrize(
    "region, offset",
    [("nonce", 5), ("ciphertext", NONCE_BYTES + 3), ("tag", -1)],
)
def test_one_flipped_byte_deletes_the_blob_with_one_warning(
    data_dir: Path, caplog: pytest.LogCaptureFixture, region: str, offset: int
) -> None:
    store = file_store(data_dir)
    store.save(TOKENS)
    blob = bytearray(store.path.read_bytes())
    blob[offset] ^= 0x01
    store.path.write_bytes(bytes(blob))
    caplog.set_level(logging.WARNING)

    assert store.load() is None

    assert not store.path.exists()
    records = store_warnings(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert store.path.name in message
    assert TOKENS.opaque not in caplog.text and TOKENS.jwt not in caplog.text
    # Signed out, quietly from now on, and the store still works.
    assert store.load() is None
    assert len(store_warnings(caplog)) == 1
    store.save(TOKENS)
    assert store.load() == TOKENS


@pytest.mark.parametrize("keep", [0, 1, NONCE_BYTES, NONCE_BYTES + TAG_BYTES, -1])
def test_truncated_blob_is_rejected(
    data_dir: Path, caplog: pytest.LogCaptureFixture, keep: int
) -> None:
    store = file_store(data_dir)
    store.save(TOKENS)
    blob = store.path.read_bytes()
    store.path.write_bytes(blob[:keep])
    caplog.set_level(logging.WARNING)

    assert store.load() is None
    assert not store.path.exists()
    assert len(store_warnings(caplog)) == 1


def test_blob_copied_to_another_public_tokens_file_is_rejected(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mine, theirs = file_store(data_dir), file_store(data_dir, OTHER_TOKEN)
    assert mine.path != theirs.path
    mine.save(TOKENS)
    theirs.path.write_bytes(mine.path.read_bytes())
    caplog.set_level(logging.WARNING)

    assert theirs.load() is None

    assert not theirs.path.exists()
    assert len(store_warnings(caplog)) == 1
    assert mine.load() == TOKENS  # the original is untouched


def test_another_keys_blob_is_never_deleted_and_each_key_keeps_its_own(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 8 item 1: 'does not decrypt with my key' is not 'corrupt'."""
    path = store_path(data_dir, PUBLIC_TOKEN)
    writer = EncryptedFileStore(path, FileKeyProvider(tmp_path / "key-a"), PUBLIC_TOKEN)
    reader = EncryptedFileStore(path, FileKeyProvider(tmp_path / "key-b"), PUBLIC_TOKEN)
    writer.save(TOKENS)
    caplog.set_level(logging.WARNING)

    assert reader.load() is None  # nothing of the reader's is stored
    assert writer.path.exists() and store_warnings(caplog) == []
    reader.save(pair("b", 1))  # the reader signs in: the writer's session stays
    reader.clear()  # and signs out: still
    assert writer.load() == TOKENS
    reader.save(pair("b", 2))
    assert (writer.load(), reader.load()) == (TOKENS, pair("b", 2))
    assert store_warnings(caplog) == []


def test_a_blob_moved_to_another_keys_file_is_damaged(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = store_path(data_dir, PUBLIC_TOKEN)
    writer = EncryptedFileStore(path, FileKeyProvider(tmp_path / "key-a"), PUBLIC_TOKEN)
    reader = EncryptedFileStore(path, FileKeyProvider(tmp_path / "key-b"), PUBLIC_TOKEN)
    writer.save(TOKENS)
    reader.save(pair("b", 1))
    reader.path.write_bytes(writer.path.read_bytes())
    caplog.set_level(logging.WARNING)

    assert reader.load() is None
    assert not reader.path.exists() and writer.load() == TOKENS
    assert len(store_warnings(caplog)) == 1


def test_a_blob_of_the_previous_layout_is_moved_to_its_keys_file(data_dir: Path) -> None:
    store = file_store(data_dir)
    store.save(TOKENS)
    legacy = store_path(data_dir, PUBLIC_TOKEN)
    store.path.rename(legacy)

    assert file_store(data_dir).load() == TOKENS
    assert store.path.exists() and not legacy.exists()


def test_a_previous_layout_blob_of_another_key_is_left_alone(
    tmp_path: Path, data_dir: Path
) -> None:
    path = store_path(data_dir, PUBLIC_TOKEN)
    writer = EncryptedFileStore(path, FileKeyProvider(tmp_path / "key-a"), PUBLIC_TOKEN)
    writer.save(TOKENS)
    writer.path.rename(path)
    reader = EncryptedFileStore(path, FileKeyProvider(tmp_path / "key-b"), PUBLIC_TOKEN)
    reader.save(pair("b", 1))

    assert reader.load() == pair("b", 1)
    assert path.exists() and writer.load() == TOKENS


def test_authentic_blob_without_a_token_pair_is_rejected(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = file_store(data_dir)
    store.save(TOKENS)  # creates the key
    key = store.key_provider.get_or_create_key()
    caplog.set_level(logging.WARNING)
    for plaintext in (b"not json", b'{"opaque": "x"}', b'{"opaque": "x", "jwt": "not-a-jwt"}'):
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext, associated_data(PUBLIC_TOKEN))
        store.path.write_bytes(nonce + sealed)
        assert store.load() is None
        assert not store.path.exists()
    assert len(store_warnings(caplog)) == 3
    assert "no token pair" in caplog.text


def test_a_stale_cached_key_rereads_instead_of_deleting_a_good_blob(data_dir: Path) -> None:
    """Data dir removed under a running kernel; another creates a new key and signs in."""
    old = file_store(data_dir)
    old.save(TOKENS)
    shutil.rmtree(data_dir)
    fresh = file_store(data_dir)
    fresh.save(pair("new", 1))

    assert old.load() == pair("new", 1)  # re-read the key, did not delete the blob
    assert fresh.path.exists()


def test_stale_temp_files_of_a_killed_writer_are_cleaned_on_save(data_dir: Path) -> None:
    store = file_store(data_dir)
    store.save(TOKENS)
    stale = store.path.with_name(store.path.name + ".deadbeef0000.tmp")
    stale.write_bytes(b"half a blob")
    assert store.load() == TOKENS  # a stale temp never confuses a reader

    store.save(pair("next", 1))

    assert not stale.exists()
    assert store.load() == pair("next", 1)


def test_clear_removes_the_blob_and_creates_nothing(data_dir: Path) -> None:
    store = file_store(data_dir)
    store.clear()
    assert not data_dir.exists()
    store.save(TOKENS)
    store.clear()
    assert store.load() is None
    assert store.signature() is None
    assert not store.path.exists()


def test_files_are_0600_and_folders_0700_even_with_a_loose_umask(data_dir: Path) -> None:
    old_umask = os.umask(0)
    try:
        store = file_store(data_dir)
        store.save(TOKENS)
        store.save(pair("again", 2))
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir / "key").st_mode) == 0o600
    everything = list(data_dir.rglob("*"))
    assert everything
    for path in everything:
        assert private_bits(path) == 0, f"{path} is readable by others"


def test_key_file_is_created_once_and_reused(data_dir: Path) -> None:
    key = FileKeyProvider(data_dir / "key").get_or_create_key()
    assert len(key) == 32
    assert FileKeyProvider(data_dir / "key").get_or_create_key() == key
    assert stat.S_IMODE(os.stat(data_dir / "key").st_mode) == 0o600


def test_a_key_file_readable_by_others_is_tightened(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = FileKeyProvider(data_dir / "key").get_or_create_key()
    os.chmod(data_dir / "key", 0o644)
    caplog.set_level(logging.WARNING)
    assert FileKeyProvider(data_dir / "key").get_or_create_key() == key
    assert stat.S_IMODE(os.stat(data_dir / "key").st_mode) == 0o600
    assert len(store_warnings(caplog)) == 1


def test_a_key_file_that_is_not_a_key_is_replaced(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir.mkdir()
    (data_dir / "key").write_text("not base64 at all\n")
    os.chmod(data_dir / "key", 0o600)
    caplog.set_level(logging.WARNING)
    key = FileKeyProvider(data_dir / "key").get_or_create_key()
    assert len(key) == 32
    assert FileKeyProvider(data_dir / "key").get_or_create_key() == key
    assert len(store_warnings(caplog)) == 1


def test_an_unusable_data_dir_is_a_one_line_error_not_a_crash(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    store = file_store(not_a_dir)
    for action in (store.load, lambda: store.save(TOKENS)):
        with pytest.raises(TokenStoreError) as info:
            action()
        assert isinstance(info.value, StytchError)
        assert "\n" not in str(info.value)
        assert "Not a directory" in str(info.value)
    assert not_a_dir.read_text() == "x"
    assert store.signature() is None


# ---- memory -------------------------------------------------------------------------------------


def test_memory_store_never_touches_the_data_dir(data_dir: Path) -> None:
    store = open_token_store(config(data_dir, "memory"))
    assert isinstance(store, MemoryTokenStore)
    assert store.signature() is None
    store.save(TOKENS)
    first = store.signature()
    assert store.load() == TOKENS
    store.save(pair("two", 2))
    assert store.signature() not in (None, first)
    store.clear()
    assert store.load() is None and store.signature() is None
    assert not data_dir.exists()
    assert "memory" in store.description


def test_memory_store_needs_no_public_token(data_dir: Path) -> None:
    assert isinstance(
        open_token_store(config(data_dir, "memory", public_token="")), MemoryTokenStore
    )
    with pytest.raises(TokenStoreError):
        open_token_store(config(data_dir, "file", public_token=""))


# ---- choosing the key: keyring, fallback, probe -----------------------------------------------


def test_auto_without_a_keyring_falls_back_to_a_key_file_and_says_so_once(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    first = open_token_store(config(data_dir, "auto"))
    second = open_token_store(config(data_dir, "auto"))
    first.save(TOKENS)
    third = open_token_store(config(data_dir, "auto"))  # the key file exists now

    records = store_warnings(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert "\n" not in message
    assert short_path(data_dir / "key") in message
    assert "token_store" in message  # says how to choose explicitly
    for store in (first, second, third):
        assert "key in file" in store.description
    assert second.load() == TOKENS and third.load() == TOKENS
    assert stat.S_IMODE(os.stat(data_dir / "key").st_mode) == 0o600


def test_probe_refuses_a_chainer_with_nothing_behind_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    probe = probe_keyring()
    assert not probe
    assert "no backends" in probe.reason


class _FakeBackend(KeyringBackend):
    """Base for the faulty backends below; never auto-detected (not viable)."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test-only backend")

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        return None


class HangingKeyring(_FakeBackend):
    """A keyring whose D-Bus never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        self.release.wait()
        return None


@pytest.mark.timeout(60)
def test_a_hanging_keyring_is_given_up_on_and_auto_falls_back(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hanging = HangingKeyring()
    keyring.set_keyring(hanging)
    caplog.set_level(logging.WARNING)
    try:
        started = time.monotonic()
        probe = probe_keyring(timeout=0.2)
        assert not probe and "did not answer" in probe.reason
        store = open_token_store(config(data_dir, "auto"), probe_timeout=0.2)
        elapsed = time.monotonic() - started
        assert "did not answer a probe earlier" in store_warnings(caplog)[0].getMessage()
        store.save(TOKENS)
        assert store.load() == TOKENS
    finally:
        hanging.release.set()
    # It was really asked, and really hung; once: a probe that hung is not tried again.
    assert hanging.calls == 1
    assert elapsed < 10  # one 0.2 s probe, not a wait on a call that never returns
    assert "key in file" in store.description
    assert (data_dir / "key").exists()
    assert len(store_warnings(caplog)) == 1


def test_keyring_mode_without_a_keyring_is_a_clear_error(data_dir: Path) -> None:
    with pytest.raises(TokenStoreError) as info:
        open_token_store(config(data_dir, "keyring"))
    message = str(info.value)
    assert "\n" not in message
    assert "keyring" in message and "'file'" in message
    assert isinstance(info.value, StytchError)
    assert not data_dir.exists()


def test_keyring_mode_keeps_the_key_in_the_keyring(
    data_dir: Path, plaintext_keyring: PlaintextKeyring
) -> None:
    store = open_token_store(config(data_dir, "keyring"))
    store.save(TOKENS)

    stored = plaintext_keyring.get_password(SERVICE, keyring_username(data_dir))
    assert stored is not None and len(stored.strip()) == 44  # base64 of 32 bytes
    assert not (data_dir / "key").exists()
    assert "OS keyring" in store.description and "PlaintextKeyring" in store.description
    # A fresh process-equivalent: a new provider reads the same key from the keyring.
    assert open_token_store(config(data_dir, "keyring")).load() == TOKENS
    # The key's lock lives in the data dir, private like the rest.
    for path in data_dir.rglob("*"):
        assert private_bits(path) == 0


def test_auto_with_a_working_keyring_uses_it_without_warning(
    data_dir: Path, plaintext_keyring: PlaintextKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = open_token_store(config(data_dir, "auto"))
        store.save(TOKENS)
    assert "OS keyring" in store.description
    assert not (data_dir / "key").exists()
    assert store.load() == TOKENS
    assert store_warnings(caplog) == []


def test_auto_keeps_an_existing_key_file_even_when_a_keyring_appears(
    data_dir: Path, plaintext_keyring: PlaintextKeyring
) -> None:
    keyring.set_keyring(fail.Keyring())
    open_token_store(config(data_dir, "auto")).save(TOKENS)
    keyring.set_keyring(plaintext_keyring)

    store = open_token_store(config(data_dir, "auto"))

    assert "key in file" in store.description
    assert store.load() == TOKENS  # switching keys would have signed the user out


class RefusingKeyring(_FakeBackend):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("the keyring said no")


class ForgetfulKeyring(_FakeBackend):
    """Accepts a value and keeps nothing."""


@pytest.mark.parametrize("backend_type", [RefusingKeyring, ForgetfulKeyring])
def test_a_keyring_that_cannot_keep_the_key_fails_the_save_cleanly(
    data_dir: Path, backend_type: type[_FakeBackend]
) -> None:
    keyring.set_keyring(backend_type())
    store = open_token_store(config(data_dir, "keyring"))
    with pytest.raises(TokenStoreError) as info:
        store.save(TOKENS)
    assert "\n" not in str(info.value)
    assert not (data_dir / "sessions").exists() or not list((data_dir / "sessions").iterdir())


def test_keyring_provider_creates_one_key_and_caches_it(
    plaintext_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    provider = KeyringKeyProvider(username="unit", lock_path=tmp_path / "k.lock")
    key = provider.get_or_create_key()
    assert KeyringKeyProvider(username="unit").get_or_create_key() == key
    plaintext_keyring.delete_password(SERVICE, "unit")
    assert provider.get_or_create_key() == key  # cached: no keyring round trip per use


def test_dbus_keyrings_are_not_used_outside_a_desktop_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from keyring.backends import SecretService

    calls: list[str] = []
    monkeypatch.setattr(SecretService.Keyring, "get_password", lambda self, s, u: calls.append(u))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    keyring.set_keyring(SecretService.Keyring())

    probe = probe_keyring()

    assert not probe and "DBUS_SESSION_BUS_ADDRESS" in probe.reason
    assert calls == []


def test_a_locked_secret_service_is_refused_without_an_unlock_prompt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stand-in Secret Service (there is no D-Bus here): locked, and unlock() would prompt."""
    import secretstorage
    from keyring.backends import SecretService

    unlocks: list[bool] = []

    class Connection:
        def close(self) -> None:
            pass

    class LockedCollection:
        def is_locked(self) -> bool:
            return True

        def unlock(self) -> bool:
            unlocks.append(True)
            return False

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    monkeypatch.setattr(secretstorage, "dbus_init", lambda: Connection())
    monkeypatch.setattr(secretstorage, "get_default_collection", lambda conn: LockedCollection())
    keyring.set_keyring(SecretService.Keyring())

    probe = probe_keyring()

    assert not probe and "locked" in probe.reason
    assert unlocks == []


# ---- other processes --------------------------------------------------------------------------


def test_signature_changes_when_another_process_saves_or_clears(data_dir: Path) -> None:
    store = file_store(data_dir)
    assert store.signature() is None

    run_worker(data_dir, "file", "save", "a", "1")
    first = store.signature()
    assert first is not None and store.load() == pair("a", 0)

    # Same size, written right after: the signature still moves.
    run_worker(data_dir, "file", "save", "b", "1")
    second = store.signature()
    assert second not in (None, first)
    assert store.load() == pair("b", 0)

    store.save(pair("c", 0))
    assert store.signature() not in (None, first, second)

    run_worker(data_dir, "file", "clear")
    assert store.signature() is None
    assert store.load() is None


def test_back_to_back_saves_of_equal_size_always_change_the_signature(data_dir: Path) -> None:
    store = file_store(data_dir)
    seen = set()
    for index in range(50):
        store.save(pair("same", index))
        seen.add(store.signature())
    assert len(seen) == 50


def test_each_save_stamps_a_strictly_later_mtime_even_if_the_clock_stalls(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the file system's clock is coarse, two saves in one tick must still differ."""
    store = file_store(data_dir)
    frozen = 1_700_000_000_123_456_789
    monkeypatch.setattr(store_module.time, "time_ns", lambda: frozen)
    stamps = []
    for index in range(3):
        store.save(pair("tick", index))
        stamps.append(os.stat(store.path).st_mtime_ns)
    assert stamps == [frozen, frozen + 1, frozen + 2]


def _wait_for_saves(store: EncryptedFileStore, saves: int, proc: subprocess.Popen[str]) -> None:
    """Poll until the writer has visibly replaced the file ``saves`` times."""
    last, changes = store.signature(), 0
    deadline = time.monotonic() + 30
    while changes < saves:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the writer made no progress"
        current = store.signature()
        if current is not None and current != last:
            changes += 1
        last = current
        time.sleep(0.0005)


@pytest.mark.timeout(120)
def test_sigkill_mid_write_never_leaves_an_unreadable_store(data_dir: Path) -> None:
    store = file_store(data_dir)
    rng = random.Random()
    tags: list[str] = []
    for round_ in range(6):
        tag = f"kill{round_}"
        tags.append(tag)
        proc = spawn(data_dir, "file", "loop", tag)
        try:
            _wait_for_saves(store, rng.randint(1, 25), proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        loaded = store.load()

        assert loaded is not None, f"round {round_}: the store read as empty"
        assert is_written_pair(loaded, tags), loaded
        assert store.path.exists()

    store.save(pair("after", 1))
    assert store.load() == pair("after", 1)
    assert list(store.path.parent.glob("*.tmp")) == []


@pytest.mark.timeout(180)
@pytest.mark.parametrize("mode", ["file", "keyring"])
def test_four_processes_writing_at_once_end_consistent(
    tmp_path: Path, data_dir: Path, mode: str
) -> None:
    count = 25
    keyring_dir = tmp_path / "xdg" if mode == "keyring" else None
    env = worker_env(keyring_dir)
    go = tmp_path / "go"
    procs = [
        spawn(data_dir, mode, "save", f"w{n}", str(count), "--verify", "--go", str(go), env=env)
        for n in range(4)
    ]
    # All four open and waiting, then released together: they race for the first key too.
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, err

    if keyring_dir is not None:
        backend = PlaintextKeyring()
        backend.file_path = str(keyring_dir / "python_keyring" / "keyring_pass.cfg")
        keyring.set_keyring(backend)
    store = open_token_store(config(data_dir, mode))
    final = store.load()

    # The globally last save is the last save of whichever worker made it.
    assert final in {pair(f"w{n}", count - 1) for n in range(4)}
    assert list(store_path(data_dir, PUBLIC_TOKEN).parent.glob("*.tmp")) == []
