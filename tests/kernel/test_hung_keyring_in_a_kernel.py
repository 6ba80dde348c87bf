"""In a real kernel, a keyring that answers the probe and then hangs (issue 8, item 14): the
sign-in completes within the keyring call's deadline and the session is usable, the keyring is
not asked again, and after ``%unload_ext`` no thread and no process the extension started is
left. The keyring is the real library with a backend of the tests' own, selected with
``PYTHON_KEYRING_BACKEND`` as a user would select one."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL, PASSWORD
from tests.support.fake_keyrings import LOG, callers, calls
from tests.support.kernel_cells import execute
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager
from tests.support.processes import children_of

pytestmark = pytest.mark.kernel

ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "keyring-calls.log"


@pytest.fixture
def client(emulator: Emulator, tmp_path: Path, log: Path) -> Iterator[BlockingKernelClient]:
    home = KernelHome(tmp_path).create()
    env = kernel_env(home, emulator.api_url, emulator.public_token)
    env.update(
        PYTHON_KEYRING_BACKEND="tests.support.fake_keyrings.ProbeThenHang",
        PYTHONPATH=os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]),
        STYTCH_JUPYTER_TOKEN_STORE="auto",
        **{LOG: str(log)},
    )
    manager = kernel_manager(home, "hung-keyring")
    with (tmp_path / "kernel.log").open("wb") as kernel_log:
        manager.start_kernel(env=env, stdout=kernel_log, stderr=kernel_log)
        made = manager.client()
        made.start_channels()
        try:
            made.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            yield made
        finally:
            made.stop_channels()
            manager.shutdown_kernel(now=True)


def last_json(text: str) -> object:
    return json.loads(text.strip().splitlines()[-1])


def test_a_hung_keyring_costs_one_deadline_and_nothing_outlives_unload_ext(
    client: BlockingKernelClient, emulator: Emulator, log: Path
) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    setup = execute(
        client,
        "import json, os, threading\n"
        "before = {t.ident for t in threading.enumerate()}\n"
        # The deadline of a keyring call, 10 s in real use, shortened for the test.
        "import stytch_jupyter.session.keys as keys\n"
        "keys.KEYRING_CALL_TIMEOUT = 2.0\n"
        "print(os.getpid())",
    )
    assert setup.error is None, setup.text
    kernel_pid = int(str(last_json(setup.text)))
    children = children_of(kernel_pid)

    signed = execute(
        client,
        "%load_ext stytch_jupyter\n"
        f"stytch.passwords.authenticate({EMAIL!r}, {PASSWORD!r})\n"
        "print(json.dumps([stytch.signed_in, stytch.last_error]))",
    )
    assert signed.error is None, signed.text
    signed_in, last_error = last_json(signed.text)  # type: ignore[misc]
    assert signed_in is True and "did not answer within 2 s" in last_error
    asked = calls(log)
    assert asked[0] == "get probe" and len(asked) == 2, asked  # the probe, then the key's read

    again = execute(
        client,
        f"stytch.passwords.authenticate({EMAIL!r}, {PASSWORD!r})\n"
        "print(json.dumps([stytch.signed_in, stytch.sessions.authenticate().session.user_id,"
        " stytch.last_error]))",
    )
    assert again.error is None, again.text
    signed_in, user_id, last_error = last_json(again.text)  # type: ignore[misc]
    assert signed_in is True and user_id
    assert "stopped answering earlier" in last_error
    assert calls(log) == asked  # the second write did not ask the hung keyring

    unloaded = execute(
        client,
        "%unload_ext stytch_jupyter\n"
        "print(json.dumps([t.name for t in threading.enumerate() if t.ident not in before]))",
    )
    assert unloaded.error is None, unloaded.text
    assert last_json(unloaded.text) == []
    assert children_of(kernel_pid) == children
    assert kernel_pid not in callers(log)  # asked in the helper process, not in the kernel
