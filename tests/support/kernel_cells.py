"""Run a cell in a real kernel (jupyter_client) and keep what it showed; answer its prompts.

``execute(client, code, on_input)`` returns a ``Cell``: the text of its streams, results and
error (ANSI colours removed), and the error content if it failed. ``on_input`` answers each
``input_request`` (getpass) on the stdin channel, e.g. ``lambda request: client.input("…")``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

STEP_TIMEOUT = 60.0
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Cell:
    """What one execution showed: its text (streams, results, errors) and its error, if any."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return ANSI.sub("", "\n".join(self.texts))


def execute(
    client: BlockingKernelClient,
    code: str,
    on_input: Callable[[dict[str, Any]], None] | None = None,
) -> Cell:
    msg_id = client.execute(code, allow_stdin=on_input is not None, stop_on_error=False)
    deadline = time.monotonic() + STEP_TIMEOUT
    cell = Cell()
    while time.monotonic() < deadline:
        if on_input is not None and client.stdin_channel.msg_ready():
            request = client.get_stdin_msg(timeout=1)
            if request["msg_type"] == "input_request":
                on_input(request["content"])
        try:
            message = client.get_iopub_msg(timeout=0.05)
        except Exception:  # queue.Empty
            continue
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            cell.texts.append(content["text"])
        elif kind in ("execute_result", "display_data"):
            cell.texts.append(content["data"].get("text/plain", ""))
        elif kind == "error":
            cell.error = content
            cell.texts.extend(content["traceback"])
        elif kind == "status" and content["execution_state"] == "idle":
            return cell
    pytest.fail(f"the kernel did not finish:\n{code}")
