"""Where the token store's 256-bit key lives: the OS keyring, or a 0600 key file.

Choosing the keyring never prompts: ``probe_keyring`` answers within a deadline and refuses,
before touching them, backends that would prompt or hang on a dialog (the list is in
``keyring_choice``: keyring's ``fail``/``null`` backends, an empty chainer, D-Bus keyrings outside
a desktop session, a locked Secret Service collection, a closed KWallet wallet). Whatever backend
keyring itself resolves to otherwise is the user's choice and is used, including keyrings.alt's
plaintext file (mode 0600, no weaker than our own key file).

Every keyring call (the probe, reading the key, storing a new one) runs in the keyring helper
process (``keyring_process``, ``keyring_child``) with a deadline: a keyring that stops answering
is killed with the helper, and not asked again in this process (``keyring_hung``).
``close_keyring_helper()`` ends the helper (``StoreSync.close`` does, so ``%unload_ext`` leaves
no process and no thread behind). The helper resolves the backend as keyring would here (same
interpreter, same environment). A backend object this process already holds
(``keyring.set_keyring``, or keyring already resolved in this process) may carry state a name
cannot carry to another process, so it is asked in this process, on a daemon thread with the
same deadline: a call to it that never returns leaves that thread behind (a thread cannot be
stopped). So is every backend on platforms without ``select`` on pipes (Windows).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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
from .keyring_choice import backend_name, choose_backend
from .keyring_process import SUPPORTED as HELPER_SUPPORTED
from .keyring_process import HelperUnavailable, KeyringProcess

logger = logging.getLogger(__name__)

KEY_BYTES = 32  # AES-256
SERVICE = "stytch-jupyter"
PROBE_USERNAME = "probe"
PROBE_TIMEOUT = 2.0
KEYRING_CALL_TIMEOUT = 10.0

T = TypeVar("T")


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
    """Run ``fn`` on a daemon thread; give up (leaving it behind) after ``timeout`` seconds.

    Only for a backend object this process holds (see the module's docstring)."""
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


# ---- the keyring helper process -----------------------------------------------------------------

_helper: KeyringProcess | None = None
_helper_lock = threading.Lock()
_helper_choice: str | None = None  # the backend the helper's last probe chose


def keyring_helper() -> KeyringProcess:
    """This process's keyring helper (one, reused; started at its first call)."""
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = KeyringProcess()
        return _helper


def close_keyring_helper() -> None:
    """Kill and reap the keyring helper process, if one runs; a later call starts another."""
    with _helper_lock:
        helper = _helper
    if helper is not None:
        helper.close()


def process_keyring() -> Any:
    """The keyring backend object this process already holds, or None.

    keyring has no public way to ask whether a backend was set (``keyring.set_keyring``) or
    resolved here already without resolving one: its module global is read, and keyring is
    not imported for it.
    """
    core = sys.modules.get("keyring.core")
    return None if core is None else core._keyring_backend


_helper_unavailable = False  # it could not start here: keyring is asked in this process


def _use_helper() -> bool:
    return HELPER_SUPPORTED and not _helper_unavailable and process_keyring() is None


class KeyringCallError(Exception):
    """A keyring call raised in the helper process; only the exception's type travels back."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


def _answer_error(answer: dict[str, Any]) -> KeyringCallError | None:
    """The failure an answer reports, or None if it succeeded."""
    if answer["ok"] is True:
        return None
    error = answer.get("error")
    if not isinstance(error, str) or not error.isidentifier() or len(error) > 100:
        raise TokenStoreError("the keyring helper process sent a garbled reply")
    return KeyringCallError(error)


class _Keyring(Protocol):
    """A keyring backend, asked with a deadline: in the helper process or in this one."""

    @property
    def name(self) -> str: ...

    def get(self, service: str, username: str, timeout: float) -> str | None: ...

    def set(self, service: str, username: str, password: str, timeout: float) -> None: ...


class HelperKeyring:
    """The backend the helper process chose (named ``name``), asked through that process."""

    def __init__(self, process: KeyringProcess, name: str) -> None:
        self.process = process
        self.name = name

    def __repr__(self) -> str:
        return f"<HelperKeyring {self.name}>"

    def _refuse_if_hung(self) -> None:
        if keyring_hung(self.name):
            raise _hung_error(self.name)

    def _call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.name != _DEFAULT:
            request["backend"] = self.name
        answer = self.process.call(request, timeout, before=self._refuse_if_hung)
        error = _answer_error(answer)
        if error is not None:
            raise error
        return answer

    def get(self, service: str, username: str, timeout: float) -> str | None:
        answer = self._call({"op": "get", "service": service, "username": username}, timeout)
        value = answer.get("value")
        if value is not None and not isinstance(value, str):
            raise TokenStoreError("the keyring helper process sent a garbled reply")
        return value

    def set(self, service: str, username: str, password: str, timeout: float) -> None:
        request = {"op": "set", "service": service, "username": username, "password": password}
        self._call(request, timeout)


class _InProcessKeyring:
    """A backend object this process holds, asked on a daemon thread with a deadline."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = backend_name(backend)

    def get(self, service: str, username: str, timeout: float) -> str | None:
        get = self.backend.get_password
        value = _call_with_timeout(lambda: get(service, username), timeout, "keyring read")
        return cast("str | None", value)

    def set(self, service: str, username: str, password: str, timeout: float) -> None:
        put = self.backend.set_password
        _call_with_timeout(lambda: put(service, username, password), timeout, "keyring store")


def _hung_error(name: str) -> TokenStoreError:
    return TokenStoreError(
        f"the OS keyring ({name}) stopped answering earlier in this process; "
        "not asking it again (restart the kernel, or set Stytch.token_store = 'file')"
    )


# Keyring backends that stopped answering once in this process: asking again would cost the
# deadline again (and, in this process, leave another thread behind).
_hung_backends: set[str] = set()
_PROBE = "<probe>"
_DEFAULT = "<keyring's default backend>"
_hung_lock = threading.Lock()


def _mark_hung(name: str) -> None:
    with _hung_lock:
        _hung_backends.add(name)


def keyring_hung(name: str) -> bool:
    """Whether the keyring backend ``name`` stopped answering earlier in this process."""
    with _hung_lock:
        return name in _hung_backends


def keyring_username(data_dir: Path) -> str:
    """One key per data dir: its creation is then serialised by a lock inside that dir."""
    digest = hashlib.sha256(str(Path(data_dir).expanduser().absolute()).encode()).hexdigest()
    return f"token-store-key-{digest[:16]}"


class KeyringKeyProvider(_CachedKey):
    """The key in the OS keyring, base64 under ``(service, username)``.

    ``backend`` is the one ``probe_keyring`` vetted: a ``HelperKeyring``, or a backend object
    of this process. None: whatever keyring resolves to (in the helper process, unless this
    process holds a backend already). Every keyring call has a deadline, so a keyring that
    stops answering later raises ``TokenStoreError`` instead of hanging.
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

    def _keyring(self) -> _Keyring:
        backend = self.backend
        if isinstance(backend, HelperKeyring):
            return backend
        if backend is not None:
            return _InProcessKeyring(backend)
        if _use_helper():
            return HelperKeyring(keyring_helper(), _DEFAULT)
        import keyring

        return _InProcessKeyring(keyring.get_keyring())

    @property
    def description(self) -> str:
        backend = self.backend
        if isinstance(backend, HelperKeyring):
            name = backend.name
        else:
            name = backend_name(backend) if backend is not None else "default backend"
        return f"key in the OS keyring ({name}, service {self.service!r})"

    def _call(self, what: str, fn: Callable[[_Keyring], T]) -> T:
        backend = self._keyring()
        name = backend.name
        if keyring_hung(name):
            raise _hung_error(name)
        try:
            return fn(backend)
        except TimeoutError:
            _mark_hung(name)
            raise TokenStoreError(
                f"the OS keyring: keyring {what} did not answer within {self.timeout:g} s"
            ) from None
        except TokenStoreError as exc:
            # Afresh, without the frames below (a helper call's locals hold the key).
            raise TokenStoreError(str(exc)) from None
        except KeyringCallError as exc:
            raise TokenStoreError(
                f"the OS keyring failed to {what} the token-store key: {exc.type_name}"
            ) from None
        except Exception as exc:
            raise TokenStoreError(
                f"the OS keyring failed to {what} the token-store key: {type(exc).__name__}"
            ) from None

    def _get(self) -> str | None:
        return self._call("read", lambda kr: kr.get(self.service, self.username, self.timeout))

    def _read(self) -> bytes | None:
        text = self._get()
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
        self._call("store", lambda kr: kr.set(self.service, self.username, encoded, self.timeout))
        # A backend that silently drops the value would lose every session at the next start.
        if self._get() != encoded:
            raise TokenStoreError("the OS keyring did not keep the token-store key")
        return key


@dataclass(frozen=True)
class KeyringProbe:
    """Whether the OS keyring can hold the key without prompting; ``reason`` when not.

    ``backend`` (when usable) is what to hand ``KeyringKeyProvider``."""

    usable: bool
    reason: str = ""
    backend: Any = None

    def __bool__(self) -> bool:
        return self.usable


def _probe() -> KeyringProbe:
    """The probe in this process, for a backend object it holds."""
    import keyring

    backend, reason = choose_backend(keyring.get_keyring())
    if reason is not None:
        return KeyringProbe(False, reason, backend)
    if keyring_hung(backend_name(backend)):
        return KeyringProbe(False, "the keyring stopped answering earlier in this process")
    backend.get_password(SERVICE, PROBE_USERNAME)
    return KeyringProbe(True, "", backend)


def _refuse_if_probe_hung() -> None:
    if keyring_hung(_PROBE):
        raise TokenStoreError("the keyring did not answer a probe earlier in this process")


def _probe_in_helper(timeout: float) -> KeyringProbe:
    global _helper_choice
    if _helper_choice is not None and keyring_hung(_helper_choice):
        # The backend the helper chose before hung: nothing to start a helper for.
        return KeyringProbe(False, "the keyring stopped answering earlier in this process")
    helper = keyring_helper()
    with _hung_lock:
        skip = sorted(_hung_backends - {_PROBE, _DEFAULT})
    request = {"op": "probe", "service": SERVICE, "username": PROBE_USERNAME, "skip": skip}
    try:
        answer = helper.call(request, timeout, before=_refuse_if_probe_hung)
        error = _answer_error(answer)
    except HelperUnavailable:
        raise
    except TimeoutError:
        _mark_hung(_PROBE)
        return KeyringProbe(False, f"the keyring did not answer within {timeout:g} s")
    except TokenStoreError as exc:
        return KeyringProbe(False, str(exc))
    if error is not None:
        return KeyringProbe(False, f"the keyring failed: {error.type_name}")
    usable, reason, name = answer.get("usable"), answer.get("reason"), answer.get("backend")
    if not (isinstance(usable, bool) and isinstance(reason, str) and isinstance(name, str)):
        return KeyringProbe(False, "the keyring helper process sent a garbled reply")
    if not usable:
        return KeyringProbe(False, reason)
    _helper_choice = name
    if keyring_hung(name):
        return KeyringProbe(False, "the keyring stopped answering earlier in this process")
    return KeyringProbe(True, "", HelperKeyring(helper, name))


def probe_keyring(timeout: float = PROBE_TIMEOUT) -> KeyringProbe:
    """Can the OS keyring hold the key? Answers within ``timeout`` seconds, never prompts.

    (The helper process's start, when it is not running yet, is not counted in ``timeout``.)"""
    if keyring_hung(_PROBE):
        return KeyringProbe(False, "the keyring did not answer a probe earlier in this process")
    if _use_helper():
        try:
            return _probe_in_helper(timeout)
        except HelperUnavailable as exc:
            global _helper_unavailable
            _helper_unavailable = True
            logger.warning("stytch-jupyter: %s; asking the keyring in this process", exc)
    try:
        return _call_with_timeout(_probe, timeout, "keyring probe")
    except TimeoutError:
        _mark_hung(_PROBE)  # its thread is still waiting: do not leave another
        return KeyringProbe(False, f"the keyring did not answer within {timeout:g} s")
    except Exception as exc:
        return KeyringProbe(False, f"the keyring failed: {type(exc).__name__}")
