"""The Stytch session widget in a real JupyterLab, driven through Debian's Chromium.

One emulator and one JupyterLab server (kernels pointed at the emulator) serve the module; each
scenario opens its own notebook and kernel on a fresh token store, so none depends on another's
session. What a person does is done the way a person does it: typing into the widget's own form,
clicking its buttons, reading the page. The test plays the user's mailbox (the emulator's outbox)
and the app's backend (the emulator's backend API with the project secret).

Every scenario saves its notebook; the last one scans everything the server, its kernels and the
harness wrote (notebooks, checkpoints, widget state, IPython history, logs) for every secret the
emulator issued or received.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from playwright.sync_api import Locator, expect

from stytch_jupyter.emulator import Emulator
from tests.support.secret_scan import assert_no_secrets, collect_emulator_secrets, find_secrets

from .jupyterlab import JupyterLabServer, ServerFactory, poll_until
from .lab import Lab, LabFactory

pytestmark = pytest.mark.browser

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
LOAD = "%load_ext stytch_jupyter"
SHOW = "stytch.widget()"
# Milliseconds: a request to the emulator, a widget round trip, on a loaded 2-core machine.
UI_TIMEOUT_MS = 30_000

# Signs in from a cell the way a notebook user with the emulator would: the cell reads the code
# from the outbox itself, so the code is never printed, never typed, never in a cell's source.
SIGN_IN_FROM_OUTBOX = """\
import os
from stytch_jupyter.emulator import EmulatorControl

with EmulatorControl(os.environ["STYTCH_API_URL"]) as mailbox:
    method_id = stytch.otps.email.login_or_create({email!r})
    stytch.otps.authenticate(mailbox.last_otp({email!r})[1], method_id)
print(stytch.session.session_id)
"""


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module: the final scan needs every secret any scenario was issued."""
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def stytch_server(
    jupyter_lab_factory: ServerFactory, emulator: Emulator
) -> Iterator[JupyterLabServer]:
    server = jupyter_lab_factory(
        {"STYTCH_API_URL": emulator.api_url, "STYTCH_PUBLIC_TOKEN": emulator.public_token},
        name="stytch",
    )
    # Kernels must never reach the developer's real keyring or data dir: the key lives in a file
    # in the server's temp dir, chosen the documented way (`c.Stytch` in the kernel's config),
    # rather than by `auto` falling back to it (and warning) past the harness's null keyring.
    profile = server.ipython_dir / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text('c.Stytch.token_store = "file"\n')
    assert server.environment()["PYTHON_KEYRING_BACKEND"] == "keyring.backends.null.Keyring"
    assert server.stytch_data_dir.is_relative_to(server.base_dir)
    yield server
    server.stop()  # free its memory for the next module; the factory's own stop is then a no-op


@pytest.fixture
def stytch_lab(lab_factory: LabFactory, stytch_server: JupyterLabServer) -> Lab:
    """A page on the Stytch server, its kernels starting from an empty token store."""
    # The previous scenario's page shut its kernels down; wait until the server agrees, so no
    # kernel is writing the store while it is emptied.
    with stytch_server.api() as client:
        poll_until(
            lambda: client.get("/api/kernels").json() == [],
            timeout=30,
            message="a previous scenario's kernel is still running",
        )
    if stytch_server.stytch_data_dir.exists():
        shutil.rmtree(stytch_server.stytch_data_dir)
    return lab_factory(stytch_server)


# -- helpers -------------------------------------------------------------------------------------


def has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def session_widget(lab: Lab, index: int) -> Locator:
    return lab.output(index).locator(".stytch-session-widget")


def open_with_widget(lab: Lab, path: str, setup: str = LOAD) -> Locator:
    """Open a notebook of [setup, widget], run both, and return the rendered widget."""
    lab.open_notebook(path, [setup, SHOW])
    lab.run_cell(0)
    # Quiet: nothing to say when the store is where the config put it.
    assert lab.outputs(0) == []
    lab.run_cell(1)
    widget = session_widget(lab, 1)
    expect(widget).to_be_visible()
    return widget


def sign_in_with_form(lab: Lab, widget: Locator, emulator: Emulator, email: str) -> None:
    """Email, Send code, the code from the mailbox, Sign in: all in the widget on the page."""
    status = widget.locator(".stytch-status")
    email_input = widget.locator(".stytch-email input")
    code_input = widget.locator(".stytch-code input")
    expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
    expect(status).to_have_text(re.compile(r"^Signed out"))
    expect(code_input).to_be_hidden()  # no code field until a code was sent

    email_input.fill(email)
    widget.locator(".stytch-send-code").click()
    expect(widget.locator(".stytch-info")).to_have_text(
        f"Code sent to {email}", timeout=UI_TIMEOUT_MS
    )
    expect(code_input).to_be_visible()
    _method_id, code = emulator.last_otp(email)

    code_input.fill(code)
    expect(code_input).to_have_attribute("type", "password")  # shown as dots, never as digits
    lab.screenshot("code-typed")
    widget.locator(".stytch-sign-in").click()
    expect(status).to_have_text(f"Signed in as {email}", timeout=UI_TIMEOUT_MS)
    expect(widget).to_have_class(has_class("stytch-signed-in"))
    # The form is gone, and the code was cleared from the field (and so from widget state).
    expect(widget.locator(".stytch-email")).to_be_hidden()
    expect(code_input).to_have_value("")
    expect(widget.locator(".stytch-error")).to_be_hidden()


