"""The ``stytch-jupyter`` command: one subcommand a job, each imported only when used."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import NamedTuple


class Subcommand(NamedTuple):
    module: str  # has ``add_arguments(parser)`` and ``run(args) -> int``
    help: str
    description: str | None  # None: the subcommand's module describes itself
    extra: str  # the extra that brings what it needs
    needs: tuple[str, ...]  # modules it needs at run time (checked before it runs)


SUBCOMMANDS = {
    "emulator": Subcommand(
        "stytch_jupyter.emulator.cli",
        "run a local Stytch API emulator",
        None,
        "emulator",
        ("starlette", "uvicorn", "jwt"),
    ),
    "demo": Subcommand(
        "stytch_jupyter.demo",
        "open the quickstart notebook against the emulator",
        "Start a local Stytch emulator and JupyterLab on copies of the bundled notebooks "
        "(quickstart first), or with --execute run them headless and say what happened.",
        "demo",
        ("starlette", "uvicorn", "jwt", "nbclient", "nbformat", "jupyterlab"),
    ),
    "relay-page": Subcommand(
        "stytch_jupyter.relay_cli", "write the sign-in relay page to host", None, "", ()
    ),
}


def missing_modules(names: Sequence[str]) -> list[str]:
    missing = []
    for name in names:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):  # a parent that fails, or sys.modules[name] = None
            missing.append(name)
    return missing


def hint(name: str, what: str) -> str:
    extra = SUBCOMMANDS[name].extra
    return f"stytch-jupyter {name}: {what}; install it with pip install 'stytch-jupyter[{extra}]'"


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
    for name, sub_info in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=sub_info.help, description=sub_info.description)
        if name != chosen:
            continue
        try:
            module = importlib.import_module(sub_info.module)
        except ImportError as exc:
            if "-h" in argv or "--help" in argv:
                # Its own options are not known without the extra, but what it is for is.
                sub.epilog = hint(name, f"its options need {exc.name or 'more packages'}")
                sub.print_help()
                return 0
            parser.exit(1, hint(name, f"{exc}") + "\n")
        module.add_arguments(sub)
    args = parser.parse_args(argv)
    assert module is not None  # argparse accepted a subcommand, so it is the chosen one
    missing = missing_modules(SUBCOMMANDS[args.command].needs)
    if missing:
        parser.exit(1, hint(args.command, f"needs {', '.join(missing)}") + "\n")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
