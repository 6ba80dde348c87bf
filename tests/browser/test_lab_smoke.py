"""Proves the browser harness on a plain ipywidgets notebook: widgets render, a click reaches the
kernel, a kernel thread's update reaches the page while another cell is still running, and the
saved notebook carries the widget state (so a secret scan of it covers widget state).

What this taught us about live widget updates (ipykernel 7.4, ipywidgets 8.1, JupyterLab 4.6):
- A trait set from a background thread is sent on IOPub at once (ipykernel's IOPub thread is
  thread-safe), and the page renders it while another cell is still busy. So the Stytch heartbeat
  thread can update the session widget during a long-running cell; nothing waits for the cell.
- The other direction is queued: a click is a comm message on the shell channel, which the kernel
  handles only between cells. A button handler therefore runs after a busy cell finishes.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from playwright.sync_api import expect

from tests.support.secret_scan import find_secrets

from .jupyterlab import ServerFactory, poll_until
from .lab import Lab, LabFactory

pytestmark = pytest.mark.browser

SETUP = """\
import threading
import time

import ipywidgets as widgets

status = widgets.Label("waiting")
status.add_class("smoke-status")
button = widgets.Button(description="Go")
sleeper_started = threading.Event()
sleeper_finished = threading.Event()
clicks = []

def on_click(_button):
    clicks.append(sleeper_finished.is_set())
    status.value = f"clicked {len(clicks)}, sleeper finished: {clicks[-1]}"

button.on_click(on_click)
widgets.VBox([button, status])
"""

# The thread waits until the sleeping cell has started, so its update happens during that cell.
START_THREAD = """\
def set_later():
    sleeper_started.wait(30)
    time.sleep(1)
    status.value = "set by thread"

threading.Thread(target=set_later, daemon=True).start()
"""

SLEEPER = """\
sleeper_started.set()
time.sleep(5)
sleeper_finished.set()
print("slept")
"""

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLANTED = "planted-secret-0123456789abcdef"


def test_widget_renders_reacts_and_updates_live_during_a_running_cell(lab: Lab) -> None:
    # The isolated JUPYTER_DATA_DIR must still let Lab find the venv's widget manager.
    assert "@jupyter-widgets/jupyterlab-manager" in lab.server.lab_extensions()
    lab.open_notebook("smoke.ipynb", [SETUP, START_THREAD, SLEEPER])
    status = lab.page.locator(".smoke-status")
    button = lab.output(0).get_by_role("button", name="Go")

    lab.run_cell(0)
    expect(status).to_have_text("waiting")
    expect(button).to_be_visible()
    lab.screenshot("rendered")

    button.click()
    expect(status).to_have_text("clicked 1, sleeper finished: False")
    lab.screenshot("clicked")

    lab.run_cell(1)
    lab.run_cell(2, wait=False)
    expect(status).to_have_text("set by thread")
    # The update reached the page while the sleeping cell still shows [*] and has printed nothing.
    assert lab.is_cell_running(2), "the thread's update only showed once the cell had ended"
    assert "slept" not in lab.output_text(2)
    lab.screenshot("thread-update-during-running-cell")

    # A click now is queued behind the busy cell: its handler sees the cell finished.
    button.click()
    clicked_while_running = lab.is_cell_running(2)
    lab.wait_for_cell_done(2)
    lab.wait_for_output_text(2, "slept")
    expect(status).to_have_text("clicked 2, sleeper finished: True")
    assert clicked_while_running, "the click landed after the cell ended: the check proved nothing"

    saved = lab.save()
    assert saved.exists()
    notebook = nbformat.read(saved, as_version=4)
    assert notebook.cells[2].outputs[0]["text"] == "slept\n"
    # Lab saves the widget state in the notebook (saveState), with the label's latest text, and
    # the secret scan reaches it there: what a leaked token in a widget would look like.
    state = json.dumps(notebook.metadata["widgets"][WIDGET_STATE])
    assert "clicked 2, sleeper finished: True" in state
    findings = find_secrets({"label text": "clicked 2, sleeper"}, files=[saved])
    assert any(f"['widgets'][{WIDGET_STATE!r}]" in f.location for f in findings), findings
    lab.screenshot("saved")


def test_server_env_reaches_kernels_and_history_can_be_scanned(
    jupyter_lab_factory: ServerFactory, lab_factory: LabFactory
) -> None:
    # Scenarios point kernels at the emulator this way: the server's env, which kernels inherit.
    server = jupyter_lab_factory(env={"STYTCH_API_URL": "http://127.0.0.1:9/"}, name="env")
    lab = lab_factory(server)
    lab.open_notebook(
        "run-all.ipynb",
        [
            "import os\nx = 20",
            "print(x + 1)",
            "x * 2",
            "print(os.environ['STYTCH_API_URL'])\n"
            "print(os.environ['STYTCH_JUPYTER_DATA_DIR'])\n"
            "print(get_ipython().history_manager.hist_file)",
        ],
    )
    lab.run_all()
    lab.wait_for_output_text(1, "21")
    assert lab.outputs(2)[0]["data"]["text/plain"] == "40"
    # Kernel state lives under the server's temp dir, never in the developer's own folders.
    assert lab.output_text(3).split() == [
        "http://127.0.0.1:9/",
        str(server.stytch_data_dir),
        str(server.history_path),
    ]

    index = lab.run_cell_source(f"planted = {PLANTED!r}")
    assert index == 4
    # IPython writes history from a thread of its own: wait until the scan can see the line.
    finding = poll_until(
        lambda: find_secrets({"planted": PLANTED}, files=[server.history_path]),
        timeout=30,
        message="the planted line never reached history.sqlite",
    )[0]
    assert finding.location.startswith("table history, row ")

    # A cell that raises makes run_cell fail loudly, naming the error.
    with pytest.raises(AssertionError, match="cell 5 raised ValueError: boom"):
        lab.run_cell_source("raise ValueError('boom')")

    # After a restart counts start again: cell 0 gets [1] again, and run_cell must still wait
    # for the new reply rather than take the old [1] for it.
    lab.restart_kernel()
    lab.run_cell(0)
    assert lab.execution_state(0)["count"] == 1
    lab.run_cell(1)
    assert lab.outputs(1) == [{"output_type": "stream", "name": "stdout", "text": "21\n"}]
    lab.screenshot("after-restart")
    server.stop()
    assert not server.running
