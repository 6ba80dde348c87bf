"""Fixtures every test module can share."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from stytch_jupyter.emulator import Emulator

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"


def pytest_configure(config: pytest.Config) -> None:
    # Tests use IPython shells and kernels: keep their history and profile out of ~/.ipython,
    # and keep the developer's own Stytch settings out of the tests.
    os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="stytch-jupyter-ipython-")
    for name in [
        n for n in os.environ if n.startswith("STYTCH_") and n != "STYTCH_JUPYTER_ARTIFACTS"
    ]:
        del os.environ[name]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port, stopped (thread joined, port freed) after."""
    with Emulator() as running:
        yield running
