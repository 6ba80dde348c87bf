"""The session widget on a B2B project in a real JupyterLab, driven through Debian's Chromium.

What a member does is done as they do it, in the widget on the page: the discovery form (an
emailed code, or the emailed link pasted in), the organization picker, the MFA step (the code
an authenticator app shows, computed here from the member's TOTP secret), and switching
organizations from the signed-in widget. The test plays the member's mailbox (the emulator's
outbox) and an admin (the emulator's control API). Afterwards, the saved notebooks and every
widget state in the kernel hold no intermediate session token, code, TOTP secret or recovery
code. Screenshots of each new state go to the artifacts folder (``widget-b2b-*.png``).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, expect

from stytch_jupyter.emulator import Emulator
from tests.support.secret_scan import assert_no_secrets, collect_emulator_secrets
from tests.support.totp import totp_now

from .jupyterlab import JupyterLabServer, ServerFactory, poll_until
from .lab import Lab, LabFactory
from .test_session_widget import CONTRAST_JS, set_theme

pytestmark = pytest.mark.browser

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
LOAD = "%load_ext stytch_jupyter"
SHOW = "stytch.widget()"
UI_TIMEOUT_MS = 30_000
EMAIL = "ada@acme.test"

# Every secret the emulator issued (ISTs, codes, TOTP secrets, recovery codes, tokens), looked
# for in every widget's state in the kernel. Prints counts, never a secret.
KERNEL_WIDGET_SCAN = """\
import json, os, httpx
from ipywidgets.widgets.widget import _instances
issued = httpx.get(os.environ["STYTCH_API_URL"] + "/emulator/v1/issued", trust_env=False).json()
secrets = [s for values in issued.values() for s in values if len(s) >= 6]
kinds = sorted(k for k, v in issued.items() if v)
states = [json.dumps(w.get_state(), default=str) for w in list(_instances.values())]
found = sum(s in state for s in secrets for state in states)
print(f"widgets={len(states)} secrets={len(secrets)} found={found} kinds={','.join(kinds)}")
"""


@pytest.fixture(scope="module")
def b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as emu:
        yield emu


@pytest.fixture(scope="module")
def b2b_server(jupyter_lab_factory: ServerFactory, b2b: Emulator) -> Iterator[JupyterLabServer]:
    server = jupyter_lab_factory(
        {"STYTCH_API_URL": b2b.api_url, "STYTCH_PUBLIC_TOKEN": b2b.public_token}, name="b2b"
    )
    profile = server.ipython_dir / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text('c.Stytch.token_store = "file"\n')
    yield server
    server.stop()


@pytest.fixture
def b2b_lab(lab_factory: LabFactory, b2b_server: JupyterLabServer, b2b: Emulator) -> Lab:
    with b2b_server.api() as client:
        poll_until(
            lambda: client.get("/api/kernels").json() == [],
            timeout=30,
            message="a previous scenario's kernel is still running",
        )
    if b2b_server.stytch_data_dir.exists():
        shutil.rmtree(b2b_server.stytch_data_dir)
    b2b.reset()
    return lab_factory(b2b_server, name="b2b")


def has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def open_widget(lab: Lab, path: str) -> Locator:
    lab.open_notebook(path, [LOAD, SHOW])
    lab.run_cell(0)
    lab.run_cell(1)
    widget = lab.output(1).locator(".stytch-session-widget")
    expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
    return widget


def shoot(lab: Lab, widget: Locator, name: str) -> None:
    widget.screenshot(path=str(lab.artifacts_dir / f"widget-b2b-{name}.png"))
    box = widget.bounding_box()
    assert box is not None and box["width"] < 600, (name, box)


# The widget re-renders (its ticker, a late answer), replacing its nodes, and Lab swaps its
# theme's stylesheet: the contrast is read from a node still in the page whose colours are plain
# rgb values, in the same JavaScript turn (null until then).
SETTLED_CONTRAST_JS = f"""(el) => {{
    const rgb = (c) => /^rgba?\\(/.test(c);
    if (!el.isConnected || !rgb(getComputedStyle(el).color)) return null;
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {{
        if (!rgb(getComputedStyle(node).backgroundColor)) return null;
    }}
    return ({CONTRAST_JS})(el);
}}"""


def settled_contrast(part: Locator) -> float:
    def read() -> float | None:
        try:
            ratio: float | None = part.evaluate(SETTLED_CONTRAST_JS)
        except PlaywrightError:  # the node went away between finding it and reading it
            return None
        return ratio

    return poll_until(read, timeout=UI_TIMEOUT_MS / 1000, message="colours never settled")


# Records, every animation frame, what the widget shows: one state change must be one render.
SAMPLE_FRAMES_JS = """(root) => {
    window.__stytchFrames = [];
    window.__stytchSampling = true;
    const has = (sel) => !!root.querySelector(sel);
    const sample = () => {
        window.__stytchFrames.push({
            cls: root.className,
            status: (root.querySelector('.stytch-status') || {}).textContent || '',
            email: has('input.stytch-email'),
            orgs: has('.stytch-orgs'),
            mfa: has('.stytch-mfa'),
            rows: has('.stytch-rows'),
        });
        if (window.__stytchSampling) requestAnimationFrame(sample);
    };
    requestAnimationFrame(sample);
}"""

# What each state shows, and nothing of another: (status pattern, email, picker, MFA, rows).
FRAME_SHAPES = {
    "stytch-signed-out": (r"^Signed out$", True, False, False, False),
    "stytch-needs-organization": (r"^Choose an organization$", False, True, False, False),
    "stytch-needs-mfa": (r"asks for a second factor$", False, False, True, False),
    "stytch-signed-in": (r"^Signed in as ", False, False, False, True),
}


def frame_kinds(lab: Lab) -> list[str]:
    """Stop sampling; check every frame against its state's shape; the states seen, in order."""
    frames = lab.page.evaluate(
        "() => { window.__stytchSampling = false; return window.__stytchFrames; }"
    )
    kinds: list[str] = []
    for frame in frames:
        (kind,) = [k for k in FRAME_SHAPES if has_class(k).search(frame["cls"])]
        status, email, orgs, mfa, rows = FRAME_SHAPES[kind]
        assert re.search(status, frame["status"]), frame
        assert (frame["email"], frame["orgs"], frame["mfa"], frame["rows"]) == (
            email,
            orgs,
            mfa,
            rows,
        ), frame
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    return kinds


def pick(widget: Locator, slug: str) -> Locator:
    return widget.locator(f".stytch-pick[data-org={slug!r}]")


def discover_by_code(lab: Lab, widget: Locator, b2b: Emulator, *, shots: bool = False) -> None:
    """Email, Send code, the code from the mailbox, Continue: the picker opens."""
    email = widget.locator("input.stytch-email")
    expect(email).to_have_accessible_name("Email address")
    expect(widget.locator("input.stytch-org-slug")).to_have_accessible_name(
        "Organization (optional: leave empty to find yours)"
    )
    expect(widget.locator(".stytch-send-link")).to_be_visible()
    if shots:
        shoot(lab, widget, "signed-out")
    email.fill(EMAIL)
    email.press("Enter")  # Enter sends a code, as in the consumer widget
    code_input = widget.locator("input.stytch-code")
    expect(code_input).to_be_focused(timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-info")).to_have_text(
        f"Code sent to {EMAIL} (the emulator's mailbox shows it: {b2b.api_url}/)"
    )
    if shots:
        shoot(lab, widget, "code-sent")
    code_input.fill(b2b.last_otp(EMAIL)[1])
    widget.locator(".stytch-sign-in").click()
    expect(widget).to_have_class(has_class("stytch-needs-organization"), timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-status")).to_have_text("Choose an organization")


def scan_kernel_widgets(lab: Lab, *kinds: str) -> None:
    index = lab.run_cell_source(KERNEL_WIDGET_SCAN)
    lab.wait_for_output_text(index, "found=")
    text = lab.output_text(index)
    assert "found=0 " in text, text
    for kind in ("intermediate_session_tokens", "session_tokens", *kinds):
        assert kind in text, text  # the scan looked for these


def save_and_scan(lab: Lab, b2b: Emulator, *extra: str) -> Path:
    saved = lab.save()
    notebook = nbformat.read(saved, as_version=4)
    state = json.dumps(notebook.metadata["widgets"][WIDGET_STATE])
    assert "stytch-session-widget" in state and '"vertical": "b2b"' in state
    secrets = collect_emulator_secrets(b2b, extra={f"typed #{i}": s for i, s in enumerate(extra)})
    assert any(label.startswith("intermediate_session_token") for label in secrets)
    assert_no_secrets(secrets, files=[saved], texts={"page HTML": lab.page.content()})
    return saved


# -- scenarios -----------------------------------------------------------------------------------


def test_discovery_picker_signed_in_and_switching(b2b_lab: Lab, b2b: Emulator) -> None:
    lab = b2b_lab
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL, name="Ada Lovelace")
    b2b.create_member("globex", EMAIL, status="pending")
    widget = open_widget(lab, "b2b-discovery.ipynb")
    widget.evaluate(SAMPLE_FRAMES_JS)
    discover_by_code(lab, widget, b2b, shots=True)

    expect(widget.locator(".stytch-org")).to_have_count(2)
    expect(widget.locator(".stytch-org-note")).to_have_text(["pending"])
    expect(widget.locator(".stytch-create-org")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-start-over")).to_be_enabled()
    expect(widget.locator("input.stytch-email")).to_have_count(0)  # one state at a time
    shoot(lab, widget, "picker")

    pick(widget, "acme").click()
    status = widget.locator(".stytch-status")
    expect(status).to_have_text(f"Signed in as {EMAIL}", timeout=UI_TIMEOUT_MS)
    expect(widget).to_have_class(has_class("stytch-signed-in"))
    expect(widget.locator(".stytch-member")).to_have_text("Ada Lovelace")
    expect(widget.locator(".stytch-organization")).to_have_text("Acme (acme)")
    expect(widget.locator(".stytch-org")).to_have_count(0)
    assert frame_kinds(lab) == [
        "stytch-signed-out",
        "stytch-needs-organization",
        "stytch-signed-in",
    ]
    for cls in ("stytch-refresh", "stytch-extend", "stytch-switch", "stytch-sign-out"):
        expect(widget.locator(f".{cls}")).to_be_enabled()
    shoot(lab, widget, "signed-in")
    index = lab.run_cell_source("print(stytch.organization.organization_slug)")
    lab.wait_for_output_text(index, "acme")

    widget.locator(".stytch-switch").click()
    expect(widget.locator(".stytch-org")).to_have_count(2, timeout=UI_TIMEOUT_MS)
    expect(pick(widget, "acme")).to_have_attribute("aria-current", "true")
    shoot(lab, widget, "switch")
    pick(widget, "globex").click()
    expect(widget.locator(".stytch-organization")).to_have_text(
        "Globex (globex)", timeout=UI_TIMEOUT_MS
    )
    expect(widget.locator(".stytch-org")).to_have_count(0)
    index = lab.run_cell_source("print(stytch.status, stytch.organization.organization_slug)")
    lab.wait_for_output_text(index, "signed_in globex")
    scan_kernel_widgets(lab, "otp_codes")
    save_and_scan(lab, b2b)


def test_an_mfa_organization_from_a_pasted_link_then_the_totp_code(
    b2b_lab: Lab, b2b: Emulator
) -> None:
    lab = b2b_lab
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    member = b2b.create_member("vault", EMAIL, name="Ada", totp=True)
    widget = open_widget(lab, "b2b-mfa.ipynb")

    # The emailed link this time: Send link, then the link opened in another tab, as from the
    # mail; its redirect comes back to the kernel through the Jupyter server by itself.
    widget.locator("input.stytch-email").fill(EMAIL)
    widget.locator(".stytch-send-link").click()
    expect(widget.locator(".stytch-info")).to_have_text(
        f"Link sent to {EMAIL}: open it; this widget goes on by itself (or paste the address "
        "it opens below).",
        timeout=UI_TIMEOUT_MS,
    )
    expect(widget.locator("input.stytch-paste")).to_be_focused()
    link = b2b.last_magic_link(EMAIL)
    assert "/stytch-jupyter/callback?" in link and "stytch_token_type=discovery" in link
    mail = lab.page.context.new_page()
    try:
        mail.goto(link)
        expect(mail.locator("body")).to_contain_text(
            f"Found 1 organization for {EMAIL}", timeout=UI_TIMEOUT_MS
        )
    finally:
        mail.close()
    expect(widget).to_have_class(has_class("stytch-needs-organization"), timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-info")).to_be_hidden()
    expect(widget.locator(".stytch-org-note")).to_have_text(["MFA required"])

    widget.evaluate(SAMPLE_FRAMES_JS)
    pick(widget, "vault").click()
    expect(widget).to_have_class(has_class("stytch-needs-mfa"), timeout=UI_TIMEOUT_MS)
    expect(widget.locator(".stytch-status")).to_have_text("Vault asks for a second factor")
    code_input = widget.locator("input.stytch-mfa-code")
    expect(code_input).to_have_accessible_name("Code from your authenticator app")
    expect(code_input).to_have_attribute("type", "password")
    expect(widget.locator(".stytch-use-recovery")).to_be_enabled()
    expect(widget.locator(".stytch-start-over")).to_be_enabled()
    shoot(lab, widget, "mfa")

    code_input.fill("000000" if totp_now(member["totp_secret"]) != "000000" else "111111")
    code_input.press("Enter")
    expect(widget.locator(".stytch-error .stytch-plain")).to_have_text(
        "That code is wrong. Check your authenticator app and try again.",
        timeout=UI_TIMEOUT_MS,
    )
    expect(code_input).to_have_value("")  # cleared as it was sent
    shoot(lab, widget, "mfa-wrong-code")

    code = totp_now(member["totp_secret"])
    # Computed here from the secret alone; the emulator's own answer agrees (and records it, so
    # the kernel's scan looks for it too).
    assert code == b2b.totp_code("vault", member["member_id"])
    code_input.fill(code)
    widget.locator(".stytch-verify").click()
    expect(widget.locator(".stytch-status")).to_have_text(
        f"Signed in as {EMAIL}", timeout=UI_TIMEOUT_MS
    )
    expect(widget.locator(".stytch-organization")).to_have_text("Vault (vault)")
    expect(widget.locator(".stytch-error")).to_be_hidden()
    kinds = frame_kinds(lab)
    assert kinds == ["stytch-needs-organization", "stytch-needs-mfa", "stytch-signed-in"]
    shoot(lab, widget, "signed-in-after-mfa")
    scan_kernel_widgets(lab, "magic_link_tokens", "mfa_codes", "totp_secrets", "recovery_codes")
    save_and_scan(lab, b2b, code, member["totp_secret"], *member["recovery_codes"])


def test_picker_and_mfa_step_in_both_themes(b2b_lab: Lab, b2b: Emulator) -> None:
    lab = b2b_lab
    b2b.create_organization("Acme", "acme", sso_connections=[{"display_name": "Okta"}])
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("acme", EMAIL, status="invited")
    b2b.create_member("vault", EMAIL, mfa_phone_number="+15555550100")
    widget = open_widget(lab, "b2b-themes.ipynb")
    discover_by_code(lab, widget, b2b)
    expect(widget.locator(".stytch-sso")).to_have_count(1)  # Acme has an SSO connection
    ratios: dict[str, float] = {}

    def measure(state: str) -> None:
        for theme in ("light", "dark"):
            set_theme(lab, theme)
            shoot(lab, widget, f"{theme}-{state}")
            for cls in (
                "stytch-status",
                "stytch-orgs-label",
                "stytch-org-note",
                "stytch-org-slug-text",
                "stytch-mfa-hint",
            ):
                for index, part in enumerate(widget.locator(f".{cls}").all()):
                    ratios[f"{theme} {state} {cls} #{index}"] = settled_contrast(part)

    try:
        measure("picker")
        pick(widget, "vault").click()
        expect(widget.locator(".stytch-mfa-hint")).to_have_text(
            re.compile(r"^A code was texted to "), timeout=UI_TIMEOUT_MS
        )
        expect(widget.locator("input.stytch-mfa-code")).to_have_accessible_name(
            "Code from the text message"
        )
        measure("mfa-sms")
    finally:
        set_theme(lab, "light")
    (lab.artifacts_dir / "widget-b2b-contrast.json").write_text(json.dumps(ratios, indent=1))
    for cls in ("org-note", "org-slug-text", "mfa-hint"):
        assert any(cls in key for key in ratios), cls
    low = {key: ratio for key, ratio in ratios.items() if ratio < 4.5}
    assert not low, low

    # Every half-way state has a way out: Start over goes back to the email form.
    widget.locator(".stytch-start-over").click()
    expect(widget).to_have_class(has_class("stytch-signed-out"), timeout=UI_TIMEOUT_MS)
    expect(widget.locator("input.stytch-email")).to_be_visible()
    expect(widget.locator(".stytch-reason")).to_have_count(0)
    index = lab.run_cell_source("print(stytch.status, stytch.intermediate_session_token)")
    lab.wait_for_output_text(index, "signed_out None")


def test_continue_with_sso_from_the_picker(b2b_lab: Lab, b2b: Emulator) -> None:
    lab = b2b_lab
    b2b.create_organization("Acme", "acme", sso_connections=[{"display_name": "Okta"}])
    b2b.create_organization("Globex", "globex")
    b2b.create_member("acme", EMAIL)
    b2b.create_member("globex", EMAIL)
    widget = open_widget(lab, "b2b-sso.ipynb")
    discover_by_code(lab, widget, b2b)
    sso = widget.locator(".stytch-org").filter(has_text="Acme").locator(".stytch-sso")
    expect(sso).to_have_text("Continue with SSO")
    expect(widget.locator(".stytch-sso")).to_have_count(1)  # Globex has no connection
    with lab.page.expect_popup() as opened:
        sso.click()
    popup = opened.value
    expect(widget.locator(".stytch-info")).to_contain_text(
        "Sign in to acme in the window that opened", timeout=UI_TIMEOUT_MS
    )
    shoot(lab, widget, "sso-started")
    popup.wait_for_selector("#approve", timeout=UI_TIMEOUT_MS)
    popup.fill("#email", EMAIL)
    popup.click("#approve")
    popup.wait_for_url("**/stytch-jupyter/callback?**", timeout=UI_TIMEOUT_MS)
    expect(popup.locator("body")).to_contain_text(f"Signed in as {EMAIL} in acme")
    expect(widget.locator(".stytch-status")).to_have_text(
        f"Signed in as {EMAIL}", timeout=UI_TIMEOUT_MS
    )
    expect(widget.locator(".stytch-organization")).to_have_text("Acme (acme)")
    expect(widget.locator(".stytch-info")).to_be_hidden()
    scan_kernel_widgets(lab, "otp_codes")
    save_and_scan(lab, b2b)
