"""The same session widget under Notebook 7 (``jupyter notebook``), in Debian's Chromium."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, expect

from stytch_jupyter.emulator import Emulator

from .jupyterlab import JupyterLabServer

pytestmark = pytest.mark.browser

UI_TIMEOUT_MS = 60_000


class NotebookServer(JupyterLabServer):
    """The harness's isolated server, started as Notebook 7 instead of JupyterLab."""

    def command(self) -> list[str]:
        lab = super().command()
        command = [sys.executable, "-m", "jupyter", "notebook"]
        for argument in lab[4:]:
            command.append(argument.replace("--LabApp.", "--JupyterNotebookApp."))
        return [
            a
            for a in command
            if "collaborative" not in a and "news_url" not in a and "check_for_updates" not in a
        ]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def test_the_widget_renders_and_signs_in_under_notebook_7(
    browser: Browser, emulator: Emulator, tmp_path: Path, artifacts_dir: Path
) -> None:
    server = NotebookServer(
        tmp_path,
        log_path=artifacts_dir / "server-notebook7.log",
        env={
            "STYTCH_API_URL": emulator.api_url,
            "STYTCH_PUBLIC_TOKEN": emulator.public_token,
            "STYTCH_JUPYTER_TOKEN_STORE": "file",
        },
    )
    with server:
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.cells = [nbformat.v4.new_code_cell("%load_ext stytch_jupyter\nstytch.widget()")]
        nbformat.write(notebook, server.root_dir / "nb7.ipynb")
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            page.goto(server.url("/notebooks/nb7.ipynb"))
            # Notebook 7's own page (not JupyterLab's), its kernel up.
            expect(
                page.locator("#jp-NotebookLogo, .jp-NotebookKernelStatus, #jp-title").first
            ).to_be_visible()
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel; return !!k && k.status === 'idle'; }"
            )
            assert "/notebooks/" in page.url
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            widget = page.locator(".stytch-session-widget")
            expect(widget).to_have_class(re.compile(r"\bstytch-signed-out\b"))
            email = "nb7@example.com"
            field = widget.locator("input.stytch-email")
            field.fill(email)
            field.press("Enter")
            code_input = widget.locator("input.stytch-code")
            expect(code_input).to_be_visible()
            _method_id, code = emulator.last_otp(email)
            code_input.press_sequentially(code, delay=0)
            code_input.press("Enter")
            expect(widget.locator(".stytch-status")).to_have_text(f"Signed in as {email}")
            expect(widget).to_have_class(re.compile(r"\bstytch-signed-in\b"))
            page.screenshot(path=str(artifacts_dir / "notebook7-signed-in.png"))
        finally:
            context.close()
