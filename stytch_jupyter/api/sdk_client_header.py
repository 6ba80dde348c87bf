"""The ``X-SDK-Client`` header Stytch's client SDKs send: who is calling, from where.

Stytch's SDKs send base64 of a JSON object ``{app, sdk, os}``; the values are fixed for a
process, so the header is built once.
"""

from __future__ import annotations

import base64
import functools
import json
import platform
import sys

from .. import __version__

SDK_IDENTIFIER = "stytch-jupyter"


def _app_identifier() -> str:
    # A mobile SDK sends its bundle id. A kernel has none; say whether it is one, and never send
    # a script path (it can carry a user name).
    return "jupyter" if "ipykernel" in sys.modules else "python"


def client_info(app_identifier: str | None = None) -> dict[str, dict[str, str]]:
    """The object the header encodes."""
    return {
        "app": {"identifier": app_identifier or _app_identifier()},
        "sdk": {"identifier": SDK_IDENTIFIER, "version": __version__},
        "os": {
            "identifier": (platform.system() or "unknown").lower(),
            "version": platform.release() or "unknown",
        },
    }


@functools.lru_cache(maxsize=8)
def sdk_client_header(app_identifier: str | None = None) -> str:
    """The ``X-SDK-Client`` value: base64 of compact JSON, ASCII only."""
    encoded = json.dumps(client_info(app_identifier), separators=(",", ":")).encode()
    return base64.b64encode(encoded).decode("ascii")
