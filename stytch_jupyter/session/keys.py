"""Where the token store's 256-bit key lives: the OS keyring, or a 0600 key file.

Choosing the keyring never prompts. ``probe_keyring`` runs on a daemon thread with a
deadline (a hung D-Bus must not hang the kernel) and refuses, before touching them:

- keyring's ``fail``/``null`` backends and a chainer with nothing behind it;
- D-Bus backends (Secret Service, KWallet) when ``DBUS_SESSION_BUS_ADDRESS`` is unset: such a
  process (SSH, cron, a container) is not part of a desktop session, and jeepney's fallback to
  ``$XDG_RUNTIME_DIR/bus`` would reach a keyring nobody is there to unlock;
- a Secret Service collection that is locked: keyring would call ``unlock()``, which pops a
  dialog and blocks until someone answers it;
- a closed KWallet wallet, for the same reason.

Whatever backend keyring itself resolves to otherwise is the user's choice and is used, including
keyrings.alt's plaintext file (mode 0600, no weaker than our own key file).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from ._fs import PRIVATE_FILE, atomic_write, ensure_private_dir, file_lock, short_path, stale_temps
from .errors import TokenStoreError as TokenStoreError  # its old home: still importable here

logger = logging.getLogger(__name__)

KEY_BYTES = 32  # AES-256
SERVICE = "stytch-jupyter"
PROBE_USERNAME = "probe"
PROBE_TIMEOUT = 2.0
KEYRING_CALL_TIMEOUT = 10.0

T = TypeVar("T")

# Keyring backends that stopped answering once in this process. Each such call leaves a thread
# behind (it cannot be stopped): asking again would leave another, and cost the deadline again.
_hung_backends: set[str] = set()
_PROBE = "<probe>"
_hung_lock = threading.Lock()


def _mark_hung(name: str) -> None:
    with _hung_lock:
        _hung_backends.add(name)


def keyring_hung(name: str) -> bool:
    """Whether the keyring backend ``name`` stopped answering earlier in this process."""
    with _hung_lock:
        return name in _hung_backends


@runtime_checkable
class KeyProvider(Protocol):
    def get_or_create_key(self) -> bytes:
        """The 32-byte key, created (once, under a lock) if there is none yet; cached after."""
        ...

    def invalidate(self) -> None:
        """Forget the cached key, so the next call reads it again (another process may own it)."""
        ...

    def existing_key(self) -> bytes | None:
        """The key if there is one already (cached, else read); never creates one."""
        ...

    @property
    def cached_key(self) -> bytes | None:
        """The key if this process already holds it: no I/O at all."""
        ...

    @property
    def description(self) -> str: ...


def key_id(key: bytes) -> str:
    """A short public name for a key (a hash: it tells nothing about the key itself)."""
    return hashlib.sha256(b"stytch-jupyter/key-id\x00" + key).hexdigest()[:16]


def _encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _decode_key(text: str) -> bytes | None:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


class _HeldKey:
    """The key in memory, behind a repr that does not show it (``vars()`` of a store)."""

    __slots__ = ("key",)

    def __init__(self, key: bytes) -> None:
        self.key = key

    def __repr__(self) -> str:
        return "<token-store key>"


class _CachedKey:
    """The key read once (or created once) and kept in memory: every save needs it."""

    def __init__(self) -> None:
        self._held: _HeldKey | None = None
        self._mutex = threading.Lock()

    def _read(self) -> bytes | None:
        raise NotImplementedError

    def _create(self) -> bytes:
        raise NotImplementedError

    def invalidate(self) -> None:
        with self._mutex:
            self._held = None

    def get_or_create_key(self) -> bytes:
        with self._mutex:
            if self._held is None:
                self._held = _HeldKey(self._read() or self._create())
            return self._held.key

    def existing_key(self) -> bytes | None:
        with self._mutex:
            if self._held is None:
                key = self._read()
                self._held = None if key is None else _HeldKey(key)
            return None if self._held is None else self._held.key

    @property
    def cached_key(self) -> bytes | None:
        held = self._held
        return None if held is None else held.key


class FileKeyProvider(_CachedKey):
    """The key in a 0600 file (base64, one line), created atomically in a 0700 folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        super().__init__()

    @property
    def description(self) -> str:
        return f"key in file {short_path(self.path)} (mode 0600)"

    def _read(self) -> bytes | None:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
            self._tighten()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(
                f"cannot read the key file {short_path(self.path)}: {exc.strerror}"
            ) from None
        return _decode_key(text)

    def _tighten(self) -> None:
        """A key file others can read (copied, restored from a backup) goes back to 0600."""
        if os.name == "nt" or not os.stat(self.path).st_mode & 0o077:
            return
        os.chmod(self.path, PRIVATE_FILE)
        logger.warning(
            "stytch-jupyter: the key file %s was readable by others; made it 0600",
            short_path(self.path),
        )

    def _create(self) -> bytes:
        ensure_private_dir(self.path.parent)
        with file_lock(self._lock_path):
            # Another process may have created it while we waited for the lock.
            existing = self._read()
            if existing is not None:
                return existing
            if self.path.exists():
                logger.warning(
                    "stytch-jupyter: the key file %s is not a key; replacing it "
                    "(any stored session becomes unreadable and is signed out)",
                    short_path(self.path),
                )
            for tmp in stale_temps(self.path):  # left by a writer killed mid-creation
                tmp.unlink(missing_ok=True)
            key = secrets.token_bytes(KEY_BYTES)
            atomic_write(self.path, (_encode_key(key) + "\n").encode("ascii"))
            return key


