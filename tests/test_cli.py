"""The `stytch-jupyter` command imports only the subcommand it runs."""

from __future__ import annotations

import subprocess
import sys

WITHOUT_UVICORN = "import sys; sys.modules['uvicorn'] = None; from stytch_jupyter.cli import main; "


def run_cli(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_UVICORN + code], capture_output=True, text=True, timeout=60
    )


def test_help_works_without_the_emulator_extra() -> None:
    result = run_cli("sys.exit(main(['--help']))")
    assert result.returncode == 0
    assert "emulator" in result.stdout and "demo" in result.stdout


def test_a_missing_extra_is_one_line_naming_it() -> None:
    result = run_cli("sys.exit(main(['emulator']))")
    assert result.returncode == 1
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message  # one line, no traceback
    assert "pip install 'stytch-jupyter[emulator]'" in result.stderr
