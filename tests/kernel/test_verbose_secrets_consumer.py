"""Under ``%xmode Verbose``, failing and interrupted ``%stytch login totp`` and ``%stytch password
reset`` show no secret: not the typed codes, recovery codes or passwords, not the reset link's
token, not the TOTP secret. A real kernel, getpass answered over the stdin channel, the emulator
behind the tests' own hostile server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL, PASSWORD
from tests.ipython.test_magics_consumer import totp_code
from tests.kernel.test_verbose_secrets import WALK_VARS, kernel, server  # noqa: F401 (fixtures)
from tests.support.hostile_server import HostileServer, hang, json_reply
from tests.support.kernel_cells import execute
from tests.support.secret_scan import assert_no_secrets, collect_emulator_secrets
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kernel

STRONGER = "Analytical Engine, 1843: notes G"
WEAK = "password1"


def answers(client: BlockingKernelClient, *values: str | Callable[[], str]) -> Any:
    """Answer the cell's prompts in turn (a callable is asked when its prompt comes)."""
    queue = list(values)

    def on_input(request: dict[str, Any]) -> None:
        value = queue.pop(0)
        client.input(value() if callable(value) else value)

    return on_input


def test_failing_totp_and_password_reset_show_no_secret_verbose(
    kernel: tuple[KernelManager, BlockingKernelClient],  # noqa: F811
    server: HostileServer,  # noqa: F811
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    manager, client = kernel

    def requests_to(suffix: str) -> int:
        return sum(1 for path in list(server.requests) if path.split("?")[0].endswith(suffix))

    emulator.create_user(EMAIL, password=PASSWORD)
    shown: dict[str, str] = {}
    typed: dict[str, str] = {"password": PASSWORD, "new password": STRONGER, "weak": WEAK}
    setup = execute(client, "%load_ext stytch_jupyter\n%xmode Verbose")
    assert setup.error is None, setup.text
    cell = execute(client, f"%stytch login password --email {EMAIL}", answers(client, PASSWORD))
    assert cell.error is None and "Signed in" in cell.text, cell.text

    # TOTP: enrolled from Python, its secret and codes shown only when revealed.
    cell = execute(client, "enrollment = stytch.totps.create()\nprint(enrollment)\nenrollment")
    assert cell.error is None and "secret=<hidden>" in cell.text, cell.text
    shown["enrollment"] = cell.text
    secret = emulator.issued()["totp_secrets"][-1]
    now = emulator.advance_clock(0)

    # 1. A code from the wrong window: refused, one line.
    typed["wrong-window code"] = totp_code(secret, now + timedelta(seconds=90))
    cell = execute(client, "%stytch login totp", answers(client, typed["wrong-window code"]))
    assert cell.error is not None and "invalid_totp_code" in cell.text, cell.text
    shown["wrong window"] = cell.text

    # 2. Interrupted while the right code is on its way to Stytch: a verbose traceback.
    typed["totp code"] = totp_code(secret, emulator.advance_clock(0))
    server.arm("totps/authenticate", hang(), times=1)

    def code_then_interrupt(request: dict[str, Any]) -> None:
        before = requests_to("totps/authenticate")
        client.input(typed["totp code"])
        wait_for(lambda: requests_to("totps/authenticate") > before)
        manager.interrupt_kernel()

    cell = execute(client, "%stytch login totp", code_then_interrupt)
    assert cell.error is not None and cell.error["ename"] == "KeyboardInterrupt", cell.text
    shown["interrupted totp"] = cell.text

    # 3. A real recovery code that Stytch (here, the hostile server) refuses.
    server.arm("totps/recover", json_reply(400, {"error_type": "invalid_recovery_code"}), times=1)
    recovery = emulator.issued()["totp_recovery_codes"][0]
    cell = execute(client, "%stytch login totp --recovery", answers(client, recovery))
    assert cell.error is not None and "invalid_recovery_code" in cell.text, cell.text
    shown["refused recovery"] = cell.text

    # 4. A password reset interrupted on the way, after the link and new password were typed.
    server.arm("passwords/email/reset", hang(), times=1)

    def link() -> str:
        return emulator.last_password_reset(EMAIL)

    prompts = answers(client, link)

    def link_password_interrupt(request: dict[str, Any]) -> None:
        if "Reset link" in request["prompt"]:
            prompts(request)
            return
        before = requests_to("passwords/email/reset")
        client.input(STRONGER)
        wait_for(lambda: requests_to("passwords/email/reset") > before)
        manager.interrupt_kernel()

    cell = execute(client, f"%stytch password reset --email {EMAIL}", link_password_interrupt)
    assert cell.error is not None and cell.error["ename"] == "KeyboardInterrupt", cell.text
    shown["interrupted reset"] = cell.text

    # 5. Weak passwords until the command gives up: Stytch's feedback, no password.
    cell = execute(
        client,
        f"%stytch password reset --email {EMAIL}",
        answers(client, link, WEAK, WEAK, WEAK),
    )
    assert cell.error is not None and "weak_password" in cell.text, cell.text
    assert "Stytch would refuse this password" in cell.text
    shown["weak reset"] = cell.text

    # 6. The Python API: the link's token and a weak password, read from files so that the
    # cell's source does not hold them; the verbose traceback shows the call's frames.
    token_file, password_file = tmp_path / "token.txt", tmp_path / "password.txt"
    token_file.write_text(link().split("token=")[1].split("&")[0])
    password_file.write_text(WEAK)
    cell = execute(
        client,
        f"stytch.passwords.reset_by_email(open({str(token_file)!r}).read(), "
        f"open({str(password_file)!r}).read())",
    )
    assert cell.error is not None and cell.error["ename"] == "StytchAPIError", cell.text
    assert "weak_password" in cell.text and "reset_by_email" in cell.text, cell.text
    shown["python reset"] = cell.text

    cell = execute(client, WALK_VARS)
    assert cell.error is None and "Passwords" in cell.text, cell.text
    shown["vars(stytch)"] = cell.text

    secrets = collect_emulator_secrets(emulator, extra=typed)
    assert any(label.startswith("totp_secret") for label in secrets), secrets.keys()
    assert any(label.startswith("totp_recovery_code") for label in secrets), secrets.keys()
    assert_no_secrets(secrets, texts=shown)
