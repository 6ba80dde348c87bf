"""While a cell is busy (``time.sleep``), the heartbeat still notices a session that ended at
Stytch: ``stytch.session`` becomes None and the widget's model sends its new status over iopub
before the cell finishes. One real kernel (jupyter_client), the emulator over loopback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from stytch_jupyter.emulator import Emulator
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager

pytestmark = pytest.mark.kernel

EMAIL = "kay@example.com"
STEP_TIMEOUT = 30.0

SIGN_IN = f"""
import os, threading, time
from stytch_jupyter.emulator import EmulatorControl

stytch.otps.email.login_or_create({EMAIL!r})
with EmulatorControl(os.environ["STYTCH_API_URL"]) as control:
    _, code = control.last_otp({EMAIL!r})
stytch.otps.authenticate(code)
del code
# Observed before the widget exists, so this observer runs before the widget's: by the time
# the widget's update is on the wire, the change is recorded.
changes = []
stytch.observe(
    lambda change: changes.append(
        (time.monotonic(), change["new"] is None, threading.current_thread().name)
    ),
    names="session",
)
w = stytch.widget()
display(w)
print(stytch.status, w.model_id, stytch.session.session_id)
"""

# Sleeps far longer than the test needs: the test interrupts it once it has seen the update.
SLEEP = """
started = time.monotonic()
print("sleeping", flush=True)
try:
    time.sleep(60)
finally:
    ended = time.monotonic()
"""

AFTER = """
when, cleared, thread = changes[-1]
print(stytch.session is None, stytch.status)
print(started < when < ended, cleared, thread)
print(w.state["status"])
print(started, when, ended)
"""


class Kernel:
    """A running kernel and a blocking client, with "run this and give me its stdout"."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient) -> None:
        self.manager = manager
        self.client = client

    def iopub(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail("timed out waiting for the kernel")
        try:
            message: dict[str, Any] = self.client.get_iopub_msg(timeout=remaining)
        except Exception:  # queue.Empty
            pytest.fail("timed out waiting for the kernel")
        return message

    def reply(self, msg_id: str, deadline: float) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail("timed out waiting for an execute_reply")
            reply: dict[str, Any] = self.client.get_shell_msg(timeout=remaining)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def run(self, code: str) -> str:
        """Execute ``code``; its stdout once the kernel is idle again. Fails on an error."""
        msg_id = self.client.execute(code)
        deadline = time.monotonic() + STEP_TIMEOUT
        out: list[str] = []
        while True:
            message = self.iopub(deadline)
            if message["parent_header"].get("msg_id") != msg_id:
                continue  # e.g. the heartbeat's widget updates
            kind, content = message["msg_type"], message["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                pytest.fail(f"{content['ename']}: {content['evalue']} in:\n{code}")
            elif kind == "status" and content["execution_state"] == "idle":
                break
        assert self.reply(msg_id, deadline)["content"]["status"] == "ok"
        return "".join(out)


@pytest.fixture
def kernel(emulator: Emulator, tmp_path: Path) -> Iterator[Kernel]:
    home = KernelHome(tmp_path).create()
    manager = kernel_manager(home, "live")
    with (tmp_path / "kernel.log").open("wb") as log:
        manager.start_kernel(
            env=kernel_env(home, emulator.api_url, emulator.public_token),
            stdout=log,
            stderr=log,
        )
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            yield Kernel(manager, client)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def test_heartbeat_updates_session_and_widget_while_a_cell_sleeps(
    kernel: Kernel, emulator: Emulator
) -> None:
    kernel.run("%load_ext stytch_jupyter\n%config Stytch.heartbeat_interval = 0.5")
    status, status_model, session_id = kernel.run(SIGN_IN).split()
    assert status == "signed_in"

    # stop_on_error=False: the interrupt below must not make the kernel abort the next request.
    sleep_id = kernel.client.execute(SLEEP, stop_on_error=False)
    deadline = time.monotonic() + STEP_TIMEOUT
    revoked = False
    while True:
        message = kernel.iopub(deadline)
        kind, content = message["msg_type"], message["content"]
        ours = message["parent_header"].get("msg_id") == sleep_id
        if ours and kind == "stream" and "sleeping" in content["text"] and not revoked:
            # The cell is in time.sleep now: end the session the way a backend would.
            emulator.revoke_session(session_id=session_id)
            revoked = True
        elif ours and kind == "status" and content["execution_state"] == "idle":
            pytest.fail("the sleeping cell finished before the widget showed the sign-out")
        elif ours and kind == "error":
            pytest.fail(f"the sleeping cell failed: {content['ename']}: {content['evalue']}")
        elif kind == "comm_msg" and content["comm_id"] == status_model:
            # The widget's one synced state: the status line's text is state["status"].
            value = content["data"].get("state", {}).get("state", {}).get("status", "")
            if value.startswith("Signed out"):
                assert revoked, "the widget signed out before the session was revoked"
                break
    # Seen on iopub before the cell's idle status, and the cell has not replied either: the
    # update was sent while the main thread was still inside time.sleep.
    assert not kernel.client.shell_channel.msg_ready(), "the sleeping cell already replied"

    # Rather than wait out the sleep, interrupt it; its `finally` records when it ended.
    kernel.manager.interrupt_kernel()
    reply = kernel.reply(sleep_id, time.monotonic() + STEP_TIMEOUT)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"

    after = kernel.run(AFTER)
    session_gone, span, widget_text = after.splitlines()[:3]
    assert session_gone == "True signed_out"
    # The session trait was cleared between the sleep's start and end, by the session thread.
    assert span == "True True stytch-session", after
    assert widget_text.startswith("Signed out")


CALLBACKS = """
stytch.on_auth_change(lambda token: print("auth change:", "none" if token is None else "token"))
stytch.observe(lambda change: print("status:", change["new"]), names="status")
"""


def test_callback_output_shows_under_the_most_recent_cell(
    kernel: Kernel, emulator: Emulator
) -> None:
    # What the README says: callbacks run on the session thread, and ipykernel files what they
    # print under the cell that ran last, not the one that registered them.
    kernel.run("%load_ext stytch_jupyter\n%config Stytch.heartbeat_interval = 0.5")
    _, _, session_id = kernel.run(SIGN_IN).split()
    registering = kernel.client.execute(CALLBACKS)
    assert kernel.reply(registering, time.monotonic() + STEP_TIMEOUT)["content"]["status"] == "ok"
    later = kernel.client.execute("1 + 1")
    assert kernel.reply(later, time.monotonic() + STEP_TIMEOUT)["content"]["status"] == "ok"

    emulator.revoke_session(session_id=session_id)  # the heartbeat notices and signs out
    deadline = time.monotonic() + STEP_TIMEOUT
    printed: dict[str, str] = {}
    while len(printed) < 2:
        message = kernel.iopub(deadline)
        if message["msg_type"] != "stream":
            continue
        for line in message["content"]["text"].splitlines():
            if line in ("auth change: none", "status: signed_out"):
                printed[line] = message["parent_header"].get("msg_id")
    assert printed == {"auth change: none": later, "status: signed_out": later}