def wait_for_history(server: JupyterLabServer, source: str) -> None:
    """Until IPython's history database (written from a thread of its own) holds ``source``."""

    def recorded() -> bool:
        if not server.history_path.exists():
            return False
        connection = sqlite3.connect(f"{server.history_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = connection.execute("SELECT source_raw FROM history").fetchall()
        except sqlite3.OperationalError:  # not created yet
            return False
        finally:
            connection.close()
        return any(source in row[0] for row in rows)

    poll_until(recorded, timeout=30, message=f"history.sqlite never recorded {source[:40]!r}")


def save_and_check(lab: Lab, widget: Locator, emulator: Emulator) -> Path:
    """Save with Ctrl+S, check the widget state made it into the file, and scan the file."""
    shown = widget.locator(".stytch-status").inner_text().strip()
    saved = lab.save()
    notebook = nbformat.read(saved, as_version=4)
    state = json.dumps(notebook.metadata["widgets"][WIDGET_STATE])
    assert "stytch-session-widget" in state, "the session widget's state was not saved"
    # The scan reaches widget state: the status the page shows is found there, so a token that
    # got into widget state would be found the same way.
    findings = find_secrets({"status": shown}, files=[saved])
    assert any(f"['widgets'][{WIDGET_STATE!r}]" in f.location for f in findings), findings
    assert_no_secrets(collect_emulator_secrets(emulator), files=[saved])
    return saved


def backend_sessions(emulator: Emulator, user_id: str) -> list[dict[str, object]]:
    """The user's live sessions, as the app's backend sees them (project id and secret)."""
    response = httpx.get(
        f"{emulator.api_url}/v1/sessions",
        params={"user_id": user_id},
        auth=(emulator.project_id, emulator.secret),
        trust_env=False,
    )
    response.raise_for_status()
    sessions: list[dict[str, object]] = response.json()["sessions"]
    return sessions


# -- scenarios -----------------------------------------------------------------------------------


def test_sign_in_through_the_widgets_form(stytch_lab: Lab, emulator: Emulator) -> None:
    lab, email = stytch_lab, "form@example.com"
    widget = open_with_widget(lab, "sign-in.ipynb")
    status = widget.locator(".stytch-status")
    expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
    expect(status).to_have_text("Signed out")
    expect(widget.locator(".stytch-email input")).to_be_visible()
    expect(widget.locator(".stytch-sign-out")).to_be_hidden()
    lab.screenshot("signed-out")

    sign_in_with_form(lab, widget, emulator, email)
    expect(widget.locator(".stytch-sign-out")).to_be_visible()
    expect(widget.locator(".stytch-session-id")).to_have_text(re.compile(r"^session-test-"))
    lab.screenshot("signed-in")

    index = lab.run_cell_source("print(stytch.user.email)")
    lab.wait_for_output_text(index, email)
    assert lab.outputs(index) == [{"output_type": "stream", "name": "stdout", "text": f"{email}\n"}]
    # The token store went where the harness pointed it, its key in a file beside it (the null
    # keyring), never into the developer's own keyring or data dir.
    data_dir = lab.server.stytch_data_dir
    assert (data_dir / "key").is_file()
    assert len(list((data_dir / "sessions").glob("*.bin"))) == 1
    save_and_check(lab, widget, emulator)


def test_a_revoke_at_stytch_shows_while_a_cell_is_still_running(
    stytch_lab: Lab, emulator: Emulator
) -> None:
    lab, email = stytch_lab, "heartbeat@example.com"
    widget = open_with_widget(
        lab, "revoked.ipynb", setup=f"{LOAD}\n%config Stytch.heartbeat_interval = 0.5"
    )
    status = widget.locator(".stytch-status")
    expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)

    sign_in = lab.run_cell_source(SIGN_IN_FROM_OUTBOX.format(email=email))
    session_id = lab.output_text(sign_in).strip()
    assert session_id.startswith("session-test-"), session_id
    # A sign-in from a cell reaches the widget rendered by another cell.
    expect(status).to_have_text(f"Signed in as {email}", timeout=UI_TIMEOUT_MS)

    # Long enough that only an interrupt ends it: the check below cannot pass by a slow machine.
    sleeper = lab.run_cell_source("import time\ntime.sleep(300)\nprint('slept')", wait=False)
    assert lab.is_cell_running(sleeper)

    emulator.revoke_session(session_id=session_id)  # the app's backend, with the project secret
    expect(status).to_have_text(
        "Signed out (ended by Stytch: session_not_found)", timeout=UI_TIMEOUT_MS
    )
    # The heartbeat's news reached the page while the sleeping cell still runs.
    assert lab.is_cell_running(sleeper), "the widget only changed once the cell had ended"
    assert lab.outputs(sleeper) == []
    expect(widget).to_have_class(has_class("stytch-signed-out"))
    expect(widget.locator(".stytch-email input")).to_be_visible()
    lab.screenshot("revoked-while-cell-runs")

    lab.page.locator(
        ".jp-NotebookPanel:visible .jp-Toolbar [data-command='notebook:interrupt-kernel']"
    ).click()
    lab.wait_for_cell_done(sleeper, check=False)
    outputs = lab.outputs(sleeper)
    assert [o.get("ename") for o in outputs] == ["KeyboardInterrupt"], outputs

    check = lab.run_cell_source("print(stytch.session is None, stytch.status)")
    lab.wait_for_output_text(check, "True signed_out")
    save_and_check(lab, widget, emulator)


