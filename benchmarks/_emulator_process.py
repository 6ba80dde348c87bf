"""Run ``stytch-jupyter emulator --port 0`` in its own process, so its CPU is not ours."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def emulator_process() -> Iterator[str]:
    """Yields the api_url of an emulator running in a child process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "stytch_jupyter.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.search(r"api_url\s+(\S+)", line)
            if match:
                yield match.group(1)
                break
        else:
            raise RuntimeError("the emulator exited before printing its api_url")
    finally:
        proc.terminate()
        proc.wait(10)