def _call_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``fn`` on a daemon thread; give up (leaving it behind) after ``timeout`` seconds."""
    done = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:  # handed back to the caller below
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name=f"stytch-{what}", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"{what} did not answer within {timeout:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(T, value)


def _backend_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def keyring_username(data_dir: Path) -> str:
    """One key per data dir: its creation is then serialised by a lock inside that dir."""
    digest = hashlib.sha256(str(Path(data_dir).expanduser().absolute()).encode()).hexdigest()
    return f"token-store-key-{digest[:16]}"


class KeyringKeyProvider(_CachedKey):
    """The key in the OS keyring, base64 under ``(service, username)``.

    ``backend`` is the one ``probe_keyring`` vetted (None: whatever keyring resolves to).
    Every keyring call runs with a deadline, so a keyring that stops answering later
    raises ``TokenStoreError`` instead of hanging.
    """

    def __init__(
        self,
        service: str = SERVICE,
        username: str = "token-store-key",
        *,
        backend: Any = None,
        lock_path: Path | None = None,
        timeout: float | None = None,
    ) -> None:
        self.service = service
        self.username = username
        self.backend = backend
        self.lock_path = lock_path
        self.timeout = KEYRING_CALL_TIMEOUT if timeout is None else timeout
        super().__init__()

    def _keyring(self) -> Any:
        if self.backend is not None:
            return self.backend
        import keyring

        return keyring.get_keyring()

    @property
    def description(self) -> str:
        backend = _backend_name(self.backend) if self.backend is not None else "default backend"
        return f"key in the OS keyring ({backend}, service {self.service!r})"

    def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        backend = self._keyring()
        name = _backend_name(backend)
        if keyring_hung(name):
            raise TokenStoreError(
                f"the OS keyring ({name}) stopped answering earlier in this process; "
                "not asking it again (restart the kernel, or set Stytch.token_store = 'file')"
            )
        try:
            return _call_with_timeout(lambda: fn(backend), self.timeout, f"keyring {what}")
        except TimeoutError as exc:
            _mark_hung(name)
            raise TokenStoreError(f"the OS keyring: {exc}") from None
        except TokenStoreError:
            raise
        except Exception as exc:
            raise TokenStoreError(
                f"the OS keyring failed to {what} the token-store key: {type(exc).__name__}"
            ) from None

    def _read(self) -> bytes | None:
        text = self._call("read", lambda kr: kr.get_password(self.service, self.username))
        if text is None:
            return None
        key = _decode_key(text)
        if key is None:
            logger.warning(
                "stytch-jupyter: the keyring entry %s/%s is not a key; replacing it",
                self.service,
                self.username,
            )
        return key

    def _create(self) -> bytes:
        if self.lock_path is None:
            return self._create_unlocked()
        ensure_private_dir(self.lock_path.parent)
        with file_lock(self.lock_path):
            return self._read() or self._create_unlocked()

    def _create_unlocked(self) -> bytes:
        key = secrets.token_bytes(KEY_BYTES)
        encoded = _encode_key(key)
        self._call("store", lambda kr: kr.set_password(self.service, self.username, encoded))
        # A backend that silently drops the value would lose every session at the next start.
        if self._call("read", lambda kr: kr.get_password(self.service, self.username)) != encoded:
            raise TokenStoreError("the OS keyring did not keep the token-store key")
        return key


@dataclass(frozen=True)
class KeyringProbe:
    """Whether the OS keyring can hold the key without prompting; ``reason`` when not."""

    usable: bool
    reason: str = ""
    backend: Any = None

    def __bool__(self) -> bool:
        return self.usable


def _is_dbus_backend(backend: object) -> bool:
    module = type(backend).__module__
    return module.startswith(("keyring.backends.SecretService", "keyring.backends.kwallet"))


def _secret_service_locked(backend: Any) -> bool:
    """Ask the Secret Service whether the collection keyring would use is locked; never unlock."""
    import secretstorage  # a dependency of keyring's SecretService backend on Linux

    connection = secretstorage.dbus_init()
    try:
        path = getattr(backend, "preferred_collection", None)
        if path:
            collection = secretstorage.Collection(connection, path)
        else:
            collection = secretstorage.get_default_collection(connection)
        return bool(collection.is_locked())
    finally:
        close = getattr(connection, "close", None)
        if close is not None:
            close()


def _kwallet_closed(backend: Any) -> bool:
    """A closed wallet would be opened with a password dialog: treat it as unusable."""
    # KWallet's backend is only viable when dbus-python is installed (no stubs for it).
    dbus: Any = importlib.import_module("dbus")
    bus = dbus.SessionBus()
    iface = dbus.Interface(bus.get_object(backend.bus_name, backend.object_path), "org.kde.KWallet")
    return not bool(iface.isOpen(iface.networkWallet()))


def _refusal(backend: Any) -> str | None:
    """Why this backend cannot be used without a prompt, or None if it can be tried."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring):
        return "no keyring backend is available"
    if isinstance(backend, null.Keyring):
        return "the keyring is disabled (null backend)"
    if isinstance(backend, chainer.ChainerBackend):
        return None if backend.backends else "the keyring chainer has no backends"
    if _is_dbus_backend(backend):
        if sys.platform.startswith("linux") and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return (
                f"{_backend_name(backend)} needs a desktop session (DBUS_SESSION_BUS_ADDRESS unset)"
            )
        module = type(backend).__module__
        locked = (
            _secret_service_locked(backend)
            if module.startswith("keyring.backends.SecretService")
            else _kwallet_closed(backend)
        )
        if locked:
            return f"{_backend_name(backend)} is locked (unlocking it would prompt)"
    return None


