"""Fixtures every test module can share."""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest keeps the modules it rewrites (for its assert messages) only where bytecode may be
# written: under PYTHONDONTWRITEBYTECODE every worker rewrote every test module on every run,
# some 8 s of each worker's collection on two cores. The package's own bytecode is then kept
# too (before it is imported below), which the kernels the tests start read back. All of it
# goes to __pycache__ folders, which git ignores.
sys.dont_write_bytecode = False

# jsonschema (the spec tests', and nbformat's through the browser tests' modules that every
# worker collects) imports rfc3987_syntax when it is installed (jupyter-events pulls it in), to
# check "iri" formats; that module builds a lark grammar as it is imported, 2.2 s of each
# worker's start here. No test checks those formats: jsonschema then goes without it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]

from hypothesis import settings  # noqa: E402

from stytch_jupyter.emulator import Emulator  # noqa: E402

# Property tests try 300 examples each in CI (.ci/run sets HYPOTHESIS_PROFILE=ci) and 50 in the
# fast loop, where the full count was a tenth of its time.
settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

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
    # Whatever opens "the browser" (webbrowser.open, here and in kernels) starts the tests' own
    # stand-in, which does nothing unless a test asks: no window on a developer's screen.
    fake = Path(__file__).parent / "support" / "fake_browser.py"
    os.environ["BROWSER"] = f"{shlex.quote(sys.executable)} {shlex.quote(str(fake))} %s"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port, stopped (thread joined, port freed) after."""
    with Emulator() as running:
        yield running


@pytest.fixture
def browser_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the stand-in browser (tests/support/fake_browser.py) was asked to open; the kernel
    counts as local, so a sign-in start may open one."""
    from stytch_jupyter.session.locality import MARKER_ENVS, REMOTE_ENV
    from tests.support.fake_browser import LOG_ENV

    for name in MARKER_ENVS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(REMOTE_ENV, "0")
    log = tmp_path / "browser.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log
