"""``stytch-jupyter demo``: the quickstart against a local emulator, in JupyterLab or headless.

The notebooks are copied to a work folder first, so running them never writes outputs
(or anything else) into the source tree.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST = "quickstart.ipynb"


def bundled_notebooks() -> Path:
    """The notebooks shipped in the wheel (``stytch_jupyter/notebooks``), else a clone's own."""
    package = Path(__file__).resolve().parent
    inside = package / "notebooks"
    return inside if inside.is_dir() else package.parent / "notebooks"


NOTEBOOKS = bundled_notebooks()
# Lines of the story a run tells; more would be a transcript, not a summary.
STORY_LINES = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--execute",
        action="store_true",
        help="run every notebook headless (nbclient) instead of opening JupyterLab",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="folder for the working copies and executed notebooks (default: a new temp dir)",
    )
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab's port (default 8888)")
    parser.add_argument(
        "--notebooks", type=Path, default=NOTEBOOKS, help="folder of notebooks to use"
    )


def demo_environment(api_url: str, public_token: str, data_dir: Path) -> dict[str, str]:
    """What kernels need to talk to the emulator, with a data dir of their own."""
    env = dict(os.environ)
    env.update(
        STYTCH_API_URL=api_url,
        STYTCH_PUBLIC_TOKEN=public_token,
        STYTCH_JUPYTER_DATA_DIR=str(data_dir),
        # The key stays in the demo's own folder, never in the user's real keyring.
        STYTCH_JUPYTER_TOKEN_STORE="file",
    )
    return env


def copy_notebooks(source: Path, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    copies = []
    # The quickstart first: it is the story; the others go deeper.
    for notebook in sorted(source.glob("*.ipynb"), key=lambda nb: (nb.name != FIRST, nb.name)):
        copies.append(Path(shutil.copy2(notebook, target / notebook.name)))
    if not copies:
        raise SystemExit(f"stytch-jupyter demo: no notebooks in {source}")
    return copies


def run(args: argparse.Namespace) -> int:
    from .emulator import Emulator

    work = args.output or Path(tempfile.mkdtemp(prefix="stytch-jupyter-demo-"))
    work = work.resolve()
    notebooks = copy_notebooks(args.notebooks, work)
    with Emulator() as emulator:
        env = demo_environment(emulator.api_url, emulator.public_token, work / ".stytch-data")
        print(f"Stytch emulator: {emulator.api_url}  (public token {emulator.public_token})")
        print(f"Mailbox:         {emulator.api_url}/  (the codes and links it sends)")
        print(f"Working copies:  {work}")
        sys.stdout.flush()
        if args.execute:
            return execute(notebooks, env)
        return lab(work, notebooks[0], env, args.port)


def execute(notebooks: list[Path], env: dict[str, str]) -> int:
    """Run each notebook in a fresh kernel; report per notebook, exit 1 if any failed."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    failed = 0
    saved = dict(os.environ)
    os.environ.update(env)  # kernels inherit the emulator settings
    try:
        for path in notebooks:
            notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
            client = NotebookClient(
                notebook,
                timeout=120,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
                # The kernel's start-up warnings (plain TCP on loopback) say nothing about the demo.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
            started = time.perf_counter()
            try:
                client.execute()
                verdict = "ok"
            except CellExecutionError as exc:
                failed += 1
                verdict = "FAILED: " + str(exc).strip().splitlines()[-1]
            finally:
                nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
            cells = sum(1 for cell in notebook.cells if cell.cell_type == "code")
            elapsed = time.perf_counter() - started
            print(f"  {path.name}: {cells} code cells in {elapsed:.1f}s: {verdict}")
            for line in summary(notebook)[:STORY_LINES]:
                print(f"      {line}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    print(f"Executed notebooks are in {notebooks[0].parent}")
    return 1 if failed else 0


# An option's line in a ``%config Stytch`` listing: ``Stytch.timeout=<Float>``.
_OPTION_LINE = re.compile(r"-*[\w.]+=<\w+>$")


def summary(notebook: object) -> list[str]:
    """What the cells said in words: the last line each one printed (stdout, not reprs).

    A repr's last row ("roles stytch_user") means nothing alone; a printed sentence does.
    """
    lines = []
    for cell in getattr(notebook, "cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stdout":
                continue
            text = output.get("text", "")
            if isinstance(text, list):
                text = "".join(text)
            lines_printed = text.splitlines()
            if any(_OPTION_LINE.match(line) for line in lines_printed):
                continue  # a %config listing: it says nothing that happened
            # Indented lines are rows of a listing (a table): not sentences.
            said = [line for line in lines_printed if line.strip() and line == line.lstrip()]
            if said:
                lines.append(said[-1][:100])
                break
    return lines


def lab(work: Path, first: Path, env: dict[str, str], port: int) -> int:
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={work}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--LabApp.default_url=/lab/tree/{first.name}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root; Jupyter refuses by default
    print("Starting JupyterLab: open the URL it prints below. Ctrl-C stops everything.")
    server = subprocess.Popen(command, env=env)
    # A plain kill of the demo must not leave JupyterLab running without its emulator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
