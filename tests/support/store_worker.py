"""A separate process that writes the token store, for tests/session/test_store.py.

    store_worker.py DATA_DIR PUBLIC_TOKEN MODE save TAG COUNT [--verify]
    store_worker.py DATA_DIR PUBLIC_TOKEN MODE loop TAG
    store_worker.py DATA_DIR PUBLIC_TOKEN MODE clear
    store_worker.py DATA_DIR PUBLIC_TOKEN MODE load
    store_worker.py DATA_DIR PUBLIC_TOKEN MODE serve

``save`` writes pair(TAG, 0) … pair(TAG, COUNT-1); with --verify it loads after every save and
exits 3 if the store reads as empty (another writer's pair is fine). ``loop`` saves forever (the
tests SIGKILL it). ``load`` prints the stored opaque token, or ``none``. MODE is a
``Stytch.token_store`` value; for ``keyring`` the test sets the backend with
PYTHON_KEYRING_BACKEND and XDG_DATA_HOME.

With ``--go PATH`` the worker prints ``ready`` once its store is open and waits for PATH to
exist before its first write, so several workers race for the very first key creation too.

``serve`` reads one command per line on stdin (``save TAG COUNT``, ``clear``, ``load``), opens
the store afresh for each, as a new kernel would, and answers one line (``ok``, or what
``load`` prints), so that a test asks one process many times without starting one each time.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

from stytch_jupyter.api.models import SessionTokens
from stytch_jupyter.config import Stytch
from stytch_jupyter.session.store import open_token_store


def pair(tag: str, index: int) -> SessionTokens:
    """Fixed width per tag, so every save of one tag has the same size."""
    return SessionTokens(opaque=f"opaque-{tag}-{index:06d}", jwt=f"hdr.{tag}-{index:06d}.sig")


def serve(config: Stytch) -> int:
    for line in sys.stdin:
        op, *rest = line.split()
        store = open_token_store(config)
        if op == "load":
            tokens = store.load()
            print("none" if tokens is None else tokens.opaque, flush=True)
            continue
        if op == "clear":
            store.clear()
        else:  # save TAG COUNT
            for index in range(int(rest[1])):
                store.save(pair(rest[0], index))
        print("ok", flush=True)
    return 0


def main(argv: list[str]) -> int:
    data_dir, public_token, mode, op, *rest = argv
    config = Stytch(public_token=public_token, data_dir=data_dir, token_store=mode)
    if op == "serve":
        return serve(config)
    store = open_token_store(config)
    if "--go" in rest:
        go = Path(rest[rest.index("--go") + 1])
        print("ready", flush=True)
        deadline = time.monotonic() + 60
        while not go.exists():
            if time.monotonic() > deadline:
                return 4
            time.sleep(0.001)
    if op == "clear":
        store.clear()
        return 0
    if op == "load":
        tokens = store.load()
        print("none" if tokens is None else tokens.opaque, flush=True)
        return 0
    tag = rest[0]
    if op == "loop":
        for index in itertools.count():
            store.save(pair(tag, index))
        return 0  # unreachable: the test kills us
    count, verify = int(rest[1]), "--verify" in rest
    for index in range(count):
        store.save(pair(tag, index))
        if verify and store.load() is None:
            print(f"store read as empty after save {index}", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
