"""In a real kernel, the cell after ``%load_ext`` never sees a stored session as signed out, and
can wait until it has been checked (issue 8, item 5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL, PASSWORD
from tests.support.kernel_cells import execute
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager

pytestmark = pytest.mark.kernel


@pytest.fixture
def client(emulator: Emulator, tmp_path: Path) -> Iterator[BlockingKernelClient]:
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
            yield made
        finally:
            made.stop_channels()
            manager.shutdown_kernel(now=True)


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
