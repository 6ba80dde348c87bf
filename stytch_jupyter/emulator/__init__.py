"""A local Stytch API emulator: the client and backend endpoints this project speaks, on loopback.

``with Emulator() as emu: ...`` in Python, ``stytch-jupyter emulator`` on the command line.
Standalone: imports nothing from the rest of ``stytch_jupyter``. The server stack (the
``emulator`` extra) is imported only when ``Emulator`` is first used, so ``--help`` and
``EmulatorControl`` work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .control import EmulatorControl, EmulatorControlError
from .defaults import DEFAULT_PROJECT_ID, DEFAULT_PUBLIC_TOKEN, DEFAULT_SECRET
from .project import PKCE_FLOWS

if TYPE_CHECKING:
    from .server import Emulator

__all__ = [
    "DEFAULT_PROJECT_ID",
    "DEFAULT_PUBLIC_TOKEN",
    "DEFAULT_SECRET",
    "PKCE_FLOWS",
    "Emulator",
    "EmulatorControl",
    "EmulatorControlError",
]


def __getattr__(name: str) -> Any:
    if name == "Emulator":
        from .server import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
