"""``Lab``: one browser page on a JupyterLab server, with what a notebook scenario needs.

Cells are run the way a person does (click the cell, Ctrl+Enter) or with Lab's own commands
(Run All); the state a person sees (prompts, outputs, widgets) is read from the page, and what a
person cannot see without effort (execution counts, output JSON, dirty flag) from Lab's document
model through ``window.jupyterapp`` (the server runs with ``expose_app_in_browser``, as JupyterLab's
own Galata tests do). Every wait is on a condition with a deadline; none is a fixed sleep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import nbformat
from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from .jupyterlab import JupyterLabServer, poll_until

# Milliseconds, as Playwright counts. Generous: a loaded 2-core machine, and Lab's first load.
DEFAULT_TIMEOUT_MS = 60_000

_CURRENT = "window.jupyterapp.shell.currentWidget"

# True once the current notebook's kernel is connected and idle.
_KERNEL_IDLE_JS = f"""() => {{
    const w = window.jupyterapp && {_CURRENT};
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}}"""


class LabError(AssertionError):
    """A notebook did not do what the scenario expected (an error output, a missing cell...)."""


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120] or "lab"


class Lab:
    """A Playwright ``Page`` showing JupyterLab, one notebook at a time.

    ``name`` prefixes this page's artifacts (screenshots, browser console log).
    """

    def __init__(
        self,
        page: Page,
        server: JupyterLabServer,
        artifacts_dir: Path,
        *,
        name: str = "lab",
        timeout_ms: float = DEFAULT_TIMEOUT_MS,
    ) -> None:
        self.page = page
        self.server = server
        self.artifacts_dir = Path(artifacts_dir)
        self.name = _safe_name(name)
        self.timeout_ms = timeout_ms
        self.notebook_path: str | None = None
        self.opened: list[str] = []
        self._workspace = f"{self.name}-{id(self):x}"
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.console_log_path = self.artifacts_dir / f"{self.name}-console.log"
        self._console = self.console_log_path.open("a", encoding="utf-8")
        page.set_default_timeout(timeout_ms)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self._write_console(f"[pageerror] {error}"))

    # -- notebooks -------------------------------------------------------------------------------

    def write_notebook(self, path: str, cells: Sequence[str]) -> Path:
        """Write a notebook of code cells (their sources) under the server's root dir."""
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        file = self.server.root_dir / path
        file.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, file)
        return file

    def open_notebook(self, path: str, cells: Sequence[str] | None = None) -> Path:
        """Open ``path`` (relative to the root dir; written first when ``cells`` are given) as the
        only tab of a fresh workspace, and wait until its kernel is connected and idle."""
        if cells is not None:
            self.write_notebook(path, cells)
        file = self.server.root_dir / path
        if not file.exists():
            raise LabError(f"no notebook at {file}")
        # A workspace of our own, reset: no tab from an earlier test is restored beside it.
        tree = quote(path)
        self.page.goto(self.server.url(f"/lab/workspaces/{self._workspace}/tree/{tree}?reset"))
        self.notebook_path = path
        if path not in self.opened:
            self.opened.append(path)
        self.page.wait_for_function(
            f"() => !!window.jupyterapp && !!{_CURRENT} && {_CURRENT}.context"
            f" && {_CURRENT}.context.path === {json.dumps(path)}"
        )
        self.wait_for_kernel_idle()
        expect(self.cells()).to_have_count(len(cells) if cells is not None else self.cell_count())
        return file

    @property
    def file(self) -> Path:
        if self.notebook_path is None:
            raise LabError("no notebook is open")
        return self.server.root_dir / self.notebook_path

    # -- locators --------------------------------------------------------------------------------

    @property
    def notebook(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:visible .jp-Notebook")

    def cells(self) -> Locator:
        return self.notebook.locator(".jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells().nth(index)

    def prompt(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-InputPrompt")

    def output(self, index: int) -> Locator:
        """The cell's output area: its text includes rendered widgets."""
        return self.cell(index).locator(".jp-Cell-outputArea")

    def cell_count(self) -> int:
        count: int = self._eval(f"() => {_CURRENT}.content.widgets.length")
        return count

    # -- running cells ---------------------------------------------------------------------------

    def run_cell(self, index: int, *, wait: bool = True, check: bool = True) -> None:
        """Select cell ``index`` and press Ctrl+Enter (run, stay on the cell).

        ``wait``: until the kernel has replied for this cell; ``check``: then fail on an error
        output. With ``wait=False`` it returns once the cell is queued or running.
        """
        self._clear_execution_count(index)
        self.prompt(index).click()
        self.page.keyboard.press("Control+Enter")
        if wait:
            self.wait_for_cell_done(index, check=check)
        else:
            self.wait_for_cell_started(index)

    def run_all(self, *, wait: bool = True, check: bool = True) -> None:
        """Lab's Run > Run All Cells; with ``wait``, until every code cell has replied."""
        count = self.cell_count()
        for index in range(count):
            self._clear_execution_count(index)
        self._eval("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        if wait:
            for index in range(count):
                self.wait_for_cell_done(index, check=check)

    def run_cell_source(self, source: str, *, wait: bool = True, check: bool = True) -> int:
        """Append a code cell with ``source`` at the end, run it, and return its index."""
        index = self.cell_count()
        self._eval(
            f"""(source) => {{
                const nb = {_CURRENT}.content;
                nb.model.sharedModel.insertCell(nb.model.cells.length,
                    {{cell_type: 'code', source: source}});
            }}""",
            source,
        )
        expect(self.cells()).to_have_count(index + 1)
        self.run_cell(index, wait=wait, check=check)
        return index

    def execution_state(self, index: int) -> dict[str, Any]:
        """``{"count": int | None, "state": "idle" | "running"}`` from Lab's cell model."""
        state: dict[str, Any] = self._eval(
            f"""(i) => {{
                const m = {_CURRENT}.content.widgets[i].model;
                return {{count: m.executionCount ?? null, state: m.executionState ?? null}};
            }}""",
            index,
        )
        return state

    def is_cell_running(self, index: int) -> bool:
        """True while the cell shows ``[*]`` (queued or running) in the page."""
        return self.prompt(index).inner_text().strip() == "[*]:"

    def wait_for_cell_started(self, index: int, timeout_ms: float | None = None) -> None:
        expect(self.prompt(index)).to_have_text("[*]:", timeout=self._ms(timeout_ms))

    def wait_for_cell_done(
        self, index: int, timeout_ms: float | None = None, *, check: bool = True
    ) -> None:
        """Until the kernel's reply has set the cell's execution count (cleared when run)."""
        self.page.wait_for_function(
            f"""(i) => {{
                const w = {_CURRENT}.content.widgets[i];
                if (!w) return false;
                return w.model.type !== 'code' || w.model.executionCount !== null;
            }}""",
            arg=index,
            timeout=self._ms(timeout_ms),
        )
        expect(self.prompt(index)).to_have_text(re.compile(r"^\[\d+\]:$"))
        if check:
            errors = [o for o in self.outputs(index) if o.get("output_type") == "error"]
            if errors:
                first = errors[0]
                raise LabError(
                    f"cell {index} raised {first.get('ename')}: {str(first.get('evalue'))[:200]}"
                )

    def outputs(self, index: int) -> list[dict[str, Any]]:
        """The cell's outputs as nbformat JSON (what a save would write)."""
        outputs: list[dict[str, Any]] = self._eval(
            f"(i) => {_CURRENT}.content.widgets[i].model.outputs.toJSON()", index
        )
        return outputs

    def output_text(self, index: int) -> str:
        return self.output(index).inner_text()

    def wait_for_output_text(
        self, index: int, text: str | re.Pattern[str], timeout_ms: float | None = None
    ) -> None:
        """Until the rendered output of cell ``index`` (widgets included) contains ``text``."""
        expect(self.output(index)).to_contain_text(text, timeout=self._ms(timeout_ms))

    # -- kernel ----------------------------------------------------------------------------------

    def wait_for_kernel_idle(self, timeout_ms: float | None = None) -> None:
        self.page.wait_for_function(_KERNEL_IDLE_JS, timeout=self._ms(timeout_ms))
        indicator = self.page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator")
        expect(indicator).to_have_attribute("data-status", "idle", timeout=self._ms(timeout_ms))

    def restart_kernel(self, timeout_ms: float | None = None) -> None:
        """Restart the notebook's kernel (no confirmation dialog) and wait until it is idle."""
        self._eval(f"() => {_CURRENT}.sessionContext.restartKernel()")
        self.wait_for_kernel_idle(timeout_ms)

    # -- saving and artifacts --------------------------------------------------------------------

    def save(self, timeout_ms: float | None = None) -> Path:
        """Ctrl+S, then wait until the file on disk has changed and Lab reports it clean."""
        file = self.file
        before = file.stat().st_mtime_ns if file.exists() else -1
        # Focus the notebook (not a widget's input) so Lab, not the browser, gets the shortcut.
        self.prompt(0).click()
        self.page.keyboard.press("Control+s")
        poll_until(
            lambda: file.exists() and file.stat().st_mtime_ns != before,
            timeout=self._ms(timeout_ms) / 1000,
            message=f"{self.notebook_path} was not saved",
        )
        self.page.wait_for_function(
            f"() => !{_CURRENT}.context.model.dirty", timeout=self._ms(timeout_ms)
        )
        return file

    def screenshot(self, name: str) -> Path:
        path = self.artifacts_dir / f"{self.name}-{_safe_name(name)}.png"
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        """Shut down the kernels of the notebooks this page opened, and close the page."""
        try:
            if self.opened and self.server.running:
                self.server.shutdown_sessions(self.opened)
        finally:
            if not self.page.is_closed():
                self.page.close()
            self._console.close()

    # -- internals -------------------------------------------------------------------------------

    def _ms(self, timeout_ms: float | None) -> float:
        return self.timeout_ms if timeout_ms is None else timeout_ms

    def _eval(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def _clear_execution_count(self, index: int) -> None:
        # A fresh count can only come from the kernel's reply: clearing it first makes "done"
        # unambiguous, even for a cell too fast to be seen as [*] or after a restart.
        self._eval(
            f"""(i) => {{
                const w = {_CURRENT}.content.widgets[i];
                if (!w) throw new Error('no cell ' + i);
                if (w.model.type === 'code') w.model.executionCount = null;
            }}""",
            index,
        )

    def _on_console(self, message: ConsoleMessage) -> None:
        self._write_console(f"[{message.type}] {message.text}")

    def _write_console(self, line: str) -> None:
        if not self._console.closed:
            self._console.write(line + "\n")
            self._console.flush()


class LabFactory(Protocol):
    def __call__(
        self, server: JupyterLabServer | None = None, *, name: str | None = None
    ) -> Lab: ...
