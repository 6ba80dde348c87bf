"""Private-file plumbing for the token store: 0700 folders, atomic 0600 writes, a lock.

Failures surface as ``OSError`` / ``TimeoutError``; the store turns them into one-line errors.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
LOCK_TIMEOUT = 10.0
TEMP_SUFFIX = ".tmp"


def short_path(path: Path) -> str:
    """The path with the home folder as ``~``: enough to find it, shorter in messages."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700 (whatever the umask); leave existing ones."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # another process won the race and sets its mode itself
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is masked by the umask only, never widened


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (a no-op where folders cannot be opened)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def stale_temps(path: Path) -> list[Path]:
    """Temp files an earlier (killed) writer of ``path`` left behind."""
    return list(path.parent.glob(f"{path.name}.*{TEMP_SUFFIX}"))


def atomic_write(path: Path, data: bytes, *, mtime_ns: int | None = None) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, whole.

    Temp file in the same folder (0600 from the start), write, fsync, rename, fsync the folder.
    ``mtime_ns`` stamps the file before it becomes visible (see the store's ``signature``).
    """
    tmp = temp_name(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, PRIVATE_FILE)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, PRIVATE_FILE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An exclusive lock between processes (and threads), held for the ``with`` block."""
    import filelock

    lock = filelock.FileLock(str(path), timeout=timeout, mode=PRIVATE_FILE)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise TimeoutError(f"timed out after {timeout:g} s waiting for the lock {path}") from None
    try:
        yield
    finally:
        lock.release()
