"""Fixtures every test module can share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stytch_jupyter.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port, stopped (thread joined, port freed) after."""
    with Emulator() as running:
        yield running
