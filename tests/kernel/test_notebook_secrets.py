"""No secret leaks out of a notebook run: every session token, session JWT, OTP code, magic-link
token, password and the project secret that crossed the wire to the emulator is absent from the
saved notebooks (outputs, widget state, metadata), IPython's history database (outputs logged
too), the kernels' stderr and DEBUG logs, the data folders, and this process's logs.

What to look for comes from two independent lists: the emulator's own (``GET
/emulator/v1/issued``, plus its project secret) and ``RecordingProxy``'s (tests/support/kernels.py),
which sits between the kernels and the emulator and keeps every credential on the wire. A
companion test plants a leak in a copy of the quickstart and checks the scan finds it, so a
clean scan means something.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import pytest

from stytch_jupyter.emulator import Emulator
from tests.support.kernels import (
    NOTEBOOKS,
    KernelHome,
    NotebookRun,
    run_notebooks,
    shared_notebook_run,
)
from tests.support.secret_scan import find_secrets, format_findings

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="session")
def notebook_run(tmp_path_factory: pytest.TempPathFactory) -> NotebookRun:
    return shared_notebook_run(tmp_path_factory)


def history_sources(history: Path) -> list[str]:
    connection = sqlite3.connect(f"{history.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT source_raw FROM history")]
    finally:
        connection.close()


def test_the_run_gives_the_scan_secrets_to_look_for(notebook_run: NotebookRun) -> None:
    for result in notebook_run.results.values():
        assert result.error is None, f"{result.name} failed:\n{result.error}"
    kinds = notebook_run.secret_kinds
    signed_in = len(notebook_run.results)  # every notebook signs in once, with an emailed code
    assert kinds.get("session_token", 0) >= signed_in, kinds
    assert kinds.get("session_jwt", 0) >= signed_in, kinds
    assert kinds.get("code", 0) >= signed_in, kinds
    # The emulator's list and the wire agree: nothing it issued went around the proxy.
    on_the_wire = set(notebook_run.wire_secrets.values())
    missed = [label for label, value in notebook_run.issued.items() if value not in on_the_wire]
    assert not missed, f"issued by the emulator but never seen on the wire: {missed}"
    # At least a token, a JWT and a code per sign-in, and the project secret.
    assert len(notebook_run.issued) >= 3 * signed_in + 1, sorted(notebook_run.issued)


def test_the_places_scanned_hold_the_run(notebook_run: NotebookRun) -> None:
    """A scan of an empty history or a missing log would pass for the wrong reason."""
    home = notebook_run.home
    sources = "\n".join(history_sources(home.history))
    assert "stytch.otps.authenticate(code, method_id)" in sources
    for result in notebook_run.results.values():
        assert result.saved.is_file() and result.stderr.is_file()
    assert notebook_run.results["quickstart.ipynb"].widget_states(), "no widget state saved"
    kernel_logs = [path for path in home.logs() if path.name.startswith("kernel-")]
    assert len(kernel_logs) == len(notebook_run.results)
    logged = "".join(path.read_text() for path in kernel_logs)
    assert "stytch_jupyter" in logged and "httpx" in logged
    assert "HTTP Request" in notebook_run.test_process_log  # the proxy's own requests


def test_no_secret_in_notebooks_history_logs_or_data(notebook_run: NotebookRun) -> None:
    findings = find_secrets(
        notebook_run.secrets,
        files=notebook_run.kernel_files(),
        texts={"test process log": notebook_run.test_process_log},
    )
    assert not findings, f"{len(findings)} leak(s):\n{format_findings(findings)}"


LEAK = """\
print(f"the session token is {stytch.session_token.value}")
stytch.session_jwt.value"""


def test_the_scan_flags_a_token_a_cell_prints(emulator: Emulator, tmp_path: Path) -> None:
    source = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    signed_in = next(
        index
        for index, cell in enumerate(source.cells)
        if cell.cell_type == "code" and "stytch.otps.authenticate(" in cell.source
    )
    leaky_index = signed_in + 1
    source.cells.insert(leaky_index, nbformat.v4.new_code_cell(LEAK))
    leaky = tmp_path / "source" / "quickstart-leaky.ipynb"
    leaky.parent.mkdir()
    nbformat.write(source, leaky)

    run = run_notebooks([leaky], KernelHome(tmp_path / "home"), emulator)
    result = run.results[leaky.name]
    assert result.error is None, result.error

    findings = find_secrets(
        run.secrets,
        files=run.kernel_files(),
        texts={"test process log": run.test_process_log},
    )
    report = format_findings(findings)
    in_notebook = [f for f in findings if f.path == str(result.saved)]
    in_history = [f for f in findings if f.path == str(run.home.history)]
    assert any(f.secret.startswith("session_token") for f in in_notebook), report
    assert any(f.secret.startswith("session_jwt") for f in in_notebook), report
    # The JWT was the cell's result: IPython logged it to the history database too.
    assert any(f.secret.startswith("session_jwt") for f in in_history), report
    # Only the planted cell leaked: every finding in the notebook points into it.
    assert all(f"['cells'][{leaky_index}]" in f.location for f in in_notebook), report
    assert {f.path for f in findings} <= {str(result.saved), str(run.home.history)}, report
