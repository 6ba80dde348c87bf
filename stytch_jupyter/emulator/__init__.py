"""A local Stytch API emulator: the client and backend endpoints this project speaks, on loopback.

``with Emulator() as emu: ...`` in Python, ``stytch-jupyter emulator`` on the command line.
Standalone: imports nothing from the rest of ``stytch_jupyter``.
"""

from __future__ import annotations

from .control import EmulatorControl, EmulatorControlError
from .defaults import DEFAULT_PROJECT_ID, DEFAULT_PUBLIC_TOKEN, DEFAULT_SECRET
from .server import Emulator

__all__ = [
    "DEFAULT_PROJECT_ID",
    "DEFAULT_PUBLIC_TOKEN",
    "DEFAULT_SECRET",
    "Emulator",
    "EmulatorControl",
    "EmulatorControlError",
]
