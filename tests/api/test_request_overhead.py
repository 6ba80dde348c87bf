"""What every request costs beyond its bytes: here, that it touches no import machinery.

A lazy import inside the request path would be real file-system work on the session loop, per
request. This is the direct path (the asyncio transport). Behind a proxy, httpx's transport
runs, and httpcore names the loop through ``import sniffio`` on each async request (four
times): without sniffio installed each is a failed import that walks every sys.path entry, so
the dependency stays, keeping it a dict lookup.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest

from stytch_jupyter.api import StytchAPIError
from stytch_jupyter.api.client import StytchClient
from stytch_jupyter.emulator import Emulator


class Recorder(MetaPathFinder):
    """Notes every module the import system is asked to find (and finds none itself)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        self.asked.append(fullname)
        return None


def test_a_request_makes_no_import_lookups(emulator: Emulator) -> None:
    client = StytchClient(emulator.public_token, api_url=emulator.api_url)

    async def requests(count: int) -> None:
        for _ in range(count):
            with pytest.raises(StytchAPIError):
                await client.sessions_authenticate("not-a-session-token", 5)

    async def run() -> list[str]:
        await requests(2)  # the first request's one-time imports happen here
        recorder = Recorder()
        sys.meta_path.insert(0, recorder)
        try:
            await requests(3)
        finally:
            sys.meta_path.remove(recorder)
            await client.aclose()
        return recorder.asked

    assert asyncio.run(run()) == []
