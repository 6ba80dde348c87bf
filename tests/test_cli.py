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


def test_every_subcommands_help_works_without_its_extra() -> None:
    for name in ("emulator", "demo"):
        result = run_cli(f"sys.exit(main([{name!r}, '--help']))")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: stytch-jupyter {name}"), result.stdout
        assert "Traceback" not in result.stdout + result.stderr
    demo = " ".join(run_cli("sys.exit(main(['demo', '--help']))").stdout.split())
    assert "Start a local Stytch emulator and JupyterLab" in demo and "--execute" in demo
    emulator = " ".join(run_cli("sys.exit(main(['emulator', '--help']))").stdout.split())
    assert "Serve a local Stytch API on loopback" in emulator and "--port" in emulator


def test_the_demo_without_its_extra_is_one_line_naming_it() -> None:
    result = run_cli("sys.exit(main(['demo', '--execute']))")
    assert result.returncode == 1
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message == (
        "stytch-jupyter demo: needs uvicorn; install it with pip install 'stytch-jupyter[demo]'"
    )
