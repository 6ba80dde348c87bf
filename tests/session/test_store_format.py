"""The token store's persisted format and its guards, pinned: what a later version must still read.

Known-answer tests build blobs with ``cryptography`` directly (not with the store's ``seal``),
so a change to the nonce size, the associated data or the file names fails here instead of
quietly signing every user out after an upgrade.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stytch_jupyter.api.models import SessionTokens
from stytch_jupyter.session import store as store_module
from stytch_jupyter.session.keys import FileKeyProvider, TokenStoreError
from stytch_jupyter.session.store import (
    EncryptedFileStore,
    MemoryTokenStore,
    StoreChanged,
    associated_data,
    key_path,
    open_token_store,
    store_path,
    unseal,
)
from stytch_jupyter.session.store_files import may_hold_session

PUBLIC_TOKEN = "public-token-test-5ca1ab1e-0000-0000-0000-000000000001"
TOKENS = SessionTokens(opaque="opaque-token-" + "a" * 36, jwt="h.p.s")


def file_store(data_dir: Path) -> EncryptedFileStore:
    return EncryptedFileStore(
        store_path(data_dir, PUBLIC_TOKEN), FileKeyProvider(data_dir / "key"), PUBLIC_TOKEN
    )


def sealed_by_hand(key: bytes, tokens: SessionTokens, nonce: bytes = b"\x01" * 12) -> bytes:
    plaintext = json.dumps({"opaque": tokens.opaque, "jwt": tokens.jwt}).encode()
    aad = b"stytch-jupyter/token-store/v1\x00" + PUBLIC_TOKEN.encode()
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def test_the_store_file_is_named_by_a_16_digit_hash_in_sessions(tmp_path: Path) -> None:
    assert store_path(tmp_path, PUBLIC_TOKEN) == tmp_path / "sessions" / "91d3aa028f5952c0.bin"


def test_the_associated_data_binds_format_version_and_public_token() -> None:
    assert associated_data(PUBLIC_TOKEN) == (
        b"stytch-jupyter/token-store/v1\x00" + PUBLIC_TOKEN.encode()
    )


def test_a_blob_made_by_hand_in_the_documented_format_opens() -> None:
    key = AESGCM.generate_key(bit_length=256)
    blob = sealed_by_hand(key, TOKENS)
    assert unseal(key, PUBLIC_TOKEN, blob) == TOKENS


def test_what_the_store_writes_is_the_documented_format(tmp_path: Path) -> None:
    store = file_store(tmp_path / "data")
    store.save(TOKENS)
    key = store.key_provider.get_or_create_key()
    blob = key_path(store.base_path, key).read_bytes()
    nonce, sealed = blob[:12], blob[12:]
    aad = b"stytch-jupyter/token-store/v1\x00" + PUBLIC_TOKEN.encode()
    assert json.loads(AESGCM(key).decrypt(nonce, sealed, aad)) == {
        "opaque": TOKENS.opaque,
        "jwt": TOKENS.jwt,
    }


@pytest.mark.parametrize("length", [12, 16, 27, 28])
def test_a_blob_no_longer_than_nonce_and_tag_is_too_short(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, length: int
) -> None:
    store = file_store(tmp_path / "data")
    store.save(TOKENS)
    path = key_path(store.base_path, store.key_provider.get_or_create_key())
    path.write_bytes(os.urandom(length))
    with caplog.at_level(logging.WARNING):
        assert store.load() is None
    assert f"too short ({length} bytes)" in caplog.text
    assert not path.exists()


def test_saving_anything_but_session_tokens_is_a_type_error(tmp_path: Path) -> None:
    for store in (MemoryTokenStore(), file_store(tmp_path / "data")):
        with pytest.raises(TypeError, match="expected SessionTokens, got dict"):
            store.save({"opaque": "x", "jwt": "y"})  # type: ignore[arg-type]
        assert store.load() is None


@pytest.mark.parametrize("token", ["", "   ", None])
def test_a_file_store_needs_a_public_token(tmp_path: Path, token: Any) -> None:
    with pytest.raises(TokenStoreError, match="needs a public token"):
        EncryptedFileStore(tmp_path / "x.bin", FileKeyProvider(tmp_path / "key"), token)


def test_open_token_store_says_what_is_missing(tmp_path: Path) -> None:
    blank = types.SimpleNamespace(token_store="file", public_token="  ", data_path=tmp_path)
    with pytest.raises(TokenStoreError, match=r"set Stytch\.public_token"):
        open_token_store(blank)  # type: ignore[arg-type]
    bogus = types.SimpleNamespace(
        token_store="bogus", public_token=PUBLIC_TOKEN, data_path=tmp_path
    )
    with pytest.raises(TokenStoreError, match="must be auto, keyring, file or memory"):
        open_token_store(bogus)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_may_hold_session_is_a_plain_bool(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert may_hold_session(data_dir, PUBLIC_TOKEN) is False
    file_store(data_dir).save(TOKENS)
    assert may_hold_session(data_dir, PUBLIC_TOKEN) is True
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")  # a data dir under a file: listing it fails
    assert may_hold_session(not_a_folder / "data", PUBLIC_TOKEN) is False


def test_an_earlier_fallback_key_file_is_announced_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_fallback_announced", False)
    data_dir = tmp_path / "data"
    FileKeyProvider(data_dir / "key").get_or_create_key()
    config = types.SimpleNamespace(
        token_store="auto", public_token=PUBLIC_TOKEN, data_path=data_dir
    )
    with caplog.at_level(logging.WARNING):
        open_token_store(config)  # type: ignore[arg-type]
        open_token_store(config)  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "a key file from an earlier fallback exists" in messages[0]


FIRST_FALLBACK = """
import logging, sys, types
from stytch_jupyter.session.keys import FileKeyProvider
from stytch_jupyter.session.store import open_token_store
logging.basicConfig(stream=sys.stdout, format="%(message)s")
data_dir = __import__("pathlib").Path(sys.argv[1])
FileKeyProvider(data_dir / "key").get_or_create_key()
config = types.SimpleNamespace(token_store="auto", public_token="pt", data_path=data_dir)
open_token_store(config)
"""


def test_a_fresh_process_announces_its_first_fallback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_FALLBACK, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "a key file from an earlier fallback exists" in done.stdout


def test_deleting_a_damaged_blob_and_adopting_a_legacy_one_are_made_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = file_store(tmp_path / "data")
    store.save(TOKENS)
    key = store.key_provider.get_or_create_key()
    synced: list[Path] = []
    real_fsync_dir = store_module.fsync_dir

    def recording_fsync_dir(path: Path) -> None:  # a power cut cannot be had for real
        synced.append(Path(path))
        real_fsync_dir(path)

    monkeypatch.setattr(store_module, "fsync_dir", recording_fsync_dir)
    mine = key_path(store.base_path, key)
    mine.write_bytes(b"\x00" * 64)  # damaged
    assert store.load() is None
    assert synced == [mine.parent]
    synced.clear()
    store.base_path.write_bytes(sealed_by_hand(key, TOKENS))  # an older version's blob
    assert store.load() == TOKENS
    assert mine.exists() and not store.base_path.exists()
    assert synced == [store.base_path.parent]


def test_the_memory_store_says_what_it_is() -> None:
    assert repr(MemoryTokenStore()) == "MemoryTokenStore()"
    assert "memory only" in MemoryTokenStore().description


def test_the_store_module_exports_what_it_names() -> None:
    assert set(store_module.__all__) == {
        "EncryptedFileStore",
        "MemoryTokenStore",
        "TokenStore",
        "TokenStoreError",
        "open_token_store",
        "store_path",
    }
    for name in store_module.__all__:
        assert hasattr(store_module, name)


def test_a_conditional_clear_of_an_empty_store_is_store_changed(tmp_path: Path) -> None:
    store = file_store(tmp_path / "data")
    with pytest.raises(StoreChanged):
        store.clear(replacing=TOKENS.opaque)
    assert store.clear() is None
    assert not (tmp_path / "data").exists()  # emptying nothing creates nothing


def test_clear_removes_a_killed_writers_temp_files_and_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = file_store(tmp_path / "data")
    store.save(TOKENS)
    mine = key_path(store.base_path, store.key_provider.get_or_create_key())
    stale = mine.with_name(mine.name + ".0123456789ab.tmp")
    stale.write_bytes(b"half a blob")
    synced: list[Path] = []
    monkeypatch.setattr(store_module, "fsync_dir", lambda path: synced.append(Path(path)))
    store.clear()
    assert not stale.exists() and not mine.exists()
    assert synced == [mine.parent]


def test_the_lock_file_sits_beside_the_store_file(tmp_path: Path) -> None:
    # Two versions of this package running at once must take the same lock.
    store = file_store(tmp_path / "data")
    store.save(TOKENS)
    assert (tmp_path / "data" / "sessions" / "91d3aa028f5952c0.bin.lock").exists()


def test_an_unusable_folder_is_a_one_line_error_naming_the_operation(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = file_store(data_dir)
    store.save(TOKENS)
    sessions = data_dir / "sessions"
    for entry in sessions.iterdir():
        entry.unlink()
    sessions.rmdir()
    sessions.write_text("a file where the sessions folder should be")
    with pytest.raises(TokenStoreError, match=r"^cannot write the token store .*sessions") as err:
        store.save(TOKENS)
    assert "\n" not in str(err.value)
    with pytest.raises(TokenStoreError, match=r"^cannot read the token store "):
        store.load()


def test_a_blob_that_does_not_authenticate_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = file_store(tmp_path / "data")
    store.save(TOKENS)
    path = key_path(store.base_path, store.key_provider.get_or_create_key())
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0x01
    path.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING):
        assert store.load() is None
    assert "it does not authenticate" in caplog.text
