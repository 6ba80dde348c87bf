"""Where a project's session blobs live, and whether any is there: a folder listing, no key
and no decryption. Apart from ``store.py`` (which imports the key providers) because
``%load_ext`` asks it at once, to say "checking" rather than "signed out"."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

KEY_FILE = "key"  # the 0600 key file in the data dir (token_store='file', or auto's fallback)


def asks_keyring(token_store: str, data_dir: Path) -> bool:
    """Whether opening the store probes the OS keyring: ``keyring``, or ``auto`` while no key
    file from an earlier fallback exists (the choice ``store.open_token_store`` makes)."""
    if token_store == "keyring":
        return True
    return token_store == "auto" and not (Path(data_dir) / KEY_FILE).exists()


def store_path(data_dir: Path, public_token: str) -> Path:
    """The project's base name, ``sessions/<hash>.bin`` (the token is not in the file name).

    Blobs live beside it, one per key (``<hash>.<key id>.bin``); a blob at the base name itself
    is from before keys had files of their own, and is moved to its key's file when read.
    """
    digest = hashlib.sha256(public_token.encode("utf-8")).hexdigest()[:16]
    return Path(data_dir) / "sessions" / f"{digest}.bin"


def stored_blobs(base: Path) -> list[Path]:
    """Every blob of the project, whatever its key (a folder listing: no key, no decryption).

    ``OSError`` for an unusable folder; a missing one holds nothing.
    """
    try:
        names = os.listdir(base.parent)
    except FileNotFoundError:
        return []
    prefix, suffix = base.stem + ".", base.suffix
    return [
        base.parent / name
        for name in names
        if name == base.name or (name.startswith(prefix) and name.endswith(suffix))
    ]


def may_hold_session(data_dir: Path, public_token: str) -> bool:
    """Cheap (one folder listing): whether any process left a session for this project."""
    try:
        return bool(stored_blobs(store_path(Path(data_dir).expanduser(), public_token)))
    except OSError:
        return False
