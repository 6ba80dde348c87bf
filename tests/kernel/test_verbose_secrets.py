"""Under ``%xmode Verbose`` (tracebacks that print every frame's locals), no typed password,
code or session token shows: a real kernel, getpass answered over the stdin channel, the
emulator behind the tests' own hostile server (issue 8, item 7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL, PASSWORD
from tests.support.hostile_server import HostileServer, hang, json_reply
from tests.support.kernel_cells import execute
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager
from tests.support.secret_scan import assert_no_secrets, collect_emulator_secrets
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kernel


# Prints vars() of `stytch` and, breadth first, of every object of this project reachable
# through attributes, dicts, lists and tuples (what a curious user or a debugger would show).
WALK_VARS = """
def _walk(root):
    seen, queue = set(), [root]
    while queue:
        obj = queue.pop(0)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            values = list(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            values = list(obj)
        else:
            values = list(getattr(obj, "__dict__", {}).values())
            print(type(obj).__name__, repr(vars(obj)) if hasattr(obj, "__dict__") else repr(obj))
        for value in values:
            ours = type(value).__module__.startswith("stytch_jupyter")
            if ours or isinstance(value, (dict, list, tuple, set)):
                queue.append(value)
_walk(stytch)
del _walk
"""


@pytest.fixture
def server(emulator: Emulator) -> Iterator[HostileServer]:
    with HostileServer(upstream=emulator.api_url) as running:
        yield running


@pytest.fixture
def kernel(
    server: HostileServer, emulator: Emulator, tmp_path: Path
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    home = KernelHome(tmp_path).create()
    manager = kernel_manager(home, "verbose")
    with (tmp_path / "kernel.log").open("wb") as log:
        manager.start_kernel(
            env=kernel_env(home, server.url, emulator.public_token), stdout=log, stderr=log
        )
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            yield manager, client
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def test_verbose_tracebacks_show_no_secret(
    kernel: tuple[KernelManager, BlockingKernelClient],
    server: HostileServer,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    manager, client = kernel
    emulator.create_user(EMAIL, password=PASSWORD)
    shown: dict[str, str] = {}
    setup = execute(client, "%load_ext stytch_jupyter\n%xmode Verbose")
    assert setup.error is None, setup.text

    # 1. Interrupted while the typed password is on its way to Stytch.
    server.arm("passwords/authenticate", hang(), times=1)

    def type_password_then_interrupt(request: dict[str, Any]) -> None:
        client.input(PASSWORD)
        wait_for(lambda: any("passwords/authenticate" in p for p in server.requests))
        manager.interrupt_kernel()

    cell = execute(client, f"%stytch login password --email {EMAIL}", type_password_then_interrupt)
    assert cell.error is not None and cell.error["ename"] == "KeyboardInterrupt"
    shown["interrupted request"] = cell.text

    # 2. Interrupted at the prompt itself: one line, no traceback.
    cell = execute(
        client, f"%stytch login otp --email {EMAIL}", lambda request: manager.interrupt_kernel()
    )
    assert cell.error is not None
    assert cell.error["traceback"] == ["Cancelled: cancelled: nothing changed"], cell.text
    shown["interrupted prompt"] = cell.text

    # 3. Signed in for real, then a Python-API call that fails at Stytch with the code sent.
    cell = execute(
        client, f"%stytch login password --email {EMAIL}", lambda r: client.input(PASSWORD)
    )
    assert cell.error is None and "Signed in" in cell.text, cell.text
    code_file = tmp_path / "code.txt"
    cell = execute(client, f"method_id = stytch.otps.email.login_or_create({EMAIL!r})")
    assert cell.error is None, cell.text
    code_file.write_text(emulator.last_otp(EMAIL)[1])
    server.arm("otps/authenticate", json_reply(400, {"error_type": "otp_code_not_found"}))
    cell = execute(client, f"stytch.otps.authenticate(open({str(code_file)!r}).read())")
    assert cell.error is not None and cell.error["ename"] == "StytchAPIError", cell.text
    assert "otp_code_not_found" in cell.text
    shown["failed otps.authenticate"] = cell.text

    # 4. What the namespace holds: vars() of the object and of every object of ours under it.
    cell = execute(client, WALK_VARS)
    assert cell.error is None, cell.text
    assert "StoreSync" in cell.text and "EncryptedFileStore" in cell.text, cell.text
    shown["vars(stytch)"] = cell.text

    secrets = collect_emulator_secrets(emulator, extra={"password": PASSWORD})
    assert any(label.startswith("session_token") for label in secrets), secrets.keys()
    assert_no_secrets(secrets, texts=shown)
