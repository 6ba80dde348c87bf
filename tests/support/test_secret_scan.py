"""The secret scanner finds a planted secret in every place it searches, and nothing in clean
files: a scan that could never fail would prove nothing about the notebooks it passes."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from stytch_jupyter.emulator import Emulator
from tests.support.emulator_http import loopback_client
from tests.support.secret_scan import (
    Finding,
    SecretScanError,
    assert_no_secrets,
    collect_emulator_secrets,
    find_secrets,
    secrets_from_emulator,
)

TOKEN = "Zm9vYmFyLXNlc3Npb24tdG9rZW4tZm9yLXRlc3Rz4Q"  # shaped like an opaque session token
OTHER = "another-secret-value-nobody-planted"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def write_notebook(path: Path, *, output: str = "ok", widget_text: str = "signed out") -> Path:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("stytch.widget()")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"status: {output}\nmore\n"),
        nbformat.v4.new_output(
            "execute_result",
            data={"text/plain": "<widget>", "text/html": "<b>session</b>"},
            execution_count=1,
        ),
    ]
    notebook.cells = [cell]
    notebook.metadata["widgets"] = {
        WIDGET_STATE: {
            "version_major": 2,
            "version_minor": 0,
            "state": {
                "abc123": {
                    "model_name": "LabelModel",
                    "model_module": "@jupyter-widgets/controls",
                    "model_module_version": "2.0.0",
                    "state": {"value": widget_text, "_dom_classes": ["stytch-status"]},
                }
            },
        }
    }
    nbformat.write(notebook, path)
    return path


def ipython_history(ipython_dir: Path, *sources: str) -> Path:
    """A history.sqlite written by a real IPython shell (in a child, so no global shell here)."""
    script = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.history_manager.db_log_output = True\n"
        "for source in sys.argv[1:]:\n"
        "    shell.run_cell(source, store_history=True)\n"
        "shell.history_manager.writeout_cache()\n"
    )
    env = {**os.environ, "IPYTHONDIR": str(ipython_dir)}
    subprocess.run(
        [sys.executable, "-c", script, *sources], env=env, check=True, capture_output=True
    )
    path = ipython_dir / "profile_default" / "history.sqlite"
    assert path.exists()
    return path


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


# -- notebooks ----------------------------------------------------------------------------------


def test_finds_a_secret_in_a_notebook_output(tmp_path: Path) -> None:
    leaky = write_notebook(tmp_path / "leaky.ipynb", output=TOKEN)
    finding = only(find_secrets({"session_token": TOKEN}, files=[leaky]))
    assert finding.path == str(leaky)
    assert "['outputs'][0]['text']" in finding.location
    assert finding.secret.startswith("session_token Zm9vYmFy")


def test_finds_a_secret_in_html_output_even_escaped(tmp_path: Path) -> None:
    secret = 'jwt<with>&odd"chars'
    path = tmp_path / "html.ipynb"
    write_notebook(path)
    document = json.loads(path.read_text())
    escaped = "jwt&lt;with&gt;&amp;odd&quot;chars"  # as an HTML repr would write it
    document["cells"][0]["outputs"][1]["data"]["text/html"] = f"<i>{escaped}</i>"
    path.write_text(json.dumps(document))
    finding = only(find_secrets([secret], files=[path]))
    assert "text/html" in finding.location
    assert finding.encoding == "html-escaped"


def test_finds_a_secret_in_widget_state_metadata(tmp_path: Path) -> None:
    leaky = write_notebook(tmp_path / "widget.ipynb", widget_text=f"signed in ({TOKEN})")
    finding = only(find_secrets([TOKEN], files=[leaky]))
    assert "['metadata']['widgets']" in finding.location
    assert "['state']['value']" in finding.location


def test_finds_a_secret_in_a_base64_attachment(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_markdown_cell("![note](attachment:note.txt)")
    payload = base64.b64encode(f"token={TOKEN}".encode()).decode()
    cell["attachments"] = {"note.txt": {"text/plain": payload}}
    notebook.cells = [cell]
    path = tmp_path / "attachment.ipynb"
    nbformat.write(notebook, path)
    findings = find_secrets([TOKEN], files=[path])
    assert any("(base64-decoded)" in f.location and "attachments" in f.location for f in findings)


def test_a_clean_notebook_has_no_finding(tmp_path: Path) -> None:
    clean = write_notebook(tmp_path / "clean.ipynb")
    assert find_secrets({"session_token": TOKEN, "jwt": OTHER}, files=[clean]) == []


def test_a_folder_is_scanned_file_by_file_checkpoints_included(tmp_path: Path) -> None:
    write_notebook(tmp_path / "clean.ipynb")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    hidden = write_notebook(
        tmp_path / ".ipynb_checkpoints" / "clean-checkpoint.ipynb", output=TOKEN
    )
    assert only(find_secrets([TOKEN], files=[tmp_path])).path == str(hidden)


# -- IPython's history database -----------------------------------------------------------------


def test_finds_a_secret_in_ipython_history(tmp_path: Path) -> None:
    history = ipython_history(tmp_path, f"token = {TOKEN!r}", "token")
    findings = find_secrets({"session_token": TOKEN}, files=[history])
    where = {f.location for f in findings}
    assert "table history, row 1, column source" in where
    assert "table history, row 1, column source_raw" in where
    assert "table output_history, row 1, column output" in where


def test_a_clean_ipython_history_has_no_finding(tmp_path: Path) -> None:
    history = ipython_history(tmp_path, "x = 1", "x + 1")
    assert find_secrets([TOKEN], files=[history]) == []


def test_finds_a_secret_in_any_sqlite_file_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE kv (k TEXT, v BLOB)")
        connection.execute("INSERT INTO kv VALUES ('a', 'b'), ('tokens', ?)", (TOKEN.encode(),))
    connection.close()
    assert only(find_secrets([TOKEN], files=[path])).location == "table kv, row 2, column v"


# -- logs and texts -----------------------------------------------------------------------------


def test_finds_a_secret_in_a_log_file_by_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(f"started\nrequest ok\nsession {TOKEN} refreshed\nstopped\n")
    finding = only(find_secrets([TOKEN], files=[log]))
    assert (finding.location, finding.encoding) == ("line 3", "plain")


def test_finds_a_secret_inside_a_logged_basic_auth_header(tmp_path: Path) -> None:
    header = base64.b64encode(f"public-token-test-xyz:{TOKEN}".encode()).decode()
    log = tmp_path / "http.log"
    log.write_text(f"GET /sdk/v1/users/me\nAuthorization: Basic {header}\n")
    finding = only(find_secrets([TOKEN], files=[log]))
    assert (finding.location, finding.encoding) == ("line 2", "base64")


def test_finds_a_percent_encoded_secret_in_a_url(tmp_path: Path) -> None:
    secret = "token/with+reserved=chars"
    log = tmp_path / "access.log"
    log.write_text("GET /magic?token=token%2Fwith%2Breserved%3Dchars 200\n")
    assert only(find_secrets([secret], files=[log])).encoding == "percent-encoded"


def test_texts_are_scanned_and_clean_logs_pass(tmp_path: Path) -> None:
    clean = tmp_path / "clean.log"
    clean.write_text("nothing to see\n" * 50)
    findings = find_secrets([TOKEN], files=[clean], texts={"stdout": f"x\ny {TOKEN}"})
    assert [(f.path, f.location) for f in findings] == [("stdout", "line 2")]


# -- what a finding shows, and what the scan refuses --------------------------------------------


def test_findings_and_failures_never_show_the_whole_secret(tmp_path: Path) -> None:
    log = tmp_path / "leak.log"
    log.write_text(f"{TOKEN}\n")
    finding = only(find_secrets({"session_token": TOKEN}, files=[log]))
    assert TOKEN not in repr(finding)
    assert TOKEN not in str(finding)
    with pytest.raises(AssertionError) as failure:
        assert_no_secrets({"session_token": TOKEN}, files=[log])
    assert "1 secret leak(s)" in str(failure.value)
    assert TOKEN not in str(failure.value)


def test_a_six_digit_code_is_scanned_for_but_shorter_secrets_are_refused(tmp_path: Path) -> None:
    log = tmp_path / "otp.log"
    log.write_text("your code is 042917\n")
    finding = only(find_secrets({"otp": "042917"}, files=[log]))
    assert "042917" not in str(finding)  # two digits shown, not six
    for bad in ("12345", ""):
        with pytest.raises(SecretScanError, match="too short"):
            find_secrets(["a-long-enough-secret", bad], files=[log])


def test_a_missing_file_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(SecretScanError, match="nothing to scan"):
        find_secrets([TOKEN], files=[tmp_path / "missing.ipynb"])


# -- the emulator's secrets ---------------------------------------------------------------------


def test_collects_what_the_emulator_sent_and_finds_it(emulator: Emulator, tmp_path: Path) -> None:
    auth = (emulator.public_token, emulator.public_token)
    with loopback_client(emulator.api_url, auth=auth) as client:
        sent = client.post("/sdk/v1/otps/email/login_or_create", json={"email": "ada@example.com"})
        sent.raise_for_status()
        client.post(
            "/sdk/v1/magic_links/email/login_or_create", json={"email": "bob@example.com"}
        ).raise_for_status()
        method_id, code = emulator.last_otp("ada@example.com")
        signed_in = client.post(
            "/sdk/v1/otps/authenticate",
            json={"token": code, "method_id": method_id, "session_duration_minutes": 30},
        )
        signed_in.raise_for_status()
    data = signed_in.json()["data"]
    link_token = emulator.last_magic_link("bob@example.com").split("token=")[-1]

    collected = collect_emulator_secrets(emulator, extra={"a password": "typed by the test"})
    values = set(collected.values())
    issued = {code, link_token, data["session_token"], data["session_jwt"]}
    assert issued | {emulator.secret, "typed by the test"} <= values
    assert set(secrets_from_emulator(emulator.control).values()) == issued

    clean = write_notebook(tmp_path / "clean.ipynb", output="signed in as ada@example.com")
    log = tmp_path / "kernel.log"
    log.write_text(f"heartbeat ok\njwt {data['session_jwt']}\n")
    findings = find_secrets(collected, files=[clean, log])
    assert [(f.path, f.location) for f in findings] == [(str(log), "line 2")]
    assert findings[0].secret.startswith("session_jwt #1 eyJ")
