"""The Jupyter server's way back for sign-in redirects (a jupyter_server extension).

Enabled with the package (``jupyter server extension list`` shows ``stytch_jupyter.server``).
It serves ``{base_url}stytch-jupyter/callback`` to the server's own user only, and hands each
redirect to the kernel that waits for it, through a private mailbox directory the kernels
learn of from their environment (see ``session/redirect/mailbox.py``). Under JupyterHub the URL
to register with Stytch is ``https://HUB/hub/user-redirect/stytch-jupyter/callback``.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "stytch_jupyter.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .extension import load

    load(serverapp)
