"""What a project's bootstrap says about it, asked before anything else is known.

Apart from the B2B client (and its models): a consumer kernel asks this at start and needs
nothing of B2B for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import StytchClient


async def project_vertical(client: StytchClient) -> str | None:
    """``"b2b"`` or ``"consumer"``, as the project's bootstrap reports it (None if it does not
    say: the field is ``B2B`` or ``CONSUMER`` in Stytch's bootstrap)."""
    data = await bootstrap(client)
    vertical = data.get("vertical")
    if not isinstance(vertical, str) or vertical.upper() not in ("B2B", "CONSUMER"):
        return None
    return vertical.lower()


async def bootstrap(client: StytchClient) -> Mapping[str, Any]:
    """The project's public bootstrap (``data``): what its client SDKs learn before anything."""
    _, data = await client.request("GET", f"projects/bootstrap/{client.public_token}")
    return data
