"""The ``stytch-jupyter`` command: one subcommand a job, each imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, help, extra)
SUBCOMMANDS = {
    "emulator": ("stytch_jupyter.emulator.cli", "run a local Stytch API emulator", "emulator"),
    "demo": ("stytch_jupyter.demo", "open the quickstart notebook against the emulator", "demo"),
    "relay-page": ("stytch_jupyter.relay_cli", "write the sign-in relay page to host", ""),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="stytch-jupyter", description="Tools for stytch-jupyter: an emulator and a demo."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Only the chosen subcommand's module is imported: `--help` and the other subcommands
    # work without the extras a subcommand needs (the emulator's server stack, JupyterLab).
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    module = None
    for name, (module_name, help_text, extra) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if name == chosen:
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                parser.exit(
                    1,
                    f"stytch-jupyter {name}: {exc}; install it with "
                    f"pip install 'stytch-jupyter[{extra}]'\n",
                )
            module.add_arguments(sub)
    args = parser.parse_args(argv)
    assert module is not None  # argparse accepted a subcommand, so it is the chosen one
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
