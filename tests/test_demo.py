"""`stytch-jupyter demo` (the README's first command) serves JupyterLab on the quickstart."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

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

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert url_found.wait(90), "JupyterLab never printed its URL:\n" + "".join(lines[-20:])
        output = "".join(lines)
        url = re.search(rf"(http://127\.0\.0\.1:{port}/lab/tree/(\S+)\?token=\S+)", output)
        assert url is not None and url.group(2) == "quickstart.ipynb"
        assert httpx.get(url.group(1), timeout=30).status_code == 200
        emulator = re.search(r"Stytch emulator: (http://127\.0\.0\.1:\d+)", output)
        assert emulator is not None
        assert httpx.get(f"{emulator.group(1)}/emulator/v1/outbox").json() == {"messages": []}
        # The banner says where the mailbox is, and that address is the emulator's mailbox.
        mailbox = re.search(r"^Mailbox: +(http://127\.0\.0\.1:\d+/) ", output, re.MULTILINE)
        assert mailbox is not None and mailbox.group(1) == emulator.group(1) + "/"
        page = httpx.get(mailbox.group(1), timeout=30)
        assert page.status_code == 200 and page.headers["x-stytch-emulator-mailbox"] == "/"
        assert (tmp_path / "work" / "quickstart.ipynb").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the demo's emulator and JupyterLab are gone
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=1)
        except httpx.TransportError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("JupyterLab still serving after the demo stopped")


REPO = Path(__file__).resolve().parent.parent


def _run(command: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.kernel
def test_the_wheel_runs_the_demo_from_a_fresh_venv(tmp_path: Path) -> None:
    """Built, installed in a fresh venv (the normal index, through pip's cache), run elsewhere."""
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("stytch_jupyter-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "stytch_jupyter/notebooks/quickstart.ipynb",
        "stytch_jupyter/ipython/widget.js",
        "stytch_jupyter/ipython/widget.css",
    ):
        assert shipped in names, shipped

    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path).returncode == 0
    pip, cli = (
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"],
        venv / "bin" / "stytch-jupyter",
    )
    installed = _run([*pip, str(wheel)], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    # Without the extra: help works, and the demo itself is a one-line hint.
    for name in ("demo", "emulator"):
        helped = _run([str(cli), name, "--help"], cwd=tmp_path)
        assert helped.returncode == 0 and helped.stdout.startswith(f"usage: stytch-jupyter {name}")
    bare = _run([str(cli), "demo", "--execute"], cwd=tmp_path)
    assert bare.returncode == 1 and "Traceback" not in bare.stderr
    assert bare.stderr.count("\n") == 1 and "pip install 'stytch-jupyter[demo]'" in bare.stderr

    extra = _run([*pip, f"{wheel}[demo]"], cwd=tmp_path)
    assert extra.returncode == 0, extra.stderr[-2000:]
    # Run from a folder with no notebooks in it: they must come from the installed package.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STYTCH_", "VIRTUAL_ENV"))}
    demo = subprocess.run(
        [str(cli), "demo", "--execute", "--output", str(elsewhere / "work")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output
    for notebook in ("quickstart", "configuration", "heartbeat-and-long-cells"):
        assert re.search(rf"^  {notebook}\.ipynb: \d+ code cells in [\d.]+s: ok$", output, re.M)
    assert "WARNING" not in output and "Traceback" not in output
    assert "signed in as ada@example.com" in output
    assert len(output.splitlines()) <= 30, output  # a story, not a transcript


def test_the_story_is_what_cells_said_in_sentences() -> None:
    from stytch_jupyter.demo import summary

    def printed(text: str) -> dict[str, object]:
        return {"outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}

    listing = "Stytch(Configurable) options\n--------\nStytch.timeout=<Float>\n    Current: 10.0\n"
    cells = [printed(listing), printed("timeout = 10.0\n"), printed("  a row\n")]
    notebook = SimpleNamespace(cells=cells)  # as nbformat's NotebookNode reads
    # A %config listing tells nothing that happened; a table's rows are not sentences.
    assert summary(notebook) == ["timeout = 10.0"]