def _choose_backend() -> tuple[Any, str | None]:
    """The backend to use: keyring's own choice, or for a chainer its best promptless member."""
    import keyring
    from keyring.backends import chainer

    backend = keyring.get_keyring()
    reason = _refusal(backend)
    if reason is not None or not isinstance(backend, chainer.ChainerBackend):
        return backend, reason
    # The chainer would ask every member in turn, a locked one included: pick one ourselves.
    reasons = []
    for member in backend.backends:
        why = _refusal(member)
        if why is None:
            return member, None
        reasons.append(why)
    return backend, "; ".join(reasons) or "no keyring backend is available"


def _probe() -> KeyringProbe:
    backend, reason = _choose_backend()
    if reason is not None:
        return KeyringProbe(False, reason, backend)
    if keyring_hung(_backend_name(backend)):
        return KeyringProbe(False, "the keyring stopped answering earlier in this process")
    backend.get_password(SERVICE, PROBE_USERNAME)
    return KeyringProbe(True, "", backend)


def probe_keyring(timeout: float = PROBE_TIMEOUT) -> KeyringProbe:
    """Can the OS keyring hold the key? Answers within ``timeout`` seconds, never prompts."""
    if keyring_hung(_PROBE):
        return KeyringProbe(False, "the keyring did not answer a probe earlier in this process")
    try:
        return _call_with_timeout(_probe, timeout, "keyring probe")
    except TimeoutError:
        _mark_hung(_PROBE)  # its thread is still waiting: do not leave another
        return KeyringProbe(False, f"the keyring did not answer within {timeout:g} s")
    except Exception as exc:
        return KeyringProbe(False, f"the keyring failed: {type(exc).__name__}")
