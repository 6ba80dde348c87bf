"""Injected faults: latency, error statuses and dropped connections, applied as ASGI middleware.

Control endpoints (``/emulator/v1/...``) and the mailbox page are never subject to faults, so
a test can always see and clear what it set up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import threading

from starlette.types import ASGIApp, Receive, Scope, Send

from .defaults import CONTROL_PREFIX
from .errors import fault_error

# How long a dropped request waits for the server to notice its own hang-up.
_DROP_SETTLE_SECONDS = 5.0


@dataclasses.dataclass
class Fault:
    fault_id: str = ""
    path_prefix: str = ""
    status: int | None = None
    error_type: str | None = None
    retry_after: float | None = None
    latency_ms: float = 0.0
    drop: bool = False
    times: int = 1

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, fault: Fault) -> Fault:
        """Register ``fault`` under a fresh ``fault_id``."""
        with self._lock:
            fault.fault_id = f"fault-{next(self._ids)}"
            self._faults.append(fault)
            return fault

    def active(self) -> list[Fault]:
        """Copies of the faults still waiting to apply, oldest first."""
        with self._lock:
            return [dataclasses.replace(fault) for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> Fault | None:
        """The oldest fault that applies to ``path``, using up one of its ``times``."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            return None


class FaultMiddleware:
    def __init__(self, app: ASGIApp, registry: FaultRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        # The control API and the mailbox page (``/``) are how a test sees what it set up.
        if scope["type"] != "http" or path.startswith(CONTROL_PREFIX) or path == "/":
            await self.app(scope, receive, send)
            return
        fault = self.registry.take(path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.drop:
            await _drop_connection(receive, send)
        elif fault.status is not None:
            response = fault_error(fault.status, fault.error_type, fault.retry_after).response()
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def hang_up(send: Send) -> bool:
    """Close the connection behind ``send`` at once; False if it cannot be reached.

    ASGI has no message for this, so close uvicorn's transport (the object behind ``send``).
    """
    inner: object = send
    # Middleware outside this one (CORS) may wrap ``send`` in a partial: look through it.
    while isinstance(inner, functools.partial):
        inner = inner.keywords.get("send")
    transport = getattr(getattr(inner, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    return True


async def _drop_connection(receive: Receive, send: Send) -> None:
    """Hang up without a byte of response, as a dying proxy or a network cut would.

    Should the transport ever be unreachable, start a response that promises a body and never
    finish it: the client still sees a broken connection, not a status.
    """
    if not hang_up(send):
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
        )
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        return

    # Let the server see the hang-up before the app returns, so it sends nothing after it.
    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(disconnected(), _DROP_SETTLE_SECONDS)
