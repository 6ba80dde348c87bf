"""ipykernel 7.0.x is named at %load_ext in one line; every other kernel loads quietly."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from stytch_jupyter.ipython import kernel_check


@pytest.mark.parametrize("version", ["7.0.0", "7.0.1", "7.0.0a1"])
def test_ipykernel_7_0_is_named_with_what_to_do(version: str) -> None:
    message = kernel_check.kernel_warning(version)
    assert message is not None and "\n" not in message
    assert f"ipykernel {version}" in message and "pip install 'ipykernel>=7.1'" in message


@pytest.mark.parametrize("version", [None, "6.29.5", "7.1.0", "7.4.0", "70.0.1"])
def test_other_kernels_are_fine(version: str | None) -> None:
    assert kernel_check.kernel_warning(version) is None


def test_load_ext_under_a_bad_kernel_says_so_once(
    ip: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("ipykernel")
    fake.__version__ = "7.0.1"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipykernel", fake)
    ip.run_line_magic("load_ext", "stytch_jupyter")
    err = capsys.readouterr().err
    assert err.count("ipykernel 7.0.1") == 1
    assert "stytch" in ip.user_ns  # it still loads: the user decides


def test_load_ext_under_a_good_kernel_is_quiet(
    ip: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("ipykernel")
    fake.__version__ = "7.4.0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipykernel", fake)
    ip.run_line_magic("load_ext", "stytch_jupyter")
    assert "ipykernel" not in capsys.readouterr().err
