"""The notebooks in ``notebooks/`` run top to bottom in real kernels against the emulator, and
show what they say they show; ``stytch-jupyter demo --execute`` runs them all.

Every notebook is covered (a glob): a new one must at least run cleanly. The three known ones
also have their key lines checked. One execution of every notebook is shared with
``test_notebook_secrets.py`` (see ``support.kernels.shared_notebook_run``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.support.kernels import (
    WIDGET_VIEW,
    KernelHome,
    NotebookResult,
    NotebookRun,
    kernel_env,
    notebook_paths,
    shared_notebook_run,
    text_of,
)

PATHS = notebook_paths()
IDS = [path.stem for path in PATHS]


@pytest.fixture(scope="session")
def notebook_run(tmp_path_factory: pytest.TempPathFactory) -> NotebookRun:
    return shared_notebook_run(tmp_path_factory)


def result_for(run: NotebookRun, name: str) -> NotebookResult:
    result = run.results[name]
    assert result.error is None, f"{name} failed:\n{result.error}"
    return result


def widget_status_text(result: NotebookResult, source_start: str, exact: bool = False) -> str:
    """The saved value of the status line of the widget displayed by one cell."""
    outputs = result.outputs_of(source_start, exact=exact)
    views = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1, f"no widget view in the cell starting {source_start!r}"
    states = result.widget_states()
    root = states[views[0]["data"][WIDGET_VIEW]["model_id"]]
    # The one synced state the page renders (the status line's text is state["status"]).
    assert root["_model_module"] == "anywidget" and "stytch-status" in root["_esm"]
    return str(root["state"]["status"])


# ---- the committed notebooks (no kernel) -------------------------------------------------


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_committed_notebook_is_stripped(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
        assert not cell.metadata.get("execution"), f"{path.name}: a cell has timing metadata"
    assert "widgets" not in notebook.metadata, f"{path.name}: widget state is saved"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


# ---- every notebook, executed ------------------------------------------------------------


@pytest.mark.kernel
def test_every_notebook_was_run(notebook_run: NotebookRun) -> None:
    assert sorted(notebook_run.results) == sorted(path.name for path in PATHS)
    assert {"quickstart.ipynb", "configuration.ipynb", "heartbeat-and-long-cells.ipynb"} <= set(
        notebook_run.results
    )


@pytest.mark.kernel
@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_notebook_runs_cleanly(notebook_run: NotebookRun, path: Path) -> None:
    result = result_for(notebook_run, path.name)
    assert result.code_cells(), f"{path.name} has no code"
    for cell in result.code_cells():
        assert cell.execution_count is not None, f"not run: {cell.source[:60]!r}"
        for output in cell.outputs:
            assert output.output_type != "error", f"{output.ename}: {output.evalue}"
            if output.output_type == "stream":
                assert output.name == "stdout", f"stderr in {cell.source[:40]!r}: {output.text}"
    # The executed copy is outside the repo; the committed notebook is untouched.
    assert Path(__file__).resolve().parents[2] not in result.saved.resolve().parents
    assert all(not c.get("outputs") for c in nbformat.read(path, as_version=4).cells)


@pytest.mark.kernel
def test_quickstart(notebook_run: NotebookRun) -> None:
    result = result_for(notebook_run, "quickstart.ipynb")
    printed = result.stdout()
    expected = [
        "watching the session",
        "code sent to ada@example.com",
        "signed in as ada@example.com",
        "protected call: 200",
        "the backend saw our user: True",
        "session extended to 60 minutes",
        "signed out: True",
        "auth changes: signed in, signed out",
    ]
    for line in expected:
        assert line + "\n" in printed, f"missing {line!r} in:\n{printed}"
    # In that order: signed in before the protected call, signed out last.
    positions = [printed.index(line) for line in expected]
    assert positions == sorted(positions)
    # The observer saw the sign-in, the extension and the sign-out (heartbeats may add more).
    seen = re.search(r"session changes seen: (\d+), the last: signed out\n", printed)
    assert seen is not None and int(seen.group(1)) >= 3, printed

    signed_out = text_of(result.outputs_of("%load_ext stytch_jupyter"))
    assert signed_out.startswith("Stytch session: signed out")
    session = result.outputs_of("stytch.session", exact=True)
    assert text_of(session).startswith("Stytch session session-test-")
    assert "otp (ada@example.com)" in text_of(session)
    assert 'class="stytch-repr stytch-session"' in text_of(session, "text/html")
    user = result.outputs_of("stytch.user", exact=True)
    assert text_of(user).startswith("Stytch user ada@example.com")
    assert 'class="stytch-repr stytch-user"' in text_of(user, "text/html")
    protected = text_of(result.outputs_of("import httpx"))
    assert "'user_id': 'user-test-" in protected and "'session_id': 'session-test-" in protected

    # The widget's text at display time, and its saved state after the sign-out: no cell
    # touched the widget, it followed the session.
    widget = result.outputs_of("stytch.widget()", exact=True)
    assert text_of(widget).startswith("Stytch session: signed in as ada@example.com")
    assert widget_status_text(result, "stytch.widget()", exact=True).startswith("Signed out")


@pytest.mark.kernel
def test_configuration(notebook_run: NotebookRun) -> None:
    result = result_for(notebook_run, "configuration.ipynb")
    listing = text_of(result.outputs_of("%config Stytch", exact=True))
    for option in ("heartbeat_interval", "session_duration_minutes", "auto_extend", "token_store"):
        assert f"Stytch.{option}=" in listing, f"%config Stytch does not list {option}"
    printed = result.stdout()
    for line in [
        "heartbeat_interval = 180.0",
        "token_store = 'auto'",
        "token_store = 'memory'",
        "refused: session_duration_minutes must be 5 … 527040, got 1",
        "session_duration_minutes = 60",
        "signed in as grace@example.com for 60 minutes",
        "session files written: []",
        "heartbeat_interval = 30 s",
        "(every 30 s, checks only)",
        "auto_extend=False: expiry unchanged: True",
        "auto_extend=True: expiry moved later: True",
        "Signed out: the session was revoked at Stytch and forgotten here.",
    ]:
        assert line in printed, f"missing {line!r} in:\n{printed}"
    status = text_of(result.outputs_of("%stytch status"))
    assert status.startswith("Stytch session: signed in as grace@example.com, expires in ")
    assert "(every 30 s, extends the session)" in status


@pytest.mark.kernel
def test_heartbeat_and_long_cells(notebook_run: NotebookRun) -> None:
    result = result_for(notebook_run, "heartbeat-and-long-cells.ipynb")
    printed = result.stdout()
    for line in [
        "heartbeat every 1 s",
        "signed in as alan@example.com",
        # The loop stopped because the session ended while the cell was running.
        ", stopped early: True",
        "status changes during the cell: ['signed_out']",
        "signed out: True",
        "the widget says: Signed out",
        "Heartbeat: idle (every 1 s, checks only)",
    ]:
        assert line in printed, f"missing {line!r} in:\n{printed}"
    widget = result.outputs_of("widget = stytch.widget()")
    assert text_of(widget).startswith("Stytch session: signed in as alan@example.com")


@pytest.mark.kernel
def test_heartbeat_widget_update_is_saved_with_the_notebook(notebook_run: NotebookRun) -> None:
    result = result_for(notebook_run, "heartbeat-and-long-cells.ipynb")
    # The kernel's widget said "Signed out" (test above); the saved state must say so too.
    assert widget_status_text(result, "widget = stytch.widget()").startswith("Signed out")


# ---- the demo command --------------------------------------------------------------------


def _stytch_jupyter() -> list[str]:
    script = Path(sys.executable).with_name("stytch-jupyter")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stytch_jupyter.cli"]


@pytest.mark.kernel
def test_demo_execute_runs_every_notebook(tmp_path: Path) -> None:
    home = KernelHome(tmp_path / "home").create()
    env = kernel_env(home, "", "")
    for name in ("STYTCH_API_URL", "STYTCH_PUBLIC_TOKEN", "STYTCH_JUPYTER_DATA_DIR"):
        del env[name]  # the demo sets these itself, for its own emulator
    before = {path: path.read_bytes() for path in PATHS}
    output = tmp_path / "demo"
    done = subprocess.run(
        [*_stytch_jupyter(), "demo", "--execute", "--output", str(output)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for path in PATHS:
        verdict = re.search(
            rf"^  {re.escape(path.name)}: \d+ code cells in [\d.]+s: (.*)$",
            done.stdout,
            re.MULTILINE,
        )
        assert verdict is not None, f"{path.name} is not in the summary:\n{done.stdout}"
        assert verdict.group(1) == "ok", done.stdout
        executed = json.loads((output / path.name).read_text())
        code = [c for c in executed["cells"] if c["cell_type"] == "code"]
        assert all(c["execution_count"] for c in code), f"{path.name}: not every cell ran"
    assert "signed in as ada@example.com" in done.stdout  # the summary's story lines
    assert {path: path.read_bytes() for path in PATHS} == before, "demo wrote into notebooks/"
