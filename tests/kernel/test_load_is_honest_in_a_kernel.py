"""In a real kernel, the cell after ``%load_ext`` never sees a stored session as signed out, and
can wait until it has been checked (issue 8, item 5)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL, PASSWORD
from tests.support.kernel_cells import execute
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager

pytestmark = pytest.mark.kernel


@pytest.fixture
def kernel(
    emulator: Emulator, tmp_path: Path
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    home = KernelHome(tmp_path).create()
    manager = kernel_manager(home, "honest")
    with (tmp_path / "kernel.log").open("wb") as log:
        manager.start_kernel(
            env=kernel_env(home, emulator.api_url, emulator.public_token), stdout=log, stderr=log
        )
        made = manager.client()
        made.start_channels()
        try:
            made.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            yield manager, made
        finally:
            made.stop_channels()
            manager.shutdown_kernel(now=True)


@pytest.fixture
def client(kernel: tuple[KernelManager, BlockingKernelClient]) -> BlockingKernelClient:
    return kernel[1]


def sign_in_and_unload(client: BlockingKernelClient, emulator: Emulator) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    signed = execute(
        client,
        f"%load_ext stytch_jupyter\nstytch.passwords.authenticate({EMAIL!r}, {PASSWORD!r})\n"
        "%unload_ext stytch_jupyter",
    )
    assert signed.error is None, signed.text


def test_the_cell_after_load_ext_sees_checking_then_signed_in(
    client: BlockingKernelClient, emulator: Emulator
) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    signed = execute(
        client,
        f"%load_ext stytch_jupyter\nstytch.passwords.authenticate({EMAIL!r}, {PASSWORD!r})\n"
        "%unload_ext stytch_jupyter",
    )
    assert signed.error is None, signed.text
    # The kernel's next "Run All": %load_ext in one cell, the session read in the next.
    loaded = execute(client, "%load_ext stytch_jupyter")
    assert loaded.error is None, loaded.text
    cell = execute(
        client,
        "import json\n"
        "first = [stytch.status, stytch.signed_in]\n"
        "checked = stytch.wait_until_checked(timeout=20)\n"
        "print(json.dumps([first, checked, stytch.status]))",
    )
    assert cell.error is None, cell.text
    first, checked, after = json.loads(cell.text.strip().splitlines()[-1])
    assert first[0] in ("unconfirmed", "signed_in"), first  # never "signed_out"
    assert checked is True and after == "signed_in"


def test_status_wait_in_the_cell_after_load_ext_shows_the_checked_session(
    client: BlockingKernelClient, emulator: Emulator
) -> None:
    sign_in_and_unload(client, emulator)
    # The check of the stored session takes a while: without --wait, cell 2 would say
    # "checking the stored session…".
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", latency_ms=1500)
    loaded = execute(client, "%load_ext stytch_jupyter")
    assert loaded.error is None, loaded.text
    cell = execute(client, "%stytch status --wait")
    assert cell.error is None, cell.text
    assert cell.text.startswith(f"Stytch session: signed in as {EMAIL}"), cell.text
    assert emulator.control.faults() == []  # it was checked, through the slow reply


def test_status_wait_times_out_with_a_line_and_ctrl_c_is_one_line(
    kernel: tuple[KernelManager, BlockingKernelClient], emulator: Emulator
) -> None:
    manager, client = kernel
    sign_in_and_unload(client, emulator)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", latency_ms=30_000)
    assert execute(client, "%load_ext stytch_jupyter").error is None
    late = execute(client, "%stytch status --wait 0.5")
    assert late.error is None, late.text
    assert "Still checking the stored session after 0.5 s." in late.text
    assert "Stytch session: checking the stored session" in late.text

    msg_id = client.execute('print("waiting", flush=True)\n%stytch status --wait 60')
    deadline = time.monotonic() + 60
    texts: list[str] = []
    error = None
    interrupted = False
    while time.monotonic() < deadline:
        try:
            message = client.get_iopub_msg(timeout=0.1)
        except Exception:  # queue.Empty
            continue
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            texts.append(content["text"])
            if "waiting" in content["text"] and not interrupted:
                time.sleep(0.5)  # the magic is waiting by now
                manager.interrupt_kernel()
                interrupted = True
        elif kind == "error":
            error = content
        elif kind == "status" and content["execution_state"] == "idle":
            break
    assert interrupted and error is not None, texts
    assert error["traceback"] == ["Cancelled: cancelled: stopped waiting"]
