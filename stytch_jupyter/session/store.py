"""The encrypted token store: one file per public token, shared by every kernel of the user.

A file holds ``nonce(12) ‖ ciphertext ‖ tag(16)``: AES-256-GCM over the JSON of the opaque token
and the JWT (tokens only, never session or user data), with associated data that binds it to the
public token and the format version, so a blob copied to another project's file does not open.

Each key has its own file, ``sessions/<project>.<key id>.bin`` (the key id is a hash of the key):
processes that hold different keys (``token_store='file'`` beside a keyring, a keyring that was
too slow once, machines sharing a home folder) keep separate sessions and never touch each
other's. A file that does not open with the key it is named after is damaged (or bound to
another public token): it is deleted with one log line and reads as signed out. Only an unusable
environment (unreadable folder, keyring gone, lock timeout) raises, as ``TokenStoreError``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..api.models import SessionTokens
from ._fs import (
    PRIVATE_DIR,
    atomic_write,
    ensure_private_dir,
    file_lock,
    fsync_dir,
    short_path,
    stale_temps,
)
from .errors import StoreChanged, TokenStoreError
from .keys import (
    PROBE_TIMEOUT,
    FileKeyProvider,
    KeyProvider,
    KeyringKeyProvider,
    key_id,
    keyring_username,
    probe_keyring,
)
from .store_files import KEY_FILE, asks_keyring, store_path, stored_blobs

if TYPE_CHECKING:
    from ..config import Stytch

__all__ = [
    "EncryptedFileStore",
    "MemoryTokenStore",
    "TokenStore",
    "TokenStoreError",
    "open_token_store",
    "store_path",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
_AAD_PREFIX = b"stytch-jupyter/token-store/v%d\x00" % FORMAT_VERSION


@runtime_checkable
class TokenStore(Protocol):
    def load(self) -> SessionTokens | None:
        """The stored tokens; None when there are none (unreadable ones are deleted, and logged).

        Raises ``TokenStoreError`` (one line) only when the store itself cannot be used: an
        unreadable folder, a keyring that fails or stops answering, a lock held too long.
        """
        ...

    def save(self, tokens: SessionTokens, *, replacing: str | None = None) -> Hashable | None:
        """Replace the stored tokens atomically; ``TokenStoreError`` when that is impossible.

        With ``replacing`` (an opaque token), only if the store still holds that session, else
        ``StoreChanged``: another process's newer sign-in or sign-out must not be undone.
        Returns the signature of what this call wrote, taken under the lock, so a caller can
        tell its own write from another process's that lands right after it.
        """
        ...

    def clear(self, *, replacing: str | None = None) -> Hashable | None:
        """Forget the stored tokens (``replacing`` as for ``save``); returns the new signature."""
        ...

    def signature(self) -> Hashable | None:
        """Cheap; changes whenever anyone saves or clears. None when nothing is stored."""
        ...

    @property
    def description(self) -> str: ...


class MemoryTokenStore:
    """Persists nothing: the session lives and dies with this process."""

    def __init__(self) -> None:
        self._tokens: SessionTokens | None = None
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return "memory only (nothing is written to disk)"

    def load(self) -> SessionTokens | None:
        return self._tokens

    def save(self, tokens: SessionTokens, *, replacing: str | None = None) -> Hashable | None:
        if not isinstance(tokens, SessionTokens):
            raise TypeError(f"expected SessionTokens, got {type(tokens).__name__}")
        with self._lock:
            self._check_holds(replacing)
            self._tokens = tokens
            self._generation += 1
            return self._generation

    def clear(self, *, replacing: str | None = None) -> Hashable | None:
        with self._lock:
            self._check_holds(replacing)
            self._tokens = None
            self._generation += 1
            return None

    def _check_holds(self, replacing: str | None) -> None:
        if replacing is not None and (self._tokens is None or self._tokens.opaque != replacing):
            raise StoreChanged

    def signature(self) -> Hashable | None:
        with self._lock:
            return None if self._tokens is None else self._generation

    def __repr__(self) -> str:
        return "MemoryTokenStore()"


def key_path(base: Path, key: bytes) -> Path:
    """The file holding the blob sealed with ``key``."""
    return base.with_name(f"{base.stem}.{key_id(key)}{base.suffix}")


def associated_data(public_token: str) -> bytes:
    return _AAD_PREFIX + public_token.encode("utf-8")


def seal(key: bytes, public_token: str, tokens: SessionTokens) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plaintext = json.dumps({"opaque": tokens.opaque, "jwt": tokens.jwt}).encode("utf-8")
    nonce = os.urandom(NONCE_BYTES)  # fresh per write: GCM must never reuse one under a key
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data(public_token))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _next_mtime_ns(path: Path) -> int:
    now = time.time_ns()
    try:
        return max(now, os.stat(path).st_mtime_ns + 1)
    except FileNotFoundError:
        return now


class _Unreadable(Exception):
    """Why a blob does not open; the message never contains any of its content."""


def unseal(key: bytes, public_token: str, blob: bytes) -> SessionTokens:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) <= NONCE_BYTES + TAG_BYTES:
        raise _Unreadable(f"too short ({len(blob)} bytes)")
    nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        plaintext = AESGCM(key).decrypt(nonce, sealed, associated_data(public_token))
    except InvalidTag:
        raise _Unreadable(
            "it does not authenticate: damaged, or written with another key or public token"
        ) from None
    try:
        data = json.loads(plaintext)
        return SessionTokens(opaque=data["opaque"], jwt=data["jwt"])
    except (ValueError, TypeError, KeyError):
        raise _Unreadable("it decrypts but holds no token pair") from None


class EncryptedFileStore:
    """Tokens for one public token in an AES-256-GCM file; the key comes from ``key_provider``."""

    def __init__(self, path: Path, key_provider: KeyProvider, public_token: str) -> None:
        if not isinstance(public_token, str) or not public_token.strip():
            raise TokenStoreError("the token store needs a public token (Stytch.public_token)")
        self.base_path = Path(path)
        self.key_provider = key_provider
        self._public_token = public_token
        self._lock_path = self.base_path.with_name(self.base_path.name + ".lock")

    @property
    def path(self) -> Path:
        """The file of this process's key (reads the key, creating it if there is none)."""
        return key_path(self.base_path, self.key_provider.get_or_create_key())

    @property
    def description(self) -> str:
        return f"encrypted file {short_path(self.base_path)}, {self.key_provider.description}"

    def __repr__(self) -> str:
        return f"EncryptedFileStore({short_path(self.base_path)!r})"

    def signature(self) -> Hashable | None:
        # A save is a rename (new inode) stamped with a strictly later mtime, so this changes
        # on every save even when two land within the file system's clock tick. Before this
        # process holds its key: every blob of the project (no key read just to poll).
        key = self.key_provider.cached_key
        try:
            paths = [key_path(self.base_path, key)] if key else stored_blobs(self.base_path)
        except OSError:
            return None
        stats = []
        for path in sorted(paths):
            try:
                st = os.stat(path)
            except OSError:
                continue
            stats.append((path.name, st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(stats) if stats else None

    def load(self) -> SessionTokens | None:
        with self._guard("read"):
            if not stored_blobs(self.base_path):
                return None  # nothing stored by anyone: no key is needed (or created)
            key = self.key_provider.existing_key()
            if key is None:
                return None  # our key does not exist: nothing of ours can be stored
            blob = _read(key_path(self.base_path, key))
            if blob is None:
                # Our cached key may predate one another process made (the data dir was
                # removed under us, say): read it afresh before calling the store empty.
                self.key_provider.invalidate()
                fresh = self.key_provider.existing_key()
                if fresh is None:
                    return None
                key = fresh
                blob = _read(key_path(self.base_path, key))
            if blob is None:
                return self._adopt_legacy(key)
            try:
                return unseal(key, self._public_token, blob)
            except _Unreadable:
                pass
            return self._load_or_discard(key)

    def save(self, tokens: SessionTokens, *, replacing: str | None = None) -> Hashable | None:
        if not isinstance(tokens, SessionTokens):
            raise TypeError(f"expected SessionTokens, got {type(tokens).__name__}")
        with self._guard("write"):
            self._ensure_dir()
            key = self.key_provider.get_or_create_key()
            path = key_path(self.base_path, key)
            blob = seal(key, self._public_token, tokens)
            with file_lock(self._lock_path):
                self._check_holds(key, replacing)
                self._remove_stale_temps(path)
                atomic_write(path, blob, mtime_ns=_next_mtime_ns(path))
                return self.signature()

    def clear(self, *, replacing: str | None = None) -> Hashable | None:
        with self._guard("clear"):
            key = self.key_provider.existing_key() if self.base_path.parent.is_dir() else None
            if key is None:
                if replacing is not None:
                    raise StoreChanged
                return None  # never stored anything: do not create the folder just to empty it
            path = key_path(self.base_path, key)
            with file_lock(self._lock_path):
                self._check_holds(key, replacing)
                self._remove_stale_temps(path)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    fsync_dir(path.parent)
                return self.signature()

    # ---- internals ----------------------------------------------------------------------------

    def _check_holds(self, key: bytes, replacing: str | None) -> None:
        """Under the lock: raise ``StoreChanged`` unless our file holds session ``replacing``."""
        if replacing is None:
            return
        blob = _read(key_path(self.base_path, key))
        try:
            held = unseal(key, self._public_token, blob or b"")
        except _Unreadable:
            raise StoreChanged from None
        if held.opaque != replacing:
            raise StoreChanged

    def _load_or_discard(self, key: bytes) -> SessionTokens | None:
        """Under the lock: a file named after our key that does not open with it is damaged."""
        path = key_path(self.base_path, key)
        with file_lock(self._lock_path):
            blob = _read(path)  # another process may have replaced it meanwhile
            if blob is None:
                return None
            try:
                return unseal(key, self._public_token, blob)
            except _Unreadable as exc:
                reason = str(exc)
            path.unlink()
            fsync_dir(path.parent)
        logger.warning(
            "stytch-jupyter: deleted the stored session %s: %s. You are signed out.",
            short_path(path),
            reason,
        )
        return None

    def _adopt_legacy(self, key: bytes) -> SessionTokens | None:
        """A blob at the base name (an older version's): ours if our key opens it, then moved
        to our key's file; otherwise another key's, and left alone."""
        with file_lock(self._lock_path):
            blob = _read(self.base_path)
            if blob is None:
                return None
            try:
                tokens = unseal(key, self._public_token, blob)
            except _Unreadable:
                return None
            os.replace(self.base_path, key_path(self.base_path, key))
            fsync_dir(self.base_path.parent)
            return tokens

    def _ensure_dir(self) -> None:
        folder = self.path.parent
        ensure_private_dir(folder)
        # The sessions folder is ours alone: tighten it if something loosened it.
        if os.name != "nt" and os.stat(folder).st_mode & 0o077:
            os.chmod(folder, PRIVATE_DIR)

    @staticmethod
    def _remove_stale_temps(path: Path) -> None:
        # Only called under the lock: no live writer of this file exists, so any temp is stale.
        for tmp in stale_temps(path):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except TokenStoreError:
            raise
        except OSError as exc:  # TimeoutError (a lock) included
            detail = exc.strerror if exc.strerror else str(exc)
            raise TokenStoreError(
                f"cannot {what} the token store {short_path(self.path)}: {detail}"
            ) from None


# ---- choosing a store from the configuration ----------------------------------------------------

_fallback_announced = False
_announce_lock = threading.Lock()


def _announce_key_file(key_file: Path, reason: str) -> None:
    """Say once per process, loudly, that the key sits in a file rather than the OS keyring."""
    global _fallback_announced
    with _announce_lock:
        if _fallback_announced:
            return
        _fallback_announced = True
    message = (
        f"stytch-jupyter: {reason}; the token-store key is kept in a 0600 file, "
        f"{short_path(key_file)}. Set Stytch.token_store to 'keyring' or 'file' "
        "to choose explicitly."
    )
    # Logged, not warnings.warn: this runs on the session thread, where a Python warning
    # would point at our internals and IPython would show it twice beside the log line.
    logger.warning(message)


def _key_provider(mode: str, data_dir: Path, probe_timeout: float) -> KeyProvider:
    key_file = data_dir / KEY_FILE
    if mode == "file":
        return FileKeyProvider(key_file)
    if not asks_keyring(mode, data_dir):
        # Once fallen back, stay: switching to a keyring later would orphan the stored session.
        _announce_key_file(key_file, "a key file from an earlier fallback exists")
        return FileKeyProvider(key_file)
    probe = probe_keyring(probe_timeout)
    if probe:
        return KeyringKeyProvider(
            username=keyring_username(data_dir),
            backend=probe.backend,
            lock_path=data_dir / "key.lock",
        )
    if mode == "keyring":
        raise TokenStoreError(
            f"Stytch.token_store is 'keyring' but there is no usable OS keyring ({probe.reason}); "
            "use 'file' for a 0600 key file, or 'auto'"
        )
    _announce_key_file(key_file, f"no usable OS keyring ({probe.reason})")
    return FileKeyProvider(key_file)


def open_token_store(config: Stytch, *, probe_timeout: float = PROBE_TIMEOUT) -> TokenStore:
    """The store ``config.token_store`` asks for. Creates nothing on disk until the first save."""
    mode = config.token_store
    if mode == "memory":
        return MemoryTokenStore()
    if mode not in ("auto", "keyring", "file"):
        raise TokenStoreError(
            f"Stytch.token_store must be auto, keyring, file or memory, not {mode!r}"
        )
    public_token = config.public_token.strip()
    if not public_token:
        raise TokenStoreError("the token store needs a public token: set Stytch.public_token")
    data_dir = config.data_path
    provider = _key_provider(mode, data_dir, probe_timeout)
    return EncryptedFileStore(store_path(data_dir, public_token), provider, public_token)
