"""What a consumer session pulls in, in a fresh process: start (the bootstrap asks the project's
kind), sign in, check. No anyio or sniffio (the asyncio transport), no B2B models, no factor
models: each is tens of milliseconds a kernel's first sign-in would wait for."""

from __future__ import annotations

import os
import subprocess
import sys

from stytch_jupyter.emulator import Emulator
from tests.conftest import EMAIL, PASSWORD

NOT_IMPORTED = (
    "sniffio",
    "anyio._backends",
    "anyio._core",
    "anyio.streams",
    "httpcore._backends.anyio",
    "stytch_jupyter.api.b2b_models",
    "stytch_jupyter.api.b2b_client",
    "stytch_jupyter.api.factor_models",
)


def test_a_consumer_session_imports_nothing_it_does_not_use(emulator: Emulator) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    code = f"""
import sys
from stytch_jupyter.config import Stytch
from stytch_jupyter.session import SessionManager

config = Stytch(api_url={emulator.api_url!r}, public_token={emulator.public_token!r},
                token_store="memory")
with SessionManager(config) as manager:
    assert manager.wait_for_vertical(30) and manager.vertical.name == "consumer"
    manager.passwords.authenticate({EMAIL!r}, {PASSWORD!r})
    manager.sessions.authenticate()
    assert manager.status == "signed_in", manager.status
print(sorted(m for m in sys.modules if m.startswith({NOT_IMPORTED!r})))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_load_ext_imports_no_model() -> None:
    # The models' dataclasses were a third of %load_ext's time on the kernel's main thread;
    # they come with the first reply, on the session thread.
    code = """
import sys
from IPython.core.interactiveshell import InteractiveShell

ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "stytch_jupyter")
ip.run_cell("stytch.status")
print(sorted(m for m in sys.modules if m.startswith("stytch_jupyter.api") and "models" in m))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYTCH_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
