"""Run a cell in a real kernel (jupyter_client) and keep what it showed; answer its prompts.

``execute(client, code, on_input)`` returns a ``Cell``: the text of its streams, results and
error (ANSI colours removed), and the error content if it failed. ``on_input`` answers each
``input_request`` (getpass) on the stdin channel, e.g. ``lambda request: client.input("…")``.
``Running(client, code)`` executes a cell in the background, for a test that acts while the
cell runs (opens the link it printed, removes a member): ``wait_for(text)``, then ``result()``.
"""

from __future__ import annotations

import re
import threading
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
    cell: Cell | None = None,
) -> Cell:
    msg_id = client.execute(code, allow_stdin=on_input is not None, stop_on_error=False)
    deadline = time.monotonic() + STEP_TIMEOUT
    cell = cell if cell is not None else Cell()
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


class Running:
    """A cell executing on a thread of its own (the only user of ``client`` meanwhile)."""

    def __init__(
        self,
        client: BlockingKernelClient,
        code: str,
        on_input: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.cell = Cell()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(client, code, on_input), daemon=True
        )
        self._thread.start()

    def _run(self, client: BlockingKernelClient, code: str, on_input: Any) -> None:
        try:
            execute(client, code, on_input, self.cell)
        except BaseException as exc:  # pytest.fail included: raised again by result()
            self._failure = exc
        finally:
            # jupyter_client's blocking calls made an event loop for this thread: close it
            # with the thread (its self-pipe sockets would otherwise be left to the GC).
            from jupyter_core.utils import ensure_event_loop

            ensure_event_loop().close()

    def wait_for(self, text: str, timeout: float = STEP_TIMEOUT) -> str:
        """The cell's text so far, once ``text`` is in it."""
        deadline = time.monotonic() + timeout
        while text not in self.cell.text:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"the cell did not show {text!r}:\n{self.cell.text}")
            time.sleep(0.02)
        return self.cell.text

    def result(self, timeout: float = STEP_TIMEOUT) -> Cell:
        self._thread.join(timeout)
        if self._thread.is_alive():
            pytest.fail(f"the cell did not finish:\n{self.cell.text}")
        if self._failure is not None:
            raise self._failure
        return self.cell