def test_sign_out_with_the_widgets_button(stytch_lab: Lab, emulator: Emulator) -> None:
    lab, email = stytch_lab, "sign-out@example.com"
    widget = open_with_widget(lab, "sign-out.ipynb")
    status = widget.locator(".stytch-status")
    sign_in_with_form(lab, widget, emulator, email)

    ids = lab.run_cell_source("print(stytch.user.user_id)")
    user_id = lab.output_text(ids).strip()
    assert len(backend_sessions(emulator, user_id)) == 1

    widget.locator(".stytch-sign-out").click()
    expect(status).to_have_text("Signed out (revoked)", timeout=UI_TIMEOUT_MS)
    expect(widget).to_have_class(has_class("stytch-signed-out"))
    expect(widget.locator(".stytch-sign-out")).to_be_hidden()
    expect(widget.locator(".stytch-email input")).to_be_visible()
    expect(widget.locator(".stytch-error")).to_be_hidden()
    lab.screenshot("signed-out-by-button")

    check = lab.run_cell_source("print(stytch.session is None)")
    lab.wait_for_output_text(check, "True")
    assert lab.outputs(check)[0]["text"] == "True\n"
    # Revoked at Stytch, not only forgotten here.
    assert backend_sessions(emulator, user_id) == []
    save_and_check(lab, widget, emulator)


def test_no_secret_in_notebooks_history_or_logs(
    stytch_lab: Lab, emulator: Emulator, artifacts_dir: Path
) -> None:
    # Its own short scenario (so it proves something when run alone), with the outputs most
    # likely to leak: the reprs of the manager, the session and the tokens, and %stytch status.
    lab, email = stytch_lab, "scan@example.com"
    widget = open_with_widget(lab, "scan.ipynb")
    sign_in_with_form(lab, widget, emulator, email)
    for source in ("stytch", "stytch.session", "stytch.session_token", "stytch.session_jwt"):
        lab.run_cell_source(source)
    status = lab.run_cell_source("%stytch status")
    lab.wait_for_output_text(status, f"signed in as {email}")
    refreshed = lab.run_cell_source("stytch.sessions.authenticate(); print('refreshed')")
    lab.wait_for_output_text(refreshed, "refreshed")
    widget.locator(".stytch-sign-out").click()
    expect(widget.locator(".stytch-status")).to_have_text(
        "Signed out (revoked)", timeout=UI_TIMEOUT_MS
    )
    last = lab.run_cell_source("print('done')")
    lab.wait_for_output_text(last, "done")
    lab.screenshot("reprs-then-signed-out")
    save_and_check(lab, widget, emulator)
    server = lab.server
    wait_for_history(server, "print('done')")
    # The page's own DOM (what a browser extension or a copy-paste would see).
    page_html = lab.page.content()

    secrets = collect_emulator_secrets(emulator)
    kinds = {label.split(" #")[0] for label in secrets}
    # Not vacuous: the scenarios were issued codes, tokens and JWTs, and those are what is sought.
    assert {"otp_code", "session_token", "session_jwt", "project secret"} <= kinds, kinds
    notebooks = sorted(server.root_dir.rglob("*.ipynb"))
    assert lab.file in notebooks
    assert any(".ipynb_checkpoints" in p.parts for p in notebooks), notebooks
    # Everything the server and its kernels wrote (root dir with checkpoints, IPython history,
    # Lab settings and workspaces, runtime files), except the encrypted token store and its key;
    # every harness artifact but screenshots; the server log is in both.
    written = [
        path
        for path in server.base_dir.iterdir()
        if path.resolve() != server.stytch_data_dir.resolve()
    ]
    artifacts = [p for p in artifacts_dir.rglob("*") if p.is_file() and p.suffix != ".png"]
    assert server.history_path.exists() and server.log_path in artifacts
    assert_no_secrets(secrets, files=[*written, *artifacts], texts={"page HTML": page_html})
