"""`stytch-jupyter demo` (the README's first command) serves JupyterLab on the quickstart."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.kernel
def test_demo_serves_jupyterlab_on_the_quickstart_with_the_emulator(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stytch_jupyter.cli",
            "demo",
            "--port",
            str(port),
            "--output",
            str(tmp_path / "work"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    url_found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if re.search(rf"http://127\.0\.0\.1:{port}/lab/tree/\S+\?token=", line):
                url_found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert url_found.wait(90), "JupyterLab never printed its URL:\n" + "".join(lines[-20:])
        output = "".join(lines)
        url = re.search(rf"(http://127\.0\.0\.1:{port}/lab/tree/(\S+)\?token=\S+)", output)
        assert url is not None and url.group(2) == "quickstart.ipynb"
        assert httpx.get(url.group(1), timeout=30).status_code == 200
        emulator = re.search(r"Stytch emulator: (http://127\.0\.0\.1:\d+)", output)
        assert emulator is not None
        assert httpx.get(f"{emulator.group(1)}/emulator/v1/outbox").json() == {"messages": []}
        assert (tmp_path / "work" / "quickstart.ipynb").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the demo's emulator and JupyterLab are gone
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=1)
        except httpx.TransportError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("JupyterLab still serving after the demo stopped")
