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


def field(widget: Locator, css_class: str) -> Locator:
    """An input of the widget: it carries the class itself, or sits inside what does."""
    return widget.locator(f"input.{css_class}, .{css_class} input")


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


def sign_in_with_form(
    lab: Lab, widget: Locator, emulator: Emulator, email: str, *, enter: bool = False
) -> None:
    """Email, Send code, the code from the mailbox, Sign in: all in the widget on the page."""
    status = widget.locator(".stytch-status")
    email_input = field(widget, "stytch-email")
    code_input = field(widget, "stytch-code")
    expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
    expect(status).to_have_text(re.compile(r"^Signed out"))
    expect(code_input).to_be_hidden()  # no code field until a code was sent

    email_input.fill(email)
    if enter:
        email_input.press("Enter")
    else:
        widget.locator(".stytch-send-code").click()
    expect(widget.locator(".stytch-info")).to_have_text(
        f"Code sent to {email} (the emulator's mailbox shows it: {emulator.api_url}/)",
        timeout=UI_TIMEOUT_MS,
    )
    expect(code_input).to_be_visible()
    expect(code_input).to_be_focused()  # focus moved on to where the user goes next
    _method_id, code = emulator.last_otp(email)

    code_input.fill(code)
    expect(code_input).to_have_attribute("type", "password")  # shown as dots, never as digits
    lab.screenshot("code-typed")
    if enter:
        code_input.press("Enter")
    else:
        widget.locator(".stytch-sign-in").click()
    expect(status).to_have_text(f"Signed in as {email}", timeout=UI_TIMEOUT_MS)
    expect(widget).to_have_class(has_class("stytch-signed-in"))
    # The form is gone with the code it held; focus stayed in the widget, on a live control.
    expect(field(widget, "stytch-email")).to_have_count(0)
    expect(code_input).to_have_count(0)
    expect(widget.locator(".stytch-error")).to_be_hidden()
    expect(widget.locator(".stytch-refresh")).to_be_focused()


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
    expect(field(widget, "stytch-email")).to_be_visible()
    expect(widget.locator(".stytch-sign-out")).to_be_hidden()
    lab.screenshot("signed-out")

    # Enter in the email field sends the code; Enter in the code field signs in.
    sign_in_with_form(lab, widget, emulator, email, enter=True)
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
    expect(status).to_have_text("Signed out", timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-reason .stytch-plain")).to_have_text(
        "Your session ended: it expired or was revoked. Sign in again."
    )
    # The machine's words are one click away, in the disclosure.
    expect(widget.locator(".stytch-reason .stytch-detail")).to_have_text(
        "ended by Stytch: session_not_found"
    )
    # The heartbeat's news reached the page while the sleeping cell still runs.
    assert lab.is_cell_running(sleeper), "the widget only changed once the cell had ended"
    assert lab.outputs(sleeper) == []
    expect(widget).to_have_class(has_class("stytch-signed-out"))
    expect(field(widget, "stytch-email")).to_be_visible()
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
    expect(status).to_have_text("Signed out", timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-reason .stytch-plain")).to_have_text("You signed out.")
    expect(widget).to_have_class(has_class("stytch-signed-out"))
    expect(widget.locator(".stytch-sign-out")).to_be_hidden()
    expect(field(widget, "stytch-email")).to_be_visible()
    expect(field(widget, "stytch-email")).to_be_focused()
    expect(widget.locator(".stytch-error")).to_be_hidden()
    lab.screenshot("signed-out-by-button")

    check = lab.run_cell_source("print(stytch.session is None)")
    lab.wait_for_output_text(check, "True")
    assert lab.outputs(check)[0]["text"] == "True\n"
    # Revoked at Stytch, not only forgotten here.
    assert backend_sessions(emulator, user_id) == []
    save_and_check(lab, widget, emulator)


# What a cell in the kernel checks: no issued code in any widget's state there. It prints counts,
# never a code.
KERNEL_WIDGET_SCAN = """\
import json, os, httpx
from ipywidgets.widgets.widget import _instances
issued = httpx.get(os.environ["STYTCH_API_URL"] + "/emulator/v1/issued", trust_env=False).json()
codes = [c for kind, values in issued.items() if "otp" in kind for c in values]
states = [json.dumps(w.get_state(), default=str) for w in list(_instances.values())]
found = sum(code in state for code in codes for state in states)
print(f"widgets={len(states)} codes={len(codes)} found={found}")
"""

# Types ``code`` into the focused input with no delay between keys and submits it in the same
# task, by Enter in the field or a click on Sign in.
TYPE_AND_SUBMIT_JS = """(input, [code, how]) => {
    input.focus();
    for (const ch of code) {
        input.value += ch;
        input.dispatchEvent(new InputEvent('input', {bubbles: true, data: ch}));
    }
    if (how === 'enter') {
        input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
    } else {
        input.closest('.stytch-session-widget').querySelector('.stytch-sign-in').click();
    }
}"""

# Samples the widget on every animation frame: what the user could have seen in that frame.
SAMPLE_FRAMES_JS = """(root) => {
    window.__stytchFrames = [];
    window.__stytchSampling = true;
    const sample = () => {
        window.__stytchFrames.push({
            cls: root.className,
            status: (root.querySelector('.stytch-status') || {}).textContent || '',
            email: !!root.querySelector('input.stytch-email'),
            code: !!root.querySelector('input.stytch-code'),
            signOut: !!root.querySelector('.stytch-sign-out'),
            rows: !!root.querySelector('.stytch-rows'),
        });
        if (window.__stytchSampling) requestAnimationFrame(sample);
    };
    requestAnimationFrame(sample);
}"""

# WCAG contrast of an element's text against what is really behind it (the first ancestor
# with a background), from computed styles.
CONTRAST_JS = """(el) => {
    const parse = (c) => {
        const m = c.match(/rgba?\\(([^)]+)\\)/);
        const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    let node = el, bg = null;
    while (node && node.nodeType === 1) {
        const c = parse(getComputedStyle(node).backgroundColor);
        if (c[3] > 0) { bg = c; break; }
        node = node.parentElement;
    }
    bg = bg || [255, 255, 255, 1];
    const fg = parse(getComputedStyle(el).color);
    const mix = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const lum = (rgb) => {
        const [r, g, b] = rgb.map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [a, b] = [lum(mix), lum(bg.slice(0, 3))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def set_theme(lab: Lab, theme: str) -> None:
    lab.page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})",
        THEMES[theme],
    )
    light = "true" if theme == "light" else "false"
    lab.page.wait_for_function(
        f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=UI_TIMEOUT_MS
    )
    # Lab shows its splash over the page while the theme loads: measure the page, not it.
    expect(lab.page.locator("#jupyterlab-splash")).to_have_count(0, timeout=UI_TIMEOUT_MS)


def contrast(locator: Locator) -> float:
    ratio: float = locator.evaluate(CONTRAST_JS)
    return ratio


def in_live_region(locator: Locator) -> bool:
    live: bool = locator.evaluate("(el) => !!el.closest('[aria-live]')")
    return live


def otps_sent(emulator: Emulator, email: str) -> list[str]:
    return [m["code"] for m in emulator.outbox(email) if m["kind"] == "otp"]


def test_a_code_typed_at_once_signs_in_five_times_and_leaves_no_code_anywhere(
    stytch_lab: Lab, emulator: Emulator
) -> None:
    lab, email = stytch_lab, "quick@example.com"
    widget = open_with_widget(lab, "quick.ipynb")
    status = widget.locator(".stytch-status")
    email_input, code_input = field(widget, "stytch-email"), field(widget, "stytch-code")
    for attempt in range(5):
        expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
        email_input.fill(email)
        email_input.press("Enter")
        expect(code_input).to_be_visible(timeout=UI_TIMEOUT_MS)
        if attempt == 0:
            # Digits typed for a code, then a new code asked for: the leftovers go.
            code_input.press_sequentially("12", delay=0)
            widget.locator(".stytch-send-code").click()
            expect(code_input).to_have_value("")
            poll_until(
                lambda: len(otps_sent(emulator, email)) == 2, timeout=30, message="a new code"
            )
            expect(widget).not_to_have_class(has_class("stytch-busy"), timeout=UI_TIMEOUT_MS)
        _method_id, code = emulator.last_otp(email)
        # Every key and the submit in one task of the page: no delay between keys, and Enter (or
        # a click) at once, faster than any widget state could sync. The whole code must arrive.
        # (The ipywidgets widget this replaces signed in with a partial code here, or none.)
        how = "enter" if attempt % 2 == 0 else "click"
        code_input.evaluate(TYPE_AND_SUBMIT_JS, [code, how])
        expect(status).to_have_text(f"Signed in as {email}", timeout=UI_TIMEOUT_MS)
        expect(widget.locator(".stytch-error")).to_be_hidden()
        widget.locator(".stytch-sign-out").click()
        expect(status).to_have_text("Signed out", timeout=UI_TIMEOUT_MS)
    codes = otps_sent(emulator, email)
    assert len(codes) == 6
    scan = lab.run_cell_source(KERNEL_WIDGET_SCAN)
    printed = lab.output_text(scan).strip()
    widgets_seen, codes_seen, found = (int(part.split("=")[1]) for part in printed.split())
    assert widgets_seen >= 1 and codes_seen >= 5 and found == 0, printed
    saved = save_and_check(lab, widget, emulator)
    assert_no_secrets({f"code #{i}": code for i, code in enumerate(codes)}, files=[saved])


def test_no_rendered_frame_mixes_two_states(stytch_lab: Lab, emulator: Emulator) -> None:
    lab, email = stytch_lab, "frames@example.com"
    widget = open_with_widget(lab, "frames.ipynb")
    expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
    widget.evaluate(SAMPLE_FRAMES_JS)
    sign_in_with_form(lab, widget, emulator, email)
    widget.locator(".stytch-sign-out").click()
    expect(widget.locator(".stytch-status")).to_have_text("Signed out", timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-reason")).to_be_visible()
    frames = lab.page.evaluate(
        "() => { window.__stytchSampling = false; return window.__stytchFrames; }"
    )
    kinds = []
    for frame in frames:
        if "stytch-signed-in" in frame["cls"]:
            assert frame["status"].startswith("Signed in as"), frame
            assert frame["signOut"] and frame["rows"] and not frame["email"], frame
            assert not frame["code"], frame
        else:
            assert "stytch-signed-out" in frame["cls"], frame
            assert frame["status"] == "Signed out", frame
            assert frame["email"] and not frame["signOut"] and not frame["rows"], frame
        kind = "in" if "stytch-signed-in" in frame["cls"] else "out"
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    assert kinds == ["out", "in", "out"], kinds  # the sampling saw both changes
    assert len(frames) > 10


def stuck_checking(lab: Lab, emulator: Emulator, email: str) -> Locator:
    """A stored session that cannot be checked: every sessions/authenticate answers 503."""
    lab.open_notebook(f"stuck-{email.split('@')[0]}.ipynb", [LOAD])
    lab.run_cell(0)
    lab.run_cell_source(SIGN_IN_FROM_OUTBOX.format(email=email))
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=503, times=1000)
    lab.run_cell_source("%reload_ext stytch_jupyter")
    index = lab.run_cell_source(SHOW)
    widget = session_widget(lab, index)
    expect(widget).to_have_class(has_class("stytch-unconfirmed"), timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-error")).to_be_visible(timeout=UI_TIMEOUT_MS)
    return widget


def test_each_stuck_state_offers_an_enabled_action(stytch_lab: Lab, emulator: Emulator) -> None:
    lab, email = stytch_lab, "stuck@example.com"
    try:
        widget = stuck_checking(lab, emulator, email)
        expect(widget.locator(".stytch-status")).to_have_text("Checking the stored session…")
        for cls in ("stytch-retry", "stytch-forget"):
            expect(widget.locator(f".{cls}")).to_be_enabled()
            expect(widget.locator(f".{cls}")).not_to_have_attribute("aria-disabled", "true")
        widget.locator(".stytch-retry").click()  # still failing: it says so, and stays usable
        expect(widget.locator(".stytch-retry")).to_have_text("Retry now", timeout=UI_TIMEOUT_MS)
        expect(widget.locator(".stytch-error .stytch-plain")).to_contain_text(
            "Stytch is not answering"
        )
        # Only Retry now may get through: the heartbeat's own retry, a second or two away,
        # would otherwise sign in first and take the button away under the click.
        lab.run_cell_source("stytch.heartbeat.stop()")
        emulator.clear_faults()
        widget.locator(".stytch-retry").click()
        expect(widget.locator(".stytch-status")).to_have_text(
            f"Signed in as {email}", timeout=UI_TIMEOUT_MS
        )

        # Sign out with Stytch out of reach: the error, and a way out.
        emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", drop=True, times=1000)
        widget.locator(".stytch-sign-out").click()
        expect(widget.locator(".stytch-error .stytch-plain")).to_contain_text(
            "Could not reach Stytch", timeout=UI_TIMEOUT_MS
        )
        expect(widget).to_have_class(has_class("stytch-signed-in"))
        forget = widget.locator(".stytch-forget")
        expect(forget).to_be_enabled()
        forget.click()
        expect(widget.locator(".stytch-status")).to_have_text("Signed out", timeout=UI_TIMEOUT_MS)
        expect(widget.locator(".stytch-info")).to_contain_text("Forgotten on this machine")
        check = lab.run_cell_source("print(stytch.status)")
        lab.wait_for_output_text(check, "signed_out")
    finally:
        emulator.clear_faults()


def test_inputs_have_names_and_messages_sit_in_a_live_region(
    stytch_lab: Lab, emulator: Emulator
) -> None:
    lab, email = stytch_lab, "a11y@example.com"
    widget = open_with_widget(lab, "a11y.ipynb")
    email_input = field(widget, "stytch-email")
    expect(email_input).to_have_accessible_name("Email address")
    expect(widget.get_by_role("button", name="Send code")).to_be_visible()
    email_input.fill(email)
    email_input.press("Enter")
    code_input = field(widget, "stytch-code")
    expect(code_input).to_have_accessible_name("Code from the email", timeout=UI_TIMEOUT_MS)
    code_input.fill("000000" if emulator.last_otp(email)[1] != "000000" else "111111")
    code_input.press("Enter")
    expect(widget.locator(".stytch-error")).to_be_visible(timeout=UI_TIMEOUT_MS)
    for cls in ("stytch-status", "stytch-info", "stytch-error"):
        assert in_live_region(widget.locator(f".{cls}")), cls
    expect(widget.locator(".stytch-status")).to_have_attribute("role", "status")
    expect(code_input).to_be_focused()  # back where the user can type the right one


def shoot(lab: Lab, widget: Locator, name: str, ratios: dict[str, float]) -> None:
    """A screenshot of the widget, the contrast of its visible texts, and its width."""
    widget.screenshot(path=str(lab.artifacts_dir / f"widget-{name}.png"))
    for cls in ("stytch-status", "stytch-error", "stytch-info", "stytch-reason"):
        part = widget.locator(f".{cls}")
        if part.is_visible():
            text = part if cls == "stytch-status" else part.locator(".stytch-plain").first
            ratios[f"{name} {cls}"] = contrast(text)
    box = widget.bounding_box()
    assert box is not None and box["width"] < 600, (name, box)


def test_themes_contrast_width_and_a_screenshot_of_each_state(
    stytch_lab: Lab, emulator: Emulator
) -> None:
    lab = stytch_lab
    widget = open_with_widget(lab, "themes.ipynb")
    ratios: dict[str, float] = {}
    try:
        for theme in ("light", "dark"):
            set_theme(lab, theme)
            email = f"{theme}@example.com"

            def shot(state: str, theme: str = theme) -> None:
                shoot(lab, widget, f"{theme}-{state}", ratios)

            expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
            shot("signed-out")
            field(widget, "stytch-email").fill(email)
            field(widget, "stytch-email").press("Enter")
            expect(widget.locator(".stytch-info")).to_be_visible(timeout=UI_TIMEOUT_MS)
            shot("code-sent")
            _, code = emulator.last_otp(email)
            field(widget, "stytch-code").fill("000000" if code != "000000" else "111111")
            field(widget, "stytch-code").press("Enter")
            expect(widget.locator(".stytch-error")).to_be_visible(timeout=UI_TIMEOUT_MS)
            widget.locator(".stytch-error summary").click()
            shot("wrong-code")
            emulator.add_fault(path_prefix="/sdk/v1/otps/authenticate", latency_ms=1500)
            field(widget, "stytch-code").fill(code)
            field(widget, "stytch-code").press("Enter")
            expect(widget).to_have_class(has_class("stytch-busy"), timeout=UI_TIMEOUT_MS)
            expect(widget.locator(".stytch-sign-in")).to_have_text("Signing in…")
            shot("busy")
            expect(widget).to_have_class(has_class("stytch-signed-in"), timeout=UI_TIMEOUT_MS)
            widget.locator(".stytch-refresh").click()
            expect(widget.locator(".stytch-info")).to_contain_text(
                "Checked with Stytch at", timeout=UI_TIMEOUT_MS
            )
            shot("signed-in-refreshed")
            widget.locator(".stytch-extend").click()
            expect(widget.locator(".stytch-info")).to_contain_text(
                "Extended: now expires", timeout=UI_TIMEOUT_MS
            )
            # A dropped connection: the longest error there is, details opened.
            emulator.add_fault(path_prefix="/sdk/v1/sessions/revoke", drop=True, times=1000)
            widget.locator(".stytch-sign-out").click()
            expect(widget.locator(".stytch-error")).to_be_visible(timeout=UI_TIMEOUT_MS)
            widget.locator(".stytch-error summary").click()
            expect(widget.locator(".stytch-error .stytch-detail")).to_be_visible()
            shot("sign-out-failed")
            widget.locator(".stytch-forget").click()
            expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
            shot("forgotten")
            emulator.clear_faults()
        low = {name: ratio for name, ratio in ratios.items() if ratio < 4.5}
        assert not low, low
        assert any(name.startswith("dark") and "error" in name for name in ratios), ratios
        assert any(name.startswith("light") and "error" in name for name in ratios), ratios
    finally:
        emulator.clear_faults()
        set_theme(lab, "light")
    (lab.artifacts_dir / "widget-contrast.json").write_text(json.dumps(ratios, indent=1))


def test_checking_and_closed_states_in_both_themes(stytch_lab: Lab, emulator: Emulator) -> None:
    lab = stytch_lab
    try:
        widget = stuck_checking(lab, emulator, "checking@example.com")
        ratios: dict[str, float] = {}
        for theme in ("light", "dark"):
            set_theme(lab, theme)
            shoot(lab, widget, f"{theme}-checking", ratios)
        lab.run_cell_source("%unload_ext stytch_jupyter")
        expect(widget).to_have_class(has_class("stytch-closed"), timeout=UI_TIMEOUT_MS)
        for theme in ("light", "dark"):
            set_theme(lab, theme)
            shoot(lab, widget, f"{theme}-closed", ratios)
        assert len(ratios) >= 6 and min(ratios.values()) >= 4.5, ratios
    finally:
        emulator.clear_faults()
        set_theme(lab, "light")


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
    expect(widget.locator(".stytch-reason .stytch-plain")).to_have_text(
        "You signed out.", timeout=UI_TIMEOUT_MS
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
