"""Run ``stytch-jupyter emulator --port 0`` in its own process, so its CPU is not ours."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def emulator_process(*flags: str) -> Iterator[str]:
    """Yields the api_url of an emulator running in a child process (``flags``: e.g. --b2b)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "stytch_jupyter.emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.search(r"api_url\s+(\S+)", line)
            if match:
                # It prints every code and link it "sends": a pipe nobody reads fills up
                # (64 KiB, some 400 links) and then blocks the emulator mid-request.
                threading.Thread(target=proc.stdout.read, daemon=True).start()
                yield match.group(1)
                break
        else:
            raise RuntimeError("the emulator exited before printing its api_url")
    finally:
        proc.terminate()
        proc.wait(10)
