"""Another kernel of the same user, as the tests see it: a process running
``tests/support/session_worker.py`` on a shared data dir, reporting each state change as a JSON
line on its stdout."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

WORKER = Path(__file__).parent / "session_worker.py"


class SessionProcess:
    """Start the worker on ``data_dir``; ``wait_for`` a status it reports; ``stop`` it."""

    def __init__(
        self, api_url: str, public_token: str, data_dir: Path, vertical: str | None = None
    ) -> None:
        extra = ["180", vertical] if vertical is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), api_url, public_token, str(data_dir), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.seen: list[dict[str, Any]] = []  # every line read by wait_for, in order
        self.last: dict[str, Any] = {}
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))

    def wait_for(
        self, status: str, session_id: str | None = None, timeout: float = 20
    ) -> dict[str, Any]:
        """The first reported line with ``status`` (and ``session_id``), or AssertionError."""
        deadline = time.monotonic() + timeout
        while not (
            self.last.get("status") == status
            and (session_id is None or self.last.get("session_id") == session_id)
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the other process is at {self.last}, wanted {status}")
            try:
                self.last = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(self.last)
        return self.last

    def stop(self) -> None:
        """End it the way a kernel ends (stdin closed), then close its pipes."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(10)
        self.proc.stdout.close()
